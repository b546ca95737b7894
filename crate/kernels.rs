//! One launcher per WGSL kernel. Each returns a [`Dispatch`] (pipeline + bind group + grid) that is
//! built once per plan and encoded every iteration; parameter structs mirror the WGSL uniforms.
//! Buffer shapes are documented in the header of each `shaders/*.wgsl` file.

#![allow(clippy::too_many_arguments)] // launchers take every buffer they bind

use crate::gpu::{grid_elems, grid_tiles, ConvPath, ConvTile, Dispatch, Gpu, Precision, Variant};

/// Most workgroups of a reducing element-wise pass (grid-stride loop; one partial sum each).
pub const MAX_REDUCE_GROUPS: u32 = 64;

/// Grid for a reducing pass over `n` elements: `[min(⌈n/256⌉, MAX_REDUCE_GROUPS), 1, 1]`.
/// Panics if its partial sums would not fit in `loss_part` from `offset` (a planning bug).
fn grid_reduce(n: usize, loss_part: &Buffer, offset: usize) -> [u32; 3] {
    let groups = (n as u32).div_ceil(256).clamp(1, MAX_REDUCE_GROUPS);
    assert!((offset + groups as usize) * 4 <= loss_part.size() as usize, "loss partials overflow their buffer");
    [groups, 1, 1]
}
use bytemuck::{Pod, Zeroable};
use wgpu::Buffer;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvParams {
    cin: u32,
    cout: u32,
    h: u32,
    w: u32,
    tiles_n: u32,
    mask_out: u32,
    _pad: [u32; 2],
}

/// Shape of a 3×3 convolution (stride 1, padding 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
}

/// Layers with at most this many pixels use the 64×16 (narrow) conv tile instead of 64×64.
pub const NARROW_MAX_PIXELS: usize = 32;

/// Workgroup size of the direct kernels (conv, Gram, style gradient) for a lane dimension of `n`
/// (pixels, or Gram columns): the largest of 64, 16, 4 with 4·lanes ≤ n (each invocation covers
/// 4 of them), 4 below that.
pub fn direct_lanes(n: u32) -> u32 {
    [64, 16, 4].into_iter().find(|l| 4 * l <= n).unwrap_or(4)
}

/// The conv kernel variant and grid for a shape: `(tile, tiles_n, grid)`.
/// Tiled: 64×64 tiles (64×16 up to [`NARROW_MAX_PIXELS`]). Direct: 16 channels × 4·LANES pixels
/// per workgroup, LANES = [`direct_lanes`]`(h·w)`.
pub fn conv_tiling(path: ConvPath, s: ConvShape) -> (ConvTile, u32, [u32; 3]) {
    let hw = (s.h * s.w) as u32;
    let cout = s.cout as u32;
    match path {
        ConvPath::Tiled if s.h * s.w <= NARROW_MAX_PIXELS => {
            let tiles_n = hw.div_ceil(16);
            (ConvTile::Narrow, tiles_n, grid_tiles(tiles_n, cout.div_ceil(64)))
        }
        ConvPath::Tiled => {
            let tiles_n = hw.div_ceil(64);
            (ConvTile::Wide, tiles_n, grid_tiles(tiles_n, cout.div_ceil(64)))
        }
        ConvPath::Direct => {
            let lanes = direct_lanes(hw);
            let tiles_n = hw.div_ceil(4 * lanes);
            (ConvTile::Direct(lanes), tiles_n, grid_tiles(tiles_n, cout.div_ceil(16)))
        }
    }
}

fn conv_dispatch(gpu: &Gpu, v: Variant, backward: bool, mask_out: bool, label: String, s: ConvShape, bufs: [&Buffer; 5]) -> Dispatch {
    let (tile, tiles_n, grid) = conv_tiling(v.path, s);
    let params =
        ConvParams { cin: s.cin as u32, cout: s.cout as u32, h: s.h as u32, w: s.w as u32, tiles_n, mask_out: mask_out as u32, _pad: [0; 2] };
    let flops = 2.0 * 9.0 * (s.cin * s.cout * s.h * s.w) as f64;
    gpu.kernels.conv(backward, tile, v.precision).dispatch(gpu, label, &params, &bufs, grid, flops)
}

