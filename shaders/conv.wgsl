// conv.wgsl — 3×3 convolution, stride 1, zero padding 1, as a tiled implicit GEMM.
//
// One pipeline per direction, selected by the override constant BACKWARD:
//   forward  (BACKWARD = false): out = relu(W ⊛ in + bias)
//   backward (BACKWARD = true) : out = W' ⊛ (in · [mask > 0])     (conv input-gradient through ReLU)
// where W' is the forward kernel rotated by 180° with in/out channels swapped (prepared once at load),
// so the backward pass is the same GEMM with a masked prologue and no epilogue.
//
// GEMM view: out[m][n] = Σ_k A[k][m] · B[k][n]
//   m = output channel (M = cout), n = pixel y·w + x (N = h·w), k = ci·9 + ky·3 + kx (K = cin·9),
//   B[k][n] = in[ci][y + ky − 1][x + kx − 1] (0 outside the image) — never materialised.
//
// Bindings (all f32 arrays are dense, row-major):
//   0 p      : uniform ConvParams
//   1 inp    : array<f32>  [cin][h][w]        input activation (forward) or output gradient (backward)
//   2 weight : array<vec4<f32>> [cin·9][cout4/4]  k-major, cout4 = cout rounded up to a multiple
//                                             of 4 (zero-padded): a row of A is contiguous over m
//                                             and every A load is one aligned vec4
//   3 bias   : array<f32>  [cout]             forward only (backward binds any buffer; unread)
//   4 mask   : array<f32>  [cin][h][w]        backward only: ReLU output of the layer whose gradient
//                                             `inp` is (forward binds any buffer; unread)
//   5 outp   : array<f32>  [cout][h][w]       written in full (every element of the valid range)
//
// Tiling: a 16×16 workgroup computes a 64 (m) × 64 (n) output tile, 4×4 outputs per invocation,
// stepping K by 16 through workgroup memory. With NARROW (for layers of at most 32 pixels, e.g.
// relu4_x/relu5_1 of small images, where a 64-pixel tile would mostly compute padding) the tile is
// 64 (m) × 16 (n), 4×1 outputs per invocation. Dispatch: x·z = ceil(N/BN) pixel tiles (z folds x
// past the 65,535 limit), y = ceil(M/64), BN = 64 (16 with NARROW).

override BACKWARD: bool = false;
override NARROW: bool = false;

struct ConvParams {
    cin: u32,
    cout: u32,
    h: u32,
    w: u32,
    tiles_n: u32,   // ceil(h·w / 64)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> outp: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<vec4<f32>, 256>; // [BK][BM/4]
var<workgroup> b_tile: array<vec4<f32>, 256>; // [BK][BN/4]
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
    var v = inp[idx];
    if (BACKWARD) {
        v = select(0.0, v, mask[idx] > 0.0);
    }
    return v;
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
        return weight[(k * mdim4 + m) / 4u];
    }
    return vec4<f32>(0.0);
}

// Epilogue for 4 consecutive m at pixel n: bias + ReLU (forward) and bounds-checked stores.
fn store4(m_first: u32, n: u32, acc: vec4<f32>, hw: u32) {
    if (n >= hw) {
        return;
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m_first + i;
        if (m < p.cout) {
            var v = acc[i];
            if (!BACKWARD) {
                v = max(v + bias[m], 0.0);
            }
            outp[m * hw + n] = v;
        }
    }
}

fn wide_tile(lid: vec3<u32>, m0: u32, n0: u32) {
    let hw = p.h * p.w;
    let kdim = p.cin * 9u;
    let mdim4 = (p.cout + 3u) & ~3u;
    let tid = lid.y * 16u + lid.x;
    // Loader coordinates: each invocation fills one vec4 of each tile per K step.
    let lk = tid / 16u;
    let l4 = (tid % 16u) * 4u;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        let k = k0 + lk;
        a_tile[lk * 16u + l4 / 4u] = load_a(k, m0 + l4, kdim, mdim4);
        var bv = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            bv[j] = load_b(k, n0 + l4 + j, kdim, hw);
        }
        b_tile[lk * 16u + l4 / 4u] = bv;
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk++) {
            let a = a_tile[kk * 16u + lid.y];
            let b = b_tile[kk * 16u + lid.x];
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
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
    let tid = lid.y * 16u + lid.x;
    let lk = tid / 16u;
    let l4 = (tid % 16u) * 4u;
    var acc = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        a_tile[lk * 16u + l4 / 4u] = load_a(k0 + lk, m0 + l4, kdim, mdim4);
        b_narrow[tid] = load_b(k0 + lk, n0 + tid % 16u, kdim, hw);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            acc += a_tile[kk * 16u + lid.y] * b_narrow[kk * 16u + lid.x];
        }
        workgroupBarrier();
    }
    // acc[i] is output (m0 + 4·ly + i, n0 + lx).
    store4(m0 + lid.y * 4u, n0 + lid.x, acc, hw);
}
