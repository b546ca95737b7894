//! A style-transfer session: settings → targets computed once → `step(n)` → losses and the current
//! image. The iteration is a fixed list of dispatches built once; `step(n)` encodes it n times into
//! one command buffer (over tiles, one a tile), so the GPU never waits for the CPU inside the loop.

use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::kernels::{self, loss::SLOT_TOTALS};
use crate::plan::{plan_for, sizes, Arena, Buf, Plan, Size};
use crate::resample::resize;
use crate::vgg::Engine;
use image::RgbaImage;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

mod build;
mod color;
pub mod keep;
mod passes;
mod run;
pub mod steer;
mod terms;

pub use crate::kernels::MEAN_BGR;
pub use crate::masks::Masks;
pub use crate::settings::{Colors, Init, Optimizer, Region, Settings, TileMode, AVERAGE_DECAY};
pub use build::{ImageBuffers, Iteration, PaintingGuide, RegionGpu};
pub use run::{Carry, Run, Scale};

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

/// Adam's moments m and v (`[3][h][w]`) and its `[8]` state, read back.
pub type AdamState = (Vec<f32>, Vec<f32>, Vec<f32>);

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
    /// Mean over the image of c·(x − w)² against the previous video frame's warped result (0
    /// without a temporal loss).
    pub temporal: f32,
    /// α·content + β·style + τ·tv (+ γ·temporal).
    pub total: f32,
}

/// What a run or a session works on: the photo, the paintings (as many as `settings.style_blend`
/// has weights, at most [`crate::kernels::MAX_PAINTINGS`]; one without a blend) and the masks
/// ([`Masks`]: a region mask for `settings.regions`, style masks over the paintings).
#[derive(Clone, Debug)]
pub struct Inputs {
    pub photo: RgbaImage,
    pub paintings: Vec<RgbaImage>,
    pub masks: Masks,
    /// A video frame after the first: the previous frame's result carried into this one, for the
    /// temporal loss ([`Settings::temporal_weight`]).
    pub previous: Option<Previous>,
}

/// The previous video frame's result warped into this frame by the optical flow
/// ([`crate::kernels::flow`]), and where that warp is reliable, at the output's size.
#[derive(Clone, Debug)]
pub struct Previous {
    /// Width and height (the session's output size).
    pub size: (usize, usize),
    /// `[3][h][w]` network space.
    pub image: Vec<f32>,
    /// `[h][w]`, c ∈ [0, 1].
    pub reliable: Vec<f32>,
}

impl Inputs {
    /// A photo and one painting.
    pub fn new(photo: RgbaImage, painting: RgbaImage) -> Inputs {
        Inputs::blend(photo, vec![painting])
    }

    /// A photo and the paintings to blend.
    pub fn blend(photo: RgbaImage, paintings: Vec<RgbaImage>) -> Inputs {
        Inputs { photo, paintings, masks: Masks::default(), previous: None }
    }

    /// With `masks`.
    pub fn masked(self, masks: Masks) -> Inputs {
        Inputs { masks, ..self }
    }

    /// With the previous video frame's warped result.
    pub fn after(self, previous: Previous) -> Inputs {
        Inputs { previous: Some(previous), ..self }
    }

    /// The photo's size and the paintings'.
    pub fn dims(&self) -> (Size, Vec<Size>) {
        ((self.photo.width(), self.photo.height()), self.paintings.iter().map(|p| (p.width(), p.height())).collect())
    }
}

