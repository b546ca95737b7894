//! The settings of a run and the types they are made of: what a person chooses (sizes, weights,
//! optimiser, colours, regions, tiles), checked and turned into a schedule of scales. The bottom of
//! the crate's stack (ARCHITECTURE.md): it imports nothing from the crate but the error type, so
//! every layer above (the plan, the tiles, the kernels, the session, the front ends) may use it.

use crate::error::{Error, Result};

/// Most paintings a run blends ([`crate::kernels::gram_blend`] combines up to this many).
pub const MAX_PAINTINGS: usize = 4;

/// 2×2 pooling kind used between blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Max pooling (the network as trained).
    #[default]
    Max,
    /// Average pooling (Gatys et al. suggest it for smoother gradients).
    Avg,
}

/// How the image being optimised starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The content photo.
    #[default]
    Content,
    /// Uniform white noise over 0..255 (seeded).
    Noise,
}

/// The optimiser of the image's pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Adam (β₁ 0.9, β₂ 0.999), default step 4 pixel units. It needs about twice L-BFGS's
    /// iterations for the same loss (BENCHMARKS.md, "The default optimiser, on evidence").
    Adam,
    /// L-BFGS with a fixed step (default 1: the quasi-Newton step), entirely on the GPU, with a
    /// safeguard: an iterate whose loss rose by more than 1% or is not finite is taken back by
    /// half its step (`shaders/lbfgs.wgsl`). The default: the same loss in half of Adam's time.
    #[default]
    Lbfgs,
}

impl Optimizer {
    /// The default step of this optimiser (`Settings::lr` when not set).
    pub fn default_lr(self) -> f32 {
        match self {
            Optimizer::Adam => 4.0,
            Optimizer::Lbfgs => 1.0,
        }
    }
}

/// How the network runs over tiles when an image is too large for the memory budget (or
/// `tile_size` asks for tiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TileMode {
    /// Two passes per iteration: every tile's forward pass accumulates the whole image's Gram
    /// matrices, then every tile's forward and backward pass uses them; halos cover the receptive
    /// field of the deepest layer with a loss. Equals the untiled computation.
    #[default]
    Exact,
    /// One pass per tile per iteration with the Gram matrices of the previous iteration and
    /// narrower halos ([`crate::tiles::FAST_HALO`]): about half the work, approximate gradients.
    Fast,
}

/// One region of a region mask: the mask's pixels near `color` match painting `painting` (an
/// index into the run's paintings), or keep the photo (`None`: content only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub color: [u8; 3],
    pub painting: Option<usize>,
}

/// Whose colours the result has (Gatys et al. 2017, "Controlling Perceptual Factors…", §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colors {
    /// The painting's (the method as published in 2016).
    #[default]
    Painting,
    /// The photo's, by luminance-only transfer: the photo's and the painting's luminance (YIQ's
    /// Y; the painting's matched to the photo's mean and variance) on all three channels, a grey
    /// image optimised (the gradient w.r.t. the luminance), shown and saved with the photo's
    /// chroma (I, Q).
    Luminance,
    /// The photo's, by matching the painting's palette to the photo's (mean and covariance of RGB)
    /// before its Gram matrices are computed.
    Match,
    /// The photo's, as a post-process: the result's luminance with the photo's chroma (YIQ), as
    /// jcjohnson/neural-style's `-original_colors`.
    Swap,
}

impl Colors {
    /// Whether the photo is kept to show the result with its chroma.
    pub fn keeps_photo(self) -> bool {
        matches!(self, Colors::Luminance | Colors::Swap)
    }

    /// Whether the painting's colours are fitted to the photo's ([`crate::kernels::color::color_fit`]).
    pub fn fits(self) -> bool {
        matches!(self, Colors::Luminance | Colors::Match)
    }
}

/// Decay of the iterate average when [`Settings::average`] is on.
pub const AVERAGE_DECAY: f32 = 0.99;

