//! flow.wgsl: grey, pyramid, flow upsampling, the Lucas–Kanade step, the consistency check and
//! the warp against their f64 references; then the whole pyramidal flow against known motion
//! (translations, a rotation, a square moving over a still background) and its occlusion mask.

use super::*;
use stylize::kernels::{Flow, FlowConfig};

/// A smooth texture: per channel, a sum of sinusoids with periods of 7–23 px (so bilinear
/// interpolation of a sampled copy is accurate), 0..255, evaluated anywhere.
struct Texture {
    waves: Vec<[f64; 5]>, // channel, kx, ky, phase, amplitude
}

impl Texture {
    fn new(seed: u64) -> Texture {
        let r = random(3 * 6 * 4, 0.0, 1.0, seed);
        let waves = (0..18)
            .map(|k| {
                let (a, b, c, d) = (r[4 * k] as f64, r[4 * k + 1] as f64, r[4 * k + 2] as f64, r[4 * k + 3] as f64);
                let period = 7.0 + 16.0 * a;
                let angle = std::f64::consts::TAU * b;
                let kk = std::f64::consts::TAU / period;
                [(k / 6) as f64, kk * angle.cos(), kk * angle.sin(), std::f64::consts::TAU * c, 10.0 + 12.0 * d]
            })
            .collect();
        Texture { waves }
    }

    fn at(&self, c: usize, x: f64, y: f64) -> f64 {
        128.0 + self.waves.iter().filter(|w| w[0] as usize == c).map(|w| w[4] * (w[1] * x + w[2] * y + w[3]).sin()).sum::<f64>()
    }

    /// A network-space frame `[3][h][w]` whose pixel (x, y) shows the texture at `src(x, y)`.
    fn frame(&self, w: usize, h: usize, src: impl Fn(f64, f64) -> (f64, f64)) -> Vec<f32> {
        let n = w * h;
        let mut v = vec![0f32; 3 * n];
        for i in 0..n {
            let (sx, sy) = src((i % w) as f64, (i / w) as f64);
            for c in 0..3 {
                v[c * n + i] = (self.at(c, sx, sy) - stylize::kernels::MEAN_BGR[c] as f64) as f32;
            }
        }
        v
    }
}

#[test]
fn flow_kernels_match_their_references() {
    let gpu = gpu();
    for (w, h) in [(13usize, 9usize), (20, 17)] {
        let n = w * h;
        let dims = (w, h);
        let img = random(3 * n, -120.0, 120.0, 3);
        let src = gpu.storage_init("img", &img);
        let out = nan_buffer(gpu, n);
        let got = run_read(gpu, &[&kernels::flow_gray(gpu, dims, &src, &out)], &out, n);
        assert_close(&format!("flow_gray {w}x{h}"), &got, &cpu::flow_gray(&to_f64(&img), n), 1e-3, 1e-6);

        let grey = random(n, 0.0, 255.0, 4);
        let g = gpu.storage_init("grey", &grey);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let out = nan_buffer(gpu, cw * ch);
        let got = run_read(gpu, &[&kernels::flow_down(gpu, dims, &g, &out)], &out, cw * ch);
        assert_close(&format!("flow_down {w}x{h}"), &got, &cpu::flow_down(&to_f64(&grey), w, h), 1e-4, 1e-6);

        let coarse = random(2 * cw * ch, -3.0, 3.0, 5);
        let c = gpu.storage_init("coarse", &coarse);
        let out = nan_buffer(gpu, 2 * n);
        let got = run_read(gpu, &[&kernels::flow_up(gpu, dims, &c, &out)], &out, 2 * n);
        assert_close(&format!("flow_up {w}x{h}"), &got, &cpu::flow_up(&to_f64(&coarse), w, h), 1e-5, 1e-6);

        // Lucas–Kanade on a textured pair (frame b = frame a moved by (0.8, −0.4)) from a rough estimate.
        let tex = Texture::new(6);
        let a = cpu::flow_gray(&to_f64(&tex.frame(w, h, |x, y| (x, y))), n);
        let b = cpu::flow_gray(&to_f64(&tex.frame(w, h, |x, y| (x - 0.8, y + 0.4))), n);
        let (a, b): (Vec<f32>, Vec<f32>) = (a.iter().map(|&v| v as f32).collect(), b.iter().map(|&v| v as f32).collect());
        let est = random(2 * n, -0.5, 0.5, 7);
        let (ga, gb, e) = (gpu.storage_init("g0", &a), gpu.storage_init("g1", &b), gpu.storage_init("est", &est));
        for radius in [1, 3] {
            let cfg = FlowConfig { radius, ..FlowConfig::default() };
            let out = nan_buffer(gpu, 2 * n);
            let got = run_read(gpu, &[&kernels::flow_lk(gpu, dims, cfg, &e, &ga, &gb, &out)], &out, 2 * n);
            let want = cpu::flow_lk(&to_f64(&est), &to_f64(&a), &to_f64(&b), w, h, radius as usize, cfg.reg as f64);
            // A 2×2 solve of sums of (2r+1)² products of grey-level gradients: f32 rounding of
            // the sums, amplified by the system's condition number.
            assert_close(&format!("flow_lk r={radius} {w}x{h}"), &got, &want, 1e-3, 1e-3);
        }

        // Consistency: f constant with a block moving differently (motion boundaries); g = −f
        // resampled where f lands, except a band where it is off by 3 px (inconsistent).
        let mut f = vec![0f32; 2 * n];
        for i in 0..n {
            let (x, y) = (i % w, i / w);
            let block = (3..8).contains(&x) && (2..6).contains(&y);
            (f[i], f[n + i]) = if block { (-2.0, 1.0) } else { (1.0, -1.0) };
        }
        let mut g = vec![0f32; 2 * n];
        for i in 0..n {
            let off = if (i % w) >= w - 4 { 3.0 } else { 0.0 };
            (g[i], g[n + i]) = (-1.0 + off, 1.0);
        }
        let (fb, gbuf) = (gpu.storage_init("f", &f), gpu.storage_init("g", &g));
        let out = nan_buffer(gpu, n);
        let got = run_read(gpu, &[&kernels::flow_check(gpu, dims, &fb, &gbuf, &out)], &out, n);
        let want = cpu::flow_check(&to_f64(&f), &to_f64(&g), w, h);
        assert!(want.contains(&1.0) && want.contains(&0.0), "both outcomes occur");
        assert_close(&format!("flow_check {w}x{h}"), &got, &want, 0.0, 0.0);

        let flow = random(2 * n, -4.0, 4.0, 8);
        let image = random(3 * n, -120.0, 120.0, 9);
        let (fl, im) = (gpu.storage_init("flow", &flow), gpu.storage_init("image", &image));
        let out = nan_buffer(gpu, 3 * n);
        let got = run_read(gpu, &[&kernels::flow_warp(gpu, dims, &fl, &im, &out)], &out, 3 * n);
        assert_close(&format!("flow_warp {w}x{h}"), &got, &cpu::flow_warp(&to_f64(&flow), &to_f64(&image), w, h), 1e-3, 1e-5);
    }
}

