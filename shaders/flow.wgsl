// flow.wgsl — dense optical flow between two frames (pyramidal, iterative Lucas–Kanade), the
// forward–backward consistency of a flow, and the bilinear warp of an image by a flow: what a video
// needs to carry the previous stylised frame into the next (Ruder, Dosovitskiy & Brox, GCPR 2016).
//
// A flow is planar f32 [2][h][w]: (u, v) in pixels, the frame-b position of frame a's pixel (x, y)
// being (x + u, y + v). Grey images are f32 [h][w] on the 0..255 scale. Images are network space
// (planar f32 [3][h][w], B, G, R minus the VGG mean). Samples outside a level are clamped to its
// edge (bilinear on the clamped position).
//
// Bindings (one entry point per dispatch; WG-wide workgroups, 2-D grid: pixel index = x + y ·
// (num_workgroups.x · WG); one invocation per output pixel, every element of `dst` written):
//   0 p : uniform FlowParams (w, h: this level; cw, ch: the other level; radius, reg, _pad0, _pad1;
//         generated from crate/kernels/flow.rs)
//   flow_gray — 1 src: [3][h][w] network-space image   2 dst: [h][w] grey 0.114 B + 0.587 G + 0.299 R
//   flow_down — 1 src: [h][w] grey    2 dst: [ch][cw] grey, cw = ⌈w/2⌉, ch = ⌈h/2⌉: mean of the
//               2×2 block (the last row/column repeated on odd sizes)
//   flow_up   — 1 src: [2][ch][cw] the coarser level's flow   2 dst: [2][h][w] 2 × its bilinear
//               sample at ((x + ½)/2 − ½, (y + ½)/2 − ½) (the coarsest level starts from zeros,
//               written by tile.wgsl's zero)
//   flow_lk   — 1 src: [2][h][w] flow estimate   3 i0: [h][w] grey of frame a   4 i1: [h][w] grey of
//               frame b   2 dst: [2][h][w] the estimate plus one Lucas–Kanade step: over the
//               (2r+1)² window around (x, y), with Ix, Iy central differences of i0 and
//               It = i1(q + flow(x, y)) − i0(q), solve (A + reg·(2r+1)²·I) d = −b, A = Σ ∇I ∇Iᵀ,
//               b = Σ ∇I It; each component of d clamped to ±2 px
//   flow_check — 1 src: [2][h][w] flow f (frame a → b)   3 other: [2][h][w] flow g (b → a)
//               2 dst: [h][w] c ∈ {0, 1}: 1 where x + f(x) is inside the frame, f is consistent
//               with g there (|f + g(x + f)|² ≤ 0.01 (|f|² + |g(x + f)|²) + 0.5) and x is no motion
//               boundary (|∇u|² + |∇v|² ≤ 0.01 |f|² + 0.002, central differences), else 0
//               (Sundaram, Brox & Keutzer 2010, as used by Ruder et al.)
//   flow_warp — 1 src: [2][h][w] flow (frame a → b)   3 image: [3][h][w] an image of frame b
//               2 dst: [3][h][w] dst(x) = image(x + flow(x)), bilinear: frame b's image seen from a

@group(0) @binding(0) var<uniform> p: FlowParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> i0: array<f32>;
@group(0) @binding(3) var<storage, read> other: array<f32>;
@group(0) @binding(3) var<storage, read> image: array<f32>;
@group(0) @binding(4) var<storage, read> i1: array<f32>;

