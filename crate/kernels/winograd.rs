//! 3×3 convolution by Winograd's F(2×2, 3×3) or F(4×4, 3×3) (`shaders/winograd.wgsl`): which tile
//! a layer runs with, the kernel's transform (once, when the weights load), and the three
//! dispatches of a conv (input transform, 16 or 36 GEMMs, output transform with the conv's
//! epilogue) per chunk of output tiles. Which layers run it at which size: [`crate::kernels::winograd_for`].

pub use crate::gpu::WinoTile;
use crate::gpu::{binding, grid_elems, grid_tiles, Bind, Binding, ConvPath, Dispatch, Gpu, Precision, Variant};
use crate::kernels::conv::{direct_lanes, ConvShape};
use crate::kernels::{Direction, KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of the three Winograd kernels (the GEMM's shape: backward swaps the
    /// channels).
    pub struct WinoParams {
        pub cin: u32,
        pub cout: u32,
        pub h: u32,
        pub w: u32,
        /// Tiles a row: ⌈w/2⌉ (F(2×2)) or ⌈w/4⌉.
        pub tw: u32,
        /// This chunk's first tile.
        pub t0: u32,
        /// This chunk's tile count.
        pub tiles: u32,
        /// GEMM pixel-tile groups: ⌈tiles/64⌉ (tiled) or ⌈tiles/(4·LANES)⌉ (direct).
        pub tiles_n: u32,
        /// Backward: 1 = multiply the result by [mask > 0].
        pub mask_out: u32,
        /// Transform positions: 16 (F(2×2)) or 36 (F(4×4)).
        pub xis: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

const IN: KernelDef =
    KernelDef { shader: Shader::Winograd, entry: "wino_in", bindings: &[binding("p", 0, Bind::Uniform), binding("inp", 1, Bind::Read), binding("vt", 6, Bind::Write)] };
const GEMM_BINDINGS: &[Binding] = &[binding("p", 0, Bind::Uniform), binding("weight", 2, Bind::Read), binding("vt", 6, Bind::Write), binding("mt", 7, Bind::Write)];
const GEMM: KernelDef = KernelDef { shader: Shader::Winograd, entry: "wino_gemm", bindings: GEMM_BINDINGS };
const GEMM_DIRECT: KernelDef = KernelDef { shader: Shader::Winograd, entry: "wino_gemm_direct", bindings: GEMM_BINDINGS };
const OUT_BINDINGS: &[Binding] =
    &[binding("p", 0, Bind::Uniform), binding("bias", 3, Bind::Read), binding("mask", 4, Bind::Read), binding("outp", 5, Bind::Write), binding("mt", 7, Bind::Write)];
const OUT: KernelDef = KernelDef { shader: Shader::Winograd, entry: "wino_out", bindings: OUT_BINDINGS };
const IN4: KernelDef = KernelDef { shader: Shader::Winograd, entry: "wino_in4", bindings: IN.bindings };
const OUT4: KernelDef = KernelDef { shader: Shader::Winograd, entry: "wino_out4", bindings: OUT_BINDINGS };
/// The entry points of `winograd.wgsl`.
pub const KERNELS: &[KernelDef] = &[IN, GEMM, GEMM_DIRECT, OUT, IN4, OUT4];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<WinoParams>()]
}

/// Layers whose channels (in and out) are at most this many run F(4×4) with f32 storage:
/// conv1_2 … conv3_4 (BENCHMARKS.md, Winograd).
pub const F4_MAX_CHANNELS: usize = 256;

/// The Winograd tile a variant runs the conv of `cin` → `cout` channels with (`None`: the direct
/// GEMM), with [`Variant::winograd`]: every conv with more than 3 input channels (conv1_1's
/// 3 → 64 stays a GEMM: its K of 27 leaves too little to save for the transforms' memory
/// traffic); F(4×4) with f32 storage on the layers of at most [`F4_MAX_CHANNELS`] channels (the
/// largest images of the network, where it is twice F(2×2)'s speed, and small kernels: 36
/// positions take 4× the GEMM's weights), F(2×2) elsewhere ([`Variant::wino_tile`] forces one
/// tile on every layer). With f16 storage always F(2×2): F(4×4)'s transforms amplify the f16
/// rounding of its kernel to ~2% of the outputs' scale. The tile is decided per layer, not per
/// image size, so a conv's transform has one layout (whether a layer runs it at a given size:
/// [`crate::kernels::winograd_for`]; BENCHMARKS.md, "Winograd convolutions").
pub fn winograd_tile(v: Variant, cin: usize, cout: usize) -> Option<WinoTile> {
    if !uses_winograd(v, cin) {
        None
    } else if v.precision == Precision::F16 {
        Some(WinoTile::F2)
    } else {
        Some(v.wino_tile.unwrap_or(if cin.max(cout) <= F4_MAX_CHANNELS { WinoTile::F4 } else { WinoTile::F2 }))
    }
}

/// Whether a variant runs the conv of `cin` input channels by Winograd (the tile:
/// [`winograd_tile`]).
pub fn uses_winograd(v: Variant, cin: usize) -> bool {
    v.winograd && cin > 3
}

/// Elements of a conv's transformed kernel for `k_channels` → `m_channels`:
/// `[positions][k_channels][m_channels rounded up to a multiple of 4]`.
pub fn wino_len(k_channels: usize, m_channels: usize, tile: WinoTile) -> usize {
    tile.positions() * k_channels * m_channels.next_multiple_of(4)
}

/// The kernel transform U = G g Gᵀ of every (k, m) pair of a conv in the GEMM layout
/// `[k_channels·9][m4]` ([`crate::ConvWeights::forward_gemm`] or `backward_gemm`), as
/// `[positions][k_channels][m4]` (ξ = row·(out + 2) + column of U), computed in f64.
pub fn transform_weights(gemm: &[f32], k_channels: usize, m_channels: usize, tile: WinoTile) -> Vec<f32> {
    const G2: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
    const G4: [[f64; 3]; 6] = [
        [0.25, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];
    let g_rows: &[[f64; 3]] = match tile {
        WinoTile::F2 => &G2,
        WinoTile::F4 => &G4,
    };
    let n = g_rows.len();
    let m4 = m_channels.next_multiple_of(4);
    assert_eq!(gemm.len(), k_channels * 9 * m4, "a GEMM-layout kernel");
    let mut out = vec![0.0; wino_len(k_channels, m_channels, tile)];
    for k in 0..k_channels {
        for m in 0..m4 {
            let g = |ky: usize, kx: usize| gemm[(k * 9 + ky * 3 + kx) * m4 + m] as f64;
            // G g (n×3), then (G g) Gᵀ (n×n).
            let mut gg = [[0.0f64; 3]; 6];
            for (row, ga) in gg.iter_mut().zip(g_rows) {
                *row = [0, 1, 2].map(|kx| (0..3).map(|ky| ga[ky] * g(ky, kx)).sum());
            }
            for (a, ra) in gg[..n].iter().enumerate() {
                for (b, gb) in g_rows.iter().enumerate() {
                    let u: f64 = (0..3).map(|kx| ra[kx] * gb[kx]).sum();
                    out[((a * n + b) * k_channels + k) * m4 + m] = u as f32;
                }
            }
        }
    }
    out
}

/// Output tiles of an `h`×`w` layer.
pub fn tile_count(h: usize, w: usize, tile: WinoTile) -> usize {
    h.div_ceil(tile.out()) * w.div_ceil(tile.out())
}

/// Tiles per chunk of a conv of GEMM shape `s` whose two scratch buffers hold `scratch_floats`
/// f32 each: each buffer holds `positions · max(cin, cout)` floats per tile. At least one tile.
pub fn chunk_tiles(s: ConvShape, scratch_floats: usize, tile: WinoTile) -> usize {
    (scratch_floats / (tile.positions() * s.cin.max(s.cout))).clamp(1, tile_count(s.h, s.w, tile).max(1))
}

/// Floats of each scratch buffer a network needs whose largest activation takes `act_bytes`:
/// half as many bytes as that activation (so the pair costs one activation; layers whose
/// transformed tiles need more run in chunks), at least one F(4×4) tile of its widest Winograd
/// conv (`widest` = max(cin, cout)).
pub fn scratch_floats(act_bytes: u64, widest: usize) -> usize {
    ((act_bytes / 8) as usize).max(36 * widest)
}

/// The two scratch buffers of a network's Winograd convs (each `[16][channels][chunk tiles]` f32).
#[derive(Clone, Debug)]
pub struct WinoScratch {
    /// The transformed input, `vt`.
    pub input: Buffer,
    /// The transformed products, `mt`.
    pub product: Buffer,
}

impl WinoScratch {
    /// Floats of each buffer.
    pub fn floats(&self) -> usize {
        (self.input.size().min(self.product.size()) / 4) as usize
    }
}

/// The pipelines of one kernel for a direction and precision (`lanes`: direct GEMM only).
fn spec(def: KernelDef, dir: Direction, precision: Precision, lanes: u32) -> PipelineSpec {
    let backward = (dir == Direction::Backward) as u32;
    let d = if backward == 1 { "backward" } else { "forward" };
    let name = match def.entry {
        "wino_gemm_direct" => format!("wino_gemm_{d}_direct{lanes}{}", precision.suffix()),
        e => format!("{e}_{d}{}", precision.suffix()),
    };
    def.spec(precision, Some(dir), &[("BACKWARD", backward), ("LANES", lanes)], name)
}

/// Every Winograd pipeline for `precision`.
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let mut v = Vec::new();
    for dir in [Direction::Forward, Direction::Backward] {
        v.push(spec(IN, dir, precision, 64));
        v.push(spec(GEMM, dir, precision, 64));
        v.extend([4, 16, 64].map(|l| spec(GEMM_DIRECT, dir, precision, l)));
        v.push(spec(OUT, dir, precision, 64));
        v.push(spec(IN4, dir, precision, 64));
        v.push(spec(OUT4, dir, precision, 64));
    }
    v
}

/// The buffers of one Winograd conv (the GEMM's view: backward swaps the channels).
pub(crate) struct WinoBuffers<'a> {
    pub inp: &'a Buffer,
    pub weight: &'a Buffer,
    pub bias: &'a Buffer,
    pub mask: &'a Buffer,
    pub out: &'a Buffer,
    pub scratch: &'a WinoScratch,
}

