// image.wgsl — conversion between display pixels and the network's input space.
//
// Network space: planar f32 [3][h][w], channel order B, G, R, values 0..255 minus the VGG mean
// (103.939, 116.779, 123.68) — the original Caffe VGG19 convention (no division by a std).
// Display space: one u32 per pixel, RGBA8 little-endian (R in the low byte), row-major [h][w].
//
// Entry points and bindings (WG-wide workgroups, 2-D grid: pixel = x + y · (num_workgroups.x · WG)):
//   preprocess  — 0 p: ImageParams  1 rgba: array<u32> [h·w]    2 img: array<f32> [3][h][w]
//   postprocess — 0 p: ImageParams  3 img_in: array<f32> [3][h][w]  4 rgba_out: array<u32> [h·w]
//                 (rounded to nearest, clamped to 0..255, alpha 255)
//   image_to_act — 0 p: ImageParams (hw = element count n)  3 img_in: array<f32> [n]
//                 5 act_out: array<act> [n]  (img_in as stored activations: the network's copy of
//                 its input when activations are f16)
//
// Like every kernel file, compiled after the prelude (`stylize::kernels::prelude`), which defines
// `act` (f32 or f16), `to_act` (scale, clamp, convert), MEAN_BGR and ImageParams (uniform,
// generated from the Rust struct in crate/kernels/image.rs: hw, then padding).

@group(0) @binding(0) var<uniform> p: ImageParams;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;
@group(0) @binding(2) var<storage, read_write> img: array<f32>;
@group(0) @binding(3) var<storage, read> img_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> rgba_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> act_out: array<act>;

@compute @workgroup_size(WG)
fn preprocess(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.hw) {
        return;
    }
    let px = rgba[i];
    let r = f32(px & 0xffu);
    let g = f32((px >> 8u) & 0xffu);
    let b = f32((px >> 16u) & 0xffu);
    img[i] = b - MEAN_BGR[0];
    img[p.hw + i] = g - MEAN_BGR[1];
    img[2u * p.hw + i] = r - MEAN_BGR[2];
}

fn to_byte(v: f32) -> u32 {
    return u32(clamp(floor(v + 0.5), 0.0, 255.0));
}

@compute @workgroup_size(WG)
fn postprocess(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.hw) {
        return;
    }
    let b = to_byte(img_in[i] + MEAN_BGR[0]);
    let g = to_byte(img_in[p.hw + i] + MEAN_BGR[1]);
    let r = to_byte(img_in[2u * p.hw + i] + MEAN_BGR[2]);
    rgba_out[i] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}

@compute @workgroup_size(WG)
fn image_to_act(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < p.hw) {
        act_out[i] = to_act(img_in[i]);
    }
}
