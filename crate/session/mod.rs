//! A style-transfer session: settings → targets computed once → `step(n)` → losses and the current
//! image. The iteration is a fixed list of dispatches built once; `step(n)` encodes it n times into
//! one command buffer, so the GPU never waits for the CPU inside the loop.

use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::kernels::{self, loss::SLOT_TOTALS};
use crate::plan::Plan;
use crate::vgg::{fit_size, Engine, Network, Pooling};
use image::RgbaImage;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

mod color;
mod iteration;
pub mod keep;
pub mod regions;
mod run;
pub mod steer;
mod targets;
mod tiled;

pub use crate::kernels::MEAN_BGR;
pub use iteration::{ImageBuffers, Iteration, IterationBuffers, PaintingGuide, RegionGpu};
pub use regions::Masks;
pub use run::{resize_planar, Run, Scale};
pub use color::ColourBuffers;
pub use targets::Targets;

/// Sessions alive in this process (each holds its GPU buffers until dropped).
static LIVE_SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// GPU bytes of the sessions alive ([`Session::peak_bytes`] each, weights included).
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

/// How many sessions are alive (created and not yet dropped): what holds GPU memory.
pub fn live_sessions() -> usize {
    LIVE_SESSIONS.load(Ordering::SeqCst)
}

/// The GPU memory the live sessions hold, in bytes (their plans' totals).
pub fn live_session_bytes() -> u64 {
    LIVE_BYTES.load(Ordering::SeqCst)
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
    /// Adam (β₁ 0.9, β₂ 0.999), default step 4 pixel units.
    #[default]
    Adam,
    /// L-BFGS with a fixed step (default 1: the quasi-Newton step), entirely on the GPU.
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

/// Adam's moments m and v (`[3][h][w]`) and its `[8]` state, read back.
pub type AdamState = (Vec<f32>, Vec<f32>, Vec<f32>);

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
    /// Blend weights of several paintings (up to [`crate::kernels::MAX_PAINTINGS`]), in their
    /// order; normalised to sum 1. Empty: one painting. Its length is the number of paintings.
    pub style_blend: Vec<f32>,
    /// Each painting's own scale (`style_scale` for those not listed).
    pub style_scales: Vec<f32>,
    /// Region control: the colours of the region mask given with the run and what each region
    /// matches ([`regions`]); the mask's other pixels take the first painting. Empty: none. With
    /// regions each region matches its own painting (the blend weights only count the paintings),
    /// and the network runs on the whole image (no tiles).
    pub regions: Vec<Region>,
    /// Which paintings come with a style mask ([`regions::Masks`]): set from the run's masks by
    /// [`regions::Masks::settle`], not by people (not serialised).
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
            iterations: 200,
            content_weight: 1.0,
            style_weight: 30.0,
            tv_weight: 20.0,
            style_layer_weights: [1.0, 0.75, 0.2, 0.2, 0.2],
            lr: None,
            optimizer: Optimizer::Adam,
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

impl Settings {
    /// These settings with `from`'s loss weights, style layer weights and step: what a live run
    /// can change ([`Session::steer`]).
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
                if ratio <= 1.0 { 1 } else { 1 + (2.0 * ratio.log2() + 1e-9).floor() as u32 }
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

    /// Checks ranges; returns [`Error::Settings`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Settings(m));
        if !(16..=4096).contains(&self.size) {
            return bad(format!("size {} is out of range: use 16 to 4096 pixels", self.size));
        }
        if self.iterations > 1_000_000 {
            return bad(format!("{} iterations is absurd; use at most 1,000,000", self.iterations));
        }
        for (name, v) in [("content weight", self.content_weight), ("style weight", self.style_weight), ("tv weight", self.tv_weight)] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} must be a finite number ≥ 0, got {v}"));
            }
        }
        if self.style_layer_weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return bad("style layer weights must be finite numbers ≥ 0".into());
        }
        if let Some(lr) = self.lr {
            if !lr.is_finite() || lr <= 0.0 {
                return bad(format!("learning rate must be > 0, got {lr}"));
            }
        }
        if !(1..=50).contains(&self.history) {
            return bad(format!("L-BFGS history must be 1 to 50 pairs, got {}", self.history));
        }
        if self.scales > 12 {
            return bad(format!("{} scales is too many; use at most 12", self.scales));
        }
        if !(16..=4096).contains(&self.min_size) {
            return bad(format!("minimum size {} is out of range: use 16 to 4096 pixels", self.min_size));
        }
        for (i, &(size, its)) in self.schedule.iter().enumerate() {
            if !(16..=4096).contains(&size) {
                return bad(format!("schedule size {size} is out of range: use 16 to 4096 pixels"));
            }
            if its > 1_000_000 {
                return bad(format!("schedule: {its} iterations is absurd; use at most 1,000,000"));
            }
            if i > 0 && size <= self.schedule[i - 1].0 {
                return bad("schedule sizes must increase (e.g. 128:300,256:200,512:150)".into());
            }
        }
        for (what, v) in [("tile size", self.tile_size), ("tile halo", self.tile_halo)] {
            if v % 16 != 0 || v > 4096 {
                return bad(format!("{what} {v} must be a multiple of 16 up to 4096 (0 = automatic)"));
            }
        }
        for &v in std::iter::once(&self.style_scale).chain(&self.style_scales) {
            if !v.is_finite() || !(0.1..=4.0).contains(&v) {
                return bad(format!("style scale must be between 0.1 and 4, got {v}"));
            }
        }
        let most = crate::kernels::MAX_PAINTINGS;
        if self.style_blend.len() > most || self.style_scales.len() > most {
            return bad(format!("at most {most} paintings can be blended"));
        }
        if self.regions.len() > 4 {
            return bad("at most 4 region colours".into());
        }
        if let Some(r) = self.regions.iter().find(|r| r.painting.is_some_and(|p| p >= self.paintings())) {
            return bad(format!("region {:?} names painting {} of {}", r.color, r.painting.unwrap_or(0) + 1, self.paintings()));
        }
        if self.style_blend.iter().any(|w| !w.is_finite() || *w < 0.0) || (!self.style_blend.is_empty() && self.style_blend.iter().sum::<f32>() <= 0.0) {
            return bad("blend weights must be numbers ≥ 0 with a positive sum (e.g. 0.7,0.3)".into());
        }
        Ok(())
    }
}

