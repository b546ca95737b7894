//! The loss terms, each written once against passes ([`super::passes`]) and used by every
//! schedule: the style term over styled regions ("no regions" is one region without a mask), the
//! content term, TV; and the loss partials they write, reduced into the loss slots once per
//! iteration. A new style loss is one more term here, called from [`super::build`]'s sweep.

use super::passes::{Owned, Pass, Schedule, Sink};
use super::steer::{Knob, Steering};
use crate::gpu::Dispatch;
use crate::kernels::loss::{ElemParams, ReduceLossParams, TemporalLoss, SLOT_CONTENT, SLOT_STYLE, SLOT_TEMPORAL, SLOT_TV};
use crate::kernels::{self, gram::StyleGradParams, ContentLoss, GramSplit, LossRange, LossWeights, StyleDiff, StyleGrad, TvLoss};
use std::mem::offset_of;
use wgpu::Buffer;

/// The loss partials buffer and the ranges of it each loss slot reduces.
pub struct LossParts {
    pub buf: Buffer,
    ranges: Vec<LossRange>,
    len: usize,
}

impl LossParts {
    pub fn new(buf: Buffer) -> LossParts {
        LossParts { buf, ranges: Vec::new(), len: 0 }
    }

    /// A loss kernel's partials written at the end of those so far: `f` gets the buffer and the offset and
    /// returns what it made and how many partials it writes.
    pub fn write<T>(&mut self, f: impl FnOnce(&Buffer, usize) -> (T, usize)) -> T {
        let (made, count) = f(&self.buf, self.len);
        self.len += count;
        made
    }

    /// The partials from `start` to here reduce into `slot`, times `scale`.
    pub fn range(&mut self, start: usize, slot: usize, scale: f32) {
        self.ranges.push(LossRange { offset: start, count: self.len - start, slot, scale });
    }
}

/// Where a Gram matrix of features goes: `partial` (`GramSplit` partial sums), then, over tiles,
/// added into `sum` (`[C][C]`).
#[derive(Clone)]
pub struct GramAcc {
    pub partial: Buffer,
    pub sum: Option<Buffer>,
}

/// A Gram matrix at every style layer, of all a pass sees or of a masked part of it: per style
/// layer the mask (`[h][w]` over the pass's grid at that layer) and its mass (`None`: unmasked),
/// and where it accumulates. The paintings' targets and the style term are made of these.
#[derive(Clone)]
pub struct Gram {
    pub mask: Option<Vec<(Buffer, usize)>>,
    pub accs: Vec<GramAcc>,
}

impl Gram {
    /// The mass at style layer `si` (`n`: the layer's positions, an unmasked Gram's).
    pub fn mass(&self, si: usize, n: usize) -> usize {
        self.mask.as_ref().map_or(n, |m| m[si].1)
    }

    /// At style layer `si` (`c` channels, `n` positions: the whole input's), if it has mass there:
    /// the buffer holding the Gram (sums of products, unnormalised) and how to read it, normalised
    /// by the mass.
    pub fn source(&self, si: usize, c: usize, n: usize) -> Option<(&Buffer, GramSplit)> {
        let (acc, mass) = (&self.accs[si], self.mass(si, n));
        (mass > 0).then(|| match &acc.sum {
            Some(sum) => (sum, GramSplit { c, n: mass, splits: 1, chunk: n.next_multiple_of(16) }),
            None => (&acc.partial, GramSplit { n: mass, ..GramSplit::new(c, n) }),
        })
    }

    /// Zeroes its sums (over tiles) where it has mass, before passes add into them.
    pub fn zero_sums(&self, sch: &Schedule) -> Vec<Dispatch> {
        let sums = self.accs.iter().enumerate().filter(|&(si, _)| self.mass(si, 1) > 0).filter_map(|(si, a)| Some((si, a.sum.as_ref()?)));
        sums.map(|(si, s)| kernels::zero(&sch.engine.gpu, "gram sum".into(), sch.layers[sch.style[si]].output.0.pow(2), s)).collect()
    }

