//! Moving boxes between whole-image and per-tile buffers, and summing Gram matrices over tiles
//! (`shaders/tile.wgsl`): the kernels of tiled execution ([`crate::session`]'s tiled iteration).

use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu, Precision, Slice};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

/// A box of a `[C][H][W]` buffer: origin (x, y) and size w × h.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Rect {
    /// w · h.
    pub fn area(&self) -> usize {
        self.w * self.h
    }
}

crate::wgsl_struct! {
    /// Uniform parameters of the tile kernels (see `shaders/tile.wgsl`).
    pub struct TileParams {
        pub c: u32,
        pub bw: u32,
        pub bh: u32,
        pub mode: u32,
        pub sw: u32,
        pub sh: u32,
        pub sx: u32,
        pub sy: u32,
        pub dw: u32,
        pub dh: u32,
        pub dx: u32,
        pub dy: u32,
    }
}

const COPY: KernelDef =
    KernelDef { shader: Shader::Tile, entry: "copy_box", bindings: &[binding("tp", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write)] };
const COPY_ACT: KernelDef =
    KernelDef { shader: Shader::Tile, entry: "copy_box_act", bindings: &[binding("tp", 0, Bind::Uniform), binding("src_act", 3, Bind::Read), binding("dst_act", 4, Bind::Write)] };
const ZERO: KernelDef = KernelDef { shader: Shader::Tile, entry: "zero", bindings: &[binding("tp", 0, Bind::Uniform), binding("dst", 2, Bind::Write)] };
const GRAM_SUM: KernelDef =
    KernelDef { shader: Shader::Tile, entry: "gram_sum", bindings: &[binding("tp", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write)] };
const MASK_ACT: KernelDef = KernelDef {
    shader: Shader::Tile,
    entry: "mask_act",
    bindings: &[binding("tp", 0, Bind::Uniform), binding("src_act", 3, Bind::Read), binding("dst_act", 4, Bind::Write), binding("mask", 5, Bind::Read)],
};
const MASK_ADD: KernelDef = KernelDef {
    shader: Shader::Tile,
    entry: "mask_add",
    bindings: &[binding("tp", 0, Bind::Uniform), binding("src", 1, Bind::Read), binding("dst", 2, Bind::Write), binding("mask", 5, Bind::Read)],
};
/// The entry points of `tile.wgsl`.
pub const KERNELS: &[KernelDef] = &[COPY, COPY_ACT, ZERO, GRAM_SUM, MASK_ACT, MASK_ADD];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<TileParams>()]
}

fn act_spec(precision: Precision) -> PipelineSpec {
    COPY_ACT.spec(precision, None, &[], format!("copy_box_act{}", precision.suffix()))
}

fn mask_act_spec(precision: Precision) -> PipelineSpec {
    MASK_ACT.spec(precision, None, &[], format!("mask_act{}", precision.suffix()))
}

/// Every tile pipeline for `precision` (the f32-only ones with f32).
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let mut v = vec![act_spec(precision), mask_act_spec(precision)];
    if precision == Precision::F32 {
        v.extend([COPY.plain(), ZERO.plain(), GRAM_SUM.plain(), MASK_ADD.plain()]);
    }
    v
}

/// A box of `c` channels moved from one planar buffer to another: `from` in a source of
/// `src` (w, h) pixels per channel, to `(to.0, to.1)` in a destination of `dst` (w, h); the box's
/// size is `from.w × from.h`.
#[derive(Clone, Copy, Debug)]
pub struct BoxMove {
    pub c: usize,
    pub src: (usize, usize),
    pub from: Rect,
    pub dst: (usize, usize),
    pub to: (usize, usize),
}

impl BoxMove {
    fn params(&self, mode: u32) -> TileParams {
        let (f, u) = (self.from, |v: usize| v as u32);
        debug_assert!(f.x + f.w <= self.src.0 && f.y + f.h <= self.src.1, "box {f:?} outside the source {:?}", self.src);
        debug_assert!(self.to.0 + f.w <= self.dst.0 && self.to.1 + f.h <= self.dst.1, "box {f:?} at {:?} outside the destination {:?}", self.to, self.dst);
        TileParams {
            c: u(self.c),
            bw: u(f.w),
            bh: u(f.h),
            mode,
            sw: u(self.src.0),
            sh: u(self.src.1),
            sx: u(f.x),
            sy: u(f.y),
            dw: u(self.dst.0),
            dh: u(self.dst.1),
            dx: u(self.to.0),
            dy: u(self.to.1),
        }
    }

    fn len(&self) -> usize {
        self.c * self.from.area()
    }
}

/// f32 box: `dst[box at to] = src[box at from]`, or `+=` when `add`.
pub fn copy_box(gpu: &Gpu, label: String, m: BoxMove, src: &Buffer, dst: &Buffer, add: bool) -> Dispatch {
    debug_assert!(fits_one_binding(gpu, &[src, dst]), "{label}: copy_box binds whole buffers; larger ones move with copy_boxes");
    copy_box_slices(gpu, label, m.params(add as u32), m.len(), src.into(), dst.into())
}

