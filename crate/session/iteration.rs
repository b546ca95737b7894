//! One iteration as a fixed list of dispatches, built once per session: the forward pass, then
//! from relu5_1 down to the image the style and content losses with their gradients interleaved
//! with each layer's backward pass, the TV loss, the one loss reduction, and the optimiser step.

use super::steer::{Knob, Steering};
use super::{Optimizer, AVERAGE_DECAY};
use super::{Settings, Targets};
use crate::gpu::Dispatch;
use crate::kernels::adam::ADAM_STATE_INIT;
use crate::kernels::loss::{SLOT_CONTENT, SLOT_STYLE, SLOT_TV};
use crate::kernels::window::Staging;
use crate::kernels::{
    self, AdamBuffers, AdamConfig, ContentLoss, ConvBackward, ConvShape, GramSplit, LossRange, LossWeights, PoolBackward, PoolShape, StyleDiff, StyleGrad, TvLoss,
};
use crate::kernels::{
    adam::AdamParams,
    gram::StyleGradParams,
    lbfgs::LbfgsParams,
    loss::{ElemParams, ReduceLossParams},
};
use crate::kernels::{Lbfgs, LbfgsConfig};
use crate::plan::Arena;
use crate::vgg::{Engine, Network, CONTENT_LAYER, STYLE_LAYERS};
use std::mem::offset_of;
use wgpu::Buffer;

/// The dispatches of one iteration and the buffers only they use.
pub struct Iteration {
    /// Forward, losses and backward, TV, the loss reduction: everything up to the gradient and
    /// the losses of the current image (what [`super::Session::evaluate`] runs).
    pub loss_and_gradient: Vec<Dispatch>,
    /// The optimiser's step, per iteration k at `optimiser[k % optimiser.len()]` (Adam: one list,
    /// the tick of its step counter and the update; L-BFGS: m lists, one per position of the
    /// newest pair in its ring). Each also updates the iterate average.
    pub optimiser: Vec<Vec<Dispatch>>,
    /// Where `loss_and_gradient` is split into submissions (indices of the first dispatch of each
    /// after the first; empty: one submission for any number of iterations). Tiled iterations
    /// submit tile by tile.
    pub cuts: Vec<usize>,
    /// Adam's moments m, v (`[3][h][w]`) and state (`[8]`), with Adam.
    pub adam: Option<[Buffer; 3]>,
    /// The uniform fields that follow the loss weights and the step ([`super::Session::steer`]).
    pub steering: Steering,
    /// `[3][h][w]` the gradient of the total loss w.r.t. the image.
    pub grad_x: Buffer,
    pub(super) _buffers: Vec<Buffer>,
}

/// A styled region on the GPU: its painting and, per style layer, its mask (`[n]` f32) and mass;
/// with a style mask on its painting, what it matches of that painting.
pub struct RegionGpu {
    pub painting: usize,
    pub layers: Vec<(Buffer, usize)>,
    pub guide: Option<PaintingGuide>,
}

/// A styled region's part of its painting (a style mask): per style layer, the painting-side mask
/// (`[n]` f32 at the painting's layer size; freed after the targets) and its mass (0: the region
/// is absent there, and the whole painting's Gram is the target), and the guided Gram `[C][C]`
/// computed from it ([`super::Targets::compute`], the tiled build).
pub struct PaintingGuide {
    pub masks: Vec<Buffer>,
    pub masses: Vec<usize>,
    pub targets: Vec<Buffer>,
}

impl RegionGpu {
    /// The buffers the iteration keeps: the masks and the region's own targets (the painting-side
    /// masks are done with once the targets are computed).
    pub fn into_kept(self) -> impl Iterator<Item = Buffer> {
        self.layers.into_iter().map(|(b, _)| b).chain(self.guide.into_iter().flat_map(|g| g.targets))
    }

    /// The Gram matrix this region matches at style layer `si`: its part of the painting's when
    /// a style mask gives one there, else `painting` (the whole painting's).
    pub fn target<'a>(&'a self, si: usize, painting: &'a Buffer) -> &'a Buffer {
        match &self.guide {
            Some(g) if g.masses[si] > 0 => &g.targets[si],
            _ => painting,
        }
    }
}

/// The session-long buffers an iteration reads and writes.
#[derive(Clone, Copy)]
pub struct ImageBuffers<'a> {
    /// `[3][h][w]` the image being optimised (network space), the network's input.
    pub x: &'a Buffer,
    /// `[LOSS_SLOTS]` the losses.
    pub losses: &'a Buffer,
    /// `[3][h][w]` the iterate average (a placeholder with averaging off).
    pub avg: &'a Buffer,
    /// The staged per-pixel kernels' scratch, when the image is larger than one binding.
    pub staging: Option<&'a Staging>,
    /// Regions that keep the photo ([`super::keep`]): the CPU side (to start from the photo there).
    pub keep: Option<&'a super::keep::Keep>,
    /// … and their mask `[h][w]` on the GPU, bound by the optimisers.
    pub keep_mask: Option<&'a Buffer>,
}

