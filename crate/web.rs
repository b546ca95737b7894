//! Browser bindings (wasm32 only): a thin wasm-bindgen layer over [`Engine`] and [`Session`].
//! No DOM logic lives here beyond taking the preview canvas; the page (www/) owns the UI.
//! Every error reaches JavaScript as an `Error` whose `name` is the [`Error`] variant
//! (`Weights`, `Image`, `TooLarge` with a `fits` field, `DeviceLost`, `NotFinite`, ...).

use crate::kernels::ConvShape;
use crate::plan::{fitted, sizes};
use crate::preview::{Preview, PreviewSource};
use crate::session::{Inputs, Masks};
use crate::video::FrameSchedule;
use crate::{Engine, Error, Gpu, GpuOptions, Precision, Run, Session, Settings, VggWeights};
use js_sys::{Promise, Reflect, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let name = match &e {
        Error::NoAdapter(_) => "NoAdapter",
        Error::Device(_) => "Device",
        Error::Weights(_) => "Weights",
        Error::Image(_) => "Image",
        Error::Settings(_) => "Settings",
        Error::TooLarge { .. } => "TooLarge",
        Error::Kernel(_) => "Kernel",
        Error::Gpu(_) => "Gpu",
        Error::DeviceLost(_) => "DeviceLost",
        Error::NotFinite(..) => "NotFinite",
        Error::Io(_) => "Io",
    };
    err.set_name(name);
    if let Error::TooLarge { fits, .. } = &e {
        let _ = Reflect::set(&err, &"fits".into(), &JsValue::from(*fits));
    }
    err.into()
}

fn to_js<T: serde::Serialize>(v: &T) -> JsValue {
    js_sys::JSON::parse(&serde_json::to_string(v).expect("serialisable")).expect("valid JSON")
}

fn settings_from(v: &JsValue) -> Result<Settings, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Settings::default());
    }
    let s: String = js_sys::JSON::stringify(v).map_err(|_| js_error(Error::Settings("settings are not JSON".into())))?.into();
    serde_json::from_str(&s).map_err(|e| js_error(Error::Settings(e.to_string())))
}

fn rgba(bytes: &[u8], w: u32, h: u32, what: &str) -> Result<image::RgbaImage, JsValue> {
    image::RgbaImage::from_raw(w, h, bytes.to_vec()).ok_or_else(|| js_error(Error::Image(format!("{what}: {} bytes is not {w}×{h} RGBA", bytes.len()))))
}

/// Sessions alive in this page (a `Job` holds its GPU buffers until `free()`d or collected).
#[wasm_bindgen(js_name = liveSessions)]
pub fn live_sessions() -> usize {
    crate::session::live_sessions()
}

/// GPU bytes the live sessions of this page hold (their memory plans, weights included).
#[wasm_bindgen(js_name = liveSessionBytes)]
pub fn live_session_bytes() -> f64 {
    crate::session::live_session_bytes() as f64
}

/// Refuses image bytes before the browser decodes them: empty, not an image, a format stylize
/// does not read, absurd declared dimensions, a truncated JPEG (which browsers fill in) — the same
/// check and messages as the CLI's ([`crate::image_io::check`]). Throws an `Image` error.
/// `png` (bytes) with the run record `record` (`{stylize, settings, content: {name, sha256},
/// style, adapter}`) inserted as its `stylize` iTXt chunk ([`crate::record`]). Throws `Image` if
/// `png` is not a PNG, `Settings` if the record is not one.
#[wasm_bindgen(js_name = pngWithRecord)]
pub fn png_with_record(png: &[u8], record: JsValue) -> Result<Vec<u8>, JsValue> {
    let text: String = js_sys::JSON::stringify(&record).map_err(|_| js_error(Error::Settings("the record is not JSON".into())))?.into();
    let record: crate::record::RunRecord = serde_json::from_str(&text).map_err(|e| js_error(Error::Settings(format!("not a run record: {e}"))))?;
    crate::record::insert_png_record(png, &record).map_err(js_error)
}

/// The run record a PNG carries, or null. Throws `Image` if `png` is not a PNG, `Settings` if its
/// record cannot be read.
/// The stylize version (Cargo.toml's), as results' records name it.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

