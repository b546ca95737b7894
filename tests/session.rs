//! The session's structure: the iteration has the number of dispatches ARCHITECTURE.md states, in
//! both storage precisions, built from tiny random weights of the VGG19 layer structure.

mod common;
use common::*;
use stylize::session::Inputs;
use stylize::{Engine, GpuOptions, Session, Settings, VggWeights};

/// Serialises this binary's tests, so the live-session count sees only its own sessions.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The two numbers in ARCHITECTURE.md's "one list of N dispatches (M with f16 storage)".
fn documented_counts() -> (usize, usize) {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let at = doc.find("one list of ").expect("ARCHITECTURE.md states the dispatch count") + "one list of ".len();
    let nums: Vec<usize> = doc[at..at + 60].split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(2).map(|s| s.parse().unwrap()).collect();
    (nums[0], nums[1])
}

#[test]
fn iteration_has_the_documented_dispatch_count() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (f32_count, f16_count) = documented_counts();
    let weights = VggWeights::random(8, 3);
    let img = image::RgbaImage::from_fn(24, 20, |x, y| image::Rgba([(x * 9) as u8, (y * 11) as u8, 77, 255]));
    for (precision, winograd) in precisions(gpu()).into_iter().flat_map(|p| [(p, false), (p, true)]) {
        let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(precision), winograd: Some((winograd, None)), ..Default::default() })).unwrap();
        let v = gpu.variant();
        let engine = Engine::new(gpu, &weights).unwrap();
        let adam = Settings { size: 24, optimizer: stylize::Optimizer::Adam, ..Settings::default() };
        let s = Session::new(engine.clone(), &Inputs::new(img.clone(), img.clone()), &adam).unwrap();
        let n = s.iteration_dispatches().count();
        let gemm = if precision == stylize::Precision::F32 { f32_count } else { f16_count };
        // Winograd: each conv but conv1_1 is three dispatches per chunk of tiles, forward and back.
        let layers = stylize::vgg::layer_shapes(24, 20, &engine.channels());
        let extra: usize = match stylize::vgg::winograd_scratch(&layers, v) {
            Some(floats) => layers
                .iter()
                .filter(|l| l.conv.is_some())
                .map(|l| stylize::kernels::ConvShape { cin: l.input.0, cout: l.output.0, h: l.input.1, w: l.input.2 })
                .filter_map(|shape| stylize::kernels::winograd_for(v, shape).map(|t| (shape, t)))
                .map(|(shape, t)| {
                    let chunks = stylize::kernels::winograd::tile_count(shape.h, shape.w, t).div_ceil(stylize::kernels::winograd::chunk_tiles(shape, floats, t));
                    2 * (3 * chunks - 1)
                })
                .sum(),
            None => 0,
        };
        assert_eq!(winograd, extra > 0, "Winograd adds dispatches");
        let want = gemm + extra;
        eprintln!("{precision:?}, Winograd {winograd}: {n} dispatches per iteration");
        assert_eq!(n, want, "{precision:?} storage, Winograd {winograd}: ARCHITECTURE.md says {gemm} with the GEMM, and Winograd adds {extra}");
        // L-BFGS: its 2m + 5 passes instead of Adam's 2.
        let lbfgs = Settings { optimizer: stylize::Optimizer::Lbfgs, ..adam };
        let s = Session::new(engine.clone(), &Inputs::new(img.clone(), img.clone()), &lbfgs).unwrap();
        let m = lbfgs.history as usize;
        assert_eq!(s.iteration_dispatches().count(), want - 2 + 2 * m + 5, "{precision:?} storage, Winograd {winograd}, L-BFGS");
        engine.gpu.check().unwrap();
    }
}

#[test]
fn live_sessions_counts_what_holds_gpu_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let weights = VggWeights::random(8, 3);
    let engine = Engine::new(pollster::block_on(stylize::Gpu::new(&GpuOptions::default())).unwrap(), &weights).unwrap();
    let img = image::RgbaImage::from_fn(20, 20, |x, y| image::Rgba([(x * 9) as u8, (y * 11) as u8, 77, 255]));
    let before = stylize::session::live_sessions();
    let a = Session::new(engine.clone(), &Inputs::new(img.clone(), img.clone()), &Settings { size: 20, ..Settings::default() }).unwrap();
    let b = Session::new(engine.clone(), &Inputs::new(img.clone(), img.clone()), &Settings { size: 20, ..Settings::default() }).unwrap();
    let (bytes, each) = (stylize::session::live_session_bytes(), a.peak_bytes());
    assert_eq!(stylize::session::live_sessions(), before + 2);
    assert_eq!(b.peak_bytes(), each);
    drop((a, b));
    assert_eq!(stylize::session::live_sessions(), before);
    assert_eq!(stylize::session::live_session_bytes(), bytes - 2 * each, "their GPU bytes are released");
}

