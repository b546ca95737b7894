//! The memory plan of a session: every GPU buffer it creates, with its size and lifetime, computed
//! from the static graph before anything is allocated. The plan *is* the allocation: a session
//! creates its buffers by taking them from an [`Arena`] made from its plan, so the figure shown to
//! the user (`stylize info`, the page's memory line) is what is created, by construction (a test
//! compares the plan's total with the bytes created). [`Plan::choose`] picks between running the
//! network on the whole image and over tiles ([`crate::tiles`]) when a budget asks for it.

use crate::error::{Error, Result};
pub use crate::gpu::arena::{Arena, Budget, BufferSpec, Life};
pub use crate::gpu::names::{Buf, Net};
use crate::gpu::{Gpu, Precision, Variant};
use crate::kernels::{self, GramSplit, LbfgsConfig, MAX_REDUCE_GROUPS};
use crate::settings::{Optimizer, Settings, TileMode};
use crate::tiles::{halo_for, strides, TileGrid};
use crate::vgg::{fit_size, layer_shapes, Engine, LayerShape, CONTENT_LAYER, STYLE_LAYERS};

/// Every buffer of a session, and whether (and how) it runs over tiles.
#[derive(Clone, Debug)]
pub struct Plan {
    pub buffers: Vec<BufferSpec>,
    /// `Some` when the network runs over tiles of the output (the style image is tiled with the
    /// same core and halo: [`Plan::style_grid`]).
    pub grid: Option<TileGrid>,
    /// The tiles of the painting when tiled.
    pub style_grid: Option<TileGrid>,
    /// Whether tiles run exactly (two passes) rather than fast.
    pub exact: bool,
}

/// Tile cores tried by [`Plan::choose`], largest first (smaller cores save little: the halos,
/// up to 80 px a side, dominate their tiles).
const TILE_CORES: [usize; 11] = [2048, 1536, 1024, 768, 512, 384, 256, 192, 128, 96, 64];

struct Builder {
    buffers: Vec<BufferSpec>,
    /// Floats of each Winograd scratch buffer: the most any network planned so far needs.
    winograd: usize,
}

impl Builder {
    fn add(&mut self, key: Buf, bytes: u64, life: Life) {
        // Buffers are created in whole 4-byte words.
        self.buffers.push(BufferSpec { name: key.to_string(), key, bytes: bytes.max(4).next_multiple_of(4), life, windowed: false });
    }

    /// A whole-image buffer its kernels bind in windows.
    fn add_windowed(&mut self, key: Buf, bytes: u64, life: Life) {
        self.add(key, bytes, life);
        self.buffers.last_mut().expect("just added").windowed = true;
    }

    /// A network's input copy (f16 storage only) and activations; the Winograd scratch it needs
    /// ([`crate::vgg::winograd_scratch`]) is added once for every network by [`Self::finish`].
    fn network(&mut self, net: Net, layers: &[LayerShape], v: Variant, life: Life) {
        let precision = v.precision;
        let (c, h, w) = layers[0].input;
        if precision != Precision::F32 {
            self.add(Buf::NetworkInput(net), precision.bytes() * (c * h * w) as u64, life);
        }
        for l in layers {
            self.add(Buf::Activation(net, l.name.clone()), precision.bytes() * l.out_len() as u64, life);
        }
        self.winograd = self.winograd.max(crate::vgg::winograd_scratch(layers, v).unwrap_or(0));
    }

    /// The buffers: with the Winograd scratch pair (session-long, shared by the networks, which
    /// run one after another) when a network needs it.
    fn finish(mut self) -> Vec<BufferSpec> {
        if self.winograd > 0 {
            let bytes = 4 * self.winograd as u64;
            self.add(Buf::WinogradInput, bytes, Life::Session);
            self.add(Buf::WinogradProduct, bytes, Life::Session);
        }
        self.buffers
    }

