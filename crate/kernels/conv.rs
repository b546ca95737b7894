//! 3×3 convolution: forward with bias and ReLU, and the input gradient, by the direct GEMM
//! (`shaders/conv.wgsl`) or, where [`winograd_for`] picks a tile, by Winograd ([`crate::kernels::winograd`]).

pub use crate::gpu::Direction;
use crate::gpu::{binding, grid_tiles, Bind, Binding, ConvPath, Dispatch, Gpu, Precision, Variant};
use crate::kernels::winograd::{self, winograd_tile, WinoBuffers, WinoScratch, WinoTile};
use crate::kernels::{KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of both conv directions (`shape` is the GEMM's: backward swaps channels).
    pub struct ConvParams {
        pub cin: u32,
        pub cout: u32,
        pub h: u32,
        pub w: u32,
        /// Pixel tiles: ⌈h·w/64⌉ (wide tile), ⌈h·w/16⌉ (narrow), ⌈h·w/(4·LANES)⌉ (direct).
        pub tiles_n: u32,
        /// Backward: 1 = multiply the result by [mask > 0].
        pub mask_out: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

/// One compiled variant of the conv kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvTile {
    /// Tiled, 64×64 output tile.
    Wide,
    /// Tiled, 64×16 output tile (layers of few pixels).
    Narrow,
    /// Direct, with this many invocations per workgroup (4, 16 or 64).
    Direct(u32),
}

/// Shape of a 3×3 convolution (stride 1, padding 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
}

const BINDINGS: &[Binding] = &[
    binding("p", 0, Bind::Uniform),
    binding("inp", 1, Bind::Read),
    binding("weight", 2, Bind::Read),
    binding("bias", 3, Bind::Read),
    binding("mask", 4, Bind::Read),
    binding("outp", 5, Bind::Write),
];
const TILED: KernelDef = KernelDef { shader: Shader::Conv, entry: "main", bindings: BINDINGS };
const DIRECT: KernelDef = KernelDef { shader: Shader::Conv, entry: "direct", bindings: BINDINGS };
/// The entry points of `conv.wgsl`.
pub const KERNELS: &[KernelDef] = &[TILED, DIRECT];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<ConvParams>()]
}

/// The direction's I/O types for the conv module's prelude: `conv_io` (activations forward, f32
/// gradients backward), `IO_LOAD` and `store_io`.
pub(crate) fn io_types(dir: Direction) -> &'static str {
    match dir {
        Direction::Forward => "alias conv_io = act;\nconst IO_LOAD: f32 = ACT_LOAD;\nfn store_io(v: f32) -> conv_io { return to_act(v); }\n",
        Direction::Backward => "alias conv_io = f32;\nconst IO_LOAD: f32 = 1.0;\nfn store_io(v: f32) -> conv_io { return v; }\n",
    }
}

/// Layers with at most this many pixels use the 64×16 (narrow) conv tile instead of 64×64.
pub const NARROW_MAX_PIXELS: usize = 32;

/// Workgroup size of the direct kernels (conv, Gram, style gradient) for a lane dimension of `n`
/// (pixels, or Gram columns): the largest of 64, 16, 4 with 4·lanes ≤ n (each invocation covers
/// 4 of them), 4 below that.
pub fn direct_lanes(n: u32) -> u32 {
    [64, 16, 4].into_iter().find(|l| 4 * l <= n).unwrap_or(4)
}

/// The conv kernel variant and grid for a shape: `(tile, tiles_n, grid)`.
/// Tiled: 64×64 tiles (64×16 up to [`NARROW_MAX_PIXELS`]). Direct: 16 channels × 4·LANES pixels
/// per workgroup, LANES = [`direct_lanes`]`(h·w)`.
pub fn conv_tiling(path: ConvPath, s: ConvShape) -> (ConvTile, u32, [u32; 3]) {
    let hw = (s.h * s.w) as u32;
    let cout = s.cout as u32;
    match path {
        ConvPath::Tiled if s.h * s.w <= NARROW_MAX_PIXELS => {
            let tiles_n = hw.div_ceil(16);
            (ConvTile::Narrow, tiles_n, grid_tiles(tiles_n, cout.div_ceil(64)))
        }
        ConvPath::Tiled => {
            let tiles_n = hw.div_ceil(64);
            (ConvTile::Wide, tiles_n, grid_tiles(tiles_n, cout.div_ceil(64)))
        }
        ConvPath::Direct => {
            let lanes = direct_lanes(hw);
            let tiles_n = hw.div_ceil(4 * lanes);
            (ConvTile::Direct(lanes), tiles_n, grid_tiles(tiles_n, cout.div_ceil(16)))
        }
    }
}