/// A running optimisation. See the module docs.
pub struct Session {
    engine: Rc<Engine>,
    settings: Settings,
    width: usize,
    height: usize,
    plan: Plan,
    x: wgpu::Buffer,
    /// The iterate average with averaging on; else a placeholder the optimiser binds.
    avg: wgpu::Buffer,
    losses: wgpu::Buffer,
    rgba: wgpu::Buffer,
    iteration_plan: Iteration,
    /// Postprocessing (or the colour display) of what is shown into `rgba`.
    display_op: Vec<Dispatch>,
    /// Regions that keep the photo: what makes any image set keep it ([`keep::Keep::apply`]).
    keep: Option<keep::Keep>,
    /// Every buffer of the plan the session and its iteration hold ([`Arena::into_held`]).
    _held: Vec<wgpu::Buffer>,
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
    /// Resizes the images (Lanczos3, aspect kept; the region mask to the output's size by nearest
    /// neighbour, the style masks to their paintings'), checks the buffer plan against the device
    /// limits, creates every buffer and dispatch, and submits the one-time work: the targets (the
    /// paintings' Grams blended by `settings.style_blend`, each painting at its own scale,
    /// [`Settings::style_scale_of`]; each styled region's) and the initial image, and builds the
    /// iteration ([`build::build`]). Nothing is read back.
    pub fn new(engine: Rc<Engine>, inputs: &Inputs, settings: &Settings) -> Result<Session> {
        let (content, paintings, masks) = (&inputs.photo, &inputs.paintings, &inputs.masks);
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
        let ((w, h), style_sizes) = sizes(content.width(), content.height(), &inputs.dims().1, settings)?;
        let (w, h) = (w as usize, h as usize);
        let plan = plan_for(&engine, content.width(), content.height(), &inputs.dims().1, settings)?;
        gpu.check()?;
        let hw = w * h;
        let mut arena = plan.allocate(gpu);
        let staging = arena.staging();
        let x = arena.take(Buf::Image);
        let avg = arena.take(Buf::ImageAverage);
        let rgba = arena.take(Buf::DisplayRgba);
        let losses = arena.take(Buf::Losses);
        let content_px = resize(content, w, h);
        let style_px: Vec<RgbaImage> = paintings.iter().zip(&style_sizes).map(|(p, &(a, b))| resize(p, a as usize, b as usize)).collect();
        // Regions that keep the photo: the optimisers run on y in x = k·photo + (1 − k)·y (keep.rs).
        let keep = masks.regions.as_ref().and_then(|m| keep::Keep::new(m, &settings.regions, &content_px, settings.colors));
        let keep_mask = keep.as_ref().map(|k| arena.upload(gpu, Buf::KeepMask, bytemuck::cast_slice(&k.mask)));
        let temporal = temporal_buffers(gpu, settings, inputs.previous.as_ref(), (w, h), &mut arena)?;
        let bufs = ImageBuffers {
            x: &x,
            losses: &losses,
            avg: &avg,
            staging: staging.as_ref(),
            keep: keep.as_ref(),
            keep_mask: keep_mask.as_ref(),
            temporal: temporal.as_ref().map(|[a, b]| (a, b)),
        };
        let regions = upload_regions(&engine, masks, (w, h), &style_sizes, settings, &mut arena);
        let inputs = build::Resized { content: &content_px, paintings: &style_px, regions };
        let iteration_plan = build::build(&engine, &plan, settings, bufs, inputs, &mut arena);
        debug_assert!(arena.left().is_empty(), "planned buffers never used: {:?}", arena.left());
        // What is shown and saved: the average when averaging, else the image itself.
        let shown = if settings.average { avg.clone() } else { x.clone() };
        let display_op = match &iteration_plan.photo {
            Some(photo) => kernels::color_display(gpu, hw, &shown, photo, &rgba, staging.as_ref()),
            None => kernels::postprocess(gpu, hw, &shown, &rgba, staging.as_ref()),
        };
        gpu.check()?;
        LIVE_SESSIONS.fetch_add(1, Ordering::SeqCst);
        let session = Session {
            engine: engine.clone(),
            settings: settings.clone(),
            width: w,
            height: h,
            plan,
            x,
            avg,
            losses,
            rgba,
            iteration_plan,
            display_op,
            keep,
            _held: arena.into_held(),
            iteration: 0,
            evaluated_at: None,
        };
        session.copy_if_averaging(&session.x, &session.avg);
        LIVE_BYTES.fetch_add(session.peak_bytes(), Ordering::SeqCst);
        Ok(session)
    }

    /// [`Self::new`] inside a validation error scope ([`crate::Gpu::validated`]): a kernel that
    /// fails to compile or validate on this device becomes [`Error::Kernel`] (instead of an error at
    /// the first step), so the caller can fall back to another [`crate::Variant`] on a new device.
    pub async fn create_checked(engine: Rc<Engine>, inputs: &Inputs, settings: &Settings) -> Result<Session> {
        engine.gpu.validated(|| Session::new(engine.clone(), inputs, settings)).await
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

    /// The peak GPU memory of this session in bytes: its plan's peak (the session's buffers with
    /// the targets' or the iteration's, whichever is more: [`Plan::peak`]) plus the conv weights.
    pub fn peak_bytes(&self) -> u64 {
        self.plan.peak() + self.engine.weight_bytes()
    }

    /// The dispatches of the next iteration, in order (forward, losses and backward, reductions,
    /// the optimiser's step).
    pub fn iteration_dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        let opt = &self.iteration_plan.optimiser;
        self.iteration_plan.loss_and_gradient.iter().chain(&opt[self.iteration as usize % opt.len()])
    }

