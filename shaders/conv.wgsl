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
// stepping K by 16 through workgroup memory. Dispatch: x·z = ceil(N/64) pixel tiles (z folds x past
// the 65,535 limit), y = ceil(M/64).

override BACKWARD: bool = false;

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
    let m0 = wid.y * BM;
    let n0 = tile_n * BN;
    let hw = p.h * p.w;
    let kdim = p.cin * 9u;
    let mdim = p.cout;
    let mdim4 = (mdim + 3u) & ~3u;
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
        var av = vec4<f32>(0.0);
        if (k < kdim && m0 + l4 < mdim4) {
            av = weight[(k * mdim4 + m0 + l4) / 4u];
        }
        a_tile[lk * 16u + l4 / 4u] = av;
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

    for (var i = 0u; i < 4u; i++) {
        let m = m0 + lid.y * 4u + i;
        if (m >= mdim) {
            continue;
        }
        var v = acc[i];
        if (!BACKWARD) {
            v = max(v + vec4<f32>(bias[m]), vec4<f32>(0.0));
        }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + lid.x * 4u + j;
            if (n < hw) {
                outp[m * hw + n] = v[j];
            }
        }
    }
}
