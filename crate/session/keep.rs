//! Regions that keep the photo ("the photo (no style)"): the pixels of such a region stay the
//! photo's, whatever the optimiser, size, scale or tiling, with a soft border.
//!
//! The image is reparametrised as x = k·p + (1 − k)·y, where p is the photo (network space, as the
//! network sees it: grey for luminance transfer), y is what the optimiser moves and k the keep mask
//! `[h][w]`: 1 on every pixel of a kept region, however thin, 0 beyond twice [`feather_radius`] px
//! of it, and a ramp between (the region grown by r, then box-blurred with radius r). The optimisers
//! work on y: the gradient they see is (1 − k)·∂L/∂x and x moves by (1 − k) times their step
//! (`adam.wgsl`, `lbfgs.wgsl` bind the mask). Adam's per-pixel normalisation cancels any scale of
//! the gradient, so masking the gradient alone would move a pixel of the border as fast as a free
//! one; moving x by (1 − k)·Δy does not. Every image the session starts from (the photo, noise, the
//! previous scale's result, an image set from outside) is made x = k·p + (1 − k)·x first
//! ([`Keep::apply`]), so a kept pixel is the photo's from the start and never moves.

use super::Colors;
use crate::kernels::MEAN_BGR;
use crate::masks::{feather_radius, keep_mask};
use crate::settings::Region;
use image::RgbaImage;

/// The kept regions of a session at its output size: the mask k and the photo p (CPU copies, to
/// make any starting image keep the photo; the optimisers bind the mask's copy on the GPU, the
/// planned buffer "keep mask").
pub struct Keep {
    /// `[h·w]` k: 1 kept, 0 free, between on the border.
    pub mask: Vec<f32>,
    /// The photo at the output size (RGBA8, 4 bytes a pixel; made network space by [`Self::apply`]).
    photo: RgbaImage,
    colors: Colors,
}

/// An RGBA image `px` in network space as the network sees it: planar BGR − mean; for luminance
/// transfer, its luminance (YIQ's Y, within 0..255) on all three channels, as `color_fit`'s grey
/// map makes the photo.
pub fn network_space(px: &RgbaImage, colors: Colors) -> Vec<f32> {
    let hw = (px.width() * px.height()) as usize;
    let mut out = vec![0.0; 3 * hw];
    for (i, p) in px.pixels().enumerate() {
        let [r, g, b] = [p[0], p[1], p[2]].map(|v| v as f32);
        let bgr = if colors == Colors::Luminance {
            let y = (0.299 * r + 0.587 * g + 0.114 * b).clamp(0.0, 255.0);
            [y, y, y]
        } else {
            [b, g, r]
        };
        for c in 0..3 {
            out[c * hw + i] = bgr[c] - MEAN_BGR[c];
        }
    }
    out
}

impl Keep {
    /// The kept regions of `mask` for `regions` at the size of `photo_px` (the photo resized to
    /// the output); `None` when no region keeps the photo.
    pub fn new(mask: &RgbaImage, regions: &[Region], photo_px: &RgbaImage, colors: Colors) -> Option<Keep> {
        let (w, h) = (photo_px.width() as usize, photo_px.height() as usize);
        let k = keep_mask(mask, w, h, regions, feather_radius(w, h))?;
        Some(Keep { mask: k, photo: photo_px.clone(), colors })
    }

    /// x = k·p + (1 − k)·x over a planar `[3][h·w]` image in network space: the photo where it is
    /// kept, blended across the border.
    pub fn apply(&self, x: &mut [f32]) {
        let hw = self.mask.len();
        debug_assert_eq!(x.len(), 3 * hw);
        let photo = network_space(&self.photo, self.colors);
        for (i, v) in x.iter_mut().enumerate() {
            let k = self.mask[i % hw];
            if k > 0.0 {
                *v = k * photo[i] + (1.0 - k) * *v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_puts_the_photo_where_kept() {
        let px = RgbaImage::from_fn(3, 1, |x, _| image::Rgba([10 * x as u8, 100, 200, 255]));
        let photo = network_space(&px, Colors::Painting);
        let keep = Keep { mask: vec![1.0, 0.5, 0.0], photo: px.clone(), colors: Colors::Painting };
        let mut x = vec![5.0f32; 9];
        keep.apply(&mut x);
        for c in 0..3 {
            assert_eq!(x[c * 3], photo[c * 3], "kept: the photo");
            assert!((x[c * 3 + 1] - 0.5 * (photo[c * 3 + 1] + 5.0)).abs() < 1e-5, "border: the blend");
            assert_eq!(x[c * 3 + 2], 5.0, "free: unchanged");
        }
        // B, G, R − mean; grey for luminance transfer.
        assert!((photo[0] - (200.0 - MEAN_BGR[0])).abs() < 1e-4 && (photo[6 + 1] - (10.0 - MEAN_BGR[2])).abs() < 1e-4);
        let grey = network_space(&px, Colors::Luminance);
        let y = 0.299 * 10.0 + 0.587 * 100.0 + 0.114 * 200.0;
        assert!((0..3).all(|c| (grey[c * 3 + 1] - (y - MEAN_BGR[c])).abs() < 1e-3));
    }
}
