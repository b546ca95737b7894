//! display.wgsl: the preview's render pipeline draws the display buffer exactly.

use super::*;

#[test]
fn preview_draws_the_display_buffer_exactly() {
    let gpu = gpu();
    let (w, h) = (37u32, 23u32);
    let px: Vec<u8> = random((4 * w * h) as usize, 0.0, 256.0, 9).iter().map(|&v| v as u8).collect();
    let rgba = gpu.storage_init("rgba", &px);
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let preview = stylize::preview::Preview::new(gpu, format);
    let src = preview.source(gpu, &rgba, w, h);
    let tex = gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("target"),
        size: wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let row = (4 * w).next_multiple_of(256);
    let out = gpu.storage("out", (row * h) as u64);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    preview.draw(&mut enc, &tex.create_view(&Default::default()), &src);
    enc.copy_texture_to_buffer(
        tex.as_image_copy(),
        wgpu::TexelCopyBufferInfo { buffer: &out, layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(row), rows_per_image: None } },
        wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
    );
    gpu.queue.submit([enc.finish()]);
    let got = pollster::block_on(gpu.read_bytes(&out, 0, (row * h) as u64)).unwrap();
    gpu.check().unwrap();
    for y in 0..h as usize {
        let r = &got[y * row as usize..y * row as usize + 4 * w as usize];
        assert_eq!(r, &px[y * 4 * w as usize..(y + 1) * 4 * w as usize], "row {y}");
    }
}
