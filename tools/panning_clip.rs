//! A panning clip for the video benchmarks: N frames of SIZE px, windows moving 2 px right and 1 px
//! down per frame over PHOTO resized to 3×2 the frame size (as `panning_clip` in tests/cli.rs),
//! written as OUT_DIR/frame-00.png, ….
//!   cargo run --release --example panning-clip -- PHOTO OUT_DIR N SIZE

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [photo, out, n, size] = args.as_slice() else {
        eprintln!("usage: panning-clip PHOTO OUT_DIR N SIZE");
        std::process::exit(2);
    };
    let (n, size): (u32, u32) = match (n.parse(), size.parse()) {
        (Ok(n), Ok(s)) if s >= 16 => (n, s),
        _ => {
            eprintln!("panning-clip: N and SIZE (≥ 16) must be numbers");
            std::process::exit(2);
        }
    };
    if 10 + 2 * (n - 1) > 2 * size || 6 + (n - 1) > size {
        eprintln!("panning-clip: {n} frames would pan off a scene of 3×2 frames of {size} px: fewer frames or a larger size");
        std::process::exit(2);
    }
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        std::fs::create_dir_all(out)?;
        let photo = image::open(photo)?.to_rgba8();
        let scene = image::imageops::resize(&photo, 3 * size, 2 * size, image::imageops::FilterType::Triangle);
        for k in 0..n {
            let frame = image::imageops::crop_imm(&scene, 10 + 2 * k, 6 + k, size, size).to_image();
            frame.save(std::path::Path::new(out).join(format!("frame-{k:02}.png")))?;
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("panning-clip: {e}");
        std::process::exit(1);
    }
}