/// The buffers of a forward conv.
pub struct ConvForward<'a> {
    /// `[cin][h][w]` activations.
    pub input: &'a Buffer,
    /// `[cin·9][cout4]` ([`crate::ConvWeights::forward_gemm`]).
    pub weight: &'a Buffer,
    /// `[cout]` f32.
    pub bias: &'a Buffer,
    /// `[cout][h][w]` activations (written in full).
    pub out: &'a Buffer,
    /// The transformed kernel and the network's scratch, where the layer may run by Winograd
    /// (needed when [`winograd_for`] picks a tile).
    pub wino: Option<Wino<'a>>,
}

/// What a conv runs Winograd with: its transformed kernel (forward `[positions][cin][cout4]`, or
/// the input gradient's `[positions][cout][cin4]`, [`winograd::transform_weights`]) and the
/// network's scratch.
#[derive(Clone, Copy)]
pub struct Wino<'a> {
    pub weight: &'a Buffer,
    pub scratch: &'a WinoScratch,
}

/// Layers with fewer output tiles than this run the direct GEMM even where Winograd is on: with a
/// tile or four per layer its GEMMs have too few columns to fill their lanes, and reading the
/// transformed kernel (16/9 or 36/9 of the GEMM's) dominates (BENCHMARKS.md, Winograd).
pub const WINOGRAD_MIN_TILES: usize = 16;

/// The Winograd tile the conv of forward shape `s` runs with under `v` (`None`: the direct GEMM):
/// [`winograd_tile`] for its channels, on layers of at least [`WINOGRAD_MIN_TILES`] tiles.
pub fn winograd_for(v: Variant, s: ConvShape) -> Option<WinoTile> {
    winograd_tile(v, s.cin, s.cout).filter(|&t| winograd::tile_count(s.h, s.w, t) >= WINOGRAD_MIN_TILES)
}

/// The buffers of a conv's input gradient.
pub struct ConvBackward<'a> {
    /// `[cout][h][w]` f32: the gradient w.r.t. the layer's pre-activation (its ReLU mask already
    /// applied by whoever wrote it).
    pub dout: &'a Buffer,
    /// `[cin][h][w]` activations: the layer's forward input when that is a ReLU output, so `din`
    /// leaves already through that ReLU; `None` for no mask.
    pub in_act: Option<&'a Buffer>,
    /// `[cout·9][cin4]` ([`crate::ConvWeights::backward_gemm`]).
    pub weight_t: &'a Buffer,
    /// `[cin][h][w]` f32 (written in full).
    pub din: &'a Buffer,
    /// The input gradient's transformed kernel and the network's scratch (needed when
    /// [`winograd_for`] picks a tile).
    pub wino: Option<Wino<'a>>,
}

/// The conv pipeline for a direction, tile and storage precision.
fn spec(dir: Direction, tile: ConvTile, precision: Precision) -> PipelineSpec {
    let (def, narrow, lanes, tile_name) = match tile {
        ConvTile::Wide => (TILED, 0, 64, String::new()),
        ConvTile::Narrow => (TILED, 1, 64, "_narrow".into()),
        ConvTile::Direct(l) => (DIRECT, 0, l, format!("_direct{l}")),
    };
    let backward = (dir == Direction::Backward) as u32;
    let name = format!("conv_{}{tile_name}{}", if backward == 1 { "backward" } else { "forward" }, precision.suffix());
    def.spec(precision, Some(dir), &[("BACKWARD", backward), ("NARROW", narrow), ("LANES", lanes)], name)
}

/// Every conv pipeline for `precision`.
pub(crate) fn pipelines(precision: Precision) -> Vec<PipelineSpec> {
    let tiles = [ConvTile::Wide, ConvTile::Narrow, ConvTile::Direct(4), ConvTile::Direct(16), ConvTile::Direct(64)];
    [Direction::Forward, Direction::Backward].into_iter().flat_map(|d| tiles.map(|t| spec(d, t, precision))).collect()
}

