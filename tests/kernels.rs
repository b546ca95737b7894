//! Every WGSL kernel against its plain-Rust f64 reference (stylize::reference) on lavapipe, with
//! random data, shapes that are not multiples of the tile sizes, and NaN-filled outputs.
//! Tolerances: f32 kernels vs f64 references — atol/rtol stated per test (sums of K products of
//! O(1) values carry ~1e-6·√K relative error).
//! Every kernel that reads or writes activations or conv weights also runs with f16 storage
//! (`Precision::F16`, where the adapter has shader-f16): its inputs are rounded to f16 before
//! upload and the reference is computed from the rounded values, so f32 outputs (gradients, Grams,
//! losses) keep the f32 tolerances and only f16 outputs add f16's rounding (rtol 1e-3 ≥ 2⁻¹¹).

mod common;
use common::*;
use stylize::kernels::{
    self, AdamBuffers, AdamConfig, ContentLoss, ConvBackward, ConvForward, ConvShape, GramSplit, LossRange, LossWeights, PoolBackward, PoolShape, Pooling, StyleDiff, StyleGrad,
    TvLoss,
};
use stylize::reference as cpu;
use stylize::ConvWeights;
use stylize::{ConvPath, ConvTile, Precision, Variant};

/// Both conv implementations (tiled and direct) in both storage precisions against the f64
/// reference, forward and input gradient, on one shape.
fn conv_case(cin: usize, cout: usize, h: usize, w: usize, seed: u64) {
    let gpu = gpu();
    for precision in precisions(gpu) {
        let cw = ConvWeights { name: "test", cin, cout, weight: round_weights(precision, &random(cout * cin * 9, -0.5, 0.5, seed)), bias: random(cout, -0.5, 0.5, seed + 1) };
        let input = round_acts(precision, &random(cin * h * w, -1.0, 1.0, seed + 2));
        let s = ConvShape { cin, cout, h, w };
        let x = gpu.act_init("x", precision, &input);
        let wf = gpu.storage_init("w", &precision.weight_bytes(&cw.forward_gemm()));
        let b = gpu.storage_init("b", &cw.bias);
        let want = cpu::conv_forward(&to_f64(&input), cin, cout, h, w, &cw.weight, &cw.bias);
        // Backward: gradient w.r.t. the input, with the input's ReLU mask (the input has negative
        // values, so it zeroes about half) and without.
        let dout = random(cout * h * w, -1.0, 1.0, seed + 3);
        let d = gpu.storage_init("dout", &dout);
        let wb = gpu.storage_init("wb", &precision.weight_bytes(&cw.backward_gemm()));
        let input64 = to_f64(&input);
        let want_back = [true, false].map(|mask| cpu::conv_backward(&to_f64(&dout), mask.then_some(&input64[..]), cin, cout, h, w, &cw.weight));
        // Forward outputs are stored in `precision`: f16 adds its rounding.
        let rtol = if precision == Precision::F16 { 1e-3 } else { 1e-4 };
        for path in [ConvPath::Tiled, ConvPath::Direct] {
            let v = Variant { path, precision };
            let out = nan_acts(gpu, precision, cout * h * w);
            let got =
                run_read_acts(gpu, precision, &[&kernels::conv_forward(gpu, v, "t".into(), s, ConvForward { input: &x, weight: &wf, bias: &b, out: &out })], &out, cout * h * w);
            assert_close(&format!("conv forward {path:?} {precision:?} {cin}->{cout} {h}x{w}"), &got, &want, 1e-4, rtol);
            for (mask, want_back) in [true, false].iter().zip(&want_back) {
                let din = nan_buffer(gpu, cin * h * w);
                let in_act = mask.then_some(&x);
                let got = run_read(gpu, &[&kernels::conv_backward(gpu, v, "t".into(), s, ConvBackward { dout: &d, in_act, weight_t: &wb, din: &din })], &din, cin * h * w);
                assert_close(&format!("conv backward {path:?} {precision:?} mask={mask} {cin}->{cout} {h}x{w}"), &got, want_back, 1e-4, 1e-4);
            }
        }
    }
}

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

#[test]
fn activation_conversion_rounds_like_the_reference() {
    let gpu = gpu();
    for precision in precisions(gpu) {
        // Network-space pixel values, a huge value (clamped to f16's range) and tiny ones.
        let mut v = random(1000, -130.0, 160.0, 3);
        v.extend([1e7, -1e7, 1e-7, 3.0e-4, 0.0]);
        let src = gpu.storage_init("src", &v);
        let dst = nan_acts(gpu, precision, v.len());
        let got = run_read_acts(gpu, precision, &[&kernels::to_act(gpu, precision, v.len(), &src, &dst)], &dst, v.len());
        let want: Vec<f64> = v.iter().map(|&x| precision.round_act(x) as f64).collect();
        assert_close(&format!("to_act {precision:?}"), &got, &want, 1e-6, 1e-3);
    }
}

#[test]
fn conv_tests_cover_every_variant() {
    // The shapes the conv tests below use reach every tile of both paths (with several pixel
    // tiles each), so no variant goes untested.
    let tile = |path, cin, cout, h, w| kernels::conv_tiling(path, ConvShape { cin, cout, h, w });
    assert_eq!(tile(ConvPath::Tiled, 5, 70, 9, 13).0, ConvTile::Wide);
    assert_eq!(tile(ConvPath::Tiled, 19, 70, 5, 6).0, ConvTile::Narrow);
    assert_eq!(tile(ConvPath::Direct, 3, 5, 7, 9).0, ConvTile::Direct(4)); // 63 px: 4 tiles of 16
    assert_eq!(tile(ConvPath::Direct, 3, 5, 7, 9).1, 4);
    assert_eq!(tile(ConvPath::Direct, 5, 70, 9, 13).0, ConvTile::Direct(16)); // 117 px: 2 tiles of 64
    assert_eq!(tile(ConvPath::Direct, 5, 70, 9, 13).1, 2);
    assert_eq!(tile(ConvPath::Direct, 4, 6, 5, 67).0, ConvTile::Direct(64)); // 335 px: 2 tiles of 256
    assert_eq!(tile(ConvPath::Direct, 4, 6, 5, 67).1, 2);
    assert_eq!(tile(ConvPath::Direct, 3, 9, 1, 1).0, ConvTile::Direct(4)); // 1 px
}

#[test]
fn conv_odd_shapes() {
    conv_case(3, 5, 7, 9, 10); // conv1_1-like, tiny
    conv_case(5, 70, 9, 13, 20); // two M tiles, two N tiles
    conv_case(19, 3, 11, 8, 30); // K not a multiple of 16
}

