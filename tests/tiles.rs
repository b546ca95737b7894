//! Tiled execution and the memory plan: the plan's total is the bytes a session creates (whole
//! and tiled, both optimisers, both storage precisions); exact tiles give the untiled losses and
//! input gradient within 1e-4 relative; the fast mode's error is measured and printed; a memory
//! budget picks tiles that fit it.

mod common;
use common::*;
use stylize::plan::{Budget, Plan};
use stylize::session::Inputs;
use stylize::{Engine, GpuOptions, Init, Optimizer, Precision, Session, Settings, TileMode, VggWeights};

fn engine(weights: &VggWeights, precision: Precision) -> std::rc::Rc<Engine> {
    let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(precision), ..Default::default() })).unwrap();
    Engine::new(gpu, weights).unwrap()
}

fn picture(w: u32, h: u32, k: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([((x * 7 + y * 3 * k) % 256) as u8, ((x * y / 3 + k * 40) % 256) as u8, ((y * 5 + x * k) % 256) as u8, 255]))
}

#[test]
fn the_plan_total_is_the_bytes_created() {
    let weights = VggWeights::random(8, 3);
    let (content, style) = (picture(70, 52, 1), picture(40, 61, 3));
    for precision in precisions(gpu()) {
        let engine = engine(&weights, precision);
        use stylize::Colors;
        let cases = [
            (Optimizer::Adam, 0, Colors::Painting),
            (Optimizer::Lbfgs, 0, Colors::Luminance),
            (Optimizer::Adam, 32, Colors::Match),
            (Optimizer::Lbfgs, 48, Colors::Swap),
            (Optimizer::Adam, 48, Colors::Luminance),
        ];
        for (optimizer, tile_size, colors) in cases {
            let settings = Settings { size: 70, scales: 1, optimizer, tile_size, colors, ..Settings::default() };
            let before = engine.gpu.storage_bytes_created();
            let baseline = engine.gpu.reset_storage_peak();
            let s = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &settings).unwrap();
            let created = engine.gpu.storage_bytes_created() - before;
            let plan = s.plan();
            let held = engine.gpu.storage_peak_since(baseline);
            eprintln!(
                "{precision:?} {optimizer:?} tiles {tile_size} {colors:?}: plan {} B in {} buffers, created {created} B, most held at once {held} B (plan's peak {} B); {}",
                plan.total(),
                plan.buffers.len(),
                plan.peak(),
                plan.summary(0)
            );
            assert_eq!(plan.total(), created, "{precision:?} {optimizer:?} tile {tile_size} {colors:?}: the plan is what is created");
            assert_eq!(
                plan.peak(),
                held,
                "{precision:?} {optimizer:?} tile {tile_size} {colors:?}: the plan's peak is the most held at once (the targets' buffers released before the iteration's are made)"
            );
            assert!(plan.peak() < plan.total(), "the targets' and the iteration's buffers never coexist");
            assert_eq!(plan.grid.is_some(), tile_size > 0);
            assert_eq!(s.peak_bytes(), plan.peak() + engine.weight_bytes());
            engine.gpu.check().unwrap();
        }
        // Two paintings of different shapes and scales (one set of painting buffers for both).
        let more = [style.clone(), picture(66, 30, 5)];
        for tile_size in [0, 32] {
            let settings = Settings { size: 70, scales: 1, tile_size, style_blend: vec![0.6, 0.4], style_scales: vec![1.0, 1.3], colors: Colors::Match, ..Settings::default() };
            let before = engine.gpu.storage_bytes_created();
            let baseline = engine.gpu.reset_storage_peak();
            let s = Session::new(engine.clone(), &Inputs::blend(content.clone(), more.to_vec()), &settings).unwrap();
            let created = engine.gpu.storage_bytes_created() - before;
            assert_eq!(s.plan().total(), created, "{precision:?} two paintings, tiles {tile_size}: the plan is what is created");
            assert_eq!(s.plan().peak(), engine.gpu.storage_peak_since(baseline), "{precision:?} two paintings, tiles {tile_size}: the plan's peak is the most held");
            engine.gpu.check().unwrap();
        }
    }
}

