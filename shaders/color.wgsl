// color.wgsl — colour control (Gatys et al. 2017, "Controlling Perceptual Factors…", §5): the
// colour statistics of an image, the transform that matches the painting's to the photo's, its
// application, the display of a result with the photo's chroma, and the luminance-only gradient.
//
// Images are in network space: planar f32 [3][n], channels B, G, R, 0..255 minus MEAN_BGR. Colour
// maths runs in pixel space (R, G, B in 0..255). Luminance and chroma are YIQ's (NTSC):
// Y = 0.299 R + 0.587 G + 0.114 B; with the exact inverse, RGB = (Y, Y, Y) + f(I, Q), so "the
// result's luminance with the photo's chroma" is photo RGB + (Y_result − Y_photo) on every channel.
//
// Entry points and bindings:
//   color_moments — 0 cp: ColorParams (n pixels)  1 img: array<f32> [3][n]
//                   2 part_out: array<f32> [groups][12]: per workgroup of the grid-stride loop,
//                   Σ over its pixels of (R', G', B', R'R', R'G', R'B', G'G', G'B', B'B') with
//                   v' = v − 128 (centred for f32 accuracy), then 3 zeros. 1-D grid, ≤ 64 groups.
//   color_fit     — 0 cp: ColorParams (mode; n = content pixels, m = style pixels; groups_c,
//                   groups_s = partial rows)  3 part_c: array<f32> [groups_c][12] (the photo's)
//                   4 part_s: array<f32> [groups_s][12] (the painting's)
//                   5 affine: array<f32> [24]: two pixel-space affine maps rgb ↦ A·rgb + b, each
//                   A row-major [9] then b [3]: [0..12) for the painting, [12..24) for the photo.
//                   mode 1 (match): painting A = Σc^½ Σs^-½, b = μc − A μs (mean and covariance
//                   of RGB matched; photo: identity). mode 2 (luminance): painting Y' = σc/σs ·
//                   (Y − μYs) + μYc on all three channels; photo: Y on all three channels.
//                   One invocation (workgroup_size 1); eigenvalues clamped to ≥ 1e-2 (flat images).
//   color_apply   — 0 cp: ColorParams (n; offset: which map of `affine_in`, 0 or 12)
//                   6 affine_in: array<f32> [24]  7 img_rw: array<f32> [3][n], mapped in place,
//                   clamped to 0..255 in pixel space. 2-D grid of WG-wide groups.
//   color_display — 0 cp: ColorParams (n)  8 result: array<f32> [3][n]  9 photo: array<f32> [3][n]
//                   10 rgba_out: array<u32> [n]: photo + (Y(result) − Y(photo)), rounded, clamped,
//                   RGBA8 (R low byte), alpha 255. 2-D grid.
//   grey_gradient — 0 cp: ColorParams (n)  7 img_rw: array<f32> [3][n] (a gradient): every channel
//                   set to the sum of the three (the gradient w.r.t. the luminance when the network
//                   sees it on all three channels). 2-D grid.

@group(0) @binding(0) var<uniform> cp: ColorParams;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read_write> part_out: array<f32>;
@group(0) @binding(3) var<storage, read> part_c: array<f32>;
@group(0) @binding(4) var<storage, read> part_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> affine: array<f32>;
@group(0) @binding(6) var<storage, read> affine_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> img_rw: array<f32>;
@group(0) @binding(8) var<storage, read> result: array<f32>;
@group(0) @binding(9) var<storage, read> photo: array<f32>;
@group(0) @binding(10) var<storage, read_write> rgba_out: array<u32>;

const LUMA = vec3<f32>(0.299, 0.587, 0.114);
const MIN_EIGEN = 1e-2;

fn rgb_at(i: u32, n: u32) -> vec3<f32> {
    return vec3<f32>(img[2u * n + i] + MEAN_BGR[2], img[n + i] + MEAN_BGR[1], img[i] + MEAN_BGR[0]);
}

