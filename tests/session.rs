//! The session's structure: the iteration has the number of dispatches ARCHITECTURE.md states, in
//! both storage precisions, built from tiny random weights of the VGG19 layer structure.

mod common;
use common::*;
use stylize::{Engine, GpuOptions, Session, Settings, VggWeights};

/// Serialises this binary's tests, so the live-session count sees only its own sessions.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The two numbers in ARCHITECTURE.md's "one list of N dispatches (M with f16 storage)".
fn documented_counts() -> (usize, usize) {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let at = doc.find("one list of ").expect("ARCHITECTURE.md states the dispatch count") + "one list of ".len();
    let nums: Vec<usize> = doc[at..at + 60].split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(2).map(|s| s.parse().unwrap()).collect();
    (nums[0], nums[1])
}

#[test]
fn iteration_has_the_documented_dispatch_count() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (f32_count, f16_count) = documented_counts();
    let weights = VggWeights::random(8, 3);
    let img = image::RgbaImage::from_fn(24, 20, |x, y| image::Rgba([(x * 9) as u8, (y * 11) as u8, 77, 255]));
    for precision in precisions(gpu()) {
        let gpu = pollster::block_on(stylize::Gpu::new(&GpuOptions { precision: Some(precision), ..Default::default() })).unwrap();
        let engine = Engine::new(gpu, &weights).unwrap();
        let s = Session::new(engine.clone(), &img, &img, &Settings { size: 24, ..Settings::default() }).unwrap();
        let n = s.iteration_dispatches().count();
        let want = if precision == stylize::Precision::F32 { f32_count } else { f16_count };
        eprintln!("{precision:?}: {n} dispatches per iteration");
        assert_eq!(n, want, "{precision:?} storage: ARCHITECTURE.md says {want}");
        engine.gpu.check().unwrap();
    }
}

#[test]
fn live_sessions_counts_what_holds_gpu_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let weights = VggWeights::random(8, 3);
    let engine = Engine::new(pollster::block_on(stylize::Gpu::new(&GpuOptions::default())).unwrap(), &weights).unwrap();
    let img = image::RgbaImage::from_fn(20, 20, |x, y| image::Rgba([(x * 9) as u8, (y * 11) as u8, 77, 255]));
    let before = stylize::session::live_sessions();
    let a = Session::new(engine.clone(), &img, &img, &Settings { size: 20, ..Settings::default() }).unwrap();
    let b = Session::new(engine.clone(), &img, &img, &Settings { size: 20, ..Settings::default() }).unwrap();
    let (bytes, each) = (stylize::session::live_session_bytes(), a.peak_bytes());
    assert_eq!(stylize::session::live_sessions(), before + 2);
    assert_eq!(b.peak_bytes(), each);
    drop((a, b));
    assert_eq!(stylize::session::live_sessions(), before);
    assert_eq!(stylize::session::live_session_bytes(), bytes - 2 * each, "their GPU bytes are released");
}