/// Losses and input gradient of the initial (noise) image, untiled and tiled.
fn evaluate(engine: &std::rc::Rc<Engine>, settings: &Settings, content: &image::RgbaImage, style: &image::RgbaImage) -> (stylize::Losses, Vec<f32>) {
    let mut s = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), settings).unwrap();
    s.evaluate().unwrap();
    let (w, h) = s.size();
    let g = pollster::block_on(engine.gpu.read_f32(s.gradient_buffer(), 0, 3 * (w * h) as usize)).unwrap();
    let l = pollster::block_on(s.losses()).unwrap();
    engine.gpu.check().unwrap();
    (l, g)
}

/// (largest relative loss difference, max |Δg| / max |g|, ‖Δg‖ / ‖g‖).
fn errors(a: &(stylize::Losses, Vec<f32>), b: &(stylize::Losses, Vec<f32>)) -> (f64, f64, f64) {
    let rel = |x: f32, y: f32| ((x - y).abs() / y.abs().max(1e-20)) as f64;
    let (la, lb) = (a.0, b.0);
    let loss = [rel(la.content, lb.content), rel(la.style, lb.style), rel(la.tv, lb.tv), rel(la.total, lb.total)].into_iter().fold(0.0, f64::max);
    let gmax = b.1.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let gerr = a.1.iter().zip(&b.1).fold(0f32, |m, (x, y)| m.max((x - y).abs())) as f64;
    assert!(a.1.iter().all(|v| v.is_finite()), "every gradient element written and finite");
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let l2 = norm(&mut a.1.iter().zip(&b.1).map(|(x, y)| (x - y) as f64)) / norm(&mut b.1.iter().map(|&x| x as f64));
    (loss, gerr / gmax, l2)
}

#[test]
fn exact_tiles_equal_the_untiled_computation() {
    // Every layer used (halo 80) on an image several tiles wide; 8-channel random weights keep it
    // fast. Then the shallower content + three style layers (halo 48) with 32-px cores.
    let weights = VggWeights::random(8, 5);
    let (content, style) = (picture(250, 190, 1), picture(180, 230, 2));
    for precision in precisions(gpu()) {
        let engine = engine(&weights, precision);
        let cases = [
            (Settings { size: 250, tile_size: 64, ..Settings::default() }, "all layers, 64-px cores"),
            (Settings { size: 250, tile_size: 32, style_layer_weights: [1.0, 0.75, 0.2, 0.0, 0.0], ..Settings::default() }, "relu4_2 + three style layers, 32-px cores"),
        ];
        for (tiled, what) in cases {
            let base = Settings { scales: 1, init: Init::Noise, seed: 3, ..tiled.clone() };
            let whole = evaluate(&engine, &Settings { tile_size: 0, ..base.clone() }, &content, &style);
            let t = evaluate(&engine, &Settings { scales: 1, init: Init::Noise, seed: 3, ..tiled }, &content, &style);
            let plan = stylize::plan::plan_for(&engine, 250, 190, &[(180, 230)], &base).unwrap();
            let (loss, grad, _) = errors(&t, &whole);
            eprintln!("{precision:?}, {what} ({}): losses within {loss:.2e}, gradient within {grad:.2e} of max |g|", plan.summary(0));
            assert!(plan.grid.as_ref().unwrap().tiles.len() >= 9, "tiling is not trivial");
            assert!(loss < 1e-4, "{what}: tiled losses {:?} vs untiled {:?}", t.0, whole.0);
            assert!(grad < 1e-4, "{what}: tiled gradient differs by {grad:.2e} of its largest element");
        }
    }
}

#[test]
fn a_video_frames_temporal_loss_is_the_same_over_tiles() {
    let weights = VggWeights::random(8, 5);
    let (content, style) = (picture(250, 190, 1), picture(180, 230, 2));
    let engine = engine(&weights, Precision::F32);
    let (w, h) = (250usize, 190usize);
    let previous =
        stylize::session::Previous { size: (w, h), image: random(3 * w * h, -80.0, 80.0, 31), reliable: random(w * h, -0.5, 1.5, 32).iter().map(|c| c.clamp(0.0, 1.0)).collect() };
    let inputs = Inputs::new(content, style).after(previous);
    let run = |settings: &Settings| {
        let mut s = Session::new(engine.clone(), &inputs, settings).unwrap();
        s.evaluate().unwrap();
        assert_eq!(s.size(), (w as u32, h as u32));
        let g = pollster::block_on(engine.gpu.read_f32(s.gradient_buffer(), 0, 3 * w * h)).unwrap();
        let l = pollster::block_on(s.losses()).unwrap();
        engine.gpu.check().unwrap();
        (l, g)
    };
    let base = Settings { size: 250, scales: 1, init: Init::Noise, seed: 3, temporal_weight: 50.0, ..Settings::default() };
    let whole = run(&base);
    let tiled = run(&Settings { tile_size: 64, ..base.clone() });
    let (loss, grad, _) = errors(&tiled, &whole);
    let rel = ((tiled.0.temporal - whole.0.temporal) / whole.0.temporal).abs();
    eprintln!("temporal loss over tiles: losses within {loss:.2e} (temporal {rel:.2e}), gradient within {grad:.2e} of max |g|");
    assert!(whole.0.temporal > 0.0, "the temporal loss is reported");
    assert!(loss < 1e-4 && rel < 1e-4, "tiled losses {:?} vs untiled {:?}", tiled.0, whole.0);
    assert!(grad < 1e-4, "tiled gradient differs by {grad:.2e} of its largest element");
}