/// Everything that defines a run. `Default` is the tuned recipe (see README.md, "Defaults").
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Longer side of the output in pixels (16..=4096).
    pub size: u32,
    /// Optimisation steps at the final scale (see [`Settings::schedule`] for the others).
    pub iterations: u32,
    /// α: weight of the content loss (mean squared error of relu4_2 features).
    pub content_weight: f32,
    /// β: weight of the style loss (Σ_l w_l · mean squared error of Gram matrices).
    pub style_weight: f32,
    /// τ: weight of the total-variation loss (on the 0..255-scale image).
    pub tv_weight: f32,
    /// w_l for relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
    pub style_layer_weights: [f32; 5],
    /// γ: weight of the temporal loss of a video frame after the first (Ruder et al. 2016: the
    /// mean over the image of c·(x − w)², w the previous frame's result warped into this one, c
    /// where that warp is reliable; 0..255 scale); 0 = none. A γ > 0 needs that warped result
    /// ([`crate::session::Inputs::previous`]) at the output size, so one scale.
    pub temporal_weight: f32,
    /// The optimiser's step (pixel units, 0..255 scale); `None`: [`Optimizer::default_lr`].
    pub lr: Option<f32>,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// L-BFGS correction pairs kept (1..=50).
    pub history: u32,
    /// Show and save the bias-corrected exponential moving average of the iterates (decay
    /// [`AVERAGE_DECAY`]) instead of the last iterate; each new scale starts from it. Off by
    /// default: at a few hundred iterations per scale the average lags the iterate and scores a
    /// higher loss (BENCHMARKS.md, "Optimisers, scales, averaging").
    pub average: bool,
    /// Between scales, resample Adam's moments to the new size (and keep its step count) instead
    /// of starting them afresh (see BENCHMARKS.md for which is better).
    pub resample_moments: bool,
    /// Coarse-to-fine scales: 0 = as many as fit from `min_size` up in steps of √2; 1 = one scale
    /// (the requested size only); N = the N sizes size/√2^(N−1) … size.
    pub scales: u32,
    /// The smallest scale's longer side when `scales` is 0.
    pub min_size: u32,
    /// An explicit schedule of (longer side, iterations), ascending; overrides `size`,
    /// `iterations` and `scales` when not empty.
    pub schedule: Vec<(u32, u32)>,
    /// Starting image.
    pub init: Init,
    /// Seed for the noise initialisation.
    pub seed: u64,
    /// Pooling between blocks.
    pub pooling: Pooling,
    /// The style image is resized so its longer side is `size × style_scale`.
    pub style_scale: f32,
    /// Whose colours the result has.
    pub colors: Colors,
    /// Blend weights of several paintings (up to [`MAX_PAINTINGS`]), in their
    /// order; normalised to sum 1. Empty: one painting. Its length is the number of paintings.
    pub style_blend: Vec<f32>,
    /// Each painting's own scale (`style_scale` for those not listed).
    pub style_scales: Vec<f32>,
    /// Region control: the colours of the region mask given with the run and what each region
    /// matches ([`crate::masks`]); the mask's other pixels take the first painting. Empty: none. With
    /// regions each region matches its own painting (the blend weights only count the paintings),
    /// and the network runs on the whole image or over tiles like the rest.
    pub regions: Vec<Region>,
    /// Which paintings come with a style mask ([`crate::masks::Masks`]): set from the run's masks by
    /// [`crate::masks::Masks::settle`], not by people (not serialised).
    #[serde(skip)]
    pub style_masks: Vec<bool>,
    /// Tile cores of this many pixels (a multiple of 16): 0 = tiles only when the whole image
    /// does not fit the memory budget ([`crate::plan::Plan::choose`]).
    pub tile_size: u32,
    /// How tiles run.
    pub tile_mode: TileMode,
    /// Tile halo in pixels (a multiple of 16); 0 = the mode's ([`crate::tiles::halo_for`]).
    pub tile_halo: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            size: 256,
            iterations: 100,
            content_weight: 1.0,
            style_weight: 30.0,
            tv_weight: 20.0,
            style_layer_weights: [1.0, 0.75, 0.2, 0.2, 0.2],
            temporal_weight: 0.0,
            lr: None,
            optimizer: Optimizer::Lbfgs,
            history: 10,
            average: false,
            resample_moments: false,
            scales: 0,
            min_size: 128,
            schedule: Vec::new(),
            init: Init::Content,
            seed: 0,
            pooling: Pooling::Max,
            style_scale: 1.0,
            colors: Colors::Painting,
            style_blend: Vec::new(),
            style_scales: Vec::new(),
            regions: Vec::new(),
            style_masks: Vec::new(),
            tile_size: 0,
            tile_mode: TileMode::Exact,
            tile_halo: 0,
        }
    }
}