@compute @workgroup_size(WG)
fn color_moments(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    var s = vec3<f32>(0.0);
    var d = vec3<f32>(0.0); // RR, GG, BB
    var o = vec3<f32>(0.0); // RG, RB, GB
    for (var i = wid.x * WG + li; i < cp.n; i += nwg.x * WG) {
        let v = rgb_at(i, cp.n) - vec3<f32>(128.0);
        s += v;
        d += v * v;
        o += vec3<f32>(v.x * v.y, v.x * v.z, v.y * v.z);
    }
    let sums = array<f32, 9>(workgroup_sum(li, s.x), workgroup_sum(li, s.y), workgroup_sum(li, s.z),
        workgroup_sum(li, d.x), workgroup_sum(li, o.x), workgroup_sum(li, o.y),
        workgroup_sum(li, d.y), workgroup_sum(li, o.z), workgroup_sum(li, d.z));
    if (li == 0u) {
        for (var k = 0u; k < 9u; k++) {
            part_out[wid.x * 12u + k] = sums[k];
        }
        for (var k = 9u; k < 12u; k++) {
            part_out[wid.x * 12u + k] = 0.0;
        }
    }
}

struct Stats {
    mean: vec3<f32>,
    cov: mat3x3<f32>,
}

// Mean and covariance (pixel space) from `groups` rows of moments over `n` pixels.
fn stats_c(groups: u32, n: u32) -> Stats {
    var m = array<f32, 9>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var g = 0u; g < groups; g++) {
        for (var k = 0u; k < 9u; k++) {
            m[k] += part_c[g * 12u + k];
        }
    }
    return finish_stats(m, n);
}

fn stats_s(groups: u32, n: u32) -> Stats {
    var m = array<f32, 9>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var g = 0u; g < groups; g++) {
        for (var k = 0u; k < 9u; k++) {
            m[k] += part_s[g * 12u + k];
        }
    }
    return finish_stats(m, n);
}

fn finish_stats(m: array<f32, 9>, n: u32) -> Stats {
    let inv = 1.0 / f32(n);
    let c = vec3<f32>(m[0], m[1], m[2]) * inv; // centred mean
    let rr = m[3] * inv - c.x * c.x;
    let rg = m[4] * inv - c.x * c.y;
    let rb = m[5] * inv - c.x * c.z;
    let gg = m[6] * inv - c.y * c.y;
    let gb = m[7] * inv - c.y * c.z;
    let bb = m[8] * inv - c.z * c.z;
    return Stats(c + vec3<f32>(128.0), mat3x3<f32>(vec3<f32>(rr, rg, rb), vec3<f32>(rg, gg, gb), vec3<f32>(rb, gb, bb)));
}

struct Eigen {
    values: vec3<f32>,
    vectors: mat3x3<f32>, // columns
}

// Cyclic Jacobi for a symmetric 3×3 matrix (converges in a few sweeps; 12 is ample).
fn eigen(a_in: mat3x3<f32>) -> Eigen {
    var a = a_in;
    var v = mat3x3<f32>(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(0.0, 0.0, 1.0));
    for (var sweep = 0u; sweep < 12u; sweep++) {
        for (var pq = 0u; pq < 3u; pq++) {
            let p = select(select(1u, 0u, pq == 1u), 0u, pq == 0u); // (0,1), (0,2), (1,2)
            let q = select(select(2u, 2u, pq == 1u), 1u, pq == 0u);
            let apq = a[q][p];
            if (abs(apq) < 1e-12) {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * apq);
            let t = sign(theta + select(0.0, 1e-30, theta == 0.0)) / (abs(theta) + sqrt(theta * theta + 1.0));
            let c = 1.0 / sqrt(t * t + 1.0);
            let s = t * c;
            // a ← Jᵀ a J, v ← v J with J the rotation in the (p, q) plane.
            var j = mat3x3<f32>(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(0.0, 0.0, 1.0));
            j[p][p] = c;
            j[q][q] = c;
            j[q][p] = s;
            j[p][q] = -s;
            a = transpose(j) * a * j;
            v = v * j;
        }
    }
    return Eigen(vec3<f32>(a[0][0], a[1][1], a[2][2]), v);
}

// V · diag(f(λ)) · Vᵀ with f(λ) = max(λ, MIN_EIGEN)^power.
fn mat_power(e: Eigen, power: f32) -> mat3x3<f32> {
    let l = pow(max(e.values, vec3<f32>(MIN_EIGEN)), vec3<f32>(power));
    let d = mat3x3<f32>(vec3<f32>(l.x, 0.0, 0.0), vec3<f32>(0.0, l.y, 0.0), vec3<f32>(0.0, 0.0, l.z));
    return e.vectors * d * transpose(e.vectors);
}

