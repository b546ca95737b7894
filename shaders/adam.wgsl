// adam.wgsl — Adam on the image being optimised, projection onto the valid pixel range, and the
// iterate average (fused into the update: no extra pass).
//
// The image lives in pre-processed space (planar BGR, 0..255 scale, minus the VGG mean), so after each
// update channel c is clamped to [−mean_c, 255 − mean_c].
//
// Entry points and bindings:
//   adam_tick — one invocation, run once per iteration before adam_step:
//     state.t += 1; state.c1 = 1/(1 − β1^t); state.c2 = 1/(1 − β2^t)    (bias corrections on the GPU,
//     so several iterations can be encoded in one submission without CPU involvement);
//     (state.pw, state.r, state.k) = ema_coefs(decay, state.pw)          (the average's coefficients)
//     0 p: AdamParams   5 state: array<f32> [8] = (t, c1, c2, r, k, pw, unused, unused);
//                                               created as (0, 0, 0, 0, 0, 1, 0, 0)
//   adam_step — per element i of x [3][h][w]:
//     m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  x −= f·lr·(m·c1)/(sqrt(v·c2) + ε);  clamp;
//     f = 1, or with p.keep ≠ 0 (regions that keep the photo) f = 1 − keep[pixel] and g = f·grad:
//     Adam runs on y in x = k·photo + (1 − k)·y (k = keep, 1 inside a kept region, feathered at
//     its border), so a kept pixel never moves and the border blends (crate/session/keep.rs);
//     avg = r·avg + k·x   (bias-corrected EMA of the iterates) when p.average ≠ 0; else avg (then
//                         a placeholder of any size) is never touched
//     0 p: AdamParams  1 grad: [3][h][w]  2 x: [3][h][w]  3 m: [3][h][w]  4 v: [3][h][w]  5 state: [8]
//     6 avg: [3][h][w] (with p.average; else any)  7 keep: [h][w] (with p.keep; else any, never read)
//     WG-wide workgroups, 2-D grid: index = x + y · (num_workgroups.x · WG); p.n elements from
//     element p.base of the image (an image larger than one binding runs in windows: every [3][h][w]
//     binding is then that window, and p.base places it, for the channel's range)
//
// AdamParams (uniform; generated from the Rust struct in crate/kernels/adam.rs), MEAN_BGR and
// ema_coefs come from the prelude.

@group(0) @binding(0) var<uniform> p: AdamParams;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>;
@group(0) @binding(6) var<storage, read_write> avg: array<f32>;
@group(0) @binding(7) var<storage, read> keep: array<f32>;

@compute @workgroup_size(1)
fn adam_tick() {
    let t = state[0] + 1.0;
    state[0] = t;
    state[1] = 1.0 / (1.0 - pow(p.beta1, t));
    state[2] = 1.0 / (1.0 - pow(p.beta2, t));
    let e = ema_coefs(p.decay, state[5]);
    state[3] = e.y;
    state[4] = e.z;
    state[5] = e.x;
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n) {
        return;
    }
    var f = 1.0;
    if (p.keep != 0u) {
        f = 1.0 - keep[(p.base + i) % p.hw];
    }
    let g = f * grad[i];
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let step = p.lr * (mi * state[1]) / (sqrt(vi * state[2]) + p.eps);
    let c = min((p.base + i) / p.hw, 2u);
    let mean = MEAN_BGR[c];
    let xi = clamp(x[i] - f * step, -mean, 255.0 - mean);
    x[i] = xi;
    if (p.average != 0u) {
        avg[i] = select(state[3] * avg[i], 0.0, state[3] == 0.0) + state[4] * xi; // t = 1 never reads avg
    }
}
