//! The iteration over spatial tiles (when the whole image's network does not fit the memory
//! budget): the image, its gradient and the optimiser's state stay whole; one tile network, sized
//! for the largest tile, runs every tile in turn. The style loss needs the Gram matrices of the
//! whole image, sums over positions: each tile adds those of the features it owns
//! ([`crate::tiles`]), so they are exact; the style gradient at a tile then uses the global G − A.
//!
//! [`TileMode::Exact`]: pass 1 forwards every tile and sums the Grams; G − A per layer; pass 2
//! forwards and backwards every tile, the upstream gradients masked to the features it owns, and
//! adds its input gradient (halo included) into the whole image's. With halos covering the reach
//! of the deepest layer with a loss this equals the untiled computation. [`TileMode::Fast`]: one
//! pass per tile, using the G − A of the previous iteration (computed once more at the end of each
//! iteration), with narrower halos.

use super::color::ColourPrep;
use super::iteration::RegionGpu;
use super::iteration::{finish_losses, layer_backward, optimiser};
use super::steer::{Knob, Steering};
use super::targets::upload;
use super::{init_noise, ImageBuffers, Iteration, Settings, TileMode};
use crate::gpu::Dispatch;
use crate::kernels::loss::{SLOT_CONTENT, SLOT_STYLE};
use crate::kernels::{self, BoxMove, ContentLoss, GramSplit, LossRange, StyleDiff, StyleGrad};
use crate::kernels::{gram::StyleGradParams, loss::ElemParams};
use crate::plan::{Arena, Plan};
use crate::tiles::{strides, Rect, Tile, TileGrid};
use crate::vgg::{layer_shapes, Engine, Network, CONTENT_LAYER, STYLE_LAYERS};
use image::RgbaImage;
use std::mem::offset_of;
use wgpu::Buffer;

/// The tile network's buffers and the per-style-layer Gram buffers, from the plan; the gradients
/// (`ping`, `grad_in`, `crop_grad`, `diffs`) are the iteration's, taken by
/// [`TileBuffers::take_iteration`] once the targets are computed.
struct TileBuffers {
    input: Buffer,
    converted: Option<Buffer>,
    acts: Vec<Buffer>,
    ping: Vec<Buffer>,
    grad_in: Option<Buffer>,
    crop: Buffer,
    crop_grad: Option<Buffer>,
    /// Per style layer: one tile's partial Grams, the whole image's sum, the target, G − A.
    partials: Vec<Buffer>,
    sums: Vec<Buffer>,
    targets: Vec<Buffer>,
    diffs: Vec<Buffer>,
}

/// Layer indices of the style layers and the content layer, and each layer's stride.
struct Layout {
    style: Vec<usize>,
    content: usize,
    strides: Vec<usize>,
}

impl TileBuffers {
    fn take(engine: &Engine, arena: &mut Arena, layout: &Layout) -> TileBuffers {
        let layers = layer_shapes(16, 16, &engine.channels());
        let names = |kind: &str, arena: &mut Arena| -> Vec<Buffer> { layout.style.iter().map(|&i| arena.take(&format!("{kind} {}", layers[i].name))).collect() };
        TileBuffers {
            input: arena.take("tile input"),
            converted: (engine.gpu.precision != crate::Precision::F32).then(|| arena.take("tile network input")),
            acts: layers.iter().map(|l| arena.take(&format!("tile activation {}", l.name))).collect(),
            ping: Vec::new(),
            grad_in: None,
            crop: arena.take("tile crop"),
            crop_grad: None,
            partials: names("gram partials", arena),
            sums: names("gram sum", arena),
            targets: names("style target", arena),
            diffs: Vec::new(),
        }
    }

    /// Takes the iteration's buffers (after [`Arena::begin_iteration`]).
    fn take_iteration(&mut self, engine: &Engine, arena: &mut Arena, layout: &Layout) {
        let layers = layer_shapes(16, 16, &engine.channels());
        self.ping = vec![arena.take("tile gradient ping"), arena.take("tile gradient pong")];
        self.grad_in = Some(arena.take("tile image gradient"));
        self.crop_grad = Some(arena.take("tile crop gradient"));
        self.diffs = layout.style.iter().map(|&i| arena.take(&format!("gram diff {}", layers[i].name))).collect();
    }