/// The dispatches of a conv of GEMM shape `s` over `bufs` (inp, GEMM weight, bias, mask, outp):
/// one of `conv.wgsl`, or with `tile` Winograd's three per chunk of tiles over `wino`.
fn dispatch(
    gpu: &Gpu,
    (v, dir, tile): (Variant, Direction, Option<WinoTile>),
    label: String,
    s: ConvShape,
    mask_out: bool,
    bufs: [(&str, &Buffer); 5],
    wino: Option<Wino>,
) -> Vec<Dispatch> {
    if let Some(tile) = tile {
        let w = wino.expect("a Winograd conv needs its transformed kernel and the network's scratch");
        let b = WinoBuffers { inp: bufs[0].1, weight: w.weight, bias: bufs[2].1, mask: bufs[3].1, out: bufs[4].1, scratch: w.scratch };
        return winograd::dispatches(gpu, (v, tile), dir, label, s, mask_out, b);
    }
    let (tile, tiles_n, grid) = conv_tiling(v.path, s);
    let kernel = spec(dir, tile, v.precision).get(gpu);
    let params = ConvParams { cin: s.cin as u32, cout: s.cout as u32, h: s.h as u32, w: s.w as u32, tiles_n, mask_out: mask_out as u32, _pad0: 0, _pad1: 0 };
    let flops = 2.0 * 9.0 * (s.cin * s.cout * s.h * s.w) as f64;
    vec![kernel.dispatch(gpu, label, &params, &bufs, grid, flops)]
}

/// Forward convolution with fused bias and ReLU: `out [cout][h][w] = relu(W ⊛ input + bias)`,
/// computed by the `v.path` implementation (by Winograd where [`winograd_for`] picks a tile) with
/// the input, weights and output stored in `v.precision` (normally `gpu.variant()`). One
/// dispatch, or Winograd's three per chunk of tiles.
pub fn conv_forward(gpu: &Gpu, v: Variant, label: String, s: ConvShape, b: ConvForward) -> Vec<Dispatch> {
    conv_forward_by(gpu, (v, winograd_for(v, s)), label, s, b)
}

/// [`conv_forward`] by the algorithm given: the direct GEMM (`None`) or Winograd with a tile, on
/// any shape (for tests and benchmarks).
pub fn conv_forward_by(gpu: &Gpu, (v, tile): (Variant, Option<WinoTile>), label: String, s: ConvShape, b: ConvForward) -> Vec<Dispatch> {
    // `mask` is unread forward; bind the input there.
    let bufs = [("inp", b.input), ("weight", b.weight), ("bias", b.bias), ("mask", b.input), ("outp", b.out)];
    dispatch(gpu, (v, Direction::Forward, tile), label, s, false, bufs, b.wino)
}

/// Input gradient of a conv layer: `din = (W' ⊛ dout) · [in_act > 0]` (without the mask when
/// `in_act` is `None`), where `s` is the FORWARD shape. Computed by the `v.path` implementation
/// (by Winograd where [`winograd_for`] picks a tile for the forward shape); `in_act` and
/// `weight_t` are stored in `v.precision`, `dout` and `din` are f32.
pub fn conv_backward(gpu: &Gpu, v: Variant, label: String, s: ConvShape, b: ConvBackward) -> Vec<Dispatch> {
    conv_backward_by(gpu, (v, winograd_for(v, s)), label, s, b)
}

/// [`conv_backward`] by the algorithm given (see [`conv_forward_by`]).
pub fn conv_backward_by(gpu: &Gpu, (v, tile): (Variant, Option<WinoTile>), label: String, s: ConvShape, b: ConvBackward) -> Vec<Dispatch> {
    let t = ConvShape { cin: s.cout, cout: s.cin, h: s.h, w: s.w };
    // `bias` is unread backward; bind the weights there (and dout as the mask when unmasked).
    let bufs = [("inp", b.dout), ("weight", b.weight_t), ("bias", b.weight_t), ("mask", b.in_act.unwrap_or(b.dout)), ("outp", b.din)];
    dispatch(gpu, (v, Direction::Backward, tile), label, t, b.in_act.is_some(), bufs, b.wino)
}