/// Loss values of one iterate, as defined in README.md.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Losses {
    /// Iterations applied to the image these losses were measured on (0 = the initial image).
    pub iteration: u32,
    /// mean (F − P)² at relu4_2.
    pub content: f32,
    /// Σ_l w_l · mean (G_l − A_l)².
    pub style: f32,
    /// Σ squared neighbour differences / (3·H·W).
    pub tv: f32,
    /// α·content + β·style + τ·tv.
    pub total: f32,
}

/// Output size for a content image of `w`×`h` at `settings.size`, and the style size for a style
/// image of `sw`×`sh` (the first painting's scale). Fails if a side would be under 16 px (relu5_1
/// needs 16).
pub fn sizes(w: u32, h: u32, sw: u32, sh: u32, settings: &Settings) -> Result<((u32, u32), (u32, u32))> {
    painting_sizes(w, h, &[(sw, sh)], settings).map(|(c, s)| (c, s[0]))
}

/// A width and a height in pixels.
pub type Size = (u32, u32);

/// [`sizes`] for several paintings (`styles`, each at its own scale): the output's size and each
/// painting's.
pub fn painting_sizes(w: u32, h: u32, styles: &[Size], settings: &Settings) -> Result<(Size, Vec<Size>)> {
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
            return Err(Error::Settings(format!(
                "the {what} image becomes {a}×{b} px; both sides must be at least 16 px (raise the size or use a less elongated image)"
            )));
        }
    }
    Ok(())
}

/// The memory plan of a session for a `w`×`h` photo and a painting of `style` (w, h) at
/// `settings` on `engine` ([`Plan::choose`] against [`Engine::budget`]): whole, or over tiles.
pub fn plan_for(engine: &Engine, w: u32, h: u32, style: (u32, u32), settings: &Settings) -> Result<Plan> {
    plan_for_paintings(engine, w, h, &[style], settings)
}

