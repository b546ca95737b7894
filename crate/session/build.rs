//! A session's GPU work, built once from its schedule ([`super::passes`]): the targets (computed
//! and submitted here: relu4_2 of the photo, each painting's Grams at the five style layers, each
//! styled region's part of its painting) and the iteration's dispatch lists — the passes in the
//! schedule's order, each forward then back from relu5_1 with the loss terms ([`super::terms`])
//! at their layers, the TV loss, the one loss reduction, and the optimiser's step.

use super::color::ColourPrep;
use super::passes::{Order, Pass, Schedule};
use super::steer::{Knob, Steering};
use super::terms::{finish_losses, ContentTerm, Gram, GramAcc, LossParts, StyleTerm, Styled};
use super::{init_noise, Optimizer, Settings, AVERAGE_DECAY};
use crate::gpu::{Dispatch, Gpu};
use crate::kernels::adam::{AdamParams, ADAM_STATE_INIT};
use crate::kernels::lbfgs::{LbfgsImage, LbfgsParams};
use crate::kernels::Staging;
use crate::kernels::{self, AdamBuffers, AdamConfig, Lbfgs, LbfgsConfig};
use crate::plan::{Arena, Buf, Plan};
use crate::vgg::{layer_shapes, Engine};
use image::RgbaImage;
use std::mem::offset_of;
use wgpu::Buffer;

/// The dispatches of one iteration and the buffers the session reads through them (every planned
/// buffer stays alive with the session: [`crate::gpu::Arena::into_held`]).
pub struct Iteration {
    /// Forward, losses and backward, TV, the loss reduction: everything up to the gradient and
    /// the losses of the current image (what [`super::Session::evaluate`] runs).
    pub loss_and_gradient: Vec<Dispatch>,
    /// The optimiser's step, per iteration k at `optimiser[k % optimiser.len()]` (Adam: one list,
    /// the tick of its step counter and the update; L-BFGS: m lists, one per position of the
    /// newest pair in its ring). Each also updates the iterate average.
    pub optimiser: Vec<Vec<Dispatch>>,
    /// L-BFGS: what ends a scale after k iterations, at `settle[k % m]`, run after
    /// `loss_and_gradient` ([`crate::kernels::Lbfgs::settle`]: a rejected last step is taken
    /// back). Empty with Adam.
    pub settle: Vec<Vec<Dispatch>>,
    /// L-BFGS: its state `[13 + 2m]` (the last accepted loss is reset when the weights are steered).
    pub lbfgs_state: Option<Buffer>,
    /// Where `loss_and_gradient` is split into submissions (indices of the first dispatch of each
    /// after the first; empty: one submission for any number of iterations). Tiled iterations
    /// submit tile by tile.
    pub cuts: Vec<usize>,
    /// Adam's moments m, v (`[3][h][w]`) and state (`[8]`), with Adam.
    pub adam: Option<[Buffer; 3]>,
    /// The uniform fields that follow the loss weights and the step ([`super::Session::steer`]).
    pub steering: Steering,
    /// `[3][h][w]` the gradient of the total loss w.r.t. the image.
    pub grad_x: Buffer,
    /// With several paintings: the blend of their Grams into the style targets (run again when the
    /// blend weights are steered).
    pub blend: Vec<Dispatch>,
    /// `[3][h][w]` the photo (network space) that colour control keeps ([`super::Colors::keeps_photo`]).
    pub photo: Option<Buffer>,
}

/// A styled region on the GPU: its painting and, per style layer, its mask (`[n]` f32) and mass;
/// with a style mask on its painting, what it matches of that painting.
pub struct RegionGpu {
    pub painting: usize,
    pub layers: Vec<(Buffer, usize)>,
    pub guide: Option<PaintingGuide>,
}

/// A styled region's part of its painting (a style mask): per style layer, the painting-side mask
/// (`[n]` f32 at the painting's layer size; freed after the targets) with its mass (0: the region
/// is absent there, and the whole painting's Gram is the target), and the guided Gram `[C][C]`
/// computed from it.
pub struct PaintingGuide {
    pub mask: Vec<(Buffer, usize)>,
    pub targets: Vec<Buffer>,
}

