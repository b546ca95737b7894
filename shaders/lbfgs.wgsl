// lbfgs.wgsl — L-BFGS on the image being optimised, entirely on the GPU: the correction pairs, the
// two-loop recursion with its dot products reduced into buffers that stay on the GPU, the curvature
// check, the step, the projection onto the valid pixel range and the iterate average.
//
// n = 3·h·w values. History: m correction pairs, each pair slot i a buffer s_i [n] and y_i [n]
// (s = x_(k+1) − x_k, y = g_(k+1) − g_k); iteration k writes pair slot j = (k − 1) mod m (its y; its
// s was written by the step of iteration k − 1) and its step writes s of slot k mod m. The host
// encodes the slots of each iteration in the dispatches' uniforms (crate/kernels/lbfgs.rs), so no
// index is read back. Slots never filled hold zeros and ρ = 0: they take part in the recursion as
// no-ops, and so does a pair skipped by the curvature check (sᵀy ≤ 1e-10: ρ = 0, H unchanged).
//
// Reductions: the grid-stride kernels run p.ng ≤ NG = WG workgroups (about 4 elements per
// invocation, at most NG); each writes its partial sum of a dot product to
// part[region][p.g0 + workgroup]; the consumer (every workgroup of the next kernel) sums the p.nr
// partials itself, so no separate reduction pass and no readback.
//
// Windows: an image larger than one storage binding runs every [n] pass once per window of
// elements (crate/kernels/window.rs): every [n] binding is then that window, p.n its length, p.base
// its first element (lbfgs_step's channel), p.g0 its first partial slot; p.nr counts every
// window's partials. Unwindowed: base = g0 = 0, nr = ng.
//
// Bindings (all f32; 0 p: LbfgsParams, generated from crate/kernels/lbfgs.rs):
//   lbfgs_pair — p.ng workgroups, grid-stride over n:
//     g = f·grad (f as below); y = g − gprev; gprev = g; dir = −g; partials of yᵀs, yᵀy, gᵀg (regions 0, 1, 2) and sᵀdir
//     (region p.wr)
//     1 grad [n]  2 gprev [n]  3 s: s_j [n]  4 y: y_j [n] (written)  5 dir [n] (written)
//     6 part [(3 + 2m)][NG]  7 st (read: a rejected iteration writes y = 0, dir = −½·s and keeps
//     gprev)  8 keep [h][w] (with p.keep)
//   lbfgs_curvature — one workgroup:
//     the iteration's tick (t, average coefficients) and the pair's check: if yᵀs > 1e-10
//     { ρ_j = 1/yᵀs; H = yᵀs/yᵀy } else ρ_j = 0; the step length: lr, or at t = 1 lr/rms(g) (a
//     first step of lr pixels RMS)
//     6 part (read)  7 st [13 + 2m] = (t, H, pw, r, k, step, accepted total, taken back in a row,
//                                      taken back in all, the accepted iterate's 4 combined losses,
//                                      ρ_0..ρ_(m−1), α_0..α_(m−1)); created as
//                                      (0, 1, 1, 0, 0, 0, −1, 0, 0, …). A rejected iteration
//                                      (st[7] > 0) keeps ρ and H and steps with length 1.
//   lbfgs_axpy — p.ng workgroups, grid-stride over n; the two loops, one pair per dispatch
//     (slot p.slot), and the scaling between them; σ = Σ part[p.rd]:
//       mode 0 (first loop, newest pair first):  α_slot = ρ_slot·σ (σ = sᵀdir); dir −= α_slot·u  (u = y_slot)
//       mode 1 (second loop, oldest pair first): β = ρ_slot·σ (σ = yᵀdir); dir += (α_slot − β)·u (u = s_slot)
//       mode 2 (between the loops):             dir = H·dir (u unused)
//     then, when p.wr ≠ NONE, partials of nextᵀdir into region p.wr (the next dispatch's σ);
//     a rejected iteration leaves dir as it is
//     5 dir [n]  4 u [n]  3 next [n]  6 part [(3 + 2m)][NG]  7 st [13 + 2m]
//   lbfgs_step — per element, WG-wide workgroups, 2-D grid: index = x + y · (num_workgroups.x · WG):
//     x' = clamp(x + f·step·dir) to channel c's [−mean_c, 255 − mean_c]; s = (x' − x)/f (the step
//     taken, after the projection, in y's terms: what the next pair sees; f = 1 − keep with kept
//     regions, else 1, see below; −(x' − x)/f = +½·s_j when rejected); x = x'; avg = r·avg + k·x' when p.average ≠ 0
//     (else avg, then a placeholder of any size, is never touched)
//     5 dir [n] (read)  2 x [n]  3 s: s_(k mod m) [n] (written)  4 avg [n] (with p.average)  7 st (read)
//     8 keep [h][w] (with p.keep)
//
// Kept regions (p.keep ≠ 0; crate/session/keep.rs): L-BFGS runs on y in x = k·photo + (1 − k)·y,
// k = keep [h][w] (binding 8; else any buffer, never read): lbfgs_pair reads the gradient as
// g = f·grad with f = 1 − k, and lbfgs_step moves x by f·step·dir and records s in y's terms,
// (x' − x)/f (0 where f = 0, where dir is 0 too). Without kept regions f = 1: nothing changes.
//
// Backtracking (the safeguard): every iteration starts with lbfgs_check, which compares the total
// loss of the current image x_k (losses[p.total], just computed by the iteration's loss reduction)
// with the last accepted one, st[6] (−1: none yet). If it is not finite, or rose by more than 1%
// (unless MAX_BACK steps were taken back in a row), and it is not the first iteration, x_k is
// rejected: st[7] counts the steps taken back in a row (0: accepted), st[8] all of them, and the
// combined losses (losses[p.total − 3 .. p.total]: content, style, TV, total) are set back to the
// accepted iterate's, kept in st[9..13] — so what is read back is always an accepted image's
// losses, never a rejected one's NaN. A rejected iteration
// forms no pair (y = 0, so ρ = 0; gprev stays the gradient at x_(k−1)), skips the two loops and
// steps by dir = −½·s_j with length 1: x = x_(k−1) + ½·s_j, and records s = +½·s_j (the step from
// x_(k−1), whose gradient the next pair's y is taken against). Its neighbour halves again if that
// point is still worse. lbfgs_revert ends a scale: after one more loss evaluation and lbfgs_check,
// a rejected last step is taken back whole (x = x_(k−1), s = 0), so the image saved and carried to
// the next scale is never a rejected iterate (with averaging on, the average has taken in the
// rejected iterates too). The host writes st[6] = −1 when the loss weights are steered (the totals
// before and after are not comparable). Finiteness is tested on the bits (shaders may assume that
// no float is NaN or ∞, so comparisons cannot be trusted to catch them).
//   lbfgs_check — one invocation: 7 st [13 + 2m] (see lbfgs_curvature)  9 losses [LOSS_SLOTS]
//   lbfgs_revert — per element like lbfgs_step: 2 x [n]  3 s: the last step's s [n] (zeroed when
//     taken back)  7 st (read)  8 keep [h][w] (with p.keep)
//
// LbfgsParams, WG, MEAN_BGR, workgroup_sum and ema_coefs come from the prelude.