#[wasm_bindgen(js_name = pngRecord)]
pub fn png_record(png: &[u8]) -> Result<JsValue, JsValue> {
    Ok(match crate::record::read_png_record(png).map_err(js_error)? {
        Some(r) => to_js(&r),
        None => JsValue::NULL,
    })
}

#[wasm_bindgen(js_name = checkImageBytes)]
pub fn check_image_bytes(bytes: &[u8], name: &str) -> Result<(), JsValue> {
    crate::image_io::check(bytes, name).map_err(js_error)
}

/// The engine on this page's GPU: weights uploaded once, sessions started from it.
#[wasm_bindgen]
pub struct Stylizer {
    engine: Rc<Engine>,
}

#[wasm_bindgen]
impl Stylizer {
    /// Validates the weights (safetensors bytes), opens the WebGPU device and uploads them.
    /// `conv` (optional) forces the conv implementation: `"tiled"` or `"direct"` kernels (by
    /// default software adapters get `direct` and GPUs `tiled`), `"winograd"` (the default) or
    /// `"gemm"`, or one of each joined by `+` (`"direct+gemm"`). `precision` (optional) forces the storage
    /// of activations and weights, `"f32"` or `"f16"`; by default GPUs with `shader-f16` get f16,
    /// everything else f32. `break_kernels` (optional, a test hook) makes kernels whose name
    /// contains it fail to compile, to exercise the fallback.
    /// Rejects with `Weights` before touching the GPU if the file is wrong, `Settings` on a bad
    /// `conv` or `precision` (or `"f16"` on an adapter without `shader-f16`).
    pub async fn create(weights: Vec<u8>, conv: Option<String>, precision: Option<String>, break_kernels: Option<String>) -> Result<Stylizer, JsValue> {
        let (conv_path, winograd) = conv.as_deref().map(crate::gpu::parse_conv).transpose().map_err(js_error)?.unwrap_or_default();
        let precision = precision.as_deref().map(Precision::parse).transpose().map_err(js_error)?;
        let w = VggWeights::from_safetensors(&weights).map_err(js_error)?;
        drop(weights);
        let gpu = Gpu::new(&GpuOptions { conv_path, winograd, precision, break_kernels, ..Default::default() }).await.map_err(js_error)?;
        let engine = Engine::new(gpu, &w).map_err(js_error)?;
        engine.set_memory_budget(crate::vgg::default_budget(&engine.gpu));
        Ok(Stylizer { engine })
    }

    /// The conv implementation and storage precision this engine runs: `{conv, precision}`
    /// (`"tiled"`/`"direct"`, `"f32"`/`"f16"`).
    pub fn variant(&self) -> JsValue {
        variant_js(self.engine.gpu.variant())
    }

    /// What to try when a kernel of this engine fails to compile on the device (`Kernel` error
    /// from `start`): `{conv, precision}` for `Stylizer.create`, or null when nothing is left.
    pub fn fallback(&self) -> JsValue {
        self.engine.gpu.variant().fallback().map(variant_js).unwrap_or(JsValue::NULL)
    }

    /// The names of the settings a live run can change ([`crate::settings::STEERABLE`]).
    #[wasm_bindgen(js_name = steerableSettings)]
    pub fn steerable_settings() -> Vec<String> {
        crate::settings::STEERABLE.iter().map(|s| s.to_string()).collect()
    }

    /// The defaults of a video's later frames ([`FrameSchedule`]): `{frameIterations, temporalWeight}`.
    #[wasm_bindgen(js_name = videoDefaults)]
    pub fn video_defaults() -> JsValue {
        let d = FrameSchedule::default();
        to_js(&serde_json::json!({ "frameIterations": d.iterations, "temporalWeight": d.temporal_weight }))
    }

    /// The tuned default settings, as a plain object.
    #[wasm_bindgen(js_name = defaultSettings)]
    pub fn default_settings() -> JsValue {
        to_js(&Settings::default())
    }

    /// Benchmark: GPU time of one 3×3 conv (`backward`: the input gradient) on random data,
    /// `reps` times in one pass. Resolves to ms per conv, or null without timestamp queries.
    #[wasm_bindgen(js_name = benchConv)]
    pub fn bench_conv(&self, h: usize, w: usize, cin: usize, cout: usize, backward: bool, reps: u32) -> Promise {
        let shape = ConvShape { cin, cout, h, w };
        match crate::bench::time_conv(self.engine.clone(), shape, backward, reps) {
            Some(f) => future_to_promise(async move { Ok(JsValue::from(f.await.map_err(js_error)?)) }),
            None => Promise::resolve(&JsValue::NULL),
        }
    }

