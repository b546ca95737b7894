//! Conversions between display pixels, the network's input space and stored activations
//! (`shaders/image.wgsl`).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu, Precision, Slice};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of the image kernels.
    pub struct ImageParams {
        /// Pixels (image_to_act: elements).
        pub hw: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

const PRE: KernelDef =
    KernelDef { shader: Shader::Image, entry: "preprocess", bindings: &[binding("p", 0, Bind::Uniform), binding("rgba", 1, Bind::Read), binding("img", 2, Bind::Write)] };
const POST: KernelDef =
    KernelDef { shader: Shader::Image, entry: "postprocess", bindings: &[binding("p", 0, Bind::Uniform), binding("img_in", 3, Bind::Read), binding("rgba_out", 4, Bind::Write)] };
const TO_ACT: KernelDef =
    KernelDef { shader: Shader::Image, entry: "image_to_act", bindings: &[binding("p", 0, Bind::Uniform), binding("img_in", 3, Bind::Read), binding("act_out", 5, Bind::Write)] };
/// The entry points of `image.wgsl`.
pub const KERNELS: &[KernelDef] = &[PRE, POST, TO_ACT];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<ImageParams>()]
}

fn to_act_spec(precision: Precision) -> PipelineSpec {
    TO_ACT.spec(precision, None, &[], format!("to_act{}", precision.suffix()))
}

/// Every image pipeline for `precision` (the f32-only ones with f32).
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let mut v = vec![to_act_spec(precision)];
    if precision == Precision::F32 {
        v.extend([PRE.plain(), POST.plain()]);
    }
    v
}

fn params(n: usize) -> ImageParams {
    ImageParams { hw: n as u32, _pad0: 0, _pad1: 0, _pad2: 0 }
}

/// RGBA8 pixels `rgba [hw]` (u32, R in the low byte) → network input `img [3][hw]` (BGR, minus mean).
pub fn preprocess<'a>(gpu: &Gpu, hw: usize, rgba: impl Into<Slice<'a>>, img: &Buffer) -> Dispatch {
    PRE.plain().get(gpu).dispatch_slices(gpu, "preprocess", &params(hw), &[("rgba", rgba.into()), ("img", img.into())], grid_elems(hw), 6.0 * hw as f64)
}

/// Network-space `img [3][hw]` → RGBA8 `rgba [hw]`, rounded and clamped, alpha 255.
pub fn postprocess<'a>(gpu: &Gpu, hw: usize, img: &Buffer, rgba: impl Into<Slice<'a>>) -> Dispatch {
    POST.plain().get(gpu).dispatch_slices(gpu, "postprocess", &params(hw), &[("img_in", img.into()), ("rgba_out", rgba.into())], grid_elems(hw), 6.0 * hw as f64)
}

/// `dst [n] = src [n]` converted to activations stored in `precision` (the network's copy of its
/// f32 input image when activations are f16).
pub fn to_act(gpu: &Gpu, precision: Precision, n: usize, src: &Buffer, dst: &Buffer) -> Dispatch {
    let k = to_act_spec(precision).get(gpu);
    k.dispatch(gpu, "to_act", &params(n), &[("img_in", src), ("act_out", dst)], grid_elems(n), n as f64)
}
