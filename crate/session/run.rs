//! A coarse-to-fine run: the schedule's scales one after another ([`Settings::schedule`]), each a
//! [`Session`] at its size with the painting resized in proportion and the targets recomputed; each
//! scale after the first starts from the previous scale's shown image (the iterate average),
//! upsampled in f32 with Lanczos3 on the CPU, and with a fresh optimiser (Adam's moments and
//! L-BFGS's pairs restart: see BENCHMARKS.md). One scale is exactly a session.

use super::{Inputs, Optimizer, Session, Settings};
use crate::error::{Error, Result};
use crate::plan::{fitted, sizes, Size};
use crate::resample::{resize_moments, resize_planar};
use crate::settings::ensure;
use crate::vgg::Engine;
use image::RgbaImage;
use std::rc::Rc;

/// One scale of a run: output size in pixels, iterations and optimiser.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Scale {
    pub width: u32,
    pub height: u32,
    pub iterations: u32,
    /// The run's, or Adam where L-BFGS does not fit the memory budget ([`crate::plan::fitted`]).
    pub optimizer: Optimizer,
    /// The network's work per iteration in pixels ([`crate::plan::Plan::work`]): width × height
    /// on the whole image, more over tiles (halos, and the exact mode's second pass).
    pub work: f64,
}

impl Scale {
    /// The settings of this scale of a run with `run`'s.
    pub fn settings(&self, run: &Settings) -> Settings {
        let at = run.at_scale(self.width.max(self.height), self.iterations);
        if self.optimizer == run.optimizer {
            return at;
        }
        Settings { optimizer: self.optimizer, lr: None, ..at }
    }
}

/// A running coarse-to-fine optimisation. See the module docs.
pub struct Run {
    engine: Rc<Engine>,
    inputs: Inputs,
    settings: Settings,
    scales: Vec<Scale>,
    scale: usize,
    session: Option<Session>,
    done: u32,
}

/// What a scale hands the next ([`Run::leave`]): which scale it ends, its size, its shown image
/// (`[3][h][w]` f32, network space) and, with [`Settings::resample_moments`] and Adam, Adam's state.
pub struct Carry {
    scale: usize,
    size: (u32, u32),
    image: Vec<f32>,
    moments: Option<super::AdamState>,
}

impl Run {
    /// The scales of `settings` for a `w`×`h` photo and paintings of `styles` (their sizes), after
    /// checking every scale's sizes and the final scale's memory plan against the device (so a run
    /// that cannot finish fails before its first scale, with the final size in the error). With
    /// `init_side` (the longer side of an initial image) the scales smaller than it are skipped —
    /// the initial image stands for them; a scale of its size continues from it — keeping at least
    /// the final one. A scale where L-BFGS does not fit runs Adam, twice as long ([`crate::plan::fitted`]).
    pub fn plan(engine: &Engine, w: u32, h: u32, styles: &[Size], settings: &Settings, init_side: Option<u32>) -> Result<Vec<Scale>> {
        settings.validate()?;
        let mut schedule = settings.schedule();
        if let Some(side) = init_side {
            let last = *schedule.last().expect("a schedule has a scale");
            schedule.retain(|s| s.0 >= side);
            if schedule.is_empty() {
                schedule.push(last);
            }
        }
        let mut scales = Vec::new();
        // Every scale's memory plan, the last (the largest, the one that may not fit) first, so
        // an error names the size asked for.
        for &(size, iterations) in schedule.iter().rev() {
            let ((cw, ch), _) = sizes(w, h, styles, &settings.at_scale(size, iterations))?;
            let (at, plan) = fitted(engine, w, h, styles, &settings.at_scale(size, iterations))?;
            scales.push(Scale { width: cw, height: ch, iterations: at.iterations, optimizer: at.optimizer, work: plan.work() });
        }
        scales.reverse();
        Ok(scales)
    }

    /// Plans the run ([`Self::plan`]) and starts its first scale (its session created inside a
    /// validation scope: [`Session::create_checked`]), from `init` (resized) when given. The
    /// inputs travel with the run: every scale's session resizes them to its sizes.
    pub async fn start(engine: Rc<Engine>, inputs: Inputs, settings: &Settings, init: Option<&RgbaImage>) -> Result<Run> {
        let settings = &inputs.masks.settle(settings)?;
        let ((w, h), dims) = inputs.dims();
        let scales = Run::plan(&engine, w, h, &dims, settings, init.map(|i| i.width().max(i.height())))?;
        let first = scales[0].settings(settings);
        let mut session = Session::create_checked(engine.clone(), &inputs, &first).await?;
        if let Some(img) = init {
            session.set_image(img, 0)?;
        }
        Ok(Run { engine, inputs, settings: settings.clone(), scales, scale: 0, session: Some(session), done: 0 })
    }

