// gram.wgsl — Gram matrices and the style loss with its gradient.
//
// For a feature map F ∈ R^{C×N} (N = h·w, row-major [c][n]):
//   G = F·Fᵀ / (C·N)                       (C×C, symmetric)
//   style loss  L = mean over C² of (G − A)²        (A: the style image's Gram)
//   dL/dF       = 4/(C³·N) · (G − A)·F     (uses the symmetry of G − A)
//
// F is stored as `act` (f32 or f16 × 1/32, from the prelude `stylize::kernels::prelude`);
// sums are f32 and the storage scale (ACT_LOAD) is applied once per output, not per load.
// Everything else here is f32. GramParams {c, n, chunk, splits, scale = 1/(C·N), loss_offset}
// and StyleGradParams {c, n, tiles_n, accumulate, coef} are generated from the Rust structs in
// crate/kernels/gram.rs; rank1, tile_mma (the tiled K-loop over a_tile/b_tile) and workgroup_sum
// come from shaders/prelude.wgsl.
//
// Entry points and bindings (one pipeline each):
//   gram_partial — split-K Gram: partial[s] = F[:, chunk s]·F[:, chunk s]ᵀ
//     0 gp: uniform GramParams   1 feat: array<act> [C][N]   2 partial_out: array<f32> [splits][C][C]
//     16×16 workgroup → 64×64 tile of G, 4×4 per invocation; dispatch (ceil(C/64), ceil(C/64), splits).
//     Symmetric half: G = Gᵀ, so a workgroup whose block lies entirely below the diagonal (every
//     column index < every row index) returns at once, and the block mirroring it writes both
//     (i, j) and (j, i). Each entry is written by exactly one invocation. (Both kernels.)
//   gram_direct — the same partials for CPU adapters (see conv.wgsl's `direct` for why): no
//     workgroup memory; an invocation owns a 16 (i) × 4 (j) register tile in mat4x4 accumulators,
//     j = x·4·LANES + t + LANES·{0,1,2,3}, i = 16·y …; LANES ∈ {4, 16, 64} (largest with 4·LANES ≤ C);
//     same bindings; dispatch (ceil(C/(4·LANES)), ceil(C/16), splits).
//   gram_finish — G[i] = scale · Σ_s partial[s][i]          (computes the style targets A)
//     0 gp  1 partial_in: [splits][C][C]   2 gram_out: array<f32> [C][C]    dispatch 2-D, WG wide
//   style_diff — D = scale · Σ_s partial[s] − A; D written; Σ D² per workgroup → loss_part
//     0 gp  1 partial_in: [splits][C][C]   2 gram_out (= D): array<f32> [C][C]   3 target_gram: [C][C]
//     4 loss_part: array<f32> [..]  (written at loss_offset + workgroup index)
//     dispatch (min(⌈C²/WG⌉, 64), 1, 1), grid-stride loop (few workgroups: cheap reductions)
//   gram_blend — several paintings' style targets combined: out[i] = Σ_k w_k · g_k[i], k < count
//     0 bp: uniform BlendParams {n = C², count ≤ 4, w: vec4 (the blend weights, summing to 1)}
//     5 g0 6 g1 7 g2 8 g3: array<f32> [C][C] (the paintings' Grams; unused ones bound to g0)
//     9 blend_out: array<f32> [C][C]    dispatch 2-D, WG wide
//   style_grad — grad[c][n] = (accumulate ? grad[c][n] : 0) + coef · Σ_k D[c][k]·F[k][n] · [F[c][n] > 0]
//     (F is a ReLU output: the gradient leaves through that ReLU, as conv.wgsl's backward expects)
//     0 sg: uniform StyleGradParams   1 feat: array<act> [C][N]   2 grad: array<f32> [C][N]   3 diff: [C][C]
//     16×16 workgroup → 64 (c) × 64 (n) tile; dispatch x·z = ceil(N/64) (z folds), y = ceil(C/64).
//   style_grad_direct — the same for CPU adapters: 16 (c) × 4 (n) register tile per invocation,
//     n = tile·4·LANES + t + LANES·{0,1,2,3}, LANES ∈ {4, 16, 64} (largest with 4·LANES ≤ N);
//     same bindings; dispatch x·z = ceil(N/(4·LANES)) = tiles_n, y = ceil(C/16).

