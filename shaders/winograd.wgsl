// winograd.wgsl — 3×3 convolution, stride 1, zero padding 1, by Winograd's minimal filtering
// F(2×2, 3×3) or F(4×4, 3×3): the same results as conv.wgsl (forward with bias + ReLU, or the input
// gradient through the lower layer's ReLU mask; see its header) with 16 multiplications per 2×2
// outputs and input channel instead of 36 (F(2×2)), or 36 per 4×4 outputs instead of 144 (F(4×4),
// entry points `wino_in4` / `wino_out4` at the end: 6×6 patches, larger transforms).
//
// For each 2×2 output tile t (tile row ty, column tx; tw = ⌈w/2⌉ tiles a row, ⌈h/2⌉·tw in all) and its
// 4×4 input patch d (rows 2ty−1 … 2ty+2, columns 2tx−1 … 2tx+2, zero outside the image):
//   V = Bᵀ d B            (input transform, `wino_in`)
//   M[ξ] = Σ_ci U[ξ] V[ξ]  (16 GEMMs over the input channels, ξ = 4·i + j, `wino_gemm*`;
//                          the same kernels run F(4×4)'s 36)
//   Y = Aᵀ M A            (output transform and epilogue, `wino_out`)
// with U = G g Gᵀ, the kernel's transform, computed once when the weights load
// (`stylize::kernels::winograd::transform_weights`, from the conv's GEMM layout: forward or the
// input gradient's rotated kernel, so the backward pass is the same three kernels), and
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  Aᵀ = [1 1 1 0; 0 1 −1 −1].
// Transforms and accumulation are f32 whatever the storage precision; the input's storage scale
// (IO_LOAD) is applied by the input transform.
//
// Bindings (dense, row-major; the GEMM's shape: backward swaps the channels, as conv.wgsl's):
//   0 p      : uniform WinoParams {cin, cout, h, w, tw (tiles a row), t0 and tiles (this chunk's
//              first tile and tile count T: a layer runs in chunks of tiles so that the scratch
//              stays the size of one activation), tiles_n (GEMM pixel-tile groups), mask_out,
//              xis (transform positions: 16, or 36 for F(4×4))}
//              — generated from crate/kernels/winograd.rs
//   1 inp    : array<conv_io> [cin][h][w]     wino_in: input activation or output gradient
//   2 weight : array<wt4> [xis][cin][cout4/4] gemm: U, cout4 = cout rounded up to a multiple of 4
//   3 bias   : array<f32> [cout]              wino_out, forward only (unread backward)
//   4 mask   : array<act> [cout][h][w]        wino_out, backward with p.mask_out only
//   5 outp   : array<conv_io> [cout][h][w]    wino_out: written in full
//   6 vt     : array<f32> [xis][cin][T]       written by wino_in (every element), read by gemm
//   7 mt     : array<f32> [xis][cout][T]      written by gemm (every element), read by wino_out
//
// Dispatch: wino_in / wino_out element-wise over cin·T / cout·T invocations (WG each, 2-D past
// 65,535 groups). GEMM as conv.wgsl's: `wino_gemm` (GPUs) a 16×16 workgroup per 64 (m) × 64 (tile)
// block through workgroup memory, BK = 16; `wino_gemm_direct` (CPU adapters) a 16 (m) × 4 (tile)
// register tile per invocation straight from storage, LANES invocations per workgroup, tiles
// n = x·4·LANES + t + LANES·{0,1,2,3}. x·z = tiles_n, y = xis × ⌈cout/64⌉ (tiled) or ⌈cout/16⌉.

override BACKWARD: bool = false;
override LANES: u32 = 64u; // `wino_gemm_direct` only

@group(0) @binding(0) var<uniform> p: WinoParams;
@group(0) @binding(1) var<storage, read> inp: array<conv_io>;
@group(0) @binding(2) var<storage, read> weight: array<wt4>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<act>;
@group(0) @binding(5) var<storage, read_write> outp: array<conv_io>;
@group(0) @binding(6) var<storage, read_write> vt: array<f32>;
@group(0) @binding(7) var<storage, read_write> mt: array<f32>;

