//! `stylize bench`: times whole iterations (wall clock over many, one submit each) and every
//! dispatch of one iteration (GPU timestamp queries when the adapter has them, otherwise one
//! submit and wait per dispatch), and prints ms and GFLOP/s per layer.

use clap::Args;
use std::collections::BTreeMap;
use std::time::Instant;
use stylize::{Engine, Gpu, GpuOptions, Session, Settings, VggWeights};

#[derive(Args)]
pub struct BenchArgs {
    /// Longer side of the (square) benchmark image, in pixels.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Iterations to time after one warm-up iteration.
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// Weights file; default: random weights of the VGG19 shapes (same cost).
    #[arg(long)]
    weights: Option<std::path::PathBuf>,
}

fn pattern(size: u32, k: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(size, size, |x, y| image::Rgba([((x * 7 + y * 3 * k) % 256) as u8, ((x * y + k * 40) % 256) as u8, ((y * 5 + x * k) % 256) as u8, 255]))
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let weights = match a.weights {
        Some(p) => VggWeights::load(&p)?,
        None => VggWeights::random(512, 1),
    };
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
    println!("{}", gpu.adapter_info.name);
    let engine = Engine::new(gpu, &weights)?;
    let settings = Settings { size: a.size, iterations: a.iterations, ..Settings::default() };
    let mut session = Session::new(engine.clone(), &pattern(a.size, 1), &pattern(a.size, 3), &settings)?;
    let gpu = &engine.gpu;
    session.step(1, false)?;
    pollster::block_on(session.losses())?;
    let t0 = Instant::now();
    for _ in 0..a.iterations {
        session.step(1, false)?;
    }
    pollster::block_on(session.losses())?;
    let per_iter = t0.elapsed().as_secs_f64() * 1e3 / a.iterations.max(1) as f64;
    let dispatches: Vec<_> = session.iteration_dispatches().cloned().collect();
    let total_flops: f64 = dispatches.iter().map(|d| d.flops).sum();

    // Per-dispatch times, ms.
    let times: Vec<f64> = if gpu.has_timestamps() {
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
            d.encode(&mut pass);
        }
        enc.resolve_query_set(&qs, 0..2 * n, &resolve, 0);
        gpu.queue.submit([enc.finish()]);
        let raw = pollster::block_on(gpu.read_bytes(&resolve, 0, 16 * n as u64))?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
        let period = gpu.queue.get_timestamp_period() as f64;
        (0..n as usize).map(|i| ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period / 1e6).collect()
    } else {
        dispatches
            .iter()
            .map(|d| {
                let t = Instant::now();
                gpu.run(&[d]);
                let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect()
    };
    let (w, h) = session.size();
    println!("size {w}×{h}: {per_iter:.1} ms/iteration (wall, mean of {}), {:.1} GFLOP per iteration, {:.2} GFLOP/s; {} dispatches and 1 submit per iteration",
        a.iterations, total_flops / 1e9, total_flops / per_iter / 1e6, dispatches.len());
    println!("timing per dispatch: {}", if gpu.has_timestamps() { "GPU timestamp queries" } else { "wall clock, one submit per dispatch" });
    // Group by label (layer and direction), keep network order.
    let mut order: Vec<String> = Vec::new();
    let mut agg: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (d, t) in dispatches.iter().zip(&times) {
        let e = agg.entry(d.label.clone()).or_insert_with(|| {
            order.push(d.label.clone());
            (0.0, 0.0)
        });
        e.0 += t;
        e.1 += d.flops;
    }
    println!("{:<22} {:>10} {:>10} {:>9}", "layer", "ms", "GFLOP", "GFLOP/s");
    let mut sum = 0.0;
    for label in &order {
        let (t, f) = agg[label];
        sum += t;
        println!("{:<22} {:>10.3} {:>10.4} {:>9.2}", label, t, f / 1e9, if t > 0.0 { f / t / 1e6 } else { 0.0 });
    }
    println!("{:<22} {:>10.3} {:>10.4} {:>9.2}", "sum of dispatches", sum, total_flops / 1e9, total_flops / sum / 1e6);
    Ok(())
}
