// conv.wgsl — 3×3 convolution, stride 1, zero padding 1, as a tiled implicit GEMM.
//
// One pipeline per direction, selected by the override constant BACKWARD:
//   forward  (BACKWARD = false): out = relu(W ⊛ in + bias)
//   backward (BACKWARD = true) : out = (W' ⊛ in) · [mask > 0]  if p.mask_out, else W' ⊛ in
// where W' is the forward kernel rotated by 180° with in/out channels swapped (prepared once at load),
// so the backward pass is the same GEMM with a different epilogue. Gradients flow between layers
// already multiplied by their layer's ReLU mask (w.r.t. the pre-activation): `in` is that, and the
// epilogue applies the mask of the layer below (`mask` = this conv's forward input, when that is a
// ReLU output) — one load per output instead of one per B element in the GEMM's inner loop.
//
// GEMM view: out[m][n] = Σ_k A[k][m] · B[k][n]
//   m = output channel (M = cout), n = pixel y·w + x (N = h·w), k = ci·9 + ky·3 + kx (K = cin·9),
//   B[k][n] = in[ci][y + ky − 1][x + kx − 1] (0 outside the image) — never materialised.
//
// Storage types come from the prelude (`stylize::kernels::prelude`, one module per
// direction and precision): `act` = f32 or f16 activations (f16 stored × 1/32), `wt4` = vec4 of
// f32 or f16 weights, `conv_io` = act forward / f32 backward. All arithmetic is f32; the input's
// storage scale (IO_LOAD) is applied once to the accumulators, not per load.
//
// Bindings (all arrays are dense, row-major):
//   0 p      : uniform ConvParams {cin, cout, h, w (the GEMM's: backward swaps the channels),
//              tiles_n (pixel tiles: ⌈h·w/64⌉ wide, ⌈h·w/16⌉ narrow, ⌈h·w/(4·LANES)⌉ direct),
//              mask_out} — generated from the Rust struct in crate/kernels/conv.rs
//   1 inp    : array<conv_io> [cin][h][w]     input activation (forward) or output gradient (backward)
//   2 weight : array<wt4> [cin·9][cout4/4]    k-major, cout4 = cout rounded up to a multiple
//                                             of 4 (zero-padded): a row of A is contiguous over m
//                                             and every A load is one aligned vec4
//   3 bias   : array<f32>  [cout]             forward only (backward binds any buffer; unread)
//   4 mask   : array<act>  [cout][h][w]       backward with p.mask_out only: the ReLU output whose
//                                             gradient `outp` is (this conv's forward input); any
//                                             buffer otherwise (unread)
//   5 outp   : array<conv_io> [cout][h][w]    written in full (every element of the valid range)
//
// Two implementations of the same GEMM, chosen per adapter by the host (`ConvPath`):
//
// `main` (GPUs) — tiled through workgroup memory. Tiling: a 16×16 workgroup computes a 64 (m) × 64 (n) output tile, 4×4 outputs per invocation,
// stepping K by 16 through workgroup memory. With NARROW (for layers of at most 32 pixels, e.g.
// relu4_x/relu5_1 of small images, where a 64-pixel tile would mostly compute padding) the tile is
// 64 (m) × 16 (n), 4×1 outputs per invocation. Dispatch: x·z = ceil(N/BN) pixel tiles (z folds x
// past the 65,535 limit), y = ceil(M/64), BN = 64 (16 with NARROW).
//
// `direct` (CPU adapters: SwiftShader in browsers, lavapipe natively) — no workgroup memory and no
// barriers. On these adapters every load whose address differs per invocation is a scalarised
// gather (~50 cycles per 4 lanes) and a private array indexed by a loop variable is one too, while
// arithmetic on registers is cheap; so each invocation keeps a 16 (m) × 4 (n) register tile in
// four mat4x4 accumulators (constant indices only) and loads straight from the storage buffers:
// per k, 4 vec4 weight loads and 4 input loads feed 64 multiply-adds (the tiled kernel: 8 loads
// from workgroup memory per 16, plus its loader and barriers). Invocation t of workgroup x owns
// pixels n = x·4·LANES + t + LANES·{0,1,2,3} (LANES ∈ {4, 16, 64}: the host picks the largest with
// 4·LANES ≤ h·w, so small deep layers still fill the lanes) and channels m = 16·y … 16·y + 15.
// Loop order: tap (ky, kx) outside, ci inside, so the halo test runs 9 times, not 9·cin times.
// Dispatch: x·z = ceil(N / (4·LANES)) = tiles_n, y = ceil(M/16).

