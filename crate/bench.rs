//! GPU-side timing shared by the native `stylize bench` and the browser benchmark page: every
//! dispatch of an iteration timed with timestamp queries, grouped by layer, and single-kernel
//! timings for the conv microbenchmark.

use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu};
use crate::kernels::winograd::{scratch_floats, wino_len, WinoScratch};
use crate::kernels::{self, ConvBackward, ConvForward, ConvShape};
use crate::weights::gemm_len;
use std::future::Future;
use std::rc::Rc;

/// Time and work of one layer (all dispatches with the same label).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerTime {
    /// e.g. `relu3_2 fwd`, `relu3_2 bwd`, `relu3_1 gram`.
    pub label: String,
    /// GPU time in milliseconds.
    pub ms: f64,
    /// Floating-point operations (multiply-adds count 2).
    pub flops: f64,
}

/// Runs each dispatch once, in order, in its own compute pass bracketed by timestamps, and
/// resolves to per-layer GPU times (labels in first-seen order). Returns `None` when the device
/// has no timestamp queries.
pub fn time_layers(gpu: Rc<crate::Engine>, dispatches: Vec<Dispatch>) -> Option<impl Future<Output = Result<Vec<LayerTime>>>> {
    let pending = submit_timed(&gpu.gpu, &dispatches, 1)?;
    Some(async move {
        let times = pending.resolve(&gpu.gpu).await?;
        Ok(group_by_layer(&dispatches, &times))
    })
}

/// Sums per-dispatch times (ms, same order as `dispatches`) and work into one row per label, in
/// first-seen order.
pub fn group_by_layer(dispatches: &[Dispatch], times: &[f64]) -> Vec<LayerTime> {
    let mut layers: Vec<LayerTime> = Vec::new();
    for (d, &ms) in dispatches.iter().zip(times) {
        match layers.iter_mut().find(|l| l.label == d.label) {
            Some(l) => {
                l.ms += ms;
                l.flops += d.flops;
            }
            None => layers.push(LayerTime { label: d.label.clone(), ms, flops: d.flops }),
        }
    }
    layers
}

/// Times one 3×3 conv (forward with bias+ReLU, or the input gradient through the ReLU mask) on
/// random data with the device's variant (Winograd included): each of its dispatches `reps`
/// times in one pass between two timestamps. Resolves to ms per conv; `None` without timestamp
/// queries.
pub fn time_conv(engine: Rc<crate::Engine>, shape: ConvShape, backward: bool, reps: u32) -> Option<impl Future<Output = Result<f64>>> {
    let gpu = &engine.gpu;
    let ConvShape { cin, cout, h, w } = shape;
    let fill = |n: usize, k: u32| -> Vec<f32> { (0..n).map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(k) % 1000) as f32 / 1000.0 - 0.3).collect() };
    let v = gpu.variant();
    // Forward: activations in, activations out; backward: f32 gradient in and out, masked by the
    // forward input's ReLU (as for most layers of the network).
    let input = gpu.act_init("bench in", v.precision, &fill(cin * h * w, 1));
    let dout = gpu.storage_init("bench dout", &fill(cout * h * w, 5));
    // GEMM layouts pad the output-channel dimension to a multiple of 4; Winograd's transforms
    // hold 16 or 36 values per kernel, and its scratch is what a network of this layer would plan
    // (two buffers, together as large as the larger activation).
    let tile = kernels::winograd_for(v, shape);
    let wlen = gemm_len(cin, cout).max(gemm_len(cout, cin));
    let weight = gpu.storage_init("bench w", &v.precision.weight_bytes(&fill(wlen, 2)));
    let bias = gpu.storage_init("bench b", &fill(cout, 3));
    let act = gpu.act_init("bench act", v.precision, &fill(cin * h * w, 4));
    let out = gpu.storage("bench out", 4 * (cin.max(cout) * h * w) as u64);
    let wino = tile.map(|t| {
        let floats = scratch_floats(v.precision.bytes() * (cin.max(cout) * h * w) as u64, cin.max(cout));
        let u = gpu.storage_init("bench wino w", &v.precision.weight_bytes(&fill(wino_len(cin, cout, t).max(wino_len(cout, cin, t)), 2)));
        (u, WinoScratch { input: gpu.storage("bench wino in", 4 * floats as u64), product: gpu.storage("bench wino product", 4 * floats as u64) })
    });
    let w = wino.as_ref().map(|(weight, scratch)| kernels::Wino { weight, scratch });
    let d = if backward {
        kernels::conv_backward(gpu, v, "conv bwd".into(), shape, ConvBackward { dout: &dout, in_act: Some(&act), weight_t: &weight, din: &out, wino: w })
    } else {
        kernels::conv_forward(gpu, v, "conv fwd".into(), shape, ConvForward { input: &input, weight: &weight, bias: &bias, out: &out, wino: w })
    };
    let pending = submit_timed(gpu, &d, reps)?;
    let engine = engine.clone();
    Some(async move {
        let t = pending.resolve(&engine.gpu).await?;
        drop((input, dout, weight, bias, act, out, wino));
        Ok(t.iter().sum::<f64>() / reps as f64)
    })
}

struct Pending {
    resolve: wgpu::Buffer,
    n: usize,
}

impl Pending {
    async fn resolve(self, gpu: &Gpu) -> Result<Vec<f64>> {
        let raw = gpu.read_bytes(&self.resolve, 0, 16 * self.n as u64).await?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
        let period = gpu.queue.get_timestamp_period() as f64;
        let ms: Vec<f64> = (0..self.n).map(|i| ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period / 1e6).collect();
        if ms.iter().all(|&v| v == 0.0) {
            return Err(Error::Gpu("timestamp queries returned no time".into()));
        }
        Ok(ms)
    }
}

/// One compute pass per dispatch (each repeated `reps` times), timestamps at pass begin and end.
fn submit_timed(gpu: &Gpu, dispatches: &[Dispatch], reps: u32) -> Option<Pending> {
    if !gpu.has_timestamps() || dispatches.is_empty() {
        return None;
    }
    let n = dispatches.len() as u32;
    let qs = gpu.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("bench"), ty: wgpu::QueryType::Timestamp, count: 2 * n });
    let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("timestamps"),
        size: 16 * n as u64,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    for (i, d) in dispatches.iter().enumerate() {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(&d.label),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: &qs,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            }),
        });
        for _ in 0..reps {
            d.encode(&mut pass);
        }
    }
    enc.resolve_query_set(&qs, 0..2 * n, &resolve, 0);
    gpu.queue.submit([enc.finish()]);
    Some(Pending { resolve, n: dispatches.len() })
}