/// The dispatches of a conv of GEMM shape `s` by Winograd: per chunk of tiles, the input
/// transform, the 16 GEMMs (`v.path`'s implementation) and the output transform with the
/// direction's epilogue, all labelled `label`. FLOPs are counted as the direct algorithm's (on the GEMM), so GFLOP/s
/// show the gain.
pub(crate) fn dispatches(gpu: &Gpu, (v, tile): (Variant, WinoTile), dir: Direction, label: String, s: ConvShape, mask_out: bool, b: WinoBuffers) -> Vec<Dispatch> {
    let total = tile_count(s.h, s.w, tile);
    let chunk = chunk_tiles(s, b.scratch.floats(), tile);
    let xis = tile.positions();
    let (input, output) = match tile {
        WinoTile::F2 => (IN, OUT),
        WinoTile::F4 => (IN4, OUT4),
    };
    let mut out = Vec::new();
    let mut t0 = 0;
    while t0 < total {
        let tiles = chunk.min(total - t0);
        let (gemm, tiles_n, grid) = match v.path {
            ConvPath::Tiled => {
                let tiles_n = tiles.div_ceil(64) as u32;
                (spec(GEMM, dir, v.precision, 64), tiles_n, grid_tiles(tiles_n, (xis * s.cout.div_ceil(64)) as u32))
            }
            ConvPath::Direct => {
                let lanes = direct_lanes(tiles as u32);
                let tiles_n = tiles.div_ceil(4 * lanes as usize) as u32;
                (spec(GEMM_DIRECT, dir, v.precision, lanes), tiles_n, grid_tiles(tiles_n, (xis * s.cout.div_ceil(16)) as u32))
            }
        };
        let p = WinoParams {
            cin: s.cin as u32,
            cout: s.cout as u32,
            h: s.h as u32,
            w: s.w as u32,
            tw: s.w.div_ceil(tile.out()) as u32,
            t0: t0 as u32,
            tiles: tiles as u32,
            tiles_n,
            mask_out: mask_out as u32,
            xis: xis as u32,
            _pad1: 0,
            _pad2: 0,
        };
        let (vt, mt) = (&b.scratch.input, &b.scratch.product);
        // The direct algorithm's multiply-adds for the layer, this chunk's share.
        let flops = 2.0 * 9.0 * (s.cin * s.cout * s.h * s.w) as f64 * tiles as f64 / total as f64;
        out.push(spec(input, dir, v.precision, 64).get(gpu).dispatch(gpu, label.clone(), &p, &[("inp", b.inp), ("vt", vt)], grid_elems(s.cin * tiles), 0.0));
        out.push(gemm.get(gpu).dispatch(gpu, label.clone(), &p, &[("weight", b.weight), ("vt", vt), ("mt", mt)], grid, flops));
        let epilogue = [("bias", b.bias), ("mask", b.mask), ("outp", b.out), ("mt", mt)];
        out.push(spec(output, dir, v.precision, 64).get(gpu).dispatch(gpu, label.clone(), &p, &epilogue, grid_elems(s.cout * tiles), 0.0));
        t0 += tiles;
    }
    out
}
