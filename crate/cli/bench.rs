//! `stylize bench`: whole iterations timed by wall clock (one submit each, waited), every dispatch
//! of one iteration timed with GPU timestamp queries (or, without them, one submit and wait per
//! dispatch), plus the 3×3 conv microbenchmark (1×128×128×64→64, the tfjs comparison case).

use clap::Args;
use std::time::Instant;
use stylize::bench::{group_by_layer, time_conv, time_layers, LayerTime};
use stylize::kernels::ConvShape;
use stylize::session::Inputs;
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
    /// Also time one conv 3×3, 128×128, 64→64 forward and input-gradient (repetitions).
    #[arg(long, default_value_t = 0)]
    conv_reps: u32,
    /// Instead: a long run of N iterations (batches of 50, losses read after each, as the CLI
    /// runs), printing GPU memory (allocator and live wgpu objects) and process memory ten times.
    #[arg(long, default_value_t = 0)]
    soak: u32,
    /// The optimiser whose iteration is timed: adam or lbfgs.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    #[command(flatten)]
    tiles: super::TileArgs,
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
    println!("{}", gpu.summary());
    let engine = Engine::new(gpu, &weights)?;
    if a.soak > 0 {
        return soak(engine, a.size, a.soak);
    }
    let optimizer = match a.optimizer.as_str() {
        "adam" => stylize::Optimizer::Adam,
        "lbfgs" => stylize::Optimizer::Lbfgs,
        o => return Err(stylize::Error::Settings(format!("--optimizer {o}: use adam or lbfgs")).into()),
    };
    if let Some(b) = a.tiles.memory_budget {
        engine.set_memory_budget(b);
    }
    // One more iteration than are stepped, so L-BFGS's end-of-scale evaluation is never timed.
    let settings = a.tiles.settings(Settings { size: a.size, iterations: a.iterations + 2, scales: 1, optimizer, ..Settings::default() });
    let mut session = Session::new(engine.clone(), &Inputs::new(pattern(a.size, 1), pattern(a.size, 3)), &settings)?;
    println!("plan: {}", session.plan().summary(engine.weight_bytes()));
    let gpu = &engine.gpu;
    session.step(1, false)?;
    pollster::block_on(session.losses())?;
    let t0 = Instant::now();
    for _ in 0..a.iterations {
        session.step(1, false)?;
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    }
    let per_iter = t0.elapsed().as_secs_f64() * 1e3 / a.iterations.max(1) as f64;
    let dispatches: Vec<_> = session.iteration_dispatches().cloned().collect();
    let total_flops: f64 = dispatches.iter().map(|d| d.flops).sum();

    let (layers, how) = per_layer(&engine, &dispatches)?;
    let (w, h) = session.size();
    println!(
        "size {w}×{h}: {per_iter:.1} ms/iteration (wall, mean of {}), {:.2} GFLOP/iteration, {:.2} GFLOP/s; \
         {} dispatches and {} submit{} per iteration; peak GPU memory {:.1} MiB planned, {:.1} MiB measured (the most storage held at once, weights included)",
        a.iterations,
        total_flops / 1e9,
        total_flops / per_iter / 1e6,
        dispatches.len(),
        session.plan().tile_count(),
        if session.plan().tile_count() == 1 { "" } else { "s" },
        session.peak_bytes() as f64 / (1 << 20) as f64,
        (engine.gpu.storage_peak_since(0) as f64) / (1 << 20) as f64
    );
    time_upsampling(w, h);
    println!("per layer: {how}");
    println!("{:<22} {:>10} {:>10} {:>9}", "layer", "ms", "GFLOP", "GFLOP/s");
    let mut sum = 0.0;
    for l in &layers {
        sum += l.ms;
        println!("{:<22} {:>10.3} {:>10.4} {:>9.2}", l.label, l.ms, l.flops / 1e9, if l.ms > 0.0 { l.flops / l.ms / 1e6 } else { 0.0 });
    }
    println!("{:<22} {:>10.3} {:>10.4} {:>9.2}", "sum of dispatches", sum, total_flops / 1e9, total_flops / sum / 1e6);

    if a.conv_reps > 0 {
        conv_micro(&engine, a.conv_reps)?;
    }
    Ok(())
}