    /// The whole-image state: the image, its average and gradient, the optimiser's, the display
    /// buffer, the losses and their partial sums (`partials` floats).
    /// Each painting's Gram matrices when several are blended (kept, to blend again when the
    /// blend weights are steered).
    fn painting_grams(&mut self, layers: &[LayerShape], settings: &Settings) {
        if settings.paintings() > 1 {
            for l in layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
                for k in 0..settings.paintings() {
                    self.add(Buf::StyleGrams(l.name.clone(), k), 4 * (l.output.0 * l.output.0) as u64, Life::Session);
                }
            }
        }
    }

    /// Colour control's moments (of the photo, `hw` px, and the painting, `shw` px) and maps.
    fn colour(&mut self, hw: u64, shw: u64, settings: &Settings) {
        if settings.colors.fits() {
            let rows = |n: u64| (4 * kernels::color::MOMENT_ROW * kernels::color::moment_groups(n as usize)) as u64;
            self.add(Buf::ColourMomentsPhoto, rows(hw), Life::Targets);
            self.add(Buf::ColourMomentsPainting, rows(shw), Life::Targets);
            self.add(Buf::ColourAffine, 4 * kernels::color::AFFINE_LEN as u64, Life::Session);
        }
    }

    /// Style masks: per styled region that matches a part of its painting, its painting-side mask
    /// at every style layer of the painting network (`painting`, the bounding size: any painting
    /// fits) and its own targets.
    fn guided_targets(&mut self, painting: &[LayerShape], settings: &Settings) {
        let styled = crate::settings::styled_paintings(settings).len();
        for r in (0..styled).filter(|&r| crate::settings::guided_by_painting(settings, r)) {
            for l in painting.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
                self.add(Buf::StyleMask(l.name.clone(), r), 4 * (l.output.1 * l.output.2) as u64, Life::Targets);
                self.add(Buf::RegionTarget(l.name.clone(), r), 4 * (l.output.0 * l.output.0) as u64, Life::Session);
            }
        }
    }

    fn image_state(&mut self, hw: u64, settings: &Settings, partials: usize) {
        self.add_windowed(Buf::Image, 12 * hw, Life::Session);
        self.add_windowed(Buf::ImageGradient, 12 * hw, Life::Iteration);
        // With averaging off the image is what is shown: the optimiser binds a placeholder.
        self.add_windowed(Buf::ImageAverage, if settings.average { 12 * hw } else { 4 }, Life::Session);
        match settings.optimizer {
            Optimizer::Adam => {
                self.add_windowed(Buf::AdamM, 12 * hw, Life::Iteration);
                self.add_windowed(Buf::AdamV, 12 * hw, Life::Iteration);
                self.add(Buf::AdamState, 4 * 8, Life::Iteration);
            }
            Optimizer::Lbfgs => {
                let cfg = LbfgsConfig { lr: 1.0, history: settings.history as usize, decay: 0.0 };
                for (name, bytes) in cfg.buffers(hw as usize) {
                    // The [3][h][w] history, gradient and direction are windowed, not the sums.
                    if bytes == 12 * hw {
                        self.add_windowed(name, bytes, Life::Iteration);
                    } else {
                        self.add(name, bytes, Life::Iteration);
                    }
                }
            }
        }
        self.add(Buf::DisplayRgba, 4 * hw, Life::Session);
        if crate::settings::keeps_photo(&settings.regions) {
            self.add(Buf::KeepMask, 4 * hw, Life::Session);
        }
        if settings.colors.keeps_photo() {
            self.add_windowed(Buf::Photo, 12 * hw, Life::Session);
        }
        if settings.temporal_weight > 0.0 {
            self.add(Buf::TemporalPrevious, 12 * hw, Life::Session);
            self.add(Buf::TemporalReliable, 4 * hw, Life::Session);
        }
        self.add(Buf::Losses, 4 * kernels::LOSS_SLOTS as u64, Life::Session);
        self.add(Buf::LossPartials, 4 * partials as u64, Life::Iteration);
    }
}

/// Floats of the loss partials of an untiled iteration: seven reducing passes.
pub fn loss_partials(tiles: usize) -> usize {
    (kernels::loss::MAX_LOSS_RANGES + tiles.saturating_sub(1)) * MAX_REDUCE_GROUPS as usize
}

