//! adam.wgsl: Adam with the projection and the iterate average; with kept regions; in windows.

use super::*;

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