    /// Destroys the device, exactly as a device loss would (for testing recovery).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) {
        self.engine.gpu.device.destroy();
    }

    /// Adapter description (name, limits, features).
    pub fn adapter(&self) -> String {
        self.engine.gpu.describe()
    }

    /// The adapter in one line (what a result's record names).
    #[wasm_bindgen(js_name = adapterSummary)]
    pub fn adapter_summary(&self) -> String {
        self.engine.gpu.summary()
    }

    /// The memory plan of the run's largest (final) scale for these image sizes and settings:
    /// `{width, height, styleWidth, styleHeight, totalBytes, peakBytes, largestBytes, limitBytes,
    /// bufferLimitBytes, budgetBytes, fits, maxSize, tiles, tileSize, halo, scales}` (`limitBytes`:
    /// the largest buffer a kernel binds whole; `bufferLimitBytes`: the largest whole-image buffer,
    /// bound in windows; `peakBytes`: the plan plus the
    /// weights, what `Job.profile()` reports; `budgetBytes`: the memory budget
    /// (`setMemoryBudget`); `tiles`: tiles per iteration, 0 when the network runs on the whole
    /// image; `maxSize`: the largest output size that fits when `fits` is false; `scales`: the
    /// coarse-to-fine schedule, `[{width, height, iterations, optimizer, work}]` (optimizer: "adam" where L-BFGS does not fit the budget), or null if a scale is invalid).
    pub fn plan(&self, cw: u32, ch: u32, sw: u32, sh: u32, settings: JsValue, more: JsValue) -> Result<JsValue, JsValue> {
        let all = settings_from(&settings)?;
        all.validate().map_err(js_error)?;
        let mut dims = vec![(sw, sh)];
        dims.extend(more_sizes(&more));
        let scales = Run::plan(&self.engine, cw, ch, &dims, &all, None).ok();
        let s = all.at_scale(all.final_size(), all.iterations);
        let ((w, h), style_sizes) = sizes(cw, ch, &dims, &s).map_err(js_error)?;
        let (sw, sh) = crate::plan::bounding(&style_sizes);
        let budget = self.engine.budget();
        let (plan, fits, max_size) = match fitted(&self.engine, cw, ch, &dims, &s) {
            Ok((_, p)) => (p, true, s.size),
            Err(Error::TooLarge { fits, .. }) => {
                let ch_ = self.engine.channels();
                (crate::plan::Plan::whole(w as usize, h as usize, (sw as usize, sh as usize), &ch_, self.engine.gpu.variant(), &s), false, fits)
            }
            Err(e) => return Err(js_error(e)),
        };
        let grid = plan.grid.as_ref();
        Ok(to_js(&serde_json::json!({
            "width": w, "height": h, "styleWidth": sw, "styleHeight": sh,
            "totalBytes": plan.total(),
            "peakBytes": plan.peak() + budget.weights,
            "largestBytes": plan.largest().1,
            "limitBytes": budget.max_binding,
            "bufferLimitBytes": budget.max_buffer,
            "budgetBytes": if budget.total == u64::MAX { serde_json::Value::Null } else { budget.total.into() },
            "fits": fits, "maxSize": max_size, "scales": scales,
            "tiles": grid.map_or(0, |g| g.tiles.len()), "tileSize": grid.map_or(0, |g| g.core), "halo": grid.map_or(0, |g| g.halo),
        })))
    }

    /// Limits the GPU memory of the runs started from now on to `bytes` (weights included); a
    /// size whose whole network would not fit runs over tiles. `create` sets a budget derived from
    /// the adapter ([`crate::vgg::default_budget`]).
    #[wasm_bindgen(js_name = setMemoryBudget)]
    pub fn set_memory_budget(&self, bytes: f64) -> Result<(), JsValue> {
        if !(bytes.is_finite() && bytes >= 1.0) {
            return Err(js_error(Error::Settings(format!("memory budget {bytes} is not a number of bytes"))));
        }
        self.engine.set_memory_budget(bytes as u64);
        Ok(())
    }

    /// The memory budget in bytes.
    #[wasm_bindgen(js_name = memoryBudget)]
    pub fn memory_budget(&self) -> f64 {
        self.engine.budget().total as f64
    }

    /// Starts a run (its first scale): resizes the images, computes the targets on the GPU and, if
    /// `canvas` is given, sizes it to the scale and draws the live preview into it (WebGPU canvas).
    /// `content`/`style` are RGBA8 bytes of `cw×ch` / `sw×sh`; `init` (optional) is
    /// `{data, width, height}`, an RGBA8 image to start from (the scales smaller than it are
    /// skipped: "Continue larger", resuming). Resolves to a `Job`; rejects with `Kernel` when a
    /// kernel fails to compile or validate on this device (see `fallback()`).
    #[allow(clippy::too_many_arguments)] // the JS-facing signature: two images with their sizes
    pub fn start(
        &self,
        content: &[u8],
        cw: u32,
        ch: u32,
        style: &[u8],
        sw: u32,
        sh: u32,
        settings: JsValue,
        canvas: Option<web_sys::HtmlCanvasElement>,
        init: JsValue,
        more: JsValue,
        mask: JsValue,
        style_masks: JsValue,
    ) -> Promise {
        let engine = self.engine.clone();
        let inputs = settings_from(&settings).and_then(|s| {
            let mut paintings = vec![rgba(style, sw, sh, "style")?];
            paintings.extend(more_paintings(&more)?);
            let masks = Masks { regions: image_arg(&mask, "region mask")?, paintings: style_mask_args(&style_masks)? };
            Ok((s, rgba(content, cw, ch, "content")?, paintings, image_arg(&init, "initial image")?, masks))
        });
        future_to_promise(async move {
            let (s, c, paintings, init, masks) = inputs?;
            let run = Run::start(engine.clone(), Inputs::blend(c, paintings).masked(masks), &s, init.as_ref()).await.map_err(js_error)?;
            Ok(Job::new(&engine, run, canvas)?.into())
        })
    }

    /// A video to stylise frame by frame ([`crate::video`]): `settings` for the first frame (a
    /// coarse-to-fine run), `frame_iterations` and `temporal_weight` (γ) for every later frame
    /// (one scale from the previous result warped by the optical flow), or, `independent`, every
    /// frame its own run with `settings` (the flickering comparison). Throws `Settings` on a bad
    /// value.
    pub fn video(&self, settings: JsValue, frame_iterations: u32, temporal_weight: f32, independent: bool) -> Result<Video, JsValue> {
        let s = settings_from(&settings)?;
        let schedule = FrameSchedule { iterations: frame_iterations, temporal_weight, independent };
        Ok(Video { engine: self.engine.clone(), video: crate::video::Video::new(self.engine.clone(), &s, schedule).map_err(js_error)? })
    }
}

