//! `stylize video IN_DIR OUT_DIR`: the frames of IN_DIR (PNG/JPEG, sorted by name) stylised one
//! after another with optical flow and the temporal loss ([`stylize::video`]), written to OUT_DIR
//! under their own names as PNGs, with one line per frame and a summary (the mean temporal error:
//! what flicker is).

use clap::Args;
use std::path::{Path, PathBuf};
use stylize::video::{FrameSchedule, Video};
use stylize::{Engine, Error, Gpu, GpuOptions, Settings, VggWeights};

#[derive(Args)]
pub struct VideoArgs {
    /// Directory of frames (PNG or JPEG), in name order.
    input: PathBuf,
    /// Directory for the stylised frames (created; existing files of the same names are replaced).
    output: PathBuf,
    /// The painting.
    #[arg(long)]
    style: PathBuf,
    /// Output's longer side in pixels.
    #[arg(long, default_value_t = Settings::default().size)]
    size: u32,
    /// Iterations of the first frame (at its final scale; it runs coarse to fine).
    #[arg(long, default_value_t = Settings::default().iterations)]
    iterations: u32,
    /// Iterations of every later frame (one scale, from the previous result warped into it).
    #[arg(long, default_value_t = FrameSchedule::default().iterations)]
    frame_iterations: u32,
    /// γ: weight of the temporal loss (mean over the reliable pixels of (x − warped previous)²).
    #[arg(long, default_value_t = FrameSchedule::default().temporal_weight)]
    temporal_weight: f32,
    /// Stylise every frame on its own (no flow, no temporal loss; the first frame's run each
    /// time): the comparison that shows the flicker. The temporal error is still measured.
    #[arg(long)]
    independent: bool,
    /// β: weight of the style loss.
    #[arg(long, default_value_t = Settings::default().style_weight)]
    style_weight: f32,
    /// α: weight of the content loss.
    #[arg(long, default_value_t = Settings::default().content_weight)]
    content_weight: f32,
    /// τ: weight of the total-variation loss.
    #[arg(long, default_value_t = Settings::default().tv_weight)]
    tv_weight: f32,
    /// Coarse-to-fine scales of the first frame (0: automatic).
    #[arg(long, default_value_t = Settings::default().scales)]
    scales: u32,
    /// Weights file (default: as for a run).
    #[arg(long)]
    weights: Option<PathBuf>,
}

/// The frames of `dir`: its PNG and JPEG files in name order.
fn frames(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io(format!("cannot read the frames directory {}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| ["png", "jpg", "jpeg"].contains(&x.to_ascii_lowercase().as_str())))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(Error::Io(format!("{} holds no frames (PNG or JPEG files)", dir.display())));
    }
    Ok(v)
}

pub fn run(a: VideoArgs) -> anyhow::Result<()> {
    let settings = Settings {
        size: a.size,
        iterations: a.iterations,
        style_weight: a.style_weight,
        content_weight: a.content_weight,
        tv_weight: a.tv_weight,
        scales: a.scales,
        ..Settings::default()
    };
    settings.validate()?;
    let schedule = FrameSchedule { iterations: a.frame_iterations, temporal_weight: a.temporal_weight, independent: a.independent };
    let files = frames(&a.input)?;
    let painting = stylize::image_io::load(&a.style)?;
    std::fs::create_dir_all(&a.output).map_err(|e| Error::Io(format!("cannot create {}: {e}", a.output.display())))?;
    let weights = VggWeights::load(&super::weights_path(a.weights.clone()))?;
    let engine = Engine::new(pollster::block_on(Gpu::new(&GpuOptions::default()))?, &weights)?;
    let mut video = Video::new(engine, &settings, schedule)?;
    let start = std::time::Instant::now();
    let mut errors = Vec::new();
    let mut styles = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let photo = stylize::image_io::load(file)?;
        let t = std::time::Instant::now();
        let frame = video.frame(&photo, std::slice::from_ref(&painting), |_, _| {})?;
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("frame");
        let out = a.output.join(format!("{name}.png"));
        frame.image.save(&out).map_err(|e| Error::Io(format!("cannot write {}: {e}", out.display())))?;
        let l = frame.losses;
        let temporal = match frame.temporal_error {
            Some((e, share)) => {
                errors.push(e);
                format!("  temporal error {e:.3} over {:.0}% of the pixels", 100.0 * share)
            }
            None => String::new(),
        };
        styles.push(l.style as f64);
        println!(
            "frame {}/{} {}: {} iterations in {:.1} s (flow {:.2} s)  content {:.3e}  style {:.3e}  temporal {:.3e}{temporal}",
            k + 1,
            files.len(),
            out.display(),
            frame.iterations,
            t.elapsed().as_secs_f64(),
            frame.flow_seconds,
            l.content,
            l.style,
            l.temporal
        );
    }
    let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    println!(
        "{} frames in {:.1} s ({}): mean temporal error {:.3} (frames 2–{}), mean style loss {:.4e}",
        files.len(),
        start.elapsed().as_secs_f64(),
        if a.independent { "independent frames".to_string() } else { format!("temporal weight {}, {} iterations per frame", a.temporal_weight, a.frame_iterations) },
        mean(&errors),
        files.len(),
        mean(&styles)
    );
    Ok(())
}
