//! Steering a live run: changing the loss weights, the style layer weights and the step of a
//! session mid-run gives exactly what a session built with the new settings computes from the same
//! image and optimiser state (whole and over tiles), keeps the optimiser's state, and refuses any
//! other change with a clear error.

mod common;
use common::*;
use stylize::{Engine, GpuOptions, Init, Optimizer, Precision, Session, Settings, VggWeights};

fn engine() -> std::rc::Rc<Engine> {
    let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(Precision::F32), ..Default::default() })).unwrap();
    Engine::new(gpu, &VggWeights::random(8, 7)).unwrap()
}

fn picture(w: u32, h: u32, k: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([((x * 7 + y * 3 * k) % 256) as u8, ((x * y / 3 + k * 40) % 256) as u8, ((y * 5 + x * k) % 256) as u8, 255]))
}

fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-20);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) as f64 / scale as f64
}

#[test]
fn a_steered_session_computes_what_one_built_with_the_new_settings_does() {
    let engine = engine();
    let (content, style) = (picture(64, 48, 1), picture(56, 60, 2));
    for tile_size in [0, 32] {
        let s1 = Settings { size: 64, scales: 1, init: Init::Noise, seed: 3, tile_size, ..Settings::default() };
        let s2 = Settings { content_weight: 0.3, style_weight: 300.0, tv_weight: 5.0, style_layer_weights: [0.5, 1.0, 0.1, 0.4, 0.3], lr: Some(2.5), ..s1.clone() };
        let mut a = Session::new(engine.clone(), &content, &style, &s1).unwrap();
        a.step(3, false).unwrap();
        a.steer(&s2).unwrap();
        assert_eq!(a.settings(), &s2);
        let x = pollster::block_on(a.image_f32()).unwrap();
        let (m, v, st) = pollster::block_on(a.adam_state().unwrap()).unwrap();
        a.step(2, false).unwrap();
        let (la, xa) = (pollster::block_on(a.losses()).unwrap(), pollster::block_on(a.image_f32()).unwrap());

        let mut b = Session::new(engine.clone(), &content, &style, &s2).unwrap();
        b.set_image_f32(&x).unwrap();
        b.set_adam_state(&m, &v, &st).unwrap();
        b.step(2, false).unwrap();
        let (lb, xb) = (pollster::block_on(b.losses()).unwrap(), pollster::block_on(b.image_f32()).unwrap());
        let rel = |p: f32, q: f32| ((p - q).abs() / q.abs().max(1e-20)) as f64;
        let loss = [rel(la.content, lb.content), rel(la.style, lb.style), rel(la.tv, lb.tv), rel(la.total, lb.total)].into_iter().fold(0.0, f64::max);
        let image = max_rel(&xa, &xb);
        eprintln!("tiles {tile_size}: steered vs built: losses within {loss:.2e}, image within {image:.2e} of its largest value ({la:?})");
        assert!(loss < 1e-5, "tiles {tile_size}: steered {la:?} vs built {lb:?}");
        assert!(image < 1e-5, "tiles {tile_size}: images differ by {image:.2e}");
        // The loss of the steered run is the new weighting, not the old: the style term at β = 300.
        assert!((la.total - (0.3 * la.content + 300.0 * la.style + 5.0 * la.tv)).abs() <= 1e-4 * la.total.abs());
        engine.gpu.check().unwrap();
    }
}

#[test]
fn steering_refuses_what_needs_a_new_run_and_works_with_lbfgs() {
    let engine = engine();
    let (content, style) = (picture(40, 40, 1), picture(40, 40, 2));
    let s = Settings { size: 40, scales: 1, optimizer: Optimizer::Lbfgs, ..Settings::default() };
    let mut a = Session::new(engine.clone(), &content, &style, &s).unwrap();
    a.step(2, false).unwrap();
    for (bad, name) in [(Settings { size: 48, ..s.clone() }, "`size`"), (Settings { pooling: stylize::Pooling::Avg, ..s.clone() }, "`pooling`")] {
        let e = a.steer(&bad).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("cannot change during a run"), "{e}");
    }
    let e = a.steer(&Settings { style_weight: -1.0, ..s.clone() }).unwrap_err().to_string();
    assert!(e.contains("style weight must be"), "{e}");
    assert_eq!(a.settings(), &s, "a refused change changes nothing");
    a.steer(&Settings { style_weight: 3.0, lr: Some(0.5), ..s.clone() }).unwrap();
    a.step(2, false).unwrap();
    let l = pollster::block_on(a.losses()).unwrap();
    assert!(l.total.is_finite());
    engine.gpu.check().unwrap();
    let _ = gpu();
}
