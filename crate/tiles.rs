//! Tile geometry for running the network over spatial tiles of a large image (no GPU here): the
//! grid of cores (the pixels a tile owns) and inputs (core + halo, clipped to the image), which
//! features each tile owns at each layer, and the halo that makes tiled results exact.
//!
//! Tile inputs start on the 16-px grid of the four 2×2 poolings, so a tile's feature (y, x) at a
//! layer with stride J is the whole image's feature (y + iy0/J, x + ix0/J). Every feature is owned
//! by the one tile whose core holds its top-left pixel J·(y, x); a tile's owned features are exact
//! (equal to the untiled network's) when every input pixel they depend on lies inside the tile's
//! input, which [`exact_halo`] guarantees.

pub use crate::kernels::tile::Rect;
use crate::settings::{Settings, TileMode};
use crate::vgg::{LayerShape, CONTENT_LAYER, STYLE_LAYERS};

/// Alignment of tile origins, cores and halos: the stride of relu5_1 (four 2×2 poolings).
pub const TILE_ALIGN: usize = 16;

/// The halo of [`TileMode::Fast`] when the settings leave it at 0 (automatic).
pub const FAST_HALO: usize = 32;

/// One tile, in image pixels: its core `[x0, x1) × [y0, y1)` (what it owns) and its input
/// `[ix0, ix1) × [iy0, iy1)` (core plus halo, clipped to the image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    pub ix0: usize,
    pub iy0: usize,
    pub ix1: usize,
    pub iy1: usize,
}

impl Tile {
    /// Input width and height in pixels.
    pub fn input_size(&self) -> (usize, usize) {
        (self.ix1 - self.ix0, self.iy1 - self.iy0)
    }

    /// The features this tile owns at a layer of stride `j` (1, 2, 4, 8 or 16), in the tile's own
    /// layer coordinates, for an image of `width`×`height`. Empty (w or h 0) when the image's last
    /// row or column of features at that stride starts in another tile.
    pub fn owned(&self, j: usize, width: usize, height: usize) -> Rect {
        let end = |c1: usize, full: usize| if c1 == full { full / j } else { c1 / j };
        let (fx0, fx1) = (self.x0 / j, end(self.x1, width));
        let (fy0, fy1) = (self.y0 / j, end(self.y1, height));
        Rect { x: fx0 - self.ix0 / j, y: fy0 - self.iy0 / j, w: fx1.saturating_sub(fx0), h: fy1.saturating_sub(fy0) }
    }
}

/// The tiles covering a `width`×`height` image with cores of `core` px (a multiple of
/// [`TILE_ALIGN`]) and halos of `halo` px (a multiple of it too), row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileGrid {
    pub width: usize,
    pub height: usize,
    pub core: usize,
    pub halo: usize,
    pub tiles: Vec<Tile>,
}

impl TileGrid {
    /// The grid; `core` and `halo` are rounded up to multiples of [`TILE_ALIGN`] (halo ≥ 16).
    pub fn new(width: usize, height: usize, core: usize, halo: usize) -> TileGrid {
        let core = core.max(TILE_ALIGN).next_multiple_of(TILE_ALIGN);
        let halo = halo.max(TILE_ALIGN).next_multiple_of(TILE_ALIGN);
        let mut tiles = Vec::new();
        for y0 in (0..height).step_by(core) {
            for x0 in (0..width).step_by(core) {
                let (x1, y1) = ((x0 + core).min(width), (y0 + core).min(height));
                let (ix0, iy0) = (x0.saturating_sub(halo), y0.saturating_sub(halo));
                let (ix1, iy1) = ((x1 + halo).min(width), (y1 + halo).min(height));
                tiles.push(Tile { x0, y0, x1, y1, ix0, iy0, ix1, iy1 });
            }
        }
        TileGrid { width, height, core, halo, tiles }
    }

    /// The largest tile input (width, height): what the tile network's buffers are sized for.
    pub fn max_input(&self) -> (usize, usize) {
        let w = self.tiles.iter().map(|t| t.input_size().0).max().unwrap_or(0);
        let h = self.tiles.iter().map(|t| t.input_size().1).max().unwrap_or(0);
        (w, h)
    }

    /// The most features any tile owns at stride `j`: a whole core's, or the image's when it is
    /// narrower than a core (the last tile of a row or column owns at most a core's).
    pub fn max_owned(&self, j: usize) -> usize {
        (self.core.min(self.width) / j) * (self.core.min(self.height) / j)
    }

    /// The distinct sizes (w, h) of what tiles own at stride `j` (at most four: interior, last
    /// column, last row, corner), without visiting every tile.
    pub fn owned_sizes(&self, j: usize) -> Vec<(usize, usize)> {
        let cols: Vec<&Tile> = self.tiles.iter().filter(|t| t.y0 == 0).collect();
        let rows: Vec<&Tile> = self.tiles.iter().step_by(cols.len().max(1)).collect();
        let mut ws: Vec<usize> = [cols.first(), cols.last()].into_iter().flatten().map(|t| t.owned(j, self.width, self.height).w).collect();
        let mut hs: Vec<usize> = [rows.first(), rows.last()].into_iter().flatten().map(|t| t.owned(j, self.width, self.height).h).collect();
        ws.dedup();
        hs.dedup();
        ws.iter().flat_map(|&w| hs.iter().map(move |&h| (w, h))).collect()
    }
}

