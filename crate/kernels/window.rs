//! Whole-image buffers larger than one storage binding (a device may create buffers of 2–4 GiB
//! but bind only 128 MiB of one at a time: WebGPU's default, many mobile GPUs, software adapters).
//! The image, its gradient, the optimiser's state, the photo and the painting ([3][h][w] f32, 12
//! bytes a pixel) pass 128 MiB at 11.2 M pixels; the kernels that touch them run in windows:
//!
//! - element-wise and reducing kernels over the flat `[3·h·w]` (zero, Adam, L-BFGS) bind the same
//!   element range of every buffer ([`ranges`]), one dispatch per window; their uniforms carry the
//!   window's first element (for the channel of an element) and, for reductions, where its partial
//!   sums go;
//! - box moves (tile inputs, gradient scatters, [`copy_boxes`]) run channel by channel, binding
//!   just the rows of the box;
//! - TV runs per channel over bands of rows bound with a row of halo on each side;
//! - the per-pixel kernels that mix the three channels (pre/post-processing, colour) are staged: a
//!   window of pixels is gathered into a small `[3][px]` scratch ([`Staging`]), the unchanged kernel
//!   runs on it, and what it wrote is scattered back.
//!
//! Below the binding limit every launcher here makes exactly the one dispatch it made before.

pub use crate::gpu::arena::Staging;
use crate::gpu::{Dispatch, Gpu, Slice};
use crate::kernels::tile::Rect;
use crate::kernels::{copy_box, tile::box_params_windowed, BoxMove};
use wgpu::Buffer;

/// The largest `minStorageBufferOffsetAlignment` WebGPU allows (bytes): plans, made before any
/// device is known, align staging windows to it, which suits every device.
pub const MAX_OFFSET_ALIGNMENT: u64 = 256;

/// Bytes of one staging scratch buffer at most (two are planned when staging is needed).
pub const STAGE_BYTES: u64 = 4 << 20;

/// Whether `buffer` can be bound whole on `gpu`.
pub fn binds_whole(gpu: &Gpu, buffer: &Buffer) -> bool {
    buffer.size() <= gpu.max_storage_bytes()
}

fn align_elems(gpu: &Gpu) -> usize {
    (gpu.binding_alignment() / 4).max(1) as usize
}

/// 4-byte elements of one flat window on `gpu`: the binding limit, down to the offset alignment.
pub fn flat_len(gpu: &Gpu) -> usize {
    let a = align_elems(gpu);
    ((gpu.max_storage_bytes() / 4) as usize / a * a).max(a)
}

/// Element ranges `[start, end)` covering `n` 4-byte elements, each bindable and starting on the
/// offset alignment: `[(0, n)]` when `n` elements fit one binding.
pub fn ranges(gpu: &Gpu, n: usize) -> Vec<(usize, usize)> {
    let l = flat_len(gpu);
    if n <= l {
        return vec![(0, n)];
    }
    (0..n).step_by(l).map(|s| (s, (s + l).min(n))).collect()
}

/// Binds elements `[start, end)` of `buffer` (4-byte elements): the slice from `start` aligned
/// down, and how many elements precede `start` in it.
pub fn slice<'a>(gpu: &Gpu, buffer: &'a Buffer, start: usize, end: usize) -> (Slice<'a>, usize) {
    let a = align_elems(gpu);
    let s0 = start / a * a;
    (Slice { buffer, offset: 4 * s0 as u64, size: 4 * (end - s0) as u64 }, start - s0)
}

/// The window `[start, end)` of `buffer` when the flat windows split the image, else all of it
/// (also for a placeholder too small to hold the window, e.g. the average with averaging off).
pub fn part<'a>(gpu: &Gpu, buffer: &'a Buffer, (start, end): (usize, usize), windowed: bool) -> Slice<'a> {
    if windowed && buffer.size() >= 4 * end as u64 {
        slice(gpu, buffer, start, end).0
    } else {
        Slice::from(buffer)
    }
}