    /// The features `o` that pass `p` owns at style layer `si` as this Gram sees them, and the part
    /// of its mask under them: `o.feats` and no mask when unmasked, else the features masked into
    /// `masked` — by dispatches added to `ops`, or (`ops` None) already there.
    pub fn masked<'a>(
        &'a self,
        sch: &'a Schedule,
        p: &Pass,
        (si, o): (usize, &Owned<'a>),
        masked: Option<&'a Buffer>,
        ops: Option<&mut Vec<Dispatch>>,
    ) -> (&'a Buffer, Option<&'a Buffer>) {
        let Some(m) = &self.mask else { return (o.feats, None) };
        let (gpu, i) = (&sch.engine.gpu, sch.style[si]);
        let (m, op) = sch.mask(p, i, o, &m[si].0);
        let masked = masked.expect("a masked features scratch with regions");
        if let Some(ops) = ops {
            let (c, name) = (p.net.layers[i].output.0, &p.net.layers[i].name);
            ops.extend(op);
            ops.push(kernels::mask_act(gpu, gpu.precision, format!("{name} region mask"), (c, o.rect.area()), o.feats, m, masked));
        }
        (masked, Some(m))
    }

    /// Adds the Gram of the features `o` that pass `p` owns at style layer `si`, masked first
    /// into `masked`, if it has mass there.
    pub fn accumulate(&self, sch: &Schedule, p: &Pass, (si, o): (usize, &Owned), masked: Option<&Buffer>) -> Vec<Dispatch> {
        let mut ops = Vec::new();
        if self.mass(si, 1) == 0 {
            return ops;
        }
        let (gpu, i) = (&sch.engine.gpu, sch.style[si]);
        let (c, name) = (p.net.layers[i].output.0, &p.net.layers[i].name);
        let (feats, _) = self.masked(sch, p, (si, o), masked, Some(&mut ops));
        let split = GramSplit::new(c, o.rect.area());
        let acc = &self.accs[si];
        ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{name} gram"), split, feats, &acc.partial));
        if let Some(sum) = &acc.sum {
            ops.push(kernels::gram_sum(gpu, format!("{name} gram sum"), c, split.splits, &acc.partial, sum, true));
        }
        ops
    }
}

/// One styled region: its Gram over the photo, the Gram it matches and its G − A, per style layer.
pub struct Styled {
    pub gram: Gram,
    pub targets: Vec<Buffer>,
    pub diffs: Vec<Buffer>,
}

/// The style loss: Σ over style layers and styled regions of the layer weight × mean (G − A)²,
/// each region's Gram over its mask normalised by the mask's mass (Gatys et al. 2017).
pub struct StyleTerm {
    pub styled: Vec<Styled>,
    /// `[style layer][region]` the G − A dispatch (with its loss partials), if the region has mass.
    diff_ops: Vec<Vec<Option<Dispatch>>>,
}

impl StyleTerm {
    /// The term over `styled` for the schedule's photo, its G − A dispatches writing `parts`.
    pub fn new(sch: &Schedule, styled: Vec<Styled>, parts: &mut LossParts) -> StyleTerm {
        let mut diff_ops = Vec::new();
        for (si, &i) in sch.style.iter().enumerate() {
            let l = &sch.layers[i];
            let (c, n) = (l.output.0, l.output.1 * l.output.2);
            let start = parts.len;
            let mut row = Vec::new();
            for (r, region) in styled.iter().enumerate() {
                row.push(region.gram.source(si, c, n).map(|(gram, split)| {
                    let (target, diff, label) = (&region.targets[si], &region.diffs[si], format!("{} region {r} gram", l.name));
                    parts.write(|loss_part, at| kernels::style_diff(&sch.engine.gpu, label, split, StyleDiff { partial: gram, target, diff, loss_part }, at))
                }));
            }
            parts.range(start, SLOT_STYLE + si, 1.0 / (c * c) as f32);
            diff_ops.push(row);
        }
        StyleTerm { styled, diff_ops }
    }

