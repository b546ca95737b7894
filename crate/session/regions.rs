//! Region control (Gatys et al. 2017, spatial control): a mask image paints the photo into
//! regions, each matching its own painting's Gram matrices — or keeping the photo (content only).
//! Each styled region's mask, made at the output size and pooled to every style layer with the
//! network's own pooling, weights that layer's features before their Gram matrix (a guided Gram,
//! normalised by the mask's mass M = round(Σ m²)) and its gradient (`mask_act`, `mask_add`).
//! A painting may come with a style mask in the same colours: a region then matches the guided
//! Grams of its part of that painting (its mask pooled likewise, normalised by its own mass)
//! instead of the whole painting's.

use super::{Region, Settings};
use crate::error::{Error, Result};
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
