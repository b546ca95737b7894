// prelude.wgsl — WGSL shared by every kernel file, prepended to each by `stylize::kernels::prelude`
// after the constants and types built from Rust (never compiled alone):
//   from Rust: `act`/`wt4` storage types, ACT_LOAD and `to_act` (storage precision), WG (256,
//   invocations of element-wise/reducing workgroups), MEAN_BGR, the loss slots SLOT_*, and each
//   family's uniform structs (Rust structs with generated WGSL twins, layout-tested through naga).
//
// Helpers:
//   workgroup_sum(li, v) — tree sum of one value per invocation of a WG-wide workgroup (uses `red`);
//     every invocation gets the total; call it from uniform control flow.
//   rank1(acc, a, b)     — acc + a ⊗ b for the direct (register-tiled) kernels.
//   tile_mma(acc, ty, tx)— the inner K-loop of the tiled 64×64 GEMMs (conv `main`, gram_partial,
//     style_grad): acc[i] += a_tile[kk][ty].i · b_tile[kk][tx] over BK steps, where a_tile and
//     b_tile hold BK rows of 16 vec4 (64 values) each, loaded by the caller between barriers.
//   tile_row(lid), tile_col4(lid) — where invocation lid of a 16×16 workgroup loads per K step:
//     row tile_row (0..BK) of each tile, values tile_col4 … tile_col4 + 3 (one vec4).
//   ema_coefs(decay, pw) — the optimisers' iterate average: given decay d and pw = d^(t−1), returns
//     (d^t, r, k) such that avg_t = r·avg_(t−1) + k·x_t is the bias-corrected exponential moving
//     average Σ_i d^(t−i)(1−d)x_i / (1 − d^t) (r = 0, k = 1 at t = 1; d = 0 gives avg = x).

const BK: u32 = 16u;

var<workgroup> red: array<f32, WG>;
var<workgroup> a_tile: array<vec4<f32>, 256>; // [BK][64/4]
var<workgroup> b_tile: array<vec4<f32>, 256>; // [BK][64/4]

fn workgroup_sum(li: u32, v: f32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (li < stride) {
            red[li] += red[li + stride];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier(); // every invocation has read red[0] before a later call reuses it
    return total;
}

fn rank1(acc: mat4x4<f32>, a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
    return acc + mat4x4<f32>(a * b.x, a * b.y, a * b.z, a * b.w);
}

fn tile_mma(acc: ptr<function, array<vec4<f32>, 4>>, ty: u32, tx: u32) {
    for (var kk = 0u; kk < BK; kk++) {
        let a = a_tile[kk * 16u + ty];
        let b = b_tile[kk * 16u + tx];
        (*acc)[0] += a.x * b;
        (*acc)[1] += a.y * b;
        (*acc)[2] += a.z * b;
        (*acc)[3] += a.w * b;
    }
}

fn tile_row(lid: vec3<u32>) -> u32 {
    return lid.y;
}

fn tile_col4(lid: vec3<u32>) -> u32 {
    return lid.x * 4u;
}

fn ema_coefs(decay: f32, pw: f32) -> vec3<f32> {
    let pt = pw * decay;
    return vec3<f32>(pt, decay * (1.0 - pw) / (1.0 - pt), (1.0 - decay) / (1.0 - pt));
}