fn pixel(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Bilinear weights and corners of position (x, y) clamped to a w × h grid: (x0, y0, x1, y1) and (fx, fy).
struct Tap {
    i00: u32,
    i01: u32,
    i10: u32,
    i11: u32,
    fx: f32,
    fy: f32,
}

fn tap(x: f32, y: f32, w: u32, h: u32) -> Tap {
    let cx = clamp(x, 0.0, f32(w - 1u));
    let cy = clamp(y, 0.0, f32(h - 1u));
    let x0 = u32(floor(cx));
    let y0 = u32(floor(cy));
    let x1 = min(x0 + 1u, w - 1u);
    let y1 = min(y0 + 1u, h - 1u);
    return Tap(y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1, cx - f32(x0), cy - f32(y0));
}

fn mix4(t: Tap, a: f32, b: f32, c: f32, d: f32) -> f32 {
    return mix(mix(a, b, t.fx), mix(c, d, t.fx), t.fy);
}

@compute @workgroup_size(WG)
fn flow_gray(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    let n = p.w * p.h;
    if (i >= n) {
        return;
    }
    let b = src[i] + MEAN_BGR[0];
    let g = src[n + i] + MEAN_BGR[1];
    let r = src[2u * n + i] + MEAN_BGR[2];
    dst[i] = 0.114 * b + 0.587 * g + 0.299 * r;
}

@compute @workgroup_size(WG)
fn flow_down(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    if (i >= p.cw * p.ch) {
        return;
    }
    let y = i / p.cw;
    let x = i - y * p.cw;
    let x0 = 2u * x;
    let y0 = 2u * y;
    let x1 = min(x0 + 1u, p.w - 1u);
    let y1 = min(y0 + 1u, p.h - 1u);
    dst[i] = 0.25 * (src[y0 * p.w + x0] + src[y0 * p.w + x1] + src[y1 * p.w + x0] + src[y1 * p.w + x1]);
}

@compute @workgroup_size(WG)
fn flow_up(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    let n = p.w * p.h;
    if (i >= n) {
        return;
    }
    let y = i / p.w;
    let x = i - y * p.w;
    let t = tap((f32(x) + 0.5) * 0.5 - 0.5, (f32(y) + 0.5) * 0.5 - 0.5, p.cw, p.ch);
    let m = p.cw * p.ch;
    dst[i] = 2.0 * mix4(t, src[t.i00], src[t.i01], src[t.i10], src[t.i11]);
    dst[n + i] = 2.0 * mix4(t, src[m + t.i00], src[m + t.i01], src[m + t.i10], src[m + t.i11]);
}

fn grey0(x: i32, y: i32) -> f32 {
    let cx = u32(clamp(x, 0, i32(p.w) - 1));
    let cy = u32(clamp(y, 0, i32(p.h) - 1));
    return i0[cy * p.w + cx];
}

@compute @workgroup_size(WG)
fn flow_lk(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    let n = p.w * p.h;
    if (i >= n) {
        return;
    }
    let y = i32(i / p.w);
    let x = i32(i) - y * i32(p.w);
    let u = src[i];
    let v = src[n + i];
    let r = i32(p.radius);
    var a11 = 0.0;
    var a12 = 0.0;
    var a22 = 0.0;
    var b1 = 0.0;
    var b2 = 0.0;
    for (var dy = -r; dy <= r; dy++) {
        for (var dx = -r; dx <= r; dx++) {
            let qx = clamp(x + dx, 0, i32(p.w) - 1);
            let qy = clamp(y + dy, 0, i32(p.h) - 1);
            let ix = 0.5 * (grey0(qx + 1, qy) - grey0(qx - 1, qy));
            let iy = 0.5 * (grey0(qx, qy + 1) - grey0(qx, qy - 1));
            let t = tap(f32(qx) + u, f32(qy) + v, p.w, p.h);
            let it = mix4(t, i1[t.i00], i1[t.i01], i1[t.i10], i1[t.i11]) - grey0(qx, qy);
            a11 += ix * ix;
            a12 += ix * iy;
            a22 += iy * iy;
            b1 += ix * it;
            b2 += iy * it;
        }
    }
    let side = f32(2 * r + 1);
    let reg = p.reg * side * side;
    a11 += reg;
    a22 += reg;
    let det = a11 * a22 - a12 * a12;
    let du = clamp(-(a22 * b1 - a12 * b2) / det, -2.0, 2.0);
    let dv = clamp(-(a11 * b2 - a12 * b1) / det, -2.0, 2.0);
    dst[i] = u + du;
    dst[n + i] = v + dv;
}

// The flow `src` at (x, y) clamped to the frame.
fn flow_at(x: i32, y: i32) -> vec2<f32> {
    let j = u32(clamp(y, 0, i32(p.h) - 1)) * p.w + u32(clamp(x, 0, i32(p.w) - 1));
    return vec2<f32>(src[j], src[p.w * p.h + j]);
}

@compute @workgroup_size(WG)
fn flow_check(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    let n = p.w * p.h;
    if (i >= n) {
        return;
    }
    let y = i32(i / p.w);
    let x = i32(i) - y * i32(p.w);
    let f = flow_at(x, y);
    let px = f32(x) + f.x;
    let py = f32(y) + f.y;
    let inside = px >= 0.0 && py >= 0.0 && px <= f32(p.w - 1u) && py <= f32(p.h - 1u);
    let t = tap(px, py, p.w, p.h);
    let g = vec2<f32>(mix4(t, other[t.i00], other[t.i01], other[t.i10], other[t.i11]),
                      mix4(t, other[n + t.i00], other[n + t.i01], other[n + t.i10], other[n + t.i11]));
    let s = f + g;
    let consistent = dot(s, s) <= 0.01 * (dot(f, f) + dot(g, g)) + 0.5;
    let fx = 0.5 * (flow_at(x + 1, y) - flow_at(x - 1, y));
    let fy = 0.5 * (flow_at(x, y + 1) - flow_at(x, y - 1));
    let steady = dot(fx, fx) + dot(fy, fy) <= 0.01 * dot(f, f) + 0.002;
    dst[i] = select(0.0, 1.0, inside && consistent && steady);
}

@compute @workgroup_size(WG)
fn flow_warp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel(gid, nwg);
    let n = p.w * p.h;
    if (i >= n) {
        return;
    }
    let y = i / p.w;
    let x = i - y * p.w;
    let t = tap(f32(x) + src[i], f32(y) + src[n + i], p.w, p.h);
    for (var c = 0u; c < 3u; c++) {
        let o = c * n;
        dst[o + i] = mix4(t, image[o + t.i00], image[o + t.i01], image[o + t.i10], image[o + t.i11]);
    }
}
