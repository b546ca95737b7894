//! Content, total-variation and temporal losses with their gradients, and the one loss reduction per
//! iteration (`shaders/loss.wgsl`). The loss slot numbers are defined here and reach the WGSL
//! through the prelude.

use crate::gpu::{binding, Bind, Dispatch, Gpu, Precision, WG};
use crate::kernels::{window, KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

/// Floats in the `losses` buffer.
pub const LOSS_SLOTS: usize = 16;
/// Raw slot of the content loss (mean (F − P)²).
pub const SLOT_CONTENT: usize = 0;
/// Raw slots of the five style layers' losses: `SLOT_STYLE + l`.
pub const SLOT_STYLE: usize = 1;
/// Raw slot of the TV loss.
pub const SLOT_TV: usize = 6;
/// Raw slot of the temporal loss (video frames after the first).
pub const SLOT_TEMPORAL: usize = 7;
/// Combined slots: content, Σ_l w_l·style_l, TV, total, temporal at `SLOT_TOTALS + 0..5`.
pub const SLOT_TOTALS: usize = 8;

/// The slot numbers as WGSL constants (for the prelude).
pub(crate) fn slot_consts() -> String {
    format!(
        "const SLOT_CONTENT: u32 = {SLOT_CONTENT}u;\nconst SLOT_STYLE: u32 = {SLOT_STYLE}u;\nconst SLOT_TV: u32 = {SLOT_TV}u;\nconst SLOT_TEMPORAL: u32 = {SLOT_TEMPORAL}u;\n\
         const SLOT_TOTALS: u32 = {SLOT_TOTALS}u;\n"
    )
}

/// Most workgroups of a reducing element-wise pass (grid-stride loop; one partial sum each).
pub const MAX_REDUCE_GROUPS: u32 = 64;

/// Most ranges of partial sums one [`reduce_losses`] dispatch sums.
pub const MAX_LOSS_RANGES: usize = 8;

/// Grid for a reducing pass over `n` elements: `[min(⌈n/WG⌉, MAX_REDUCE_GROUPS), 1, 1]`.
/// Panics if its partial sums would not fit in `loss_part` from `offset` (a planning bug).
pub(crate) fn grid_reduce(n: usize, loss_part: &Buffer, offset: usize) -> [u32; 3] {
    let groups = (n as u32).div_ceil(WG).clamp(1, MAX_REDUCE_GROUPS);
    assert!((offset + groups as usize) * 4 <= loss_part.size() as usize, "loss partials overflow their buffer");
    [groups, 1, 1]
}

crate::wgsl_struct! {
    /// Uniform parameters of content_loss and tv_loss.
    pub struct ElemParams {
        /// Element count (content: C·h·w; tv: c·h·w).
        pub n: u32,
        pub h: u32,
        pub w: u32,
        pub loss_offset: u32,
        pub coef: f32,
        /// tv_loss: rows per channel processed, the first one's row in the image, and the index
        /// of its first element in the bound `src`/`grad` (0, h, 0 unwindowed; content_loss: 0).
        pub rows: u32,
        pub row0: u32,
        pub first: u32,
    }
}

crate::wgsl_struct! {
    /// Uniform parameters of reduce_losses.
    pub struct ReduceLossParams {
        /// (offset, count, slot, bitcast<u32>(scale)) per range.
        pub ranges: [[u32; 4]; 8],
        pub alpha: f32,
        pub beta: f32,
        pub tau: f32,
        pub n_ranges: u32,
        /// w_1..w_4, then w_5 in the second vector's x.
        pub layer_w: [[f32; 4]; 2],
        /// γ (temporal).
        pub gamma: f32,
        /// 1: a range fills SLOT_TEMPORAL and the total includes γ·temporal; 0: no temporal loss.
        pub temporal: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

const CONTENT: KernelDef = KernelDef {
    shader: Shader::Loss,
    entry: "content_loss",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("feat", 1, Bind::Read),
        binding("grad", 2, Bind::Write),
        binding("target_feat", 3, Bind::Read),
        binding("loss_part", 4, Bind::Write),
    ],
};
const TV: KernelDef = KernelDef {
    shader: Shader::Loss,
    entry: "tv_loss",
    bindings: &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("grad", 2, Bind::Write), binding("loss_part", 4, Bind::Write)],
};
const TEMPORAL: KernelDef = KernelDef {
    shader: Shader::Loss,
    entry: "temporal_loss",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("src", 1, Bind::Read),
        binding("grad", 2, Bind::Write),
        binding("loss_part", 4, Bind::Write),
        binding("previous", 5, Bind::Read),
        binding("reliable", 6, Bind::Read),
    ],
};
const REDUCE: KernelDef =
    KernelDef { shader: Shader::Loss, entry: "reduce_losses", bindings: &[binding("rl", 0, Bind::Uniform), binding("part_in", 1, Bind::Read), binding("losses", 2, Bind::Write)] };
