//! Gram matrices and the style loss with its gradient (`shaders/gram.wgsl`).

use crate::gpu::{binding, grid_elems, grid_tiles, Bind, Binding, ConvPath, Dispatch, Gpu, Precision, Variant};
use crate::kernels::{direct_lanes, loss::grid_reduce, KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of the Gram kernels and style_diff.
    pub struct GramParams {
        pub c: u32,
        pub n: u32,
        /// Pixels per split (multiple of 16).
        pub chunk: u32,
        pub splits: u32,
        /// 1 / (C·N).
        pub scale: f32,
        /// style_diff: first slot in loss_part.
        pub loss_offset: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

crate::wgsl_struct! {
    /// Uniform parameters of gram_blend.
    pub struct BlendParams {
        /// Elements (C²).
        pub n: u32,
        /// Paintings blended (1..=4).
        pub count: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        /// Their weights.
        pub w: [f32; 4],
    }
}

crate::wgsl_struct! {
    /// Uniform parameters of the style-gradient kernels.
    pub struct StyleGradParams {
        pub c: u32,
        pub n: u32,
        pub tiles_n: u32,
        pub accumulate: u32,
        pub coef: f32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

const PARTIAL_BINDINGS: &[Binding] = &[binding("gp", 0, Bind::Uniform), binding("feat", 1, Bind::Read), binding("partial_out", 2, Bind::Write)];
const GRAD_BINDINGS: &[Binding] = &[binding("sg", 0, Bind::Uniform), binding("feat", 1, Bind::Read), binding("grad", 2, Bind::Write), binding("diff", 3, Bind::Read)];
const GRAM_PARTIAL: KernelDef = KernelDef { shader: Shader::Gram, entry: "gram_partial", bindings: PARTIAL_BINDINGS };
const GRAM_DIRECT: KernelDef = KernelDef { shader: Shader::Gram, entry: "gram_direct", bindings: PARTIAL_BINDINGS };
const GRAM_FINISH: KernelDef = KernelDef {
    shader: Shader::Gram,
    entry: "gram_finish",
    bindings: &[binding("gp", 0, Bind::Uniform), binding("partial_in", 1, Bind::Read), binding("gram_out", 2, Bind::Write)],
};
const STYLE_DIFF: KernelDef = KernelDef {
    shader: Shader::Gram,
    entry: "style_diff",
    bindings: &[
        binding("gp", 0, Bind::Uniform),
        binding("partial_in", 1, Bind::Read),
        binding("gram_out", 2, Bind::Write),
        binding("target_gram", 3, Bind::Read),
        binding("loss_part", 4, Bind::Write),
    ],
};
const STYLE_GRAD: KernelDef = KernelDef { shader: Shader::Gram, entry: "style_grad", bindings: GRAD_BINDINGS };
const STYLE_GRAD_DIRECT: KernelDef = KernelDef { shader: Shader::Gram, entry: "style_grad_direct", bindings: GRAD_BINDINGS };
/// The entry points of `gram.wgsl`.
const GRAM_BLEND: KernelDef = KernelDef {
    shader: Shader::Gram,
    entry: "gram_blend",
    bindings: &[
        binding("bp", 0, Bind::Uniform),
        binding("g0", 5, Bind::Read),
        binding("g1", 6, Bind::Read),
        binding("g2", 7, Bind::Read),
        binding("g3", 8, Bind::Read),
        binding("blend_out", 9, Bind::Write),
    ],
};
pub const KERNELS: &[KernelDef] = &[GRAM_PARTIAL, GRAM_DIRECT, GRAM_FINISH, STYLE_DIFF, STYLE_GRAD, STYLE_GRAD_DIRECT, GRAM_BLEND];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<GramParams>(), Uniform::of::<StyleGradParams>(), Uniform::of::<BlendParams>()]
}

/// The tiled kernel (`lanes` = None) or the direct one with 4, 16 or 64 invocations per workgroup.
fn lanes_spec(tiled: &KernelDef, direct: &KernelDef, lanes: Option<u32>, precision: Precision) -> PipelineSpec {
    match lanes {
        None => tiled.spec(precision, None, &[], format!("{}{}", tiled.entry, precision.suffix())),
        Some(l) => direct.spec(precision, None, &[("LANES", l)], format!("{}{l}{}", direct.entry, precision.suffix())),
    }
}

/// Every Gram and style pipeline for `precision` (the f32-only ones with f32).
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let mut v = Vec::new();
    for (tiled, direct) in [(&GRAM_PARTIAL, &GRAM_DIRECT), (&STYLE_GRAD, &STYLE_GRAD_DIRECT)] {
        v.extend([None, Some(4), Some(16), Some(64)].map(|l| lanes_spec(tiled, direct, l, precision)));
    }
    if precision == Precision::F32 {
        v.extend([GRAM_FINISH.plain(), STYLE_DIFF.plain(), GRAM_BLEND.plain()]);
    }
    v
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
        let chunk = n.div_ceil(splits).next_multiple_of(16).max(16);
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
            _pad0: 0,
            _pad1: 0,
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
    let k = lanes_spec(&GRAM_PARTIAL, &GRAM_DIRECT, lanes, v.precision).get(gpu);
    k.dispatch(gpu, label, &g.params(0), &[("feat", feat), ("partial_out", partial)], grid, flops)
}

/// `gram [c][c] = Σ partial / (c·n)` — the finished Gram matrix (style targets).
pub fn gram_finish(gpu: &Gpu, label: String, g: GramSplit, partial: &Buffer, gram: &Buffer) -> Dispatch {
    let n = g.c * g.c;
    let bufs = [("partial_in", partial), ("gram_out", gram)];
    GRAM_FINISH.plain().get(gpu).dispatch(gpu, label, &g.params(0), &bufs, grid_elems(n), (n * g.splits) as f64)
}

/// The buffers of [`style_diff`].
pub struct StyleDiff<'a> {
    /// `[splits][c][c]` Gram partials of the current image.
    pub partial: &'a Buffer,
    /// `[c][c]` the style target A.
    pub target: &'a Buffer,
    /// `[c][c]` written: G − A.
    pub diff: &'a Buffer,
    /// Loss partial sums (one per workgroup from `loss_offset`).
    pub loss_part: &'a Buffer,
}

