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

use super::{regions, Colors, Region};
use crate::kernels::MEAN_BGR;
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

use crate::settings::keeps_photo;

/// Radius r of the kept regions' soft border at an output of `w`×`h`: 2 px up to 299 px, then 1%
/// of the longer side (the ramp spans the 2r px outside the region).
pub fn feather_radius(w: usize, h: usize) -> usize {
    (w.max(h) / 100).max(2)
}

/// The keep mask k `[h·w]` of `mask` (the region mask, any size; resized to `w`×`h` by nearest
/// neighbour like the styled regions' masks) for `regions`: 1 on the pixels labelled with a region
/// that keeps the photo, a ramp down to 0 over the 2`r` px around them (the region grown by `r` in
/// a square window, then box-blurred with radius `r`; edge pixels repeated, so the image's own
/// edges do not fade). `None` when no region keeps the photo.
pub fn keep_mask(mask: &RgbaImage, w: usize, h: usize, regions: &[Region], r: usize) -> Option<Vec<f32>> {
    if !keeps_photo(regions) {
        return None;
    }
    let labels = regions::labels(mask, w, h, regions);
    let kept: Vec<u32> = labels.iter().map(|l| u32::from(l.is_some_and(|r| regions[r].painting.is_none()))).collect();
    // Grown: the pixels within r (in either axis) of a kept one.
    let grown: Vec<u32> = window_sums(&window_sums(&kept, w, h, r, true), w, h, r, false).into_iter().map(|n| u32::from(n > 0)).collect();
    // Blurred: the grown pixels' share of each (2r + 1)² window. A kept pixel's window lies within
    // the grown region, so its share is exactly 1.
    let area = ((2 * r + 1) * (2 * r + 1)) as f32;
    Some(window_sums(&window_sums(&grown, w, h, r, true), w, h, r, false).into_iter().map(|n| n as f32 / area).collect())
}

/// Sums of `v` over windows of radius `r` along rows (`along_x`) or columns, edge values
/// repeated: running sums, the same cost a pixel whatever `r`.
fn window_sums(v: &[u32], w: usize, h: usize, r: usize, along_x: bool) -> Vec<u32> {
    let (len, lines) = if along_x { (w, h) } else { (h, w) };
    let at = |line: usize, i: usize| if along_x { line * w + i } else { i * w + line };
    let mut out = vec![0; v.len()];
    let r = r as isize;
    for line in 0..lines {
        let value = |j: isize| v[at(line, j.clamp(0, len as isize - 1) as usize)];
        let mut sum: u32 = (-r..=r).map(value).sum();
        for i in 0..len {
            out[at(line, i)] = sum;
            sum = sum + value(i as isize + r + 1) - value(i as isize - r);
        }
    }
    out
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
    fn the_mask_is_one_on_the_region_and_ramps_outside_it() {
        // Left 10 columns keep the photo (blue), the rest takes painting 0 (red), 20×4 px.
        let mask = RgbaImage::from_fn(20, 4, |x, _| if x < 10 { image::Rgba([0, 0, 255, 255]) } else { image::Rgba([255, 0, 0, 255]) });
        let regions = [Region { color: [255, 0, 0], painting: Some(0) }, Region { color: [0, 0, 255], painting: None }];
        let k = keep_mask(&mask, 20, 4, &regions, 2).unwrap();
        let row: Vec<f32> = k[..20].to_vec();
        assert_eq!(&row[..10], &[1.0; 10], "the whole region, to its border: exactly 1 (the image's edge does not fade)");
        assert_eq!(&row[14..], &[0.0; 6], "beyond twice the radius: 0");
        for (i, want) in (10..14).zip([0.8, 0.6, 0.4, 0.2]) {
            assert!((row[i] - want).abs() < 1e-6, "column {i}: {} vs {want}", row[i]);
        }
        assert!(k.chunks(20).all(|r| r == row.as_slice()), "every row the same");
        assert!(keep_mask(&mask, 20, 4, &regions[..1], 2).is_none(), "no region keeps the photo: no mask");
        // A kept stroke one pixel wide is kept whole, with a ramp falling away from it.
        let thin = RgbaImage::from_fn(21, 9, |x, _| if x == 10 { image::Rgba([0, 0, 255, 255]) } else { image::Rgba([255, 0, 0, 255]) });
        let k = keep_mask(&thin, 21, 9, &regions, 3).unwrap();
        assert!((0..9).all(|y| k[y * 21 + 10] == 1.0), "a 1-px stroke: k = 1 on it");
        let mid = &k[4 * 21..5 * 21];
        assert!(mid[3] == 0.0 && mid[4] > 0.0 && (4..9).all(|x| mid[x] < mid[x + 1]) && mid[9] < 1.0, "the ramp: {mid:?}");
    }

    #[test]
    fn window_sums_are_running_sums_with_edges_repeated() {
        let v = [1, 2, 3, 4, 5];
        assert_eq!(window_sums(&v, 5, 1, 1, true), [4, 6, 9, 12, 14]);
        assert_eq!(window_sums(&v, 1, 5, 2, false), [8, 11, 15, 19, 22]);
    }

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
