//! conv.wgsl and winograd.wgsl: the forward conv and its input gradient, every variant (tiled,
//! direct; f32, f16; direct GEMM and Winograd), odd and wide shapes, every VGG19 layer shape.

use super::*;
use stylize::kernels::winograd::{tile_count, transform_weights, WinoScratch, WinoTile};

/// Both conv implementations (tiled and direct) in both storage precisions, by the direct GEMM
/// and by Winograd F(2×2) and F(4×4), against the f64 reference, forward and input gradient, on
/// one shape.
fn conv_case(cin: usize, cout: usize, h: usize, w: usize, seed: u64) {
    conv_case_with(cin, cout, h, w, seed, &[None, Some(WinoTile::F2), Some(WinoTile::F4)]);
}

/// [`conv_case`] by the algorithms in `winograd` (`None`: the direct GEMM). Winograd runs over a
/// NaN-filled scratch of about a third of the layer's tiles (so it runs in chunks, and a scratch
/// element read before it is written fails the comparison), and, on shapes of one tile row or
/// fewer than 4 tiles, in one chunk. Winograd is skipped where the engine never runs it
/// (3 input channels).
fn conv_case_with(cin: usize, cout: usize, h: usize, w: usize, seed: u64, winograd: &[Option<WinoTile>]) {
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
        // Winograd's transformed kernels: U = G g Gᵀ of the (rounded) weights, stored in `precision`.
        let u = |t: WinoTile| {
            let f = gpu.storage_init("uf", &precision.weight_bytes(&transform_weights(&cw.forward_gemm(), cin, cout, t)));
            (f, gpu.storage_init("ub", &precision.weight_bytes(&transform_weights(&cw.backward_gemm(), cout, cin, t))))
        };
        // The engine runs convs of 3 input channels (conv1_1) by the direct GEMM only, and
        // F(4×4) runs with f32 storage only.
        let runs =
            |t: Option<WinoTile>| stylize::kernels::winograd::winograd_tile(Variant { path: ConvPath::Direct, precision, winograd: t.is_some(), wino_tile: t }, cin, cout) == t;
        for algo in winograd.iter().copied().filter(|&t| runs(t)) {
            let wino = algo.is_some();
            let tiles = algo.map_or(1, |t| tile_count(h, w, t));
            let chunk = if tiles < 4 || h <= 2 { tiles } else { tiles.div_ceil(3) };
            let floats = algo.map_or(1, |t| t.positions()) * cin.max(cout) * chunk;
            // Forward outputs are stored in `precision`: f16 adds its rounding. Winograd with f16
            // storage (F(2×2) only) also rounds the transformed kernel U to f16: 2⁻¹¹ relative on
            // each of the K·16 products, an absolute error in proportion to the outputs' scale
            // rather than to each output (an output that cancels to near 0 keeps its terms'
            // error), on gradients too: atol 2e-3 × the reference's RMS. F(4×4) (f32) weighs
            // terms by up to 8·5 in its transforms, so its f32 rounding, relative to the outputs'
            // scale, is ~10× F(2×2)'s: atol 1e-4 × max(1, RMS) (measured ≤ 3e-5 × RMS).
            let f16 = precision == Precision::F16;
            let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt();
            let (atol, rtol, back_atol, back_rtol) = match (f16, algo) {
                (false, Some(WinoTile::F4)) => (1e-4 * rms(&want).max(1.0), 1e-4, 1e-4 * rms(&want_back[1]).max(1.0), 1e-4),
                (false, _) => (1e-4, 1e-4, 1e-4, 1e-4),
                (true, None) => (1e-4, 1e-3, 1e-4, 1e-4),
                (true, _) => ((2e-3 * rms(&want)).max(1e-4), 2e-3, (2e-3 * rms(&want_back[1])).max(1e-4), 2e-3),
            };
            let us = algo.map(u);
            let name = match algo {
                None => "gemm",
                Some(WinoTile::F2) => "winograd2",
                Some(WinoTile::F4) => "winograd4",
            };
            for path in [ConvPath::Tiled, ConvPath::Direct] {
                let v = Variant { path, precision, winograd: wino, wino_tile: algo };
                let scratch = || WinoScratch { input: nan_buffer(gpu, floats), product: nan_buffer(gpu, floats) };
                let out = nan_acts(gpu, precision, cout * h * w);
                let sc = scratch();
                let uf = us.as_ref().map(|u| kernels::Wino { weight: &u.0, scratch: &sc });
                let ds = kernels::conv_forward_by(gpu, (v, algo), "t".into(), s, ConvForward { input: &x, weight: &wf, bias: &b, out: &out, wino: uf });
                assert_eq!(ds.len(), if wino { 3 * tiles.div_ceil(chunk) } else { 1 }, "dispatches");
                let got = run_read_acts(gpu, precision, &ds.iter().collect::<Vec<_>>(), &out, cout * h * w);
                assert_close(&format!("conv forward {name} {path:?} {precision:?} {cin}->{cout} {h}x{w}"), &got, &want, atol, rtol);
                for (mask, want_back) in [true, false].iter().zip(&want_back) {
                    let din = nan_buffer(gpu, cin * h * w);
                    let in_act = mask.then_some(&x);
                    let sc = scratch();
                    let wino = us.as_ref().map(|u| kernels::Wino { weight: &u.1, scratch: &sc });
                    let ds = kernels::conv_backward_by(gpu, (v, algo), "t".into(), s, ConvBackward { dout: &d, in_act, weight_t: &wb, din: &din, wino });
                    let got = run_read(gpu, &ds.iter().collect::<Vec<_>>(), &din, cin * h * w);
                    assert_close(&format!("conv backward {name} {path:?} {precision:?} mask={mask} {cin}->{cout} {h}x{w}"), &got, want_back, back_atol, back_rtol);
                }
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

#[test]
fn winograd_every_vgg19_layer_shape() {
    // Every conv of VGG19 that runs by Winograd (full channel counts; conv1_1 runs by the direct
    // GEMM) at the sizes of a 26×14 input's blocks (26×14, 13×7, 6×3, 3×1, 1×1:
    // odd sizes, partial tiles, 1-pixel-wide layers), by both Winograd tiles (the GEMM has its
    // tests).
    let sizes = [(14, 26), (7, 13), (3, 6), (1, 3), (1, 1)];
    let blocks = [0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4];
    for (k, &(_, cin, cout)) in stylize::weights::CONVS.iter().enumerate().skip(1) {
        let (h, w) = sizes[blocks[k]];
        conv_case_with(cin, cout, h, w, 100 + k as u64, &[Some(WinoTile::F2), Some(WinoTile::F4)]);
    }
}

#[test]
fn small_layers_run_the_gemm_even_with_winograd_on() {
    // The engine's choice per layer and size: Winograd from WINOGRAD_MIN_TILES output tiles up,
    // the direct GEMM below (conv1_1 always), F(4×4) only with f32 storage up to 256 channels.
    use stylize::kernels::winograd_for;
    let v = |precision| Variant { path: ConvPath::Direct, precision, winograd: true, wino_tile: None };
    let s = |cin, cout, h, w| ConvShape { cin, cout, h, w };
    assert_eq!(winograd_for(v(Precision::F32), s(64, 64, 16, 16)), Some(WinoTile::F4)); // 16 tiles of 4×4
    assert_eq!(winograd_for(v(Precision::F32), s(256, 256, 12, 12)), None); // 9 tiles of 4×4
    assert_eq!(winograd_for(v(Precision::F16), s(256, 256, 8, 8)), Some(WinoTile::F2)); // 16 tiles of 2×2
    assert_eq!(winograd_for(v(Precision::F32), s(512, 512, 8, 8)), Some(WinoTile::F2));
    assert_eq!(winograd_for(v(Precision::F32), s(512, 512, 4, 4)), None); // 4 tiles
    assert_eq!(winograd_for(v(Precision::F32), s(3, 64, 512, 512)), None); // conv1_1
    assert_eq!(winograd_for(Variant { winograd: false, ..v(Precision::F32) }, s(64, 64, 64, 64)), None);
    assert_eq!(winograd_for(Variant { wino_tile: Some(WinoTile::F4), ..v(Precision::F16) }, s(64, 64, 64, 64)), Some(WinoTile::F2));
    // And the launcher follows it: one GEMM dispatch for a small layer, Winograd's three above.
    let gpu = gpu();
    let (cin, cout) = (8, 8);
    let x = gpu.act_init("x", Precision::F32, &random(cin * 16 * 16, -1.0, 1.0, 5));
    let wf = gpu.storage_init("w", &Precision::F32.weight_bytes(&random(stylize::weights::gemm_len(cin, cout), -0.5, 0.5, 6)));
    let u = gpu.storage_init("u", &Precision::F32.weight_bytes(&random(stylize::kernels::winograd::wino_len(cin, cout, WinoTile::F4), -0.5, 0.5, 7)));
    let bias = gpu.storage_init("b", &random(cout, -0.5, 0.5, 8));
    let out = nan_buffer(gpu, cout * 16 * 16);
    let sc = WinoScratch { input: nan_buffer(gpu, 36 * 8 * 16), product: nan_buffer(gpu, 36 * 8 * 16) };
    for (h, w, n) in [(16, 16, 3), (12, 12, 1)] {
        let b = ConvForward { input: &x, weight: &wf, bias: &bias, out: &out, wino: Some(kernels::Wino { weight: &u, scratch: &sc }) };
        assert_eq!(kernels::conv_forward(gpu, v(Precision::F32), "t".into(), s(cin, cout, h, w), b).len(), n, "{h}×{w}");
    }
}
