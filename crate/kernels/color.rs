//! Colour control (`shaders/color.wgsl`): the photo's and the painting's colour moments, the map
//! that matches the painting to the photo (mean and covariance, or luminance), its application,
//! the display of a result with the photo's chroma, and the luminance-only gradient.

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu, Slice, WG};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform, MAX_REDUCE_GROUPS};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of the colour kernels (see `shaders/color.wgsl`).
    pub struct ColorParams {
        /// Pixels (color_fit: the photo's).
        pub n: u32,
        /// color_fit: the painting's pixels.
        pub m: u32,
        pub groups_c: u32,
        pub groups_s: u32,
        /// color_fit: 1 match, 2 luminance.
        pub mode: u32,
        /// color_apply: which map of the affine buffer (0 the painting's, 12 the photo's).
        pub offset: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

const MOMENTS: KernelDef =
    KernelDef { shader: Shader::Color, entry: "color_moments", bindings: &[binding("cp", 0, Bind::Uniform), binding("img", 1, Bind::Read), binding("part_out", 2, Bind::Write)] };
const FIT: KernelDef = KernelDef {
    shader: Shader::Color,
    entry: "color_fit",
    bindings: &[binding("cp", 0, Bind::Uniform), binding("part_c", 3, Bind::Read), binding("part_s", 4, Bind::Read), binding("affine", 5, Bind::Write)],
};
const APPLY: KernelDef =
    KernelDef { shader: Shader::Color, entry: "color_apply", bindings: &[binding("cp", 0, Bind::Uniform), binding("affine_in", 6, Bind::Read), binding("img_rw", 7, Bind::Write)] };
const DISPLAY: KernelDef = KernelDef {
    shader: Shader::Color,
    entry: "color_display",
    bindings: &[binding("cp", 0, Bind::Uniform), binding("result", 8, Bind::Read), binding("photo", 9, Bind::Read), binding("rgba_out", 10, Bind::Write)],
};
const GREY: KernelDef = KernelDef { shader: Shader::Color, entry: "grey_gradient", bindings: &[binding("cp", 0, Bind::Uniform), binding("img_rw", 7, Bind::Write)] };
/// The entry points of `color.wgsl`.
pub const KERNELS: &[KernelDef] = &[MOMENTS, FIT, APPLY, DISPLAY, GREY];

/// Floats per row of colour moments.
pub const MOMENT_ROW: usize = 12;
/// Floats of the affine buffer (two maps of 12).
pub const AFFINE_LEN: usize = 24;
/// Offset of the photo's map in the affine buffer.
pub const PHOTO_MAP: usize = 12;

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<ColorParams>()]
}

/// Every colour pipeline (f32 only: images are f32 in every precision).
pub(crate) fn pipelines(precision: crate::gpu::Precision) -> Vec<PipelineSpec> {
    if precision == crate::gpu::Precision::F32 {
        KERNELS.iter().map(|k| k.plain()).collect()
    } else {
        Vec::new()
    }
}

/// How the painting's colours are matched to the photo's ([`color_fit`]'s mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Mean and covariance of RGB.
    Match = 1,
    /// Luminance only (mean and variance of Y), both images grey.
    Luminance = 2,
}

fn params(n: usize) -> ColorParams {
    ColorParams { n: n as u32, m: 0, groups_c: 0, groups_s: 0, mode: 0, offset: 0, _pad0: 0, _pad1: 0 }
}

/// Rows of moments [`color_moments`] writes for `n` pixels (≤ [`MAX_REDUCE_GROUPS`]).
pub fn moment_groups(n: usize) -> usize {
    (n as u32).div_ceil(WG).clamp(1, MAX_REDUCE_GROUPS) as usize
}

/// Colour moments of `img [3][n]` (network space) → `part [moment_groups(n)][12]`.
pub fn color_moments(gpu: &Gpu, n: usize, img: &Buffer, part: &Buffer) -> Dispatch {
    color_moments_rows(gpu, n, img, Slice::from(part), MAX_REDUCE_GROUPS as usize)
}

/// [`color_moments`] into a window `part` of a moments buffer, in at most `rows` rows.
pub(crate) fn color_moments_rows(gpu: &Gpu, n: usize, img: &Buffer, part: Slice, rows: usize) -> Dispatch {
    let groups = moment_groups(n).min(rows);
    assert!(part.size as usize >= groups * MOMENT_ROW * 4, "colour moments overflow their buffer");
    MOMENTS.plain().get(gpu).dispatch_slices(gpu, "colour moments", &params(n), &[("img", img.into()), ("part_out", part)], [groups as u32, 1, 1], 12.0 * n as f64)
}

/// The painting's and the photo's pixel-space maps (`affine [24]`) from their moments (`n` and
/// `m` pixels: the photo's and the painting's).
/// `part_c`, `part_s`: each buffer with the rows of moments written ([`moment_groups`], or what
/// [`crate::kernels::window::color_moments`] returns).
pub fn color_fit(gpu: &Gpu, fit: Fit, (n, part_c, rows_c): (usize, &Buffer, usize), (m, part_s, rows_s): (usize, &Buffer, usize), affine: &Buffer) -> Dispatch {
    let p = ColorParams { m: m as u32, groups_c: rows_c as u32, groups_s: rows_s as u32, mode: fit as u32, ..params(n) };
    let bufs = [("part_c", part_c), ("part_s", part_s), ("affine", affine)];
    FIT.plain().get(gpu).dispatch(gpu, "colour fit", &p, &bufs, [1, 1, 1], 200.0)
}

/// Maps `img [3][n]` (network space) in place by the map at `offset` (0 or [`PHOTO_MAP`]) of
/// `affine`, clamped to 0..255 in pixel space.
pub fn color_apply(gpu: &Gpu, n: usize, affine: &Buffer, offset: usize, img: &Buffer) -> Dispatch {
    let p = ColorParams { offset: offset as u32, ..params(n) };
    APPLY.plain().get(gpu).dispatch(gpu, "colour apply", &p, &[("affine_in", affine), ("img_rw", img)], grid_elems(n), 15.0 * n as f64)
}

/// RGBA8 `rgba [n]` of `result [3][n]`'s luminance with `photo [3][n]`'s chroma (YIQ).
pub fn color_display<'a>(gpu: &Gpu, n: usize, result: &Buffer, photo: &Buffer, rgba: impl Into<Slice<'a>>) -> Dispatch {
    let bufs = [("result", result.into()), ("photo", photo.into()), ("rgba_out", rgba.into())];
    DISPLAY.plain().get(gpu).dispatch_slices(gpu, "colour display", &params(n), &bufs, grid_elems(n), 15.0 * n as f64)
}

/// Sets every channel of the gradient `grad [3][n]` to the sum of the three, in place.
pub fn grey_gradient(gpu: &Gpu, n: usize, grad: &Buffer) -> Dispatch {
    GREY.plain().get(gpu).dispatch(gpu, "grey gradient", &params(n), &[("img_rw", grad)], grid_elems(n), 3.0 * n as f64)
}