#[test]
fn conv_narrow_tile_for_small_layers() {
    // ≤ NARROW_MAX_PIXELS (32) pixels selects the 64×16 tile: several N tiles, M not a multiple
    // of 64, K not of 16.
    const _: () = assert!(5 * 6 <= stylize::kernels::NARROW_MAX_PIXELS);
    conv_case(19, 70, 5, 6, 50);
    conv_case(7, 3, 4, 4, 60);
    conv_case(3, 9, 1, 1, 70);
}

#[test]
fn conv_wide_image_spans_many_tiles() {
    conv_case(4, 6, 5, 67, 40);
}

fn pooling(avg: bool) -> Pooling {
    if avg {
        Pooling::Avg
    } else {
        Pooling::Max
    }
}

#[test]
fn pool_forward_and_backward() {
    let gpu = gpu();
    for precision in precisions(gpu) {
        for (c, h, w, avg) in [(3, 7, 9, false), (5, 8, 6, true), (2, 9, 5, true), (4, 6, 11, false)] {
            let mut input = round_acts(precision, &random(c * h * w, -1.0, 1.0, 7 + c as u64));
            if !avg {
                input[1] = input[0]; // a tie: first maximum wins
            }
            let x = gpu.act_init("x", precision, &input);
            let n_out = c * (h / 2) * (w / 2);
            let out = nan_acts(gpu, precision, n_out);
            let got = run_read_acts(gpu, precision, &[&kernels::pool_forward(gpu, precision, "t".into(), pooling(avg), PoolShape { c, h, w }, &x, &out)], &out, n_out);
            let want = cpu::pool_forward(&to_f64(&input), c, h, w, avg);
            // Max pooling is exact in either precision; f16 averages add f16's rounding.
            let rtol = if precision == Precision::F16 && avg { 1e-3 } else { 1e-6 };
            assert_close(&format!("pool fwd {precision:?} avg={avg} {c}x{h}x{w}"), &got, &want, 1e-6, rtol);

            let dout = random(n_out, -1.0, 1.0, 99);
            let d = gpu.storage_init("dout", &dout);
            for mask in [false, true] {
                let din = nan_buffer(gpu, c * h * w);
                let got = run_read(
                    gpu,
                    &[&kernels::pool_backward(gpu, precision, "t".into(), pooling(avg), PoolShape { c, h, w }, PoolBackward { input: &x, dout: &d, din: &din, relu_mask: mask })],
                    &din,
                    c * h * w,
                );
                let want = cpu::pool_backward(&to_f64(&input), &to_f64(&dout), c, h, w, avg, mask);
                assert_close(&format!("pool bwd {precision:?} avg={avg} mask={mask} {c}x{h}x{w}"), &got, &want, 1e-6, 1e-6);
            }
        }
    }
}

#[test]
fn gram_and_style_loss_gradient() {
    let gpu = gpu();
    // Direct variants reached: gram_direct 64 lanes (260 channels, 2 column tiles), 16 (70: 2
    // tiles), 4 (3, 5, 20); style_grad_direct 4 lanes (n = 37, 40), 16 (n = 100, 2 tiles), 64
    // (n = 1200, 3001).
    for (precision, (c, n, seed)) in precisions(gpu).into_iter().flat_map(|p| [(5, 37, 1), (70, 3001, 2), (3, 1200, 3), (260, 40, 4), (20, 100, 6)].map(|case| (p, case))) {
        // ReLU-like features (about a third exactly 0) as stored in `precision`; every output here
        // is f32 (f32 tolerances).
        let feat = round_acts(precision, &random(c * n, -1.0, 2.0, seed).iter().map(|&v| v.max(0.0)).collect::<Vec<_>>());
        // Style targets are Grams, hence symmetric; the gradient kernel relies on it.
        let r = random(c * c, 0.0, 1.0, seed + 10);
        let target: Vec<f32> = (0..c * c).map(|i| 0.5 * (r[i] + r[(i % c) * c + i / c])).collect();
        let split = GramSplit::new(c, n);
        let f = gpu.act_init("f", precision, &feat);
        let want = cpu::gram(&to_f64(&feat), c, n);
        // Partials from each implementation (the tiled ones feed the loss and gradient below).
        let [_, partial] = [ConvPath::Direct, ConvPath::Tiled].map(|path| {
            let partial = nan_buffer(gpu, split.partial_len());
            let gram = nan_buffer(gpu, c * c);
            let got = run_read(
                gpu,
                &[&kernels::gram_partial(gpu, Variant { path, precision }, "t".into(), split, &f, &partial), &kernels::gram_finish(gpu, "t".into(), split, &partial, &gram)],
                &gram,
                c * c,
            );
            assert_close(&format!("gram {path:?} {precision:?} c={c} n={n} splits={}", split.splits), &got, &want, 1e-5, 1e-4);
            partial
        });

        // style_diff + reduce (loss) and style_grad (gradient), both accumulate modes.
        let t = gpu.storage_init("target", &target);
        let diff = nan_buffer(gpu, c * c);
        let part = nan_buffer(gpu, 1024);
        let losses = nan_buffer(gpu, 16);
        let (sd, count) = kernels::style_diff(gpu, "t".into(), split, StyleDiff { partial: &partial, target: &t, diff: &diff, loss_part: &part }, 3);
        let red = reduce_one(gpu, LossRange { offset: 3, count, slot: 2, scale: 1.0 / (c * c) as f32 }, &part, &losses);
        let got = run_read(gpu, &[&sd, &red], &losses, 16);
        let (loss, grad) = cpu::style_loss(&to_f64(&feat), &to_f64(&target), c, n);
        assert_close("style loss", &got[2..3], &[loss], 1e-6, 1e-4);

        let coef = 0.37f32;
        // The kernel passes the gradient on through the features' ReLU: masked where F = 0.
        let want: Vec<f64> = grad.iter().zip(&feat).map(|(v, &f)| if f > 0.0 { v * coef as f64 * ((c as f64).powi(3) * n as f64) / 4.0 } else { 0.0 }).collect();
        let base = random(c * n, -1.0, 1.0, 5);
        let want_acc: Vec<f64> = want.iter().zip(&base).map(|(a, &b)| a + b as f64).collect();
        for path in [ConvPath::Tiled, ConvPath::Direct] {
            let g = nan_buffer(gpu, c * n);
            let got = run_read(
                gpu,
                &[&kernels::style_grad(gpu, Variant { path, precision }, "t".into(), c, n, coef, StyleGrad { feat: &f, diff: &diff, grad: &g, accumulate: false })],
                &g,
                c * n,
            );
            assert_close(&format!("style grad {path:?} {precision:?} c={c} n={n}"), &got, &want, 1e-5, 1e-4);
            let g = gpu.storage_init("g", &base);
            let got = run_read(
                gpu,
                &[&kernels::style_grad(gpu, Variant { path, precision }, "t".into(), c, n, coef, StyleGrad { feat: &f, diff: &diff, grad: &g, accumulate: true })],
                &g,
                c * n,
            );
            assert_close(&format!("style grad accumulate {path:?} {precision:?}"), &got, &want_acc, 1e-5, 1e-4);
        }
    }
}

