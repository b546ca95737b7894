//! Steering a live run: changing the loss weights, the style layer weights and the step of a
//! session mid-run gives exactly what a session built with the new settings computes from the same
//! image and optimiser state (whole and over tiles), keeps the optimiser's state, and refuses any
//! other change with a clear error.

mod common;
use common::*;
use stylize::session::Inputs;
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
    // relu4_2 and the first three style layers (a 48-px halo; both settings leave relu4_1 and
    // relu5_1 at 0, so both plan the same exact tiles): 32-px cores over 128×96 (the painting
    // 119×128) are tiles whose inputs are real parts of the image.
    let (content, style) = (picture(128, 96, 1), picture(56, 60, 2));
    for tile_size in [0, 32] {
        let s1 = Settings {
            size: 128,
            scales: 1,
            optimizer: Optimizer::Adam,
            init: Init::Noise,
            seed: 3,
            tile_size,
            style_layer_weights: [1.0, 0.75, 0.2, 0.0, 0.0],
            ..Settings::default()
        };
        let s2 = Settings { content_weight: 0.3, style_weight: 300.0, tv_weight: 5.0, style_layer_weights: [0.5, 1.0, 0.1, 0.0, 0.0], lr: Some(2.5), ..s1.clone() };
        let mut a = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &s1).unwrap();
        if tile_size > 0 {
            let (grid, sgrid) = (a.plan().grid.as_ref().unwrap(), a.plan().style_grid.as_ref().unwrap());
            assert_eq!((grid.width, grid.height, sgrid.width, sgrid.height, grid.halo), (128, 96, 119, 128, 48));
            assert_real_tiles(grid, "the photo");
            assert_real_tiles(sgrid, "the painting");
        }
        a.step(3, false).unwrap();
        a.steer(&s2).unwrap();
        assert_eq!(a.settings(), &s2);
        let x = pollster::block_on(a.image_f32()).unwrap();
        let (m, v, st) = pollster::block_on(a.adam_state().unwrap()).unwrap();
        a.step(2, false).unwrap();
        let (la, xa) = (pollster::block_on(a.losses()).unwrap(), pollster::block_on(a.image_f32()).unwrap());

        let mut b = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &s2).unwrap();
        assert_eq!(b.plan().grid, a.plan().grid, "the same tiles");
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
    let s = Settings { size: 40, scales: 1, optimizer: Optimizer::Lbfgs, init: Init::Noise, seed: 3, ..Settings::default() };
    let next = Settings { content_weight: 0.3, style_weight: 3.0, tv_weight: 5.0, style_layer_weights: [0.5, 1.0, 0.1, 0.4, 0.3], lr: Some(0.5), ..s.clone() };
    let n = 3 * 40 * 40;
    let gradient = |session: &Session| pollster::block_on(engine.gpu.read_f32(session.gradient_buffer(), 0, n)).unwrap();
    let rel = |p: f32, q: f32| ((p - q).abs() / q.abs().max(1e-20)) as f64;
    let loss_err =
        |a: &stylize::Losses, b: &stylize::Losses| [rel(a.content, b.content), rel(a.style, b.style), rel(a.tv, b.tv), rel(a.total, b.total)].into_iter().fold(0.0, f64::max);
    let mut a = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &s).unwrap();
    a.step(2, false).unwrap();
    for (bad, name) in [(Settings { size: 48, ..s.clone() }, "`size`"), (Settings { pooling: stylize::Pooling::Avg, ..s.clone() }, "`pooling`")] {
        let e = a.steer(&bad).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("cannot change during a run"), "{e}");
    }
    let e = a.steer(&Settings { style_weight: -1.0, ..s.clone() }).unwrap_err().to_string();
    assert!(e.contains("style weight must be"), "{e}");
    assert_eq!(a.settings(), &s, "a refused change changes nothing");

    // Mid-run: the steered session's losses and gradient at its image are those of a session built
    // with the new settings from that image.
    let x = pollster::block_on(a.image_f32()).unwrap();
    a.steer(&next).unwrap();
    a.evaluate().unwrap();
    let (la, ga) = (pollster::block_on(a.losses()).unwrap(), gradient(&a));
    let mut b = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &next).unwrap();
    b.set_image_f32(&x).unwrap();
    b.evaluate().unwrap();
    let (lb, gb) = (pollster::block_on(b.losses()).unwrap(), gradient(&b));
    let (loss, grad) = (loss_err(&la, &lb), max_rel(&ga, &gb));
    eprintln!("L-BFGS steered mid-run vs built, at the same image: losses within {loss:.2e}, gradient within {grad:.2e} of its largest value ({la:?})");
    assert!(loss < 1e-5, "steered {la:?} vs built {lb:?}");
    assert!(grad < 1e-5, "gradients differ by {grad:.2e}");
    assert!((la.total - (0.3 * la.content + 3.0 * la.style + 5.0 * la.tv)).abs() <= 1e-4 * la.total.abs(), "the new weighting: {la:?}");
    a.step(2, false).unwrap();
    assert!(pollster::block_on(a.losses()).unwrap().total.is_finite());

    // The step (L-BFGS's lr): its state (the pairs) cannot be read or set, so it is steered before
    // the first iteration; three iterations from the same image and the same (empty) state then
    // take the trajectory of a session built with the new settings.
    let mut c = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &s).unwrap();
    c.steer(&next).unwrap();
    c.step(3, false).unwrap();
    let (lc, xc) = (pollster::block_on(c.losses()).unwrap(), pollster::block_on(c.image_f32()).unwrap());
    let mut d = Session::new(engine.clone(), &Inputs::new(content.clone(), style.clone()), &next).unwrap();
    d.step(3, false).unwrap();
    let (ld, xd) = (pollster::block_on(d.losses()).unwrap(), pollster::block_on(d.image_f32()).unwrap());
    let (loss, image) = (loss_err(&lc, &ld), max_rel(&xc, &xd));
    eprintln!("L-BFGS steered before the first step vs built, 3 iterations: losses within {loss:.2e}, image within {image:.2e} of its largest value ({lc:?})");
    assert!(loss < 1e-5, "steered {lc:?} vs built {ld:?}");
    assert!(image < 1e-5, "images differ by {image:.2e}");
    engine.gpu.check().unwrap();
    let _ = gpu();
}