/// [`plan_for`] with several paintings (`styles`, their sizes before resizing): one set of
/// painting buffers serves them all, one after the other.
pub fn plan_for_paintings(engine: &Engine, w: u32, h: u32, styles: &[(u32, u32)], settings: &Settings) -> Result<Plan> {
    let ((cw, ch), ss) = painting_sizes(w, h, styles, settings)?;
    let (sw, sh) = bounding(&ss);
    Plan::choose(cw as usize, ch as usize, (sw as usize, sh as usize), &engine.channels(), engine.gpu.precision, settings, engine.budget())
}

/// A running optimisation. See the module docs.
pub struct Session {
    engine: Rc<Engine>,
    settings: Settings,
    width: usize,
    height: usize,
    style_size: (usize, usize),
    plan: Plan,
    net: Option<Network>,
    x: wgpu::Buffer,
    /// The iterate average with averaging on; else a placeholder the optimiser binds.
    avg: wgpu::Buffer,
    /// What is shown and saved: `avg` with averaging on, else `x`.
    shown: wgpu::Buffer,
    grad_x: wgpu::Buffer,
    losses: wgpu::Buffer,
    rgba: wgpu::Buffer,
    iteration_plan: Iteration,
    /// Postprocessing (or the colour display) of what is shown into `rgba`.
    display_op: Vec<Dispatch>,
    /// The photo's map to grey (luminance transfer), to apply to images set from outside.
    grey: Vec<Dispatch>,
    /// The scratch of the windowed per-pixel kernels (images larger than one binding).
    staging: Option<kernels::window::Staging>,
    /// With several paintings: the blend of their Grams into the style targets (run again when
    /// the blend weights are steered).
    blend: Vec<Dispatch>,
    /// Regions that keep the photo: what makes any image set keep it ([`keep::Keep::apply`]).
    keep: Option<keep::Keep>,
    /// Their mask on the GPU, bound by the optimiser's dispatches.
    _keep_mask: Option<wgpu::Buffer>,
    iteration: u32,
    evaluated_at: Option<u32>,
}

impl Drop for Session {
    fn drop(&mut self) {
        LIVE_SESSIONS.fetch_sub(1, Ordering::SeqCst);
        LIVE_BYTES.fetch_sub(self.peak_bytes(), Ordering::SeqCst);
    }
}

impl Session {
    /// Resizes the images (Lanczos3, aspect kept), checks the buffer plan against the device
    /// limits, creates every buffer and dispatch, and submits the one-time work: the targets
    /// ([`Targets::compute`]) and the initial image. Builds the iteration ([`Iteration::build`]).
    /// Nothing is read back.
    pub fn new(engine: Rc<Engine>, content: &RgbaImage, style: &RgbaImage, settings: &Settings) -> Result<Session> {
        Session::with_paintings(engine, content, std::slice::from_ref(style), settings)
    }

    /// [`Self::new`] with several paintings (as many as `settings.style_blend` has weights, at
    /// most [`crate::kernels::MAX_PAINTINGS`]): the style targets are their Gram matrices blended
    /// by those weights, each painting at its own scale ([`Settings::style_scale_of`]).
    pub fn with_paintings(engine: Rc<Engine>, content: &RgbaImage, paintings: &[RgbaImage], settings: &Settings) -> Result<Session> {
        Session::with_regions(engine, content, paintings, &Masks::default(), settings)
    }