impl<'a> ImageBuffers<'a> {
    /// With the image's gradient (an iteration buffer: taken once the targets are computed).
    pub fn with_gradient(self, grad_x: &'a Buffer) -> IterationBuffers<'a> {
        IterationBuffers { x: self.x, grad_x, losses: self.losses, avg: self.avg, staging: self.staging, keep_mask: self.keep_mask }
    }
}

/// The buffers an iteration reads and writes.
pub struct IterationBuffers<'a> {
    /// `[3][h][w]` the image being optimised (network space), the network's input.
    pub x: &'a Buffer,
    /// `[3][h][w]` the gradient of the total loss w.r.t. `x`.
    pub grad_x: &'a Buffer,
    /// `[LOSS_SLOTS]` the losses.
    pub losses: &'a Buffer,
    /// `[3][h][w]` the iterate average (what is shown and saved).
    pub avg: &'a Buffer,
    /// The staged per-pixel kernels' scratch, when the image is larger than one binding.
    pub staging: Option<&'a Staging>,
    /// `[h][w]` the mask of the regions that keep the photo (the optimisers step on y in
    /// x = k·photo + (1 − k)·y), if any.
    pub keep_mask: Option<&'a Buffer>,
}

impl Iteration {
    /// Builds the iteration over `net` (whose input is `b.x`) for `settings`, matching `targets`;
    /// with `regions`, each styled region's guided Grams match its painting's.
    pub fn build(engine: &Engine, net: &Network, targets: &Targets, settings: &Settings, image: ImageBuffers, regions: &[RegionGpu], arena: &mut Arena) -> Iteration {
        let gpu = &engine.gpu;
        let grad_x = arena.take("image gradient");
        let b = image.with_gradient(&grad_x);
        let s = settings;
        let (w, h) = (net.width, net.height);
        let hw = w * h;
        let mut ops: Vec<Dispatch> = net.forward.clone();
        let ping = [arena.take("gradient ping"), arena.take("gradient pong")];
        // Seven reducing passes (content, five style layers, TV), each ≤ MAX_REDUCE_GROUPS partials.
        let loss_part_len = crate::plan::loss_partials(1 + 5 * regions.len().saturating_sub(1));
        let region_bufs = (!regions.is_empty()).then(|| (arena.take("region features"), arena.take("region gradient")));
        let loss_part = arena.take("loss partials");
        let mut part_len = 0usize; // running offset into loss_part
        let mut ranges: Vec<LossRange> = Vec::new(); // partial sums → loss slots
        let mut keep = Vec::new();
        let mut cur = 0usize; // ping-pong buffer holding the gradient w.r.t. the current layer's output
        let mut first = true;
        let mut steering = Steering::default();
        for i in (0..net.layers.len()).rev() {
            let l = &net.layers[i];
            let (c, lh, lw) = l.output;
            let n = lh * lw;
            if let (Some(si), Some((feats, rgrad))) = (STYLE_LAYERS.iter().position(|&nm| nm == l.name), &region_bufs) {
                // Guided Grams: per styled region, the masked features' Gram (normalised by the
                // mask's mass M) against its painting's; the gradient masked again into the layer's.
                let partial = arena.take(&format!("gram partials {}", l.name));
                let diff = arena.take(&format!("gram diff {}", l.name));
                let start = part_len;
                for (ri, region) in regions.iter().enumerate() {
                    let (mask, mass) = &region.layers[si];
                    if *mass == 0 {
                        continue;
                    }
                    let label = |what: &str| format!("{} region {ri} {what}", l.name);
                    ops.push(kernels::mask_act(gpu, gpu.precision, label("mask"), (c, n), &net.acts[i], mask, feats));
                    let split = GramSplit::new(c, n);
                    ops.push(kernels::gram_partial(gpu, gpu.variant(), label("gram"), split, feats, &partial));
                    let bufs = StyleDiff { partial: &partial, target: region.target(si, targets.painting(si, region.painting)), diff: &diff, loss_part: &loss_part };
                    let (d, count) = kernels::style_diff(gpu, label("gram"), GramSplit { n: *mass, ..split }, bufs, part_len);
                    ops.push(d);
                    part_len += count;
                    let scale = 4.0 / ((c as f32).powi(3) * *mass as f32);
                    let sg = StyleGrad { feat: feats, diff: &diff, grad: rgrad, accumulate: false };
                    let d = kernels::style_grad(gpu, gpu.variant(), label("style grad"), c, n, scale * Knob::StyleLayer(si).value(s), sg);
                    steering.add(&d, offset_of!(StyleGradParams, coef), scale, Knob::StyleLayer(si), s);
                    ops.push(d);
                    ops.push(kernels::mask_add(gpu, label("gradient"), (c, n), rgrad, mask, &ping[cur], !first));
                    first = false;
                }
                if first {
                    ops.push(kernels::zero(gpu, "no styled region here".into(), c * n, &ping[cur]));
                    first = false;
                }
                ranges.push(LossRange { offset: start, count: part_len - start, slot: SLOT_STYLE + si, scale: 1.0 / (c * c) as f32 });
                keep.extend([partial, diff]);
            } else if let Some(si) = STYLE_LAYERS.iter().position(|&nm| nm == l.name) {
                let split = GramSplit::new(c, n);
                let partial = arena.take(&format!("gram partials {}", l.name));
                let diff = arena.take(&format!("gram diff {}", l.name));
                ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{} gram", l.name), split, &net.acts[i], &partial));
                let bufs = StyleDiff { partial: &partial, target: &targets.style[si], diff: &diff, loss_part: &loss_part };
                let (d, count) = kernels::style_diff(gpu, format!("{} gram", l.name), split, bufs, part_len);
                ops.push(d);
                ranges.push(LossRange { offset: part_len, count, slot: SLOT_STYLE + si, scale: 1.0 / (c * c) as f32 });
                part_len += count;
                let scale = 4.0 / ((c as f32).powi(3) * n as f32);
                let bufs = StyleGrad { feat: &net.acts[i], diff: &diff, grad: &ping[cur], accumulate: !first };
                let d = kernels::style_grad(gpu, gpu.variant(), format!("{} style grad", l.name), c, n, scale * Knob::StyleLayer(si).value(s), bufs);
                steering.add(&d, offset_of!(StyleGradParams, coef), scale, Knob::StyleLayer(si), s);
                ops.push(d);
                first = false;
                keep.extend([partial, diff]);
            }
            if l.name == CONTENT_LAYER {
                let len = l.out_len();
                let scale = 2.0 / len as f32;
                assert!(!first, "the content layer lies below relu5_1");
                let bufs = ContentLoss { feat: &net.acts[i], target: &targets.content, grad: &ping[cur], loss_part: &loss_part };
                let (d, count) = kernels::content_loss(gpu, gpu.precision, format!("{} content", l.name), len, scale * s.content_weight, bufs, part_len);
                steering.add(&d, offset_of!(ElemParams, coef), scale, Knob::Alpha, s);
                ops.push(d);
                ranges.push(LossRange { offset: part_len, count, slot: SLOT_CONTENT, scale: 1.0 / len as f32 });
                part_len += count;
            }
            let dst = if i == 0 { b.grad_x } else { &ping[1 - cur] };
            ops.push(layer_backward(engine, net, i, s.pooling, &ping[cur], dst));
            cur = 1 - cur;
        }
        finish_losses(gpu, s, (w, h), &b, &loss_part, &mut ranges, part_len, &mut ops, &mut steering);
        assert!(part_len <= loss_part_len);
        let (optimiser, adam, state) = optimiser(gpu, s, hw, &b, arena, &mut steering);
        keep.extend(state);
        keep.push(loss_part);
        keep.extend(ping);
        keep.extend(region_bufs.into_iter().flat_map(|(a, b)| [a, b]));
        Iteration { loss_and_gradient: ops, cuts: Vec::new(), optimiser, adam, steering, grad_x, _buffers: keep }
    }
}

