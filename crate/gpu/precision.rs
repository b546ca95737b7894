//! The implementation choices made once per device: which conv/Gram kernels ([`ConvPath`]) and how
//! activations and conv weights are stored ([`Precision`]), with the f16 encode/decode helpers that
//! are the CPU twins of the WGSL precision prelude.

use crate::error::{Error, Result};

/// The two implementations of the 3×3 conv GEMM in `shaders/conv.wgsl` (same results, same
/// bindings; the header of that file explains the cost models behind them). The same choice
/// selects between the tiled and direct Gram-partial and style-gradient kernels (`gram.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPath {
    /// Tiled through workgroup memory (entry point `main`): what GPUs want.
    Tiled,
    /// Register-tiled straight from storage buffers, no workgroup memory or barriers (entry point
    /// `direct`): what CPU adapters (SwiftShader, lavapipe) want.
    Direct,
}

impl ConvPath {
    /// `Direct` on CPU adapters (browsers report software/fallback adapters as CPUs), else `Tiled`.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> ConvPath {
        if info.device_type == wgpu::DeviceType::Cpu {
            ConvPath::Direct
        } else {
            ConvPath::Tiled
        }
    }

    /// Parses `tiled` or `direct` (case-insensitive). Fails with [`Error::Settings`].
    pub fn parse(s: &str) -> Result<ConvPath> {
        match s.to_ascii_lowercase().as_str() {
            "tiled" => Ok(ConvPath::Tiled),
            "direct" => Ok(ConvPath::Direct),
            _ => Err(Error::Settings(format!("conv path must be `tiled` or `direct`, not {s:?}"))),
        }
    }
}

/// How activations (every layer's output, the content target, the network's copy of its input)
/// and conv weights are stored on the GPU. Arithmetic and accumulation are f32 either way, and
/// gradients, Grams, losses, the image and Adam's moments are always f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit floats everywhere.
    F32,
    /// IEEE half floats (needs the adapter's `shader-f16`): half the memory and bandwidth of the
    /// activations and weights. Activations are stored times [`F16_ACT_STORE`] (1/32, exact) so the
    /// largest VGG activations (tens of thousands on the 0..255 scale) stay far from f16's 65,504;
    /// stores clamp to ±65,504 instead of overflowing to infinity.
    F16,
}

/// Factor activations are multiplied by when stored as f16 (and divided by when loaded).
pub const F16_ACT_STORE: f32 = 1.0 / 32.0;

/// An activation as stored in f16: scaled, clamped to f16's range, rounded to nearest (the CPU
/// twin of `to_act` in the f16 prelude).
fn act_to_f16(v: f32) -> half::f16 {
    half::f16::from_f32((v * F16_ACT_STORE).clamp(-65504.0, 65504.0))
}

/// A stored f16 activation's value (the CPU twin of a load times `ACT_LOAD`).
fn f16_to_act(h: half::f16) -> f32 {
    h.to_f32() / F16_ACT_STORE
}

