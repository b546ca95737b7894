//! loss.wgsl: the content, TV and temporal losses with their gradients (TV in bands of rows too), the reduction of the loss partials.

use super::*;

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
    let w = LossWeights { alpha: 2.0, beta: 3.0, tau: 5.0, gamma: None, layers: [1.0, 0.75, 0.2, 0.2, 0.2] };
    let got = run_read(gpu, &[&kernels::reduce_losses(gpu, &ranges, w, &p, &losses)], &losses, 13);
    let mut raw = [0.0f64; 8];
    for r in &ranges {
        raw[r.slot] = sum(r.offset, r.count, r.scale as f64);
    }
    assert_close("reduce_losses slots 0..6", &got[..7], &raw[..7], 1e-3, 1e-5);
    let style = raw[1] + 0.75 * raw[2] + 0.2 * (raw[3] + raw[4] + raw[5]);
    // Without a temporal loss its slot is never written (NaN here) and its total is 0.
    assert_close("reduce_losses slots 8..12", &got[8..13], &[raw[0], style, raw[6], 2.0 * raw[0] + 3.0 * style + 5.0 * raw[6], 0.0], 1e-3, 1e-5);

    // A video frame's eighth range: the temporal slot, its total and γ·temporal in the total.
    let ranges: Vec<LossRange> = ranges.iter().copied().chain([LossRange { offset: 4950, count: 40, slot: 7, scale: 0.5 }]).collect();
    raw[7] = sum(4950, 40, 0.5);
    let w = LossWeights { gamma: Some(7.0), ..w };
    let losses = nan_buffer(gpu, 16);
    let got = run_read(gpu, &[&kernels::reduce_losses(gpu, &ranges, w, &p, &losses)], &losses, 13);
    assert_close("reduce_losses with a temporal range, slots 0..7", &got[..8], &raw, 1e-3, 1e-5);
    let total = 2.0 * raw[0] + 3.0 * style + 5.0 * raw[6] + 7.0 * raw[7];
    assert_close("reduce_losses with a temporal range, slots 8..12", &got[8..13], &[raw[0], style, raw[6], total, raw[7]], 1e-3, 1e-5);
}

#[test]
fn temporal_loss_and_its_gradient() {
    let gpu = gpu();
    let (h, w) = (97, 131); // 3·h·w > 64 workgroups × 256: the grid-stride loop
    let n = 3 * h * w;
    let img = random(n, -100.0, 100.0, 11);
    let previous = random(n, -100.0, 100.0, 12);
    // Reliability 0, 1 and in between.
    let reliable: Vec<f32> = random(h * w, -0.5, 1.5, 13).iter().map(|c| c.clamp(0.0, 1.0)).collect();
    let base = random(n, -1.0, 1.0, 14);
    let (x, pv, c, g) = (gpu.storage_init("x", &img), gpu.storage_init("previous", &previous), gpu.storage_init("c", &reliable), gpu.storage_init("g", &base));
    let part = nan_buffer(gpu, 128);
    let losses = nan_buffer(gpu, 16);
    let coef = 0.25f32;
    let (d, count) = kernels::loss::temporal_loss(gpu, (h, w), coef, kernels::loss::TemporalLoss { img: &x, previous: &pv, reliable: &c, grad: &g, loss_part: &part }, 3);
    let r = reduce_one(gpu, LossRange { offset: 3, count, slot: 7, scale: 1.0 / n as f32 }, &part, &losses);
    let got_loss = run_read(gpu, &[&d, &r], &losses, 8);
    let got_grad = read_also(gpu, &g, n);
    let (loss, grad) = cpu::temporal_loss(&to_f64(&img), &to_f64(&previous), &to_f64(&reliable));
    assert_close("temporal loss", &got_loss[7..8], &[loss], 1e-3, 1e-5);
    // The kernel's coef multiplies half the derivative of the raw sum: coef·∂Σ/2 = coef·grad·n/2.
    let want: Vec<f64> = grad.iter().zip(&base).map(|(gr, &b)| b as f64 + coef as f64 * gr * n as f64 / 2.0).collect();
    assert_close("temporal grad", &got_grad, &want, 1e-4, 1e-5);
}