/// The session-long buffers an iteration reads and writes.
#[derive(Clone, Copy)]
pub struct ImageBuffers<'a> {
    /// `[3][h][w]` the image being optimised (network space), the network's input.
    pub x: &'a Buffer,
    /// `[LOSS_SLOTS]` the losses.
    pub losses: &'a Buffer,
    /// `[3][h][w]` the iterate average (a placeholder with averaging off).
    pub avg: &'a Buffer,
    /// The staged per-pixel kernels' scratch, when the image is larger than one binding.
    pub staging: Option<&'a Staging>,
    /// Regions that keep the photo ([`super::keep`]): the CPU side (to start from the photo there).
    pub keep: Option<&'a super::keep::Keep>,
    /// … and their mask `[h][w]` on the GPU, bound by the optimisers.
    pub keep_mask: Option<&'a Buffer>,
    /// A video frame's temporal loss: the previous frame's result warped into it `[3][h][w]` and
    /// where that is reliable `[h][w]`.
    pub temporal: Option<(&'a Buffer, &'a Buffer)>,
}

/// What a session is built from: the photo and the paintings resized to the session's sizes, the
/// styled regions uploaded.
pub struct Resized<'a> {
    pub content: &'a RgbaImage,
    pub paintings: &'a [RgbaImage],
    pub regions: Vec<RegionGpu>,
}

/// The targets: the content target per pass of the photo, the style targets per style layer
/// (blended from `grams[layer][painting]` with several paintings), and the Gram accumulators the
/// tiles reuse in the iteration.
struct Targets {
    content: Vec<Buffer>,
    style: Vec<Buffer>,
    grams: Vec<Vec<Buffer>>,
    /// Tiles: per style layer the partials and the sum; per style layer and region, its sum.
    partials: Vec<Buffer>,
    sums: Vec<Option<Buffer>>,
    region_sums: Vec<Vec<Buffer>>,
}

impl Targets {
    /// Painting `k`'s Gram matrix at style layer `si`.
    fn painting(&self, si: usize, k: usize) -> &Buffer {
        self.grams.get(si).map_or(&self.style[si], |g| &g[k])
    }

    /// Where a Gram of the targets (and, over tiles, of the iteration) accumulates at each style
    /// layer: the whole input's (`region` None) or styled region r's part.
    fn accs(&self, region: Option<usize>) -> Vec<GramAcc> {
        let sum = |si: usize| match region {
            None => self.sums[si].clone(),
            Some(r) => self.region_sums.get(si).map(|s| s[r].clone()),
        };
        self.partials.iter().enumerate().map(|(si, partial)| GramAcc { partial: partial.clone(), sum: sum(si) }).collect()
    }
}

/// Builds the session's work from `plan`: computes the targets (submitted here, with the colour
/// preparation and the noise initialisation) and returns the iteration.
pub fn build(engine: &Engine, plan: &Plan, s: &Settings, image: ImageBuffers, inputs: Resized, arena: &mut Arena) -> Iteration {
    let (w, h) = (inputs.content.width() as usize, inputs.content.height() as usize);
    let guided = inputs.regions.iter().any(|r| r.guide.is_some());
    let bounding = inputs.paintings.iter().fold((0, 0), |(a, b), p| (a.max(p.width() as usize), b.max(p.height() as usize)));
    let mut sch = Schedule::new(engine, s, plan, ((w, h), bounding), (!inputs.regions.is_empty(), guided), arena);
    let (targets, photo, blend) = compute_targets(&mut sch, image, &inputs, arena);
    init_noise(&engine.gpu, s, image.x, w * h, image.keep);
    // The targets are submitted: their buffers (the whole painting's network) make way for the iteration's.
    sch.painting = None;
    arena.begin_iteration(&engine.gpu);
    let mut it = iteration(sch, image, targets, &inputs.regions, arena);
    // The blend weights are steerable: their uniforms join the iteration's.
    for (d, k) in blend.iter().flat_map(|d| (0..s.paintings()).map(move |k| (d, k))) {
        it.steering.add(d, offset_of!(kernels::gram::BlendParams, w) + 4 * k, 1.0, Knob::Blend(k), s);
    }
    it.blend = blend;
    it.photo = photo;
    it
}

