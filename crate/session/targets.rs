//! The losses' targets, computed once per session on the GPU: relu4_2 of the content photo and the
//! Gram matrices of the painting (at its own size) at the five style layers.

use super::color::ColourPrep;
use super::{ColourBuffers, RegionGpu, Settings};
use crate::gpu::Dispatch;
use crate::gpu::Gpu;
use crate::kernels::{self, GramSplit};
use crate::plan::Arena;
use crate::vgg::{Engine, Network, CONTENT_LAYER, STYLE_LAYERS};
use image::RgbaImage;
use wgpu::Buffer;

/// The content target and the five style targets, on the GPU.
pub struct Targets {
    /// relu4_2 of the content photo, `[C][h][w]` stored in the device's precision.
    pub content: Buffer,
    /// Gram matrix `[C][C]` (f32) of the painting at each of [`STYLE_LAYERS`], in that order.
    pub style: Vec<Buffer>,
    /// What colour control keeps ([`super::Colors`]).
    pub colour: ColourBuffers,
    /// With several paintings: the dispatches that blend their Grams into the targets (run again
    /// when the blend weights are steered).
    pub blend: Vec<Dispatch>,
    /// With several paintings: each one's Grams, `[style layer][painting]`.
    grams: Vec<Vec<Buffer>>,
}

impl Targets {
    /// Painting `k`'s Gram matrix at style layer `layer` (an index into [`STYLE_LAYERS`]).
    pub fn painting(&self, layer: usize, k: usize) -> &Buffer {
        if self.grams.is_empty() {
            assert_eq!(k, 0, "one painting");
            &self.style[layer]
        } else {
            &self.grams[layer][k]
        }
    }
}