    /// [`Self::with_paintings`] with masks ([`regions::Masks`]): a region mask (any size; resized
    /// to the output's by nearest neighbour) for `settings.regions` ([`regions`]), and style masks
    /// over the paintings in the same colours.
    pub fn with_regions(engine: Rc<Engine>, content: &RgbaImage, paintings: &[RgbaImage], masks: &Masks, settings: &Settings) -> Result<Session> {
        settings.validate()?;
        let settings = &masks.settle(settings)?;
        if paintings.is_empty() || paintings.len() != settings.paintings() {
            return Err(Error::Settings(format!(
                "{} painting(s) need as many blend weights (got {}): give one weight per painting, e.g. 0.7,0.3",
                paintings.len(),
                settings.style_blend.len()
            )));
        }
        let gpu = &engine.gpu;
        let dims: Vec<(u32, u32)> = paintings.iter().map(|p| (p.width(), p.height())).collect();
        let ((w, h), style_sizes) = painting_sizes(content.width(), content.height(), &dims, settings)?;
        let (sw, sh) = bounding(&style_sizes);
        let (w, h, sw, sh) = (w as usize, h as usize, sw as usize, sh as usize);
        let plan = Plan::choose(w, h, (sw, sh), &engine.channels(), gpu.precision, settings, engine.budget())?;
        gpu.check()?;
        let hw = w * h;
        let mut arena = plan.allocate(gpu);
        let staging = arena.staging();
        let x = arena.take("image");
        let avg = arena.take("image average");
        let rgba = arena.take("display rgba");
        let losses = arena.take("losses");
        let content_px = resize(content, w, h);
        let style_px: Vec<RgbaImage> = paintings.iter().zip(&style_sizes).map(|(p, &(a, b))| resize(p, a as usize, b as usize)).collect();
        // Regions that keep the photo: the optimisers run on y in x = k·photo + (1 − k)·y (keep.rs).
        let keep = masks.regions.as_ref().and_then(|m| keep::Keep::new(m, &settings.regions, &content_px, settings.colors));
        let keep_mask = keep.as_ref().map(|k| {
            let b = arena.take("keep mask");
            gpu.queue.write_buffer(&b, 0, bytemuck::cast_slice(&k.mask));
            b
        });
        let bufs = ImageBuffers { x: &x, losses: &losses, avg: &avg, staging: staging.as_ref(), keep: keep.as_ref(), keep_mask: keep_mask.as_ref() };
        let (net, iteration_plan, colour, blend) = match &plan.grid {
            None => {
                let net = Network::new(&engine, &x, w, h, settings.pooling, &mut arena, "");
                let region_gpu = upload_regions(&engine, masks, (w, h), &style_sizes, settings, &mut arena);
                let targets = Targets::compute(&engine, &net, &x, &content_px, &style_px, settings, &region_gpu, &mut arena);
                init_noise(gpu, settings, &x, hw, keep.as_ref());
                // The targets are submitted: their buffers make way for the iteration's.
                arena.begin_iteration(gpu);
                let mut it = Iteration::build(&engine, &net, &targets, settings, bufs, &region_gpu, &mut arena);
                it._buffers.extend(region_gpu.into_iter().flat_map(RegionGpu::into_kept));
                (Some(net), it, targets.colour, targets.blend)
            }
            Some(_) => {
                let region_gpu = upload_regions(&engine, masks, (w, h), &style_sizes, settings, &mut arena);
                let (mut it, colour, blend) = tiled::build(&engine, &plan, &content_px, &style_px, settings, bufs, &region_gpu, &mut arena);
                it._buffers.extend(region_gpu.into_iter().flat_map(RegionGpu::into_kept));
                (None, it, colour, blend)
            }
        };
        // The blend weights are steerable: their uniforms join the iteration's.
        let mut iteration_plan = iteration_plan;
        let grad_x = iteration_plan.grad_x.clone();
        for d in &blend {
            for k in 0..settings.paintings() {
                iteration_plan.steering.add(d, std::mem::offset_of!(kernels::gram::BlendParams, w) + 4 * k, 1.0, steer::Knob::Blend(k), settings);
            }
        }
        debug_assert!(arena.left().is_empty(), "planned buffers never used: {:?}", arena.left());
        // What is shown and saved: the average when averaging, else the image itself.
        let shown = if settings.average { avg.clone() } else { x.clone() };
        let display_op = match &colour.photo {
            Some(photo) => kernels::window::color_display(gpu, hw, &shown, photo, &rgba, staging.as_ref()),
            None => kernels::window::postprocess(gpu, hw, &shown, &rgba, staging.as_ref()),
        };
        let grey = match (&colour.affine, settings.colors) {
            (Some(affine), Colors::Luminance) => kernels::window::color_apply(gpu, hw, affine, kernels::color::PHOTO_MAP, &x, staging.as_ref()),
            _ => Vec::new(),
        };
        gpu.check()?;
        LIVE_SESSIONS.fetch_add(1, Ordering::SeqCst);
        let session = Session {
            engine: engine.clone(),
            settings: settings.clone(),
            width: w,
            height: h,
            style_size: (sw, sh),
            plan,
            net,
            x,
            avg,
            shown,
            grad_x,
            losses,
            rgba,
            iteration_plan,
            display_op,
            grey,
            staging,
            blend,
            keep,
            _keep_mask: keep_mask,
            iteration: 0,
            evaluated_at: None,
        };
        session.restart_average();
        LIVE_BYTES.fetch_add(session.peak_bytes(), Ordering::SeqCst);
        Ok(session)
    }