/// Uploads the photo into `x` and each painting in turn into the painting's network (one set of
/// buffers, planned for the largest), prepares their colours, runs the passes: the content
/// targets (what each pass of the photo owns at relu4_2) and each painting's Grams — one submission
/// per painting — then blends several paintings' Grams. Regions whose painting has a style mask
/// get their own targets: the guided Grams of their part of it. Reads nothing back.
fn compute_targets(sch: &mut Schedule, image: ImageBuffers, inputs: &Resized, arena: &mut Arena) -> (Targets, Option<Buffer>, Vec<Dispatch>) {
    let (engine, s) = (sch.engine, sch.s);
    let gpu = &engine.gpu;
    let (w, h) = (sch.grid.width, sch.grid.height);
    let mut once = kernels::preprocess(gpu, w * h, &arena.upload(gpu, Buf::ContentRgba, inputs.content.as_raw()), image.x, image.staging);
    let (prep, first_ops) = ColourPrep::new(gpu, s.colors, image.x, w * h, arena, image.staging);
    once.extend(first_ops);
    let (style_img, upload_s) = (arena.take(Buf::StyleImage), arena.take(Buf::StyleRgba));
    let t = take_targets(sch, inputs, arena);
    for (k, painting) in inputs.paintings.iter().enumerate() {
        let (sw, sh) = (painting.width() as usize, painting.height() as usize);
        gpu.queue.write_buffer(&upload_s, 0, painting.as_raw());
        let mut ops = if k == 0 { std::mem::take(&mut once) } else { Vec::new() };
        ops.extend(kernels::preprocess(gpu, sw * sh, &upload_s, &style_img, image.staging));
        ops.extend(prep.painting(gpu, k, image.x, &style_img, sw * sh));
        if k == 0 {
            for (tk, tile) in sch.grid.tiles.iter().enumerate() {
                let p = sch.pass(&sch.grid, tile, image.x, false);
                ops.extend(p.forward.iter().cloned());
                ops.extend(sch.owned(&p, sch.content, Some(&t.content[tk])).and_then(|o| o.op));
            }
        }
        ops.extend(painting_grams(sch, (k, painting), &inputs.regions, &t, &style_img));
        gpu.submit(&ops, |_| {});
    }
    let blend = blend_ops(engine, s, &t.grams, &t.style);
    gpu.submit(&blend, |_| {});
    (t, prep.photo, blend)
}

/// The targets' buffers from the plan.
fn take_targets(sch: &Schedule, inputs: &Resized, arena: &mut Arena) -> Targets {
    let layers: Vec<String> = sch.style.iter().map(|&i| sch.layers[i].name.clone()).collect();
    let mut per_layer = |kind: fn(String) -> Buf| layers.iter().map(|l| arena.take(kind(l.clone()))).collect::<Vec<_>>();
    let style = per_layer(Buf::StyleTarget);
    let tiled = sch.tiled();
    let partials = per_layer(if tiled { Buf::GramPartials } else { Buf::StyleGramPartials });
    let sums = if tiled { per_layer(Buf::GramSum).into_iter().map(Some).collect() } else { vec![None; 5] };
    let mut per = |kind: fn(String, usize) -> Buf, n: usize| layers.iter().map(|l| (0..n).map(|k| arena.take(kind(l.clone(), k))).collect()).collect::<Vec<Vec<_>>>();
    let paintings = sch.s.paintings();
    let grams = if paintings > 1 { per(Buf::StyleGrams, paintings) } else { Vec::new() };
    let region_sums = if tiled && !inputs.regions.is_empty() { per(Buf::RegionGramSum, inputs.regions.len()) } else { Vec::new() };
    let content = (0..sch.grid.tiles.len()).map(|k| arena.take(Buf::ContentTarget(k))).collect();
    Targets { content, style, grams, partials, sums, region_sums }
}

