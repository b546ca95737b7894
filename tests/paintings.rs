//! Several paintings: the style targets are the paintings' Gram matrices blended by the
//! normalised weights, each painting at its own scale — checked against the f64 reference — the
//! same over tiles as on the whole image, steerable mid-run, and a mismatch is a clear error.

mod common;
use common::*;
use stylize::reference as cpu;
use stylize::session::Inputs;
use stylize::{Engine, GpuOptions, Init, Precision, Session, Settings, VggWeights};

fn picture(w: u32, h: u32, k: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([((x * 7 + y * 3 * k) % 256) as u8, ((x * y / 3 + k * 40) % 256) as u8, ((y * 5 + x * k) % 256) as u8, 255]))
}

/// The photo's tile grid of a tiled session, and each painting's (as the session tiles them: at
/// its own size, with the plan's core and halo).
fn assert_session_tiles(s: &Session, paintings: &[image::RgbaImage], settings: &Settings) {
    let plan = s.plan();
    let grid = plan.grid.as_ref().expect("a tiled plan");
    assert_real_tiles(grid, "the photo");
    let (w, h) = s.size();
    let dims: Vec<(u32, u32)> = paintings.iter().map(|p| (p.width(), p.height())).collect();
    let (_, sizes) = stylize::plan::sizes(w, h, &dims, settings).unwrap();
    for (k, &(sw, sh)) in sizes.iter().enumerate() {
        assert_real_tiles(&stylize::tiles::TileGrid::new(sw as usize, sh as usize, grid.core, grid.halo), &format!("painting {}", k + 1));
    }
}

fn engine(weights: &VggWeights) -> std::rc::Rc<Engine> {
    let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(Precision::F32), ..Default::default() })).unwrap();
    Engine::new(gpu, weights).unwrap()
}

#[test]
fn two_paintings_blend_their_grams_each_at_its_own_scale() {
    let weights = VggWeights::random(8, 13);
    let engine = engine(&weights);
    let content = picture(24, 20, 1);
    let paintings = [picture(30, 22, 2), picture(40, 44, 3)];
    let settings = Settings { size: 24, scales: 1, init: Init::Noise, seed: 2, style_blend: vec![0.7, 0.3], style_scales: vec![1.0, 1.5], ..Settings::default() };
    let mut s = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings.to_vec()), &settings).unwrap();
    s.evaluate().unwrap();
    let (w, h) = (24usize, 20usize);
    assert_eq!(s.size(), (w as u32, h as u32));
    let gpu_losses = pollster::block_on(s.losses()).unwrap();
    let x = to_f64(&pollster::block_on(engine.gpu.read_f32(s.image_buffer(), 0, 3 * w * h)).unwrap());
    engine.gpu.check().unwrap();

    // The reference: each painting resized as the session does (longer side 24 and 36 px), its
    // Grams, blended 0.7 / 0.3.
    let c_in = cpu::preprocess(content.as_raw());
    let dims: Vec<(u32, u32)> = paintings.iter().map(|p| (p.width(), p.height())).collect();
    let (_, sizes) = stylize::plan::sizes(24, 20, &dims, &settings).unwrap();
    assert_eq!(sizes[1].0.max(sizes[1].1), 36, "the second painting at 1.5× the output");
    let mut blended: Option<cpu::RefTargets> = None;
    for (p, (&(sw, sh), wk)) in paintings.iter().zip(sizes.iter().zip([0.7, 0.3])) {
        let px = stylize::resample::resize(p, sw as usize, sh as usize);
        let t = cpu::targets(&weights, &c_in, w, h, &cpu::preprocess(px.as_raw()), sw as usize, sh as usize, settings.pooling);
        blended = Some(match blended {
            None => cpu::RefTargets { content: t.content, grams: t.grams.iter().map(|g| g.iter().map(|v| wk * v).collect()).collect() },
            Some(mut b) => {
                for (bg, g) in b.grams.iter_mut().zip(&t.grams) {
                    bg.iter_mut().zip(g).for_each(|(a, v)| *a += wk * v);
                }
                b
            }
        });
    }
    let l = cpu::losses(&weights, &x, w, h, &blended.unwrap(), settings.style_layer_weights, settings.pooling);
    let rel = (gpu_losses.style as f64 - l.style).abs() / l.style;
    eprintln!("two paintings: GPU style loss {} vs reference {:.6e} (relative {rel:.1e})", gpu_losses.style, l.style);
    assert!(rel < 1e-4, "the blended style loss");
    assert!((gpu_losses.content as f64 - l.content).abs() / l.content < 1e-4);
}