// ---------------------------------------------------------------- gram_partial
@group(0) @binding(0) var<uniform> gp: GramParams;
@group(0) @binding(1) var<storage, read> feat: array<act>;
@group(0) @binding(2) var<storage, read_write> partial_out: array<f32>;

fn feat_at(c: u32, n: u32, n_end: u32) -> f32 {
    if (c < gp.c && n < n_end) {
        return f32(feat[c * gp.n + n]);
    }
    return 0.0;
}

// Whether the 64×64 tile holding G entry (row, col) lies entirely below the diagonal (skipped).
fn tile_skipped(row: u32, col: u32) -> bool {
    return col / 64u < row / 64u;
}

// Writes G[row][col] = sum (F's storage scale applied), and G[col][row] when that entry's own
// block is skipped (`skipped` is the kernel's block rule evaluated there).
fn store_sym(base: u32, row: u32, col: u32, sum: f32, skipped: bool) {
    let v = sum * (ACT_LOAD * ACT_LOAD);
    partial_out[base + row * gp.c + col] = v;
    if (skipped) {
        partial_out[base + col * gp.c + row] = v;
    }
}

@compute @workgroup_size(16, 16)
fn gram_partial(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    if (tile_skipped(wid.y * 64u, wid.x * 64u)) {
        return; // below the diagonal: written by tile (wid.y, wid.x)
    }
    let i0 = wid.y * 64u;
    let j0 = wid.x * 64u;
    let s = wid.z;
    let n_begin = s * gp.chunk;
    let n_end = min(gp.n, n_begin + gp.chunk);
    let lk = tile_row(lid);
    let l4 = tile_col4(lid);

    var acc: array<vec4<f32>, 4>; // zero-initialised
    for (var k0 = n_begin; k0 < n_end; k0 += BK) {
        let k = k0 + lk;
        var av = vec4<f32>(0.0);
        var bv = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            av[j] = feat_at(i0 + l4 + j, k, n_end);
            bv[j] = feat_at(j0 + l4 + j, k, n_end);
        }
        a_tile[lk * 16u + l4 / 4u] = av;
        b_tile[lk * 16u + l4 / 4u] = bv;
        workgroupBarrier();
        tile_mma(&acc, lid.y, lid.x);
        workgroupBarrier();
    }
    let cc = gp.c * gp.c;
    for (var i = 0u; i < 4u; i++) {
        let row = i0 + lid.y * 4u + i;
        if (row >= gp.c) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = j0 + lid.x * 4u + j;
            if (col < gp.c) {
                store_sym(s * cc, row, col, acc[i][j], tile_skipped(col, row));
            }
        }
    }
}

// ---------------------------------------------------------------- gram_direct
override LANES: u32 = 64u;

// F[rows][n] for four row offsets (row · N, rows clamped into range).
fn feat4(o: vec4<u32>, n: u32) -> vec4<f32> {
    return vec4<f32>(f32(feat[o.x + n]), f32(feat[o.y + n]), f32(feat[o.z + n]), f32(feat[o.w + n]));
}

// Whether the gram_direct block (16 rows × 4·LANES columns) holding G entry (row, col) lies
// entirely below the diagonal (skipped).
fn block_skipped(row: u32, col: u32) -> bool {
    return (col / (4u * LANES) + 1u) * 4u * LANES <= (row / 16u) * 16u;
}

// Writes rows i0 … i0+3 (components of each column of c) at the four columns j.
fn store_block(c: mat4x4<f32>, i0: u32, j: vec4<u32>, base: u32) {
    for (var q = 0u; q < 4u; q++) {
        for (var r = 0u; r < 4u; r++) {
            if (i0 + r < gp.c && j[q] < gp.c) {
                store_sym(base, i0 + r, j[q], c[q][r], block_skipped(j[q], i0 + r));
            }
        }
    }
}