/// Painting `k`'s Grams (in `style_img`, network space) into its targets: the whole painting's at
/// every style layer, and each guided region's part of it; over tiles, summed tile by tile.
fn painting_grams(sch: &Schedule, (k, painting): (usize, &RgbaImage), regions: &[RegionGpu], t: &Targets, style_img: &Buffer) -> Vec<Dispatch> {
    let gpu = &sch.engine.gpu;
    let (sw, sh) = (painting.width() as usize, painting.height() as usize);
    let grid = sch.painting_grid(sw, sh);
    let layers = layer_shapes(sw, sh, &sch.engine.channels());
    // Each Gram with where it ends.
    let whole = (Gram { mask: None, accs: t.accs(None) }, (0..sch.style.len()).map(|si| t.painting(si, k).clone()).collect());
    let guides = regions.iter().enumerate().filter(|(_, r)| r.painting == k).filter_map(|(r, g)| Some((r, g.guide.as_ref()?)));
    let guided = guides.map(|(r, g)| (Gram { mask: Some(g.mask.clone()), accs: t.accs(Some(r)) }, g.targets.clone()));
    let grams: Vec<(Gram, Vec<Buffer>)> = std::iter::once(whole).chain(guided).collect();
    let finish = |si: usize, (gram, outs): &(Gram, Vec<Buffer>)| {
        let l = &layers[sch.style[si]];
        let (src, split) = gram.source(si, l.output.0, l.output.1 * l.output.2)?;
        Some(kernels::gram_finish(gpu, format!("{} style gram", l.name), split, src, &outs[si]))
    };
    let mut ops: Vec<Dispatch> = grams.iter().flat_map(|(g, _)| g.zero_sums(sch)).collect();
    for tile in &grid.tiles {
        let p = sch.pass(&grid, tile, style_img, true);
        ops.extend(p.forward.iter().cloned());
        for (si, &i) in sch.style.iter().enumerate() {
            let Some(o) = sch.owned(&p, i, None) else { continue };
            ops.extend(o.op.clone());
            for job in &grams {
                ops.extend(job.0.accumulate(sch, &p, (si, &o), sch.painting_masked.as_ref()));
                if !sch.tiled() {
                    ops.extend(finish(si, job));
                }
            }
        }
    }
    if sch.tiled() {
        ops.extend((0..sch.style.len()).flat_map(|si| grams.iter().filter_map(|job| finish(si, job)).collect::<Vec<_>>()));
    }
    ops
}

/// The iteration over the schedule's passes (the targets computed; the arena past
/// [`Arena::begin_iteration`]).
fn iteration(mut sch: Schedule, image: ImageBuffers, t: Targets, regions: &[RegionGpu], arena: &mut Arena) -> Iteration {
    let (engine, s) = (sch.engine, sch.s);
    let gpu = &engine.gpu;
    let grad_x = arena.take(Buf::ImageGradient);
    sch.take_iteration(arena, !regions.is_empty());
    let mut parts = LossParts::new(arena.take(Buf::LossPartials));
    let style = StyleTerm::new(&sch, styled(&sch, &t, regions, arena), &mut parts);
    let mut sweep = Sweep { sch: &sch, style: &style, content: ContentTerm::new(t.content.clone()), parts, steering: Steering::default(), grad_x: &grad_x };
    let mut ops = Vec::new();
    let mut cuts = Vec::new();
    let passes: Vec<Pass> = sch.grid.tiles.iter().map(|tile| sch.pass(&sch.grid, tile, image.x, false)).collect();
    let grams = |p: &Pass| -> Vec<Dispatch> {
        let mut ops = p.forward.clone();
        for (si, &i) in sch.style.iter().enumerate() {
            let Some(o) = sch.owned(p, i, None) else { continue };
            ops.extend(o.op.clone());
            ops.extend(style.accumulate(&sch, p, si, &o));
        }
        ops
    };
    match sch.order {
        Order::Whole => {
            ops.extend(passes[0].forward.iter().cloned());
            ops.extend(sweep.backward(&passes[0], 0, true));
        }
        Order::Exact => {
            ops.extend(kernels::zero_all(gpu, "tile scatter", 3 * sch.grid.width * sch.grid.height, &grad_x));
            ops.extend(style.zero_sums(&sch));
            for (k, pair) in passes.chunks(2).enumerate() {
                if k > 0 {
                    cuts.push(ops.len());
                }
                ops.extend(pair.iter().flat_map(grams));
            }
            ops.extend(style.diffs());
            for (k, p) in passes.iter().enumerate() {
                cuts.push(ops.len());
                ops.extend(p.forward.iter().cloned());
                ops.extend(sweep.backward(p, k, false));
            }
        }
        Order::Fast => {
            // G − A of the initial image, for the first iteration.
            let first: Vec<Dispatch> = style.zero_sums(&sch).into_iter().chain(passes.iter().flat_map(grams)).chain(style.diffs()).collect();
            gpu.submit(&first, |_| {});
            ops.extend(kernels::zero_all(gpu, "tile scatter", 3 * sch.grid.width * sch.grid.height, &grad_x));
            ops.extend(style.zero_sums(&sch));
            for (k, p) in passes.iter().enumerate() {
                if k > 0 {
                    cuts.push(ops.len());
                }
                ops.extend(grams(p));
                ops.extend(sweep.backward(p, k, false));
            }
            ops.extend(style.diffs());
        }
    }
    sweep.content.finish(&sch, &mut sweep.parts);
    let (w, h) = (sch.grid.width, sch.grid.height);
    ops.extend(finish_losses(&sch, image, &grad_x, &mut sweep.parts, &mut sweep.steering));
    let mut it = Iteration {
        loss_and_gradient: ops,
        cuts,
        optimiser: Vec::new(),
        settle: Vec::new(),
        lbfgs_state: None,
        adam: None,
        steering: sweep.steering,
        grad_x,
        blend: Vec::new(),
        photo: None,
    };
    optimiser(gpu, s, w * h, image, arena, &mut it);
    it
}

