//! Regions that keep the photo ("the photo (no style)"): the pixels of such a region stay the
//! photo's, whatever the optimiser, size, scale or tiling, with a soft border.
//!
//! The image is reparametrised as x = k·p + (1 − k)·y, where p is the photo (network space, as the
//! network sees it: grey for luminance transfer), y is what the optimiser moves and k the keep mask
//! `[h][w]`: 1 inside a kept region, 0 outside, and a linear ramp across its border (a box blur of
//! the binary mask, [`feather_radius`] px each side). The optimisers work on y: the gradient they
//! see is (1 − k)·∂L/∂x and x moves by (1 − k) times their step (`adam.wgsl`, `lbfgs.wgsl` bind the
//! mask). Adam's per-pixel normalisation cancels any scale of the gradient, so masking the gradient
//! alone would move a pixel of the border as fast as a free one; moving x by (1 − k)·Δy does not.
//! Every image the session starts from (the photo, noise, the previous scale's result, an image
//! set from outside) is made x = k·p + (1 − k)·x first ([`Keep::apply`]), so a kept pixel is the
//! photo's from the start and never moves.

use super::{regions, Colors, Region};
use crate::kernels::MEAN_BGR;
use image::RgbaImage;

/// The kept regions of a session at its output size: the mask k and the photo p (CPU copies, to
/// make any starting image keep the photo; the optimisers bind the mask's copy on the GPU, the
/// planned buffer "keep mask").
pub struct Keep {
    /// `[h·w]` k: 1 kept, 0 free, between on the border.
    pub mask: Vec<f32>,
    /// `[3][h·w]` the photo in network space (planar BGR − mean; grey for luminance transfer).
    photo: Vec<f32>,
}

pub use crate::settings::keeps_photo;

/// Half-width in pixels of the kept regions' soft border at an output of `w`×`h`: 2 px up to 256
/// px, then 1% of the longer side (the ramp spans 2r + 1 px, centred on the border).
pub fn feather_radius(w: usize, h: usize) -> usize {
    (w.max(h) / 100).max(2)
}

/// The keep mask k `[h·w]` of `mask` (the region mask, any size; resized to `w`×`h` by nearest
/// neighbour like the styled regions' masks) for `regions`: the pixels labelled with a region
/// that keeps the photo, feathered by a box blur of radius `r` (edge pixels repeated, so the
/// image's own edges do not fade). `None` when no region keeps the photo.
pub fn keep_mask(mask: &RgbaImage, w: usize, h: usize, regions: &[Region], r: usize) -> Option<Vec<f32>> {
    if !keeps_photo(regions) {
        return None;
    }
    let labels = regions::labels(mask, w, h, regions);
    let binary: Vec<f32> = labels.iter().map(|l| if l.is_some_and(|r| regions[r].painting.is_none()) { 1.0 } else { 0.0 }).collect();
    Some(box_blur(&box_blur(&binary, w, h, r, true), w, h, r, false))
}

/// One pass of a box blur of radius `r` along rows (`along_x`) or columns, edges repeated. A pixel
/// whose window is all ones stays exactly 1 (a sum of ones divided by their count).
fn box_blur(v: &[f32], w: usize, h: usize, r: usize, along_x: bool) -> Vec<f32> {
    let (len, lines) = if along_x { (w, h) } else { (h, w) };
    let at = |line: usize, i: usize| if along_x { line * w + i } else { i * w + line };
    let mut out = vec![0.0; v.len()];
    for line in 0..lines {
        for i in 0..len {
            let sum: f64 = (i as isize - r as isize..=(i + r) as isize).map(|j| v[at(line, j.clamp(0, len as isize - 1) as usize)] as f64).sum();
            out[at(line, i)] = (sum / (2 * r + 1) as f64) as f32;
        }
    }
    out
}