    /// Every G − A (after the Grams are complete).
    pub fn diffs(&self) -> Vec<Dispatch> {
        self.diff_ops.iter().flatten().flatten().cloned().collect()
    }

    /// The accumulators to zero before tiles add into them.
    pub fn zero_sums(&self, sch: &Schedule) -> Vec<Dispatch> {
        self.styled.iter().flat_map(|r| r.gram.zero_sums(sch)).collect()
    }

    /// Adds the Grams of what pass `p` owns at style layer `si` (features `o`) into each region's.
    pub fn accumulate(&self, sch: &Schedule, p: &Pass, si: usize, o: &Owned) -> Vec<Dispatch> {
        self.styled.iter().flat_map(|r| r.gram.accumulate(sch, p, (si, o), sch.masked.as_ref())).collect()
    }

    /// The style gradient of pass `p` at style layer `si` (features `o`) into `sink`; `inline`
    /// (one pass owning everything): each region's Gram and G − A first, in turn (its buffers then
    /// serve every region).
    pub fn gradient(&self, sch: &Schedule, p: &Pass, (si, o): (usize, &Owned), sink: &mut Sink, inline: bool, steering: &mut Steering) -> Vec<Dispatch> {
        let (gpu, s) = (&sch.engine.gpu, sch.s);
        let i = sch.style[si];
        let (c, n) = (sch.layers[i].output.0, sch.layers[i].output.1 * sch.layers[i].output.2);
        let name = &p.net.layers[i].name;
        let mut ops = Vec::new();
        for (r, region) in self.styled.iter().enumerate() {
            let mass = region.gram.mass(si, n);
            if mass == 0 {
                continue;
            }
            if inline {
                ops.extend(region.gram.accumulate(sch, p, (si, o), sch.masked.as_ref()));
                ops.extend(self.diff_ops[si][r].clone());
            }
            let scale = 4.0 / ((c as f32).powi(3) * mass as f32);
            let coef = scale * Knob::StyleLayer(si).value(s);
            // A region's gradient is the masked features' (masked here, or inline by its Gram
            // above; into its own buffer), masked again and added into the sink; without a mask,
            // straight into the sink.
            let (feat, masked_by) = region.gram.masked(sch, p, (si, o), sch.masked.as_ref(), (!inline).then_some(&mut ops));
            let (grad, accumulate) = match masked_by {
                None => (sink.buf, sink.written),
                Some(_) => (sch.masked_grad.as_ref().expect("regions"), false),
            };
            let label = if masked_by.is_some() { format!("{name} region {r} style grad") } else { format!("{name} style grad") };
            let d = kernels::style_grad(gpu, gpu.variant(), label, c, o.rect.area(), coef, StyleGrad { feat, diff: &region.diffs[si], grad, accumulate });
            steering.add(&d, offset_of!(StyleGradParams, coef), scale, Knob::StyleLayer(si), s);
            ops.push(d);
            if let Some(m) = masked_by {
                ops.push(kernels::mask_add(gpu, format!("{name} region {r} gradient"), (c, o.rect.area()), grad, m, sink.buf, sink.written));
            }
            sink.written = true;
        }
        ops
    }
}

/// The content loss: mean (F − P)² at relu4_2 against each pass's target (what it owns of the
/// photo's relu4_2).
pub struct ContentTerm {
    pub targets: Vec<Buffer>,
    start: Option<usize>,
}

impl ContentTerm {
    pub fn new(targets: Vec<Buffer>) -> ContentTerm {
        ContentTerm { targets, start: None }
    }

