//! The masks of region control (Gatys et al. 2017, spatial control): a mask image paints the photo into
//! regions, each matching its own painting's Gram matrices — or keeping the photo (content only).
//! Each styled region's mask, made at the output size and pooled to every style layer with the
//! network's own pooling, weights that layer's features before their Gram matrix (a guided Gram,
//! normalised by the mask's mass M = round(Σ m²)) and its gradient (`mask_act`, `mask_add`).
//! A painting may come with a style mask in the same colours: a region then matches the guided
//! Grams of its part of that painting (its mask pooled likewise, normalised by its own mass)
//! instead of the whole painting's. Regions that keep the photo get a feathered keep mask
//! ([`keep_mask`]), which the session applies ([`crate::session::keep`]).

use crate::error::{Error, Result};
use crate::settings::{keeps_photo, Region, Settings};
use crate::vgg::{LayerShape, Pooling, STYLE_LAYERS};
use image::RgbaImage;

/// The masks of a run: the region mask over the photo and, per painting (in the run's order), an
/// optional style mask drawn in the same colours over that painting.
#[derive(Clone, Debug, Default)]
pub struct Masks {
    /// The region mask (any size; resized to the output's by nearest neighbour).
    pub regions: Option<RgbaImage>,
    /// Painting k's style mask (any size; resized to the painting's); missing or `None`: none.
    pub paintings: Vec<Option<RgbaImage>>,
}

impl Masks {
    /// A region mask alone.
    pub fn regions(mask: RgbaImage) -> Masks {
        Masks { regions: Some(mask), paintings: Vec::new() }
    }

    /// Painting `k`'s style mask, if it has one.
    pub fn painting(&self, k: usize) -> Option<&RgbaImage> {
        self.paintings.get(k).and_then(|m| m.as_ref())
    }

    /// Checks the masks against `settings` (regions need a region mask and the other way round; a
    /// style mask needs regions and a painting to belong to) and returns the settings with
    /// [`Settings::style_masks`] set from them.
    pub fn settle(&self, settings: &Settings) -> Result<Settings> {
        let bad = |m: String| Err(Error::Settings(m));
        match (self.regions.is_some(), settings.regions.is_empty()) {
            (false, false) => return bad("regions need a region mask image".into()),
            (true, true) => return bad("a region mask needs its regions: which colour takes which painting (or the photo)".into()),
            _ => {}
        }
        let masked: Vec<bool> = (0..settings.paintings()).map(|k| self.painting(k).is_some()).collect();
        if let Some(k) = (settings.paintings()..self.paintings.len()).find(|&k| self.painting(k).is_some()) {
            return bad(format!("a style mask for painting {} but the run has {} painting(s)", k + 1, settings.paintings()));
        }
        if masked.iter().any(|&m| m) && settings.regions.is_empty() {
            return bad("a style mask needs regions: a region mask over the photo and what each colour takes".into());
        }
        let style_masks = if masked.iter().any(|&m| m) { masked } else { Vec::new() };
        Ok(Settings { style_masks, ..settings.clone() })
    }
}

/// Largest squared RGB distance at which a mask pixel belongs to a region's colour.
const NEAR: u32 = 3 * 96 * 96;

/// A region whose features match a painting: which painting, and per style layer its mask
/// (`[n]` at that layer's size) and mass (0: absent at that layer).
#[derive(Clone, Debug)]
pub struct StyledRegion {
    pub painting: usize,
    pub layers: Vec<(Vec<f32>, usize)>,
}

/// The regions of `mask` (RGBA, resized to the output's `w`×`h` by nearest neighbour) for the
/// settings' regions: each listed colour is a region (the nearest listed colour within a
/// distance of 96 per channel), every other pixel is the "rest", which takes the first painting.
/// Returns the styled regions (the rest last); regions that keep the photo are left out.
pub fn styled_regions(mask: &RgbaImage, w: usize, h: usize, regions: &[Region], layers: &[LayerShape], pooling: Pooling) -> Vec<StyledRegion> {
    let labels = labels(mask, w, h, regions);
    let mut styled: Vec<(usize, Vec<f64>)> = Vec::new();
    for (r, reg) in regions.iter().enumerate() {
        if let Some(p) = reg.painting {
            styled.push((p, labels.iter().map(|&l| if l == Some(r) { 1.0 } else { 0.0 }).collect()));
        }
    }
    styled.push((0, labels.iter().map(|l| if l.is_none() { 1.0 } else { 0.0 }).collect()));
    styled
        .into_iter()
        .map(|(painting, full)| {
            let (mut m, mut mh, mut mw) = (full, h, w);
            let mut out = Vec::new();
            for l in layers {
                if l.conv.is_none() {
                    m = pool_mask(&m, mh, mw, pooling);
                    (mh, mw) = (mh / 2, mw / 2);
                }
                if STYLE_LAYERS.contains(&l.name.as_str()) {
                    debug_assert_eq!((mh, mw), (l.output.1, l.output.2));
                    out.push((m.iter().map(|&v| v as f32).collect(), mass(&m)));
                }
            }
            StyledRegion { painting, layers: out }
        })
        .collect()
}

/// Each pixel's region of `mask` resized to `w`×`h` by nearest neighbour (row-major): the nearest
/// of `regions`' colours within a distance of 96 per channel, or `None` (the rest).
pub fn labels(mask: &RgbaImage, w: usize, h: usize, regions: &[Region]) -> Vec<Option<usize>> {
    let px = image::imageops::resize(mask, w as u32, h as u32, image::imageops::FilterType::Nearest);
    let label = |p: &image::Rgba<u8>| {
        let d = |c: &[u8; 3]| (0..3).map(|k| (p[k] as i32 - c[k] as i32).pow(2) as u32).sum::<u32>();
        regions.iter().enumerate().map(|(r, reg)| (d(&reg.color), r)).filter(|&(dist, _)| dist <= NEAR).min().map(|(_, r)| r)
    };
    px.pixels().map(label).collect()
}

/// A `h`×`w` mask pooled 2×2 with stride 2 (floor size) like the network's features: the largest
/// of each window, or its mean.
fn pool_mask(m: &[f64], h: usize, w: usize, pooling: Pooling) -> Vec<f64> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        for x in 0..ow {
            let b = 2 * y * w + 2 * x;
            let v = [m[b], m[b + 1], m[b + w], m[b + w + 1]];
            out.push(match pooling {
                Pooling::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Pooling::Avg => v.iter().sum::<f64>() / 4.0,
            });
        }
    }
    out
}

/// M = round(Σ m²): the pixels a (soft) mask covers, what its guided Gram is normalised by.
pub fn mass(m: &[f64]) -> usize {
    m.iter().map(|v| v * v).sum::<f64>().round() as usize
}

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
    let labels = labels(mask, w, h, regions);
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
}