/// Forward convolution with fused bias and ReLU: `out [cout][h][w] = relu(W ⊛ input + bias)`,
/// computed by the `v.path` implementation with `input`, `weight` and `out` stored in
/// `v.precision` (normally `gpu.variant()`).
/// `weight` is `[cin·9][cout4]` ([`crate::ConvWeights::forward_gemm`]), `bias` `[cout]` (f32),
/// `input` `[cin][h][w]`.
pub fn conv_forward(gpu: &Gpu, v: Variant, label: String, s: ConvShape, input: &Buffer, weight: &Buffer, bias: &Buffer, out: &Buffer) -> Dispatch {
    conv_dispatch(gpu, v, false, false, label, s, [input, weight, bias, input, out])
}

/// Input gradient of a conv layer: `din [cin][h][w] = (W' ⊛ dout) · [in_act > 0]` (without the
/// mask when `in_act` is `None`), where `s` is the FORWARD shape, `dout [cout][h][w]` (f32) is the
/// gradient w.r.t. the layer's pre-activation (its ReLU mask already applied by whoever wrote it),
/// `in_act [cin][h][w]` is the layer's forward input when that is a ReLU output — so `din` leaves
/// already through that ReLU — and `weight_t` is [`crate::ConvWeights::backward_gemm`]
/// (`[cout·9][cin4]`). Computed by the `v.path` implementation; `in_act` and `weight_t` are stored
/// in `v.precision`, `din` is f32.
pub fn conv_backward(gpu: &Gpu, v: Variant, label: String, s: ConvShape, dout: &Buffer, in_act: Option<&Buffer>, weight_t: &Buffer, din: &Buffer) -> Dispatch {
    let t = ConvShape { cin: s.cout, cout: s.cin, h: s.h, w: s.w };
    conv_dispatch(gpu, v, true, in_act.is_some(), label, t, [dout, weight_t, weight_t, in_act.unwrap_or(dout), din])
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    c: u32,
    h: u32,
    w: u32,
    relu_mask: u32,
}

/// 2×2 stride-2 pooling: `out [c][h/2][w/2]` from `input [c][h][w]` (max, or average if `avg`),
/// both stored in `precision`.
pub fn pool_forward(gpu: &Gpu, precision: Precision, label: String, avg: bool, c: usize, h: usize, w: usize, input: &Buffer, out: &Buffer) -> Dispatch {
    let k = gpu.kernels.pool(false, avg, precision);
    let n = c * (h / 2) * (w / 2);
    k.dispatch(gpu, label, &PoolParams { c: c as u32, h: h as u32, w: w as u32, relu_mask: 0 }, &[input, out], grid_elems(n), 4.0 * n as f64)
}

/// Pooling backward: `din [c][h][w]` (every element written) from `dout [c][h/2][w/2]` (both
/// f32), using the forward `input [c][h][w]` (stored in `precision`) to route max-pool gradients;
/// with `relu_mask` multiplied by `[input > 0]` (the input is a ReLU output and the gradient
/// leaves through that ReLU, as [`conv_backward`] expects).
pub fn pool_backward(gpu: &Gpu, precision: Precision, label: String, avg: bool, relu_mask: bool, c: usize, h: usize, w: usize, input: &Buffer, dout: &Buffer, din: &Buffer) -> Dispatch {
    let k = gpu.kernels.pool(true, avg, precision);
    let n = c * h * w;
    let params = PoolParams { c: c as u32, h: h as u32, w: w as u32, relu_mask: relu_mask as u32 };
    k.dispatch(gpu, label, &params, &[input, din, dout], grid_elems(n), 4.0 * n as f64)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GramParams {
    c: u32,
    n: u32,
    chunk: u32,
    splits: u32,
    scale: f32,
    loss_offset: u32,
    _pad: [u32; 2],
}

/// How a Gram matrix of `c` channels over `n` pixels is split over K (pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GramSplit {
    /// Channels C.
    pub c: usize,
    /// Pixels N.
    pub n: usize,
    /// Number of K splits (partial Grams).
    pub splits: usize,
    /// Pixels per split (multiple of 16).
    pub chunk: usize,
}