    /// [`Self::new`] inside a validation error scope: a kernel that fails to compile or validate
    /// on this device becomes [`Error::Kernel`] (instead of an error at the first step), so the
    /// caller can fall back to another [`crate::Variant`] on a new device.
    pub async fn create_checked(engine: Rc<Engine>, content: &RgbaImage, paintings: &[RgbaImage], masks: &Masks, settings: &Settings) -> Result<Session> {
        let scope = engine.gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let session = Session::with_regions(engine.clone(), content, paintings, masks, settings);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = engine.gpu.device.poll(wgpu::PollType::Poll);
        if let Some(e) = scope.pop().await {
            return Err(Error::Kernel(one_line(&e.to_string())));
        }
        session
    }

    /// Output width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width as u32, self.height as u32)
    }

    /// The settings the session runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Iterations applied so far.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The engine the session runs on.
    pub fn engine(&self) -> &Rc<Engine> {
        &self.engine
    }

    /// The painting's size in the session (its network's input while the targets are computed).
    pub fn style_size(&self) -> (u32, u32) {
        (self.style_size.0 as u32, self.style_size.1 as u32)
    }

    /// The peak GPU memory of this session in bytes: its plan's peak (the session's buffers with
    /// the targets' or the iteration's, whichever is more: [`Plan::peak`]) plus the conv weights.
    pub fn peak_bytes(&self) -> u64 {
        self.plan.peak() + self.engine.weight_bytes()
    }

    /// The dispatches of iteration `k`, in order (forward, losses and backward, reductions, the
    /// optimiser's step).
    pub fn dispatches_of(&self, k: u32) -> impl Iterator<Item = &Dispatch> {
        let opt = &self.iteration_plan.optimiser;
        self.iteration_plan.loss_and_gradient.iter().chain(&opt[k as usize % opt.len()])
    }

    /// The dispatches of the next iteration ([`Self::dispatches_of`] the current one).
    pub fn iteration_dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        self.dispatches_of(self.iteration)
    }

    /// Encodes `n` iterations into one command buffer, then refreshes the display buffer
    /// ([`Self::rgba_buffer`]) if `render`, and submits. Returns immediately (nothing waits for the
    /// GPU); fails only if the device reported an error or was lost.
    pub fn step(&mut self, n: u32, render: bool) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        let start = self.iteration;
        let it = &self.iteration_plan;
        if it.cuts.is_empty() {
            let its = (start..start + n).flat_map(|k| self.dispatches_of(k));
            gpu.submit(its.chain(self.display_op.iter().filter(|_| render)), |_| {});
        } else {
            // Tiled: one submission per tile, so no command buffer holds a whole large iteration.
            let lg = &it.loss_and_gradient;
            let bounds: Vec<usize> = std::iter::once(0).chain(it.cuts.iter().copied()).chain(std::iter::once(lg.len())).collect();
            for k in start..start + n {
                for w in bounds.windows(2) {
                    gpu.submit(&lg[w[0]..w[1]], |_| {});
                }
                gpu.submit(&it.optimiser[k as usize % it.optimiser.len()], |_| {});
            }
            if render {
                gpu.submit(&self.display_op, |_| {});
            }
        }
        self.iteration += n;
        Ok(())
    }

    /// Makes the shown image (the iterate average) the image being optimised, so that
    /// [`Self::evaluate`] measures what is saved. Optimising on from it restarts nothing else.
    pub fn adopt_average(&mut self) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        if self.settings.average {
            gpu.submit(&[], |enc| enc.copy_buffer_to_buffer(&self.avg, 0, &self.x, 0, self.x.size()));
        }
        Ok(())
    }

    /// Changes the loss weights (α, β, τ, the style layers') and the step to `next`'s from the next
    /// submission on, keeping the image and the optimiser's state: queue writes to the uniforms
    /// that hold them ([`steer::Steering`]); nothing is compiled or rebuilt. `next` must differ
    /// from [`Self::settings`] in nothing else ([`Error::Settings`] naming what). Over tiles,
    /// halos stay as planned: a style layer weight raised from 0 makes exact tiles approximate
    /// until the next scale.
    pub fn steer(&mut self, next: &Settings) -> Result<()> {
        steer::check_steerable(&self.settings, next)?;
        self.engine.gpu.check()?;
        self.iteration_plan.steering.apply(&self.engine.gpu.queue, next);
        if next.style_blend != self.settings.style_blend {
            self.engine.gpu.submit(&self.blend, |_| {});
        }
        self.settings = next.clone();
        self.evaluated_at = None;
        Ok(())
    }

    /// Computes the losses of the current image without updating it (one forward and backward).
    pub fn evaluate(&mut self) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        gpu.submit(&self.iteration_plan.loss_and_gradient, |_| {});
        self.evaluated_at = Some(self.iteration);
        Ok(())
    }

    /// Reads back the losses last computed on the GPU: those of the image before the last step's
    /// update (`iteration` = [`Self::iteration`] − 1), or of the current image after
    /// [`Self::evaluate`]. Fails with [`Error::NotFinite`] if the total is NaN or infinite.
    /// The returned future owns what it needs, so the session can keep stepping while it runs.
    pub fn losses(&self) -> impl std::future::Future<Output = Result<Losses>> + 'static {
        let engine = self.engine.clone();
        let buffer = self.losses.clone();
        let iteration = self.evaluated_at.filter(|&e| e == self.iteration).unwrap_or(self.iteration.saturating_sub(1));
        async move {
            let v = engine.gpu.read_f32(&buffer, SLOT_TOTALS, 4).await?;
            let l = Losses { iteration, content: v[0], style: v[1], tv: v[2], total: v[3] };
            if !l.total.is_finite() {
                return Err(Error::NotFinite(format!("{}", l.total), l.iteration));
            }
            Ok(l)
        }
    }

    /// The image shown and saved (the iterate average; the last iterate when averaging is off),
    /// read back as `[3][h][w]` f32 in network space: what the next scale starts from.
    pub fn image_f32(&self) -> impl std::future::Future<Output = Result<Vec<f32>>> + 'static {
        let engine = self.engine.clone();
        let buffer = self.shown.clone();
        let n = 3 * self.width * self.height;
        async move { engine.gpu.read_f32(&buffer, 0, n).await }
    }

    /// Adam's state read back: (m, v as `[3][h][w]`, the `[8]` state), or `None` with L-BFGS.
    pub fn adam_state(&self) -> Option<impl std::future::Future<Output = Result<AdamState>> + 'static> {
        let [m, v, st] = self.iteration_plan.adam.clone()?;
        let engine = self.engine.clone();
        let n = 3 * self.width * self.height;
        Some(async move { Ok((engine.gpu.read_f32(&m, 0, n).await?, engine.gpu.read_f32(&v, 0, n).await?, engine.gpu.read_f32(&st, 0, 8).await?)) })
    }

    /// Sets Adam's moments (`[3][h][w]` at this session's size) and state (`[8]`), e.g. the
    /// previous scale's resampled. Ignored with L-BFGS.
    pub fn set_adam_state(&mut self, m: &[f32], v: &[f32], state: &[f32]) -> Result<()> {
        let Some([bm, bv, bs]) = &self.iteration_plan.adam else { return Ok(()) };
        let n = 3 * self.width * self.height;
        if m.len() != n || v.len() != n || state.len() != 8 {
            return Err(Error::Settings("Adam state of the wrong size".into()));
        }
        let q = &self.engine.gpu.queue;
        q.write_buffer(bm, 0, bytemuck::cast_slice(m));
        q.write_buffer(bv, 0, bytemuck::cast_slice(v));
        q.write_buffer(bs, 0, bytemuck::cast_slice(state));
        Ok(())
    }

    /// Replaces the image being optimised (and its average) with `planar`, `[3][h][w]` f32 in
    /// network space at the session's size, e.g. the previous scale's result upsampled. Values
    /// are clamped to each channel's valid range.
    pub fn set_image_f32(&mut self, planar: &[f32]) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        let hw = self.width * self.height;
        if planar.len() != 3 * hw {
            return Err(Error::Image(format!("an initial image of {} values is not 3×{}×{}", planar.len(), self.width, self.height)));
        }
        let mut clamped: Vec<f32> = planar.iter().enumerate().map(|(i, v)| v.clamp(-MEAN_BGR[i / hw], 255.0 - MEAN_BGR[i / hw])).collect();
        if let Some(keep) = &self.keep {
            keep.apply(&mut clamped);
        }
        gpu.queue.write_buffer(&self.x, 0, bytemuck::cast_slice(&clamped));
        self.restart_average();
        Ok(())
    }

    /// The iterate average starts again from the current image (after the image was replaced).
    fn restart_average(&self) {
        if self.settings.average {
            self.engine.gpu.submit(&[], |enc| enc.copy_buffer_to_buffer(&self.x, 0, &self.avg, 0, self.avg.size()));
        }
    }

    /// Converts the current image to RGBA8 on the GPU and reads it back (`width × height × 4` bytes).
    /// The returned future owns what it needs, so the session can keep stepping while it runs.
    pub fn image(&self) -> impl std::future::Future<Output = Result<RgbaImage>> + 'static {
        self.engine.gpu.run(&self.display_op.iter().collect::<Vec<_>>());
        let engine = self.engine.clone();
        let buffer = self.rgba.clone();
        let (w, h) = (self.width as u32, self.height as u32);
        async move {
            let bytes = engine.gpu.read_bytes(&buffer, 0, buffer.size()).await?;
            RgbaImage::from_raw(w, h, bytes).ok_or_else(|| Error::Gpu("readback size mismatch".into()))
        }
    }

    /// Replaces the image being optimised with `img` (resized to the session's size if needed) and
    /// sets the iteration counter, e.g. to resume in a new session after a device loss (where
    /// Adam's moments start from zero).
    pub fn set_image(&mut self, img: &RgbaImage, iteration: u32) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        let px = resize(img, self.width, self.height);
        if self.keep.is_some() {
            // Made to keep the photo on the CPU (set_image_f32), as the network sees it.
            let mut planar = keep::photo_in_network_space(&px, self.settings.colors);
            if let Some(keep) = &self.keep {
                keep.apply(&mut planar);
            }
            gpu.queue.write_buffer(&self.x, 0, bytemuck::cast_slice(&planar));
            self.restart_average();
            self.iteration = iteration;
            return Ok(());
        }
        let upload = gpu.storage_init("resume rgba", px.as_raw());
        let pre = kernels::window::preprocess(gpu, self.width * self.height, &upload, &self.x, self.staging.as_ref());
        // Luminance transfer optimises a grey image: the one set is made grey (its luminance kept).
        gpu.run(&pre.iter().chain(&self.grey).collect::<Vec<_>>());
        self.restart_average();
        self.iteration = iteration;
        Ok(())
    }

    /// The display buffer: `width × height` u32 RGBA8 pixels (R in the low byte), refreshed by
    /// `step(n, true)` and [`Self::image`]. Usable as a storage buffer to draw the preview.
    pub fn rgba_buffer(&self) -> &wgpu::Buffer {
        &self.rgba
    }

    /// The image being optimised, `[3][h][w]` f32 in network space (BGR, minus mean).
    pub fn image_buffer(&self) -> &wgpu::Buffer {
        &self.x
    }


    /// Gradient of the total loss w.r.t. the image, `[3][h][w]`, as of the last step or evaluation.
    pub fn gradient_buffer(&self) -> &wgpu::Buffer {
        &self.grad_x
    }

    /// The network over the whole image (one activation buffer per layer), for tests and tools;
    /// `None` when the session runs over tiles.
    pub fn network(&self) -> Option<&Network> {
        self.net.as_ref()
    }

    /// The memory plan the session's buffers were made from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// A (compiler's) multi-line error message as one line: its non-empty lines joined, the generic