@compute @workgroup_size(LANES)
fn gram_direct(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    if (block_skipped(wid.y * 16u, wid.x * 4u * LANES)) {
        return; // below the diagonal: its entries are written by the mirrored blocks
    }
    let s = wid.z;
    let n_begin = s * gp.chunk;
    let n_end = min(gp.n, n_begin + gp.chunk);
    let last = vec4<u32>(gp.c - 1u);
    let j = wid.x * 4u * LANES + t + LANES * vec4<u32>(0u, 1u, 2u, 3u);
    let i0 = wid.y * 16u;
    let rows = vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u);
    let oj = min(j, last) * gp.n;
    let o0 = min(rows, last) * gp.n;
    let o1 = min(rows + vec4<u32>(4u), last) * gp.n;
    let o2 = min(rows + vec4<u32>(8u), last) * gp.n;
    let o3 = min(rows + vec4<u32>(12u), last) * gp.n;
    var c0 = mat4x4<f32>();
    var c1 = mat4x4<f32>();
    var c2 = mat4x4<f32>();
    var c3 = mat4x4<f32>();
    for (var n = n_begin; n < n_end; n++) {
        let b = feat4(oj, n);
        c0 = rank1(c0, feat4(o0, n), b);
        c1 = rank1(c1, feat4(o1, n), b);
        c2 = rank1(c2, feat4(o2, n), b);
        c3 = rank1(c3, feat4(o3, n), b);
    }
    let base = s * gp.c * gp.c;
    store_block(c0, i0, j, base);
    store_block(c1, i0 + 4u, j, base);
    store_block(c2, i0 + 8u, j, base);
    store_block(c3, i0 + 12u, j, base);
}

// ---------------------------------------------------------------- gram_finish / style_diff
@group(0) @binding(1) var<storage, read> partial_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> gram_out: array<f32>;
@group(0) @binding(3) var<storage, read> target_gram: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss_part: array<f32>;

fn summed_gram(i: u32) -> f32 {
    let cc = gp.c * gp.c;
    var g = 0.0;
    for (var s = 0u; s < gp.splits; s++) {
        g += partial_in[s * cc + i];
    }
    return g * gp.scale;
}

@compute @workgroup_size(WG)
fn gram_finish(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < gp.c * gp.c) {
        gram_out[i] = summed_gram(i);
    }
}

@compute @workgroup_size(WG)
fn style_diff(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Grid-stride loop over a few workgroups: one partial sum per workgroup.
    let n = gp.c * gp.c;
    var sq = 0.0;
    for (var i = wid.x * WG + li; i < n; i += nwg.x * WG) {
        let d = summed_gram(i) - target_gram[i];
        gram_out[i] = d;
        sq += d * d;
    }
    let total = workgroup_sum(li, sq);
    if (li == 0u) {
        loss_part[gp.loss_offset + wid.x] = total;
    }
}

// ---------------------------------------------------------------- gram_blend
@group(0) @binding(0) var<uniform> bp: BlendParams;
@group(0) @binding(5) var<storage, read> g0: array<f32>;
@group(0) @binding(6) var<storage, read> g1: array<f32>;
@group(0) @binding(7) var<storage, read> g2: array<f32>;
@group(0) @binding(8) var<storage, read> g3: array<f32>;
@group(0) @binding(9) var<storage, read_write> blend_out: array<f32>;

@compute @workgroup_size(WG)
fn gram_blend(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= bp.n) {
        return;
    }
    var v = bp.w.x * g0[i];
    if (bp.count > 1u) {
        v += bp.w.y * g1[i];
    }
    if (bp.count > 2u) {
        v += bp.w.z * g2[i];
    }
    if (bp.count > 3u) {
        v += bp.w.w * g3[i];
    }
    blend_out[i] = v;
}

// ---------------------------------------------------------------- style_grad
@group(0) @binding(0) var<uniform> sg: StyleGradParams;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read> diff: array<f32>;