    /// The gradient w.r.t. the tile's input (an iteration buffer).
    fn grad_in(&self) -> &Buffer {
        self.grad_in.as_ref().expect("taken with the iteration's buffers")
    }

    /// The gradient w.r.t. a crop (an iteration buffer).
    fn crop_grad(&self) -> &Buffer {
        self.crop_grad.as_ref().expect("taken with the iteration's buffers")
    }

    /// The network of tile `t` of `grid` over these buffers, and the dispatches that copy the
    /// tile's input out of `image` (`[3][H][W]`, network space) and run its forward pass.
    fn forward(&self, engine: &Engine, grid: &TileGrid, t: &Tile, image: &Buffer, pooling: crate::Pooling) -> (Network, Vec<Dispatch>) {
        let (tw, th) = t.input_size();
        let net = Network::with_buffers(engine, &self.input, self.converted.clone(), self.acts.clone(), tw, th, pooling);
        let from = Rect { x: t.ix0, y: t.iy0, w: tw, h: th };
        let m = BoxMove { c: 3, src: (grid.width, grid.height), from, dst: (tw, th), to: (0, 0) };
        let mut ops = kernels::window::copy_boxes(&engine.gpu, "tile input", m, image, &self.input, false);
        ops.extend(net.forward.iter().cloned());
        (net, ops)
    }

    /// Copies the features tile `t` owns at layer `i` (stride `j`) into `crop` (`[C][h][w]` of the
    /// owned box); `None` when it owns none there.
    fn crop(&self, engine: &Engine, net: &Network, grid: &TileGrid, t: &Tile, i: usize, j: usize) -> Option<(Rect, Dispatch)> {
        self.crop_into(engine, net, grid, t, i, j, &self.crop)
    }

    /// [`Self::crop`] into `dst`.
    #[allow(clippy::too_many_arguments)] // the tile, its layer, and where to
    fn crop_into(&self, engine: &Engine, net: &Network, grid: &TileGrid, t: &Tile, i: usize, j: usize, dst: &Buffer) -> Option<(Rect, Dispatch)> {
        let o = t.owned(j, grid.width, grid.height);
        let (c, lh, lw) = net.layers[i].output;
        let m = BoxMove { c, src: (lw, lh), from: o, dst: (o.w, o.h), to: (0, 0) };
        (o.area() > 0).then(|| (o, kernels::copy_box_act(&engine.gpu, engine.gpu.precision, "tile crop".into(), m, &net.acts[i], dst)))
    }

    /// Adds the Gram matrices of the features tile `t` owns at every style layer to the sums.
    fn grams(&self, engine: &Engine, net: &Network, grid: &TileGrid, t: &Tile, layout: &Layout) -> Vec<Dispatch> {
        let gpu = &engine.gpu;
        let mut ops = Vec::new();
        for (si, &i) in layout.style.iter().enumerate() {
            let Some((o, crop)) = self.crop(engine, net, grid, t, i, layout.strides[i]) else { continue };
            let name = &net.layers[i].name;
            let split = GramSplit::new(net.layers[i].output.0, o.area());
            ops.push(crop);
            ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{name} gram"), split, &self.crop, &self.partials[si]));
            ops.push(kernels::gram_sum(gpu, "tile gram sum".into(), split.c, split.splits, &self.partials[si], &self.sums[si], true));
        }
        ops
    }

    /// Zeroes the Gram sums.
    fn zero_sums(&self, engine: &Engine, layers: &[crate::vgg::LayerShape], layout: &Layout) -> Vec<Dispatch> {
        layout.style.iter().zip(&self.sums).map(|(&i, b)| kernels::zero(&engine.gpu, "tile gram sum".into(), layers[i].output.0.pow(2), b)).collect()
    }
}