/// A video being stylised: each frame a [`Job`] from `start`, driven like any run, its result
/// handed back to `end` before the next frame starts.
#[wasm_bindgen]
pub struct Video {
    engine: Rc<Engine>,
    video: crate::video::Video,
}

#[wasm_bindgen]
impl Video {
    /// Starts the next frame: `frame` and each of `paintings` are `{data, width, height}` (RGBA8;
    /// every frame of one video the same size), `mask`/`style_masks` as for `Stylizer.start`.
    /// Resolves to the frame's `Job` (drawing into `canvas` if given). Rejects with `Image` for a
    /// frame of another size.
    pub fn start(&mut self, frame: JsValue, paintings: JsValue, canvas: Option<web_sys::HtmlCanvasElement>, mask: JsValue, style_masks: JsValue) -> Promise {
        let engine = self.engine.clone();
        let started = (|| {
            let photo = image_arg(&frame, "video frame")?.ok_or_else(|| js_error(Error::Image("the video frame is missing".into())))?;
            let paintings = paintings_from(&paintings, 1)?;
            if paintings.is_empty() {
                return Err(js_error(Error::Image("a video needs a painting".into())));
            }
            let masks = Masks { regions: image_arg(&mask, "region mask")?, paintings: style_mask_args(&style_masks)? };
            self.video.start_frame(Inputs::blend(photo, paintings).masked(masks)).map_err(js_error)
        })();
        future_to_promise(async move {
            let run = started?.await.map_err(js_error)?;
            Ok(Job::new(&engine, run, canvas)?.into())
        })
    }