#[test]
fn fast_tiles_error_is_measured() {
    // At the same image (after 3 fast Adam steps): the fast gradient (previous iteration's Grams,
    // narrow halo) against the untiled one; and the losses of the two runs' trajectories.
    let weights = VggWeights::random(8, 5);
    let (content, style) = (picture(250, 190, 1), picture(180, 230, 2));
    let engine = engine(&weights, Precision::F32);
    let base = Settings { size: 250, scales: 1, optimizer: Optimizer::Adam, init: Init::Noise, seed: 3, ..Settings::default() };
    let n = 3 * 250 * 190;
    let read = |s: &Session| pollster::block_on(engine.gpu.read_f32(s.gradient_buffer(), 0, n)).unwrap();
    let mut whole = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &base).unwrap();
    whole.step(3, false).unwrap();
    let whole_after = pollster::block_on(whole.losses()).unwrap();
    for (halo, steps) in [(80, 0), (16, 3), (32, 3), (48, 3), (80, 3)] {
        let mut fast =
            Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &Settings { tile_size: 64, tile_mode: TileMode::Fast, tile_halo: halo, ..base.clone() })
                .unwrap();
        fast.step(steps, false).unwrap();
        let fast_after = pollster::block_on(fast.losses()).unwrap();
        fast.evaluate().unwrap();
        let f = (pollster::block_on(fast.losses()).unwrap(), read(&fast));
        let x = pollster::block_on(fast.image_f32()).unwrap();
        let mut exact = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &base).unwrap();
        exact.set_image_f32(&x).unwrap();
        exact.evaluate().unwrap();
        let e = (pollster::block_on(exact.losses()).unwrap(), read(&exact));
        let (loss, grad, l2) = errors(&f, &e);
        // The fast gradient's component along the exact one: ⟨f, e⟩ / ⟨e, e⟩ (1 when it is exact).
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>();
        let along = dot(&f.1, &e.1) / dot(&e.1, &e.1);
        eprintln!(
            "fast tiles, 64-px cores, halo {halo} px, {steps} steps: at the same image, losses within {loss:.2e}, gradient error {l2:.2e} (L2, relative), {grad:.2e} of max |g|, \
             {along:.3}× the exact gradient along it; after 3 steps the total loss is {:.6e} (untiled run {:.6e})",
            fast_after.total, whole_after.total
        );
        if steps == 0 {
            // Before the first step the Grams are the image's own and an 80-px halo is exact.
            assert!(loss < 1e-4 && l2 < 1e-4 && (along - 1.0).abs() < 1e-4, "fast tiles at the start: {loss:.2e}, {l2:.2e}, {along}× along the exact gradient");
            continue;
        }
        // Bounds at about 1.25× what was measured (lavapipe, these random weights), so a larger
        // error fails. After 3 steps from noise the style loss still falls fast, so the previous
        // iteration's G − A that the fast mode uses is larger than the current one: the gradient
        // error is measured at 0.405–0.406 (L2, relative) whatever the halo, the gradient 1.34× the
        // exact one along it (and a 22% part across it). The losses are of the current Grams; a
        // halo short of the 80 px relu5_1 needs shows in them: measured 2.32e-2 (16 px), 7.69e-4
        // (32 px), 6e-7 (48 and 80 px; bounded at the exact tolerance, 1e-4).
        let (loss_bound, measured) = match halo {
            16 => (2.9e-2, 2.32e-2),
            32 => (9.6e-4, 7.69e-4),
            _ => (1e-4, 6.4e-7),
        };
        assert!(loss < loss_bound, "fast tiles, halo {halo}: losses within {loss:.2e}, measured {measured:.2e}");
        assert!(l2 < 0.5, "fast tiles, halo {halo}: gradient error {l2:.3} (L2, relative), measured 0.406");
        assert!((1.34 / 1.25..1.34 * 1.25).contains(&along), "fast tiles, halo {halo}: the gradient is {along:.3}× the exact one along it, measured 1.34");
    }
    engine.gpu.check().unwrap();
}