const NG: u32 = WG;
const NONE: u32 = 0xffffffffu;
const R_YS: u32 = 0u;
const R_YY: u32 = 1u;
const R_GG: u32 = 2u;
const ST_RHO: u32 = 13u;
const ST_SAVED: u32 = 9u;  // the accepted iterate's combined losses (4)
const ST_LAST: u32 = 6u;   // the last accepted total loss
const ST_BACK: u32 = 7u;   // steps taken back in a row (0: the current iterate is accepted)
const ST_BACKS: u32 = 8u;  // steps taken back in all
const RISE: f32 = 1.01;    // a total more than 1% above the last accepted one is rejected
const MAX_BACK: f32 = 8.0; // after 8 halvings in a row (1/256 of the step) a finite total is accepted

@group(0) @binding(0) var<uniform> p: LbfgsParams;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> gprev: array<f32>;
@group(0) @binding(3) var<storage, read> s_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> dir: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
@group(0) @binding(8) var<storage, read> keep: array<f32>;

/// 1 − keep of element i of the bound window (1 without kept regions).
fn free_part(i: u32) -> f32 {
    if (p.keep == 0u) {
        return 1.0;
    }
    return 1.0 - keep[(p.base + i) % p.hw];
}

@group(0) @binding(7) var<storage, read> st_in: array<f32>;

@compute @workgroup_size(WG)
fn lbfgs_pair(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let back = st_in[ST_BACK] > 0.0;
    var ys = 0.0;
    var yy = 0.0;
    var gg = 0.0;
    var sd = 0.0;
    for (var i = wg.x * WG + li; i < p.n; i += p.ng * WG) {
        let s = s_in[i];
        if (back) {
            // x_k is rejected: no pair (y = 0 makes ρ = 0), gprev stays, half the step back.
            y_out[i] = 0.0;
            dir[i] = -0.5 * s;
            continue;
        }
        let g = free_part(i) * grad[i];
        let y = g - gprev[i];
        y_out[i] = y;
        gprev[i] = g;
        dir[i] = -g;
        ys += y * s;
        yy += y * y;
        gg += g * g;
        sd -= s * g;
    }
    let tys = workgroup_sum(li, ys);
    let tyy = workgroup_sum(li, yy);
    let tgg = workgroup_sum(li, gg);
    let tsd = workgroup_sum(li, sd);
    if (li == 0u) {
        part[R_YS * NG + p.g0 + wg.x] = tys;
        part[R_YY * NG + p.g0 + wg.x] = tyy;
        part[R_GG * NG + p.g0 + wg.x] = tgg;
        part[p.wr * NG + p.g0 + wg.x] = tsd;
    }
}