/// The settings a live run can change ([`Settings::steered`]), by their serialised names: the one
/// list the page and the JS API read (`StyleTransfer.steerable`).
pub const STEERABLE: [&str; 6] = ["content_weight", "style_weight", "tv_weight", "style_layer_weights", "lr", "style_blend"];

impl Settings {
    /// These settings with `from`'s loss weights, style layer weights and step: what a live run
    /// can change ([`crate::Session::steer`]; the fields named in [`STEERABLE`]).
    pub fn steered(&self, from: &Settings) -> Settings {
        Settings {
            content_weight: from.content_weight,
            style_weight: from.style_weight,
            tv_weight: from.tv_weight,
            style_layer_weights: from.style_layer_weights,
            lr: from.lr,
            style_blend: from.style_blend.clone(),
            ..self.clone()
        }
    }

    /// How many paintings the run blends (the length of `style_blend`, at least 1).
    pub fn paintings(&self) -> usize {
        self.style_blend.len().max(1)
    }

    /// Painting `k`'s weight in the blend (the normalised `style_blend`; 1 for a single painting).
    pub fn blend_weight(&self, k: usize) -> f32 {
        if self.style_blend.is_empty() {
            return if k == 0 { 1.0 } else { 0.0 };
        }
        self.style_blend.get(k).map_or(0.0, |w| w / self.style_blend.iter().sum::<f32>())
    }

    /// Painting `k`'s scale relative to the output.
    pub fn style_scale_of(&self, k: usize) -> f32 {
        self.style_scales.get(k).copied().unwrap_or(self.style_scale)
    }

    /// The optimiser's step: `lr`, or the optimiser's default.
    pub fn step_size(&self) -> f32 {
        self.lr.unwrap_or(self.optimizer.default_lr())
    }

    /// The coarse-to-fine schedule: (longer side, iterations) per scale, ascending, ending at the
    /// output size. Without an explicit `schedule`, scale k below the final one (k = 1, 2, …) has
    /// longer side size/√2^k and min(2, √2^k)·`iterations` iterations (rounded): more at the
    /// small scales, where they are cheap, e.g. size 256, 100 iterations: 128:200, 181:141,
    /// 256:100. With `scales` 0 the smallest scale is the last one not under `min_size`.
    pub fn schedule(&self) -> Vec<(u32, u32)> {
        if !self.schedule.is_empty() {
            return self.schedule.clone();
        }
        let count = match self.scales {
            0 => {
                let ratio = self.size as f64 / self.min_size as f64;
                if ratio <= 1.0 {
                    1
                } else {
                    1 + (2.0 * ratio.log2() + 1e-9).floor() as u32
                }
            }
            n => n,
        };
        (0..count)
            .rev()
            .map(|k| {
                let f = std::f64::consts::SQRT_2.powi(k as i32);
                let size = (self.size as f64 / f).round() as u32;
                (size, (self.iterations as f64 * f.min(2.0)).round() as u32)
            })
            .collect()
    }

    /// The output size (the last scale's longer side).
    pub fn final_size(&self) -> u32 {
        self.schedule.last().map_or(self.size, |s| s.0)
    }

    /// This run at one scale: the size given, one scale, no explicit schedule.
    pub fn at_scale(&self, size: u32, iterations: u32) -> Settings {
        Settings { size, iterations, scales: 1, schedule: Vec::new(), ..self.clone() }
    }

    /// These settings with Adam instead of L-BFGS: twice the iterations (what Adam needs for the
    /// same loss, BENCHMARKS.md "The default optimiser, on evidence"; at most the 1,000,000 that
    /// [`Self::validate`] allows) and Adam's default step.
    pub fn with_adam(&self) -> Settings {
        Settings { optimizer: Optimizer::Adam, iterations: (2 * self.iterations).min(1_000_000), lr: None, ..self.clone() }
    }