#[test]
fn a_budget_picks_tiles_that_fit_it() {
    let ch = stylize::vgg::vgg19_channels();
    let s = Settings { optimizer: Optimizer::Adam, ..Settings::default() };
    // A GPU's default: tiled kernels, f16 storage, Winograd (with its transformed weights and scratch).
    let f16 = stylize::Variant { path: stylize::ConvPath::Tiled, precision: Precision::F16, winograd: true, wino_tile: None };
    let weights = stylize::vgg::weight_bytes(&ch, f16);
    let gib = 1u64 << 30;
    // 4096² keeps ~1.6 GiB of whole-image state (image, gradient, Adam's moments, display,
    // targets): it needs a 2 GiB budget.
    for (n, budget_gib) in [(1024usize, 1), (2048, 1), (4096, 2)] {
        let budget = Budget { max_binding: 2 * gib, max_buffer: 2 * gib, total: budget_gib * gib, weights };
        let whole = Plan::whole(n, n, (n, n), &ch, f16, &s);
        let p = Plan::choose(n, n, (n, n), &ch, f16, &s, budget).unwrap();
        eprintln!("{n}² within {budget_gib} GiB: {} (whole: {:.0} MiB)", p.summary(weights), (whole.peak() + weights) as f64 / (1 << 20) as f64);
        assert!(whole.peak() + weights > budget.total, "{n}² does not fit whole");
        assert!(p.grid.is_some() && p.peak() + weights <= budget.total);
    }
    // One answer for the largest size that fits, whatever size was asked.
    let tight = Budget { max_binding: 1 << 40, max_buffer: 1 << 40, total: 300 << 20, weights };
    let fits: Vec<u32> = [3000usize, 4000, 5000]
        .iter()
        .map(|&n| match Plan::choose(n, n, (n, n), &ch, f16, &s, tight) {
            Err(stylize::Error::TooLarge { fits, .. }) => fits,
            other => panic!("{n}: expected TooLarge, got {:?}", other.map(|p| p.summary(0))),
        })
        .collect();
    assert!(fits.windows(2).all(|w| w[0] == w[1]), "{fits:?}");
    // Elongated images (a side under 16 px when scaled down) and budgets nothing fits.
    for (w, h, total) in [(4096usize, 300usize, 100u64 << 20), (4096, 2724, 256 << 20), (300, 4096, 1 << 20)] {
        match Plan::choose(w, h, (h, w), &ch, stylize::Variant { precision: Precision::F32, ..f16 }, &s, Budget { max_binding: 128 << 20, max_buffer: 2 << 30, total, weights }) {
            Err(stylize::Error::TooLarge { fits, .. }) => eprintln!("{w}×{h} within {} MiB: ≤ {fits} px fits", total >> 20),
            other => panic!("{w}×{h}: expected TooLarge, got {:?}", other.map(|p| p.summary(0))),
        }
    }
}