/// The backward pass of layer `i` of `net`: `din` (the gradient w.r.t. its input) from `dout`
/// (w.r.t. its output). Gradients are passed down already through the ReLU of the layer they
/// belong to: the writer of the gradient w.r.t. layer i−1 applies that layer's mask when it is a
/// conv (ReLU) output; a pool output or the image gets none.
pub(super) fn layer_backward(engine: &Engine, net: &Network, i: usize, pooling: crate::Pooling, dout: &Buffer, din: &Buffer) -> Dispatch {
    let gpu = &engine.gpu;
    let l = &net.layers[i];
    let (ci, ih, iw) = l.input;
    let below_relu = (i > 0 && net.layers[i - 1].conv.is_some()).then(|| &net.acts[i - 1]);
    let label = format!("{} bwd", l.name);
    match l.conv {
        Some(k) => {
            let bufs = ConvBackward { dout, in_act: below_relu, weight_t: &engine.convs[k].backward, din };
            kernels::conv_backward(gpu, gpu.variant(), label, ConvShape { cin: ci, cout: l.output.0, h: ih, w: iw }, bufs)
        }
        None => {
            let bufs = PoolBackward { input: &net.acts[i - 1], dout, din, relu_mask: below_relu.is_some() };
            kernels::pool_backward(gpu, gpu.precision, label, pooling, PoolShape { c: ci, h: ih, w: iw }, bufs)
        }
    }
}