#[test]
fn tiles_steering_and_a_mismatch() {
    let weights = VggWeights::random(8, 5);
    let engine = engine(&weights);
    // relu4_2 and the first three style layers: a 48-px halo, so 32-px cores over 160×120 (and
    // the paintings: 160×128, 80×128, 192×192) make tiles whose inputs are real parts of the image.
    let (w, h) = (160usize, 120usize);
    let content = picture(w as u32, h as u32, 1);
    let paintings = [picture(80, 64, 2), picture(56, 90, 3), picture(72, 72, 4)];
    let base = Settings {
        size: w as u32,
        scales: 1,
        init: Init::Noise,
        seed: 3,
        style_layer_weights: [1.0, 0.75, 0.2, 0.0, 0.0],
        style_blend: vec![0.5, 0.3, 0.2],
        style_scales: vec![1.0, 0.8, 1.2],
        ..Settings::default()
    };
    let eval = |s: &Settings| {
        let mut session = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings.to_vec()), s).unwrap();
        if s.tile_size > 0 {
            assert_session_tiles(&session, &paintings, s);
        }
        session.evaluate().unwrap();
        let g = pollster::block_on(engine.gpu.read_f32(session.gradient_buffer(), 0, 3 * w * h)).unwrap();
        (pollster::block_on(session.losses()).unwrap(), g)
    };
    let (lw, gw) = eval(&base);
    let (lt, gt) = eval(&Settings { tile_size: 32, ..base.clone() });
    let gmax = gw.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gerr = gw.iter().zip(&gt).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / gmax;
    eprintln!("three paintings over 32-px tiles: total {} vs {} whole; gradient within {gerr:.1e} of max |g|", lt.total, lw.total);
    assert!(((lt.total - lw.total) / lw.total).abs() < 1e-4 && gerr < 1e-4, "tiles equal the whole image with three paintings");

    // Steering the blend equals building with it.
    let next = Settings { style_blend: vec![0.1, 0.1, 0.8], ..base.clone() };
    let mut a = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings.to_vec()), &base).unwrap();
    a.steer(&next).unwrap();
    a.evaluate().unwrap();
    let steered = pollster::block_on(a.losses()).unwrap();
    let (built, _) = eval(&next);
    eprintln!("steered blend: style {} vs built {}", steered.style, built.style);
    assert!(((steered.style - built.style) / built.style).abs() < 1e-5, "steered {steered:?} vs built {built:?}");
    assert!(((steered.style - lw.style) / lw.style).abs() > 1e-3, "the blend matters");
    let e = a.steer(&Settings { style_blend: vec![0.5, 0.5], ..base.clone() }).unwrap_err().to_string();
    assert!(e.contains("number of paintings"), "{e}");

    let e = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings[..2].to_vec()), &base).err().unwrap().to_string();
    assert!(e.contains("2 painting(s) need as many blend weights (got 3)"), "{e}");
    let e = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings.to_vec()), &Settings { style_blend: vec![0.5, -1.0, 1.0], ..base.clone() })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("blend weights must be"), "{e}");
    engine.gpu.check().unwrap();
    let _ = gpu();
}

