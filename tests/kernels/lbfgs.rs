//! lbfgs.wgsl: L-BFGS against the two-loop reference; with kept regions; in windows.

use super::*;

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