/// [`copy_box`] for buffers of any size: one dispatch when both bind whole, else one per channel
/// and band of rows, each binding only the rows it moves.
pub fn copy_boxes(gpu: &Gpu, label: &str, m: BoxMove, src: &Buffer, dst: &Buffer, add: bool) -> Vec<Dispatch> {
    if binds_whole(gpu, src) && binds_whole(gpu, dst) {
        return vec![copy_box(gpu, label.into(), m, src, dst, add)];
    }
    let (f, l) = (m.from, flat_len(gpu));
    let a = align_elems(gpu);
    // Rows per band: the band's span in either buffer (plus the alignment skew) fits a binding.
    let rows = ((l.saturating_sub(f.w + a)) / m.src.0.max(m.dst.0).max(1)).clamp(1, f.h.max(1));
    let mut ops = Vec::new();
    for ch in 0..m.c {
        for r0 in (0..f.h).step_by(rows) {
            let bh = rows.min(f.h - r0);
            let s0 = (ch * m.src.1 + f.y + r0) * m.src.0 + f.x;
            let d0 = (ch * m.dst.1 + m.to.1 + r0) * m.dst.0 + m.to.0;
            let (ss, sk) = slice(gpu, src, s0, s0 + (bh - 1) * m.src.0 + f.w);
            let (ds, dk) = slice(gpu, dst, d0, d0 + (bh - 1) * m.dst.0 + f.w);
            let p = box_params_windowed(m, (f.w, bh), sk, dk, add);
            ops.push(crate::kernels::tile::copy_box_slices(gpu, format!("{label} (window)"), p, f.w * bh, ss, ds));
        }
    }
    ops
}

/// `dst[0..n] = 0` for a buffer of any size (one dispatch per flat window).
pub fn zero_all(gpu: &Gpu, label: &str, n: usize, dst: &Buffer) -> Vec<Dispatch> {
    let rs = ranges(gpu, n);
    if rs.len() == 1 {
        return vec![crate::kernels::zero(gpu, label.into(), n, dst)];
    }
    rs.into_iter().map(|(s, e)| crate::kernels::tile::zero_slice(gpu, format!("{label} (window)"), e - s, slice(gpu, dst, s, e).0)).collect()
}

/// Pixels per staging window for a device binding `max_binding` bytes with offsets aligned to
/// `align` bytes: `[3][px]` f32 within [`STAGE_BYTES`] and one binding.
pub fn stage_pixels(max_binding: u64, align: u64) -> usize {
    let a = (align / 4).max(1);
    let px = (max_binding.min(STAGE_BYTES) / 12) / a * a;
    px.max(a) as usize
}

/// Whether the `[3][hw]` f32 images of `hw` pixels need staging on a device binding `max_binding`.
pub fn needs_staging(max_binding: u64, hw: usize) -> bool {
    12 * hw as u64 > max_binding
}

/// The gather of pixels `[p0, p0 + len)` of the three planes of `img [3][hw]` into `scratch
/// [3][len]`.
fn gather(gpu: &Gpu, img: &Buffer, hw: usize, (p0, len): (usize, usize), scratch: &Buffer) -> Vec<Dispatch> {
    let m = BoxMove { c: 3, src: (hw, 1), from: Rect { x: p0, y: 0, w: len, h: 1 }, dst: (len, 1), to: (0, 0) };
    copy_boxes(gpu, "stage in", m, img, scratch, false)
}

/// The scatter of `scratch [3][len]` back to pixels `[p0, p0 + len)` of `img [3][hw]`.
fn scatter(gpu: &Gpu, scratch: &Buffer, hw: usize, (p0, len): (usize, usize), img: &Buffer) -> Vec<Dispatch> {
    let m = BoxMove { c: 3, src: (len, 1), from: Rect { x: 0, y: 0, w: len, h: 1 }, dst: (hw, 1), to: (p0, 0) };
    copy_boxes(gpu, "stage out", m, scratch, img, false)
}

/// The staging a session needs for images of `hw` pixels: `Some` exactly when planned.
fn staged<'a>(gpu: &Gpu, hw: usize, st: Option<&'a Staging>) -> Option<&'a Staging> {
    let st = st.filter(|_| needs_staging(gpu.max_storage_bytes(), hw));
    assert!(st.is_some() || !needs_staging(gpu.max_storage_bytes(), hw), "images of {hw} px need staging buffers (a plan without them)");
    st
}

/// [`crate::kernels::image::preprocess`] for images of any size (`st`: the session's staging buffers).
pub fn preprocess(gpu: &Gpu, hw: usize, rgba: &Buffer, img: &Buffer, st: Option<&Staging>) -> Vec<Dispatch> {
    let Some(st) = staged(gpu, hw, st) else { return vec![crate::kernels::image::preprocess(gpu, hw, rgba, img)] };
    let mut ops = Vec::new();
    for w in st.windows(hw) {
        ops.push(crate::kernels::image::preprocess(gpu, w.1, slice(gpu, rgba, w.0, w.0 + w.1).0, &st.a));
        ops.extend(scatter(gpu, &st.a, hw, w, img));
    }
    ops
}

/// [`crate::kernels::image::postprocess`] for images of any size.
pub fn postprocess(gpu: &Gpu, hw: usize, img: &Buffer, rgba: &Buffer, st: Option<&Staging>) -> Vec<Dispatch> {
    let Some(st) = staged(gpu, hw, st) else { return vec![crate::kernels::image::postprocess(gpu, hw, img, rgba)] };
    let mut ops = Vec::new();
    for w in st.windows(hw) {
        ops.extend(gather(gpu, img, hw, w, &st.a));
        ops.push(crate::kernels::image::postprocess(gpu, w.1, &st.a, slice(gpu, rgba, w.0, w.0 + w.1).0));
    }
    ops
}