/// The TV loss on the whole image (its gradient added to `grad_x`) and the one loss reduction
/// over `ranges` (the TV range appended), pushed onto `ops`.
#[allow(clippy::too_many_arguments)] // one call site per iteration kind, every argument distinct
pub(super) fn finish_losses(
    gpu: &crate::Gpu,
    s: &Settings,
    (w, h): (usize, usize),
    b: &IterationBuffers,
    loss_part: &Buffer,
    ranges: &mut Vec<LossRange>,
    part_len: usize,
    ops: &mut Vec<Dispatch>,
    steering: &mut Steering,
) {
    let hw = w * h;
    let tv_scale = 2.0 / (3 * hw) as f32;
    let (ds, count) = kernels::tv_loss(gpu, "tv".into(), (3, h, w), tv_scale * s.tv_weight, TvLoss { img: b.x, grad: b.grad_x, loss_part }, part_len);
    for d in ds {
        steering.add(&d, offset_of!(ElemParams, coef), tv_scale, Knob::Tau, s);
        ops.push(d);
    }
    ranges.push(LossRange { offset: part_len, count, slot: SLOT_TV, scale: 1.0 / (3 * hw) as f32 });
    let weights = LossWeights { alpha: s.content_weight, beta: s.style_weight, tau: s.tv_weight, layers: s.style_layer_weights };
    let d = kernels::reduce_losses(gpu, ranges, weights, loss_part, b.losses);
    for (off, knob) in [(offset_of!(ReduceLossParams, alpha), Knob::Alpha), (offset_of!(ReduceLossParams, beta), Knob::Beta), (offset_of!(ReduceLossParams, tau), Knob::Tau)] {
        steering.add(&d, off, 1.0, knob, s);
    }
    for l in 0..5 {
        steering.add(&d, offset_of!(ReduceLossParams, layer_w) + 4 * l, 1.0, Knob::Layer(l), s);
    }
    ops.push(d);
    if s.colors == super::Colors::Luminance {
        // The network sees the luminance on all three channels: its gradient is their sum.
        ops.extend(kernels::window::grey_gradient(gpu, hw, b.grad_x, b.staging));
    }
}

/// The optimiser's dispatch lists (see [`Iteration::optimiser`]), Adam's buffers, and the
/// buffers only the optimiser uses.
pub(super) fn optimiser(
    gpu: &crate::Gpu,
    s: &Settings,
    hw: usize,
    b: &IterationBuffers,
    arena: &mut Arena,
    steering: &mut Steering,
) -> (Vec<Vec<Dispatch>>, Option<[Buffer; 3]>, Vec<Buffer>) {
    let mut keep = Vec::new();
    let decay = if s.average { AVERAGE_DECAY } else { 0.0 };
    let mut adam = None;
    let optimiser = match s.optimizer {
        Optimizer::Adam => {
            let cfg = AdamConfig { lr: s.step_size(), beta1: 0.9, beta2: 0.999, eps: 1e-8, decay };
            let (m, v, state) = (arena.take("adam m"), arena.take("adam v"), arena.take("adam state"));
            gpu.queue.write_buffer(&state, 0, bytemuck::cast_slice(&ADAM_STATE_INIT));
            let bufs = AdamBuffers { grad: b.grad_x, x: b.x, m: &m, v: &v, state: &state, avg: b.avg, keep: b.keep_mask };
            let mut list = vec![kernels::adam_tick(gpu, cfg, hw, &state)];
            list.extend(kernels::adam_step(gpu, cfg, hw, bufs));
            for d in &list {
                steering.add(d, offset_of!(AdamParams, lr), 1.0, Knob::Lr, s);
            }
            adam = Some([m, v, state]);
            vec![list]
        }
        Optimizer::Lbfgs => {
            let cfg = LbfgsConfig { lr: s.step_size(), history: s.history as usize, decay };
            let lbfgs = Lbfgs::new(gpu, cfg, hw, arena);
            let lists: Vec<Vec<Dispatch>> = (0..cfg.history).map(|k| lbfgs.iteration(gpu, k, b.grad_x, b.x, b.avg, b.keep_mask)).collect();
            for d in lists.iter().flatten() {
                steering.add(d, offset_of!(LbfgsParams, lr), 1.0, Knob::Lr, s);
            }
            keep.extend(lbfgs.into_buffers());
            lists
        }
    };
    (optimiser, adam, keep)
}