/// Stride (input pixels per feature) of each layer: 1, 2, 4, 8, 16.
pub fn strides(layers: &[LayerShape]) -> Vec<usize> {
    let mut j = 1;
    layers
        .iter()
        .map(|l| {
            if l.conv.is_none() {
                j *= 2;
            }
            j
        })
        .collect()
}

/// For each layer, how far its feature at (y, x) reaches into the input: the pixels
/// `[J·x − before, J·x + after]` (J its stride). relu5_1: 70 and 85 (a 156-px receptive field).
pub fn reach(layers: &[LayerShape]) -> Vec<(usize, usize)> {
    let (mut before, mut after, mut j) = (0, 0, 1);
    layers
        .iter()
        .map(|l| {
            if l.conv.is_some() {
                before += j;
                after += j;
            } else {
                after += j;
                j *= 2;
            }
            (before, after)
        })
        .collect()
}

/// The smallest halo (a multiple of 16) with which every owned feature of every layer whose loss
/// has a non-zero weight in `settings` is exact: relu5_1 needs 80 px, relu4_2 48, relu3_1 16.
pub fn exact_halo(layers: &[LayerShape], settings: &Settings) -> usize {
    let (reach, strides) = (reach(layers), strides(layers));
    let used = |name: &str| match STYLE_LAYERS.iter().position(|&n| n == name) {
        Some(i) => settings.style_weight > 0.0 && settings.style_layer_weights[i] > 0.0,
        None => name == CONTENT_LAYER && settings.content_weight > 0.0,
    };
    let need = layers
        .iter()
        .enumerate()
        .filter(|(_, l)| used(&l.name))
        // Owned features of a core [X0, X1) reach [X0 − before, X1 − J + after].
        .map(|(i, _)| reach[i].0.max((reach[i].1 + 1).saturating_sub(strides[i])))
        .max()
        .unwrap_or(0);
    need.max(1).next_multiple_of(TILE_ALIGN)
}

/// The halo a run uses: `settings.tile_halo` when set, else exact ([`exact_halo`]) or
/// [`FAST_HALO`] (capped at the exact halo) by `settings.tile_mode`.
pub fn halo_for(layers: &[LayerShape], settings: &Settings) -> usize {
    if settings.tile_halo > 0 {
        return (settings.tile_halo as usize).next_multiple_of(TILE_ALIGN);
    }
    let exact = exact_halo(layers, settings);
    match settings.tile_mode {
        TileMode::Exact => exact,
        TileMode::Fast => FAST_HALO.min(exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vgg::{layer_shapes, vgg19_channels};

    #[test]
    fn relu5_1_reaches_156_px_and_needs_an_80_px_halo() {
        let layers = layer_shapes(64, 64, &vgg19_channels());
        let r = reach(&layers);
        assert_eq!(r.last(), Some(&(70, 85)));
        assert_eq!(70 + 85 + 1, 156);
        assert_eq!(exact_halo(&layers, &Settings::default()), 80);
        let shallow = Settings { style_layer_weights: [1.0, 1.0, 0.0, 0.0, 0.0], content_weight: 0.0, ..Settings::default() };
        assert_eq!(exact_halo(&layers, &shallow), 16);
        let content = Settings { style_layer_weights: [1.0, 1.0, 1.0, 0.0, 0.0], ..Settings::default() };
        assert_eq!(exact_halo(&layers, &content), 48);
    }

    #[test]
    fn owned_features_partition_every_layer() {
        for (w, h, core, halo) in [(100, 75, 32, 16), (96, 160, 48, 32), (37, 130, 64, 80), (128, 128, 128, 16)] {
            let g = TileGrid::new(w, h, core, halo);
            for j in [1, 2, 4, 8, 16] {
                let mut count = vec![0u32; (w / j) * (h / j)];
                for t in &g.tiles {
                    assert_eq!((t.ix0 % 16, t.iy0 % 16), (0, 0));
                    let o = t.owned(j, w, h);
                    let (lw, lh) = (t.input_size().0 / j, t.input_size().1 / j);
                    assert!(o.area() == 0 || (o.x + o.w <= lw && o.y + o.h <= lh), "{o:?} outside {lw}×{lh}");
                    for y in 0..o.h {
                        for x in 0..o.w {
                            count[(o.y + y + t.iy0 / j) * (w / j) + o.x + x + t.ix0 / j] += 1;
                        }
                    }
                }
                assert!(count.iter().all(|&c| c == 1), "{w}×{h} core {core} stride {j}: not a partition");
            }
        }
    }
}