#[test]
fn the_schedule_grows_by_root_two_and_front_loads_iterations() {
    let s = Settings { size: 256, iterations: 100, ..Settings::default() };
    assert_eq!(s.schedule(), vec![(128, 200), (181, 141), (256, 100)], "min size 128, √2 steps, min(2, √2^k)× iterations");
    assert_eq!(Settings { scales: 1, ..s.clone() }.schedule(), vec![(256, 100)], "one scale is today's single-scale run");
    assert_eq!(Settings { size: 100, ..s.clone() }.schedule(), vec![(100, 100)], "below the minimum size: one scale");
    assert_eq!(Settings { size: 512, ..s.clone() }.schedule().len(), 5, "512 px: 128, 181, 256, 362, 512");
    assert_eq!(Settings { scales: 2, ..s.clone() }.schedule(), vec![(181, 141), (256, 100)]);
    let explicit = Settings { schedule: vec![(64, 30), (100, 10)], ..s.clone() };
    assert_eq!(explicit.schedule(), vec![(64, 30), (100, 10)]);
    assert_eq!(explicit.final_size(), 100);
    assert!(Settings { schedule: vec![(100, 30), (64, 10)], ..s.clone() }.validate().is_err(), "sizes must increase");
    assert!(Settings { history: 0, ..s }.validate().is_err());
}

fn real_engine() -> std::rc::Rc<Engine> {
    let weights = VggWeights::load(&real_weights_path()).unwrap();
    Engine::new(pollster::block_on(stylize::Gpu::new(&GpuOptions::default())).unwrap(), &weights).unwrap()
}

fn load(path: std::path::PathBuf) -> image::RgbaImage {
    stylize::image_io::load(&path).unwrap()
}

/// L-BFGS over a whole run with the real network: the loss falls steadily (no readback inside the
/// loop: 24 iterations in three submissions).
#[test]
fn lbfgs_lowers_the_loss_of_a_real_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = real_engine();
    let (content, style) = (load(test_image("chelsea.png")), load(test_painting()));
    let settings = Settings { size: 32, scales: 1, optimizer: stylize::Optimizer::Lbfgs, average: false, ..Settings::default() };
    let mut s = Session::new(engine, &Inputs::new(content.clone(), style.clone()), &settings).unwrap();
    // The losses of the photo (iteration 0), then of iterations 7, 15 and 24.
    s.evaluate().unwrap();
    let mut totals = vec![pollster::block_on(s.losses()).unwrap().total];
    for _ in 0..3 {
        s.step(8, false).unwrap();
        totals.push(pollster::block_on(s.losses()).unwrap().total);
    }
    s.evaluate().unwrap();
    totals.push(pollster::block_on(s.losses()).unwrap().total);
    eprintln!("L-BFGS totals at iterations 0, 7, 15, 23, 24: {totals:?}");
    assert!(totals.windows(2).all(|w| w[1] < w[0]), "the loss falls: {totals:?}");
    assert!(totals[4] < 0.3 * totals[0], "L-BFGS takes the loss well down in 24 iterations: {totals:?}");
}

/// The L-BFGS safeguard, forced: a step 30× the quasi-Newton one overshoots again and again. Each
/// rejected iterate is taken back (half the step) and its losses read as the last accepted
/// image's, so the losses read back never rise by more than 1% and are never NaN; the scale ends on
/// an accepted image (its losses are what an evaluation of it gives) well below the photo's loss.
#[test]
fn lbfgs_takes_back_an_overshooting_step() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = real_engine();
    let (content, style) = (load(test_image("chelsea.png")), load(test_painting()));
    let settings = Settings { size: 32, scales: 1, iterations: 30, optimizer: stylize::Optimizer::Lbfgs, lr: Some(30.0), average: false, ..Settings::default() };
    let mut s = Session::new(engine, &Inputs::new(content.clone(), style.clone()), &settings).unwrap();
    s.evaluate().unwrap();
    let start = pollster::block_on(s.losses()).unwrap().total;
    let mut totals = vec![start];
    for _ in 0..30 {
        s.step(1, false).unwrap();
        totals.push(pollster::block_on(s.losses()).expect("the losses read back are finite").total);
    }
    let backs = pollster::block_on(s.steps_taken_back().unwrap()).unwrap();
    let settled = *totals.last().unwrap();
    s.evaluate().unwrap();
    let end = pollster::block_on(s.losses()).unwrap().total;
    eprintln!("forced overshoot: {backs} steps taken back; start {start:.4e}, end {end:.4e}; totals {totals:?}");
    assert!(backs >= 3, "the situation was forced: {backs} steps taken back");
    for (k, w) in totals.windows(2).enumerate() {
        assert!(w[1] <= 1.01 * w[0], "iteration {k}: the losses read back rose from {:.4e} to {:.4e}", w[0], w[1]);
    }
    assert!((end - settled).abs() <= 1e-5 * end, "the scale ends on the image its last losses are of: {settled:.6e} vs {end:.6e}");
    assert!(end < 0.5 * start, "the run still descends: {start:.4e} → {end:.4e}");
}

