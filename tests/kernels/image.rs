//! image.wgsl: the conversion to activations, pre- and postprocessing, a 2-D grid past 65,535 workgroups.

use super::*;

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
fn preprocess_and_postprocess() {
    let gpu = gpu();
    let hw = 517;
    let rgba: Vec<u8> = random(4 * hw, 0.0, 256.0, 3).iter().map(|&v| v as u8).collect();
    let src = gpu.storage_init("rgba", &rgba);
    let img = nan_buffer(gpu, 3 * hw);
    let got = run_read(gpu, &[&kernels::image::preprocess(gpu, hw, &src, &img)], &img, 3 * hw);
    assert_close("preprocess", &got, &cpu::preprocess(&rgba), 1e-4, 0.0);

    let net = random(3 * hw, -140.0, 160.0, 4); // includes out-of-range values: clamped
    let n = gpu.storage_init("n", &net);
    let out = gpu.storage_init("out", &vec![0xdead_beefu32; hw]);
    let got = run_read_rgba(gpu, &[&kernels::image::postprocess(gpu, hw, &n, &out)], &out, hw);
    assert_close("postprocess bytes", &got, &byte_values(&cpu::postprocess(&to_f64(&net))), 0.0, 0.0);
    // Round trip of exact pixels.
    let back = gpu.storage_init("out2", &vec![0u32; hw]);
    let got = run_read_rgba(gpu, &[&kernels::image::postprocess(gpu, hw, &img, &back)], &back, hw);
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