impl Plan {
    /// The plan of an untiled session at `width`×`height` with a painting of `style` (w, h),
    /// kernels and storage `v`; `channels`: each conv's (cin, cout).
    pub fn whole(width: usize, height: usize, style: (usize, usize), channels: &[(usize, usize)], v: Variant, settings: &Settings) -> Plan {
        let precision = v.precision;
        let mut b = Builder { buffers: Vec::new(), winograd: 0 };
        let hw = (width * height) as u64;
        let layers = layer_shapes(width, height, channels);
        // Each styled region's style passes write their own loss partials (five layers each).
        let styled = crate::settings::styled_paintings(settings).len().max(1);
        b.image_state(hw, settings, loss_partials(1 + 5 * (styled - 1)));
        b.network(Net::Photo, &layers, v, Life::Session);
        let largest = layers.iter().map(|l| 4 * l.out_len() as u64).max().unwrap_or(4);
        b.add(Buf::GradientPing(Net::Photo), largest, Life::Iteration);
        b.add(Buf::GradientPong(Net::Photo), largest, Life::Iteration);
        for l in layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
            let c = l.output.0;
            let split = GramSplit::new(c, l.output.1 * l.output.2);
            b.add(Buf::GramPartials(l.name.clone()), 4 * split.partial_len() as u64, Life::Iteration);
            b.add(Buf::StyleTarget(l.name.clone()), 4 * (c * c) as u64, Life::Session);
            b.add(Buf::GramDiff(l.name.clone()), 4 * (c * c) as u64, Life::Iteration);
        }
        if let Some(l) = layers.iter().find(|l| l.name == CONTENT_LAYER) {
            b.add(Buf::ContentTarget(0), precision.bytes() * l.out_len() as u64, Life::Session);
        }
        b.painting_grams(&layers, settings);
        let styled = crate::settings::styled_paintings(settings).len();
        if styled > 0 {
            let style_ls: Vec<&LayerShape> = layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())).collect();
            for l in &style_ls {
                for r in 0..styled {
                    b.add(Buf::RegionMask(l.name.clone(), r), 4 * (l.output.1 * l.output.2) as u64, Life::Session);
                }
            }
            let most = style_ls.iter().map(|l| l.out_len() as u64).max().unwrap_or(1);
            b.add(Buf::RegionFeatures, precision.bytes() * most, Life::Iteration);
            b.add(Buf::RegionGradient, 4 * most, Life::Iteration);
        }
        let style_layers = layer_shapes(style.0, style.1, channels);
        b.add(Buf::ContentRgba, 4 * hw, Life::Targets);
        b.add(Buf::StyleRgba, 4 * (style.0 * style.1) as u64, Life::Targets);
        b.add(Buf::StyleImage, 12 * (style.0 * style.1) as u64, Life::Targets);
        b.colour(hw, (style.0 * style.1) as u64, settings);
        b.network(Net::Painting, &style_layers, v, Life::Targets);
        b.guided_targets(&style_layers, settings);
        if !settings.style_masks.is_empty() {
            let most = style_layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())).map(|l| l.out_len() as u64).max().unwrap_or(1);
            b.add(Buf::StyleRegionFeatures, precision.bytes() * most, Life::Targets);
        }
        for l in style_layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
            let split = GramSplit::new(l.output.0, l.output.1 * l.output.2);
            b.add(Buf::StyleGramPartials(l.name.clone()), 4 * split.partial_len() as u64, Life::Targets);
        }
        Plan { buffers: b.finish(), grid: None, style_grid: None, exact: true }
    }

    /// A network's buffers alone (input copy, activations): for tools and tests that run the
    /// forward pass only.
    pub fn network(net: Net, width: usize, height: usize, channels: &[(usize, usize)], v: Variant) -> Plan {
        let mut b = Builder { buffers: Vec::new(), winograd: 0 };
        b.network(net, &layer_shapes(width, height, channels), v, Life::Session);
        Plan { buffers: b.finish(), grid: None, style_grid: None, exact: true }
    }

    /// A plan of the buffers listed as (name, bytes), all living as long as the session: for the
    /// parts that plan themselves (e.g. [`LbfgsConfig::buffers`]) used alone in tests.
    pub fn from_buffers(buffers: Vec<(Buf, u64)>) -> Plan {
        let buffers = buffers.into_iter().map(|(key, bytes)| BufferSpec { name: key.to_string(), key, bytes, life: Life::Session, windowed: false }).collect();
        Plan { buffers, grid: None, style_grid: None, exact: true }
    }

    /// The plan of a session that runs the network over tiles with cores of `core` px (the
    /// painting's targets too, with the same tiles' buffers).
    pub fn tiled(width: usize, height: usize, style: (usize, usize), channels: &[(usize, usize)], v: Variant, settings: &Settings, core: usize) -> Plan {
        let precision = v.precision;
        let mut b = Builder { buffers: Vec::new(), winograd: 0 };
        let hw = (width * height) as u64;
        let probe = layer_shapes(width.max(16), height.max(16), channels);
        let halo = halo_for(&probe, settings);
        let grid = TileGrid::new(width, height, core, halo);
        let style_grid = TileGrid::new(style.0, style.1, core, halo);
        let styled = crate::settings::styled_paintings(settings).len();
        b.image_state(hw, settings, loss_partials(grid.tiles.len() + 5 * styled.saturating_sub(1)));
        // The tile network, sized for the largest tile input of either grid.
        let (gw, gh) = grid.max_input();
        let (sw, sh) = style_grid.max_input();
        let (tw, th) = (gw.max(sw), gh.max(sh));
        let layers = layer_shapes(tw, th, channels);
        let j = strides(&layers);
        b.add(Buf::TileInput, 12 * (tw * th) as u64, Life::Session);
        b.network(Net::Tile, &layers, v, Life::Session);
        let largest = layers.iter().map(|l| 4 * l.out_len() as u64).max().unwrap_or(4);
        b.add(Buf::GradientPing(Net::Tile), largest, Life::Iteration);
        b.add(Buf::GradientPong(Net::Tile), largest, Life::Iteration);
        b.add(Buf::TileImageGradient, 12 * (tw * th) as u64, Life::Iteration);
        // Scratch for a layer's owned features (and their gradient), the largest over the layers
        // with a loss.
        let owned = |g: &TileGrid, i: usize| g.max_owned(j[i]);
        let loss_layer = |l: &LayerShape| STYLE_LAYERS.contains(&l.name.as_str()) || l.name == CONTENT_LAYER;
        let crop = layers.iter().enumerate().filter(|(_, l)| loss_layer(l)).map(|(i, l)| l.output.0 * owned(&grid, i).max(owned(&style_grid, i))).max().unwrap_or(1);
        b.add(Buf::TileCrop, precision.bytes() * crop as u64, Life::Session);
        b.add(Buf::TileCropGradient, 4 * crop as u64, Life::Iteration);
        if styled > 0 {
            // Regions: each styled region's masks at every style layer (whole image), Gram sums and
            // G − A; a tile's owned mask crop and the masked features and gradient.
            let whole = layer_shapes(width, height, channels);
            for l in whole.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
                let c = l.output.0;
                for r in 0..styled {
                    b.add(Buf::RegionMask(l.name.clone(), r), 4 * (l.output.1 * l.output.2) as u64, Life::Session);
                    b.add(Buf::RegionGramSum(l.name.clone(), r), 4 * (c * c) as u64, Life::Session);
                    b.add(Buf::RegionGramDiff(l.name.clone(), r), 4 * (c * c) as u64, Life::Iteration);
                }
            }
            // Style masks crop the painting's masks over the painting's tiles too.
            let guided = !settings.style_masks.is_empty();
            let owned_px = layers
                .iter()
                .enumerate()
                .filter(|(_, l)| STYLE_LAYERS.contains(&l.name.as_str()))
                .map(|(i, _)| owned(&grid, i).max(if guided { owned(&style_grid, i) } else { 0 }))
                .max()
                .unwrap_or(1);
            b.guided_targets(&layer_shapes(style.0, style.1, channels), settings);
            b.add(Buf::TileMaskCrop, 4 * owned_px as u64, Life::Session);
            b.add(Buf::TileMaskedCrop, precision.bytes() * crop as u64, Life::Session);
            b.add(Buf::TileMaskedGradient, 4 * crop as u64, Life::Iteration);
        }
        for (i, l) in layers.iter().enumerate().filter(|(_, l)| STYLE_LAYERS.contains(&l.name.as_str())) {
            let c = l.output.0;
            let parts = [&grid, &style_grid].iter().flat_map(|g| g.owned_sizes(j[i])).map(|(w, h)| GramSplit::new(c, (w * h).max(1)).partial_len()).max().unwrap_or(1);
            b.add(Buf::GramPartials(l.name.clone()), 4 * parts as u64, Life::Session);
            b.add(Buf::GramSum(l.name.clone()), 4 * (c * c) as u64, Life::Session);
            b.add(Buf::StyleTarget(l.name.clone()), 4 * (c * c) as u64, Life::Session);
            if styled == 0 {
                b.add(Buf::GramDiff(l.name.clone()), 4 * (c * c) as u64, Life::Iteration);
            }
        }
        b.painting_grams(&layers, settings);
        if let Some(i) = layers.iter().position(|l| l.name == CONTENT_LAYER) {
            let c = layers[i].output.0;
            for (k, t) in grid.tiles.iter().enumerate() {
                let n = t.owned(j[i], width, height).area();
                b.add(Buf::ContentTarget(k), precision.bytes() * (c * n) as u64, Life::Session);
            }
        }
        b.add_windowed(Buf::ContentRgba, 4 * hw, Life::Targets);
        b.add_windowed(Buf::StyleRgba, 4 * (style.0 * style.1) as u64, Life::Targets);
        b.add_windowed(Buf::StyleImage, 12 * (style.0 * style.1) as u64, Life::Targets);
        b.colour(hw, (style.0 * style.1) as u64, settings);
        Plan { buffers: b.finish(), grid: Some(grid), style_grid: Some(style_grid), exact: settings.tile_mode == TileMode::Exact }
    }

    /// The plan a session uses: tiled with `settings.tile_size` when set; else whole when it fits
    /// `budget`, else tiled with the largest core (from 2048 px down to 16) that fits. Fails with
    /// [`Error::TooLarge`] (naming the largest longer side that fits) when nothing fits.
    pub fn choose(width: usize, height: usize, style: (usize, usize), channels: &[(usize, usize)], v: Variant, settings: &Settings, budget: Budget) -> Result<Plan> {
        let plan = Self::candidates(width, height, style, channels, v, settings).map(|p| p.staged(budget)).find(|p| p.fits(budget));
        if let Some(p) = plan {
            return Ok(p);
        }
        // Name what stops the plan with the best chance (the smallest tiles).
        let worst = Self::candidates(width, height, style, channels, v, settings).last().expect("at least one candidate plan").staged(budget);
        let (name, bytes, limit) = if let Some((name, bytes, limit)) = worst.too_large(budget) {
            (name.to_string(), bytes, limit)
        } else {
            (crate::error::WHOLE_PLAN.to_string(), worst.peak() + budget.weights, budget.total)
        };
        // The largest longer side that fits, by bisection (the same answer whatever size was asked).
        let longer = width.max(height);
        let shortest = width.min(height).min(style.0).min(style.1).max(1);
        let fits_at = |side: usize| {
            let k = side as f64 / longer as f64;
            let sc = |v: usize| ((v as f64 * k).round() as usize).max(1);
            // Every side of both images at least 16 px (relu5_1 needs 16), as `sizes` demands.
            sc(shortest) >= 16 && Self::candidates(sc(width), sc(height), (sc(style.0), sc(style.1)), channels, v, settings).any(|p| p.staged(budget).fits(budget))
        };
        // Sizes on a 16-px grid, from the smallest where every side is 16 px: a handful of plans
        // even for 4096 px.
        let first = (16 * longer).div_ceil(shortest).div_ceil(16).max(1);
        let (mut lo, mut hi) = (0, longer.div_ceil(16));
        if first < hi && fits_at(16 * first) {
            lo = first;
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if fits_at(16 * mid) {
                    lo = mid
                } else {
                    hi = mid
                }
            }
        }
        let lo = 16 * lo;
        let fits = lo;
        Err(Error::TooLarge { width: width as u32, height: height as u32, buffer: name, bytes, limit, fits: fits as u32 })
    }

    fn candidates<'a>(width: usize, height: usize, style: (usize, usize), channels: &'a [(usize, usize)], v: Variant, settings: &'a Settings) -> impl Iterator<Item = Plan> + 'a {
        let longer = width.max(height).max(style.0).max(style.1);
        let forced = settings.tile_size as usize;
        let whole = (forced == 0).then(|| Self::whole(width, height, style, channels, v, settings));
        let cores: Vec<usize> = if forced > 0 { vec![forced] } else { TILE_CORES.iter().copied().filter(|&c| c < longer).collect() };
        whole.into_iter().chain(cores.into_iter().map(move |c| Self::tiled(width, height, style, channels, v, settings, c)))
    }

    /// Whether every buffer fits the device (bound whole: one binding; windowed: one buffer)
    /// and the peak (with the weights) fits the budget.
    pub fn fits(&self, budget: Budget) -> bool {
        self.too_large(budget).is_none() && self.peak().saturating_add(budget.weights) <= budget.total
    }

    /// The largest buffer over its limit on a device of `budget` (name, bytes, limit), if any.
    pub fn too_large(&self, budget: Budget) -> Option<(&str, u64, u64)> {
        let limit = |b: &BufferSpec| if b.windowed { budget.max_buffer } else { budget.max_binding };
        self.buffers.iter().filter(|b| b.bytes > limit(b)).max_by_key(|b| b.bytes).map(|b| (b.name.as_str(), b.bytes, limit(b)))
    }

    /// The plan on a device of `budget`: with whole-image buffers larger than one binding, the
    /// staged per-pixel kernels' two scratch buffers and room for their colour moments
    /// ([`crate::kernels::window`]). Unchanged otherwise.
    pub fn staged(mut self, budget: Budget) -> Plan {
        use crate::kernels::window::{moment_rows, needs_staging, stage_pixels, MAX_OFFSET_ALIGNMENT};
        let px_of = |key: Buf, bufs: &[BufferSpec]| bufs.iter().find(|b| b.key == key).map_or(0, |b| (b.bytes / 12) as usize);
        let (hw, shw) = (px_of(Buf::Image, &self.buffers), px_of(Buf::StyleImage, &self.buffers));
        if !needs_staging(budget.max_binding, hw) && !needs_staging(budget.max_binding, shw) {
            return self;
        }
        let px = stage_pixels(budget.max_binding, MAX_OFFSET_ALIGNMENT);
        for b in &mut self.buffers {
            let n = match b.key {
                Buf::ColourMomentsPhoto => hw,
                Buf::ColourMomentsPainting => shw,
                _ => continue,
            };
            b.bytes = b.bytes.max((4 * kernels::color::MOMENT_ROW * moment_rows(budget.max_binding, MAX_OFFSET_ALIGNMENT, n)) as u64);
        }
        for key in [Buf::StagingA, Buf::StagingB] {
            self.buffers.push(BufferSpec { name: key.to_string(), key, bytes: 12 * px as u64, life: Life::Session, windowed: false });
        }
        self
    }

    /// Bytes of every buffer (what the session creates, over its life).
    pub fn total(&self) -> u64 {
        self.buffers.iter().map(|b| b.bytes).sum()
    }

    /// Bytes of the buffers of one lifetime.
    pub fn bytes_of(&self, life: Life) -> u64 {
        self.buffers.iter().filter(|b| b.life == life).map(|b| b.bytes).sum()
    }

    /// The most GPU memory the session holds at once: its session-long buffers with either the
    /// targets' (while they are computed) or the iteration's (after), bytes.
    pub fn peak(&self) -> u64 {
        self.bytes_of(Life::Session) + self.bytes_of(Life::Targets).max(self.bytes_of(Life::Iteration))
    }

    /// Bytes held while the session iterates (after the targets are computed).
    pub fn resident(&self) -> u64 {
        self.bytes_of(Life::Session) + self.bytes_of(Life::Iteration)
    }

    /// The largest buffer (name, bytes).
    pub fn largest(&self) -> (&str, u64) {
        self.buffers.iter().max_by_key(|b| b.bytes).map(|b| (b.name.as_str(), b.bytes)).unwrap_or(("", 0))
    }

    /// One line for people: `whole image, 812.3 MiB` or `6 tiles of 512 px (halo 80 px), 1.2
    /// GiB`, with `weights` bytes added to the peak.
    pub fn summary(&self, weights: u64) -> String {
        let total = (self.peak() + weights) as f64 / (1u64 << 20) as f64;
        let amount = if total >= 1024.0 { format!("{:.2} GiB", total / 1024.0) } else { format!("{total:.1} MiB") };
        match &self.grid {
            None => format!("whole image, {amount}"),
            Some(g) => format!("{} tile{} of {} px (halo {} px), {amount}", g.tiles.len(), if g.tiles.len() == 1 { "" } else { "s" }, g.core, g.halo),
        }
    }

    /// The pixels the network processes per iteration, forward and backward counted as one: the
    /// image's on the whole image; over tiles, every tile input's (halos included), and half as
    /// much again for the exact mode's forward-only first pass (a conv's input gradient costs as
    /// much as its forward pass).
    pub fn work(&self) -> f64 {
        match &self.grid {
            None => self.buffers.iter().find(|b| b.key == Buf::DisplayRgba).map_or(0.0, |b| (b.bytes / 4) as f64),
            Some(g) => {
                let inputs: f64 = g.tiles.iter().map(|t| (t.input_size().0 * t.input_size().1) as f64).sum();
                if self.exact {
                    1.5 * inputs
                } else {
                    inputs
                }
            }
        }
    }

    /// Tiles per iteration (1 when untiled).
    pub fn tile_count(&self) -> usize {
        self.grid.as_ref().map_or(1, |g| g.tiles.len())
    }

    /// Creates the plan's session and targets buffers on `gpu` (storage, copy source and
    /// destination, zeroed); the iteration's follow with [`Arena::begin_iteration`].
    pub fn allocate(&self, gpu: &Gpu) -> Arena {
        let now = |b: &&BufferSpec| b.life != Life::Iteration;
        let buffers = self.buffers.iter().filter(now).map(|b| (b.key.clone(), (gpu.storage(&b.name, b.bytes), b.life))).collect();
        let later = self.buffers.iter().filter(|b| b.life == Life::Iteration).cloned().collect();
        Arena::new(buffers, later)
    }
}