    /// Ends the frame started last with its result (`Job.shownImage()` at its last scale).
    /// Returns `{error, reliable}`: the frame's temporal error (mean |Oₜ − warp(Oₜ₋₁)| over the
    /// pixels where the flow is reliable, 0..255) and those pixels' share; null for the first frame.
    pub fn end(&mut self, result: &[f32]) -> Result<JsValue, JsValue> {
        Ok(match self.video.end_frame(result).map_err(js_error)? {
            Some((error, reliable)) => to_js(&serde_json::json!({ "error": error, "reliable": reliable })),
            None => JsValue::NULL,
        })
    }
}

/// `{data: Uint8Array, width, height}` → an image; undefined/null → none.
/// Further paintings: an array of `{data, width, height}` (undefined or null: none).
fn more_paintings(v: &JsValue) -> Result<Vec<image::RgbaImage>, JsValue> {
    paintings_from(v, 2)
}

/// An array of paintings `{data, width, height}` (undefined or null: none), the first named
/// painting `first` in errors.
fn paintings_from(v: &JsValue, first: usize) -> Result<Vec<image::RgbaImage>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    js_sys::Array::from(v)
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let what = format!("painting {}", k + first);
            image_arg(&p, &what)?.ok_or_else(|| js_error(Error::Image(format!("{what} is missing"))))
        })
        .collect()
}

/// Style masks: an array, per painting, of `{data, width, height}` or null (undefined or null:
/// none).
fn style_mask_args(v: &JsValue) -> Result<Vec<Option<image::RgbaImage>>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    js_sys::Array::from(v).iter().enumerate().map(|(k, m)| image_arg(&m, &format!("style mask of painting {}", k + 1))).collect()
}

/// The sizes of an array of `{width, height}` (undefined or null: none).
fn more_sizes(v: &JsValue) -> Vec<(u32, u32)> {
    if v.is_undefined() || v.is_null() {
        return Vec::new();
    }
    let get = |p: &JsValue, k: &str| Reflect::get(p, &k.into()).ok().and_then(|x| x.as_f64()).unwrap_or(0.0) as u32;
    js_sys::Array::from(v).iter().map(|p| (get(&p, "width"), get(&p, "height"))).collect()
}

/// An optional `{data, width, height}` argument (`what` names it in errors).
fn image_arg(v: &JsValue, what: &str) -> Result<Option<image::RgbaImage>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let get = |k: &str| Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let (w, h) = (get("width").as_f64().unwrap_or(0.0) as u32, get("height").as_f64().unwrap_or(0.0) as u32);
    let data = Uint8Array::new(&get("data")).to_vec();
    rgba(&data, w, h, what).map(Some)
}

fn variant_js(v: crate::Variant) -> JsValue {
    let precision = match v.precision {
        Precision::F32 => "f32",
        Precision::F16 => "f16",
    };
    to_js(&serde_json::json!({ "conv": v.conv_name(), "precision": precision }))
}

struct View {
    canvas: web_sys::HtmlCanvasElement,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    preview: Preview,
    source: PreviewSource,
}

impl View {
    fn new(engine: &Engine, session: &Session, canvas: web_sys::HtmlCanvasElement) -> Result<View, JsValue> {
        let gpu = &engine.gpu;
        let (w, h) = session.size();
        canvas.set_width(w);
        canvas.set_height(h);
        let surface = gpu.instance.create_surface(wgpu::SurfaceTarget::Canvas(canvas.clone())).map_err(|e| js_error(Error::Gpu(format!("cannot draw on the canvas: {e}"))))?;
        let mut config = surface.get_default_config(&gpu.adapter, w, h).ok_or_else(|| js_error(Error::Gpu("the canvas does not support this adapter".into())))?;
        let caps = surface.get_capabilities(&gpu.adapter);
        if let Some(f) = caps.formats.iter().find(|f| !f.is_srgb()) {
            config.format = *f;
        }
        config.view_formats.clear();
        surface.configure(&gpu.device, &config);
        let preview = Preview::new(gpu, config.format);
        let source = preview.source(gpu, session.rgba_buffer(), w, h);
        Ok(View { canvas, surface, config, preview, source })
    }

