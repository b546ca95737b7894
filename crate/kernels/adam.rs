//! Adam on the image, with on-GPU bias correction and projection onto the valid pixel range
//! (`shaders/adam.wgsl`).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of both Adam passes.
    pub struct AdamParams {
        /// 3·h·w.
        pub n: u32,
        pub hw: u32,
        pub lr: f32,
        pub beta1: f32,
        pub beta2: f32,
        pub eps: f32,
        /// Iterate-average decay.
        pub decay: f32,
        /// 1: keep the iterate average in `avg`; 0: averaging is off and `avg` (a placeholder)
        /// is never touched.
        pub average: u32,
    }
}

const TICK: KernelDef = KernelDef { shader: Shader::Adam, entry: "adam_tick", bindings: &[binding("p", 0, Bind::Uniform), binding("state", 5, Bind::Write)] };
const STEP: KernelDef = KernelDef {
    shader: Shader::Adam,
    entry: "adam_step",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("grad", 1, Bind::Read),
        binding("x", 2, Bind::Write),
        binding("m", 3, Bind::Write),
        binding("v", 4, Bind::Write),
        binding("state", 5, Bind::Write),
        binding("avg", 6, Bind::Write),
    ],
};
/// The entry points of `adam.wgsl`.
pub const KERNELS: &[KernelDef] = &[TICK, STEP];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<AdamParams>()]
}

/// Both Adam pipelines (f32 only).
pub(crate) fn pipelines() -> Vec<PipelineSpec> {
    vec![TICK.plain(), STEP.plain()]
}

/// Adam hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate, in pixel units (0..255 scale).
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Iterate-average decay (0: no average is kept; `avg` may be a placeholder).
    pub decay: f32,
}

fn params(cfg: AdamConfig, hw: usize) -> AdamParams {
    AdamParams { n: (3 * hw) as u32, hw: hw as u32, lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, decay: cfg.decay, average: u32::from(cfg.decay > 0.0) }
}

/// Initial contents of the `[8]` state buffer of [`adam_tick`]/[`adam_step`].
pub const ADAM_STATE_INIT: [f32; 8] = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// Advances the step counter in `state [8]`, its bias corrections and the average's coefficients
/// (one invocation).
pub fn adam_tick(gpu: &Gpu, cfg: AdamConfig, hw: usize, state: &Buffer) -> Dispatch {
    TICK.plain().get(gpu).dispatch(gpu, "adam tick", &params(cfg, hw), &[("state", state)], [1, 1, 1], 4.0)
}

/// The buffers of [`adam_step`] (all f32).
pub struct AdamBuffers<'a> {
    /// `[3][hw]` gradient of the loss w.r.t. the image.
    pub grad: &'a Buffer,
    /// `[3][hw]` the image, updated and clamped.
    pub x: &'a Buffer,
    /// `[3][hw]` first and second moments.
    pub m: &'a Buffer,
    pub v: &'a Buffer,
    /// `[8]` (t, 1/(1−β1^t), 1/(1−β2^t), r, k, d^t, …) from [`adam_tick`], created as
    /// [`ADAM_STATE_INIT`].
    pub state: &'a Buffer,
    /// `[3][hw]` the bias-corrected average of the iterates (updated).
    pub avg: &'a Buffer,
}

/// One Adam update of the `[3][hw]` image; the result is clamped to each channel's valid range
/// and folded into the iterate average.
pub fn adam_step(gpu: &Gpu, cfg: AdamConfig, hw: usize, b: AdamBuffers) -> Dispatch {
    let bufs = [("grad", b.grad), ("x", b.x), ("m", b.m), ("v", b.v), ("state", b.state), ("avg", b.avg)];
    STEP.plain().get(gpu).dispatch(gpu, "adam", &params(cfg, hw), &bufs, grid_elems(3 * hw), 12.0 * 3.0 * hw as f64)
}