/// The photo `px` (RGBA, at the output size) in network space as the network sees it: planar
/// BGR − mean; for luminance transfer, its luminance (YIQ's Y) on all three channels, as
/// `color_fit`'s grey map makes it.
pub fn photo_in_network_space(px: &RgbaImage, colors: Colors) -> Vec<f32> {
    let hw = (px.width() * px.height()) as usize;
    let mut out = vec![0.0; 3 * hw];
    for (i, p) in px.pixels().enumerate() {
        let [r, g, b] = [p[0], p[1], p[2]].map(|v| v as f32);
        let bgr = if colors == Colors::Luminance {
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
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
        Some(Keep { mask: k, photo: photo_in_network_space(photo_px, colors) })
    }

    /// x = k·p + (1 − k)·x over a planar `[3][h·w]` image in network space: the photo where it is
    /// kept, blended across the border.
    pub fn apply(&self, x: &mut [f32]) {
        let hw = self.mask.len();
        debug_assert_eq!(x.len(), 3 * hw);
        for (i, v) in x.iter_mut().enumerate() {
            let k = self.mask[i % hw];
            if k > 0.0 {
                *v = k * self.photo[i] + (1.0 - k) * *v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_is_one_inside_zero_outside_and_ramps_across_the_border() {
        // Left 10 columns keep the photo (blue), the rest takes painting 0 (red), 20×4 px.
        let mask = RgbaImage::from_fn(20, 4, |x, _| if x < 10 { image::Rgba([0, 0, 255, 255]) } else { image::Rgba([255, 0, 0, 255]) });
        let regions = [Region { color: [255, 0, 0], painting: Some(0) }, Region { color: [0, 0, 255], painting: None }];
        let k = keep_mask(&mask, 20, 4, &regions, 2).unwrap();
        let row: Vec<f32> = k[..20].to_vec();
        assert_eq!(&row[..8], &[1.0; 8], "inside, beyond the radius: exactly 1 (the image's edge does not fade)");
        assert_eq!(&row[12..], &[0.0; 8], "outside, beyond the radius: 0");
        let ramp = [0.8, 0.6, 0.4, 0.2];
        for (i, want) in (8..12).zip(ramp) {
            assert!((row[i] - want).abs() < 1e-6, "column {i}: {} vs {want}", row[i]);
        }
        assert!(k.chunks(20).all(|r| r == row.as_slice()), "every row the same");
        assert!(keep_mask(&mask, 20, 4, &regions[..1], 2).is_none(), "no region keeps the photo: no mask");
    }

    #[test]
    fn apply_puts_the_photo_where_kept() {
        let px = RgbaImage::from_fn(3, 1, |x, _| image::Rgba([10 * x as u8, 100, 200, 255]));
        let photo = photo_in_network_space(&px, Colors::Painting);
        let (gpu_free, k) = (vec![5.0f32; 9], vec![1.0, 0.5, 0.0]);
        let keep = Keep { mask: k, photo: photo.clone() };
        let mut x = gpu_free.clone();
        keep.apply(&mut x);
        for c in 0..3 {
            assert_eq!(x[c * 3], photo[c * 3], "kept: the photo");
            assert!((x[c * 3 + 1] - 0.5 * (photo[c * 3 + 1] + 5.0)).abs() < 1e-5, "border: the blend");
            assert_eq!(x[c * 3 + 2], 5.0, "free: unchanged");
        }
        // B, G, R − mean; grey for luminance transfer.
        assert!((photo[0] - (200.0 - MEAN_BGR[0])).abs() < 1e-4 && (photo[6 + 1] - (10.0 - MEAN_BGR[2])).abs() < 1e-4);
        let grey = photo_in_network_space(&px, Colors::Luminance);
        let y = 0.299 * 10.0 + 0.587 * 100.0 + 0.114 * 200.0;
        assert!((0..3).all(|c| (grey[c * 3 + 1] - (y - MEAN_BGR[c])).abs() < 1e-3));
    }
}