    /// Follows the run to a new scale: the canvas takes the session's size and the preview reads
    /// its display buffer.
    fn follow(&mut self, gpu: &Gpu, session: &Session) {
        let (w, h) = session.size();
        self.canvas.set_width(w);
        self.canvas.set_height(h);
        self.config.width = w;
        self.config.height = h;
        self.surface.configure(&gpu.device, &self.config);
        self.source = self.preview.source(gpu, session.rgba_buffer(), w, h);
    }

    fn draw(&self, gpu: &Gpu) {
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&gpu.device, &self.config);
                return;
            }
            _ => return,
        };
        let view = frame.texture.create_view(&Default::default());
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        self.preview.draw(&mut enc, &view, &self.source);
        gpu.queue.submit([enc.finish()]);
        gpu.queue.present(frame);
    }
}

/// What a finished scale hands the next (`Job.leave()` → `Job.advance(carry)`); opaque to JS.
#[wasm_bindgen]
pub struct ScaleCarry(crate::session::Carry);

/// A running optimisation: a coarse-to-fine [`Run`], one scale at a time.
#[wasm_bindgen]
pub struct Job {
    run: Run,
    view: Option<View>,
}

impl Job {
    fn new(engine: &Engine, run: Run, canvas: Option<web_sys::HtmlCanvasElement>) -> Result<Job, JsValue> {
        let view = match canvas {
            Some(canvas) => Some(View::new(engine, run.session(), canvas)?),
            None => None,
        };
        Ok(Job { run, view })
    }
}

#[wasm_bindgen]
impl Job {
    /// Submits `n` iterations of the current scale (one command buffer) and, if `render`,
    /// refreshes the preview canvas. Returns at once; use `done()` to pace submissions.
    pub fn step(&mut self, n: u32, render: bool) -> Result<(), JsValue> {
        self.run.session_mut().step(n, render).map_err(js_error)?;
        if render {
            if let Some(v) = &self.view {
                v.draw(&self.run.session().engine().gpu);
            }
        }
        Ok(())
    }

    /// Steers the live run: `settings` (the run's, with other `content_weight`, `style_weight`,
    /// `tv_weight`, `style_layer_weights` or `lr`) apply from the next `step` and to later scales,
    /// the image and the optimiser's state kept, nothing recompiled (uniform writes). Throws
    /// `Settings` naming anything else that differs, or a bad value.
    pub fn steer(&mut self, settings: JsValue) -> Result<(), JsValue> {
        let s = settings_from(&settings)?;
        self.run.steer(&s).map_err(js_error)
    }

    /// The settings this run was started with, steering included (a video's later frame: one
    /// scale, its iterations and γ), as a plain object: what `steer` compares against.
    pub fn settings(&self) -> JsValue {
        to_js(self.run.settings())
    }

