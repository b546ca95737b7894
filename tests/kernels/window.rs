//! kernels/window.rs: the staged per-pixel kernels and the box moves and zero in windows on a device binding 64 KiB.

use super::*;

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