/// Builds a tiled session's one-time work (submitted here: the colour preparation, both targets,
/// the noise initialisation) and its [`Iteration`], from `plan` (which has a grid); returns the
/// colour buffers kept.
#[allow(clippy::too_many_arguments)] // the session's inputs and buffers, each distinct
pub(super) fn build(
    engine: &Engine,
    plan: &Plan,
    content: &RgbaImage,
    paintings: &[RgbaImage],
    s: &Settings,
    image: ImageBuffers,
    regions: &[RegionGpu],
    arena: &mut Arena,
) -> (Iteration, super::ColourBuffers, Vec<Dispatch>) {
    let gpu = &engine.gpu;
    let (grid, sgrid) = (plan.grid.as_ref().expect("a tiled plan"), plan.style_grid.as_ref().expect("a tiled plan"));
    let (w, h) = (grid.width, grid.height);
    let whole = layer_shapes(w, h, &engine.channels());
    let layout = Layout {
        style: STYLE_LAYERS.iter().map(|n| whole.iter().position(|l| l.name == *n).expect("a style layer")).collect(),
        content: whole.iter().position(|l| l.name == CONTENT_LAYER).expect("the content layer"),
        strides: strides(&whole),
    };
    let mut tb = TileBuffers::take(engine, arena, &layout);
    let n_of = |l: &crate::vgg::LayerShape| l.output.1 * l.output.2;

    // The targets: relu4_2 of the photo, tile by tile (each tile keeps what it owns); each
    // painting's Grams summed over its own tiles (the painting buffers, planned for the largest,
    // serve each in turn: one submission per painting), blended when there are several.
    let mut once = kernels::window::preprocess(gpu, w * h, &upload(gpu, arena, "content rgba", content), image.x, image.staging);
    let (prep, first_ops) = ColourPrep::new(gpu, s.colors, image.x, w * h, arena, image.staging);
    once.extend(first_ops);
    let style_img = arena.take("style image");
    let upload_s = arena.take("style rgba");
    let blended = paintings.len() > 1;
    let grams: Vec<Vec<Buffer>> = if blended {
        layout.style.iter().map(|&i| (0..paintings.len()).map(|k| arena.take(&format!("style grams {} {k}", whole[i].name))).collect()).collect()
    } else {
        Vec::new()
    };
    let mut tr = (!regions.is_empty()).then(|| TileRegions {
        regions,
        sums: layout.style.iter().map(|&i| (0..regions.len()).map(|r| arena.take(&format!("region gram sum {} {r}", whole[i].name))).collect()).collect(),
        diffs: Vec::new(),
        mask_crop: arena.take("tile mask crop"),
        masked: arena.take("tile masked crop"),
        masked_grad: None,
    });
    let mut content_targets = Vec::new();
    for (k, painting) in paintings.iter().enumerate() {
        let (sw, sh) = (painting.width() as usize, painting.height() as usize);
        let pgrid = TileGrid::new(sw, sh, sgrid.core, sgrid.halo);
        let pwhole = layer_shapes(sw, sh, &engine.channels());
        gpu.queue.write_buffer(&upload_s, 0, painting.as_raw());
        let mut ops = if k == 0 { std::mem::take(&mut once) } else { Vec::new() };
        ops.extend(kernels::window::preprocess(gpu, sw * sh, &upload_s, &style_img, image.staging));
        ops.extend(prep.painting(gpu, k, image.x, &style_img, sw * sh));
        if k == 0 {
            for (t_k, t) in grid.tiles.iter().enumerate() {
                let target = arena.take(&format!("content target {t_k}"));
                let (net, fwd) = tb.forward(engine, grid, t, image.x, s.pooling);
                ops.extend(fwd);
                ops.extend(tb.crop_into(engine, &net, grid, t, layout.content, layout.strides[layout.content], &target).map(|(_, d)| d));
                content_targets.push(target);
            }
        }
        ops.extend(tb.zero_sums(engine, &whole, &layout));
        // Style masks: the regions' parts of this painting, summed in the regions' Gram sums
        // (free until the iteration).
        let guided: Vec<usize> = regions.iter().enumerate().filter(|(_, r)| r.painting == k && r.guide.is_some()).map(|(r, _)| r).collect();
        if let Some(tr) = tr.as_ref().filter(|_| !guided.is_empty()) {
            for (si, &i) in layout.style.iter().enumerate() {
                ops.extend(guided.iter().map(|&r| kernels::zero(gpu, "region gram sum".into(), pwhole[i].output.0.pow(2), &tr.sums[si][r])));
            }
        }
        for t in &pgrid.tiles {
            let (net, fwd) = tb.forward(engine, &pgrid, t, &style_img, s.pooling);
            ops.extend(fwd);
            ops.extend(tb.grams(engine, &net, &pgrid, t, &layout));
            if let Some(tr) = tr.as_ref().filter(|_| !guided.is_empty()) {
                ops.extend(tr.painting_grams(engine, &tb, &net, &pgrid, t, &layout, &pwhole, &guided));
            }
        }
        for (si, &i) in layout.style.iter().enumerate() {
            let l = &pwhole[i];
            let split = GramSplit { c: l.output.0, n: n_of(l), splits: 1, chunk: n_of(l).next_multiple_of(16) };
            let out = if blended { &grams[si][k] } else { &tb.targets[si] };
            ops.push(kernels::gram_finish(gpu, format!("{} style gram", l.name), split, &tb.sums[si], out));
            for &r in &guided {
                let (g, tr) = (regions[r].guide.as_ref().expect("guided"), tr.as_ref().expect("regions"));
                if g.masses[si] > 0 {
                    let label = format!("{} painting region {r}", l.name);
                    ops.push(kernels::gram_finish(gpu, label, GramSplit { n: g.masses[si], ..split }, &tr.sums[si][r], &g.targets[si]));
                }
            }
        }
        gpu.submit(&ops, |_| {});
    }
    let blend = super::targets::blend_ops(engine, s, &grams, &tb.targets);
    gpu.submit(&blend, |_| {});
    let colour = prep.finish();
    init_noise(gpu, s, image.x, w * h, image.keep);

    // The iteration: the targets are submitted, their buffers make way for the iteration's.
    drop((style_img, upload_s));
    arena.begin_iteration(gpu);
    let grad_x = arena.take("image gradient");
    let b = image.with_gradient(&grad_x);
    tb.take_iteration(engine, arena, &layout);
    if let Some(tr) = tr.as_mut() {
        tr.take_iteration(arena, &layout, &whole);
    }
    let loss_part = arena.take("loss partials");
    let mut ranges = Vec::new();
    let mut part_len = 0;
    let mut diffs = Vec::new();
    let painting_target = |si: usize, k: usize| if grams.is_empty() { &tb.targets[si] } else { &grams[si][k] };
    for (si, &i) in layout.style.iter().enumerate().filter(|_| tr.is_some()) {
        // Regions: per styled region, its guided G − A (normalised by its mask's mass).
        let (l, tr) = (&whole[i], tr.as_ref().expect("regions"));
        let start = part_len;
        for (r, region) in regions.iter().enumerate() {
            let mass = region.layers[si].1;
            if mass == 0 {
                continue;
            }
            let split = GramSplit { c: l.output.0, n: mass, splits: 1, chunk: n_of(l).next_multiple_of(16) };
            let bufs = StyleDiff { partial: &tr.sums[si][r], target: region.target(si, painting_target(si, region.painting)), diff: &tr.diffs[si][r], loss_part: &loss_part };
            let (d, count) = kernels::style_diff(gpu, format!("{} region {r} gram", l.name), split, bufs, part_len);
            diffs.push(d);
            part_len += count;
        }
        ranges.push(LossRange { offset: start, count: part_len - start, slot: SLOT_STYLE + si, scale: 1.0 / (l.output.0 * l.output.0) as f32 });
    }
    for (si, &i) in layout.style.iter().enumerate().filter(|_| tr.is_none()) {
        let l = &whole[i];
        let split = GramSplit { c: l.output.0, n: n_of(l), splits: 1, chunk: n_of(l).next_multiple_of(16) };
        let bufs = StyleDiff { partial: &tb.sums[si], target: &tb.targets[si], diff: &tb.diffs[si], loss_part: &loss_part };
        let (d, count) = kernels::style_diff(gpu, format!("{} gram", l.name), split, bufs, part_len);
        diffs.push(d);
        ranges.push(LossRange { offset: part_len, count, slot: SLOT_STYLE + si, scale: 1.0 / (split.c * split.c) as f32 });
        part_len += count;
    }
    let content_start = part_len;
    let mut ops = kernels::window::zero_all(gpu, "tile scatter", 3 * w * h, b.grad_x);
    ops.extend(tb.zero_sums(engine, &whole, &layout));
    let zero_regions = || -> Vec<Dispatch> {
        tr.as_ref().map_or(Vec::new(), |tr| {
            let whole = &whole;
            layout
                .style
                .iter()
                .enumerate()
                .flat_map(|(si, &i)| tr.sums[si].iter().map(move |b| kernels::zero(gpu, "region gram sum".into(), whole[i].output.0.pow(2), b)))
                .collect()
        })
    };
    ops.extend(zero_regions());
    let mut cuts = Vec::new();
    let mut steering = Steering::default();
    let exact = s.tile_mode == TileMode::Exact;
    let mut pass1 = Vec::new();
    for t in &grid.tiles {
        let (net, fwd) = tb.forward(engine, grid, t, image.x, s.pooling);
        pass1.push(fwd);
        pass1.push(match &tr {
            Some(tr) => tr.grams(engine, &tb, &net, grid, t, &layout, &whole),
            None => tb.grams(engine, &net, grid, t, &layout),
        });
    }
    if exact {
        for (k, pair) in pass1.chunks(2).enumerate() {
            if k > 0 {
                cuts.push(ops.len());
            }
            ops.extend(pair.iter().flatten().cloned());
        }
        ops.extend(diffs.iter().cloned());
    } else {
        // G − A of the initial image, for the first iteration.
        let mut first: Vec<Dispatch> = tb.zero_sums(engine, &whole, &layout);
        first.extend(zero_regions());
        first.extend(pass1.iter().flatten().cloned());
        first.extend(diffs.iter().cloned());
        gpu.submit(&first, |_| {});
    }
    for (k, t) in grid.tiles.iter().enumerate() {
        if exact || k > 0 {
            cuts.push(ops.len());
        }
        let (net, fwd) = tb.forward(engine, grid, t, image.x, s.pooling);
        ops.extend(fwd);
        if !exact {
            ops.extend(match &tr {
                Some(tr) => tr.grams(engine, &tb, &net, grid, t, &layout, &whole),
                None => tb.grams(engine, &net, grid, t, &layout),
            });
        }
        let loss = TileLoss { target: &content_targets[k], loss_part: &loss_part, offset: &mut part_len };
        ops.extend(backward(engine, &tb, &net, grid, t, s, &layout, &whole, loss, tr.as_ref(), &mut steering));
        let (tw, th) = t.input_size();
        let m = BoxMove { c: 3, src: (tw, th), from: Rect { x: 0, y: 0, w: tw, h: th }, dst: (w, h), to: (t.ix0, t.iy0) };
        ops.extend(kernels::window::copy_boxes(gpu, "tile scatter", m, tb.grad_in(), b.grad_x, true));
    }
    if !exact {
        ops.extend(diffs);
    }
    let lc = &whole[layout.content];
    ranges.push(LossRange { offset: content_start, count: part_len - content_start, slot: SLOT_CONTENT, scale: 1.0 / lc.out_len() as f32 });
    finish_losses(gpu, s, (w, h), &b, &loss_part, &mut ranges, part_len, &mut ops, &mut steering);
    let (optimiser, adam, mut keep) = optimiser(gpu, s, w * h, &b, arena, &mut steering);
    keep.extend([tb.input, tb.crop, loss_part]);
    keep.extend(tb.grad_in.into_iter().chain(tb.crop_grad));
    keep.extend(tb.converted);
    keep.extend(tb.acts.into_iter().chain(tb.ping).chain(tb.partials).chain(tb.sums).chain(tb.targets).chain(tb.diffs).chain(content_targets));
    keep.extend(grams.into_iter().flatten());
    if let Some(tr) = tr {
        keep.extend(tr.sums.into_iter().flatten().chain(tr.diffs.into_iter().flatten()).chain([tr.mask_crop, tr.masked]).chain(tr.masked_grad));
    }
    (Iteration { loss_and_gradient: ops, cuts, optimiser, adam, steering, grad_x, _buffers: keep }, colour, blend)
}