    /// The session of the current scale.
    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("a run has a session between scales")
    }

    /// The session of the current scale, to step it.
    pub fn session_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("a run has a session between scales")
    }

    /// Steers the live run ([`Session::steer`]): `next` (the run's settings with other loss
    /// weights, style layer weights or step) applies from the next batch of this scale and to
    /// every later scale. Fails with [`crate::Error::Settings`] if anything else differs.
    pub fn steer(&mut self, next: &Settings) -> Result<()> {
        super::steer::check_steerable(&self.settings, next)?;
        if let Some(session) = self.session.as_mut() {
            let mut s = session.settings().steered(next);
            if s.optimizer != next.optimizer {
                s.lr = None; // a scale that fell back to Adam keeps Adam's step, not L-BFGS's
            }
            session.steer(&s)?;
        }
        self.settings = self.settings.steered(next);
        Ok(())
    }

    /// The run's settings (as given: the schedule is [`Self::scales`]).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every scale of the run, in order.
    pub fn scales(&self) -> &[Scale] {
        &self.scales
    }

    /// The index of the current scale in [`Self::scales`].
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// Iterations of the current scale still to run.
    pub fn remaining(&self) -> u32 {
        self.scales[self.scale].iterations.saturating_sub(self.session().iteration())
    }

    /// Whether the current scale is the last one.
    pub fn at_last_scale(&self) -> bool {
        self.scale + 1 == self.scales.len()
    }

    /// Iterations run over all scales so far.
    pub fn iterations_done(&self) -> u32 {
        self.done + self.session().iteration()
    }

    /// The work of the whole run in pixel-iterations (Σ iterations × [`Scale::work`]), and the
    /// part of it done: per-iteration cost is proportional to the pixels the network processes,
    /// so done/total is the progress and the basis of an honest ETA across scales.
    pub fn work(&self) -> (f64, f64) {
        let cost = |s: &Scale| s.iterations as f64 * s.work;
        let done = self.scales[..self.scale].iter().map(cost).sum::<f64>() + self.session().iteration() as f64 * self.scales[self.scale].work;
        (self.scales.iter().map(cost).sum(), done)
    }

    /// Reads back what the next scale starts from ([`Carry`]); pass its result to
    /// [`Self::advance`]. The future owns what it needs, so a caller that cannot hold the run
    /// across an await (the browser's `Job`) can wait for it.
    pub fn leave(&self) -> impl std::future::Future<Output = Result<Carry>> + 'static {
        let (session, size, scale) = (self.session(), self.session().size(), self.scale);
        let image = session.image_f32();
        let moments = session.adam_state().filter(|_| self.settings.resample_moments);
        async move {
            let moments = match moments {
                Some(f) => Some(f.await?),
                None => None,
            };
            Ok(Carry { scale, size, image: image.await?, moments })
        }
    }

    /// Moves to the next scale from `carry` ([`Self::leave`] of the current scale): frees the
    /// current session, creates the next (validation errors surface at its first step; natively,
    /// [`Self::next_scale`] catches them at once) and sets its image to the carried one upsampled
    /// (and Adam's moments, when carried). Fails with [`Error::Settings`] on the last scale or with
    /// another scale's carry, before anything is freed; after any later error the run has no
    /// session and must be dropped (a new run can start from its last image).
    pub fn advance(&mut self, carry: Carry) -> Result<()> {
        self.check_not_last()?;
        if carry.scale != self.scale {
            return Err(Error::Settings(format!("a carry from scale {} cannot start scale {}", carry.scale + 1, self.scale + 2)));
        }
        let ((pw, ph), prev) = (carry.size, &carry.image);
        self.done += self.session().iteration();
        self.session = None;
        self.scale += 1;
        let mut session = Session::new(self.engine.clone(), &self.inputs, &self.scales[self.scale].settings(&self.settings))?;
        let (w, h) = session.size();
        session.set_image_f32(&resize_planar(prev, pw, ph, w, h))?;
        if let Some((m, v, state)) = carry.moments {
            let v: Vec<f32> = resize_moments(&v, (pw, ph), (w, h)).into_iter().map(|x| x.max(0.0)).collect();
            session.set_adam_state(&resize_moments(&m, (pw, ph), (w, h)), &v, &state)?;
        }
        self.session = Some(session);
        Ok(())
    }

    /// [`Self::leave`], then [`Self::advance`] inside a validation error scope
    /// ([`crate::Gpu::validated`]: a kernel the device rejects is [`Error::Kernel`] at once).
    pub async fn next_scale(&mut self) -> Result<()> {
        self.check_not_last()?;
        let carry = self.leave().await?;
        let engine = self.engine.clone();
        engine.gpu.validated(|| self.advance(carry)).await
    }

    fn check_not_last(&self) -> Result<()> {
        ensure(!self.at_last_scale(), || "the run is at its last scale".into())
    }
}