/// [`crate::kernels::color::color_display`] for images of any size.
pub fn color_display(gpu: &Gpu, hw: usize, result: &Buffer, photo: &Buffer, rgba: &Buffer, st: Option<&Staging>) -> Vec<Dispatch> {
    let Some(st) = staged(gpu, hw, st) else { return vec![crate::kernels::color::color_display(gpu, hw, result, photo, rgba)] };
    let mut ops = Vec::new();
    for w in st.windows(hw) {
        ops.extend(gather(gpu, result, hw, w, &st.a));
        ops.extend(gather(gpu, photo, hw, w, &st.b));
        ops.push(crate::kernels::color::color_display(gpu, w.1, &st.a, &st.b, slice(gpu, rgba, w.0, w.0 + w.1).0));
    }
    ops
}

/// An in-place per-pixel kernel (`run(n, img)` on `img [3][n]`) for images of any size: staged,
/// each window gathered, run on the scratch and scattered back.
fn in_place(gpu: &Gpu, hw: usize, img: &Buffer, st: Option<&Staging>, run: impl Fn(usize, &Buffer) -> Dispatch) -> Vec<Dispatch> {
    let Some(st) = staged(gpu, hw, st) else { return vec![run(hw, img)] };
    let mut ops = Vec::new();
    for w in st.windows(hw) {
        ops.extend(gather(gpu, img, hw, w, &st.a));
        ops.push(run(w.1, &st.a));
        ops.extend(scatter(gpu, &st.a, hw, w, img));
    }
    ops
}

/// [`crate::kernels::color::color_apply`] for images of any size.
pub fn color_apply(gpu: &Gpu, hw: usize, affine: &Buffer, offset: usize, img: &Buffer, st: Option<&Staging>) -> Vec<Dispatch> {
    in_place(gpu, hw, img, st, |n, b| crate::kernels::color::color_apply(gpu, n, affine, offset, b))
}

/// [`crate::kernels::color::grey_gradient`] for images of any size.
pub fn grey_gradient(gpu: &Gpu, hw: usize, grad: &Buffer, st: Option<&Staging>) -> Vec<Dispatch> {
    in_place(gpu, hw, grad, st, |n, b| crate::kernels::color::grey_gradient(gpu, n, b))
}

/// Rows of colour moments [`color_moments`] writes for `hw` pixels on a device binding
/// `max_binding` bytes (offsets aligned to `align`): [`crate::kernels::color::moment_groups`]
/// unstaged; staged, a block of [`MOMENT_BLOCK`] rows per window.
pub fn moment_rows(max_binding: u64, align: u64, hw: usize) -> usize {
    if needs_staging(max_binding, hw) {
        hw.div_ceil(stage_pixels(max_binding, align)) * MOMENT_BLOCK
    } else {
        crate::kernels::color::moment_groups(hw)
    }
}

/// Rows of moments per staged window (16 rows of 12 floats: 768 bytes, a multiple of the
/// 256-byte offset alignment).
pub const MOMENT_BLOCK: usize = 16;

/// [`crate::kernels::color::color_moments`] for images of any size. Returns the dispatches and
/// the rows of `part` they fill (staged: a block of [`MOMENT_BLOCK`] rows per window, unused rows
/// zeroed: [`moment_rows`]).
pub fn color_moments(gpu: &Gpu, hw: usize, img: &Buffer, part: &Buffer, st: Option<&Staging>) -> (Vec<Dispatch>, usize) {
    let Some(st) = staged(gpu, hw, st) else { return (vec![crate::kernels::color::color_moments(gpu, hw, img, part)], crate::kernels::color::moment_groups(hw)) };
    let row = crate::kernels::color::MOMENT_ROW;
    let windows = st.windows(hw);
    let rows = windows.len() * MOMENT_BLOCK;
    assert!(part.size() as usize >= 4 * row * rows, "colour moments overflow their buffer");
    let mut ops = zero_all(gpu, "colour moments", row * rows, part);
    for (k, w) in windows.into_iter().enumerate() {
        ops.extend(gather(gpu, img, hw, w, &st.a));
        let block = Slice { buffer: part, offset: (4 * k * MOMENT_BLOCK * row) as u64, size: (4 * MOMENT_BLOCK * row) as u64 };
        ops.push(crate::kernels::color::color_moments_rows(gpu, w.1, &st.a, block, MOMENT_BLOCK));
    }
    (ops, rows)
}