/// The entry points of `loss.wgsl`.
pub const KERNELS: &[KernelDef] = &[CONTENT, TV, TEMPORAL, REDUCE];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<ElemParams>(), Uniform::of::<ReduceLossParams>()]
}

fn content_spec(precision: Precision) -> PipelineSpec {
    CONTENT.spec(precision, None, &[], format!("content_loss{}", precision.suffix()))
}

/// Every loss pipeline for `precision` (the f32-only ones with f32).
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let mut v = vec![content_spec(precision)];
    if precision == Precision::F32 {
        v.extend([TV.plain(), TEMPORAL.plain(), REDUCE.plain()]);
    }
    v
}

/// The buffers of [`content_loss`].
pub struct ContentLoss<'a> {
    /// `[n]` features (a ReLU output), stored in the pass's precision.
    pub feat: &'a Buffer,
    /// `[n]` the content target, same storage.
    pub target: &'a Buffer,
    /// `[n]` f32, added to.
    pub grad: &'a Buffer,
    /// Loss partial sums (one per workgroup from the offset).
    pub loss_part: &'a Buffer,
}

/// Content loss at one layer: `grad += coef·(feat − target)·[feat > 0]` (the gradient leaves
/// through the features' ReLU) over `n` elements and one partial Σ (feat − target)² per workgroup
/// into `loss_part[loss_offset ..]`. Returns the dispatch and the number of partial sums.
pub fn content_loss(gpu: &Gpu, precision: Precision, label: String, n: usize, coef: f32, b: ContentLoss, loss_offset: usize) -> (Dispatch, usize) {
    let groups = grid_reduce(n, b.loss_part, loss_offset);
    let p = ElemParams { n: n as u32, h: 0, w: 0, loss_offset: loss_offset as u32, coef, rows: 0, row0: 0, first: 0 };
    let kernel = content_spec(precision).get(gpu);
    let bufs = [("feat", b.feat), ("grad", b.grad), ("target_feat", b.target), ("loss_part", b.loss_part)];
    (kernel.dispatch(gpu, label, &p, &bufs, groups, 3.0 * n as f64), groups[0] as usize)
}

/// The buffers of [`tv_loss`].
pub struct TvLoss<'a> {
    /// `[c][h][w]` the image (f32).
    pub img: &'a Buffer,
    /// `[c][h][w]` f32, added to.
    pub grad: &'a Buffer,
    /// Loss partial sums (one per workgroup from the offset).
    pub loss_part: &'a Buffer,
}

/// Total variation of the `(c, h, w)` image: `grad += coef·∂TV/∂img` (TV = Σ squared forward
/// differences, ∂ halved) and per-workgroup partial sums of TV into `loss_part[loss_offset ..]`.
/// Returns the dispatches (one; on an image larger than one binding, one per channel and band of
/// rows, each binding its rows and one of halo each side, [`crate::kernels::window`]) and the
/// number of partial sums (at most [`MAX_REDUCE_GROUPS`]).
pub fn tv_loss(gpu: &Gpu, label: String, (c, h, w): (usize, usize, usize), coef: f32, b: TvLoss, loss_offset: usize) -> (Vec<Dispatch>, usize) {
    let n = c * h * w;
    let whole = window::binds_whole(gpu, b.img) && window::binds_whole(gpu, b.grad);
    if whole {
        let groups = grid_reduce(n, b.loss_part, loss_offset);
        let p = ElemParams { n: n as u32, h: h as u32, w: w as u32, loss_offset: loss_offset as u32, coef, rows: h as u32, row0: 0, first: 0 };
        let bufs = [("src", b.img), ("grad", b.grad), ("loss_part", b.loss_part)];
        return (vec![TV.plain().get(gpu).dispatch(gpu, label, &p, &bufs, groups, 8.0 * n as f64)], groups[0] as usize);
    }
    // Bands of rows whose span with a halo row on each side (and the alignment skew) binds.
    let skew = (gpu.binding_alignment() / 4) as usize;
    let rows = (window::flat_len(gpu).saturating_sub(skew) / w.max(1)).saturating_sub(2).clamp(1, h.max(1));
    let bands: Vec<(usize, usize, usize)> = (0..c).flat_map(|ch| (0..h).step_by(rows).map(move |y0| (ch, y0, rows.min(h - y0)))).collect();
    let per = (MAX_REDUCE_GROUPS as usize / bands.len()).max(1);
    assert!(bands.len() <= MAX_REDUCE_GROUPS as usize, "TV over {} bands: more than the loss partials hold", bands.len());
    let mut ops = Vec::new();
    let mut count = 0;
    for (ch, y0, nr) in bands {
        let (top, bottom) = (y0.saturating_sub(1), (y0 + nr + 1).min(h));
        let (start, end) = (ch * h * w + top * w, ch * h * w + bottom * w);
        let (src, skew) = window::slice(gpu, b.img, start, end);
        let (grad, _) = window::slice(gpu, b.grad, start, end);
        let len = nr * w;
        let groups = (len.div_ceil(WG as usize)).clamp(1, per);
        assert!((loss_offset + count + groups) * 4 <= b.loss_part.size() as usize, "loss partials overflow their buffer");
        let p = ElemParams {
            n: len as u32,
            h: h as u32,
            w: w as u32,
            loss_offset: (loss_offset + count) as u32,
            coef,
            rows: nr as u32,
            row0: y0 as u32,
            first: (skew + (y0 - top) * w) as u32,
        };
        let bufs = [("src", src), ("grad", grad), ("loss_part", b.loss_part.into())];
        ops.push(TV.plain().get(gpu).dispatch_slices(gpu, format!("{label} (window)"), &p, &bufs, [groups as u32, 1, 1], 8.0 * len as f64));
        count += groups;
    }
    (ops, count)
}

