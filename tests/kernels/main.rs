//! Every WGSL kernel against its plain-Rust f64 reference (stylize::reference) on lavapipe, with
//! random data, shapes that are not multiples of the tile sizes, and NaN-filled outputs.
//! Tolerances: f32 kernels vs f64 references — atol/rtol stated per test (sums of K products of
//! O(1) values carry ~1e-6·√K relative error).
//! Every kernel that reads or writes activations or conv weights also runs with f16 storage
//! (`Precision::F16`, where the adapter has shader-f16): its inputs are rounded to f16 before
//! upload and the reference is computed from the rounded values, so f32 outputs (gradients, Grams,
//! losses) keep the f32 tolerances and only f16 outputs add f16's rounding (rtol 1e-3 ≥ 2⁻¹¹).
//! One module per kernel family, as in crate/kernels/ and shaders/.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use stylize::kernels::{
    self, AdamBuffers, AdamConfig, ContentLoss, ConvBackward, ConvForward, ConvShape, GramSplit, LossRange, LossWeights, PoolBackward, PoolShape, Pooling, StyleDiff, StyleGrad,
    TvLoss,
};
use stylize::reference as cpu;
use stylize::ConvWeights;
use stylize::{ConvPath, ConvTile, Precision, Variant};

mod adam;
mod color;
mod conv;
mod flow;
mod gram;
mod image;
mod lbfgs;
mod loss;
mod pool;
mod preview;
mod tile;
mod window;

#[test]
fn the_f16_halves_run_or_say_why() {
    // CI runs on lavapipe, which offers shader-f16: the f16 halves of these tests must not be
    // skipped there, nor on any adapter unless STYLIZE_TESTS_WITHOUT_F16=1 says so ([`f16_tested`]).
    let gpu = gpu();
    if gpu.adapter_info.name.contains("llvmpipe") {
        assert!(gpu.has_f16(), "lavapipe offers shader-f16; the device must enable it");
    }
    f16_tested(gpu.has_f16(), "f16 storage in the kernel tests");
}

/// A kept-regions mask `[hw]` for the optimiser tests: every fifth pixel kept (1), every fifth
/// free (0), the rest a feathered border (uniform in (0, 1)).
fn keep_mask(hw: usize) -> Vec<f32> {
    random(hw, 0.0, 1.0, 99)
        .into_iter()
        .enumerate()
        .map(|(i, v)| match i % 5 {
            0 => 1.0,
            1 => 0.0,
            _ => v,
        })
        .collect()
}

/// `reduce_losses` with one range (the combined slots 8..11 are not looked at).
fn reduce_one(gpu: &stylize::Gpu, r: LossRange, part: &wgpu::Buffer, losses: &wgpu::Buffer) -> stylize::gpu::Dispatch {
    kernels::reduce_losses(gpu, &[r], LossWeights { alpha: 1.0, beta: 1.0, tau: 1.0, gamma: None, layers: [1.0; 5] }, part, losses)
}

/// A network-space `[3][n]` image whose pixels are correlated colours (so the covariance is not
/// diagonal), values inside 0..255.
fn coloured(n: usize, seed: u64, tint: [f32; 3]) -> Vec<f32> {
    let base = random(n, 20.0, 230.0, seed);
    let noise = random(3 * n, -20.0, 20.0, seed + 1);
    let mut img = vec![0.0; 3 * n];
    for i in 0..n {
        // R, G, B from one base value, tinted, plus independent noise; stored B, G, R minus mean.
        let rgb: [f32; 3] = std::array::from_fn(|c| (base[i] * tint[c] + noise[c * n + i]).clamp(0.0, 255.0));
        for (k, c) in [2usize, 1, 0].into_iter().enumerate() {
            img[k * n + i] = rgb[c] - stylize::kernels::MEAN_BGR[k];
        }
    }
    img
}