#[test]
fn content_and_tv_losses() {
    let gpu = gpu();
    let n = 70_001; // more than 64 workgroups × 256: exercises the grid-stride loop
    let part = nan_buffer(gpu, 128); // ≤ 64 partials per pass, TV writes from offset 5
    for precision in precisions(gpu) {
        // Features and target as stored in `precision`; loss and gradient are f32.
        let feat = round_acts(precision, &random(n, -1.0, 3.0, 1).iter().map(|&v| v.max(0.0)).collect::<Vec<_>>());
        let target = round_acts(precision, &random(n, 0.0, 3.0, 2));
        let base = random(n, -1.0, 1.0, 3);
        let (f, t, g) = (gpu.act_init("f", precision, &feat), gpu.act_init("t", precision, &target), gpu.storage_init("g", &base));
        let losses = nan_buffer(gpu, 16);
        let coef = 0.5f32;
        let (d, count) = kernels::content_loss(gpu, precision, "t".into(), n, coef, ContentLoss { feat: &f, target: &t, grad: &g, loss_part: &part }, 0);
        let r = reduce_one(gpu, LossRange { offset: 0, count, slot: 0, scale: 1.0 / n as f32 }, &part, &losses);
        let got_loss = run_read(gpu, &[&d, &r], &losses, 1);
        let got_grad = read_also(gpu, &g, n);
        let (loss, grad) = cpu::content_loss(&to_f64(&feat), &to_f64(&target));
        assert_close(&format!("content loss {precision:?}"), &got_loss, &[loss], 1e-6, 1e-5);
        // Passed on through the features' ReLU: no gradient where F = 0.
        let want: Vec<f64> = grad.iter().zip(&base).zip(&feat).map(|((gr, &b), &f)| b as f64 + if f > 0.0 { coef as f64 * gr * n as f64 / 2.0 } else { 0.0 }).collect();
        assert_close(&format!("content grad {precision:?}"), &got_grad, &want, 1e-5, 1e-5);
    }

    assert_eq!(tv_case(gpu, &part), 1, "one TV dispatch when the image binds whole");
}

/// TV of a 131×149 image (loss through `reduce_losses`, gradient added to a base) against the
/// reference on `gpu`, partials from offset 5 of `part`; returns the TV dispatches made.
fn tv_case(gpu: &stylize::Gpu, part: &wgpu::Buffer) -> usize {
    let (h, w) = (131, 149);
    let img = random(3 * h * w, -100.0, 100.0, 4);
    let base = random(3 * h * w, -1.0, 1.0, 5);
    let (x, g) = (gpu.storage_init("x", &img), gpu.storage_init("g", &base));
    let losses = nan_buffer(gpu, 16);
    let (ds, count) = kernels::tv_loss(gpu, "t".into(), (3, h, w), 1.0, TvLoss { img: &x, grad: &g, loss_part: part }, 5);
    assert!(count <= 64, "at most 64 partials");
    let r = reduce_one(gpu, LossRange { offset: 5, count, slot: 6, scale: 1.0 / (3 * h * w) as f32 }, part, &losses);
    let got_loss = run_read(gpu, &ds.iter().chain([&r]).collect::<Vec<_>>(), &losses, 7);
    let got_grad = read_also(gpu, &g, 3 * h * w);
    let (loss, grad) = cpu::tv_loss(&to_f64(&img), 3, h, w);
    assert_close("tv loss", &got_loss[6..7], &[loss], 1e-3, 1e-5);
    // The kernel's coef multiplies half the derivative of the raw sum: coef·∂Σ/2 = coef·grad·n/2.
    let want: Vec<f64> = grad.iter().zip(&base).map(|(gr, &b)| b as f64 + gr * (3 * h * w) as f64 / 2.0).collect();
    assert_close("tv grad", &got_grad, &want, 1e-3, 1e-5);
    ds.len()
}

/// On a device that binds 64 KiB, TV runs per channel over bands of rows (a plane is 78 KB).
#[test]
fn tv_loss_in_bands_of_rows() {
    let gpu = windowed_gpu();
    let part = nan_buffer(gpu, 128);
    let n = tv_case(gpu, &part);
    assert!(n >= 6, "two or more bands per channel: {n} dispatches");
}

/// `reduce_losses` with one range (the combined slots 8..11 are not looked at).
fn reduce_one(gpu: &stylize::Gpu, r: LossRange, part: &wgpu::Buffer, losses: &wgpu::Buffer) -> stylize::gpu::Dispatch {
    kernels::reduce_losses(gpu, &[r], LossWeights { alpha: 1.0, beta: 1.0, tau: 1.0, layers: [1.0; 5] }, part, losses)
}

#[test]
fn reduce_losses_sums_every_range_and_combines_the_slots() {
    let gpu = gpu();
    let parts = random(5000, 0.0, 1.0, 8);
    let p = gpu.storage_init("p", &parts);
    let sum = |o: usize, n: usize, scale: f64| parts[o..o + n].iter().map(|&v| v as f64).sum::<f64>() * scale;
    // Seven ranges as a session has them (one longer than the workgroup, one empty, one of one).
    let ranges = [(17, 4001, 3, 0.5), (4100, 64, 0, 2.0), (4200, 0, 1, 1.0), (4300, 1, 2, 3.0), (4400, 300, 4, 0.25), (4800, 7, 5, 1.0), (4900, 100, 6, 0.1)]
        .map(|(offset, count, slot, scale)| LossRange { offset, count, slot, scale });
    let losses = nan_buffer(gpu, 16);
    let w = LossWeights { alpha: 2.0, beta: 3.0, tau: 5.0, layers: [1.0, 0.75, 0.2, 0.2, 0.2] };
    let got = run_read(gpu, &[&kernels::reduce_losses(gpu, &ranges, w, &p, &losses)], &losses, 12);
    let mut raw = [0.0f64; 7];
    for r in &ranges {
        raw[r.slot] = sum(r.offset, r.count, r.scale as f64);
    }
    assert_close("reduce_losses slots 0..6", &got[..7], &raw, 1e-3, 1e-5);
    let style = raw[1] + 0.75 * raw[2] + 0.2 * (raw[3] + raw[4] + raw[5]);
    assert_close("reduce_losses slots 8..11", &got[8..12], &[raw[0], style, raw[6], 2.0 * raw[0] + 3.0 * style + 5.0 * raw[6]], 1e-3, 1e-5);
}

#[test]
fn adam_three_steps_with_clamp_and_average() {
    assert_eq!(adam_case(gpu(), 301, false), 1, "one Adam dispatch when the image binds whole");
}