    /// Checks ranges; returns [`Error::Settings`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        let px = |what: &str, v: u32| ensure((16..=4096).contains(&v), || format!("{what} {v} is out of range: use 16 to 4096 pixels"));
        let its = |what: &str, v: u32| ensure(v <= 1_000_000, || format!("{what}{v} iterations is absurd; use at most 1,000,000"));
        let finite = |w: &f32| w.is_finite() && *w >= 0.0;
        px("size", self.size)?;
        its("", self.iterations)?;
        for (name, v) in [("content weight", self.content_weight), ("style weight", self.style_weight), ("tv weight", self.tv_weight), ("temporal weight", self.temporal_weight)] {
            ensure(finite(&v), || format!("{name} must be a finite number ≥ 0, got {v}"))?;
        }
        ensure(self.style_layer_weights.iter().all(finite), || "style layer weights must be finite numbers ≥ 0".into())?;
        let lr = self.lr.unwrap_or(1.0);
        ensure(lr.is_finite() && lr > 0.0, || format!("learning rate must be > 0, got {lr}"))?;
        ensure((1..=50).contains(&self.history), || format!("L-BFGS history must be 1 to 50 pairs, got {}", self.history))?;
        ensure(self.scales <= 12, || format!("{} scales is too many; use at most 12", self.scales))?;
        px("minimum size", self.min_size)?;
        for (i, &(size, n)) in self.schedule.iter().enumerate() {
            px("schedule size", size)?;
            its("schedule: ", n)?;
            ensure(i == 0 || size > self.schedule[i - 1].0, || "schedule sizes must increase (e.g. 128:300,256:200,512:150)".into())?;
        }
        for (what, v) in [("tile size", self.tile_size), ("tile halo", self.tile_halo)] {
            ensure(v % 16 == 0 && v <= 4096, || format!("{what} {v} must be a multiple of 16 up to 4096 (0 = automatic)"))?;
        }
        for &v in std::iter::once(&self.style_scale).chain(&self.style_scales) {
            ensure(v.is_finite() && (0.1..=4.0).contains(&v), || format!("style scale must be between 0.1 and 4, got {v}"))?;
        }
        ensure(self.style_blend.len() <= MAX_PAINTINGS && self.style_scales.len() <= MAX_PAINTINGS, || format!("at most {MAX_PAINTINGS} paintings can be blended"))?;
        ensure(self.regions.len() <= 4, || "at most 4 region colours".into())?;
        if let Some(r) = self.regions.iter().find(|r| r.painting.is_some_and(|p| p >= self.paintings())) {
            return Err(Error::Settings(format!("region {:?} names painting {} of {}", r.color, r.painting.unwrap_or(0) + 1, self.paintings())));
        }
        let blend_ok = self.style_blend.iter().all(finite) && (self.style_blend.is_empty() || self.style_blend.iter().sum::<f32>() > 0.0);
        ensure(blend_ok, || "blend weights must be numbers ≥ 0 with a positive sum (e.g. 0.7,0.3)".into())
    }
}

/// `Ok` if `ok`, else [`Error::Settings`] with `message()`.
pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::Settings(message()))
    }
}

// ---- region queries (which regions are styled, by which painting, which keep the photo)

/// The painting each styled region matches, in [`crate::masks::styled_regions`]' order (the rest last: the
/// first painting).
pub fn styled_paintings(settings: &Settings) -> Vec<usize> {
    if settings.regions.is_empty() {
        return Vec::new();
    }
    settings.regions.iter().filter_map(|r| r.painting).chain([0]).collect()
}

/// Whether styled region `r` (in [`crate::masks::styled_regions`]' order) matches a part of its painting: its
/// painting has a style mask ([`Settings::style_masks`]).
pub fn guided_by_painting(settings: &Settings, r: usize) -> bool {
    styled_paintings(settings).get(r).is_some_and(|&p| settings.style_masks.get(p).copied().unwrap_or(false))
}

/// Whether the settings' regions keep the photo anywhere (a region without a painting).
pub fn keeps_photo(regions: &[Region]) -> bool {
    regions.iter().any(|r| r.painting.is_none())
}

#[cfg(test)]
mod steerable_tests {
    use super::*;

    /// `steered` copies exactly the fields [`STEERABLE`] names.
    #[test]
    fn steered_copies_exactly_the_steerable_fields() {
        let a = Settings::default();
        let b = Settings {
            content_weight: 2.0,
            style_weight: 3.0,
            tv_weight: 4.0,
            style_layer_weights: [0.5; 5],
            lr: Some(9.0),
            style_blend: vec![0.5, 0.5],
            size: 99,
            seed: 7,
            ..a.clone()
        };
        let (ja, jb) = (serde_json::to_value(&a).unwrap(), serde_json::to_value(a.steered(&b)).unwrap());
        let changed: Vec<&str> = ja.as_object().unwrap().iter().filter(|(k, v)| jb.get(k.as_str()) != Some(v)).map(|(k, _)| k.as_str()).collect();
        let mut want = STEERABLE.to_vec();
        want.sort();
        assert_eq!(changed, want);
    }
}