fn element(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Input value at (y, x) of plane `base`, 0 outside the image.
fn pix(base: u32, y: i32, x: i32) -> f32 {
    if (y < 0 || x < 0 || y >= i32(p.h) || x >= i32(p.w)) {
        return 0.0;
    }
    return f32(inp[base + u32(y) * p.w + u32(x)]);
}

// Bᵀ r for one row or column r of the patch.
fn bt(r: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(r.x - r.z, r.y + r.z, r.z - r.y, r.y - r.w);
}

// The first output (y, x) of this chunk's tile t, for tiles `out` outputs a side.
fn tile_origin(t: u32, out: u32) -> vec2<u32> {
    let ty = (p.t0 + t) / p.tw;
    return vec2<u32>(out * ty, out * (p.t0 + t - ty * p.tw));
}

@compute @workgroup_size(WG)
fn wino_in(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(gid, nwg);
    if (i >= p.cin * p.tiles) {
        return;
    }
    let ci = i / p.tiles;
    let t = i - ci * p.tiles;
    let origin = tile_origin(t, 2u);
    let y0 = i32(origin.x) - 1;
    let x0 = i32(origin.y) - 1;
    let base = ci * p.h * p.w;
    // Rows of Bᵀ d: combine the patch's rows, then each row's columns (· B).
    var d: array<vec4<f32>, 4>;
    for (var r = 0; r < 4; r++) {
        d[r] = vec4<f32>(pix(base, y0 + r, x0), pix(base, y0 + r, x0 + 1), pix(base, y0 + r, x0 + 2), pix(base, y0 + r, x0 + 3)) * IO_LOAD;
    }
    let rows = array<vec4<f32>, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
    let stride = p.cin * p.tiles;
    var o = ci * p.tiles + t;
    for (var r = 0; r < 4; r++) {
        let v = bt(rows[r]);
        vt[o] = v.x;
        vt[o + stride] = v.y;
        vt[o + 2u * stride] = v.z;
        vt[o + 3u * stride] = v.w;
        o += 4u * stride;
    }
}

// ---- the xis GEMMs: mt[ξ][m][n] = Σ_k weight[ξ][k][m] · vt[ξ][k][n] ----

// Stores one product value (m, n) of transform position xi, when inside the GEMM.
fn store_m(xi: u32, m: u32, n: u32, v: f32) {
    if (m < p.cout && n < p.tiles) {
        mt[(xi * p.cout + m) * p.tiles + n] = v;
    }
}

fn load_a(xi: u32, k: u32, m: u32, mdim4: u32) -> vec4<f32> {
    if (k < p.cin && m < mdim4) {
        return vec4<f32>(weight[((xi * p.cin + k) * mdim4 + m) / 4u]);
    }
    return vec4<f32>(0.0);
}

fn load_b(xi: u32, k: u32, n: u32) -> f32 {
    if (k < p.cin && n < p.tiles) {
        return vt[(xi * p.cin + k) * p.tiles + n];
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn wino_gemm(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= p.tiles_n) {
        return;
    }
    let mtiles = (p.cout + 63u) / 64u;
    let xi = wid.y / mtiles;
    let m0 = (wid.y - xi * mtiles) * 64u;
    let n0 = tile_n * 64u;
    let mdim4 = (p.cout + 3u) & ~3u;
    let lk = tile_row(lid);
    let l4 = tile_col4(lid);
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.cin; k0 += BK) {
        let k = k0 + lk;
        a_tile[lk * 16u + l4 / 4u] = load_a(xi, k, m0 + l4, mdim4);
        b_tile[lk * 16u + l4 / 4u] = vec4<f32>(load_b(xi, k, n0 + l4), load_b(xi, k, n0 + l4 + 1u), load_b(xi, k, n0 + l4 + 2u), load_b(xi, k, n0 + l4 + 3u));
        workgroupBarrier();
        tile_mma(&acc, lid.y, lid.x);
        workgroupBarrier();
    }
    // acc[i][j] is (m0 + 4·ly + i, n0 + 4·lx + j).
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            store_m(xi, m0 + lid.y * 4u + i, n0 + lid.x * 4u + j, acc[i][j]);
        }
    }
}

// Rows m … m+3 (of c's columns: c[j] is tile n[j]) stored.
fn store_block(xi: u32, m: u32, n: vec4<u32>, c: mat4x4<f32>) {
    for (var j = 0u; j < 4u; j++) {
        for (var i = 0u; i < 4u; i++) {
            store_m(xi, m + i, n[j], c[j][i]);
        }
    }
}

