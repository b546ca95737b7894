//! conv.wgsl: the forward conv and its input gradient, every variant (tiled, direct; f32, f16), odd and wide shapes.

use super::*;

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