impl Precision {
    /// `F16` when the adapter offers `shader-f16` and is a real GPU (memory bandwidth is what it
    /// saves), `F32` otherwise (CPU adapters: see BENCHMARKS.md, change 7).
    pub fn for_adapter(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Precision {
        if features.contains(wgpu::Features::SHADER_F16) && info.device_type != wgpu::DeviceType::Cpu {
            Precision::F16
        } else {
            Precision::F32
        }
    }

    /// Parses `f32` or `f16` (case-insensitive). Fails with [`Error::Settings`].
    pub fn parse(s: &str) -> Result<Precision> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            _ => Err(Error::Settings(format!("precision must be `f32` or `f16`, not {s:?}"))),
        }
    }

    /// Bytes per stored activation or weight element: 4 or 2.
    pub fn bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }

    /// The value the GPU sees after storing `v` as an activation and loading it again (the CPU
    /// model of the round trip, for references and tests).
    pub fn round_act(self, v: f32) -> f32 {
        match self {
            Precision::F32 => v,
            Precision::F16 => f16_to_act(act_to_f16(v)),
        }
    }

    /// Activation values as stored bytes (f32, or scaled f16).
    pub fn act_bytes(self, data: &[f32]) -> Vec<u8> {
        self.encode(data, act_to_f16)
    }

    /// Stored activation bytes back to values (inverse of [`Self::act_bytes`] up to rounding).
    pub fn act_values(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Precision::F32 => bytemuck::pod_collect_to_vec(bytes),
            Precision::F16 => bytemuck::pod_collect_to_vec::<u8, half::f16>(bytes).into_iter().map(f16_to_act).collect(),
        }
    }

    /// The value the GPU sees for conv weight `v` stored in this precision.
    pub fn round_weight(self, v: f32) -> f32 {
        match self {
            Precision::F32 => v,
            Precision::F16 => half::f16::from_f32(v).to_f32(),
        }
    }

    /// Conv weights as stored bytes (f32, or f16 unscaled).
    pub fn weight_bytes(self, data: &[f32]) -> Vec<u8> {
        self.encode(data, half::f16::from_f32)
    }

    /// `data` as f32 bytes, or as f16 through `to_f16`.
    fn encode(self, data: &[f32], to_f16: fn(f32) -> half::f16) -> Vec<u8> {
        match self {
            Precision::F32 => bytemuck::cast_slice(data).to_vec(),
            Precision::F16 => bytemuck::cast_slice(&data.iter().map(|&v| to_f16(v)).collect::<Vec<_>>()).to_vec(),
        }
    }

    /// `""` or `"_f16"`: the suffix of kernel names in timing tables.
    pub fn suffix(self) -> &'static str {
        match self {
            Precision::F32 => "",
            Precision::F16 => "_f16",
        }
    }
}

/// Winograd's output tile: F(2×2, 3×3) (4×4 patches, 16 transform positions) or F(4×4, 3×3)
/// (6×6 patches, 36 positions: fewer multiplications, larger transforms and more rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WinoTile {
    F2,
    F4,
}

impl WinoTile {
    /// Outputs a side: 2 or 4.
    pub fn out(self) -> usize {
        match self {
            WinoTile::F2 => 2,
            WinoTile::F4 => 4,
        }
    }

    /// Transform positions ξ: (out + 2)².
    pub fn positions(self) -> usize {
        (self.out() + 2) * (self.out() + 2)
    }
}

/// The implementation choices a plan is built with: conv/Gram kernels, storage precision and
/// whether convs run by Winograd's F(2×2, 3×3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Conv, Gram-partial and style-gradient implementation.
    pub path: ConvPath,
    /// Storage of activations and conv weights.
    pub precision: Precision,
    /// 3×3 convs (all but conv1_1: [`crate::kernels::winograd::winograd_tile`]) by Winograd's
    /// minimal filtering (`shaders/winograd.wgsl`) instead of the direct GEMM (`conv.wgsl`).
    pub winograd: bool,
    /// Winograd's output tile for every such conv; `None`: the engine's choice.
    pub wino_tile: Option<WinoTile>,
}

impl Variant {
    /// The variant to try when this one fails to compile on a device: Winograd → the direct
    /// GEMM first, then f16 → f32 storage, then tiled → direct kernels; `None` when nothing
    /// simpler is left.
    pub fn fallback(self) -> Option<Variant> {
        match self {
            Variant { winograd: true, .. } => Some(Variant { winograd: false, wino_tile: None, ..self }),
            Variant { precision: Precision::F16, path, .. } => Some(Variant { path, precision: Precision::F32, winograd: false, wino_tile: None }),
            Variant { path: ConvPath::Tiled, .. } => Some(Variant { path: ConvPath::Direct, precision: Precision::F32, winograd: false, wino_tile: None }),
            Variant { path: ConvPath::Direct, precision: Precision::F32, .. } => None,
        }
    }