/// Regions that keep the photo: Adam on y in x = k·photo + (1 − k)·y; kept pixels never move.
#[test]
fn adam_with_kept_regions() {
    assert_eq!(adam_case(gpu(), 301, true), 1);
}

/// On a device that binds 64 KiB, Adam runs over windows of the image that straddle channels.
#[test]
fn adam_in_windows() {
    let n = adam_case(windowed_gpu(), 10_007, true);
    assert!(n >= 2, "{n} windows");
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

/// Three Adam steps on `hw` pixels (clamped, averaged; with `keep`, a kept-regions mask) against
/// the reference on `gpu`; returns the dispatches of one step.
fn adam_case(gpu: &stylize::Gpu, hw: usize, keep: bool) -> usize {
    let x0 = random(3 * hw, -120.0, 150.0, 1);
    let decay = 0.9;
    let cfg = AdamConfig { lr: 4.0, beta1: 0.9, beta2: 0.999, eps: 1e-8, decay };
    let (x, m, v) = (gpu.storage_init("x", &x0), gpu.storage("m", 12 * hw as u64), gpu.storage("v", 12 * hw as u64));
    let state = gpu.storage_init("s", &kernels::adam::ADAM_STATE_INIT);
    let avg = nan_buffer(gpu, 3 * hw); // step 1 must not read it
    let mask = keep.then(|| keep_mask(hw));
    let mask_buf = mask.as_ref().map(|k| gpu.storage_init("keep", k));
    let mask64 = mask.as_ref().map(|k| to_f64(k));
    let (mut rx, mut rm, mut rv, mut ravg) = (to_f64(&x0), vec![0.0; 3 * hw], vec![0.0; 3 * hw], vec![0.0; 3 * hw]);
    let mut count = 0;
    for t in 1..=3 {
        let grad = random(3 * hw, -2.0, 2.0, 10 + t as u64);
        let g = gpu.storage_init("g", &grad);
        let bufs = AdamBuffers { grad: &g, x: &x, m: &m, v: &v, state: &state, avg: &avg, keep: mask_buf.as_ref() };
        let steps = kernels::adam_step(gpu, cfg, hw, bufs);
        count = steps.len();
        let tick = kernels::adam_tick(gpu, cfg, hw, &state);
        let got = run_read(gpu, &std::iter::once(&tick).chain(&steps).collect::<Vec<_>>(), &x, 3 * hw);
        cpu::adam_step(&mut rx, &mut rm, &mut rv, &to_f64(&grad), hw, t, 4.0, 0.9, 0.999, 1e-8, mask64.as_deref());
        assert_close(&format!("adam step {t}"), &got, &rx, 1e-3, 1e-5);
        if let Some(k) = &mask {
            // x0 reaches outside the pixel range: a kept pixel stays where the projection put it.
            let clamped = |i: usize| x0[i].clamp(-kernels::MEAN_BGR[i / hw], 255.0 - kernels::MEAN_BGR[i / hw]);
            let moved = (0..3 * hw).filter(|&i| k[i % hw] == 1.0 && got[i] != clamped(i)).count();
            assert_eq!(moved, 0, "adam step {t}: kept pixels never move");
        }
        let want_avg = cpu::ema_step(&mut ravg, &rx, decay as f64, t);
        let got_avg = read_also(gpu, &avg, 3 * hw);
        assert_close(&format!("adam average {t}"), &got_avg, &want_avg, 1e-3, 1e-5);
    }
    count
}

/// L-BFGS on the GPU against the f64 reference ([`cpu::LbfgsRef`]) over more iterations than its
/// history (the ring wraps), with gradients of a quadratic whose minimum lies partly outside the
/// pixel range (the projection acts), one gradient of negative curvature (the check skips its pair),
/// and enough values for several reducing workgroups. The direction buffer starts NaN-filled.
/// Tolerance: each step within 0.1% of its norm + 0.01 pixel (RMS over the image) (see the comment in the loop).
#[test]
fn lbfgs_matches_the_two_loop_reference() {
    let gpu = gpu();
    for (hw, m) in [(301usize, 3usize), (5003, 4)] {
        assert_eq!(kernels::lbfgs::reduce_groups(hw) > 1, hw > 1000, "the larger case has several reducing workgroups");
        assert_eq!(lbfgs_case(gpu, hw, m, false), 1, "one step dispatch when the image binds whole");
    }
}

/// Regions that keep the photo: L-BFGS on y in x = k·photo + (1 − k)·y; kept pixels never move.
#[test]
fn lbfgs_with_kept_regions() {
    assert_eq!(lbfgs_case(gpu(), 5003, 4, true), 1);
}

/// On a device that binds 64 KiB, every L-BFGS pass runs over windows of the image (the dot
/// products' partial sums from every window, the step's channel ranges across windows).
#[test]
fn lbfgs_in_windows() {
    let n = lbfgs_case(windowed_gpu(), 12_007, 3, true);
    assert!(n >= 3, "{n} windows");
}

/// L-BFGS with history `m` on `hw` pixels (with `keep`, a kept-regions mask) against the reference
/// on `gpu`; returns the step's dispatches (windows).
fn lbfgs_case(gpu: &stylize::Gpu, hw: usize, m: usize, keep: bool) -> usize {
    let windows;
    {
        let n = 3 * hw;
        let a: Vec<f64> = to_f64(&random(n, 0.5, 2.0, 5));
        let c: Vec<f64> = to_f64(&random(n, -160.0, 180.0, 6));
        let x0 = random(n, -100.0, 130.0, 7);
        let cfg = kernels::LbfgsConfig { lr: 1.0, history: m, decay: 0.0 };
        let plan = stylize::plan::Plan::from_buffers(cfg.buffers(hw));
        let lbfgs = kernels::Lbfgs::new(gpu, cfg, hw, &mut plan.allocate(gpu));
        gpu.queue.write_buffer(lbfgs.direction(), 0, bytemuck::cast_slice(&vec![f32::NAN; n]));
        let x = gpu.storage_init("x", &x0);
        let avg = nan_buffer(gpu, n);
        let g = gpu.storage("g", 4 * n as u64);
        let mask = keep.then(|| keep_mask(hw));
        let mask_buf = mask.as_ref().map(|k| gpu.storage_init("keep", k));
        let mask64 = mask.as_ref().map(|k| to_f64(k));
        let lists: Vec<_> = (0..m).map(|k| lbfgs.iteration(gpu, k, &g, &x, &avg, mask_buf.as_ref())).collect();
        let mut reference = cpu::LbfgsRef::new(n, m, 1.0);
        let mut rx = to_f64(&x0);
        for k in 0..3 * m + 2 {
            let gx = pollster::block_on(gpu.read_f32(&x, 0, n)).unwrap();
            let grad: Vec<f32> = if k == 4 {
                // y = −0.5·s: negative curvature, the pair must be skipped
                let j = (k + m - 1) % m;
                (0..n).map(|i| (reference.gprev[i] - 0.5 * reference.s[j][i]) as f32).collect()
            } else {
                (0..n).map(|i| (a[i] * (gx[i] as f64 - c[i])) as f32).collect()
            };
            gpu.queue.write_buffer(&g, 0, bytemuck::cast_slice(&grad));
            let ds: Vec<&stylize::gpu::Dispatch> = lists[k % m].iter().collect();
            let got = run_read(gpu, &ds, &x, n);
            let before = rx.clone();
            reference.step(&mut rx, &to_f64(&grad), hw, mask64.as_deref());
            if let Some(km) = &mask {
                let moved = (0..n).filter(|&i| km[i % hw] == 1.0 && got[i] != x0[i]).count();
                assert_eq!(moved, 0, "lbfgs iteration {k}: kept pixels never move");
            }
            // The steps, compared by norm: s is a difference of f32 pixels (~1e-5 absolute), the
            // first one ~1 pixel RMS, and H and later steps inherit its relative error.
            let err = (0..n).map(|i| (got[i] as f64 - rx[i]).powi(2)).sum::<f64>().sqrt();
            let norm = (0..n).map(|i| (rx[i] - before[i]).powi(2)).sum::<f64>().sqrt();
            assert!(got.iter().all(|v| v.is_finite()), "finite");
            assert!(err <= 1e-3 * norm + 1e-2 * (n as f64).sqrt(), "lbfgs hw {hw} m {m} iteration {k}: step differs by {err:.3e} (step norm {norm:.3e})");
            // Element-wise too (and so under Dawn/Tint): within 2% of the largest step + 0.05 px.
            let largest = (0..n).map(|i| (rx[i] - before[i]).abs()).fold(0.0, f64::max);
            assert_close(&format!("lbfgs hw {hw} m {m} iteration {k}"), &got, &rx, 2e-2 * largest + 0.05, 0.0);
            if k == 4 {
                assert_eq!(reference.rho[(k + m - 1) % m], 0.0, "the flipped gradient fails the curvature check");
            }
            rx = to_f64(&got); // compare one step at a time: f32 rounding is not amplified
        }
        let got_avg = pollster::block_on(gpu.read_f32(&avg, 0, n)).unwrap();
        assert!(got_avg.iter().all(|v| v.is_nan()), "decay 0: no average is kept, the placeholder is never written");
        let dist = |v: &[f64]| v.iter().zip(&c).zip(&a).map(|((x, c), a)| a * (x - c).powi(2)).sum::<f64>();
        assert!(dist(&rx) < 0.5 * dist(&to_f64(&x0)), "L-BFGS descends the quadratic");
        windows = lists[0].iter().filter(|d| d.label == "lbfgs step").count();
    }
    windows
}

#[test]
fn preprocess_and_postprocess() {
    let gpu = gpu();
    let hw = 517;
    let rgba: Vec<u8> = random(4 * hw, 0.0, 256.0, 3).iter().map(|&v| v as u8).collect();
    let src = gpu.storage_init("rgba", &rgba);
    let img = nan_buffer(gpu, 3 * hw);
    let got = run_read(gpu, &[&kernels::preprocess(gpu, hw, &src, &img)], &img, 3 * hw);
    assert_close("preprocess", &got, &cpu::preprocess(&rgba), 1e-4, 0.0);

    let net = random(3 * hw, -140.0, 160.0, 4); // includes out-of-range values: clamped
    let n = gpu.storage_init("n", &net);
    let out = gpu.storage_init("out", &vec![0xdead_beefu32; hw]);
    let got = run_read_rgba(gpu, &[&kernels::postprocess(gpu, hw, &n, &out)], &out, hw);
    assert_close("postprocess bytes", &got, &byte_values(&cpu::postprocess(&to_f64(&net))), 0.0, 0.0);
    // Round trip of exact pixels.
    let back = gpu.storage_init("out2", &vec![0u32; hw]);
    let got = run_read_rgba(gpu, &[&kernels::postprocess(gpu, hw, &img, &back)], &back, hw);
    let mut opaque = rgba.clone();
    opaque.iter_mut().skip(3).step_by(4).for_each(|a| *a = 255);
    assert_close("rgba → network → rgba is the identity (alpha set to 255)", &got, &byte_values(&opaque), 0.0, 0.0);
    gpu.check().unwrap();
}

#[test]
fn large_elementwise_dispatch_uses_two_dimensions() {
    // 65,535 workgroups of 256 is the 1-D limit: an element-wise kernel over more elements runs on
    // a 2-D grid and folds y into its index. Values that depend on the index, a NaN-filled output:
    // an element skipped or misplaced by the fold fails. (Compared directly, not through
    // assert_close: a 67 MB case is not recorded for the Tint replay.)
    let gpu = gpu();
    let n = (65_535 + 100) * 256;
    let grid = stylize::gpu::grid_elems(n);
    assert!(grid[1] > 1, "a 2-D grid: {grid:?}");
    let src: Vec<f32> = (0..n).map(|i| (i % 65_521) as f32 + (i / 65_521) as f32 * 0.5).collect();
    let (input, out) = (gpu.storage_init("src", &src), nan_buffer(gpu, n));
    let d = kernels::to_act(gpu, Precision::F32, n, &input, &out);
    assert_eq!(d.groups(), grid, "the dispatch uses the 2-D grid");
    gpu.run(&[&d]);
    let got = pollster::block_on(gpu.read_f32(&out, 0, n)).unwrap();
    gpu.check().unwrap();
    let wrong: Vec<usize> = (0..n).filter(|&i| got[i] != src[i]).take(5).collect();
    assert!(
        wrong.is_empty(),
        "elements {wrong:?} of {n} not written where they belong (e.g. {} vs {})",
        got[wrong.first().copied().unwrap_or(0)],
        src[wrong.first().copied().unwrap_or(0)]
    );
}

#[test]
fn preview_draws_the_display_buffer_exactly() {
    let gpu = gpu();
    let (w, h) = (37u32, 23u32);
    let px: Vec<u8> = random((4 * w * h) as usize, 0.0, 256.0, 9).iter().map(|&v| v as u8).collect();
    let rgba = gpu.storage_init("rgba", &px);
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let preview = stylize::preview::Preview::new(gpu, format);
    let src = preview.source(gpu, &rgba, w, h);
    let tex = gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("target"),
        size: wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let row = (4 * w).next_multiple_of(256);
    let out = gpu.storage("out", (row * h) as u64);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    preview.draw(&mut enc, &tex.create_view(&Default::default()), &src);
    enc.copy_texture_to_buffer(
        tex.as_image_copy(),
        wgpu::TexelCopyBufferInfo { buffer: &out, layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(row), rows_per_image: None } },
        wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
    );
    gpu.queue.submit([enc.finish()]);
    let got = pollster::block_on(gpu.read_bytes(&out, 0, (row * h) as u64)).unwrap();
    gpu.check().unwrap();
    for y in 0..h as usize {
        let r = &got[y * row as usize..y * row as usize + 4 * w as usize];
        assert_eq!(r, &px[y * 4 * w as usize..(y + 1) * 4 * w as usize], "row {y}");
    }
}