/// On a device that binds 96 KiB of a buffer, a tiled session's whole-image buffers (the image,
/// its gradient, Adam's moments or L-BFGS's history, the photo and the painting: 192 KB each at
/// 128×128) are larger than one binding and run in windows, the per-pixel colour kernels staged:
/// the plan is still what is created, and three iterations give the losses, the image and the
/// display of a device that binds them whole.
#[test]
fn windowed_whole_image_buffers_run_like_whole_ones() {
    use stylize::Colors;
    let weights = VggWeights::random(4, 7);
    let opts = GpuOptions { max_binding: Some(96 << 10), precision: Some(Precision::F32), ..Default::default() };
    let capped = Engine::new(pollster::block_on(stylize::Gpu::new(&opts)).unwrap(), &weights).unwrap();
    let free = engine(&weights, Precision::F32);
    let (content, style) = (picture(128, 128, 1), picture(110, 120, 4));
    // Adam with the iterate average on (shown: the average, windowed too), L-BFGS without. The 3
    // iterations are the whole scale, so L-BFGS's end (one more evaluation, the check and the
    // revert: crate/session/mod.rs `settle_after`) runs over tiles and windows too.
    for (optimizer, colors, average) in [(Optimizer::Adam, Colors::Luminance, true), (Optimizer::Lbfgs, Colors::Match, false)] {
        let settings =
            Settings { size: 128, scales: 1, iterations: 3, optimizer, colors, average, tile_size: 32, tile_halo: 16, init: Init::Noise, seed: 5, ..Settings::default() };
        let run = |engine: &std::rc::Rc<Engine>| {
            let before = engine.gpu.storage_bytes_created();
            let mut s = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &settings).unwrap();
            assert_eq!(s.plan().total(), engine.gpu.storage_bytes_created() - before, "{optimizer:?} {colors:?}: the plan is what is created");
            s.step(3, true).unwrap();
            let img = pollster::block_on(s.image_f32()).unwrap();
            let shown = pollster::block_on(s.image()).unwrap();
            let l = pollster::block_on(s.losses()).unwrap();
            engine.gpu.check().unwrap();
            let staged = s.plan().buffers.iter().any(|b| b.name == "staging a");
            (l, img, shown, staged)
        };
        let (lw, iw, sw, staged_w) = run(&capped);
        let (lf, i_f, sf, staged_f) = run(&free);
        assert!(staged_w && !staged_f, "staging only where the image does not bind whole");
        let rel = |a: f32, b: f32| ((a - b).abs() / b.abs().max(1e-20)) as f64;
        let loss = [rel(lw.content, lf.content), rel(lw.style, lf.style), rel(lw.tv, lf.tv), rel(lw.total, lf.total)].into_iter().fold(0.0, f64::max);
        let px = iw.iter().zip(&i_f).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let levels = sw.as_raw().iter().zip(sf.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        eprintln!(
            "{optimizer:?} {colors:?}, windowed vs whole after 3 iterations: losses within {loss:.1e}, image within {px:.1e} (pixel units), display within {levels} level(s)"
        );
        assert!(loss < 1e-4, "losses {lw:?} vs {lf:?}");
        assert!(px < 1e-2, "image differs by {px}");
        assert!(levels <= 1, "display differs by {levels} levels");
    }
}

/// Where L-BFGS does not fit the memory budget (its history is image-sized at any tile size), the
/// run's scale runs Adam with twice the iterations — the plan says so — and the scales where it
/// fits keep L-BFGS; a run planned for Adam throughout is unchanged.
#[test]
fn lbfgs_that_does_not_fit_falls_back_to_adam() {
    let weights = VggWeights::random(8, 5);
    let engine = engine(&weights, Precision::F32);
    let dims = [(512u32, 512u32)];
    let run = Settings { size: 512, scales: 2, iterations: 10, ..Settings::default() };
    assert_eq!(run.optimizer, Optimizer::Lbfgs, "the default");
    let at = |size| run.at_scale(size, 10);
    // The budget: what Adam needs at 512 px, whole.
    let adam_peak = stylize::plan::plan_for(&engine, 512, 512, &dims, &at(512).with_adam()).unwrap().peak();
    engine.set_memory_budget(adam_peak + engine.budget().weights);
    assert!(stylize::plan::plan_for(&engine, 512, 512, &dims, &at(512)).is_err(), "premise: L-BFGS does not fit at 512 px");
    assert!(stylize::plan::plan_for(&engine, 512, 512, &dims, &at(362)).is_ok(), "premise: it fits at 362 px");
    let scales = stylize::Run::plan(&engine, 512, 512, &dims, &run, None).unwrap();
    let got: Vec<(u32, u32, Optimizer)> = scales.iter().map(|s| (s.width, s.iterations, s.optimizer)).collect();
    assert_eq!(got, vec![(362, 14, Optimizer::Lbfgs), (512, 20, Optimizer::Adam)]);
    let last = scales[1].settings(&run);
    assert_eq!((last.optimizer, last.iterations, last.lr, last.size), (Optimizer::Adam, 20, None, 512));
    let adam = Settings { optimizer: Optimizer::Adam, ..run.clone() };
    let planned: Vec<Optimizer> = stylize::Run::plan(&engine, 512, 512, &dims, &adam, None).unwrap().iter().map(|s| s.optimizer).collect();
    assert_eq!(planned, vec![Optimizer::Adam, Optimizer::Adam]);
}