/// "Validation Error" / "Caused by:" headings and source excerpts dropped, at most 400 characters.
fn one_line(msg: &str) -> String {
    let keep = |l: &&str| !l.is_empty() && *l != "Validation Error" && *l != "Caused by:" && !l.starts_with('│') && !l.starts_with('┌') && !l.starts_with('=');
    let line = msg.lines().map(str::trim).filter(keep).collect::<Vec<_>>().join(" — ");
    let line = if line.is_empty() { msg.trim().to_string() } else { line };
    line.chars().take(400).collect()
}

/// With [`Init::Noise`], overwrites the image `x` (`[3][hw]`, after the targets used it for the
/// photo) with seeded uniform noise over 0..255 in network space, the photo where regions keep it
/// (`keep`, [`keep::Keep::apply`]).
fn init_noise(gpu: &crate::Gpu, settings: &Settings, x: &wgpu::Buffer, hw: usize, keep: Option<&keep::Keep>) {
    if settings.init == Init::Noise {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed);
        let mut noise: Vec<f32> = (0..3 * hw).map(|i| rng.random::<f32>() * 255.0 - MEAN_BGR[i / hw]).collect();
        if settings.colors == Colors::Luminance {
            // Grey noise: the luminance is what is optimised.
            for i in 0..hw {
                let v = noise[i] + MEAN_BGR[0];
                (1..3).for_each(|c| noise[c * hw + i] = v - MEAN_BGR[c]);
            }
        }
        if let Some(keep) = keep {
            keep.apply(&mut noise);
        }
        gpu.queue.write_buffer(x, 0, bytemuck::cast_slice(&noise));
    }
}