/// A coarse-to-fine run: every scale at its size, each starting from the previous shown image
/// upsampled (its style and total losses well below a fresh start's from the photo), the final size the one
/// asked for.
#[test]
fn coarse_to_fine_carries_each_scale_into_the_next() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = real_engine();
    let (content, style) = (load(test_image("chelsea.png")), load(test_painting()));
    let settings = Settings { size: 64, min_size: 32, iterations: 10, ..Settings::default() };
    let mut run = pollster::block_on(stylize::Run::start(engine.clone(), Inputs::new(content.clone(), style.clone()), &settings, None)).unwrap();
    let sizes: Vec<(u32, u32, u32)> = run.scales().iter().map(|s| (s.width, s.height, s.iterations)).collect();
    assert_eq!(sizes, vec![(32, 21, 20), (45, 30, 14), (64, 43, 10)]);
    loop {
        let n = run.remaining();
        run.session_mut().step(n, false).unwrap();
        run.session_mut().evaluate().unwrap();
        let end = pollster::block_on(run.session().losses()).unwrap();
        if run.at_last_scale() {
            break;
        }
        let done_before = run.iterations_done();
        let (pw, ph) = run.session().size();
        let shown = pollster::block_on(run.session().image_f32()).unwrap();
        let stale = (run.scale() == 0).then(|| pollster::block_on(run.leave()).unwrap());
        pollster::block_on(run.next_scale()).unwrap();
        if let Some(stale) = stale {
            let e = run.advance(stale).expect_err("a carry from an earlier scale");
            assert!(matches!(e, stylize::Error::Settings(_)), "{e}");
            assert_eq!(run.scale(), 1, "refused before anything changed");
        }
        let (w, h) = run.session().size();
        let start = pollster::block_on(run.session().image_f32()).unwrap();
        let want = stylize::resample::resize_planar(&shown, pw, ph, w, h);
        assert!(start.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-3), "scale {} starts from the previous shown image, upsampled", run.scale() + 1);
        assert_eq!(run.iterations_done(), done_before, "the new scale starts at its iteration 0");
        run.session_mut().evaluate().unwrap();
        let carried = pollster::block_on(run.session().losses()).unwrap();
        let fresh = {
            let mut s = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &settings.at_scale(w.max(h), 0)).unwrap();
            s.evaluate().unwrap();
            pollster::block_on(s.losses()).unwrap()
        };
        eprintln!("scale {} ({w}×{h}): previous scale ended at {end:?}; carried start {carried:?}; fresh start {fresh:?}", run.scale() + 1);
        assert!(carried.style < 0.7 * fresh.style && carried.total < 0.7 * fresh.total, "the upsampled result carries the painting's style into the new scale");
    }
    assert_eq!(run.session().size(), (64, 43));
    assert_eq!(run.iterations_done(), 44);
    let (total, done) = run.work();
    assert_eq!(total, done, "all the work is done");
}

/// With `resample_moments`, Adam's moments (resampled to the new size, v kept ≥ 0) and its step
/// count carry into the next scale; without it they start afresh. The browser takes the same path
/// (`Run::leave` → `Run::advance`).
#[test]
fn adam_moments_carry_across_scales_only_when_asked() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let engine = real_engine();
    let inputs = Inputs::new(load(test_image("chelsea.png")), load(test_painting()));
    for resample in [false, true] {
        let settings = Settings { size: 48, scales: 2, iterations: 4, optimizer: stylize::Optimizer::Adam, resample_moments: resample, ..Settings::default() };
        let mut run = pollster::block_on(stylize::Run::start(engine.clone(), inputs.clone(), &settings, None)).unwrap();
        let n = run.remaining();
        run.session_mut().step(n, false).unwrap();
        let from = run.session().size();
        let (m0, v0, st0) = pollster::block_on(run.session().adam_state().unwrap()).unwrap();
        pollster::block_on(run.next_scale()).unwrap();
        let to = run.session().size();
        let (m1, v1, st1) = pollster::block_on(run.session().adam_state().unwrap()).unwrap();
        assert_eq!(m1.len(), 3 * (to.0 * to.1) as usize);
        if resample {
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            let v_want: Vec<f32> = stylize::resample::resize_moments(&v0, from, to).into_iter().map(|x| x.max(0.0)).collect();
            assert!(close(&m1, &stylize::resample::resize_moments(&m0, from, to)), "m resampled");
            assert!(close(&v1, &v_want), "v resampled, ≥ 0");
            assert_eq!(st1, st0, "the step count and bias corrections carried");
            assert!(m1.iter().any(|&x| x != 0.0));
        } else {
            assert!(m1.iter().chain(&v1).all(|&x| x == 0.0), "fresh moments");
            assert_eq!(st1, stylize::kernels::adam::ADAM_STATE_INIT.to_vec(), "a fresh step count");
        }
    }
}
