//! Steering a live run: the loss weights (α, β, τ, the style layers' weights) and the optimiser's
//! step live in the uniforms of the dispatches that use them. An iteration records, for each such
//! uniform field, which setting it is a multiple of; [`Steering::apply`] rewrites them with queue
//! writes, so new settings take effect at the next submission with no pipeline compiled, no bind
//! group made and the optimiser's state (Adam's moments, L-BFGS pairs) kept.

use super::Settings;
use crate::error::{Error, Result};
use crate::gpu::Dispatch;

/// A setting a uniform field is proportional to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Knob {
    /// α ([`Settings::content_weight`]).
    Alpha,
    /// β ([`Settings::style_weight`]).
    Beta,
    /// τ ([`Settings::tv_weight`]).
    Tau,
    /// w_l of style layer l ([`Settings::style_layer_weights`]).
    Layer(usize),
    /// β · w_l: a style layer's gradient coefficient.
    StyleLayer(usize),
    /// The optimiser's step ([`Settings::step_size`]).
    Lr,
    /// Painting k's blend weight ([`Settings::blend_weight`]).
    Blend(usize),
}

impl Knob {
    /// The setting's value in `s`.
    pub fn value(self, s: &Settings) -> f32 {
        match self {
            Knob::Alpha => s.content_weight,
            Knob::Beta => s.style_weight,
            Knob::Tau => s.tv_weight,
            Knob::Layer(l) => s.style_layer_weights[l],
            Knob::StyleLayer(l) => s.style_weight * s.style_layer_weights[l],
            Knob::Lr => s.step_size(),
            Knob::Blend(k) => s.blend_weight(k),
        }
    }
}

/// One uniform field: `scale · knob` at byte `offset` of `dispatch`'s uniform.
#[derive(Clone)]
struct Field {
    dispatch: Dispatch,
    offset: usize,
    scale: f32,
    knob: Knob,
}

/// Every steerable uniform field of an iteration.
#[derive(Clone, Default)]
pub struct Steering {
    fields: Vec<Field>,
}

impl Steering {
    /// Records that the f32 at byte `offset` of `dispatch`'s uniform is `scale · knob(s)`, where
    /// `s` are the settings it was built with (checked: a wrong offset or factor panics).
    pub fn add(&mut self, dispatch: &Dispatch, offset: usize, scale: f32, knob: Knob, s: &Settings) {
        let (built, expect) = (dispatch.initial_f32(offset), scale * knob.value(s));
        assert!((built - expect).abs() <= 1e-6 * expect.abs().max(f32::MIN_POSITIVE), "steering {knob:?} of {}: uniform holds {built}, expected {expect}", dispatch.label);
        self.fields.push(Field { dispatch: dispatch.clone(), offset, scale, knob });
    }

    /// Writes every field for settings `s` (queue writes; effective from the next submission).
    pub fn apply(&self, queue: &wgpu::Queue, s: &Settings) {
        for f in &self.fields {
            f.dispatch.set_f32(queue, f.offset, f.scale * f.knob.value(s));
        }
    }
}

/// `next` if it differs from `now` only in what a live run can change (α, β, τ, the style layer
/// weights, the step, the blend weights of as many paintings), else [`Error::Settings`] naming the first setting that needs a new run.
pub fn check_steerable(now: &Settings, next: &Settings) -> Result<()> {
    next.validate()?;
    if next.style_blend.len() != now.style_blend.len() {
        return Err(Error::Settings("the number of paintings cannot change during a run: start a new run".into()));
    }
    let steerable = next.steered(now);
    if steerable == *now {
        return Ok(());
    }
    let a = serde_json::to_value(now).unwrap_or_default();
    let b = serde_json::to_value(&steerable).unwrap_or_default();
    let name = a.as_object().and_then(|a| a.iter().find(|(k, v)| b.get(k.as_str()) != Some(v)).map(|(k, _)| k.clone())).unwrap_or_else(|| "a setting".into());
    Err(Error::Settings(format!(
        "`{name}` cannot change during a run (only the content, style and smoothness weights, the style layer weights, the learning rate and the blend weights can): start a new run"
    )))
}