// ---- a run's sizes, and the plan that fits them

/// A width and a height in pixels.
pub type Size = (u32, u32);

/// The output's size for a photo of `w`×`h` at `settings.size`, and each painting's (`styles`:
/// their sizes, each at its own scale, [`Settings::style_scale_of`]). Fails if a side would be
/// under 16 px (relu5_1 needs 16).
pub fn sizes(w: u32, h: u32, styles: &[Size], settings: &Settings) -> Result<(Size, Vec<Size>)> {
    let content = fit_size(w, h, settings.size);
    let mut out = Vec::new();
    for (k, &(sw, sh)) in styles.iter().enumerate() {
        let style_size = ((settings.size as f32 * settings.style_scale_of(k)).round() as u32).max(16);
        let style = fit_size(sw, sh, style_size);
        check_sides(content, style).map_err(|e| match e {
            Error::Settings(m) if styles.len() > 1 => Error::Settings(m.replace("the style image", &format!("painting {}", k + 1))),
            e => e,
        })?;
        out.push(style);
    }
    Ok((content, out))
}

/// The largest width and the largest height of `sizes` (what one set of buffers serves them all).
pub fn bounding(sizes: &[(u32, u32)]) -> (u32, u32) {
    sizes.iter().fold((0, 0), |(a, b), &(w, h)| (a.max(w), b.max(h)))
}

