//! Dense optical flow between two frames, its forward–backward consistency and the warp of an
//! image by a flow (`shaders/flow.wgsl`): what a video run uses to start each frame from the
//! previous stylised frame and to keep it close to it where the motion is reliable.
//!
//! The method is pyramidal, iterative Lucas–Kanade (Bouguet's scheme): a pyramid of 2× box-filtered
//! grey images; at each level from the coarsest, the coarser flow doubled and upsampled, then
//! [`FlowConfig::iterations`] Lucas–Kanade steps over a (2r+1)² window, each re-sampling frame b at
//! the current estimate (bilinear) and solving the regularised 2×2 normal equations. It takes one
//! dispatch per step and per level (a 64 px pair with 3 levels and 5 steps: 2 grey + 4 down +
//! 1 zero + 2 up + 15 steps), all of them per-pixel kernels with no reduction. It recovers
//! translations and rotations of textured images to a tenth of a pixel (tests/kernels/flow.rs),
//! and the consistency check masks where it cannot (occlusions, motion boundaries).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of every flow kernel (see `flow.wgsl`).
    pub struct FlowParams {
        /// This level's width and height.
        pub w: u32,
        pub h: u32,
        /// The other level's (flow_down: the output's; flow_up: the coarser input's).
        pub cw: u32,
        pub ch: u32,
        /// flow_lk: the window's radius r ((2r+1)² pixels).
        pub radius: u32,
        /// flow_lk: Tikhonov regulariser per window pixel (grey levels², 0..255 scale).
        pub reg: f32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

const fn def(entry: &'static str, bindings: &'static [crate::gpu::Binding]) -> KernelDef {
    KernelDef { shader: Shader::Flow, entry, bindings }
}
const GRAY: KernelDef = def("flow_gray", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write)]);
const DOWN: KernelDef = def("flow_down", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write)]);
const UP: KernelDef = def("flow_up", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write)]);
const LK: KernelDef =
    def("flow_lk", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write), binding("i0", 3, Bind::Read), binding("i1", 4, Bind::Read)]);
const CHECK: KernelDef = def("flow_check", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write), binding("other", 3, Bind::Read)]);
const WARP: KernelDef = def("flow_warp", &[binding("p", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write), binding("image", 3, Bind::Read)]);
/// The entry points of `flow.wgsl`.
pub const KERNELS: &[KernelDef] = &[GRAY, DOWN, UP, LK, CHECK, WARP];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<FlowParams>()]
}

/// Every flow pipeline (f32 only).
pub(crate) fn pipelines() -> Vec<PipelineSpec> {
    KERNELS.iter().map(KernelDef::plain).collect()
}

/// A level's size (w, h).
pub type Dims = (usize, usize);

fn params((w, h): Dims, (cw, ch): Dims) -> FlowParams {
    FlowParams { w: w as u32, h: h as u32, cw: cw as u32, ch: ch as u32, radius: 0, reg: 0.0, _pad0: 0, _pad1: 0 }
}

fn launch(gpu: &Gpu, def: KernelDef, p: &FlowParams, n: usize, bufs: &[(&str, &Buffer)], flops: f64) -> Dispatch {
    def.plain().get(gpu).dispatch(gpu, def.entry, p, bufs, grid_elems(n), flops)
}

/// `dst [h][w]` grey (0..255) of the network-space image `img [3][h][w]`.
pub fn flow_gray(gpu: &Gpu, dims: Dims, img: &Buffer, dst: &Buffer) -> Dispatch {
    let n = dims.0 * dims.1;
    launch(gpu, GRAY, &params(dims, dims), n, &[("src", img), ("dst", dst)], 6.0 * n as f64)
}

/// The next pyramid level's size: ⌈w/2⌉ × ⌈h/2⌉.
pub fn half((w, h): Dims) -> Dims {
    (w.div_ceil(2), h.div_ceil(2))
}

/// `dst [⌈h/2⌉][⌈w/2⌉]`: the 2×2 block means of the grey `src [h][w]`.
pub fn flow_down(gpu: &Gpu, dims: Dims, src: &Buffer, dst: &Buffer) -> Dispatch {
    let out = half(dims);
    launch(gpu, DOWN, &params(dims, out), out.0 * out.1, &[("src", src), ("dst", dst)], 4.0 * (out.0 * out.1) as f64)
}

/// `dst [2][h][w]`: the coarser level's flow `coarse [2][⌈h/2⌉][⌈w/2⌉]` doubled and upsampled
/// (bilinear).
pub fn flow_up(gpu: &Gpu, dims: Dims, coarse: &Buffer, dst: &Buffer) -> Dispatch {
    let n = dims.0 * dims.1;
    launch(gpu, UP, &params(dims, half(dims)), n, &[("src", coarse), ("dst", dst)], 16.0 * n as f64)
}

/// The Lucas–Kanade parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowConfig {
    /// Window radius r: (2r+1)² pixels per equation.
    pub radius: u32,
    /// Lucas–Kanade steps per pyramid level.
    pub iterations: u32,
    /// Regulariser per window pixel, in grey levels² (keeps textureless windows still).
    pub reg: f32,
    /// The coarsest level's shorter side is at least this (and the pyramid stops there).
    pub min_side: usize,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig { radius: 3, iterations: 5, reg: 1.0, min_side: 12 }
    }
}