impl Targets {
    /// Uploads the photo into `x` (the image being optimised, `net`'s input, in network space) and
    /// each painting in turn into a network of its own size (one set of buffers, planned for the
    /// largest), prepares them for the settings' colours ([`super::Colors`]), runs the forward
    /// passes and the Gram matrices — one submission per painting — and copies relu4_2 into the
    /// content target. Several paintings' Grams are blended by their weights ([`Targets::blend`]).
    /// Reads nothing back; the paintings' network is freed when this returns.
    /// Regions whose painting has a style mask get their own targets: the guided Grams of their
    /// part of it ([`super::PaintingGuide`]).
    #[allow(clippy::too_many_arguments)] // the network, its input, the images, and where to
    pub fn compute(
        engine: &Engine,
        net: &Network,
        x: &Buffer,
        content: &RgbaImage,
        paintings: &[RgbaImage],
        settings: &Settings,
        regions: &[RegionGpu],
        arena: &mut Arena,
    ) -> Targets {
        let gpu = &engine.gpu;
        let hw = (content.width() * content.height()) as usize;
        let content_idx = net.index(CONTENT_LAYER);
        let content_target = arena.take("content target");
        let style_in = arena.take("style image");
        let (w0, h0) = (paintings[0].width() as usize, paintings[0].height() as usize);
        let first = Network::new(engine, &style_in, w0, h0, settings.pooling, arena, "style ");
        let upload_c = upload(gpu, arena, "content rgba", content);
        let upload_s = arena.take("style rgba");
        let mut once = vec![kernels::preprocess(gpu, hw, &upload_c, x)];
        let (prep, first_ops) = ColourPrep::new(gpu, settings.colors, x, hw, arena, None);
        once.extend(first_ops);
        let targets: Vec<Buffer> = STYLE_LAYERS.iter().map(|name| arena.take(&format!("style target {name}"))).collect();
        let partials: Vec<Buffer> = STYLE_LAYERS.iter().map(|name| arena.take(&format!("style gram partials {name}"))).collect();
        let blended = paintings.len() > 1;
        let grams: Vec<Vec<Buffer>> =
            if blended { STYLE_LAYERS.iter().map(|name| (0..paintings.len()).map(|k| arena.take(&format!("style grams {name} {k}"))).collect()).collect() } else { Vec::new() };
        let guided_feats = (!settings.style_masks.is_empty()).then(|| arena.take("style region features"));
        for (k, painting) in paintings.iter().enumerate() {
            let (sw, sh) = (painting.width() as usize, painting.height() as usize);
            let style_net = Network::with_buffers(engine, &style_in, first.input_act.clone(), first.acts.clone(), sw, sh, settings.pooling);
            // The upload is written before this submission and after the previous one's.
            gpu.queue.write_buffer(&upload_s, 0, painting.as_raw());
            let mut ops = if k == 0 { std::mem::take(&mut once) } else { Vec::new() };
            ops.push(kernels::preprocess(gpu, sw * sh, &upload_s, &style_in));
            ops.extend(prep.painting(gpu, k, x, &style_in, sw * sh));
            if k == 0 {
                ops.extend(net.forward.iter().cloned());
            }
            ops.extend(style_net.forward.iter().cloned());
            for (li, name) in STYLE_LAYERS.iter().enumerate() {
                let i = style_net.index(name);
                let l = &style_net.layers[i];
                let split = GramSplit::new(l.output.0, l.output.1 * l.output.2);
                let out = if blended { &grams[li][k] } else { &targets[li] };
                ops.push(kernels::gram_partial(gpu, gpu.variant(), format!("{name} style gram"), split, &style_net.acts[i], &partials[li]));
                ops.push(kernels::gram_finish(gpu, format!("{name} style gram"), split, &partials[li], out));
                // Style masks: each region's part of this painting, a guided Gram normalised by
                // its mask's mass.
                for (r, region) in regions.iter().enumerate().filter(|(_, r)| r.painting == k) {
                    let Some(g) = region.guide.as_ref().filter(|g| g.masses[li] > 0) else { continue };
                    let feats = guided_feats.as_ref().expect("planned with style masks");
                    let label = format!("{name} painting region {r}");
                    ops.push(kernels::mask_act(gpu, gpu.precision, label.clone(), (split.c, split.n), &style_net.acts[i], &g.masks[li], feats));
                    ops.push(kernels::gram_partial(gpu, gpu.variant(), label.clone(), split, feats, &partials[li]));
                    ops.push(kernels::gram_finish(gpu, label, GramSplit { n: g.masses[li], ..split }, &partials[li], &g.targets[li]));
                }
            }
            if k == 0 {
                gpu.submit(&ops, |enc| enc.copy_buffer_to_buffer(&net.acts[content_idx], 0, &content_target, 0, content_target.size()));
            } else {
                gpu.submit(&ops, |_| {});
            }
        }
        let blend = blend_ops(engine, settings, &grams, &targets);
        gpu.submit(&blend, |_| {});
        Targets { content: content_target, style: targets, colour: prep.finish(), blend, grams }
    }
}

/// With several paintings: per style layer, `gram_blend` of the paintings' Grams (`grams[layer][k]`)
/// into the target, by the settings' blend weights (steerable: [`super::steer::Knob::Blend`]).
pub(super) fn blend_ops(engine: &Engine, settings: &Settings, grams: &[Vec<Buffer>], targets: &[Buffer]) -> Vec<Dispatch> {
    let gpu = &engine.gpu;
    let weights: Vec<f32> = (0..settings.paintings()).map(|k| settings.blend_weight(k)).collect();
    grams
        .iter()
        .zip(targets)
        .zip(STYLE_LAYERS)
        .map(|((g, t), name)| {
            let refs: Vec<&Buffer> = g.iter().collect();
            let c2 = (t.size() / 4) as usize;
            kernels::gram_blend(gpu, format!("{name} style blend"), c2, &refs, &weights, t)
        })
        .collect()
}

/// The planned upload buffer `name` holding `img`'s RGBA8 pixels.
pub(super) fn upload(gpu: &Gpu, arena: &mut Arena, name: &str, img: &RgbaImage) -> Buffer {
    let b = arena.take(name);
    gpu.queue.write_buffer(&b, 0, img.as_raw());
    b
}
