// tile.wgsl — moving boxes between whole-image and per-tile buffers, and summing Gram matrices
// over tiles (crate/session/tiled.rs runs the network over spatial tiles; see ARCHITECTURE.md).
//
// Buffers are planar [c][h][w]. A box is c × bh × bw elements at (sx, sy) of a source of sw × sh
// pixels per channel, moved to (dx, dy) of a destination of dw × dh per channel. TileParams {c, bw,
// bh, mode, sw, sh, sx, sy, dw, dh, dx, dy} is generated from the Rust struct in
// crate/kernels/tile.rs. Element e of the box (e < c·bh·bw, WG-wide workgroups on a 2-D grid:
// e = x + y · num_workgroups.x · WG) is channel e / (bh·bw), row (e mod bh·bw) / bw, column
// e mod bw. Every invocation writes its own element only.
//
// Entry points and bindings:
//   copy_box     — f32 → f32: dst = src (mode 0) or dst += src (mode 1) over the box
//     0 tp: TileParams  1 src: array<f32> [c][sh][sw]  2 dst: array<f32> [c][dh][dw]
//   copy_box_act — activations (`act`: f32, or f16 × 1/32 from the prelude) → activations, dst = src
//     0 tp  3 src_act: array<act> [c][sh][sw]  4 dst_act: array<act> [c][dh][dw]
//   zero         — dst[e] = 0 for e < c·bh·bw (the box is the whole buffer, flat)
//     0 tp  2 dst: array<f32> [n]
//   gram_sum     — sum[i] = (mode 1 ? sum[i] : 0) + Σ_{s < bh} partial[s·bw + i] for i < bw = C²:
//     one tile's split-K partial Grams added to the running Gram of the whole image
//     0 tp  1 src (= partial): array<f32> [splits][C][C]  2 dst (= sum): array<f32> [C][C]
//   mask_act     — region control: dst_act[e] = src_act[e] · mask[e mod bw] for e < c·bw (features
//     [c][bw] weighted by a per-pixel mask)
//     0 tp  3 src_act: array<act> [c][n]  4 dst_act: array<act> [c][n]  5 mask: array<f32> [n]
//   mask_add     — dst[e] = (mode 1 ? dst[e] : 0) + src[e] · mask[e mod bw] for e < c·bw (a masked
//     gradient added into the layer's)
//     0 tp  1 src: array<f32> [c][n]  2 dst: array<f32> [c][n]  5 mask: array<f32> [n]

@group(0) @binding(0) var<uniform> tp: TileParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src_act: array<act>;
@group(0) @binding(4) var<storage, read_write> dst_act: array<act>;
@group(0) @binding(5) var<storage, read> mask: array<f32>;

// (source index, destination index) of box element e.
fn box_index(e: u32) -> vec2<u32> {
    let plane = tp.bw * tp.bh;
    let ch = e / plane;
    let r = e - ch * plane;
    let y = r / tp.bw;
    let x = r - y * tp.bw;
    let s = (ch * tp.sh + y + tp.sy) * tp.sw + x + tp.sx;
    let d = (ch * tp.dh + y + tp.dy) * tp.dw + x + tp.dx;
    return vec2<u32>(s, d);
}

@compute @workgroup_size(WG)
fn copy_box(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    if (e >= tp.c * tp.bh * tp.bw) {
        return;
    }
    let i = box_index(e);
    if (tp.mode == 1u) {
        dst[i.y] += src[i.x];
    } else {
        dst[i.y] = src[i.x];
    }
}

@compute @workgroup_size(WG)
fn copy_box_act(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    if (e >= tp.c * tp.bh * tp.bw) {
        return;
    }
    let i = box_index(e);
    dst_act[i.y] = src_act[i.x];
}

@compute @workgroup_size(WG)
fn zero(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    if (e < tp.c * tp.bh * tp.bw) {
        dst[e] = 0.0;
    }
}

@compute @workgroup_size(WG)
fn gram_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= tp.bw) {
        return;
    }
    var s = select(0.0, dst[i], tp.mode == 1u);
    for (var k = 0u; k < tp.bh; k++) {
        s += src[k * tp.bw + i];
    }
    dst[i] = s;
}

@compute @workgroup_size(WG)
fn mask_act(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    if (e < tp.c * tp.bw) {
        dst_act[e] = src_act[e] * act(mask[e % tp.bw]);
    }
}

@compute @workgroup_size(WG)
fn mask_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    if (e < tp.c * tp.bw) {
        let v = src[e] * mask[e % tp.bw];
        dst[e] = select(v, dst[e] + v, tp.mode == 1u);
    }
}