/// One Lucas–Kanade step at one level: `dst [2][h][w]` = `flow [2][h][w]` + the step solved from
/// the grey frames `g0`, `g1 [h][w]`.
pub fn flow_lk(gpu: &Gpu, dims: Dims, cfg: FlowConfig, flow: &Buffer, g0: &Buffer, g1: &Buffer, dst: &Buffer) -> Dispatch {
    let mut p = params(dims, dims);
    p.radius = cfg.radius;
    p.reg = cfg.reg;
    let n = dims.0 * dims.1;
    let side = (2 * cfg.radius + 1) as f64;
    launch(gpu, LK, &p, n, &[("src", flow), ("i0", g0), ("i1", g1), ("dst", dst)], 30.0 * side * side * n as f64)
}

/// `dst [h][w]` ∈ {0, 1}: where `flow [2][h][w]` (frame a → b) is reliable, checked against
/// `other [2][h][w]` (b → a), see `flow.wgsl`.
pub fn flow_check(gpu: &Gpu, dims: Dims, flow: &Buffer, other: &Buffer, dst: &Buffer) -> Dispatch {
    let n = dims.0 * dims.1;
    launch(gpu, CHECK, &params(dims, dims), n, &[("src", flow), ("other", other), ("dst", dst)], 40.0 * n as f64)
}

/// `dst [3][h][w]`: `image [3][h][w]` (of frame b) sampled at x + `flow`(x) (frame a → b), bilinear.
pub fn flow_warp(gpu: &Gpu, dims: Dims, flow: &Buffer, image: &Buffer, dst: &Buffer) -> Dispatch {
    let n = dims.0 * dims.1;
    launch(gpu, WARP, &params(dims, dims), n, &[("src", flow), ("image", image), ("dst", dst)], 24.0 * n as f64)
}

/// The pyramid's level sizes, finest first: halved while the shorter side stays ≥ `min_side`.
pub fn levels(dims: Dims, min_side: usize) -> Vec<Dims> {
    let mut v = vec![dims];
    loop {
        let next = half(*v.last().unwrap());
        if next.0.min(next.1) < min_side.max(2) {
            return v;
        }
        v.push(next);
    }
}

/// The buffers of a flow estimation at one frame size: two grey pyramids and two flows per level
/// (ping-pong), created once and reused for every pair of frames.
pub struct Flow {
    cfg: FlowConfig,
    levels: Vec<Dims>,
    grey: [Vec<Buffer>; 2],
    flow: Vec<[Buffer; 2]>,
}

impl Flow {
    /// Buffers for frames of `dims` (w, h).
    pub fn new(gpu: &Gpu, dims: Dims, cfg: FlowConfig) -> Flow {
        let levels = levels(dims, cfg.min_side);
        let f32s = |n: usize| 4 * n as u64;
        let grey = [0, 1].map(|k| levels.iter().map(|&(w, h)| gpu.storage(&format!("flow grey {k}"), f32s(w * h))).collect());
        let flow = levels.iter().map(|&(w, h)| [0, 1].map(|k| gpu.storage(&format!("flow {k}"), f32s(2 * w * h)))).collect();
        Flow { cfg, levels, grey, flow }
    }

    /// The dispatches that write `out [2][h][w]`, the flow from frame `a` to frame `b` (network-space
    /// images `[3][h][w]`), in order.
    pub fn estimate(&self, gpu: &Gpu, a: &Buffer, b: &Buffer, out: &Buffer) -> Vec<Dispatch> {
        let mut d = Vec::new();
        let top = self.levels.len() - 1;
        for (k, img) in [a, b].into_iter().enumerate() {
            d.push(flow_gray(gpu, self.levels[0], img, &self.grey[k][0]));
            for l in 0..top {
                d.push(flow_down(gpu, self.levels[l], &self.grey[k][l], &self.grey[k][l + 1]));
            }
        }
        let steps = self.cfg.iterations.max(1) as usize;
        // Where level l's last step writes: level 0 ends in `out`, the others in flow[l][0].
        let mut coarse: Option<&Buffer> = None;
        for l in (0..=top).rev() {
            let dims = self.levels[l];
            let last: &Buffer = if l == 0 { out } else { &self.flow[l][0] };
            let spare = &self.flow[l][1];
            // Ping-pong so that step `steps` writes `last`: start in `last` when steps is even.
            let (mut cur, mut next) = if steps.is_multiple_of(2) { (last, spare) } else { (spare, last) };
            d.push(match coarse {
                Some(c) => flow_up(gpu, dims, c, cur),
                None => super::zero(gpu, "flow zero".into(), 2 * dims.0 * dims.1, cur),
            });
            for _ in 0..steps {
                d.push(flow_lk(gpu, dims, self.cfg, cur, &self.grey[0][l], &self.grey[1][l], next));
                std::mem::swap(&mut cur, &mut next);
            }
            coarse = Some(last);
        }
        d
    }
}