@compute @workgroup_size(16, 16)
fn style_grad(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= sg.tiles_n) {
        return;
    }
    let m0 = wid.y * 64u;
    let n0 = tile_n * 64u;
    let c = sg.c;
    let lk = tile_row(lid);
    let l4 = tile_col4(lid);

    var acc: array<vec4<f32>, 4>; // zero-initialised
    for (var k0 = 0u; k0 < c; k0 += BK) {
        let k = k0 + lk;
        var av = vec4<f32>(0.0);
        var bv = vec4<f32>(0.0);
        if (k < c) {
            for (var j = 0u; j < 4u; j++) {
                let m = m0 + l4 + j;
                if (m < c) {
                    av[j] = diff[k * c + m]; // D[m][k] = D[k][m]
                }
                let n = n0 + l4 + j;
                if (n < sg.n) {
                    bv[j] = f32(feat[k * sg.n + n]);
                }
            }
        }
        a_tile[lk * 16u + l4 / 4u] = av;
        b_tile[lk * 16u + l4 / 4u] = bv;
        workgroupBarrier();
        tile_mma(&acc, lid.y, lid.x);
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + lid.y * 4u + i;
        if (m >= c) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + lid.x * 4u + j;
            if (n < sg.n) {
                store_grad_at(m * sg.n + n, acc[i][j]);
            }
        }
    }
}

// ---------------------------------------------------------------- style_grad_direct
@compute @workgroup_size(LANES)
fn style_grad_direct(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= sg.tiles_n) {
        return;
    }
    let c = sg.c;
    let n = tile_n * 4u * LANES + t + LANES * vec4<u32>(0u, 1u, 2u, 3u);
    let nc = min(n, vec4<u32>(sg.n - 1u));
    let m0 = wid.y * 16u;
    let last = vec4<u32>(c - 1u);
    let rows = vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u);
    let r0 = min(rows, last);
    let r1 = min(rows + vec4<u32>(4u), last);
    let r2 = min(rows + vec4<u32>(8u), last);
    let r3 = min(rows + vec4<u32>(12u), last);
    var c0 = mat4x4<f32>();
    var c1 = mat4x4<f32>();
    var c2 = mat4x4<f32>();
    var c3 = mat4x4<f32>();
    for (var k = 0u; k < c; k++) {
        let fk = k * sg.n;
        let b = vec4<f32>(f32(feat[fk + nc.x]), f32(feat[fk + nc.y]), f32(feat[fk + nc.z]), f32(feat[fk + nc.w]));
        // D[m][k] = D[k][m]: row k of D at the tile's channels.
        let dk = vec4<u32>(k * c);
        let d0 = dk + r0;
        let d1 = dk + r1;
        let d2 = dk + r2;
        let d3 = dk + r3;
        c0 = rank1(c0, vec4<f32>(diff[d0.x], diff[d0.y], diff[d0.z], diff[d0.w]), b);
        c1 = rank1(c1, vec4<f32>(diff[d1.x], diff[d1.y], diff[d1.z], diff[d1.w]), b);
        c2 = rank1(c2, vec4<f32>(diff[d2.x], diff[d2.y], diff[d2.z], diff[d2.w]), b);
        c3 = rank1(c3, vec4<f32>(diff[d3.x], diff[d3.y], diff[d3.z], diff[d3.w]), b);
    }
    store_grad(c0, m0, n);
    store_grad(c1, m0 + 4u, n);
    store_grad(c2, m0 + 8u, n);
    store_grad(c3, m0 + 12u, n);
}

// grad[m0 + r][n[q]] (+)= coef · acc[q][r] for the in-range entries.
fn store_grad(acc: mat4x4<f32>, m0: u32, n: vec4<u32>) {
    for (var q = 0u; q < 4u; q++) {
        for (var r = 0u; r < 4u; r++) {
            if (m0 + r < sg.c && n[q] < sg.n) {
                store_grad_at((m0 + r) * sg.n + n[q], acc[q][r]);
            }
        }
    }
}

// The epilogue of both style-gradient kernels at grad element idx, for a raw sum (D·F')[idx]:
// scale, the ReLU mask of F, and overwrite or accumulate.
fn store_grad_at(idx: u32, sum: f32) {
    var v = select(0.0, (sg.coef * ACT_LOAD) * sum, f32(feat[idx]) > 0.0);
    if (sg.accumulate != 0u) {
        v += grad[idx];
    }
    grad[idx] = v;
}