/// `diff = Σ partial / (c·n) − target` (all `[c][c]`), and one partial Σ diff² per workgroup into
/// `loss_part[loss_offset ..]`. Returns the dispatch and the number of partial sums it writes.
pub fn style_diff(gpu: &Gpu, label: String, g: GramSplit, b: StyleDiff, loss_offset: usize) -> (Dispatch, usize) {
    let n = g.c * g.c;
    let groups = grid_reduce(n, b.loss_part, loss_offset);
    let bufs = [("partial_in", b.partial), ("gram_out", b.diff), ("target_gram", b.target), ("loss_part", b.loss_part)];
    let d = STYLE_DIFF.plain().get(gpu).dispatch(gpu, label, &g.params(loss_offset), &bufs, groups, (n * g.splits) as f64);
    (d, groups[0] as usize)
}

/// The buffers of [`style_grad`].
pub struct StyleGrad<'a> {
    /// `[c][n]` the features (a ReLU output, so the gradient leaves through its ReLU), stored in
    /// the variant's precision.
    pub feat: &'a Buffer,
    /// `[c][c]` symmetric G − A (f32).
    pub diff: &'a Buffer,
    /// `[c][n]` f32, overwritten, or added to when `accumulate`.
    pub grad: &'a Buffer,
    /// Add to `grad` instead of overwriting it.
    pub accumulate: bool,
}

/// `grad [c][n] (+)= coef · (diff · feat) · [feat > 0]`, computed by the `v.path` implementation
/// (`style_grad` tiled, or `style_grad_direct`; normally `gpu.variant()`).
pub fn style_grad(gpu: &Gpu, v: Variant, label: String, c: usize, n: usize, coef: f32, b: StyleGrad) -> Dispatch {
    let flops = 2.0 * (c * c * n) as f64;
    let (lanes, tiles_n, tiles_m) = match v.path {
        ConvPath::Tiled => (None, (n as u32).div_ceil(64), (c as u32).div_ceil(64)),
        ConvPath::Direct => {
            let lanes = direct_lanes(n as u32);
            (Some(lanes), (n as u32).div_ceil(4 * lanes), (c as u32).div_ceil(16))
        }
    };
    let kernel = lanes_spec(&STYLE_GRAD, &STYLE_GRAD_DIRECT, lanes, v.precision).get(gpu);
    let params = StyleGradParams { c: c as u32, n: n as u32, tiles_n, accumulate: b.accumulate as u32, coef, _pad0: 0, _pad1: 0, _pad2: 0 };
    kernel.dispatch(gpu, label, &params, &[("feat", b.feat), ("grad", b.grad), ("diff", b.diff)], grid_tiles(tiles_n, tiles_m), flops)
}

/// Most paintings [`gram_blend`] combines.
pub use crate::settings::MAX_PAINTINGS;

/// `out [C][C] = Σ_k weights[k] · grams[k]` (1 to [`MAX_PAINTINGS`] Gram matrices of `n` = C²
/// floats): several paintings' style targets as one.
pub fn gram_blend(gpu: &Gpu, label: String, n: usize, grams: &[&Buffer], weights: &[f32], out: &Buffer) -> Dispatch {
    assert!((1..=MAX_PAINTINGS).contains(&grams.len()) && grams.len() == weights.len(), "1 to 4 Grams, one weight each");
    let mut w = [0.0; 4];
    w[..weights.len()].copy_from_slice(weights);
    let p = BlendParams { n: n as u32, count: grams.len() as u32, _pad0: 0, _pad1: 0, w };
    let g = |k: usize| grams.get(k).copied().unwrap_or(grams[0]);
    let bufs = [("g0", g(0)), ("g1", g(1)), ("g2", g(2)), ("g3", g(3)), ("blend_out", out)];
    GRAM_BLEND.plain().get(gpu).dispatch(gpu, label, &p, &bufs, grid_elems(n), (2 * n * grams.len()) as f64)
}
