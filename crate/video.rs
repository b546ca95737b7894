//! Video: frames stylised one after another so that they agree with each other (Ruder,
//! Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016). The first frame is an
//! ordinary run (coarse to fine). Every later frame is one scale at the output size that starts
//! from the previous frame's result warped into it by the optical flow (`kernels::flow`) and adds
//! the temporal loss γ·mean c·(x − warped)² (`Settings::temporal_weight`), c being where the flow
//! passes the forward–backward consistency check. The frames' flow and the warp run on the GPU;
//! the warped result and c are read back once per frame and become the session's
//! [`crate::session::Previous`].
//!
//! The temporal error of a frame — mean |Oₜ − warp(Oₜ₋₁)| over its reliable pixels (0..255 scale)
//! — is what flicker is; [`Video::frame`] reports it for every frame after the first, with the
//! temporal loss or without (`independent`: each frame its own full run, for comparison).

use crate::error::{Error, Result};
use crate::kernels::{self, Flow, FlowConfig};
use crate::plan::sizes;
use crate::resample::resize;
#[cfg(feature = "cli")]
use crate::session::Losses;
use crate::session::{Inputs, Previous, Run};
use crate::settings::Settings;
use crate::vgg::Engine;
#[cfg(feature = "cli")]
use image::RgbaImage;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

/// How later frames run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameSchedule {
    /// Iterations of each frame after the first (one scale).
    pub iterations: u32,
    /// γ of the temporal loss.
    pub temporal_weight: f32,
    /// Stylise every frame on its own (the first frame's full settings, no temporal loss, from
    /// the photo): the comparison that shows the flicker the temporal loss removes.
    pub independent: bool,
}

/// γ = 1000 and 60 iterations per frame, from a γ sweep (100, 1000, 3000) on an 8-frame, 48-px
/// panning clip: 3.9× less temporal error than independent frames at a 31% lower style loss
/// (BENCHMARKS.md, "Video").
impl Default for FrameSchedule {
    fn default() -> FrameSchedule {
        FrameSchedule { iterations: 60, temporal_weight: 1000.0, independent: false }
    }
}

/// One finished frame.
#[cfg(feature = "cli")]
pub struct Frame {
    pub image: RgbaImage,
    pub losses: Losses,
    /// Mean |Oₜ − warp(Oₜ₋₁)| over the reliable pixels (0..255 scale), and their share of the
    /// frame; None for the first frame.
    pub temporal_error: Option<(f64, f64)>,
    pub iterations: u32,
    /// Wall-clock seconds of the frame's flow (both directions, the check and the warp, waited
    /// for on the GPU before anything else is submitted); 0 for a frame with nothing to carry.
    pub flow_seconds: f64,
}

/// The flow's pyramid and, at the output size, the forward and backward flows, the reliability
/// and the warped result.
type FlowState = (Flow, [wgpu::Buffer; 4]);

/// A video being stylised, frame by frame: [`Video::start_frame`] gives each frame's [`Run`],
/// which the caller drives as any run (natively [`Video::frame`] does; in the browser the page's
/// run loop), and [`Video::end_frame`] takes its result. See the module docs.
pub struct Video {
    engine: Rc<Engine>,
    settings: Settings,
    schedule: FrameSchedule,
    /// Made at the first frame after the first, reused after.
    flow: Option<FlowState>,
    /// The frame started last (network space, at the output size).
    frame: Option<wgpu::Buffer>,
    /// The frame before it and its result, once [`Video::end_frame`] has kept them.
    previous: Option<(wgpu::Buffer, wgpu::Buffer)>,
    /// What the frame started last carries from the one before (for its temporal error).
    carried: Rc<RefCell<Option<Previous>>>,
    size: (usize, usize),
}