@compute @workgroup_size(LANES)
fn wino_gemm_direct(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= p.tiles_n) {
        return;
    }
    let mtiles = (p.cout + 15u) / 16u;
    let xi = wid.y / mtiles;
    let m0q = (wid.y - xi * mtiles) * 4u;
    let mq = (p.cout + 3u) / 4u;            // vec4s per weight row
    let last = p.xis * p.cin * mq - 1u;     // last vec4 of the weights
    let n = tile_n * 4u * LANES + t + LANES * vec4<u32>(0u, 1u, 2u, 3u);
    // Tiles past T read the last one (never stored): no test in the loop.
    let nb = min(n, vec4<u32>(p.tiles - 1u));
    var c0 = mat4x4<f32>();
    var c1 = mat4x4<f32>();
    var c2 = mat4x4<f32>();
    var c3 = mat4x4<f32>();
    var wi = xi * p.cin * mq + m0q;
    var base = xi * p.cin * p.tiles;
    for (var ci = 0u; ci < p.cin; ci++) {
        // Rows past cout4 read neighbouring weights (clamped at the end); never stored.
        let a0 = vec4<f32>(weight[min(wi, last)]);
        let a1 = vec4<f32>(weight[min(wi + 1u, last)]);
        let a2 = vec4<f32>(weight[min(wi + 2u, last)]);
        let a3 = vec4<f32>(weight[min(wi + 3u, last)]);
        let o = nb + vec4<u32>(base);
        let b = vec4<f32>(vt[o.x], vt[o.y], vt[o.z], vt[o.w]);
        c0 = rank1(c0, a0, b);
        c1 = rank1(c1, a1, b);
        c2 = rank1(c2, a2, b);
        c3 = rank1(c3, a3, b);
        wi += mq;
        base += p.tiles;
    }
    let m0 = m0q * 4u;
    store_block(xi, m0, n, c0);
    store_block(xi, m0 + 4u, n, c1);
    store_block(xi, m0 + 8u, n, c2);
    store_block(xi, m0 + 12u, n, c3);
}

// ---- output transform and epilogue ----

// Aᵀ r for one row or column r of M.
fn at(r: vec4<f32>) -> vec2<f32> {
    return vec2<f32>(r.x + r.y + r.z, r.y - r.z - r.w);
}

// The epilogue of output (m, y, x): bias + ReLU (forward) or the lower layer's mask (backward).
fn store_out(m: u32, y: u32, x: u32, acc: f32) {
    if (y >= p.h || x >= p.w) {
        return;
    }
    let hw = p.h * p.w;
    let o = m * hw + y * p.w + x;
    var v = acc;
    if (!BACKWARD) {
        v = max(v + bias[m], 0.0);
    } else if (p.mask_out != 0u) {
        v = select(0.0, v, f32(mask[o]) > 0.0);
    }
    outp[o] = store_io(v);
}

@compute @workgroup_size(WG)
fn wino_out(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(gid, nwg);
    if (i >= p.cout * p.tiles) {
        return;
    }
    let m = i / p.tiles;
    let t = i - m * p.tiles;
    let stride = p.cout * p.tiles;
    // Rows of M (ξ = 4·r + c), each through Aᵀ on the right, then the two columns through Aᵀ.
    var r: array<vec2<f32>, 4>;
    var o = i;
    for (var k = 0; k < 4; k++) {
        r[k] = at(vec4<f32>(mt[o], mt[o + stride], mt[o + 2u * stride], mt[o + 3u * stride]));
        o += 4u * stride;
    }
    let c0 = at(vec4<f32>(r[0].x, r[1].x, r[2].x, r[3].x));
    let c1 = at(vec4<f32>(r[0].y, r[1].y, r[2].y, r[3].y));
    let origin = tile_origin(t, 2u);
    let y = origin.x;
    let x = origin.y;
    store_out(m, y, x, c0.x);
    store_out(m, y, x + 1u, c1.x);
    store_out(m, y + 1u, x, c0.y);
    store_out(m, y + 1u, x + 1u, c1.y);
}

// ---- F(4×4, 3×3): 6×6 patches, 36 transform positions (ξ = 6·i + j), 4×4 outputs a tile ----
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]  (G: crate/kernels/winograd.rs).

// Six values: a = 0…3, b = 4, 5.
struct R6 {
    a: vec4<f32>,
    b: vec2<f32>,
}

// Bᵀ x of six values.
fn bt6(v: R6) -> R6 {
    let x = v.a;
    let y = v.b;
    return R6(
        vec4<f32>(4.0 * x.x - 5.0 * x.z + y.x, -4.0 * x.y - 4.0 * x.z + x.w + y.x, 4.0 * x.y - 4.0 * x.z - x.w + y.x, -2.0 * x.y - x.z + 2.0 * x.w + y.x),
        vec2<f32>(2.0 * x.y - x.z - 2.0 * x.w + y.x, 4.0 * x.y - 5.0 * x.w + y.y),
    );
}

// Σ c_r · x_r over six rows (c = c.a, c.b).
fn comb(x0: R6, x1: R6, x2: R6, x3: R6, x4: R6, x5: R6, c: R6) -> R6 {
    return R6(
        c.a.x * x0.a + c.a.y * x1.a + c.a.z * x2.a + c.a.w * x3.a + c.b.x * x4.a + c.b.y * x5.a,
        c.a.x * x0.b + c.a.y * x1.b + c.a.z * x2.b + c.a.w * x3.b + c.b.x * x4.b + c.b.y * x5.b,
    );
}