impl GramSplit {
    /// Chooses the split so each partial covers ≥ 1024 pixels and the partial buffer stays small
    /// (≤ 4 Mi floats, at most 64 splits).
    pub fn new(c: usize, n: usize) -> GramSplit {
        let by_k = n.div_ceil(1024);
        let by_mem = ((4usize << 20) / (c * c)).max(1);
        let splits = by_k.min(by_mem).clamp(1, 64);
        let chunk = n.div_ceil(splits).next_multiple_of(16);
        let splits = n.div_ceil(chunk);
        GramSplit { c, n, splits, chunk }
    }

    /// Floats in the partial-Gram buffer.
    pub fn partial_len(&self) -> usize {
        self.splits * self.c * self.c
    }

    fn params(&self, loss_offset: usize) -> GramParams {
        GramParams {
            c: self.c as u32,
            n: self.n as u32,
            chunk: self.chunk as u32,
            splits: self.splits as u32,
            scale: 1.0 / (self.c as f32 * self.n as f32),
            loss_offset: loss_offset as u32,
            _pad: [0; 2],
        }
    }
}

/// Split-K Gram partials: `partial [splits][c][c]` (f32) from `feat [c][n]` (stored in
/// `v.precision`), by the `v.path` implementation (`gram_partial` tiled through workgroup memory,
/// or `gram_direct`; normally `gpu.variant()`, the same choice as the convs').
pub fn gram_partial(gpu: &Gpu, v: Variant, label: String, g: GramSplit, feat: &Buffer, partial: &Buffer) -> Dispatch {
    let flops = 2.0 * (g.c * g.c * g.n) as f64;
    let c = g.c as u32;
    let (lanes, grid) = match v.path {
        ConvPath::Tiled => (None, [c.div_ceil(64), c.div_ceil(64), g.splits as u32]),
        ConvPath::Direct => {
            let lanes = direct_lanes(c);
            (Some(lanes), [c.div_ceil(4 * lanes), c.div_ceil(16), g.splits as u32])
        }
    };
    gpu.kernels.gram_partial(lanes, v.precision).dispatch(gpu, label, &g.params(0), &[feat, partial], grid, flops)
}

/// `gram [c][c] = Σ partial / (c·n)` — the finished Gram matrix (style targets).
pub fn gram_finish(gpu: &Gpu, label: String, g: GramSplit, partial: &Buffer, gram: &Buffer) -> Dispatch {
    let n = g.c * g.c;
    gpu.kernels.gram_finish().dispatch(gpu, label, &g.params(0), &[partial, gram], grid_elems(n), (n * g.splits) as f64)
}

