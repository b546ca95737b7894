//! The live preview: a render pipeline that draws a session's RGBA8 display buffer onto a texture
//! of the same size (a WebGPU canvas on the web), with no CPU readback.

use crate::gpu::Gpu;
use wgpu::util::DeviceExt;

/// The display pipeline for one target texture format (use a non-sRGB format: the buffer already
/// holds sRGB-encoded bytes).
pub struct Preview {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

/// What to draw: a display buffer and its size, bound once.
pub struct PreviewSource {
    bind_group: wgpu::BindGroup,
}

impl Preview {
    /// Compiles `shaders/display.wgsl` for targets of `format`.
    pub fn new(gpu: &Gpu, format: wgpu::TextureFormat) -> Preview {
        let device = &gpu.device;
        let module = device
            .create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("display.wgsl"), source: wgpu::ShaderSource::Wgsl(include_str!("../shaders/display.wgsl").into()) });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("display"),
            entries: &[entry(0, wgpu::BufferBindingType::Uniform), entry(1, wgpu::BufferBindingType::Storage { read_only: true })],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some("display"), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("display"),
            layout: Some(&pl),
            vertex: wgpu::VertexState { module: &module, entry_point: Some("vs_main"), compilation_options: Default::default(), buffers: &[] },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState { format, blend: None, write_mask: wgpu::ColorWrites::ALL })],
            }),
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            multiview_mask: None,
            cache: None,
        });
        Preview { pipeline, layout }
    }

    /// Binds a display buffer of `width × height` u32 RGBA8 pixels.
    pub fn source(&self, gpu: &Gpu, rgba: &wgpu::Buffer, width: u32, height: u32) -> PreviewSource {
        let params = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("display params"),
            contents: bytemuck::cast_slice(&[width, height, 0, 0]),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("display"),
            layout: &self.layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() }, wgpu::BindGroupEntry { binding: 1, resource: rgba.as_entire_binding() }],
        });
        PreviewSource { bind_group }
    }

    /// Records drawing `src` onto `target` (which must be `width × height` of this format).
    pub fn draw(&self, encoder: &mut wgpu::CommandEncoder, target: &wgpu::TextureView, src: &PreviewSource) {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("preview"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::BLACK), store: wgpu::StoreOp::Store },
            })],
            ..Default::default()
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &src.bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}