fn check_sides(content: (u32, u32), style: (u32, u32)) -> Result<()> {
    for (what, (a, b)) in [("content", content), ("style", style)] {
        if a.min(b) < 16 {
            return Err(Error::Settings(format!("the {what} image becomes {a}×{b} px; both sides must be at least 16 px (raise the size or use a less elongated image)")));
        }
    }
    Ok(())
}

/// The memory plan of a session for a `w`×`h` photo and paintings of `styles` (their sizes before
/// resizing; one set of painting buffers serves them all, one after the other) at `settings` on
/// `engine` ([`Plan::choose`] against [`Engine::budget`]): whole, or over tiles.
pub fn plan_for(engine: &Engine, w: u32, h: u32, styles: &[Size], settings: &Settings) -> Result<Plan> {
    let ((cw, ch), ss) = sizes(w, h, styles, settings)?;
    let (sw, sh) = bounding(&ss);
    Plan::choose(cw as usize, ch as usize, (sw as usize, sh as usize), &engine.channels(), engine.gpu.variant(), settings, engine.budget())
}

/// The settings and memory plan of one scale ([`plan_for`]): `at` itself, or — when L-BFGS does
/// not fit the memory budget at that size (its 2m + 2 image-sized buffers are not shrunk by tiles)
/// — [`Settings::with_adam`], Adam with twice the iterations. Fails like [`plan_for`] when neither
/// fits.
pub fn fitted(engine: &Engine, w: u32, h: u32, styles: &[Size], at: &Settings) -> Result<(Settings, Plan)> {
    match plan_for(engine, w, h, styles, at) {
        Err(Error::TooLarge { .. }) if at.optimizer == Optimizer::Lbfgs => {
            let adam = at.with_adam();
            plan_for(engine, w, h, styles, &adam).map(|p| (adam, p))
        }
        r => r.map(|p| (at.clone(), p)),
    }
}
