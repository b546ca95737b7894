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

    /// Where the next partials go.
    pub fn offset(&self) -> usize {
        self.len
    }

    /// `count` partials written at [`Self::offset`].
    pub fn advance(&mut self, count: usize) {
        self.len += count;
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

impl GramAcc {
    /// The buffer holding the Gram (sums of products, unnormalised) and how to read it, for a
    /// layer of `c` channels and `n` positions (the whole image's), normalised by `mass`.
    pub fn source(&self, c: usize, n: usize, mass: usize) -> (&Buffer, GramSplit) {
        match &self.sum {
            Some(sum) => (sum, GramSplit { c, n: mass, splits: 1, chunk: n.next_multiple_of(16) }),
            None => (&self.partial, GramSplit { n: mass, ..GramSplit::new(c, n) }),
        }
    }
}

/// Adds the Gram of the features `o` that pass `p` owns at layer `i` into `acc`, masked first by
/// `mask` (`[h][w]` over the pass's whole grid at that layer, of `size`) into `masked`.
pub fn gram_into(sch: &Schedule, p: &Pass, i: usize, o: &Owned, mask: Option<(&Buffer, (usize, usize))>, masked: Option<&Buffer>, acc: &GramAcc) -> Vec<Dispatch> {
    let gpu = &sch.engine.gpu;
    let c = p.net.layers[i].output.0;
    let name = &p.net.layers[i].name;
    let mut ops = Vec::new();
    let mut feats = o.feats;
    if let Some((m, size)) = mask {
        let (m, op) = sch.mask(p, i, o, m, size);
        let masked = masked.expect("a masked features scratch with regions");
        ops.extend(op);
        ops.push(kernels::mask_act(gpu, gpu.precision, format!("{name} region mask"), (c, o.rect.area()), feats, m, masked));
        feats = masked;
    }
    let split = GramSplit::new(c, o.rect.area());
    ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{name} gram"), split, feats, &acc.partial));
    if let Some(sum) = &acc.sum {
        ops.push(kernels::gram_sum(gpu, format!("{name} gram sum"), c, split.splits, &acc.partial, sum, true));
    }
    ops
}

/// One styled region: per style layer its mask over the photo (`[h][w]` f32) and mass (`None`: the
/// whole image), the Gram it matches, where its Gram accumulates and its G − A.
pub struct Styled {
    pub mask: Option<Vec<(Buffer, usize)>>,
    pub targets: Vec<Buffer>,
    pub accs: Vec<GramAcc>,
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
            let start = parts.offset();
            let mut row = Vec::new();
            for (r, region) in styled.iter().enumerate() {
                let mass = region.mass(si, n);
                row.push((mass > 0).then(|| {
                    let (gram, split) = region.accs[si].source(c, n, mass);
                    let bufs = StyleDiff { partial: gram, target: &region.targets[si], diff: &region.diffs[si], loss_part: &parts.buf };
                    let (d, count) = kernels::style_diff(&sch.engine.gpu, format!("{} region {r} gram", l.name), split, bufs, parts.offset());
                    parts.advance(count);
                    d
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
        let c2 = |si: usize| sch.layers[sch.style[si]].output.0.pow(2);
        let sums = self.styled.iter().flat_map(|r| r.accs.iter().enumerate().filter_map(|(si, a)| a.sum.as_ref().map(|s| (si, s))));
        sums.map(|(si, s)| kernels::zero(&sch.engine.gpu, "gram sum".into(), c2(si), s)).collect()
    }

    /// Adds the Grams of what pass `p` owns at style layer `si` (features `o`) into each region's.
    pub fn accumulate(&self, sch: &Schedule, p: &Pass, si: usize, o: &Owned) -> Vec<Dispatch> {
        let i = sch.style[si];
        let n = sch.layers[i].output.1 * sch.layers[i].output.2;
        let mut ops = Vec::new();
        for region in self.styled.iter().filter(|r| r.mass(si, n) > 0) {
            ops.extend(gram_into(sch, p, i, o, region.mask_at(sch, si), sch.masked.as_ref(), &region.accs[si]));
        }
        ops
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
            let mass = region.mass(si, n);
            if mass == 0 {
                continue;
            }
            let mask = region.mask_at(sch, si);
            if inline {
                ops.extend(gram_into(sch, p, i, o, mask, sch.masked.as_ref(), &region.accs[si]));
                ops.extend(self.diff_ops[si][r].clone());
            }
            let scale = 4.0 / ((c as f32).powi(3) * mass as f32);
            let coef = scale * Knob::StyleLayer(si).value(s);
            // A region's gradient is the masked features' (into its own buffer), masked again
            // and added into the sink; without a mask, straight into the sink.
            let (feat, grad, accumulate, masked_by) = match mask {
                None => (o.feats, sink.buf, sink.written, None),
                Some((m, size)) => {
                    let (m, op) = sch.mask(p, i, o, m, size);
                    let masked = sch.masked.as_ref().expect("regions");
                    if !inline {
                        ops.extend(op);
                        ops.push(kernels::mask_act(gpu, gpu.precision, format!("{name} region mask"), (c, o.rect.area()), o.feats, m, masked));
                    }
                    (masked, sch.masked_grad.as_ref().expect("regions"), false, Some(m))
                }
            };
            let label = if mask.is_some() { format!("{name} region {r} style grad") } else { format!("{name} style grad") };
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

impl Styled {
    /// The mass at style layer `si` (`n`: the layer's positions, a region without a mask's).
    fn mass(&self, si: usize, n: usize) -> usize {
        self.mask.as_ref().map_or(n, |m| m[si].1)
    }

    /// The mask at style layer `si` and the layer's size, if any.
    fn mask_at<'a>(&'a self, sch: &Schedule, si: usize) -> Option<(&'a Buffer, (usize, usize))> {
        let l = &sch.layers[sch.style[si]];
        self.mask.as_ref().map(|m| (&m[si].0, (l.output.2, l.output.1)))
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
        self.start.get_or_insert(parts.offset());
        let bufs = ContentLoss { feat: o.feats, target: &self.targets[k], grad: sink.buf, loss_part: &parts.buf };
        let (d, count) = kernels::content_loss(gpu, gpu.precision, format!("{} content", l.name), c * o.rect.area(), scale * s.content_weight, bufs, parts.offset());
        steering.add(&d, offset_of!(ElemParams, coef), scale, Knob::Alpha, s);
        ops.push(d);
        parts.advance(count);
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
    let start = parts.offset();
    let (ds, count) = kernels::tv_loss(gpu, "tv".into(), (3, h, w), tv_scale * s.tv_weight, TvLoss { img: image.x, grad: grad_x, loss_part: &parts.buf }, start);
    parts.advance(count);
    parts.range(start, SLOT_TV, 1.0 / (3 * hw) as f32);
    let mut ops = Vec::new();
    for d in ds {
        steering.add(&d, offset_of!(ElemParams, coef), tv_scale, Knob::Tau, s);
        ops.push(d);
    }
    if let Some((previous, reliable)) = image.temporal {
        // Image-level like TV: the same on the whole image and over tiles.
        let start = parts.offset();
        let b = TemporalLoss { img: image.x, previous, reliable, grad: grad_x, loss_part: &parts.buf };
        let (d, count) = kernels::loss::temporal_loss(gpu, (h, w), tv_scale * s.temporal_weight, b, start);
        parts.advance(count);
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
