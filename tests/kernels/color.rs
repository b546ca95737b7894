//! color.wgsl: colour moments, the fit, its application, the display with the photo's chroma, the grey gradient.

use super::*;

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
