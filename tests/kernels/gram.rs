//! gram.wgsl: Gram matrices (split-K), the style loss and its gradient, the blend of several paintings' Grams.

use super::*;

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
                &[
                    &kernels::gram_partial(gpu, Variant { path, precision, winograd: false, wino_tile: None }, "t".into(), split, &f, &partial),
                    &kernels::gram_finish(gpu, "t".into(), split, &partial, &gram),
                ],
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
            // Overwriting a NaN-filled gradient, then adding into `base`.
            for accumulate in [false, true] {
                let (g, reference, what) = if accumulate {
                    (gpu.storage_init("g", &base), &want_acc, format!("style grad accumulate {path:?} {precision:?}"))
                } else {
                    (nan_buffer(gpu, c * n), &want, format!("style grad {path:?} {precision:?} c={c} n={n}"))
                };
                let d = kernels::style_grad(
                    gpu,
                    Variant { path, precision, winograd: false, wino_tile: None },
                    "t".into(),
                    c,
                    n,
                    coef,
                    StyleGrad { feat: &f, diff: &diff, grad: &g, accumulate },
                );
                let got = run_read(gpu, &[&d], &g, c * n);
                assert_close(&what, &got, reference, 1e-5, 1e-4);
            }
        }
    }
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