    /// What follows iteration k: with L-BFGS, when it is the scale's last, one more evaluation and
    /// [`crate::kernels::Lbfgs::settle`] (a rejected last step is taken back, so the scale's
    /// result — the image saved at its end and carried on — is never one the safeguard rejected;
    /// the losses are then the result's).
    fn settle_after(&self, k: u32) -> Option<&[Dispatch]> {
        let settle = &self.iteration_plan.settle;
        (k + 1 == self.settings.iterations && !settle.is_empty()).then(|| &settle[(k as usize + 1) % settle.len()][..])
    }

    /// Encodes `n` iterations into one command buffer (over tiles, one a tile), then refreshes the
    /// display buffer ([`Self::rgba_buffer`]) if `render`, and submits. Returns immediately (nothing waits for the
    /// GPU); fails only if the device reported an error or was lost.
    pub fn step(&mut self, n: u32, render: bool) -> Result<()> {
        let gpu = &self.engine.gpu;
        gpu.check()?;
        let start = self.iteration;
        let it = &self.iteration_plan;
        // The losses and gradient in their pieces (tiles: one a tile, so that no command buffer
        // holds a whole large iteration; else one piece, and n iterations in one submission).
        let lg = &it.loss_and_gradient;
        let bounds: Vec<usize> = std::iter::once(0).chain(it.cuts.iter().copied()).chain([lg.len()]).collect();
        let pieces: Vec<&[Dispatch]> = bounds.windows(2).map(|w| &lg[w[0]..w[1]]).collect();
        let mut lists: Vec<&[Dispatch]> = Vec::new();
        for k in start..start + n {
            lists.extend(&pieces);
            lists.push(&it.optimiser[k as usize % it.optimiser.len()]);
            if let Some(settle) = self.settle_after(k) {
                lists.extend(&pieces);
                lists.push(settle);
            }
        }
        if render {
            lists.push(&self.display_op);
        }
        if it.cuts.is_empty() {
            gpu.submit(lists.into_iter().flatten(), |_| {});
        } else {
            lists.into_iter().for_each(|l| gpu.submit(l, |_| {}));
        }
        if n > 0 && self.settle_after(start + n - 1).is_some() {
            // The losses now are those of the current image, evaluated for the safeguard (or, if it
            // took the last step back, those of the image it went back to).
            self.evaluated_at = Some(start + n);
        }
        self.iteration += n;
        Ok(())
    }