// Row y of plane `base` at columns x0 … x0+5 (0 outside), times the storage scale, through Bᵀ.
fn patch_row(base: u32, y: i32, x0: i32) -> R6 {
    let a = vec4<f32>(pix(base, y, x0), pix(base, y, x0 + 1), pix(base, y, x0 + 2), pix(base, y, x0 + 3));
    return bt6(R6(a * IO_LOAD, vec2<f32>(pix(base, y, x0 + 4), pix(base, y, x0 + 5)) * IO_LOAD));
}

fn store_v6(o: u32, stride: u32, v: R6) {
    vt[o] = v.a.x;
    vt[o + stride] = v.a.y;
    vt[o + 2u * stride] = v.a.z;
    vt[o + 3u * stride] = v.a.w;
    vt[o + 4u * stride] = v.b.x;
    vt[o + 5u * stride] = v.b.y;
}

@compute @workgroup_size(WG)
fn wino_in4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(gid, nwg);
    if (i >= p.cin * p.tiles) {
        return;
    }
    let ci = i / p.tiles;
    let t = i - ci * p.tiles;
    let origin = tile_origin(t, 4u);
    let y0 = i32(origin.x) - 1;
    let x0 = i32(origin.y) - 1;
    let base = ci * p.h * p.w;
    // X_r = (d B) row r, then V row i = Σ_r Bᵀ[i][r] X_r.
    let x_0 = patch_row(base, y0, x0);
    let x_1 = patch_row(base, y0 + 1, x0);
    let x_2 = patch_row(base, y0 + 2, x0);
    let x_3 = patch_row(base, y0 + 3, x0);
    let x_4 = patch_row(base, y0 + 4, x0);
    let x_5 = patch_row(base, y0 + 5, x0);
    let stride = p.cin * p.tiles;
    let o = ci * p.tiles + t;
    store_v6(o, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(4.0, 0.0, -5.0, 0.0), vec2<f32>(1.0, 0.0))));
    store_v6(o + 6u * stride, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(0.0, -4.0, -4.0, 1.0), vec2<f32>(1.0, 0.0))));
    store_v6(o + 12u * stride, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(0.0, 4.0, -4.0, -1.0), vec2<f32>(1.0, 0.0))));
    store_v6(o + 18u * stride, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(0.0, -2.0, -1.0, 2.0), vec2<f32>(1.0, 0.0))));
    store_v6(o + 24u * stride, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(0.0, 2.0, -1.0, -2.0), vec2<f32>(1.0, 0.0))));
    store_v6(o + 30u * stride, stride, comb(x_0, x_1, x_2, x_3, x_4, x_5, R6(vec4<f32>(0.0, 4.0, 0.0, -5.0), vec2<f32>(0.0, 1.0))));
}

// Aᵀ x of six values: four.
fn at6(a: vec4<f32>, b: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(a.x + a.y + a.z + a.w + b.x, a.y - a.z + 2.0 * a.w - 2.0 * b.x, a.y + a.z + 4.0 * a.w + 4.0 * b.x, a.y - a.z + 8.0 * a.w - 8.0 * b.x + b.y);
}

// Row r of M (positions 6·r … 6·r+5) of output channel m's tile, through Aᵀ.
fn m_row(o: u32, stride: u32) -> vec4<f32> {
    let a = vec4<f32>(mt[o], mt[o + stride], mt[o + 2u * stride], mt[o + 3u * stride]);
    return at6(a, vec2<f32>(mt[o + 4u * stride], mt[o + 5u * stride]));
}

fn store_row4(m: u32, y: u32, x: u32, v: vec4<f32>) {
    store_out(m, y, x, v.x);
    store_out(m, y, x + 1u, v.y);
    store_out(m, y, x + 2u, v.z);
    store_out(m, y, x + 3u, v.w);
}

@compute @workgroup_size(WG)
fn wino_out4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(gid, nwg);
    if (i >= p.cout * p.tiles) {
        return;
    }
    let m = i / p.tiles;
    let t = i - m * p.tiles;
    let stride = p.cout * p.tiles;
    // Z_r = row r of M A; output row a = Σ_r Aᵀ[a][r] Z_r.
    let z0 = m_row(i, stride);
    let z1 = m_row(i + 6u * stride, stride);
    let z2 = m_row(i + 12u * stride, stride);
    let z3 = m_row(i + 18u * stride, stride);
    let z4 = m_row(i + 24u * stride, stride);
    let z5 = m_row(i + 30u * stride, stride);
    let origin = tile_origin(t, 4u);
    let y = origin.x;
    let x = origin.y;
    store_row4(m, y, x, z0 + z1 + z2 + z3 + z4);
    store_row4(m, y + 1u, x, z1 - z2 + 2.0 * z3 - 2.0 * z4);
    store_row4(m, y + 2u, x, z1 + z2 + 4.0 * z3 + 4.0 * z4);
    store_row4(m, y + 3u, x, z1 - z2 + 8.0 * z3 - 8.0 * z4 + z5);
}