/// `diff = Σ partial / (c·n) − target` (all `[c][c]`), and one partial Σ diff² per workgroup into
/// `loss_part[loss_offset ..]`. Returns the dispatch and the number of partial sums it writes.
pub fn style_diff(gpu: &Gpu, label: String, g: GramSplit, partial: &Buffer, target: &Buffer, diff: &Buffer, loss_part: &Buffer, loss_offset: usize) -> (Dispatch, usize) {
    let n = g.c * g.c;
    let groups = grid_reduce(n, loss_part, loss_offset);
    let d = gpu.kernels.style_diff().dispatch(gpu, label, &g.params(loss_offset), &[partial, diff, target, loss_part], groups, (n * g.splits) as f64);
    (d, (groups[0] * groups[1]) as usize)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct StyleGradParams {
    c: u32,
    n: u32,
    tiles_n: u32,
    accumulate: u32,
    coef: f32,
    _pad: [u32; 3],
}

/// `grad [c][n] (+)= coef · (diff · feat) · [feat > 0]` with `diff [c][c]` symmetric (f32), `feat`
/// (a ReLU output, so the gradient leaves through its ReLU) stored in `v.precision`; adds to `grad`
/// (f32) if `accumulate`, otherwise overwrites it. Computed by the
/// `v.path` implementation (`style_grad` tiled, or `style_grad_direct`; normally `gpu.variant()`).
pub fn style_grad(gpu: &Gpu, v: Variant, label: String, c: usize, n: usize, coef: f32, accumulate: bool, feat: &Buffer, diff: &Buffer, grad: &Buffer) -> Dispatch {
    let flops = 2.0 * (c * c * n) as f64;
    let (lanes, tiles_n, tiles_m) = match v.path {
        ConvPath::Tiled => (None, (n as u32).div_ceil(64), (c as u32).div_ceil(64)),
        ConvPath::Direct => {
            let lanes = direct_lanes(n as u32);
            (Some(lanes), (n as u32).div_ceil(4 * lanes), (c as u32).div_ceil(16))
        }
    };
    let kernel = gpu.kernels.style_grad(lanes, v.precision);
    let params = StyleGradParams { c: c as u32, n: n as u32, tiles_n, accumulate: accumulate as u32, coef, _pad: [0; 3] };
    kernel.dispatch(gpu, label, &params, &[feat, grad, diff], grid_tiles(tiles_n, tiles_m), flops)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ElemParams {
    n: u32,
    h: u32,
    w: u32,
    loss_offset: u32,
    coef: f32,
    _pad: [u32; 3],
}

/// Content loss at one layer: `grad += coef·(feat − target)·[feat > 0]` (`feat` is a ReLU output:
/// the gradient leaves through its ReLU) over `n` elements and one partial
/// Σ (feat − target)² per workgroup into `loss_part[loss_offset ..]`; `feat` and `target` are
/// stored in `precision`, `grad` and `loss_part` are f32. Returns the dispatch and the number of
/// partial sums.
pub fn content_loss(gpu: &Gpu, precision: Precision, label: String, n: usize, coef: f32, feat: &Buffer, target: &Buffer, grad: &Buffer, loss_part: &Buffer, loss_offset: usize) -> (Dispatch, usize) {
    let groups = grid_reduce(n, loss_part, loss_offset);
    let p = ElemParams { n: n as u32, h: 0, w: 0, loss_offset: loss_offset as u32, coef, _pad: [0; 3] };
    let d = gpu.kernels.content_loss(precision).dispatch(gpu, label, &p, &[feat, grad, target, loss_part], groups, 3.0 * n as f64);
    (d, (groups[0] * groups[1]) as usize)
}

/// Total variation of `img [c][h][w]`: `grad += coef·∂TV/∂img` (TV = Σ squared forward
/// differences, ∂ halved) and per-workgroup partial sums of TV into `loss_part[loss_offset ..]`.
/// Returns the dispatch and the number of partial sums.
pub fn tv_loss(gpu: &Gpu, label: String, c: usize, h: usize, w: usize, coef: f32, img: &Buffer, grad: &Buffer, loss_part: &Buffer, loss_offset: usize) -> (Dispatch, usize) {
    let n = c * h * w;
    let groups = grid_reduce(n, loss_part, loss_offset);
    let p = ElemParams { n: n as u32, h: h as u32, w: w as u32, loss_offset: loss_offset as u32, coef, _pad: [0; 3] };
    let d = gpu.kernels.tv_loss().dispatch(gpu, label, &p, &[img, grad, loss_part], groups, 8.0 * n as f64);
    (d, (groups[0] * groups[1]) as usize)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceLossParams {
    ranges: [[u32; 4]; 7],
    alpha: f32,
    beta: f32,
    tau: f32,
    n_ranges: u32,
    layer_w: [f32; 8],
}

/// One range of loss partials for [`reduce_losses`]: `losses[slot] = scale · Σ
/// loss_part[offset .. offset + count]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossRange {
    pub offset: usize,
    pub count: usize,
    pub slot: usize,
    pub scale: f32,
}

/// The loss weights [`reduce_losses`] combines the slots with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    /// α (content).
    pub alpha: f32,
    /// β (style).
    pub beta: f32,
    /// τ (total variation).
    pub tau: f32,
    /// Style layer weights w_1..w_5.
    pub layers: [f32; 5],
}

/// One dispatch (one workgroup) that sums each range of partial sums in `loss_part` into its raw
/// slot of `losses` (0 content, 1..5 style per layer, 6 TV; at most 7 ranges), then combines the
/// slots 0..6 into 8..11: content, Σ_l w_l·style_l, TV, α·content + β·style + τ·TV.
/// Panics on more than 7 ranges (a planning bug).
pub fn reduce_losses(gpu: &Gpu, ranges: &[LossRange], w: LossWeights, loss_part: &Buffer, losses: &Buffer) -> Dispatch {
    assert!(ranges.len() <= 7, "at most 7 loss ranges");
    let mut p = ReduceLossParams { ranges: [[0; 4]; 7], alpha: w.alpha, beta: w.beta, tau: w.tau, n_ranges: ranges.len() as u32, layer_w: [0.0; 8] };
    for (r, dst) in ranges.iter().zip(&mut p.ranges) {
        *dst = [r.offset as u32, r.count as u32, r.slot as u32, r.scale.to_bits()];
    }
    p.layer_w[..5].copy_from_slice(&w.layers);
    let flops = ranges.iter().map(|r| r.count).sum::<usize>() as f64 + 10.0;
    gpu.kernels.reduce_losses().dispatch(gpu, "reduce losses", &p, &[loss_part, losses], [1, 1, 1], flops)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamParams {
    n: u32,
    hw: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad: [u32; 2],
}

/// Adam hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate, in pixel units (0..255 scale).
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

fn adam_params(cfg: AdamConfig, hw: usize) -> AdamParams {
    AdamParams { n: (3 * hw) as u32, hw: hw as u32, lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, _pad: [0; 2] }
}

/// Advances the step counter in `state [4]` and its bias corrections (one invocation).
pub fn adam_tick(gpu: &Gpu, cfg: AdamConfig, hw: usize, state: &Buffer) -> Dispatch {
    gpu.kernels.adam_tick().dispatch(gpu, "adam tick", &adam_params(cfg, hw), &[state], [1, 1, 1], 4.0)
}

/// One Adam update of `x [3][hw]` from `grad`, with moments `m`, `v` and `state` from
/// [`adam_tick`]; the result is clamped to the valid pixel range of each channel.
pub fn adam_step(gpu: &Gpu, cfg: AdamConfig, hw: usize, grad: &Buffer, x: &Buffer, m: &Buffer, v: &Buffer, state: &Buffer) -> Dispatch {
    gpu.kernels.adam_step().dispatch(gpu, "adam", &adam_params(cfg, hw), &[grad, x, m, v, state], grid_elems(3 * hw), 12.0 * 3.0 * hw as f64)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ImageParams {
    hw: u32,
    _pad: [u32; 3],
}

/// RGBA8 pixels `rgba [hw]` (u32, R in the low byte) → network input `img [3][hw]` (BGR, minus mean).
pub fn preprocess(gpu: &Gpu, hw: usize, rgba: &Buffer, img: &Buffer) -> Dispatch {
    gpu.kernels.preprocess().dispatch(gpu, "preprocess", &ImageParams { hw: hw as u32, _pad: [0; 3] }, &[rgba, img], grid_elems(hw), 6.0 * hw as f64)
}

/// Network-space `img [3][hw]` → RGBA8 `rgba [hw]`, rounded and clamped, alpha 255.
pub fn postprocess(gpu: &Gpu, hw: usize, img: &Buffer, rgba: &Buffer) -> Dispatch {
    gpu.kernels.postprocess().dispatch(gpu, "postprocess", &ImageParams { hw: hw as u32, _pad: [0; 3] }, &[img, rgba], grid_elems(hw), 6.0 * hw as f64)
}

/// `dst [n] = src [n]` converted to activations stored in `precision` (the network's copy of its
/// f32 input image when activations are f16).
pub fn to_act(gpu: &Gpu, precision: Precision, n: usize, src: &Buffer, dst: &Buffer) -> Dispatch {
    gpu.kernels.to_act(precision).dispatch(gpu, "to_act", &ImageParams { hw: n as u32, _pad: [0; 3] }, &[src, dst], grid_elems(n), n as f64)
}
