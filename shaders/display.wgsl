// display.wgsl — draws the RGBA8 display buffer onto a texture of the same size (the live preview).
//
// A full-screen triangle; each fragment reads its own pixel, so the target must be width × height.
// Bindings (render pipeline, fragment stage):
//   0 p    : uniform DisplayParams { width, height }
//   1 rgba : array<u32> [height·width]   RGBA8, R in the low byte (written by image.wgsl postprocess)
// Output: the pixel's RGBA in [0, 1] for a non-sRGB (unorm) target, so bytes pass through unchanged.

struct DisplayParams {
    width: u32,
    height: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: DisplayParams;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let x = f32((i << 1u) & 2u) * 2.0 - 1.0;
    let y = f32(i & 2u) * 2.0 - 1.0;
    return vec4<f32>(x, y, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let x = min(u32(pos.x), p.width - 1u);
    let y = min(u32(pos.y), p.height - 1u);
    return unpack4x8unorm(rgba[y * p.width + x]);
}