    /// L-BFGS: how many steps its safeguard has taken back so far (a rejected iterate's loss rose
    /// by more than 1% or was not finite); `None` with Adam.
    pub fn steps_taken_back(&self) -> Option<impl std::future::Future<Output = Result<u32>> + 'static> {
        let st = self.iteration_plan.lbfgs_state.clone()?;
        let engine = self.engine.clone();
        Some(async move { Ok(engine.gpu.read_f32(&st, (crate::kernels::lbfgs::ST_BACKS_BYTES / 4) as usize, 1).await?[0] as u32) })
    }

    /// Makes the shown image (the iterate average) the image being optimised, so that
    /// [`Self::evaluate`] measures what is saved. Optimising on from it restarts nothing else.
    pub fn adopt_average(&mut self) -> Result<()> {
        self.engine.gpu.check()?;
        self.copy_if_averaging(&self.avg, &self.x);
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
        if let Some(st) = &self.iteration_plan.lbfgs_state {
            // The totals under the old weights and the new are not comparable: accept the next.
            self.engine.gpu.queue.write_buffer(st, crate::kernels::lbfgs::ST_LAST_BYTES, bytemuck::bytes_of(&crate::kernels::lbfgs::ST_NONE));
        }
        if next.style_blend != self.settings.style_blend {
            self.engine.gpu.submit(&self.iteration_plan.blend, |_| {});
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
    /// [`Self::evaluate`] and after an L-BFGS scale's last step. With L-BFGS, when its safeguard
    /// rejected that image, the losses of the last image it accepted. Fails with [`Error::NotFinite`] if the total is NaN or infinite.
    /// The returned future owns what it needs, so the session can keep stepping while it runs.
    pub fn losses(&self) -> impl std::future::Future<Output = Result<Losses>> + 'static {
        let engine = self.engine.clone();
        let buffer = self.losses.clone();
        let iteration = self.evaluated_at.filter(|&e| e == self.iteration).unwrap_or(self.iteration.saturating_sub(1));
        async move {
            let v = engine.gpu.read_f32(&buffer, SLOT_TOTALS, 5).await?;
            let l = Losses { iteration, content: v[0], style: v[1], tv: v[2], total: v[3], temporal: v[4] };
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
        let buffer = if self.settings.average { &self.avg } else { &self.x }.clone();
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
        self.copy_if_averaging(&self.x, &self.avg);
        Ok(())
    }

    /// With averaging on, copies `from` into `to` (the image and its average).
    fn copy_if_averaging(&self, from: &wgpu::Buffer, to: &wgpu::Buffer) {
        if self.settings.average {
            self.engine.gpu.submit(&[], |enc| enc.copy_buffer_to_buffer(from, 0, to, 0, to.size()));
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
        // As the network sees it (grey for luminance transfer), then as any image set: clamped, and
        // the photo where regions keep it.
        self.set_image_f32(&keep::network_space(&resize(img, self.width, self.height), self.settings.colors))?;
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
        &self.iteration_plan.grad_x
    }

    /// The memory plan the session's buffers were made from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// The temporal loss's buffers with the previous frame's warped result uploaded, when
/// `settings.temporal_weight` > 0.
fn temporal_buffers(gpu: &crate::Gpu, settings: &Settings, previous: Option<&Previous>, (w, h): (usize, usize), arena: &mut Arena) -> Result<Option<[wgpu::Buffer; 2]>> {
    if settings.temporal_weight <= 0.0 {
        return Ok(None);
    }
    let p = previous.ok_or_else(|| Error::Settings("a temporal weight needs the previous video frame's result (only frames after the first have one)".into()))?;
    if p.size != (w, h) || p.image.len() != 3 * w * h || p.reliable.len() != w * h {
        return Err(Error::Settings(format!("the previous frame's result is {}×{}, not the output's {w}×{h}: the temporal loss runs at one scale", p.size.0, p.size.1)));
    }
    Ok(Some([arena.upload(gpu, Buf::TemporalPrevious, bytemuck::cast_slice(&p.image)), arena.upload(gpu, Buf::TemporalReliable, bytemuck::cast_slice(&p.reliable))]))
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

/// The styled regions of the region mask at the output's `w`×`h` ([`crate::masks::styled_regions`]),
/// their per-layer masks written into the planned buffers; for a region whose painting has a style
/// mask, that mask's part for it at the painting's size (`style_sizes[k]`) and the buffers of its
/// own targets ([`PaintingGuide`]). None without a region mask.
fn upload_regions(engine: &Engine, masks: &Masks, (w, h): (usize, usize), style_sizes: &[(u32, u32)], settings: &Settings, arena: &mut Arena) -> Vec<RegionGpu> {
    let Some(m) = &masks.regions else { return Vec::new() };
    let channels = engine.channels();
    let styled = |mask, w, h| crate::masks::styled_regions(mask, w, h, &settings.regions, &crate::vgg::layer_shapes(w, h, &channels), settings.pooling);
    let upload = |arena: &mut Arena, key: Buf, data: &[f32]| arena.upload(&engine.gpu, key, bytemuck::cast_slice(data));
    let names = crate::vgg::STYLE_LAYERS.map(String::from);
    // Each painting's style mask, split into the styled regions (the same order as the photo's).
    let painted: Vec<_> = (0..settings.paintings()).map(|k| masks.painting(k).map(|pm| styled(pm, style_sizes[k].0 as usize, style_sizes[k].1 as usize))).collect();
    let mut out = Vec::new();
    for (r, reg) in styled(m, w, h).into_iter().enumerate() {
        let layers = reg.layers.iter().zip(&names).map(|((m, mass), name)| (upload(arena, Buf::RegionMask(name.clone(), r), m), *mass)).collect();
        let guide = painted[reg.painting].as_ref().map(|p: &Vec<crate::masks::StyledRegion>| {
            debug_assert_eq!(p[r].painting, reg.painting, "the painting's regions in the photo's order");
            PaintingGuide {
                mask: p[r].layers.iter().zip(&names).map(|((m, mass), name)| (upload(arena, Buf::StyleMask(name.clone(), r), m), *mass)).collect(),
                targets: names.iter().map(|name| arena.take(Buf::RegionTarget(name.clone(), r))).collect(),
            }
        });
        out.push(RegionGpu { painting: reg.painting, layers, guide });
    }
    out
}