/// The flow from frame `a` to frame `b` (network-space `[3][h][w]`), by the whole pyramid.
fn estimate(gpu: &stylize::Gpu, (w, h): (usize, usize), a: &[f32], b: &[f32]) -> Vec<f32> {
    let flow = Flow::new(gpu, (w, h), FlowConfig::default());
    let (ba, bb) = (gpu.storage_init("a", a), gpu.storage_init("b", b));
    let out = nan_buffer(gpu, 2 * w * h);
    let ds = flow.estimate(gpu, &ba, &bb, &out);
    gpu.run(&ds.iter().collect::<Vec<_>>());
    let v = pollster::block_on(gpu.read_f32(&out, 0, 2 * w * h)).expect("readback");
    gpu.check().expect("no GPU validation error");
    v
}

/// Mean endpoint error of `flow` against `truth(x, y)` over the pixels `keep(x, y)` selects.
fn epe(flow: &[f32], (w, h): (usize, usize), truth: impl Fn(f64, f64) -> (f64, f64), keep: impl Fn(usize, usize) -> bool) -> f64 {
    let n = w * h;
    let (mut sum, mut count) = (0.0, 0);
    for i in 0..n {
        let (x, y) = (i % w, i / w);
        if keep(x, y) {
            let (u, v) = truth(x as f64, y as f64);
            sum += ((flow[i] as f64 - u).powi(2) + (flow[n + i] as f64 - v).powi(2)).sqrt();
            count += 1;
        }
    }
    assert!(count > 0);
    sum / count as f64
}

#[test]
fn the_flow_recovers_translations_and_a_rotation() {
    let gpu = gpu();
    let tex = Texture::new(11);
    let margin = 8;
    for ((w, h), d) in [((64usize, 48usize), (1.6, -0.7)), ((96, 64), (5.3, 2.4))] {
        // Frame b shows at x what frame a shows at x − d: a's pixel x moves to x + d.
        let a = tex.frame(w, h, |x, y| (x, y));
        let b = tex.frame(w, h, |x, y| (x - d.0, y - d.1));
        let f = estimate(gpu, (w, h), &a, &b);
        let e = epe(&f, (w, h), |_, _| d, |x, y| x >= margin && y >= margin && x + margin < w && y + margin < h);
        println!("translation {d:?} at {w}x{h}: mean endpoint error {e:.4} px");
        assert!(e < 0.5, "translation {d:?} at {w}x{h}: mean endpoint error {e:.3} px");
    }
    let (w, h) = (64usize, 64usize);
    let (cx, cy, t) = (31.5, 31.5, 3f64.to_radians());
    let rot = move |x: f64, y: f64, s: f64| (cx + (x - cx) * t.cos() - s * (y - cy) * t.sin(), cy + s * (x - cx) * t.sin() + (y - cy) * t.cos());
    // b shows at x what a shows at R⁻¹x: a's pixel x moves to Rx.
    let a = tex.frame(w, h, |x, y| (x, y));
    let b = tex.frame(w, h, move |x, y| rot(x, y, -1.0));
    let f = estimate(gpu, (w, h), &a, &b);
    let e = epe(
        &f,
        (w, h),
        move |x, y| {
            let (rx, ry) = rot(x, y, 1.0);
            (rx - x, ry - y)
        },
        |x, y| x >= margin && y >= margin && x + margin < w && y + margin < h,
    );
    println!("rotation 3° at {w}x{h}: mean endpoint error {e:.4} px");
    assert!(e < 0.5, "rotation: mean endpoint error {e:.3} px");
}