    /// The content gradient of pass `k` (features `o` at the content layer) into `sink`.
    pub fn gradient(&mut self, sch: &Schedule, (k, o): (usize, &Owned), sink: &mut Sink, parts: &mut LossParts, steering: &mut Steering) -> Vec<Dispatch> {
        let (gpu, s) = (&sch.engine.gpu, sch.s);
        let l = &sch.layers[sch.content];
        let c = l.output.0;
        let scale = 2.0 / l.out_len() as f32;
        let mut ops = Vec::new();
        if !sink.written {
            ops.push(kernels::zero(gpu, "content gradient".into(), c * o.rect.area(), sink.buf));
        }
        self.start.get_or_insert(parts.len);
        let (feat, target, grad) = (o.feats, &self.targets[k], sink.buf);
        let (label, n, coef) = (format!("{} content", l.name), c * o.rect.area(), scale * s.content_weight);
        let d = parts.write(|loss_part, at| kernels::content_loss(gpu, gpu.precision, label, n, coef, ContentLoss { feat, target, grad, loss_part }, at));
        steering.add(&d, offset_of!(ElemParams, coef), scale, Knob::Alpha, s);
        ops.push(d);
        sink.written = true;
        ops
    }

    /// Its loss range, once every pass has added its partials.
    pub fn finish(&self, sch: &Schedule, parts: &mut LossParts) {
        let start = self.start.expect("the content layer lies in every schedule");
        parts.range(start, SLOT_CONTENT, 1.0 / sch.layers[sch.content].out_len() as f32);
    }
}

/// The TV loss on the whole image (its gradient added to `grad_x`), a video frame's temporal loss,
/// and the one loss reduction of `parts` into the losses; with luminance transfer, the gradient
/// summed over the channels.
pub fn finish_losses(sch: &Schedule, image: super::ImageBuffers, grad_x: &Buffer, parts: &mut LossParts, steering: &mut Steering) -> Vec<Dispatch> {
    let (gpu, s) = (&sch.engine.gpu, sch.s);
    let (w, h) = (sch.grid.width, sch.grid.height);
    let hw = w * h;
    let tv_scale = 2.0 / (3 * hw) as f32;
    let start = parts.len;
    let ds = parts.write(|loss_part, at| kernels::tv_loss(gpu, "tv".into(), (3, h, w), tv_scale * s.tv_weight, TvLoss { img: image.x, grad: grad_x, loss_part }, at));
    parts.range(start, SLOT_TV, 1.0 / (3 * hw) as f32);
    let mut ops = Vec::new();
    for d in ds {
        steering.add(&d, offset_of!(ElemParams, coef), tv_scale, Knob::Tau, s);
        ops.push(d);
    }
    if let Some((previous, reliable)) = image.temporal {
        // Image-level like TV: the same on the whole image and over tiles.
        let start = parts.len;
        let d = parts.write(|loss_part, at| {
            kernels::loss::temporal_loss(gpu, (h, w), tv_scale * s.temporal_weight, TemporalLoss { img: image.x, previous, reliable, grad: grad_x, loss_part }, at)
        });
        parts.range(start, SLOT_TEMPORAL, 1.0 / (3 * hw) as f32);
        ops.push(d);
    }
    let gamma = image.temporal.map(|_| s.temporal_weight);
    let weights = LossWeights { alpha: s.content_weight, beta: s.style_weight, tau: s.tv_weight, gamma, layers: s.style_layer_weights };
    let d = kernels::reduce_losses(gpu, &parts.ranges, weights, &parts.buf, image.losses);
    for (off, knob) in [(offset_of!(ReduceLossParams, alpha), Knob::Alpha), (offset_of!(ReduceLossParams, beta), Knob::Beta), (offset_of!(ReduceLossParams, tau), Knob::Tau)] {
        steering.add(&d, off, 1.0, knob, s);
    }
    for l in 0..5 {
        steering.add(&d, offset_of!(ReduceLossParams, layer_w) + 4 * l, 1.0, Knob::Layer(l), s);
    }
    ops.push(d);
    if s.colors == super::Colors::Luminance {
        // The network sees the luminance on all three channels: its gradient is their sum.
        ops.extend(kernels::grey_gradient(gpu, hw, grad_x, image.staging));
    }
    ops
}