@group(0) @binding(7) var<storage, read_write> st: array<f32>;

@compute @workgroup_size(WG)
fn lbfgs_curvature(@builtin(local_invocation_index) li: u32) {
    let own = li < p.nr;
    let ys = workgroup_sum(li, select(0.0, part[R_YS * NG + li], own));
    let yy = workgroup_sum(li, select(0.0, part[R_YY * NG + li], own));
    let gg = workgroup_sum(li, select(0.0, part[R_GG * NG + li], own));
    if (li != 0u) {
        return;
    }
    let t = st[0] + 1.0;
    st[0] = t;
    let back = st[ST_BACK] > 0.0;
    if (ys > 1e-10 && !back) {
        st[ST_RHO + p.slot] = 1.0 / ys;
        st[1] = ys / yy;
    } else {
        st[ST_RHO + p.slot] = 0.0;
    }
    let e = ema_coefs(p.decay, st[2]);
    st[2] = e.x;
    st[3] = e.y;
    st[4] = e.z;
    // First step: lr pixels RMS along −g (torch's min(1, 1/‖g‖₁)·lr would move each pixel by
    // ~1/n, below the f32 resolution of pixel values for large images, and spoil the first pair).
    let first = select(0.0, p.lr * sqrt(f32(p.n) / gg), gg > 0.0);
    st[5] = select(select(p.lr, first, t == 1.0), 1.0, back);
}

@group(0) @binding(9) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(1)
fn lbfgs_check() {
    let total = losses[p.total];
    let finite = (bitcast<u32>(total) & 0x7f800000u) != 0x7f800000u; // false for NaN and ±∞
    let last = st[ST_LAST];
    let rose = last >= 0.0 && !(total <= RISE * last);
    let first = p.total - 3u;
    if (st[0] > 0.0 && (!finite || (rose && st[ST_BACK] < MAX_BACK))) {
        st[ST_BACK] += 1.0;
        st[ST_BACKS] += 1.0;
        for (var i = 0u; i < 4u; i++) {
            losses[first + i] = st[ST_SAVED + i];
        }
    } else {
        st[ST_BACK] = 0.0;
        st[ST_LAST] = total;
        for (var i = 0u; i < 4u; i++) {
            st[ST_SAVED + i] = losses[first + i];
        }
    }
}

@group(0) @binding(3) var<storage, read> next: array<f32>;
@group(0) @binding(4) var<storage, read> u: array<f32>;

@compute @workgroup_size(WG)
fn lbfgs_axpy(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    var own = 0.0;
    if (p.rd != NONE && li < p.nr) {
        own = part[p.rd * NG + li];
    }
    let sigma = workgroup_sum(li, own);
    let rho = st[ST_RHO + p.slot];
    let alpha_at = ST_RHO + p.m + p.slot;
    var a = 1.0; // dir = a·dir + c·u
    var c = 0.0;
    if (p.mode == 0u) {
        let alpha = rho * sigma;
        c = -alpha;
        if (wg.x == 0u && li == 0u && p.g0 == 0u) {
            st[alpha_at] = alpha;
        }
    } else if (p.mode == 1u) {
        c = st[alpha_at] - rho * sigma;
    } else {
        a = st[1];
    }
    if (st[ST_BACK] > 0.0) {
        a = 1.0;
        c = 0.0;
    }
    var dot = 0.0;
    for (var i = wg.x * WG + li; i < p.n; i += p.ng * WG) {
        let d = a * dir[i] + c * u[i];
        dir[i] = d;
        dot += next[i] * d;
    }
    if (p.wr != NONE) {
        let total = workgroup_sum(li, dot);
        if (li == 0u) {
            part[p.wr * NG + p.g0 + wg.x] = total;
        }
    }
}

@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> s_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> avg: array<f32>;
@group(0) @binding(5) var<storage, read> dir_in: array<f32>;
@compute @workgroup_size(WG)
fn lbfgs_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n) {
        return;
    }
    let mean = MEAN_BGR[min((p.base + i) / p.hw, 2u)];
    let x0 = x[i];
    let f = free_part(i);
    let x1 = clamp(x0 + f * st_in[5] * dir_in[i], -mean, 255.0 - mean);
    x[i] = x1;
    let moved = select(0.0, (x1 - x0) / f, f > 0.0);
    s_out[i] = select(moved, -moved, st_in[ST_BACK] > 0.0);
    if (p.average != 0u) {
        avg[i] = select(st_in[3] * avg[i], 0.0, st_in[3] == 0.0) + st_in[4] * x1; // t = 1 never reads avg
    }
}

@compute @workgroup_size(WG)
fn lbfgs_revert(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n || st_in[ST_BACK] == 0.0) {
        return;
    }
    x[i] -= free_part(i) * s_out[i];
    s_out[i] = 0.0;
}