/// Each layer's time: GPU timestamps when the adapter has them, else the wall clock of one
/// submission per dispatch.
fn per_layer(engine: &std::rc::Rc<Engine>, dispatches: &[stylize::gpu::Dispatch]) -> anyhow::Result<(Vec<LayerTime>, &'static str)> {
    if let Some(f) = time_layers(engine.clone(), dispatches.to_vec()) {
        return Ok((pollster::block_on(f)?, "GPU timestamp queries"));
    }
    let gpu = &engine.gpu;
    let times: Vec<f64> = dispatches
        .iter()
        .map(|d| {
            let t = Instant::now();
            gpu.run(&[d]);
            let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    Ok((group_by_layer(dispatches, &times), "wall clock, one submit per dispatch"))
}

/// The coarse-to-fine step between scales: the previous scale's image upsampled by √2 on the CPU.
fn time_upsampling(w: u32, h: u32) {
    let small = ((w as f64 / std::f64::consts::SQRT_2).round() as u32, (h as f64 / std::f64::consts::SQRT_2).round() as u32);
    let planar = vec![0.5f32; 3 * (small.0 * small.1) as usize];
    let t = Instant::now();
    let up = stylize::resample::resize_planar(&planar, small.0, small.1, w, h);
    println!("between scales: Lanczos3 f32 upsampling {}×{} → {w}×{h} on the CPU: {:.1} ms", small.0, small.1, t.elapsed().as_secs_f64() * 1e3);
    drop(up);
}

/// One conv 3×3, 128×128, 64→64, forward and input gradient, `reps` times each (GPU timestamps).
fn conv_micro(engine: &std::rc::Rc<Engine>, reps: u32) -> anyhow::Result<()> {
    let shape = ConvShape { cin: 64, cout: 64, h: 128, w: 128 };
    let flops = 2.0 * 9.0 * (64 * 64 * 128 * 128) as f64;
    for backward in [false, true] {
        let ms = match time_conv(engine.clone(), shape, backward, reps) {
            Some(f) => pollster::block_on(f)?,
            None => anyhow::bail!("the conv microbenchmark needs timestamp queries"),
        };
        println!("conv 3×3 128×128 64→64 {}: {ms:.2} ms, {:.2} GFLOP/s (mean of {})", if backward { "input gradient" } else { "forward" }, flops / ms / 1e6, reps);
    }
    Ok(())
}

/// Resident memory of this process in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm").ok().and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()));
    pages.unwrap_or(0.0) * 4096.0 / (1u64 << 20) as f64
}

/// A long run: `n` iterations in batches of 50 with a losses readback after each (as the CLI
/// runs), sampling GPU and process memory ten times.
fn soak(engine: std::rc::Rc<Engine>, size: u32, n: u32) -> anyhow::Result<()> {
    let settings = Settings { size, iterations: n, ..Settings::default() };
    let mut session = Session::new(engine.clone(), &Inputs::new(pattern(size, 1), pattern(size, 3)), &settings)?;
    let gpu = &engine.gpu;
    let sample = |it: u32, t: f64, loss: f32| {
        let alloc = gpu.device.generate_allocator_report().map(|r| format!("{:.1}", r.total_allocated_bytes as f64 / (1u64 << 20) as f64)).unwrap_or_else(|| "n/a".into());
        let (buffers, groups) = gpu.instance.generate_report().map(|r| (r.hub.buffers.num_allocated, r.hub.bind_groups.num_allocated)).unwrap_or((0, 0));
        println!("{it:>9} {t:>9.1} {alloc:>14} {buffers:>9} {groups:>12} {:>9.1} {loss:>12.4e}", rss_mib());
    };
    let (w, h) = session.size();
    println!("soak: {w}×{h}, {n} iterations; plan {:.1} MiB", session.peak_bytes() as f64 / (1u64 << 20) as f64);
    println!("{:>9} {:>9} {:>14} {:>9} {:>12} {:>9} {:>12}", "iteration", "seconds", "GPU alloc MiB", "buffers", "bind groups", "RSS MiB", "total loss");
    let t0 = Instant::now();
    sample(0, 0.0, f32::NAN);
    let every = (n / 10).max(50);
    while session.iteration() < n {
        let k = 50.min(n - session.iteration());
        session.step(k, false)?;
        let l = pollster::block_on(session.losses())?;
        if session.iteration() % every == 0 || session.iteration() == n {
            sample(session.iteration(), t0.elapsed().as_secs_f64(), l.total);
        }
    }
    Ok(())
}
