//! The losses' targets, computed once per session on the GPU: relu4_2 of the content photo and the
//! Gram matrices of the painting (at its own size) at the five style layers.

use crate::gpu::Gpu;
use crate::kernels::{self, GramSplit};
use crate::plan::Arena;
use super::{ColourBuffers, Settings};
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
}

impl Targets {
    /// Uploads the photo into `x` (the image being optimised, `net`'s input, in network space) and
    /// the painting into a temporary network of its own size, prepares both for the settings'
    /// colours ([`super::Colors`]), runs both forward passes and the Gram matrices in one
    /// submission, and copies relu4_2 into the content target. Reads nothing back; the painting's
    /// network is freed when this returns.
    pub fn compute(engine: &Engine, net: &Network, x: &Buffer, content: &RgbaImage, style: &RgbaImage, settings: &Settings, arena: &mut Arena) -> Targets {
        let pooling = settings.pooling;
        let gpu = &engine.gpu;
        let (hw, (sw, sh)) = ((content.width() * content.height()) as usize, (style.width() as usize, style.height() as usize));
        let content_idx = net.index(CONTENT_LAYER);
        let content_target = arena.take("content target");
        let style_in = arena.take("style image");
        let style_net = Network::new(engine, &style_in, sw, sh, pooling, arena, "style ");
        let (upload_c, upload_s) = (upload(gpu, arena, "content rgba", content), upload(gpu, arena, "style rgba", style));
        let mut once = vec![kernels::preprocess(gpu, hw, &upload_c, x), kernels::preprocess(gpu, sw * sh, &upload_s, &style_in)];
        let (prep, colour) = super::color::prepare(gpu, settings.colors, (x, hw), (&style_in, sw * sh), arena);
        once.extend(prep);
        once.extend(net.forward.iter().cloned());
        once.extend(style_net.forward.iter().cloned());
        let mut targets = Vec::new();
        let mut partials = Vec::new();
        for name in STYLE_LAYERS {
            let i = style_net.index(name);
            let l = &style_net.layers[i];
            let split = GramSplit::new(l.output.0, l.output.1 * l.output.2);
            let partial = arena.take(&format!("style gram partials {name}"));
            let target = arena.take(&format!("style target {name}"));
            once.push(kernels::gram_partial(gpu, gpu.variant(), format!("{name} style gram"), split, &style_net.acts[i], &partial));
            once.push(kernels::gram_finish(gpu, format!("{name} style gram"), split, &partial, &target));
            partials.push(partial);
            targets.push(target);
        }
        gpu.submit(&once, |enc| enc.copy_buffer_to_buffer(&net.acts[content_idx], 0, &content_target, 0, content_target.size()));
        Targets { content: content_target, style: targets, colour }
    }
}

/// The planned upload buffer `name` holding `img`'s RGBA8 pixels.
pub(super) fn upload(gpu: &Gpu, arena: &mut Arena, name: &str, img: &RgbaImage) -> Buffer {
    let b = arena.take(name);
    gpu.queue.write_buffer(&b, 0, img.as_raw());
    b
}
