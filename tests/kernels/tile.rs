//! tile.wgsl: box moves, Gram sums, masked features and gradients.

use super::*;

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