    /// Resolves when the GPU has finished all work submitted so far (rejects on device loss).
    pub fn done(&self) -> Promise {
        let engine = self.run.session().engine().clone();
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        engine.gpu.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        future_to_promise(async move {
            let r = rx.await;
            engine.gpu.check().map_err(js_error)?;
            r.map_err(|_| js_error(Error::DeviceLost("the GPU stopped responding".into())))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Resolves to `{iteration, content, style, tv, total}` of the last computed iterate of the
    /// current scale (`iteration` counts within the scale); rejects with `NotFinite` if the loss
    /// became NaN.
    pub fn losses(&self) -> Promise {
        let f = self.run.session().losses();
        future_to_promise(async move { Ok(to_js(&f.await.map_err(js_error)?)) })
    }

    /// Resolves to the shown image (the iterate average, or the iterate with averaging off) as
    /// RGBA8 bytes (`width × height × 4`) of the current scale.
    pub fn image(&self) -> Promise {
        let f = self.run.session().image();
        future_to_promise(async move { Ok(Uint8Array::from(f.await.map_err(js_error)?.as_raw().as_slice()).into()) })
    }

    /// Resolves to the shown image of the current scale as `[3][h][w]` f32 (network space).
    #[wasm_bindgen(js_name = shownImage)]
    pub fn shown_image(&self) -> Promise {
        let f = self.run.session().image_f32();
        future_to_promise(async move { Ok(js_sys::Float32Array::from(f.await.map_err(js_error)?.as_slice()).into()) })
    }

    /// Resolves to what the next scale starts from (the shown image, and Adam's moments with
    /// `resample_moments`), for `advance`.
    pub fn leave(&self) -> Promise {
        let f = self.run.leave();
        future_to_promise(async move { Ok(ScaleCarry(f.await.map_err(js_error)?).into()) })
    }

    /// Moves to the next scale from `carry` (from `leave()`): the next session starts from it
    /// upsampled (Lanczos3, f32), the preview canvas takes the new size. Throws `Settings` at the
    /// last scale.
    pub fn advance(&mut self, carry: ScaleCarry) -> Result<(), JsValue> {
        self.run.advance(carry.0).map_err(js_error)?;
        if let Some(v) = &mut self.view {
            v.follow(&self.run.session().engine().gpu, self.run.session());
            self.run.session_mut().step(0, true).map_err(js_error)?;
            v.draw(&self.run.session().engine().gpu);
        }
        Ok(())
    }

    /// Replaces the image being optimised (RGBA8 `w×h`) and sets the current scale's iteration
    /// count — to resume from the last good image after a device loss.
    #[wasm_bindgen(js_name = setImage)]
    pub fn set_image(&mut self, rgba_bytes: &[u8], w: u32, h: u32, iteration: u32) -> Result<(), JsValue> {
        let img = rgba(rgba_bytes, w, h, "resume image")?;
        self.run.session_mut().set_image(&img, iteration).map_err(js_error)?;
        if let Some(v) = &self.view {
            self.run.session_mut().step(0, true).map_err(js_error)?;
            v.draw(&self.run.session().engine().gpu);
        }
        Ok(())
    }

    /// Benchmark: runs one iteration with every dispatch timed by GPU timestamps. Resolves to
    /// `{layers: [{label, ms, flops}], dispatches, flops, peakBytes}` or null without timestamps.
    pub fn profile(&self) -> Promise {
        let session = self.run.session();
        let engine = session.engine().clone();
        let dispatches: Vec<_> = session.iteration_dispatches().cloned().collect();
        let n = dispatches.len();
        let flops: f64 = dispatches.iter().map(|d| d.flops).sum();
        let peak = session.peak_bytes();
        match crate::bench::time_layers(engine, dispatches) {
            Some(f) => future_to_promise(async move {
                let layers = f.await.map_err(js_error)?;
                Ok(to_js(&serde_json::json!({ "layers": layers, "dispatches": n, "flops": flops, "peakBytes": peak })))
            }),
            None => Promise::resolve(&JsValue::NULL),
        }
    }

    /// The current scale's width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.run.session().size().0
    }

    /// The current scale's height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.run.session().size().1
    }

    /// Iterations submitted at the current scale.
    #[wasm_bindgen(getter)]
    pub fn iteration(&self) -> u32 {
        self.run.session().iteration()
    }

    /// Iterations run at the earlier scales.
    #[wasm_bindgen(getter, js_name = iterationsBefore)]
    pub fn iterations_before(&self) -> u32 {
        self.run.iterations_done() - self.run.session().iteration()
    }

    /// Iterations of the current scale still to submit.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> u32 {
        self.run.remaining()
    }

    /// Index of the current scale.
    #[wasm_bindgen(getter)]
    pub fn scale(&self) -> u32 {
        self.run.scale() as u32
    }

    /// Whether the current scale is the last.
    #[wasm_bindgen(getter, js_name = atLastScale)]
    pub fn at_last_scale(&self) -> bool {
        self.run.at_last_scale()
    }

    /// Tiles per iteration at the current scale (1 when the network runs on the whole image).
    #[wasm_bindgen(getter)]
    pub fn tiles(&self) -> u32 {
        self.run.session().plan().tile_count() as u32
    }

    /// The run's scales: `[{width, height, iterations, optimizer, work}]`.
    #[wasm_bindgen(getter)]
    pub fn scales(&self) -> JsValue {
        to_js(&self.run.scales())
    }

    /// `[total, done]` work of the run in pixel-iterations (progress and ETA across scales).
    pub fn work(&self) -> Vec<f64> {
        let (t, d) = self.run.work();
        vec![t, d]
    }
}