#[test]
fn a_moving_square_gets_its_flow_and_the_uncovered_background_is_masked() {
    let gpu = gpu();
    let (w, h) = (64usize, 64usize);
    let n = w * h;
    let (bg, fg) = (Texture::new(21), Texture::new(22));
    let (p0, d, side) = ((18.0, 20.0), (4.0, 3.0), 20.0);
    let inside = |x: f64, y: f64, p: (f64, f64)| x >= p.0 && x < p.0 + side && y >= p.1 && y < p.1 + side;
    let frame = |p: (f64, f64)| {
        let mut v = bg.frame(w, h, |x, y| (x, y));
        let sq = fg.frame(w, h, |x, y| (x - p.0, y - p.1));
        for i in 0..n {
            if inside((i % w) as f64, (i / w) as f64, p) {
                (0..3).for_each(|c| v[c * n + i] = sq[c * n + i]);
            }
        }
        v
    };
    let p1 = (p0.0 + d.0, p0.1 + d.1);
    let (a, b) = (frame(p0), frame(p1));
    let forward = estimate(gpu, (w, h), &a, &b);
    let backward = estimate(gpu, (w, h), &b, &a);
    // Interior EPE of the forward flow: the square's inside (5 px in) moves by d, the background
    // away from the square (8 px out, 6 px from the frame's edges) stays.
    let near = |x: f64, y: f64, p: (f64, f64), m: f64| x >= p.0 - m && x < p.0 + side + m && y >= p.1 - m && y < p.1 + side + m;
    let e_square = epe(&forward, (w, h), |_, _| d, |x, y| inside(x as f64 - 5.0, y as f64 - 5.0, p0) && inside(x as f64 + 5.0, y as f64 + 5.0, p0));
    let far = |x: usize, y: usize| {
        let (fx, fy) = (x as f64, y as f64);
        !near(fx, fy, p0, 8.0) && !near(fx, fy, p1, 8.0) && x >= 6 && y >= 6 && x + 6 < w && y + 6 < h
    };
    let e_background = epe(&forward, (w, h), |_, _| (0.0, 0.0), far);
    println!("moving square: mean endpoint error {e_square:.4} px inside, {e_background:.4} px on the background");
    assert!(e_square < 0.5 && e_background < 0.5, "moving square: EPE {e_square:.3} inside, {e_background:.3} outside");

    // Frame b's reliability (its flow to a, checked against a's flow to b), as a video frame uses it.
    let (fb, ff) = (gpu.storage_init("backward", &backward), gpu.storage_init("forward", &forward));
    let c_buf = nan_buffer(gpu, n);
    gpu.run(&[&kernels::flow_check(gpu, (w, h), &fb, &ff, &c_buf)]);
    let c = pollster::block_on(gpu.read_f32(&c_buf, 0, n)).expect("readback");
    // Uncovered in b: where the square was in a and is not in b.
    let uncovered: Vec<usize> = (0..n).filter(|&i| inside((i % w) as f64, (i / w) as f64, p0) && !inside((i % w) as f64, (i / w) as f64, p1)).collect();
    let masked = uncovered.iter().filter(|&&i| c[i] == 0.0).count() as f64 / uncovered.len() as f64;
    let kept: Vec<usize> = (0..n).filter(|&i| far(i % w, i / w)).collect();
    let reliable = kept.iter().filter(|&&i| c[i] == 1.0).count() as f64 / kept.len() as f64;
    println!("moving square: {:.1}% of the {} uncovered pixels masked, {:.1}% of the far background reliable", 100.0 * masked, uncovered.len(), 100.0 * reliable);
    assert!(masked >= 0.9, "uncovered pixels masked: {:.1}%", 100.0 * masked);
    assert!(reliable >= 0.95, "far background reliable: {:.1}%", 100.0 * reliable);

    // Frame a warped by b's flow is frame b where the mask says so.
    let (ia, wb) = (gpu.storage_init("a", &a), nan_buffer(gpu, 3 * n));
    gpu.run(&[&kernels::flow_warp(gpu, (w, h), &fb, &ia, &wb)]);
    let warped = pollster::block_on(gpu.read_f32(&wb, 0, 3 * n)).expect("readback");
    let (mut err, mut count) = (0.0, 0);
    for i in (0..n).filter(|&i| c[i] == 1.0) {
        for ch in 0..3 {
            err += (warped[ch * n + i] - b[ch * n + i]).abs() as f64;
            count += 1;
        }
    }
    let mean = err / count as f64;
    println!("moving square: |warp(a) − b| = {mean:.3} grey levels over reliable pixels");
    assert!(mean < 2.0, "warped frame vs the next one: {mean:.2}");
}
