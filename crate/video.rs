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
use crate::session::{resize, sizes, Inputs, Losses, Previous, Session};
use crate::settings::Settings;
use crate::vgg::Engine;
use image::RgbaImage;
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

/// γ = 100 and 60 iterations per frame: the first values tried (not yet tuned); on an 8-frame,
/// 48-px panning clip they give 2.4× less temporal error than independent frames at a lower style
/// loss (BENCHMARKS.md, "Video").
impl Default for FrameSchedule {
    fn default() -> FrameSchedule {
        FrameSchedule { iterations: 60, temporal_weight: 100.0, independent: false }
    }
}

/// One finished frame.
pub struct Frame {
    pub image: RgbaImage,
    pub losses: Losses,
    /// Mean |Oₜ − warp(Oₜ₋₁)| over the reliable pixels (0..255 scale), and their share of the
    /// frame; None for the first frame.
    pub temporal_error: Option<(f64, f64)>,
    pub iterations: u32,
}

/// A video being stylised, frame by frame. See the module docs.
pub struct Video {
    engine: Rc<Engine>,
    settings: Settings,
    schedule: FrameSchedule,
    /// The flow's pyramid and, at the output size, the forward and backward flows, the
    /// reliability and the warped result: made at the first frame after the first, reused after.
    flow: Option<(Flow, [wgpu::Buffer; 4])>,
    /// The previous frame (network space, at the output size) and its result.
    previous: Option<(wgpu::Buffer, wgpu::Buffer)>,
    size: (usize, usize),
}

impl Video {
    /// A video with `settings` for the first frame (and every frame when `independent`).
    pub fn new(engine: Rc<Engine>, settings: &Settings, schedule: FrameSchedule) -> Result<Video> {
        settings.validate()?;
        if schedule.temporal_weight < 0.0 || !schedule.temporal_weight.is_finite() {
            return Err(Error::Settings(format!("temporal weight must be a finite number ≥ 0, got {}", schedule.temporal_weight)));
        }
        Ok(Video { engine, settings: settings.clone(), schedule, flow: None, previous: None, size: (0, 0) })
    }

    /// Stylises the next frame (every frame of one video has the same size) with `paintings`;
    /// `step` is called after every batch of iterations with (done, total).
    pub fn frame(&mut self, photo: &RgbaImage, paintings: &[RgbaImage], mut step: impl FnMut(u32, u32)) -> Result<Frame> {
        let engine = self.engine.clone();
        let gpu = &engine.gpu;
        let dims: Vec<(u32, u32)> = paintings.iter().map(|p| (p.width(), p.height())).collect();
        let ((w, h), _) = sizes(photo.width(), photo.height(), &dims, &self.settings)?;
        let size = (w as usize, h as usize);
        if self.previous.is_some() && size != self.size {
            return Err(Error::Image(format!(
                "a frame of {}×{} px in a video of {}×{} px frames: every frame must have the same size",
                photo.width(),
                photo.height(),
                self.size.0,
                self.size.1
            )));
        }
        self.size = size;
        let hw = size.0 * size.1;
        let frame = gpu.storage("video frame", 12 * hw as u64);
        let px = resize(photo, size.0, size.1);
        let rgba = gpu.storage_init("video frame rgba", px.as_raw());
        gpu.run(&[&kernels::image::preprocess(gpu, hw, &rgba, &frame)]);
        let inputs = Inputs::blend(photo.clone(), paintings.to_vec());
        // The previous result carried into this frame, and where that is reliable.
        let carried = match self.previous.take() {
            Some((prev_frame, prev_result)) => Some(pollster::block_on(self.carry(&prev_frame, &frame, &prev_result))?),
            None => None,
        };
        let (losses, image, result, iterations) = match (&carried, self.schedule.independent) {
            (Some(p), false) => {
                let n = self.schedule.iterations;
                let s = Settings { scales: 1, schedule: Vec::new(), iterations: n, temporal_weight: self.schedule.temporal_weight, ..self.settings.clone() };
                let mut session = Session::new(self.engine.clone(), &inputs.clone().after(p.clone()), &s)?;
                session.set_image_f32(&p.image)?;
                while session.iteration() < n {
                    session.step((n - session.iteration()).min(BATCH), false)?;
                    step(session.iteration(), n);
                }
                let (l, i, r) = finish(&mut session)?;
                (l, i, r, n)
            }
            _ => {
                // The first frame (or an independent one): the ordinary run, coarse to fine.
                let mut run = pollster::block_on(crate::session::Run::start(self.engine.clone(), inputs.clone(), &self.settings, None))?;
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
                let (l, i, r) = finish(run.session_mut())?;
                (l, i, r, total)
            }
        };
        let temporal_error = carried.as_ref().map(|p| temporal_error(&result, p));
        self.previous = Some((frame, gpu.storage_init("video result", &result)));
        Ok(Frame { image, losses, temporal_error, iterations })
    }

    /// The previous result warped into the current frame by the current frame's flow to the
    /// previous one, and where that flow is consistent with the previous frame's flow to this one.
    async fn carry(&mut self, prev_frame: &wgpu::Buffer, frame: &wgpu::Buffer, prev_result: &wgpu::Buffer) -> Result<Previous> {
        let gpu = &self.engine.gpu;
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
        let image = gpu.read_f32(warped, 0, 3 * hw).await?;
        let reliable = gpu.read_f32(reliable, 0, hw).await?;
        gpu.check()?;
        Ok(Previous { size, image, reliable })
    }
}

/// Iterations per submitted batch.
const BATCH: u32 = 10;

/// The session's final losses, image and `[3][h][w]` result (the iterate average when averaging).
fn finish(session: &mut Session) -> Result<(Losses, RgbaImage, Vec<f32>)> {
    session.adopt_average()?;
    session.evaluate()?;
    let losses = pollster::block_on(session.losses())?;
    let image = pollster::block_on(session.image())?;
    let result = pollster::block_on(session.image_f32())?;
    Ok((losses, image, result))
}

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
