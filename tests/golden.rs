//! Forward pass with the real VGG19 weights (as tools/fetch-weights provisions them, f32 and f16)
//! against tests/data/golden_64x64.json (computed in float64 from the f32 weights). Tolerances: relative 1e-5 on sums (3e-4 with the f16 weights file, whose rounding is not a GPU error) (f32 accumulation
//! over up to 4,608 products per output, 13 layers deep), 1e-4 (1e-3) on the fraction of positive
//! activations (values within rounding of 0 may flip), and 10·rel·(layer mean) + 1e-4·|v| on samples.
//! With f16 storage (activations and weights rounded to f16 at every layer, f32 arithmetic):
//! relative 1e-3 on sums, 1e-3 on the positive fraction, the same sample rule (measured: ≤ 1.7e-4, ≤ 2.5e-4).

mod common;
use common::*;
use stylize::vgg::{Engine, Network, Pooling};
use stylize::{GpuOptions, Precision, VggWeights};

/// The golden reference figures, kept in the project's test data (a copy of
/// ../shared/weights/golden_64x64.json, 4 KB), so the comparison runs on every machine.
fn load_golden() -> serde_json::Value {
    let path = test_data("golden_64x64.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_weights_dtype_comes_from_the_file_not_its_name() {
    // An f16 file whose name says f32: the tolerances must follow the stored dtype.
    let f16 = f16_weights_path();
    let renamed = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("copy-of-vgg19-conv-f32.safetensors");
    std::fs::copy(&f16, &renamed).unwrap();
    assert!(VggWeights::load(&renamed).unwrap().stored_f16, "an f16 file named *f32* is read as f16");
    assert!(!VggWeights::load(&real_weights_path()).unwrap().stored_f16, "the f32 file is read as f32");
}

/// Compares the forward pass of the weights file at `path` with activations and weights stored
/// in `precision` (tolerances by the file's stored dtype), by Winograd and by the direct GEMM.
fn check_file(path: &std::path::Path, precision: Precision) {
    use stylize::kernels::winograd::WinoTile;
    for winograd in [(true, Some(WinoTile::F2)), (true, Some(WinoTile::F4)), (false, None)] {
        check_file_with(path, precision, winograd);
    }
}

fn check_file_with(path: &std::path::Path, precision: Precision, winograd: stylize::gpu::ConvAlgo) {
    let golden = load_golden();
    let weights = VggWeights::load(path).expect("weights load");
    let f16 = weights.stored_f16;
    let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(precision), winograd: Some(winograd), ..Default::default() })).unwrap();
    let engine = Engine::new(gpu, &weights).unwrap();
    let gpu = &engine.gpu;
    let (h, w) = (64usize, 64usize);
    let mean = stylize::kernels::MEAN_BGR;
    let mut x = vec![0f32; 3 * h * w];
    for c in 0..3 {
        for y in 0..h {
            for xx in 0..w {
                x[(c * h + y) * w + xx] = ((y * 7 + xx * 13 + c * 29) % 256) as f32 - mean[c];
            }
        }
    }
    let input = gpu.storage_init("x", &x);
    let plan = stylize::plan::Plan::network(stylize::plan::Net::Photo, w, h, &engine.channels(), gpu.variant());
    let net = Network::new(&engine, &input, w, h, Pooling::Max, &mut plan.allocate(gpu), stylize::plan::Net::Photo);
    // NaN-fill every activation so an unwritten element fails.
    for (l, a) in net.layers.iter().zip(&net.acts) {
        gpu.queue.write_buffer(a, 0, &precision.act_bytes(&vec![f32::NAN; l.out_len()]));
    }
    let refs: Vec<&stylize::gpu::Dispatch> = net.forward.iter().collect();
    gpu.run(&refs);
    let (rel, frac_tol) = match (precision, f16) {
        (Precision::F16, _) => (1e-3, 1e-3),
        (Precision::F32, true) => (3e-4, 1e-3),
        (Precision::F32, false) => (1e-5, 1e-4),
    };
    let mut checked = 0;
    for (i, l) in net.layers.iter().enumerate() {
        let Some(g) = golden["layers"].get(&l.name) else { continue };
        let (c, lh, lw) = l.output;
        assert_eq!(g["shape_hwc"], serde_json::json!([lh, lw, c]), "{} shape", l.name);
        let v = pollster::block_on(net.read_act(gpu, i)).unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{}: every element written", l.name);
        let sum: f64 = v.iter().map(|&x| x as f64).sum();
        let frac = v.iter().filter(|&&x| x > 0.0).count() as f64 / v.len() as f64;
        let gsum = g["sum"].as_f64().unwrap();
        let gmean = g["mean"].as_f64().unwrap();
        let at = |y: usize, x: usize, ch: usize| v[(ch * lh + y) * lw + x] as f64;
        let samples = [
            (at(0, 0, 0), g["sample_[0,0,0]"].as_f64().unwrap()),
            (at(lh / 2, lw / 2, c / 2), g["sample_[h/2,w/2,c/2]"].as_f64().unwrap()),
            (at(lh - 1, lw - 1, c - 1), g["sample_[h-1,w-1,c-1]"].as_f64().unwrap()),
        ];
        let sum_err = (sum - gsum).abs() / gsum.abs();
        let frac_err = (frac - g["frac_positive"].as_f64().unwrap()).abs();
        let sample_err = samples.iter().map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        eprintln!("{} ({} weights file, {precision:?} storage, winograd {winograd:?}): sum rel err {sum_err:.2e}, mean rel err {:.2e}, frac_positive abs err {frac_err:.2e}, max sample abs err {sample_err:.3e} (layer mean {gmean:.1})",
            l.name, if f16 { "f16" } else { "f32" }, ((sum / v.len() as f64) - gmean).abs() / gmean);
        assert!(sum_err < rel, "{}: sum {sum} vs golden {gsum}", l.name);
        assert!(frac_err < frac_tol, "{}: frac_positive {frac}", l.name);
        for (a, b) in samples {
            assert!((a - b).abs() <= 10.0 * rel * gmean + 1e-4 * b.abs(), "{}: sample {a} vs golden {b}", l.name);
        }
        checked += 1;
    }
    assert_eq!(checked, 13, "all 13 golden layers compared");
    gpu.check().unwrap();
}

#[test]
fn forward_matches_golden_f32() {
    check_file(&real_weights_path(), Precision::F32);
}

#[test]
fn forward_matches_golden_f16_storage() {
    check_file(&real_weights_path(), Precision::F16);
}

#[test]
fn forward_matches_golden_f16_weights() {
    check_file(&f16_weights_path(), Precision::F32);
}