    /// The conv choice as `STYLIZE_CONV` / `?conv=` spell it: `direct+winograd`, `tiled+gemm`,
    /// `direct+winograd4`, … ([`parse_conv`] reads it back).
    pub fn conv_name(self) -> String {
        let path = match self.path {
            ConvPath::Tiled => "tiled",
            ConvPath::Direct => "direct",
        };
        let algo = match (self.winograd, self.wino_tile) {
            (false, _) => "gemm",
            (true, None) => "winograd",
            (true, Some(WinoTile::F2)) => "winograd2",
            (true, Some(WinoTile::F4)) => "winograd4",
        };
        format!("{path}+{algo}")
    }
}

/// A conv algorithm as [`parse_conv`] reads it: Winograd or not, and a forced Winograd tile.
pub type ConvAlgo = (bool, Option<WinoTile>);

/// Parses a conv choice: `tiled` or `direct` (the kernels' path), `winograd` (the engine's tile
/// per layer), `winograd2` / `winograd4` (F(2×2) / F(4×4) for every Winograd conv) or `gemm` (the
/// algorithm), or one of each joined by `+`, `,` or a space (e.g. `direct+winograd`); what it leaves out is
/// `None` (the default). Case-insensitive; fails with [`Error::Settings`].
pub fn parse_conv(s: &str) -> Result<(Option<ConvPath>, Option<ConvAlgo>)> {
    let (mut path, mut algo) = (None, None);
    // A `+` in a URL's query decodes to a space.
    for part in s.split(['+', ',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        match part.to_ascii_lowercase().as_str() {
            "winograd" if algo.is_none() => algo = Some((true, None)),
            "winograd2" if algo.is_none() => algo = Some((true, Some(WinoTile::F2))),
            "winograd4" if algo.is_none() => algo = Some((true, Some(WinoTile::F4))),
            "gemm" if algo.is_none() => algo = Some((false, None)),
            "tiled" | "direct" if path.is_none() => path = Some(ConvPath::parse(part)?),
            _ => {
                return Err(Error::Settings(format!(
                    "conv must be `tiled` or `direct`, `winograd` (`winograd2`, `winograd4`) or `gemm`, or one of each joined by `+` (e.g. `direct+winograd`), not {s:?}"
                )))
            }
        }
    }
    Ok((path, algo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_names_parse_back() {
        for path in [ConvPath::Tiled, ConvPath::Direct] {
            for (winograd, wino_tile) in [(false, None), (true, None), (true, Some(WinoTile::F2)), (true, Some(WinoTile::F4))] {
                let v = Variant { path, precision: Precision::F32, winograd, wino_tile };
                assert_eq!(parse_conv(&v.conv_name()).unwrap(), (Some(path), Some((winograd, wino_tile))), "{}", v.conv_name());
            }
        }
        // Either part alone, any separator (a URL's `+` arrives as a space), any case.
        assert_eq!(parse_conv("Direct").unwrap(), (Some(ConvPath::Direct), None));
        assert_eq!(parse_conv("gemm").unwrap(), (None, Some((false, None))));
        assert_eq!(parse_conv("tiled winograd4").unwrap(), (Some(ConvPath::Tiled), Some((true, Some(WinoTile::F4)))));
        assert_eq!(parse_conv("direct,winograd2").unwrap(), (Some(ConvPath::Direct), Some((true, Some(WinoTile::F2)))));
        for bad in ["winograd+gemm", "tiled+direct", "winograd8", "fast"] {
            assert!(matches!(parse_conv(bad), Err(Error::Settings(_))), "{bad}");
        }
    }

    #[test]
    fn fallback_drops_winograd_first() {
        let v = Variant { path: ConvPath::Tiled, precision: Precision::F16, winograd: true, wino_tile: Some(WinoTile::F4) };
        let chain: Vec<String> = std::iter::successors(Some(v), |v| v.fallback()).map(|v| format!("{} {:?}", v.conv_name(), v.precision)).collect();
        assert_eq!(chain, ["tiled+winograd4 F16", "tiled+gemm F16", "tiled+gemm F32", "direct+gemm F32"]);
    }
}