/// Where a tile's content loss goes: its target (what it owns of the photo's relu4_2) and the
/// loss partials at `offset` (advanced past the ones it writes).
struct TileLoss<'a> {
    target: &'a Buffer,
    loss_part: &'a Buffer,
    offset: &'a mut usize,
}

/// Tile `t`'s losses and backward pass, from relu5_1 down to its input gradient (`tb.grad_in`):
/// at each layer with a loss, only the features the tile owns get that loss's gradient.
#[allow(clippy::too_many_arguments)] // the tile, its network, and the session-wide layout
fn backward(
    engine: &Engine,
    tb: &TileBuffers,
    net: &Network,
    grid: &TileGrid,
    t: &Tile,
    s: &Settings,
    layout: &Layout,
    whole: &[crate::vgg::LayerShape],
    loss: TileLoss,
    tr: Option<&TileRegions>,
    steering: &mut Steering,
) -> Vec<Dispatch> {
    let gpu = &engine.gpu;
    let mut ops = Vec::new();
    let mut cur = 0;
    let mut first = true;
    for i in (0..net.layers.len()).rev() {
        let l = &net.layers[i];
        let (c, lh, lw) = l.output;
        let j = layout.strides[i];
        if let Some(si) = layout.style.iter().position(|&k| k == i) {
            if first {
                ops.push(kernels::zero(gpu, "tile scatter".into(), c * lh * lw, &tb.ping[cur]));
            }
            if let Some(tr) = tr {
                let wl = (whole[i].output.2, whole[i].output.1);
                ops.extend(tr.backward(engine, tb, net, grid, t, (i, si, j, wl), &tb.ping[cur], s, steering));
            } else if let Some((o, crop)) = tb.crop(engine, net, grid, t, i, j) {
                let n_whole = whole[i].output.1 * whole[i].output.2;
                let scale = 4.0 / ((c as f32).powi(3) * n_whole as f32);
                ops.push(crop);
                let bufs = StyleGrad { feat: &tb.crop, diff: &tb.diffs[si], grad: tb.crop_grad(), accumulate: false };
                let d = kernels::style_grad(gpu, gpu.variant(), format!("{} style grad", l.name), c, o.area(), scale * Knob::StyleLayer(si).value(s), bufs);
                steering.add(&d, offset_of!(StyleGradParams, coef), scale, Knob::StyleLayer(si), s);
                ops.push(d);
                let m = BoxMove { c, src: (o.w, o.h), from: Rect { w: o.w, h: o.h, ..Rect::default() }, dst: (lw, lh), to: (o.x, o.y) };
                ops.push(kernels::copy_box(gpu, "tile scatter".into(), m, tb.crop_grad(), &tb.ping[cur], true));
            }
            first = false;
        }
        if i == layout.content {
            if let Some((o, crop)) = tb.crop(engine, net, grid, t, i, j) {
                let len = whole[i].out_len();
                ops.push(crop);
                let owned = BoxMove { c, src: (lw, lh), from: o, dst: (o.w, o.h), to: (0, 0) };
                ops.push(kernels::copy_box(gpu, "tile crop".into(), owned, &tb.ping[cur], tb.crop_grad(), false));
                let bufs = ContentLoss { feat: &tb.crop, target: loss.target, grad: tb.crop_grad(), loss_part: loss.loss_part };
                let scale = 2.0 / len as f32;
                let (d, count) = kernels::content_loss(gpu, gpu.precision, format!("{} content", l.name), c * o.area(), scale * s.content_weight, bufs, *loss.offset);
                steering.add(&d, offset_of!(ElemParams, coef), scale, Knob::Alpha, s);
                ops.push(d);
                *loss.offset += count;
                let back = BoxMove { c, src: (o.w, o.h), from: Rect { w: o.w, h: o.h, ..Rect::default() }, dst: (lw, lh), to: (o.x, o.y) };
                ops.push(kernels::copy_box(gpu, "tile scatter".into(), back, tb.crop_grad(), &tb.ping[cur], false));
            }
        }
        let dst = if i == 0 { tb.grad_in() } else { &tb.ping[1 - cur] };
        ops.push(layer_backward(engine, net, i, s.pooling, &tb.ping[cur], dst));
        cur = 1 - cur;
    }
    ops
}

