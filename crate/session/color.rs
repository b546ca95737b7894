//! A session's colour control ([`super::Colors`]): the one-time work after the photo and the
//! paintings are uploaded, before any network sees them — keep the photo (to show the result with
//! its chroma), fit each painting's colours to the photo's and apply the fit (and, for luminance
//! transfer, make the photo grey) — and the buffers that stay.

use super::Colors;
use crate::gpu::Dispatch;
use crate::kernels::Staging;
use crate::kernels::{self, color, BoxMove};
use crate::plan::{Arena, Buf};
use crate::tiles::Rect;
use wgpu::Buffer;

/// The preparation under way: the photo's part done, each painting's to come.
pub(super) struct ColourPrep {
    colors: Colors,
    hw: usize,
    /// `[3][h][w]` the photo (network space), with [`Colors::keeps_photo`]: what the session keeps
    /// to show the result with the photo's chroma.
    pub photo: Option<Buffer>,
    /// With [`Colors::fits`]: the moments' buffers (photo, painting), the photo's rows, and `[24]`
    /// the (last) painting's and the photo's maps.
    fit: Option<(Buffer, Buffer, usize, Buffer)>,
    staging: Option<Staging>,
}

impl ColourPrep {
    /// The photo's part for `colors` (`x`: the photo, `hw` pixels, network space): keep a copy,
    /// take its colour moments. Buffers from `arena` as planned.
    /// `staging`: the scratch of windowed per-pixel kernels ([`kernels::Staging`]), when planned.
    pub(super) fn new(gpu: &crate::Gpu, colors: Colors, x: &Buffer, hw: usize, arena: &mut Arena, staging: Option<&Staging>) -> (ColourPrep, Vec<Dispatch>) {
        let mut ops = Vec::new();
        let photo = colors.keeps_photo().then(|| {
            let photo = arena.take(Buf::Photo);
            let all = BoxMove { c: 3, src: (hw, 1), from: Rect { x: 0, y: 0, w: hw, h: 1 }, dst: (hw, 1), to: (0, 0) };
            ops.extend(kernels::copy_boxes(gpu, "keep the photo", all, x, &photo, false));
            photo
        });
        let fit = colors.fits().then(|| {
            let (mc, ms) = (arena.take(Buf::ColourMomentsPhoto), arena.take(Buf::ColourMomentsPainting));
            let (m_ops, rows) = kernels::color_moments(gpu, hw, x, &mc, staging);
            ops.extend(m_ops);
            (mc, ms, rows, arena.take(Buf::ColourAffine))
        });
        (ColourPrep { colors, hw, photo, fit, staging: staging.cloned() }, ops)
    }

    /// Painting `k`'s part (`style`, `shw` pixels): fit its colours to the photo's and apply the
    /// fit; after the first painting's fit, luminance transfer makes the photo `x` grey.
    pub(super) fn painting(&self, gpu: &crate::Gpu, k: usize, x: &Buffer, style: &Buffer, shw: usize) -> Vec<Dispatch> {
        let Some((mc, ms, rows_c, affine)) = &self.fit else { return Vec::new() };
        let fit = if self.colors == Colors::Luminance { color::Fit::Luminance } else { color::Fit::Match };
        let st = self.staging.as_ref();
        let (mut ops, rows_s) = kernels::color_moments(gpu, shw, style, ms, st);
        ops.push(color::color_fit(gpu, fit, (self.hw, mc, *rows_c), (shw, ms, rows_s), affine));
        ops.extend(kernels::color_apply(gpu, shw, affine, 0, style, st));
        if k == 0 && self.colors == Colors::Luminance {
            ops.extend(kernels::color_apply(gpu, self.hw, affine, color::PHOTO_MAP, x, st));
        }
        ops
    }
}
