//! A session's colour control ([`super::Colors`]): the one-time work after the photo and the
//! painting are uploaded, before any network sees them — keep the photo (to show the result with
//! its chroma), fit the painting's colours to the photo's and apply the fit (and, for luminance
//! transfer, make the photo grey) — and the buffers that stay.

use super::Colors;
use crate::gpu::Dispatch;
use crate::kernels::{self, color, BoxMove};
use crate::plan::Arena;
use crate::tiles::Rect;
use wgpu::Buffer;

/// The colour buffers a session keeps.
#[derive(Default)]
pub struct ColourBuffers {
    /// `[3][h][w]` the photo (network space), with [`Colors::keeps_photo`].
    pub photo: Option<Buffer>,
    /// `[24]` the painting's and the photo's maps, with [`Colors::fits`].
    pub affine: Option<Buffer>,
}

/// The dispatches that prepare the photo `x` (`hw` pixels, network space) and the painting
/// `style` (`shw` pixels) for `colors`, and the buffers kept; taken from `arena` as planned.
pub(super) fn prepare(gpu: &crate::Gpu, colors: Colors, (x, hw): (&Buffer, usize), (style, shw): (&Buffer, usize), arena: &mut Arena) -> (Vec<Dispatch>, ColourBuffers) {
    let mut ops = Vec::new();
    let mut kept = ColourBuffers::default();
    if colors.keeps_photo() {
        let photo = arena.take("photo");
        let all = BoxMove { c: 3, src: (hw, 1), from: Rect { x: 0, y: 0, w: hw, h: 1 }, dst: (hw, 1), to: (0, 0) };
        ops.push(kernels::copy_box(gpu, "keep the photo".into(), all, x, &photo, false));
        kept.photo = Some(photo);
    }
    if colors.fits() {
        let (mc, ms, affine) = (arena.take("colour moments photo"), arena.take("colour moments painting"), arena.take("colour affine"));
        let fit = if colors == Colors::Luminance { color::Fit::Luminance } else { color::Fit::Match };
        ops.push(color::color_moments(gpu, hw, x, &mc));
        ops.push(color::color_moments(gpu, shw, style, &ms));
        ops.push(color::color_fit(gpu, fit, (hw, &mc), (shw, &ms), &affine));
        ops.push(color::color_apply(gpu, shw, &affine, 0, style));
        if colors == Colors::Luminance {
            ops.push(color::color_apply(gpu, hw, &affine, color::PHOTO_MAP, x));
        }
        kept.affine = Some(affine);
    }
    (ops, kept)
}