override BACKWARD: bool = false;
override NARROW: bool = false;
override LANES: u32 = 64u; // `direct` only

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> inp: array<conv_io>;
@group(0) @binding(2) var<storage, read> weight: array<wt4>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<act>;
@group(0) @binding(5) var<storage, read_write> outp: array<conv_io>;

const BM: u32 = 64u;
const BN: u32 = 64u;

// a_tile, b_tile ([BK][64/4] vec4 each), BK and tile_mma come from shaders/prelude.wgsl.
var<workgroup> b_narrow: array<f32, 256>;     // [BK][16] (NARROW)

fn load_b(k: u32, n: u32, kdim: u32, hw: u32) -> f32 {
    if (k >= kdim || n >= hw) {
        return 0.0;
    }
    let ci = k / 9u;
    let r = k - ci * 9u;
    let ky = r / 3u;
    let kx = r - ky * 3u;
    let y = i32(n / p.w) + i32(ky) - 1;
    let x = i32(n % p.w) + i32(kx) - 1;
    if (y < 0 || x < 0 || y >= i32(p.h) || x >= i32(p.w)) {
        return 0.0;
    }
    let idx = ci * hw + u32(y) * p.w + u32(x);
    return f32(inp[idx]);
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= p.tiles_n) {
        return;
    }
    if (NARROW) {
        narrow_tile(lid, wid.y * BM, tile_n * 16u);
    } else {
        wide_tile(lid, wid.y * BM, tile_n * BN);
    }
}

// Loads the A-tile slice of this invocation: 4 consecutive m of row k, one aligned vec4.
fn load_a(k: u32, m: u32, kdim: u32, mdim4: u32) -> vec4<f32> {
    if (k < kdim && m < mdim4) {
        return vec4<f32>(weight[(k * mdim4 + m) / 4u]);
    }
    return vec4<f32>(0.0);
}

// Epilogue for 4 consecutive m at pixel n: the input's storage scale, bias + ReLU (forward) and
// bounds-checked stores.
fn store4(m_first: u32, n: u32, acc: vec4<f32>, hw: u32) {
    if (n >= hw) {
        return;
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m_first + i;
        if (m < p.cout) {
            var v = acc[i] * IO_LOAD;
            if (!BACKWARD) {
                v = max(v + bias[m], 0.0);
            } else if (p.mask_out != 0u) {
                v = select(0.0, v, f32(mask[m * hw + n]) > 0.0);
            }
            outp[m * hw + n] = store_io(v);
        }
    }
}

fn wide_tile(lid: vec3<u32>, m0: u32, n0: u32) {
    let hw = p.h * p.w;
    let kdim = p.cin * 9u;
    let mdim4 = (p.cout + 3u) & ~3u;
    // Loader coordinates: each invocation fills one vec4 of each tile per K step.
    let lk = tile_row(lid);
    let l4 = tile_col4(lid);

    var acc: array<vec4<f32>, 4>; // zero-initialised

    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        let k = k0 + lk;
        a_tile[lk * 16u + l4 / 4u] = load_a(k, m0 + l4, kdim, mdim4);
        var bv = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            bv[j] = load_b(k, n0 + l4 + j, kdim, hw);
        }
        b_tile[lk * 16u + l4 / 4u] = bv;
        workgroupBarrier();
        tile_mma(&acc, lid.y, lid.x);
        workgroupBarrier();
    }

    // acc[i][j] is output (m0 + 4·ly + i, n0 + 4·lx + j); store column by column.
    for (var j = 0u; j < 4u; j++) {
        let col = vec4<f32>(acc[0][j], acc[1][j], acc[2][j], acc[3][j]);
        store4(m0 + lid.y * 4u, n0 + lid.x * 4u + j, col, hw);
    }
}

