//! Loading and validating the VGG19 convolution weights (safetensors, f16 or f32).

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};

/// The 13 convolutions of VGG19 up to conv5_1: (name, input channels, output channels).
pub const CONVS: [(&str, usize, usize); 13] = [
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
];

/// One convolution's parameters, as stored in the file.
#[derive(Clone, Debug)]
pub struct ConvWeights {
    /// Layer name, e.g. `conv3_2`.
    pub name: &'static str,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Kernel, OIHW `[cout][cin][3][3]` (cross-correlation, no flip).
    pub weight: Vec<f32>,
    /// Bias `[cout]`.
    pub bias: Vec<f32>,
}

/// Elements of a conv's GEMM weight layout for a 3×3 conv from `k_channels` to `m_channels`:
/// `[k_channels·9][m_channels rounded up to a multiple of 4]` ([`ConvWeights::forward_gemm`] with
/// (cin, cout), [`ConvWeights::backward_gemm`] with (cout, cin)).
pub fn gemm_len(k_channels: usize, m_channels: usize) -> usize {
    k_channels * 9 * m_channels.next_multiple_of(4)
}

impl ConvWeights {
    /// Kernel in the forward GEMM layout `[cin·9][cout4]` (k = ci·9 + ky·3 + kx, cout4 = cout
    /// rounded up to a multiple of 4, zero-padded): row k holds every output channel's tap,
    /// contiguous, so the conv kernel reads it as vec4s.
    pub fn forward_gemm(&self) -> Vec<f32> {
        let m4 = self.cout.next_multiple_of(4);
        let mut out = vec![0.0; gemm_len(self.cin, self.cout)];
        for o in 0..self.cout {
            for k in 0..self.cin * 9 {
                out[k * m4 + o] = self.weight[o * self.cin * 9 + k];
            }
        }
        out
    }

    /// Kernel for the input gradient in the same GEMM layout: a 3×3 convolution from `cout` to
    /// `cin` channels with the kernel rotated by 180° and in/out swapped:
    /// `[cout·9][cin4]` (cin4 = cin rounded up to a multiple of 4, zero-padded), entry
    /// `(o·9 + ky·3 + kx, i) = W[o][i][2−ky][2−kx]`.
    pub fn backward_gemm(&self) -> Vec<f32> {
        let m4 = self.cin.next_multiple_of(4);
        let mut out = vec![0.0; gemm_len(self.cout, self.cin)];
        for o in 0..self.cout {
            for i in 0..self.cin {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let src = ((o * self.cin + i) * 3 + (2 - ky)) * 3 + (2 - kx);
                        out[(o * 9 + ky * 3 + kx) * m4 + i] = self.weight[src];
                    }
                }
            }
        }
        out
    }
}

/// All 13 convolutions, in network order.
#[derive(Clone, Debug)]
pub struct VggWeights {
    /// conv1_1 … conv5_1, in the order of [`CONVS`].
    pub convs: Vec<ConvWeights>,
    /// Whether the file stored any of them as F16 (their values carry f16 rounding).
    pub stored_f16: bool,
}

impl VggWeights {
    /// Parses a safetensors file holding `convB_K.weight` `[out, in, 3, 3]` and `convB_K.bias`
    /// `[out]` for every layer in [`CONVS`], as F16 or F32 (mixed is fine). Other tensors are ignored.
    ///
    /// Returns an [`Error::Weights`] naming the first problem: not a safetensors file, a missing
    /// tensor, a wrong shape or dtype, or a non-finite value.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("not a valid safetensors file ({e}); expected the VGG19 conv weights made by tools/fetch-weights")))?;
        let mut convs = Vec::with_capacity(CONVS.len());
        let mut stored_f16 = false;
        for &(name, cin, cout) in CONVS.iter() {
            let (weight, wf16) = read_tensor(&st, &format!("{name}.weight"), &[cout, cin, 3, 3])?;
            let (bias, bf16) = read_tensor(&st, &format!("{name}.bias"), &[cout])?;
            stored_f16 |= wf16 || bf16;
            convs.push(ConvWeights { name, cin, cout, weight, bias });
        }
        Ok(VggWeights { convs, stored_f16 })
    }

    /// Reads and parses a weights file from disk (native only). See [`Self::from_safetensors`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Weights(format!("cannot read {}: {e} (run tools/fetch-weights to download them)", path.display())))?;
        Self::from_safetensors(&bytes)
    }

    /// Tiny random weights with the VGG19 shapes truncated to `channels` per layer (for tests and
    /// gradient checks): every conv has `min(cin, channels)` → `min(cout, channels)` channels
    /// except conv1_1's 3 inputs. Deterministic for a given seed.
    pub fn random(channels: usize, seed: u64) -> Self {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let convs = CONVS
            .iter()
            .map(|&(name, cin, cout)| {
                let cin = if name == "conv1_1" { 3 } else { cin.min(channels) };
                let cout = cout.min(channels);
                let std = (2.0 / (cin as f32 * 9.0)).sqrt();
                let weight = (0..cout * cin * 9).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * std * 1.7).collect();
                let bias = (0..cout).map(|_| (rng.random::<f32>() - 0.3) * 0.5).collect();
                ConvWeights { name, cin, cout, weight, bias }
            })
            .collect();
        VggWeights { convs, stored_f16: false }
    }
}

/// A tensor's values as f32, and whether it was stored as F16.
fn read_tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<(Vec<f32>, bool)> {
    let t = st.tensor(name).map_err(|_| Error::Weights(format!("tensor `{name}` is missing: this is not the VGG19 conv weights file (expected conv1_1 … conv5_1)")))?;
    if t.shape() != shape {
        return Err(Error::Weights(format!("tensor `{name}` has shape {:?}, expected {:?}", t.shape(), shape)));
    }
    let data = t.data();
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => return Err(Error::Weights(format!("tensor `{name}` has dtype {other:?}; only F16 and F32 are supported"))),
    };
    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Weights(format!("tensor `{name}` has a non-finite value at index {bad}")));
    }
    Ok((values, t.dtype() == Dtype::F16))
}
