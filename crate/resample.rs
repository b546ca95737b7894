//! Resampling on the CPU with Lanczos3: RGBA images to a session's sizes, and planar `[3][h][w]`
//! f32 fields (an image in network space, Adam's moments) from one scale's size to the next's.

use crate::kernels::MEAN_BGR;
use image::RgbaImage;

/// Resizes to exactly `w`×`h` with Lanczos3 (no-op if already that size).
pub fn resize(img: &RgbaImage, w: usize, h: usize) -> RgbaImage {
    if img.width() as usize == w && img.height() as usize == h {
        return img.clone();
    }
    image::imageops::resize(img, w as u32, h as u32, image::imageops::FilterType::Lanczos3)
}

/// Resizes a `[3][h][w]` f32 field with Lanczos3, in f32. Channel c travels as
/// (v − lo_c)/(hi_c − lo_c) because the `image` crate resamples f32 pixels in 0..1 (clamping
/// there), so the result lies in [lo_c, hi_c].
fn resample(planar: &[f32], (w, h): (u32, u32), (nw, nh): (u32, u32), range: impl Fn(usize, &[f32]) -> (f32, f32)) -> Vec<f32> {
    let (hw, nhw) = ((w * h) as usize, (nw * nh) as usize);
    let mut out = vec![0f32; 3 * nhw];
    for c in 0..3 {
        let ch = &planar[c * hw..(c + 1) * hw];
        let (lo, hi) = range(c, ch);
        let span = (hi - lo).max(f32::MIN_POSITIVE);
        let img = image::ImageBuffer::<image::Luma<f32>, _>::from_raw(w, h, ch.iter().map(|x| (x - lo) / span).collect::<Vec<f32>>()).expect("w·h values");
        let r = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Lanczos3);
        for (o, p) in out[c * nhw..(c + 1) * nhw].iter_mut().zip(r.pixels()) {
            *o = lo + p.0[0] * span;
        }
    }
    out
}

/// Resizes a `[3][h][w]` f32 image in network space to `nw`×`nh` with Lanczos3 (in f32, no
/// quantisation); the result lies in each channel's valid range.
pub fn resize_planar(planar: &[f32], w: u32, h: u32, nw: u32, nh: u32) -> Vec<f32> {
    resample(planar, (w, h), (nw, nh), |c, _| (-MEAN_BGR[c], 255.0 - MEAN_BGR[c]))
}

/// Resizes Adam's `[3][h][w]` moments, each channel over its own range.
pub fn resize_moments(planar: &[f32], from: (u32, u32), to: (u32, u32)) -> Vec<f32> {
    resample(planar, from, to, |_, ch| ch.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ramp upsampled ×2 keeps its range and mean (to Lanczos' edge effects) and its channels.
    #[test]
    fn resize_planar_keeps_values_and_channels() {
        let (w, h) = (12u32, 8u32);
        let hw = (w * h) as usize;
        let mut v = vec![0f32; 3 * hw];
        for c in 0..3 {
            for i in 0..hw {
                v[c * hw + i] = (i % w as usize) as f32 * 10.0 - 50.0 + 20.0 * c as f32;
            }
        }
        let up = resize_planar(&v, w, h, 24, 16);
        let nhw = 24 * 16;
        for c in 0..3 {
            let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
            let (a, b) = (mean(&v[c * hw..(c + 1) * hw]), mean(&up[c * nhw..(c + 1) * nhw]));
            assert!((a - b).abs() < 1.0, "channel {c}: mean {a} → {b}");
            let row: Vec<f32> = up[c * nhw..c * nhw + 24].to_vec();
            assert!(row.windows(2).filter(|p| p[1] > p[0]).count() >= 20, "channel {c}: the ramp still rises: {row:?}");
        }
    }

    /// Moments keep their own range (tiny, signed), not the pixels'.
    #[test]
    fn resize_moments_keeps_small_signed_values() {
        let (w, h) = (10u32, 6u32);
        let v: Vec<f32> = (0..3 * 60).map(|i| ((i % 10) as f32 - 4.5) * 1e-4).collect();
        let up = resize_moments(&v, (w, h), (20, 12));
        let (lo, hi) = up.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(lo >= -4.5e-4 - 1e-9 && hi <= 4.5e-4 + 1e-9 && lo < -3e-4 && hi > 3e-4, "range {lo}..{hi}");
    }
}