fn narrow_tile(lid: vec3<u32>, m0: u32, n0: u32) {
    let hw = p.h * p.w;
    let kdim = p.cin * 9u;
    let mdim4 = (p.cout + 3u) & ~3u;
    let lk = tile_row(lid);
    let l4 = tile_col4(lid);
    var acc = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        a_tile[lk * 16u + l4 / 4u] = load_a(k0 + lk, m0 + l4, kdim, mdim4);
        b_narrow[lk * 16u + lid.x] = load_b(k0 + lk, n0 + lid.x, kdim, hw);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            acc += a_tile[kk * 16u + lid.y] * b_narrow[kk * 16u + lid.x];
        }
        workgroupBarrier();
    }
    // acc[i] is output (m0 + 4·ly + i, n0 + lx).
    store4(m0 + lid.y * 4u, n0 + lid.x, acc, hw);
}

// ---- direct (CPU adapters) ----

// Four pixels n (one per component) shifted by (dy, dx): offsets into a [h][w] plane (0 where
// invalid) and 1/0 validity (zero padding, and pixels past h·w).
struct Quad {
    off: vec4<u32>,
    ok: vec4<f32>,
}

fn quad(n: vec4<u32>, hw: u32, dy: i32, dx: i32) -> Quad {
    let y = vec4<i32>(n / p.w) + vec4<i32>(dy);
    let x = vec4<i32>(n % p.w) + vec4<i32>(dx);
    let v = (n < vec4<u32>(hw)) & (y >= vec4<i32>(0)) & (x >= vec4<i32>(0)) & (y < vec4<i32>(i32(p.h))) & (x < vec4<i32>(i32(p.w)));
    return Quad(select(vec4<u32>(0u), vec4<u32>(y) * p.w + vec4<u32>(x), v), select(vec4<f32>(0.0), vec4<f32>(1.0), v));
}

// B values of the quad in input plane `base` (= ci·h·w).
fn gather(q: Quad, base: u32) -> vec4<f32> {
    let o = q.off + vec4<u32>(base);
    return vec4<f32>(f32(inp[o.x]), f32(inp[o.y]), f32(inp[o.z]), f32(inp[o.w])) * q.ok;
}

// Epilogue for channels m0 … m0+3 (rows of c) at the quad's pixels (columns of c).
fn store_quad(n: vec4<u32>, c: mat4x4<f32>, m0: u32, hw: u32) {
    for (var j = 0u; j < 4u; j++) {
        if (n[j] < hw) {
            store4(m0, n[j], c[j], hw);
        }
    }
}

@compute @workgroup_size(LANES)
fn direct(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile_n = wid.x + wid.z * nwg.x;
    if (tile_n >= p.tiles_n) {
        return;
    }
    let hw = p.h * p.w;
    let mq = (p.cout + 3u) / 4u;          // vec4s per weight row
    let last = p.cin * 9u * mq - 1u;      // last vec4 of the weights
    let n = tile_n * 4u * LANES + t + LANES * vec4<u32>(0u, 1u, 2u, 3u);
    let m0q = wid.y * 4u;
    var c0 = mat4x4<f32>();
    var c1 = mat4x4<f32>();
    var c2 = mat4x4<f32>();
    var c3 = mat4x4<f32>();
    for (var tap = 0u; tap < 9u; tap++) {
        let q = quad(n, hw, i32(tap / 3u) - 1, i32(tap % 3u) - 1);
        var wi = tap * mq + m0q;
        var base = 0u;
        for (var ci = 0u; ci < p.cin; ci++) {
            // Rows past cout4 read neighbouring weights (clamped at the end); never stored.
            let a0 = vec4<f32>(weight[min(wi, last)]);
            let a1 = vec4<f32>(weight[min(wi + 1u, last)]);
            let a2 = vec4<f32>(weight[min(wi + 2u, last)]);
            let a3 = vec4<f32>(weight[min(wi + 3u, last)]);
            let b = gather(q, base);
            c0 = rank1(c0, a0, b);
            c1 = rank1(c1, a1, b);
            c2 = rank1(c2, a2, b);
            c3 = rank1(c3, a3, b);
            wi += 9u * mq;
            base += hw;
        }
    }
    let m0 = m0q * 4u;
    store_quad(n, c0, m0, hw);
    store_quad(n, c1, m0 + 4u, hw);
    store_quad(n, c2, m0 + 8u, hw);
    store_quad(n, c3, m0 + 12u, hw);
}
