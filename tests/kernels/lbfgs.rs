//! lbfgs.wgsl: L-BFGS against the two-loop reference (with its backtracking safeguard forced: a
//! rise and a NaN taken back, and a scale's end); with kept regions; in windows.

use super::*;

/// L-BFGS on the GPU against the f64 reference ([`cpu::LbfgsRef`]) over more iterations than its
/// history (the ring wraps), with gradients of a quadratic whose minimum lies partly outside the
/// pixel range (the projection acts), one gradient of negative curvature (the check skips its pair),
/// and enough values for several reducing workgroups. The direction buffer starts NaN-filled. The
/// losses are the quadratic's, except at iterations 6 and 7: a total ×10 and a NaN (with a NaN
/// gradient), which the safeguard must take back (half the step each time, no NaN leaking), and
/// at the end, where a scale's settle takes a rejected last step back whole.
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
        let losses = nan_buffer(gpu, kernels::loss::LOSS_SLOTS);
        let lists: Vec<_> = (0..m).map(|k| lbfgs.iteration(gpu, k, &g, kernels::LbfgsImage { x: &x, avg: &avg, keep: mask_buf.as_ref(), losses: &losses })).collect();
        let mut reference = cpu::LbfgsRef::new(n, m, 1.0);
        let mut rx = to_f64(&x0);
        let quadratic = |x: &[f64]| x.iter().zip(&c).zip(&a).map(|((x, c), a)| 0.5 * a * (x - c).powi(2)).sum::<f64>();
        let total_at = (kernels::loss::SLOT_TOTALS + 3) * 4;
        let iterations = 3 * m + 2;
        for k in 0..iterations {
            let gx = pollster::block_on(gpu.read_f32(&x, 0, n)).unwrap();
            let grad: Vec<f32> = if k == 4 {
                // y = −0.5·s: negative curvature, the pair must be skipped
                let j = (k + m - 1) % m;
                (0..n).map(|i| (reference.gprev[i] - 0.5 * reference.s[j][i]) as f32).collect()
            } else if k == 7 {
                vec![f32::NAN; n]
            } else {
                (0..n).map(|i| (a[i] * (gx[i] as f64 - c[i])) as f32).collect()
            };
            let loss = match k {
                6 => 10.0 * quadratic(&to_f64(&gx)) as f32,
                7 => f32::NAN,
                _ => quadratic(&to_f64(&gx)) as f32,
            };
            gpu.queue.write_buffer(&g, 0, bytemuck::cast_slice(&grad));
            gpu.queue.write_buffer(&losses, total_at as u64, bytemuck::bytes_of(&loss));
            let ds: Vec<&stylize::gpu::Dispatch> = lists[k % m].iter().collect();
            let got = run_read(gpu, &ds, &x, n);
            let before = rx.clone();
            let last_accepted = reference.last;
            reference.step(&mut rx, &to_f64(&grad), loss as f64, hw, mask64.as_deref());
            if k == 6 || k == 7 {
                assert!(reference.back > 0, "lbfgs iteration {k}: the forced rise and NaN are taken back (last accepted {last_accepted:.4e}, now {loss:.4e})");
            }
            if reference.back > 0 {
                let shown = pollster::block_on(gpu.read_f32(&losses, total_at / 4, 1)).unwrap()[0];
                assert_eq!(shown, last_accepted as f32, "lbfgs iteration {k}: a rejected iterate's losses read as the accepted one's");
            }
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
        let backs_at = (kernels::lbfgs::ST_BACKS_BYTES / 4) as usize;
        let backs = pollster::block_on(gpu.read_f32(lbfgs.state(), backs_at, 1)).unwrap()[0];
        assert_eq!(backs, reference.backs as f32, "steps taken back (the reference's {})", reference.backs);
        // The scale ends: a last step whose loss rose is taken back whole; then an accepted one
        // leaves the image alone.
        for (risen, what) in [(true, "a rejected last step"), (false, "an accepted one")] {
            let gx = to_f64(&pollster::block_on(gpu.read_f32(&x, 0, n)).unwrap());
            let loss = (quadratic(&gx) * if risen { 100.0 } else { 1.0 }) as f32;
            gpu.queue.write_buffer(&losses, total_at as u64, bytemuck::bytes_of(&loss));
            let settle = lbfgs.settle(gpu, iterations, kernels::LbfgsImage { x: &x, avg: &avg, keep: mask_buf.as_ref(), losses: &losses });
            let ds: Vec<&stylize::gpu::Dispatch> = settle.iter().collect();
            let got = run_read(gpu, &ds, &x, n);
            let mut want = gx.clone();
            reference.settle(&mut want, loss as f64, hw, mask64.as_deref());
            assert_eq!(want != gx, risen, "the reference settles {what}");
            // The step taken back is the GPU's (f32) and the reference's own: within 0.05 px, as above.
            assert_close(&format!("lbfgs settle: {what}"), &got, &want, 0.05, 0.0);
        }
        let got_avg = pollster::block_on(gpu.read_f32(&avg, 0, n)).unwrap();
        assert!(got_avg.iter().all(|v| v.is_nan()), "decay 0: no average is kept, the placeholder is never written");
        let dist = |v: &[f64]| v.iter().zip(&c).zip(&a).map(|((x, c), a)| a * (x - c).powi(2)).sum::<f64>();
        assert!(dist(&rx) < 0.5 * dist(&to_f64(&x0)), "L-BFGS descends the quadratic");
        windows = lists[0].iter().filter(|d| d.label == "lbfgs step").count();
    }
    windows
}
