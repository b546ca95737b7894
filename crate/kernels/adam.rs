//! Adam on the image, with on-GPU bias correction and projection onto the valid pixel range
//! (`shaders/adam.wgsl`).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu};
use crate::kernels::{window, KernelDef, PipelineSpec, Shader, Uniform};
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
        /// adam_step: the element of the image at index 0 of the bound window (0 unwindowed).
        pub base: u32,
        /// adam_step: 1 when `keep` holds the kept regions' mask (the step is taken in
        /// x = k·photo + (1 − k)·y); 0: `keep` is a placeholder never read.
        pub keep: u32,
        pub _pad1: u32,
        pub _pad2: u32,
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
        binding("keep", 7, Bind::Read),
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
    AdamParams {
        n: (3 * hw) as u32,
        hw: hw as u32,
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        decay: cfg.decay,
        average: u32::from(cfg.decay > 0.0),
        base: 0,
        keep: 0,
        _pad1: 0,
        _pad2: 0,
    }
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
    /// `[hw]` the kept regions' mask k (1: the photo's pixel, kept; 0: free; between: the
    /// feathered border): the step is `(1 − k)·` Adam's step for the gradient `(1 − k)·grad`.
    /// `None`: no pixel is kept.
    pub keep: Option<&'a Buffer>,
}

/// One Adam update of the `[3][hw]` image; the result is clamped to each channel's valid range
/// and folded into the iterate average. One dispatch; on an image larger than one binding, one
/// per window ([`crate::kernels::window::ranges`]).
pub fn adam_step(gpu: &Gpu, cfg: AdamConfig, hw: usize, b: AdamBuffers) -> Vec<Dispatch> {
    let n = 3 * hw;
    let rs = window::ranges(gpu, n);
    let windowed = rs.len() > 1;
    rs.into_iter()
        .map(|r| {
            let part = |buf| window::part(gpu, buf, r, windowed);
            // Without kept regions the gradient (read-only here too) stands in for the mask.
            let keep = b.keep.map_or(part(b.grad), |k| k.into());
            let bufs = [("grad", part(b.grad)), ("x", part(b.x)), ("m", part(b.m)), ("v", part(b.v)), ("state", b.state.into()), ("avg", part(b.avg)), ("keep", keep)];
            let p = AdamParams { n: (r.1 - r.0) as u32, base: r.0 as u32, keep: u32::from(b.keep.is_some()), ..params(cfg, hw) };
            STEP.plain().get(gpu).dispatch_slices(gpu, "adam", &p, &bufs, grid_elems(r.1 - r.0), 12.0 * (r.1 - r.0) as f64)
        })
        .collect()
}