// Writes A (row-major) and b at `at`.
fn put_affine(at: u32, a: mat3x3<f32>, b: vec3<f32>) {
    for (var r = 0u; r < 3u; r++) {
        for (var c = 0u; c < 3u; c++) {
            affine[at + r * 3u + c] = a[c][r];
        }
    }
    affine[at + 9u] = b.x;
    affine[at + 10u] = b.y;
    affine[at + 11u] = b.z;
}

@compute @workgroup_size(1)
fn color_fit() {
    let sc = stats_c(cp.groups_c, cp.n);
    let ss = stats_s(cp.groups_s, cp.m);
    let identity = mat3x3<f32>(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(0.0, 0.0, 1.0));
    if (cp.mode == 1u) {
        let a = mat_power(eigen(sc.cov), 0.5) * mat_power(eigen(ss.cov), -0.5);
        put_affine(0u, a, sc.mean - a * ss.mean);
        put_affine(12u, identity, vec3<f32>(0.0));
    } else {
        // Every output channel = k · Y(rgb) + b: columns of A are k · LUMA's entries, per row.
        let var_c = dot(LUMA, sc.cov * LUMA);
        let var_s = dot(LUMA, ss.cov * LUMA);
        let k = sqrt(max(var_c, 0.0) / max(var_s, MIN_EIGEN));
        let row = k * LUMA;
        let a = transpose(mat3x3<f32>(row, row, row));
        let b = dot(LUMA, sc.mean) - k * dot(LUMA, ss.mean);
        put_affine(0u, a, vec3<f32>(b));
        let grey = transpose(mat3x3<f32>(LUMA, LUMA, LUMA));
        put_affine(12u, grey, vec3<f32>(0.0));
    }
}

fn pixel_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn color_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel_index(gid, nwg);
    if (i >= cp.n) {
        return;
    }
    let n = cp.n;
    let o = cp.offset;
    let rgb = vec3<f32>(img_rw[2u * n + i] + MEAN_BGR[2], img_rw[n + i] + MEAN_BGR[1], img_rw[i] + MEAN_BGR[0]);
    let a = transpose(mat3x3<f32>(
        vec3<f32>(affine_in[o], affine_in[o + 1u], affine_in[o + 2u]),
        vec3<f32>(affine_in[o + 3u], affine_in[o + 4u], affine_in[o + 5u]),
        vec3<f32>(affine_in[o + 6u], affine_in[o + 7u], affine_in[o + 8u])));
    let out = clamp(a * rgb + vec3<f32>(affine_in[o + 9u], affine_in[o + 10u], affine_in[o + 11u]), vec3<f32>(0.0), vec3<f32>(255.0));
    img_rw[i] = out.z - MEAN_BGR[0];
    img_rw[n + i] = out.y - MEAN_BGR[1];
    img_rw[2u * n + i] = out.x - MEAN_BGR[2];
}

fn byte(v: f32) -> u32 {
    return u32(clamp(floor(v + 0.5), 0.0, 255.0));
}

@compute @workgroup_size(WG)
fn color_display(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel_index(gid, nwg);
    if (i >= cp.n) {
        return;
    }
    let n = cp.n;
    let res = vec3<f32>(result[2u * n + i] + MEAN_BGR[2], result[n + i] + MEAN_BGR[1], result[i] + MEAN_BGR[0]);
    let ph = vec3<f32>(photo[2u * n + i] + MEAN_BGR[2], photo[n + i] + MEAN_BGR[1], photo[i] + MEAN_BGR[0]);
    let out = ph + vec3<f32>(dot(LUMA, res) - dot(LUMA, ph));
    rgba_out[i] = byte(out.x) | (byte(out.y) << 8u) | (byte(out.z) << 16u) | (255u << 24u);
}

@compute @workgroup_size(WG)
fn grey_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = pixel_index(gid, nwg);
    if (i >= cp.n) {
        return;
    }
    let n = cp.n;
    let s = img_rw[i] + img_rw[n + i] + img_rw[2u * n + i];
    img_rw[i] = s;
    img_rw[n + i] = s;
    img_rw[2u * n + i] = s;
}