/// Regions over tiles equal regions on the whole image (exact tiles), and the plan is what is
/// created, whole and tiled; so with style masks on both paintings (each region then matches its
/// part of its painting, summed over the painting's tiles too), which change the style loss.
#[test]
fn regions_over_tiles_equal_the_whole_image() {
    let weights = VggWeights::random(8, 21);
    let engine = engine(&weights);
    // relu4_2 and the first three style layers (a 48-px halo) over 160×120 (paintings 160×128
    // and 128×160) with 32-px cores: every tile's input is a part of the image, most of them at a
    // non-zero origin, so the masks are cropped there.
    let (w, h) = (160usize, 120usize);
    let content = picture(w as u32, h as u32, 1);
    let paintings = [picture(80, 64, 2), picture(64, 80, 3)];
    // Left: painting 2; a band in the middle keeps the photo; the rest: painting 1. (The edges
    // fall inside cores, not on their boundaries.)
    let mask = image::RgbaImage::from_fn(w as u32, h as u32, |x, y| {
        if x < 72 {
            image::Rgba([255, 0, 0, 255])
        } else if (50..82).contains(&y) {
            image::Rgba([0, 0, 255, 255])
        } else {
            image::Rgba([0, 0, 0, 255])
        }
    });
    let regions = vec![stylize::session::Region { color: [255, 0, 0], painting: Some(1) }, stylize::session::Region { color: [0, 0, 255], painting: None }];
    let base = Settings {
        size: w as u32,
        scales: 1,
        init: Init::Noise,
        seed: 4,
        style_layer_weights: [1.0, 0.75, 0.2, 0.0, 0.0],
        style_blend: vec![1.0, 1.0],
        regions,
        ..Settings::default()
    };
    // Painting 1's unlisted left half is the rest's part; painting 2's top half is the red region's.
    let style_masks = vec![
        Some(image::RgbaImage::from_fn(80, 64, |x, _| if x < 40 { image::Rgba([0, 0, 0, 255]) } else { image::Rgba([255, 0, 0, 255]) })),
        Some(image::RgbaImage::from_fn(64, 80, |_, y| if y < 40 { image::Rgba([255, 0, 0, 255]) } else { image::Rgba([0, 0, 0, 255]) })),
    ];
    let eval_with = |s: &Settings, masks: &stylize::session::Masks| {
        let before = engine.gpu.storage_bytes_created();
        let mut session = Session::new(engine.clone(), &Inputs::blend(content.clone(), paintings.to_vec()).masked(masks.clone()), s).unwrap();
        assert_eq!(session.plan().total(), engine.gpu.storage_bytes_created() - before, "the plan is what is created (tiles {})", s.tile_size);
        if s.tile_size > 0 {
            assert_session_tiles(&session, &paintings, s);
        }
        session.evaluate().unwrap();
        let g = pollster::block_on(engine.gpu.read_f32(session.gradient_buffer(), 0, 3 * w * h)).unwrap();
        (pollster::block_on(session.losses()).unwrap(), g, session.plan().summary(0))
    };
    let rel = |a: f32, b: f32| ((a - b) / b).abs();
    let mut whole_style = Vec::new();
    for (what, masks) in
        [("", stylize::session::Masks::regions(mask.clone())), (" with style masks", stylize::session::Masks { regions: Some(mask.clone()), paintings: style_masks.clone() })]
    {
        let (lw, gw, _) = eval_with(&base, &masks);
        let (lt, gt, plan) = eval_with(&Settings { tile_size: 32, ..base.clone() }, &masks);
        let gmax = gw.iter().fold(0f32, |m, v| m.max(v.abs()));
        let gerr = gw.iter().zip(&gt).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / gmax;
        eprintln!(
            "regions{what} over tiles ({plan}): style {} vs {} whole, total within {:.1e}; gradient within {gerr:.1e} of max |g|",
            lt.style,
            lw.style,
            rel(lt.total, lw.total)
        );
        assert!(rel(lt.style, lw.style) < 1e-4 && rel(lt.total, lw.total) < 1e-4 && gerr < 1e-4, "tiles {lt:?} vs whole {lw:?}, gradient {gerr:.1e}");
        whole_style.push(lw.style);
    }
    assert!(rel(whole_style[1], whole_style[0]) > 1e-2, "the style masks change the targets: {whole_style:?}");
    engine.gpu.check().unwrap();
}