#[test]
fn tile_boxes_and_gram_sums() {
    use stylize::kernels::BoxMove;
    use stylize::tiles::Rect;
    let gpu = gpu();
    let (c, sw, sh) = (3usize, 37usize, 29usize);
    let src = random(c * sw * sh, -2.0, 2.0, 41);
    let from = Rect { x: 5, y: 7, w: 19, h: 13 };
    // Crop: the box is the whole (NaN-filled) destination.
    let crop = BoxMove { c, src: (sw, sh), from, dst: (from.w, from.h), to: (0, 0) };
    let mut want = vec![0.0; c * from.area()];
    cpu::copy_box(&to_f64(&src), (sw, sh), (from.x, from.y, from.w, from.h), &mut want, (from.w, from.h), (0, 0), c, false);
    let s_buf = gpu.storage_init("src", &src);
    let out = nan_buffer(gpu, want.len());
    let got = run_read(gpu, &[&kernels::copy_box(gpu, "crop".into(), crop, &s_buf, &out, false)], &out, want.len());
    assert_close("copy_box crop", &got, &want, 0.0, 0.0);
    // Scatter-add into a larger destination at an offset.
    let (dw, dh) = (41usize, 33usize);
    let base = random(c * dw * dh, -1.0, 1.0, 42);
    let add = BoxMove { c, src: (sw, sh), from, dst: (dw, dh), to: (16, 3) };
    let mut want = to_f64(&base);
    cpu::copy_box(&to_f64(&src), (sw, sh), (from.x, from.y, from.w, from.h), &mut want, (dw, dh), (16, 3), c, true);
    let out = gpu.storage_init("dst", &base);
    let got = run_read(gpu, &[&kernels::copy_box(gpu, "add".into(), add, &s_buf, &out, true)], &out, want.len());
    assert_close("copy_box add", &got, &want, 1e-6, 1e-6);
    // Activations in either storage precision.
    for precision in precisions(gpu) {
        let acts = round_acts(precision, &src);
        let mut want = vec![0.0; c * from.area()];
        cpu::copy_box(&to_f64(&acts), (sw, sh), (from.x, from.y, from.w, from.h), &mut want, (from.w, from.h), (0, 0), c, false);
        let a_buf = gpu.act_init("acts", precision, &acts);
        let out = nan_acts(gpu, precision, want.len());
        let got = run_read_acts(gpu, precision, &[&kernels::copy_box_act(gpu, precision, "crop".into(), crop, &a_buf, &out)], &out, want.len());
        assert_close(&format!("copy_box_act {precision:?}"), &got, &want, 0.0, 0.0);
    }
    // zero, and Gram sums (written, then accumulated).
    let out = nan_buffer(gpu, 1000);
    let got = run_read(gpu, &[&kernels::zero(gpu, "zero".into(), 1000, &out)], &out, 1000);
    assert_close("zero", &got, &[0.0; 1000], 0.0, 0.0);
    let (cc, splits) = (24usize, 5usize);
    let partial = random(splits * cc * cc, -3.0, 3.0, 43);
    let p_buf = gpu.storage_init("partial", &partial);
    let sum = nan_buffer(gpu, cc * cc);
    let mut want = vec![0.0; cc * cc];
    cpu::gram_sum(&to_f64(&partial), cc * cc, splits, &mut want, false);
    let got = run_read(gpu, &[&kernels::gram_sum(gpu, "sum".into(), cc, splits, &p_buf, &sum, false)], &sum, cc * cc);
    assert_close("gram_sum", &got, &want, 1e-5, 1e-6);
    cpu::gram_sum(&to_f64(&partial), cc * cc, splits, &mut want, true);
    let got = run_read(gpu, &[&kernels::gram_sum(gpu, "sum".into(), cc, splits, &p_buf, &sum, true)], &sum, cc * cc);
    assert_close("gram_sum accumulated", &got, &want, 1e-5, 1e-6);
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

#[test]
fn colour_moments_fit_apply_display_and_grey_gradient() {
    use kernels::color::{self, Fit, AFFINE_LEN, MOMENT_ROW, PHOTO_MAP};
    let gpu = gpu();
    let (n, m) = (37 * 29, 41 * 23);
    let (photo, painting) = (coloured(n, 50, [1.0, 0.8, 0.5]), coloured(m, 60, [0.4, 0.7, 1.0]));
    let (p_buf, s_buf) = (gpu.storage_init("photo", &photo), gpu.storage_init("painting", &painting));
    // Moments: the rows add up to the reference's sums; unused columns are zero.
    let groups = color::moment_groups(n);
    let part_c = nan_buffer(gpu, groups * MOMENT_ROW);
    let rows = run_read(gpu, &[&color::color_moments(gpu, n, &p_buf, &part_c)], &part_c, groups * MOMENT_ROW);
    let sums = row_sums(&rows, MOMENT_ROW);
    let want = cpu::color_moments(&to_f64(&photo), n);
    let want12: Vec<f64> = want.iter().copied().chain([0.0; 3]).collect();
    assert_close("colour moments", &sums, &want12, 1e-2, 1e-4);
    let part_s = nan_buffer(gpu, color::moment_groups(m) * MOMENT_ROW);
    gpu.run(&[&color::color_moments(gpu, m, &s_buf, &part_s)]);
    // Fit, both modes, against the reference; the match makes the painting's covariance the photo's.
    for (fit, mode) in [(Fit::Match, 1u32), (Fit::Luminance, 2)] {
        let affine = nan_buffer(gpu, AFFINE_LEN);
        let got = run_read(gpu, &[&color::color_fit(gpu, fit, (n, &part_c, color::moment_groups(n)), (m, &part_s, color::moment_groups(m)), &affine)], &affine, AFFINE_LEN);
        let want = cpu::color_fit(mode, &to_f64(&photo), n, &to_f64(&painting), m);
        assert_close(&format!("colour fit {fit:?}"), &got, &want, 2e-3, 2e-3);
        // Apply both maps (in place) against the reference applied with the GPU's maps.
        for offset in [0, PHOTO_MAP] {
            let (src, len) = if offset == 0 { (&painting, m) } else { (&photo, n) };
            let img = gpu.storage_init("img", src);
            let out = run_read(gpu, &[&color::color_apply(gpu, len, &affine, offset, &img)], &img, 3 * len);
            let want = cpu::color_apply(&to_f64(src), len, &to_f64(&got), offset);
            assert_close(&format!("colour apply {fit:?} map {offset}"), &out, &want, 1e-3, 1e-5);
            if fit == Fit::Match && offset == 0 {
                let (mean_c, cov_c) = cpu::color_stats(&to_f64(&photo), n);
                let (mean_s, cov_s) = cpu::color_stats(&to_f64(&out), len);
                // Clamping to 0..255 moves a few pixels: the statistics agree closely, not exactly.
                for r in 0..3 {
                    assert!((mean_s[r] - mean_c[r]).abs() < 1.0, "matched mean {mean_s:?} vs the photo's {mean_c:?}");
                    for c in 0..3 {
                        assert!((cov_s[r][c] - cov_c[r][c]).abs() < 0.03 * cov_c[r][r].max(cov_c[c][c]), "matched covariance {cov_s:?} vs {cov_c:?}");
                    }
                }
            }
            if fit == Fit::Luminance {
                let grey = out.chunks(len).collect::<Vec<_>>();
                let equal = (0..len).all(|i| ((grey[0][i] + stylize::kernels::MEAN_BGR[0]) - (grey[2][i] + stylize::kernels::MEAN_BGR[2])).abs() < 1e-3);
                assert!(equal, "luminance maps make grey images");
            }
        }
    }
    // Display: the result's luminance with the photo's chroma.
    let result = coloured(n, 70, [0.9, 0.9, 0.9]);
    let r_buf = gpu.storage_init("result", &result);
    let rgba = nan_buffer(gpu, n);
    let got = run_read_rgba(gpu, &[&color::color_display(gpu, n, &r_buf, &p_buf, &rgba)], &rgba, n);
    let want = cpu::color_display(&to_f64(&result), &to_f64(&photo), n);
    // Within one level of the reference in every channel (rounding at .5 only).
    assert_close("colour display", &got, &byte_values(bytemuck::cast_slice(&want)), 1.0, 0.0);
    // Grey gradient, in place.
    let g = random(3 * n, -1.0, 1.0, 80);
    let g_buf = gpu.storage_init("grad", &g);
    let got = run_read(gpu, &[&color::grey_gradient(gpu, n, &g_buf)], &g_buf, 3 * n);
    assert_close("grey gradient", &got, &cpu::grey_gradient(&to_f64(&g), n), 1e-6, 1e-6);
}

/// On a device that binds 64 KiB, the per-pixel kernels that mix the three channels run staged
/// (windows of pixels gathered into `[3][px]` scratch, the kernel, scattered back): each against
/// its reference, outputs NaN-filled first. 12,011 px: three windows, the last one partial.
#[test]
fn staged_per_pixel_kernels_match_the_reference() {
    use kernels::color::{self, Fit, AFFINE_LEN, MOMENT_ROW, PHOTO_MAP};
    use kernels::window::{self, Staging};
    let gpu = windowed_gpu();
    let hw = 12_011;
    assert!(window::needs_staging(gpu.max_storage_bytes(), hw));
    let px = window::stage_pixels(gpu.max_storage_bytes(), gpu.binding_alignment());
    let st = Staging { a: nan_buffer(gpu, 3 * px), b: nan_buffer(gpu, 3 * px), px };
    assert_eq!(st.windows(hw).len(), 3, "{px} px per window");
    // Pre- and post-processing.
    let rgba: Vec<u8> = random(4 * hw, 0.0, 256.0, 3).iter().map(|&v| v as u8).collect();
    let src = gpu.storage_init("rgba", &rgba);
    let img = nan_buffer(gpu, 3 * hw);
    let ops = window::preprocess(gpu, hw, &src, &img, Some(&st));
    let got = run_read(gpu, &ops.iter().collect::<Vec<_>>(), &img, 3 * hw);
    assert_close("staged preprocess", &got, &cpu::preprocess(&rgba), 1e-4, 0.0);
    let net = random(3 * hw, -140.0, 160.0, 4);
    let n_buf = gpu.storage_init("n", &net);
    let out = gpu.storage_init("out", &vec![0xdead_beefu32; hw]);
    let got = run_read_rgba(gpu, &window::postprocess(gpu, hw, &n_buf, &out, Some(&st)).iter().collect::<Vec<_>>(), &out, hw);
    assert_close("staged postprocess bytes", &got, &byte_values(&cpu::postprocess(&to_f64(&net))), 0.0, 0.0);
    // Colour: moments (a block of rows per window) and the fit from them, apply, display, grey.
    let m = 41 * 23; // the painting binds whole
    let (photo, painting) = (coloured(hw, 50, [1.0, 0.8, 0.5]), coloured(m, 60, [0.4, 0.7, 1.0]));
    let (p_buf, s_buf) = (gpu.storage_init("photo", &photo), gpu.storage_init("painting", &painting));
    let rows_c = window::moment_rows(gpu.max_storage_bytes(), gpu.binding_alignment(), hw);
    let part_c = nan_buffer(gpu, rows_c * MOMENT_ROW);
    let (ops, rows) = window::color_moments(gpu, hw, &p_buf, &part_c, Some(&st));
    assert_eq!(rows, rows_c);
    let got = run_read(gpu, &ops.iter().collect::<Vec<_>>(), &part_c, rows * MOMENT_ROW);
    let sums = row_sums(&got, MOMENT_ROW);
    let want12: Vec<f64> = cpu::color_moments(&to_f64(&photo), hw).iter().copied().chain([0.0; 3]).collect();
    assert_close("staged colour moments", &sums, &want12, 1e-1, 1e-4);
    let part_s = nan_buffer(gpu, color::moment_groups(m) * MOMENT_ROW);
    let (ops, rows_s) = window::color_moments(gpu, m, &s_buf, &part_s, Some(&st));
    gpu.run(&ops.iter().collect::<Vec<_>>());
    let affine = nan_buffer(gpu, AFFINE_LEN);
    let fit = run_read(gpu, &[&color::color_fit(gpu, Fit::Match, (hw, &part_c, rows), (m, &part_s, rows_s), &affine)], &affine, AFFINE_LEN);
    assert_close("colour fit from staged moments", &fit, &cpu::color_fit(1, &to_f64(&photo), hw, &to_f64(&painting), m), 2e-3, 2e-3);
    let lum = nan_buffer(gpu, AFFINE_LEN);
    let fit = run_read(gpu, &[&color::color_fit(gpu, Fit::Luminance, (hw, &part_c, rows), (m, &part_s, rows_s), &lum)], &lum, AFFINE_LEN);
    let img = gpu.storage_init("img", &photo);
    let got = run_read(gpu, &window::color_apply(gpu, hw, &lum, PHOTO_MAP, &img, Some(&st)).iter().collect::<Vec<_>>(), &img, 3 * hw);
    assert_close("staged colour apply", &got, &cpu::color_apply(&to_f64(&photo), hw, &to_f64(&fit), PHOTO_MAP), 1e-3, 1e-5);
    let result = coloured(hw, 70, [0.9, 0.9, 0.9]);
    let r_buf = gpu.storage_init("result", &result);
    let rgba = nan_buffer(gpu, hw);
    let ops = window::color_display(gpu, hw, &r_buf, &p_buf, &rgba, Some(&st));
    let got = run_read_rgba(gpu, &ops.iter().collect::<Vec<_>>(), &rgba, hw);
    let want = cpu::color_display(&to_f64(&result), &to_f64(&photo), hw);
    assert_close("staged colour display (within one level)", &got, &byte_values(bytemuck::cast_slice(&want)), 1.0, 0.0);
    let g = random(3 * hw, -1.0, 1.0, 80);
    let g_buf = gpu.storage_init("grad", &g);
    let got = run_read(gpu, &window::grey_gradient(gpu, hw, &g_buf, Some(&st)).iter().collect::<Vec<_>>(), &g_buf, 3 * hw);
    assert_close("staged grey gradient", &got, &cpu::grey_gradient(&to_f64(&g), hw), 1e-6, 1e-6);
    gpu.check().unwrap();
}

/// On a device that binds 64 KiB, box moves between a 3 × 150 × 140 image (250 KB) and a tile
/// run per channel and band of rows; `zero_all` per window.
#[test]
fn box_moves_and_zero_in_windows() {
    use kernels::window;
    use stylize::kernels::BoxMove;
    use stylize::tiles::Rect;
    let gpu = windowed_gpu();
    let (c, sw, sh) = (3usize, 150usize, 140usize);
    let src = random(c * sw * sh, -2.0, 2.0, 41);
    let s_buf = gpu.storage_init("src", &src);
    let from = Rect { x: 13, y: 9, w: 120, h: 128 };
    // The tile input (the box into a buffer of its own size), then added back at an offset.
    let crop = BoxMove { c, src: (sw, sh), from, dst: (from.w, from.h), to: (0, 0) };
    let mut want = vec![0.0; c * from.area()];
    cpu::copy_box(&to_f64(&src), (sw, sh), (from.x, from.y, from.w, from.h), &mut want, (from.w, from.h), (0, 0), c, false);
    let out = nan_buffer(gpu, want.len());
    let ops = window::copy_boxes(gpu, "crop", crop, &s_buf, &out, false);
    assert!(ops.len() > c, "bands of rows: {} dispatches", ops.len());
    let got = run_read(gpu, &ops.iter().collect::<Vec<_>>(), &out, want.len());
    assert_close("windowed copy_box crop", &got, &want, 0.0, 0.0);
    let base = random(c * sw * sh, -1.0, 1.0, 42);
    let dst = gpu.storage_init("dst", &base);
    let back = BoxMove { c, src: (from.w, from.h), from: Rect { x: 0, y: 0, w: from.w, h: from.h }, dst: (sw, sh), to: (21, 5) };
    let mut want = to_f64(&base);
    cpu::copy_box(&to_f64(&got), (from.w, from.h), (0, 0, from.w, from.h), &mut want, (sw, sh), (21, 5), c, true);
    let got = run_read(gpu, &window::copy_boxes(gpu, "add", back, &out, &dst, true).iter().collect::<Vec<_>>(), &dst, want.len());
    assert_close("windowed copy_box add", &got, &want, 1e-6, 1e-6);
    let z = nan_buffer(gpu, 50_001);
    let ops = window::zero_all(gpu, "zero", 50_001, &z);
    assert!(ops.len() >= 3);
    assert_close("windowed zero", &run_read(gpu, &ops.iter().collect::<Vec<_>>(), &z, 50_001), &[0.0; 50_001], 0.0, 0.0);
}

#[test]
fn gram_blend_combines_up_to_four_paintings() {
    let gpu = gpu();
    let n = 48 * 48;
    let grams: Vec<Vec<f32>> = (0..4).map(|k| random(n, -2.0, 5.0, 90 + k)).collect();
    let bufs: Vec<wgpu::Buffer> = grams.iter().map(|g| gpu.storage_init("gram", g)).collect();
    for weights in [vec![1.0f32], vec![0.7, 0.3], vec![0.2, 0.5, 0.3], vec![0.1, 0.2, 0.3, 0.4]] {
        let k = weights.len();
        let out = nan_buffer(gpu, n);
        let refs: Vec<&wgpu::Buffer> = bufs[..k].iter().collect();
        let got = run_read(gpu, &[&kernels::gram_blend(gpu, "blend".into(), n, &refs, &weights, &out)], &out, n);
        let want = cpu::gram_blend(&grams[..k].iter().map(|g| to_f64(g)).collect::<Vec<_>>(), &to_f64(&weights));
        assert_close(&format!("gram_blend of {k}"), &got, &want, 1e-5, 1e-6);
    }
}

#[test]
fn masked_features_and_gradients() {
    let gpu = gpu();
    let (c, n) = (24usize, 37 * 29);
    let src = random(c * n, -1.0, 3.0, 101);
    let mask = random(n, 0.0, 1.0, 102);
    let m_buf = gpu.storage_init("mask", &mask);
    for precision in precisions(gpu) {
        let acts = round_acts(precision, &src);
        let mut want = vec![0.0; c * n];
        cpu::mask_apply(&to_f64(&acts), &to_f64(&mask), &mut want, false);
        let a_buf = gpu.act_init("acts", precision, &acts);
        let out = nan_acts(gpu, precision, c * n);
        let got = run_read_acts(gpu, precision, &[&kernels::mask_act(gpu, precision, "mask".into(), (c, n), &a_buf, &m_buf, &out)], &out, c * n);
        let tol = if precision == Precision::F32 { 1e-6 } else { 2e-3 };
        assert_close(&format!("mask_act {precision:?}"), &got, &want, tol, tol);
    }
    let s_buf = gpu.storage_init("src", &src);
    let base = random(c * n, -1.0, 1.0, 103);
    for accumulate in [false, true] {
        let mut want = to_f64(&base);
        cpu::mask_apply(&to_f64(&src), &to_f64(&mask), &mut want, accumulate);
        let out = if accumulate { gpu.storage_init("dst", &base) } else { nan_buffer(gpu, c * n) };
        let got = run_read(gpu, &[&kernels::mask_add(gpu, "mask add".into(), (c, n), &s_buf, &m_buf, &out, accumulate)], &out, c * n);
        assert_close(&format!("mask_add accumulate={accumulate}"), &got, &want, 1e-6, 1e-6);
    }
}