/// The styled regions of the region mask at the output's `w`×`h` ([`regions::styled_regions`]),
/// their per-layer masks written into the planned buffers; for a region whose painting has a style
/// mask, that mask's part for it at the painting's size (`style_sizes[k]`) and the buffers of its
/// own targets ([`PaintingGuide`]). None without a region mask.
fn upload_regions(engine: &Engine, masks: &Masks, (w, h): (usize, usize), style_sizes: &[(u32, u32)], settings: &Settings, arena: &mut crate::plan::Arena) -> Vec<RegionGpu> {
    let Some(m) = &masks.regions else { return Vec::new() };
    let channels = engine.channels();
    let style_names: Vec<&str> = crate::vgg::STYLE_LAYERS.to_vec();
    let upload = |arena: &mut crate::plan::Arena, name: String, data: &[f32]| {
        let b = arena.take(&name);
        engine.gpu.queue.write_buffer(&b, 0, bytemuck::cast_slice(data));
        b
    };
    // Each painting's style mask, split into the styled regions (the same order as the photo's).
    let painted: Vec<Option<Vec<regions::StyledRegion>>> = (0..settings.paintings())
        .map(|k| {
            masks.painting(k).map(|pm| {
                let (sw, sh) = (style_sizes[k].0 as usize, style_sizes[k].1 as usize);
                regions::styled_regions(pm, sw, sh, &settings.regions, &crate::vgg::layer_shapes(sw, sh, &channels), settings.pooling)
            })
        })
        .collect();
    let photo = regions::styled_regions(m, w, h, &settings.regions, &crate::vgg::layer_shapes(w, h, &channels), settings.pooling);
    let mut out = Vec::new();
    for (r, reg) in photo.into_iter().enumerate() {
        let layers = reg.layers.iter().zip(&style_names).map(|((m, mass), name)| (upload(arena, format!("region mask {name} {r}"), m), *mass)).collect();
        let guide = painted[reg.painting].as_ref().map(|p| {
            let part = &p[r];
            debug_assert_eq!(part.painting, reg.painting);
            PaintingGuide {
                masks: part.layers.iter().zip(&style_names).map(|((m, _), name)| upload(arena, format!("style mask {name} {r}"), m)).collect(),
                masses: part.layers.iter().map(|(_, mass)| *mass).collect(),
                targets: style_names.iter().map(|name| arena.take(&format!("region target {name} {r}"))).collect(),
            }
        });
        out.push(RegionGpu { painting: reg.painting, layers, guide });
    }
    out
}

/// Resizes to exactly `w`×`h` with Lanczos3 (no-op if already that size).
pub fn resize(img: &RgbaImage, w: usize, h: usize) -> RgbaImage {
    if img.width() as usize == w && img.height() as usize == h {
        return img.clone();
    }
    image::imageops::resize(img, w as u32, h as u32, image::imageops::FilterType::Lanczos3)
}