/// The styled regions of the iteration: one without a mask when there are no regions.
fn styled(sch: &Schedule, t: &Targets, regions: &[RegionGpu], arena: &mut Arena) -> Vec<Styled> {
    let layers: Vec<String> = sch.style.iter().map(|&i| sch.layers[i].name.clone()).collect();
    let mut per_layer = |kind: fn(String) -> Buf| layers.iter().map(|l| arena.take(kind(l.clone()))).collect::<Vec<_>>();
    let tiled = sch.tiled();
    // One pass over the whole image: one partials and one G − A buffer per layer serve every region
    // in turn; tiles: the targets' accumulators, and a G − A per region.
    let partials: Vec<Buffer> = if tiled { Vec::new() } else { per_layer(Buf::GramPartials) };
    let shared_diffs: Vec<Buffer> = if !tiled || regions.is_empty() { per_layer(Buf::GramDiff) } else { Vec::new() };
    let accs = |r| if tiled { t.accs(r) } else { partials.iter().map(|p| GramAcc { partial: p.clone(), sum: None }).collect() };
    if regions.is_empty() {
        return vec![Styled { gram: Gram { mask: None, accs: accs(None) }, targets: t.style.clone(), diffs: shared_diffs }];
    }
    let mut diffs = |r: usize| if tiled { layers.iter().map(|l| arena.take(Buf::RegionGramDiff(l.clone(), r))).collect() } else { shared_diffs.clone() };
    // What a region matches: its part of its painting where a style mask gives one, else the whole painting's Gram.
    let target = |region: &RegionGpu, si: usize| match &region.guide {
        Some(g) if g.mask[si].1 > 0 => g.targets[si].clone(),
        _ => t.painting(si, region.painting).clone(),
    };
    let targets = |region: &RegionGpu| (0..layers.len()).map(|si| target(region, si)).collect();
    regions
        .iter()
        .enumerate()
        .map(|(r, region)| Styled { gram: Gram { mask: Some(region.layers.clone()), accs: accs(Some(r)) }, targets: targets(region), diffs: diffs(r) })
        .collect()
}

/// One pass's way back: from relu5_1 down to its input, each loss term's gradient at its layer
/// (into the features the pass owns) joining the layers' backward passes.
struct Sweep<'a> {
    sch: &'a Schedule<'a>,
    style: &'a StyleTerm,
    content: ContentTerm,
    parts: LossParts,
    steering: Steering,
    grad_x: &'a Buffer,
}