impl Video {
    /// A video with `settings` for the first frame (and every frame when `independent`).
    pub fn new(engine: Rc<Engine>, settings: &Settings, schedule: FrameSchedule) -> Result<Video> {
        settings.validate()?;
        if schedule.temporal_weight < 0.0 || !schedule.temporal_weight.is_finite() {
            return Err(Error::Settings(format!("temporal weight must be a finite number ≥ 0, got {}", schedule.temporal_weight)));
        }
        if schedule.iterations == 0 {
            return Err(Error::Settings("a video's later frames need at least one iteration each".into()));
        }
        Ok(Video { engine, settings: settings.clone(), schedule, flow: None, frame: None, previous: None, carried: Rc::default(), size: (0, 0) })
    }

    /// Starts the next frame (`inputs.photo`; every frame of one video has the same size): the
    /// first frame (and, `independent`, every frame) as an ordinary coarse-to-fine run; a later
    /// one as one scale at the output size with the temporal loss, from the previous result
    /// warped into it. The flow is submitted now; the returned future reads the warp back and
    /// creates the run (it owns what it needs). A frame whose result never reached
    /// [`Self::end_frame`] (a stopped one) leaves nothing to carry: the next starts afresh.
    pub fn start_frame(&mut self, inputs: Inputs) -> Result<impl Future<Output = Result<Run>> + 'static> {
        let engine = self.engine.clone();
        let gpu = &engine.gpu;
        let ((w, h), dims) = inputs.dims();
        let ((w, h), _) = sizes(w, h, &dims, &self.settings)?;
        let size = (w as usize, h as usize);
        if (self.frame.is_some() || self.previous.is_some()) && size != self.size {
            return Err(Error::Image(format!(
                "a frame of {}×{} px in a video of {}×{} px frames: every frame must have the same size",
                inputs.photo.width(),
                inputs.photo.height(),
                self.size.0,
                self.size.1
            )));
        }
        self.size = size;
        let hw = size.0 * size.1;
        let frame = gpu.storage("video frame", 12 * hw as u64);
        let rgba = gpu.storage_init("video frame rgba", resize(&inputs.photo, size.0, size.1).as_raw());
        gpu.run(&[&kernels::image::preprocess(gpu, hw, &rgba, &frame)]);
        let carry = self.previous.take().map(|(prev_frame, prev_result)| self.carry(&prev_frame, &frame, &prev_result));
        self.frame = Some(frame);
        let settings = match (&carry, self.schedule.independent) {
            (Some(_), false) => {
                let n = self.schedule.iterations;
                Settings { scales: 1, schedule: Vec::new(), iterations: n, temporal_weight: self.schedule.temporal_weight, ..self.settings.clone() }
            }
            _ => self.settings.clone(),
        };
        let later = carry.is_some() && !self.schedule.independent;
        let carried = self.carried.clone();
        carried.replace(None);
        Ok(async move {
            let previous = match carry {
                Some(f) => Some(f.await?),
                None => None,
            };
            carried.replace(previous.clone());
            match previous.filter(|_| later) {
                Some(p) => {
                    let image = p.image.clone();
                    let mut run = Run::start(engine, inputs.after(p), &settings, None).await?;
                    run.session_mut().set_image_f32(&image)?;
                    Ok(run)
                }
                None => Run::start(engine, inputs, &settings, None).await,
            }
        })
    }

    /// Ends the frame started last with its result (`[3][h][w]` network space at the output
    /// size: the run's shown image), kept for the next frame. Returns the frame's temporal error
    /// (mean |Oₜ − warp(Oₜ₋₁)| over the reliable pixels, 0..255 scale) and the reliable pixels'
    /// share, or None for the first frame.
    pub fn end_frame(&mut self, result: &[f32]) -> Result<Option<(f64, f64)>> {
        let hw = self.size.0 * self.size.1;
        let Some(frame) = self.frame.take() else {
            return Err(Error::Settings("no video frame was started".into()));
        };
        if result.len() != 3 * hw {
            return Err(Error::Image(format!("a video frame's result has {} values, not 3 × {}×{}", result.len(), self.size.0, self.size.1)));
        }
        self.previous = Some((frame, self.engine.gpu.storage_init("video result", result)));
        Ok(self.carried.borrow().as_ref().map(|p| temporal_error(result, p)))
    }

    /// Stylises the next frame with `paintings`, blocking; `step` is called after every batch of
    /// iterations with (done, total).
    #[cfg(feature = "cli")]
    pub fn frame(&mut self, photo: &RgbaImage, paintings: &[RgbaImage], mut step: impl FnMut(u32, u32)) -> Result<Frame> {
        let carries = self.previous.is_some();
        let t = std::time::Instant::now();
        let started = self.start_frame(Inputs::blend(photo.clone(), paintings.to_vec()))?;
        let flow_seconds = if carries {
            let gpu = &self.engine.gpu;
            gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
            t.elapsed().as_secs_f64()
        } else {
            0.0
        };
        let mut run = pollster::block_on(started)?;
        let total = run.scales().iter().map(|s| s.iterations).sum();
        loop {
            let n = run.scales()[run.scale()].iterations;
            while run.session().iteration() < n {
                let k = (n - run.session().iteration()).min(BATCH);
                run.session_mut().step(k, false)?;
                step(run.iterations_done(), total);
            }
            if run.at_last_scale() {
                break;
            }
            pollster::block_on(run.next_scale())?;
        }
        let session = run.session_mut();
        session.adopt_average()?;
        session.evaluate()?;
        let losses = pollster::block_on(session.losses())?;
        let image = pollster::block_on(session.image())?;
        let result = pollster::block_on(session.image_f32())?;
        let temporal_error = self.end_frame(&result)?;
        Ok(Frame { image, losses, temporal_error, iterations: total, flow_seconds })
    }

    /// Submits the flow from the current frame to the previous one and back, the consistency
    /// check and the warp of the previous result; the future reads the warped result and the
    /// reliability back.
    fn carry(&mut self, prev_frame: &wgpu::Buffer, frame: &wgpu::Buffer, prev_result: &wgpu::Buffer) -> impl Future<Output = Result<Previous>> + 'static {
        let engine = self.engine.clone();
        let gpu = &engine.gpu;
        let size = self.size;
        let hw = size.0 * size.1;
        let (flow, [forward, backward, reliable, warped]) = self.flow.get_or_insert_with(|| {
            let bufs =
                [("video forward flow", 8), ("video backward flow", 8), ("video reliable", 4), ("video warped", 12)].map(|(label, bytes)| gpu.storage(label, bytes * hw as u64));
            (Flow::new(gpu, size, FlowConfig::default()), bufs)
        });
        let mut ds = flow.estimate(gpu, prev_frame, frame, forward);
        ds.extend(flow.estimate(gpu, frame, prev_frame, backward));
        ds.push(kernels::flow_check(gpu, size, backward, forward, reliable));
        ds.push(kernels::flow_warp(gpu, size, backward, prev_result, warped));
        gpu.run(&ds.iter().collect::<Vec<_>>());
        let (warped, reliable) = (warped.clone(), reliable.clone());
        async move {
            let image = engine.gpu.read_f32(&warped, 0, 3 * hw).await?;
            let reliable = engine.gpu.read_f32(&reliable, 0, hw).await?;
            engine.gpu.check()?;
            Ok(Previous { size, image, reliable })
        }
    }
}

/// Iterations per submitted batch.
#[cfg(feature = "cli")]
const BATCH: u32 = 10;

/// Mean |result − warped| over the reliable pixels (all three channels), and their share.
fn temporal_error(result: &[f32], p: &Previous) -> (f64, f64) {
    let hw = p.reliable.len();
    let (mut sum, mut count) = (0.0, 0usize);
    for (i, _) in p.reliable.iter().enumerate().filter(|(_, &c)| c > 0.5) {
        for c in 0..3 {
            sum += (result[c * hw + i] - p.image[c * hw + i]).abs() as f64;
        }
        count += 1;
    }
    (if count > 0 { sum / (3 * count) as f64 } else { 0.0 }, count as f64 / hw as f64)
}