/// The buffers of [`temporal_loss`] (f32).
pub struct TemporalLoss<'a> {
    /// `[3][h][w]` the image.
    pub img: &'a Buffer,
    /// `[3][h][w]` the previous frame's result warped into this frame.
    pub previous: &'a Buffer,
    /// `[h][w]` where that warp is reliable, c ∈ [0, 1].
    pub reliable: &'a Buffer,
    /// `[3][h][w]`, added to.
    pub grad: &'a Buffer,
    /// Loss partial sums (one per workgroup from the offset).
    pub loss_part: &'a Buffer,
}

/// Temporal loss of a video frame (Ruder et al.): `grad += coef·c·(img − previous)` and one
/// partial Σ c·(img − previous)² per workgroup into `loss_part[loss_offset ..]`. The image must
/// fit one binding (video frames do). Returns the dispatch and the number of partial sums.
pub fn temporal_loss(gpu: &Gpu, (h, w): (usize, usize), coef: f32, b: TemporalLoss, loss_offset: usize) -> (Dispatch, usize) {
    let n = 3 * h * w;
    let groups = grid_reduce(n, b.loss_part, loss_offset);
    let p = ElemParams { n: n as u32, h: h as u32, w: w as u32, loss_offset: loss_offset as u32, coef, rows: 0, row0: 0, first: 0 };
    let bufs = [("src", b.img), ("grad", b.grad), ("loss_part", b.loss_part), ("previous", b.previous), ("reliable", b.reliable)];
    (TEMPORAL.plain().get(gpu).dispatch(gpu, "temporal", &p, &bufs, groups, 5.0 * n as f64), groups[0] as usize)
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
    /// γ (temporal), or None when no range fills the temporal slot.
    pub gamma: Option<f32>,
    /// Style layer weights w_1..w_5.
    pub layers: [f32; 5],
}

/// One dispatch (one workgroup) that sums each range of partial sums in `loss_part` into its raw
/// slot of `losses` (at most [`MAX_LOSS_RANGES`] ranges), then combines the raw slots into
/// `SLOT_TOTALS..+5`: content, Σ_l w_l·style_l, TV, α·content + β·style + τ·TV (+ γ·temporal),
/// temporal.
/// Panics on more ranges (a planning bug).
pub fn reduce_losses(gpu: &Gpu, ranges: &[LossRange], w: LossWeights, loss_part: &Buffer, losses: &Buffer) -> Dispatch {
    assert!(ranges.len() <= MAX_LOSS_RANGES, "at most {MAX_LOSS_RANGES} loss ranges");
    let l = w.layers;
    let mut p = ReduceLossParams {
        ranges: [[0; 4]; 8],
        alpha: w.alpha,
        beta: w.beta,
        tau: w.tau,
        n_ranges: ranges.len() as u32,
        layer_w: [[l[0], l[1], l[2], l[3]], [l[4], 0.0, 0.0, 0.0]],
        gamma: w.gamma.unwrap_or(0.0),
        temporal: u32::from(w.gamma.is_some()),
        _pad0: 0,
        _pad1: 0,
    };
    for (r, dst) in ranges.iter().zip(&mut p.ranges) {
        *dst = [r.offset as u32, r.count as u32, r.slot as u32, r.scale.to_bits()];
    }
    let flops = ranges.iter().map(|r| r.count).sum::<usize>() as f64 + 10.0;
    REDUCE.plain().get(gpu).dispatch(gpu, "reduce losses", &p, &[("part_in", loss_part), ("losses", losses)], [1, 1, 1], flops)
}