impl Sweep<'_> {
    /// Pass `p` (the `k`th of the photo) back from relu5_1 to the image's gradient; `inline`: the
    /// style term's Grams and G − A too ([`StyleTerm::gradient`]).
    fn backward(&mut self, p: &Pass, k: usize, inline: bool) -> Vec<Dispatch> {
        let sch = self.sch;
        let engine = sch.engine;
        let mut ops = Vec::new();
        let (mut cur, mut written) = (0, false);
        for i in (0..p.net.layers.len()).rev() {
            let si = sch.style.iter().position(|&x| x == i);
            if si.is_some() || i == sch.content {
                let shape = p.net.layers[i].output;
                let ping = &sch.ping[cur];
                let o = sch.owned(p, i, None);
                let zero = || kernels::zero(&engine.gpu, "layer gradient".into(), shape.0 * shape.1 * shape.2, ping);
                if !written && !o.as_ref().is_some_and(|o| o.full) {
                    ops.push(zero());
                    written = true;
                }
                if let Some(o) = o {
                    ops.extend(o.op.clone());
                    let mut sink = sch.sink(&o, ping, written);
                    if let Some(si) = si {
                        ops.extend(self.style.gradient(sch, p, (si, &o), &mut sink, inline, &mut self.steering));
                    }
                    if i == sch.content {
                        ops.extend(self.content.gradient(sch, (k, &o), &mut sink, &mut self.parts, &mut self.steering));
                    }
                    ops.extend(sch.scatter(&o, shape, &sink, ping));
                    written |= sink.written;
                }
                if !written {
                    // No term wrote here (no styled region has mass at relu5_1).
                    ops.push(zero());
                    written = true;
                }
            }
            let dst = if i == 0 { sch.input_grad(p, self.grad_x) } else { &sch.ping[1 - cur] };
            ops.extend(p.net.backward(engine, i, sch.s.pooling, &sch.ping[cur], dst));
            cur = 1 - cur;
        }
        ops.extend(sch.scatter_input(p, self.grad_x));
        ops
    }
}

/// The optimiser's part of an iteration (see [`Iteration`]): its step lists, and Adam's buffers or
/// L-BFGS's settle lists and state.
fn optimiser(gpu: &Gpu, s: &Settings, hw: usize, b: ImageBuffers, arena: &mut Arena, it: &mut Iteration) {
    let decay = if s.average { AVERAGE_DECAY } else { 0.0 };
    let grad_x = &it.grad_x.clone();
    match s.optimizer {
        Optimizer::Adam => {
            let cfg = AdamConfig { lr: s.step_size(), beta1: 0.9, beta2: 0.999, eps: 1e-8, decay };
            let (m, v, state) = (arena.take(Buf::AdamM), arena.take(Buf::AdamV), arena.take(Buf::AdamState));
            gpu.queue.write_buffer(&state, 0, bytemuck::cast_slice(&ADAM_STATE_INIT));
            let bufs = AdamBuffers { grad: grad_x, x: b.x, m: &m, v: &v, state: &state, avg: b.avg, keep: b.keep_mask };
            let mut list = vec![kernels::adam_tick(gpu, cfg, hw, &state)];
            list.extend(kernels::adam_step(gpu, cfg, hw, bufs));
            it.optimiser = vec![list];
            it.adam = Some([m, v, state]);
        }
        Optimizer::Lbfgs => {
            let cfg = LbfgsConfig { lr: s.step_size(), history: s.history as usize, decay };
            let lbfgs = Lbfgs::new(gpu, cfg, hw, arena);
            let img = LbfgsImage { x: b.x, avg: b.avg, keep: b.keep_mask, losses: b.losses };
            it.optimiser = (0..cfg.history).map(|k| lbfgs.iteration(gpu, k, grad_x, img)).collect();
            it.settle = (0..cfg.history).map(|k| lbfgs.settle(gpu, k, img)).collect();
            it.lbfgs_state = Some(lbfgs.state().clone());
        }
    }
    let lr = if s.optimizer == Optimizer::Adam { offset_of!(AdamParams, lr) } else { offset_of!(LbfgsParams, lr) };
    for d in it.optimiser.iter().flatten() {
        it.steering.add(d, lr, 1.0, Knob::Lr, s);
    }
}

/// With several paintings: per style layer, `gram_blend` of the paintings' Grams (`grams[layer][k]`)
/// into the target, by the settings' blend weights (steerable: [`Knob::Blend`]).
fn blend_ops(engine: &Engine, settings: &Settings, grams: &[Vec<Buffer>], targets: &[Buffer]) -> Vec<Dispatch> {
    let gpu = &engine.gpu;
    let weights: Vec<f32> = (0..settings.paintings()).map(|k| settings.blend_weight(k)).collect();
    grams
        .iter()
        .zip(targets)
        .zip(crate::vgg::STYLE_LAYERS)
        .map(|((g, t), name)| {
            let refs: Vec<&Buffer> = g.iter().collect();
            let c2 = (t.size() / 4) as usize;
            kernels::gram_blend(gpu, format!("{name} style blend"), c2, &refs, &weights, t)
        })
        .collect()
}
