//! 2×2 stride-2 pooling, max or average, forward and backward (`shaders/pool.wgsl`).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu, Precision};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of both pooling passes.
    pub struct PoolParams {
        pub c: u32,
        pub h: u32,
        pub w: u32,
        /// pool_backward: 1 = multiply din by [inp > 0].
        pub relu_mask: u32,
    }
}

pub use crate::settings::Pooling;

/// The input of a pooling layer: channels, height, width (the output is `[c][h/2][w/2]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

const FORWARD: KernelDef =
    KernelDef { shader: Shader::Pool, entry: "pool_forward", bindings: &[binding("p", 0, Bind::Uniform), binding("inp", 1, Bind::Read), binding("outp", 2, Bind::Write)] };
const BACKWARD: KernelDef = KernelDef {
    shader: Shader::Pool,
    entry: "pool_backward",
    bindings: &[binding("p", 0, Bind::Uniform), binding("inp", 1, Bind::Read), binding("din", 2, Bind::Write), binding("dout", 3, Bind::Read)],
};
/// The entry points of `pool.wgsl`.
pub const KERNELS: &[KernelDef] = &[FORWARD, BACKWARD];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<PoolParams>()]
}

fn spec(def: &KernelDef, pooling: Pooling, precision: Precision) -> PipelineSpec {
    let avg = pooling == Pooling::Avg;
    let name = format!("pool_{}_{}{}", if avg { "avg" } else { "max" }, &def.entry[5..], precision.suffix());
    def.spec(precision, None, &[("AVERAGE", avg as u32)], name)
}

/// Every pooling pipeline for `precision`.
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    [FORWARD, BACKWARD].iter().flat_map(|d| [Pooling::Max, Pooling::Avg].map(|p| spec(d, p, precision))).collect()
}

/// 2×2 stride-2 pooling: `out [c][h/2][w/2]` from `input [c][h][w]`, both stored in `precision`.
pub fn pool_forward(gpu: &Gpu, precision: Precision, label: String, pooling: Pooling, s: PoolShape, input: &Buffer, out: &Buffer) -> Dispatch {
    let n = s.c * (s.h / 2) * (s.w / 2);
    let params = PoolParams { c: s.c as u32, h: s.h as u32, w: s.w as u32, relu_mask: 0 };
    spec(&FORWARD, pooling, precision).get(gpu).dispatch(gpu, label, &params, &[("inp", input), ("outp", out)], grid_elems(n), 4.0 * n as f64)
}

/// The buffers of a pooling backward pass.
pub struct PoolBackward<'a> {
    /// `[c][h][w]` the forward input (stored in the pass's precision), to route max-pool gradients.
    pub input: &'a Buffer,
    /// `[c][h/2][w/2]` f32, the gradient w.r.t. the pooled output.
    pub dout: &'a Buffer,
    /// `[c][h][w]` f32, every element written.
    pub din: &'a Buffer,
    /// Multiply by `[input > 0]`: the input is a ReLU output and the gradient leaves through that
    /// ReLU, as [`crate::kernels::conv_backward`] expects.
    pub relu_mask: bool,
}

/// Pooling backward: `din` from `dout`, routed like the forward pass.
pub fn pool_backward(gpu: &Gpu, precision: Precision, label: String, pooling: Pooling, s: PoolShape, b: PoolBackward) -> Dispatch {
    let n = s.c * s.h * s.w;
    let params = PoolParams { c: s.c as u32, h: s.h as u32, w: s.w as u32, relu_mask: b.relu_mask as u32 };
    let bufs = [("inp", b.input), ("din", b.din), ("dout", b.dout)];
    spec(&BACKWARD, pooling, precision).get(gpu).dispatch(gpu, label, &params, &bufs, grid_elems(n), 4.0 * n as f64)
}