/// Region control over tiles: each styled region's masks (whole image, per style layer), its Gram
/// sums and G − A (`[style layer][region]`), and a tile's scratch: the owned part of a mask, the
/// masked features and their gradient.
struct TileRegions<'a> {
    regions: &'a [RegionGpu],
    sums: Vec<Vec<Buffer>>,
    diffs: Vec<Vec<Buffer>>,
    mask_crop: Buffer,
    masked: Buffer,
    /// The iteration's (taken by [`TileRegions::take_iteration`]).
    masked_grad: Option<Buffer>,
}

impl TileRegions<'_> {
    /// Takes the iteration's buffers (after [`Arena::begin_iteration`]): G − A per style layer
    /// and region, and the masked gradient.
    fn take_iteration(&mut self, arena: &mut Arena, layout: &Layout, whole: &[crate::vgg::LayerShape]) {
        let n = self.regions.len();
        self.diffs = layout.style.iter().map(|&i| (0..n).map(|r| arena.take(&format!("region gram diff {} {r}", whole[i].name))).collect()).collect();
        self.masked_grad = Some(arena.take("tile masked gradient"));
    }

    /// Copies the part of region `r`'s mask at style layer `si` (stride `j`) that tile
    /// `t` owns into `mask_crop`; the owned box in tile coordinates.
    fn mask_crop(&self, engine: &Engine, grid: &TileGrid, t: &Tile, (si, j): (usize, usize), r: usize, whole: (usize, usize)) -> Option<(Rect, Dispatch)> {
        self.crop_mask(engine, grid, t, j, &self.regions[r].layers[si].0, whole)
    }

    /// Copies the part of `mask` (`[h][w]`, `whole` = (w, h) at stride `j`) that tile `t` owns
    /// into `mask_crop`; the owned box in tile coordinates.
    fn crop_mask(&self, engine: &Engine, grid: &TileGrid, t: &Tile, j: usize, mask: &Buffer, whole: (usize, usize)) -> Option<(Rect, Dispatch)> {
        let o = t.owned(j, grid.width, grid.height);
        (o.area() > 0).then(|| {
            let from = Rect { x: t.ix0 / j + o.x, y: t.iy0 / j + o.y, w: o.w, h: o.h };
            let m = BoxMove { c: 1, src: whole, from, dst: (o.w, o.h), to: (0, 0) };
            (o, kernels::copy_box(&engine.gpu, "region mask crop".into(), m, mask, &self.mask_crop, false))
        })
    }

    /// Style masks: adds the guided Grams of the painting's features tile `t` (of the painting's
    /// `grid`) owns, per region of `guided` (whose painting this is), to the regions' sums; each
    /// region's painting-side mask at the painting's layer sizes (`pwhole`).
    #[allow(clippy::too_many_arguments)] // the tile and the session's layout
    fn painting_grams(
        &self,
        engine: &Engine,
        tb: &TileBuffers,
        net: &Network,
        grid: &TileGrid,
        t: &Tile,
        layout: &Layout,
        pwhole: &[crate::vgg::LayerShape],
        guided: &[usize],
    ) -> Vec<Dispatch> {
        let mask_of = |si: usize, r: usize| {
            let g = self.regions[r].guide.as_ref().filter(|g| guided.contains(&r) && g.masses[si] > 0)?;
            Some(&g.masks[si])
        };
        self.guided_grams(engine, tb, net, (grid, t), layout, pwhole, "painting region", mask_of)
    }

    /// Adds the guided Grams of the features tile `t` owns, per styled region, to the sums.
    #[allow(clippy::too_many_arguments)] // the tile and the session's layout
    fn grams(&self, engine: &Engine, tb: &TileBuffers, net: &Network, grid: &TileGrid, t: &Tile, layout: &Layout, whole: &[crate::vgg::LayerShape]) -> Vec<Dispatch> {
        let mask_of = |si: usize, r: usize| {
            let (mask, mass) = &self.regions[r].layers[si];
            (*mass > 0).then_some(mask)
        };
        self.guided_grams(engine, tb, net, (grid, t), layout, whole, "region", mask_of)
    }

    /// At every style layer, for each region `r` that `mask_of(layer index, r)` gives a mask
    /// (`[h][w]` at the layer sizes `sizes`), adds the Gram of the features tile `t` owns, masked by
    /// the mask's owned part, to that region's sum.
    #[allow(clippy::too_many_arguments)] // the tile and the session's layout
    fn guided_grams<'m>(
        &self,
        engine: &Engine,
        tb: &TileBuffers,
        net: &Network,
        (grid, t): (&TileGrid, &Tile),
        layout: &Layout,
        sizes: &[crate::vgg::LayerShape],
        what: &str,
        mask_of: impl Fn(usize, usize) -> Option<&'m Buffer>,
    ) -> Vec<Dispatch> {
        let gpu = &engine.gpu;
        let mut ops = Vec::new();
        for (si, &i) in layout.style.iter().enumerate() {
            let j = layout.strides[i];
            let live: Vec<(usize, &Buffer)> = (0..self.regions.len()).filter_map(|r| mask_of(si, r).map(|m| (r, m))).collect();
            if live.is_empty() {
                continue;
            }
            let Some((o, crop)) = tb.crop(engine, net, grid, t, i, j) else { continue };
            let c = net.layers[i].output.0;
            let wl = (sizes[i].output.2, sizes[i].output.1);
            ops.push(crop);
            for (r, mask) in live {
                let (_, mc) = self.crop_mask(engine, grid, t, j, mask, wl).expect("an owned box");
                ops.push(mc);
                ops.push(kernels::mask_act(gpu, gpu.precision, format!("{what} mask"), (c, o.area()), &tb.crop, &self.mask_crop, &self.masked));
                let split = GramSplit::new(c, o.area());
                ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{} {what} {r} gram", net.layers[i].name), split, &self.masked, &tb.partials[si]));
                ops.push(kernels::gram_sum(gpu, "region gram sum".into(), c, split.splits, &tb.partials[si], &self.sums[si][r], true));
            }
        }
        ops
    }

    /// Tile `t`'s guided style gradient at style layer `i` (index `si`, stride `j`, whole-image
    /// size `wl`), added into
    /// `dst` (the gradient w.r.t. that layer's output) at the features it owns.
    #[allow(clippy::too_many_arguments)] // the tile, its layer, and where to
    fn backward(
        &self,
        engine: &Engine,
        tb: &TileBuffers,
        net: &Network,
        grid: &TileGrid,
        t: &Tile,
        (i, si, j, wl): (usize, usize, usize, (usize, usize)),
        dst: &Buffer,
        s: &Settings,
        steering: &mut Steering,
    ) -> Vec<Dispatch> {
        let gpu = &engine.gpu;
        let mut ops = Vec::new();
        let Some((o, crop)) = tb.crop(engine, net, grid, t, i, j) else { return ops };
        let (c, lh, lw) = net.layers[i].output;
        ops.push(crop);
        let mut any = false;
        for (r, region) in self.regions.iter().enumerate() {
            let mass = region.layers[si].1;
            if mass == 0 {
                continue;
            }
            let (_, mc) = self.mask_crop(engine, grid, t, (si, j), r, wl).expect("an owned box");
            ops.push(mc);
            ops.push(kernels::mask_act(gpu, gpu.precision, "region mask".into(), (c, o.area()), &tb.crop, &self.mask_crop, &self.masked));
            let scale = 4.0 / ((c as f32).powi(3) * mass as f32);
            let bufs = StyleGrad { feat: &self.masked, diff: &self.diffs[si][r], grad: tb.crop_grad(), accumulate: false };
            let d = kernels::style_grad(gpu, gpu.variant(), format!("{} region {r} style grad", net.layers[i].name), c, o.area(), scale * Knob::StyleLayer(si).value(s), bufs);
            steering.add(&d, offset_of!(StyleGradParams, coef), scale, Knob::StyleLayer(si), s);
            ops.push(d);
            ops.push(kernels::mask_add(
                gpu,
                "region gradient".into(),
                (c, o.area()),
                tb.crop_grad(),
                &self.mask_crop,
                self.masked_grad.as_ref().expect("taken with the iteration's buffers"),
                any,
            ));
            any = true;
        }
        if any {
            let m = BoxMove { c, src: (o.w, o.h), from: Rect { w: o.w, h: o.h, ..Rect::default() }, dst: (lw, lh), to: (o.x, o.y) };
            ops.push(kernels::copy_box(gpu, "tile scatter".into(), m, self.masked_grad.as_ref().expect("taken with the iteration's buffers"), dst, true));
        }
        ops
    }
}