/// The parameters of one channel's band of `(bw, bh)` of box move `m` between windows of its
/// buffers: the box starts `src_skew` elements into the source window and `dst_skew` into the
/// destination's ([`crate::kernels::window::copy_boxes`]).
pub(crate) fn box_params_windowed(m: BoxMove, (bw, bh): (usize, usize), src_skew: usize, dst_skew: usize, add: bool) -> TileParams {
    let u = |v: usize| v as u32;
    TileParams { c: 1, bw: u(bw), bh: u(bh), mode: add as u32, sw: u(m.src.0), sh: 1, sx: u(src_skew), sy: 0, dw: u(m.dst.0), dh: 1, dx: u(dst_skew), dy: 0 }
}

/// [`copy_box`] of `n` elements with parameters `p` between windows of buffers.
pub(crate) fn copy_box_slices(gpu: &Gpu, label: String, p: TileParams, n: usize, src: Slice, dst: Slice) -> Dispatch {
    COPY.plain().get(gpu).dispatch_slices(gpu, label, &p, &[("src", src), ("dst", dst)], grid_elems(n), n as f64)
}

/// [`zero`] of a window of a buffer.
pub(crate) fn zero_slice(gpu: &Gpu, label: String, n: usize, dst: Slice) -> Dispatch {
    let p = TileParams { c: 1, bw: n as u32, bh: 1, mode: 0, sw: 0, sh: 0, sx: 0, sy: 0, dw: 0, dh: 0, dx: 0, dy: 0 };
    ZERO.plain().get(gpu).dispatch_slices(gpu, label, &p, &[("dst", dst)], grid_elems(n), 0.0)
}

/// Activation box (stored in `precision`): `dst[box at to] = src[box at from]`.
pub fn copy_box_act(gpu: &Gpu, precision: Precision, label: String, m: BoxMove, src: &Buffer, dst: &Buffer) -> Dispatch {
    let n = m.len();
    act_spec(precision).get(gpu).dispatch(gpu, label, &m.params(0), &[("src_act", src), ("dst_act", dst)], grid_elems(n), n as f64)
}

/// `dst[0..n] = 0` (f32).
pub fn zero(gpu: &Gpu, label: String, n: usize, dst: &Buffer) -> Dispatch {
    debug_assert!(fits_one_binding(gpu, &[dst]), "{label}: zero binds the whole buffer; a larger one is zeroed by zero_all");
    zero_slice(gpu, label, n, dst.into())
}

/// `sum [c][c] = (accumulate ? sum : 0) + Σ_s partial[s]` over `splits` partial Grams `[s][c][c]`.
pub fn gram_sum(gpu: &Gpu, label: String, c: usize, splits: usize, partial: &Buffer, sum: &Buffer, accumulate: bool) -> Dispatch {
    let n = c * c;
    let p = TileParams { c: 1, bw: n as u32, bh: splits as u32, mode: accumulate as u32, sw: 0, sh: 0, sx: 0, sy: 0, dw: 0, dh: 0, dx: 0, dy: 0 };
    GRAM_SUM.plain().get(gpu).dispatch(gpu, label, &p, &[("src", partial), ("dst", sum)], grid_elems(n), (n * splits) as f64)
}

fn mask_params(c: usize, n: usize, accumulate: bool) -> TileParams {
    TileParams { c: c as u32, bw: n as u32, bh: 1, mode: accumulate as u32, sw: 0, sh: 0, sx: 0, sy: 0, dw: 0, dh: 0, dx: 0, dy: 0 }
}

/// `dst [c][n] = src [c][n] · mask [n]` (activations stored in `precision`): a layer's features
/// weighted by a region's mask (guided Gram matrices).
pub fn mask_act(gpu: &Gpu, precision: Precision, label: String, (c, n): (usize, usize), src: &Buffer, mask: &Buffer, dst: &Buffer) -> Dispatch {
    let k = mask_act_spec(precision).get(gpu);
    k.dispatch(gpu, label, &mask_params(c, n, false), &[("src_act", src), ("dst_act", dst), ("mask", mask)], grid_elems(c * n), (c * n) as f64)
}

/// `dst [c][n] (+)= src [c][n] · mask [n]` (f32): a region's masked gradient into the layer's.
pub fn mask_add(gpu: &Gpu, label: String, (c, n): (usize, usize), src: &Buffer, mask: &Buffer, dst: &Buffer, accumulate: bool) -> Dispatch {
    let bufs = [("src", src), ("dst", dst), ("mask", mask)];
    MASK_ADD.plain().get(gpu).dispatch(gpu, label, &mask_params(c, n, accumulate), &bufs, grid_elems(c * n), 2.0 * (c * n) as f64)
}

/// Whether every buffer binds whole (what the single-binding box launchers need).
fn fits_one_binding(gpu: &Gpu, buffers: &[&Buffer]) -> bool {
    buffers.iter().all(|b| crate::kernels::window::binds_whole(gpu, b))
}
