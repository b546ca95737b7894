//! Command-line front end: argument parsing, file I/O, progress display, trace and benchmark.

mod bench;
mod chunks;
mod video;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use stylize::record::{InputRecord, RunRecord};
use stylize::session::Masks;
use stylize::{Colors, Engine, Error, Gpu, GpuOptions, Init, Optimizer, Pooling, Run, Settings, TileMode, VggWeights};

/// Neural style transfer (Gatys et al.) on the GPU: repaints CONTENT in the style of STYLE.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GPU adapter, its limits and features, and the memory a session needs per size.
    Info(InfoArgs),
    /// Time one iteration at a size: whole step and each layer's forward and backward.
    Bench(bench::BenchArgs),
    /// Stylise a directory of video frames so that they agree with each other (optical flow and
    /// a temporal loss): `stylize video IN_DIR OUT_DIR --style PAINTING`.
    Video(video::VideoArgs),
}

#[derive(Args)]
struct InfoArgs {
    /// Output sizes (longer side, square images) to print the memory plan for.
    #[arg(long, value_delimiter = ',', default_values_t = [256u32, 512, 1024, 2048])]
    sizes: Vec<u32>,
    #[command(flatten)]
    tiles: TileArgs,
}

/// Memory budget and tiling flags, shared by the run, `info` and `bench`.
#[derive(Args)]
pub(crate) struct TileArgs {
    /// GPU memory a run may use, weights included (e.g. 1GiB, 512MiB, 3GB). A size whose whole
    /// network would not fit runs over tiles that do.
    #[arg(long, value_parser = parse_bytes)]
    pub(crate) memory_budget: Option<u64>,
    /// Run the network over tiles with cores of this many pixels (a multiple of 16; 0 = only when
    /// the memory budget needs tiles).
    #[arg(long, default_value_t = 0)]
    pub(crate) tile_size: u32,
    /// How tiles run: exact (two passes, equals the untiled run) or fast (one pass per tile, Gram
    /// matrices one iteration stale, 32-px halos).
    #[arg(long, value_enum, default_value = "exact")]
    pub(crate) tile_mode: TileModeArg,
    /// Tile halo in pixels (multiple of 16); 0 = the mode's (exact: the receptive field of the
    /// deepest layer with a loss).
    #[arg(long, default_value_t = 0)]
    pub(crate) tile_halo: u32,
}

impl TileArgs {
    /// `base` with these tiling settings.
    pub(crate) fn settings(&self, base: Settings) -> Settings {
        Settings { tile_size: self.tile_size, tile_mode: self.tile_mode.mode(), tile_halo: self.tile_halo, ..base }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TileModeArg {
    Exact,
    Fast,
}

impl TileModeArg {
    pub(crate) fn mode(self) -> TileMode {
        match self {
            TileModeArg::Exact => TileMode::Exact,
            TileModeArg::Fast => TileMode::Fast,
        }
    }
}

/// Parses a byte count: `1GiB`, `512MiB`, `3GB`, `800M`, `1.5G`, `123456` (K/M/G/T are binary,
/// KB/MB/GB/TB decimal).
pub(crate) fn parse_bytes(v: &str) -> Result<u64, String> {
    let t = v.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{v}` is not a size in bytes (e.g. 1GiB, 512MiB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(format!("`{v}`: unknown unit `{unit}` (use B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    let bytes = n * mult;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("`{v}` is not a usable memory budget"));
    }
    Ok(bytes as u64)
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Adam,
    Lbfgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// Parses `128:300,256:200,512:150`.
fn parse_schedule(v: &str) -> Result<Vec<(u32, u32)>, String> {
    v.split(',')
        .map(|part| {
            let (a, b) = part.split_once(':').ok_or_else(|| format!("`{part}` is not SIZE:ITERATIONS"))?;
            Ok((a.trim().parse().map_err(|_| format!("`{a}` is not a size"))?, b.trim().parse().map_err(|_| format!("`{b}` is not a number of iterations"))?))
        })
        .collect()
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorsArg {
    Painting,
    Luminance,
    Match,
    Swap,
}

#[derive(Clone, Copy, ValueEnum)]
enum PoolArg {
    Max,
    Avg,
}

#[derive(Args)]
struct RunArgs {
    /// The photo to repaint (PNG, JPEG, WebP, GIF, BMP).
    #[arg(required = true)]
    content: Option<PathBuf>,
    /// The painting whose style to use.
    #[arg(required = true)]
    style: Option<PathBuf>,
    /// Output image (.png or .jpg).
    #[arg(short, long, required = true)]
    output: Option<PathBuf>,
    /// Longer side of the output, in pixels.
    #[arg(long, default_value_t = Settings::default().size)]
    size: u32,
    /// Optimisation steps at the final scale; each smaller scale k steps below it runs
    /// min(2, √2^k) times as many (e.g. --size 256 --iterations 100: 128:200, 181:141, 256:100).
    #[arg(long, default_value_t = Settings::default().iterations)]
    iterations: u32,
    /// Coarse-to-fine scales: 0 = from --min-size up to --size in steps of √2; 1 = one scale.
    #[arg(long, default_value_t = Settings::default().scales)]
    scales: u32,
    /// The smallest scale's longer side (with --scales 0).
    #[arg(long, default_value_t = Settings::default().min_size)]
    min_size: u32,
    /// Explicit schedule SIZE:ITERATIONS,… ascending (overrides --size, --iterations, --scales).
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<std::vec::Vec<(u32, u32)>>,
    /// The optimiser (Adam needs about twice the iterations for the same loss).
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// L-BFGS correction pairs kept.
    #[arg(long, default_value_t = Settings::default().history)]
    history: u32,
    /// Show and save the average of the iterates (decay 0.99) instead of the last iterate.
    #[arg(long, value_enum, default_value = "off")]
    average: OnOff,
    /// Between scales, resample Adam's moments instead of restarting them.
    #[arg(long, value_enum, default_value = "off")]
    resample_moments: OnOff,
    /// α, weight of the content loss.
    #[arg(long, default_value_t = Settings::default().content_weight)]
    content_weight: f32,
    /// β, weight of the style loss.
    #[arg(long, default_value_t = Settings::default().style_weight)]
    style_weight: f32,
    /// τ, weight of the total-variation loss.
    #[arg(long, default_value_t = Settings::default().tv_weight)]
    tv_weight: f32,
    /// Weights of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in the style loss.
    #[arg(long, value_delimiter = ',', default_value = "1,0.75,0.2,0.2,0.2")]
    style_layer_weights: Vec<f32>,
    /// The optimiser's step, in pixel units (0..255); default 4 for Adam, 1 for L-BFGS.
    #[arg(long)]
    lr: Option<f32>,
    /// Starting image: `content`, `noise`, or an image file (resized to the first scale; the
    /// scales smaller than it are skipped). With --iterations 0 --scales 1, prints the losses of
    /// that image at --size.
    #[arg(long, default_value = "content")]
    init: String,
    /// Seed for --init noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Pooling between VGG blocks.
    #[arg(long, value_enum, default_value = "max")]
    pooling: PoolArg,
    /// Whose colours the result has: the painting's; the photo's by luminance-only transfer
    /// (YIQ), by matching the painting's palette (mean and covariance of RGB), or by swapping
    /// the result's chroma for the photo's afterwards.
    #[arg(long, value_enum, default_value = "painting")]
    colors: ColorsArg,
    /// A further painting to blend (repeat for up to four in all, in order after STYLE).
    #[arg(long = "style", value_name = "FILE")]
    more_styles: Vec<PathBuf>,
    /// Blend weights of the paintings, STYLE first (e.g. 0.7,0.3; normalised; default equal).
    #[arg(long, value_delimiter = ',')]
    style_blend: Vec<f32>,
    /// Each painting's scale relative to the output, STYLE first (default: --style-scale).
    #[arg(long, value_delimiter = ',')]
    style_scales: Vec<f32>,
    /// Style image scale relative to the output size.
    #[arg(long, default_value_t = 1.0)]
    style_scale: f32,
    /// VGG19 weights (safetensors). Default: $STYLIZE_WEIGHTS, else assets/vgg19-conv-f16.safetensors.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Also save the image every N iterations (OUT-NNNN.png).
    #[arg(long)]
    save_every: Option<u32>,
    /// Write losses as JSON lines (iteration, content, style, tv, total, elapsed_ms).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Read the losses back every N iterations (progress and trace).
    #[arg(long, default_value_t = 10)]
    report_every: u32,
    /// Region mask (an image the size of the photo, or any size: resized): regions painted in
    /// flat colours, each given a painting or the photo with --region-style.
    #[arg(long, value_name = "FILE")]
    mask: Option<PathBuf>,
    /// What a region of --mask matches: `'#ff0000=starry.jpg'` (a painting: STYLE, a --style
    /// file, or another file) or `'#0000ff=photo'` (keep the photo there). Repeat for up to four;
    /// the mask's other pixels take STYLE.
    #[arg(long, value_name = "COLOR=PAINTING|photo")]
    region_style: Vec<String>,
    /// A style mask over a painting, in the colours of --mask: each region then matches only
    /// its part of that painting (the rest of the photo, the painting's unlisted colours).
    /// `MASK` for STYLE, or `PAINTING=MASK` for another painting of the run. Repeatable.
    #[arg(long, value_name = "[PAINTING=]MASK")]
    style_mask: Vec<String>,
    /// Steer the run at a run iteration (counted over all scales): `ITER:key=value[;key=value]`
    /// with keys style-weight, content-weight, tv-weight, lr, style-layer-weights and style-blend
    /// (lists separated by `/`, e.g. `120:style-weight=100;style-blend=0.2/0.8`). Repeatable.
    #[arg(long, value_parser = parse_steer)]
    steer: Vec<Steer>,
    /// Start from the settings recorded in a PNG that stylize wrote (the page's downloads too);
    /// the flags given here override them. Notes when an input is not the recorded one.
    #[arg(long)]
    settings_from: Option<PathBuf>,
    #[command(flatten)]
    tiles: TileArgs,
}

/// A scripted change of a live run (`--steer`).
#[derive(Clone, Debug)]
struct Steer {
    at: u32,
    changes: Vec<(String, Vec<f32>)>,
}

/// Parses `120:style-weight=100;style-blend=0.2/0.8`.
fn parse_steer(v: &str) -> Result<Steer, String> {
    let (at, rest) = v.split_once(':').ok_or_else(|| format!("`{v}` is not ITER:key=value"))?;
    let at = at.trim().parse().map_err(|_| format!("`{at}` is not an iteration"))?;
    let keys = ["style-weight", "content-weight", "tv-weight", "lr", "style-layer-weights", "style-blend"];
    let changes = rest
        .split(';')
        .map(|kv| {
            let (k, val) = kv.split_once('=').ok_or_else(|| format!("`{kv}` is not key=value"))?;
            let k = k.trim();
            if !keys.contains(&k) {
                return Err(format!("`{k}` cannot be steered (use {})", keys.join(", ")));
            }
            let vals = val.split('/').map(|x| x.trim().parse::<f32>().map_err(|_| format!("`{x}` is not a number"))).collect::<Result<Vec<_>, _>>()?;
            Ok((k.to_string(), vals))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Steer { at, changes })
}

impl Steer {
    /// `s` with these changes.
    fn apply(&self, s: &Settings) -> Result<Settings, Error> {
        let mut s = s.clone();
        for (k, v) in &self.changes {
            let one = || v.first().copied().filter(|_| v.len() == 1).ok_or_else(|| Error::Settings(format!("--steer: {k} takes one number")));
            match k.as_str() {
                "style-weight" => s.style_weight = one()?,
                "content-weight" => s.content_weight = one()?,
                "tv-weight" => s.tv_weight = one()?,
                "lr" => s.lr = Some(one()?),
                "style-layer-weights" => s.style_layer_weights = v.clone().try_into().map_err(|_| Error::Settings("--steer: style-layer-weights takes 5 numbers".into()))?,
                _ => s.style_blend = v.clone(),
            }
        }
        Ok(s)
    }

    fn describe(&self) -> String {
        self.changes.iter().map(|(k, v)| format!("{k} {}", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("/"))).collect::<Vec<_>>().join(", ")
    }
}

/// The run's flags that are settings, by their `Settings` field name (which is the flag's id).
#[rustfmt::skip]
const SETTING_FLAGS: [&str; 24] = [
    "size", "iterations", "content_weight", "style_weight", "tv_weight", "style_layer_weights", "lr", "optimizer", "history", "average",
    "resample_moments", "scales", "min_size", "schedule", "init", "seed", "pooling", "style_scale", "colors", "style_blend", "style_scales",
    "tile_size", "tile_mode", "tile_halo",
];

/// The settings recorded in the PNG at `path`, with those of `flags` given on the command line.
fn settings_from(path: &Path, flags: &Settings, matches: &clap::ArgMatches) -> Result<(Settings, RunRecord), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    let which = |e: Error| match e {
        Error::Image(m) | Error::Settings(m) => Error::Settings(format!("--settings-from {}: {m}", path.display())),
        e => e,
    };
    let record = stylize::record::read_png_record(&bytes)
        .map_err(which)?
        .ok_or_else(|| Error::Settings(format!("--settings-from {}: it carries no stylize settings (PNGs that stylize writes do)", path.display())))?;
    let mut merged = serde_json::to_value(&record.settings).expect("settings serialise");
    let given = serde_json::to_value(flags).expect("settings serialise");
    for id in SETTING_FLAGS {
        if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
            merged[id] = given[id].clone();
        }
    }
    let settings = serde_json::from_value(merged).map_err(|e| Error::Settings(format!("--settings-from {}: {e}", path.display())))?;
    Ok((settings, record))
}

/// `#rrggbb`, `#rgb` or `r,g,b`.
fn parse_color(v: &str) -> Option<[u8; 3]> {
    let v = v.trim();
    if let Some(hex) = v.strip_prefix('#') {
        let d = |i: usize, n: usize| u8::from_str_radix(hex.get(i..i + n)?, 16).ok();
        return match hex.len() {
            6 => Some([d(0, 2)?, d(2, 2)?, d(4, 2)?]),
            3 => Some([d(0, 1)? * 17, d(1, 1)? * 17, d(2, 1)? * 17]),
            _ => None,
        };
    }
    let parts: Vec<u8> = v.split(',').map(|p| p.trim().parse().ok()).collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// The name and SHA-256 of the input file at `path`.
fn input_record(path: &Path) -> Result<InputRecord, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(InputRecord { name, sha256: stylize::record::sha256_hex(&bytes) })
}

/// Parses the arguments (and keeps the matches, to tell the flags given from defaults); a usage
/// error ends the process with one line on stderr and exit code 2 (`--help` and `--version` print
/// as usual).
fn parse_args() -> (Cli, clap::ArgMatches) {
    use clap::{CommandFactory, FromArgMatches};
    match Cli::command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m))) {
        Ok(parsed) => parsed,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = e.render().to_string();
            let message: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty() && !l.starts_with("Usage:")).collect();
            eprintln!("{} (see stylize --help)", message.join(" "));
            std::process::exit(2);
        }
    }
}

/// Runs the CLI; every failure becomes one line on stderr and exit code 1.
pub fn main() -> anyhow::Result<()> {
    let (cli, matches) = parse_args();
    match cli.command {
        Some(Command::Info(a)) => {
            let gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
            println!("{}", gpu.describe());
            let s = a.tiles.settings(Settings::default());
            s.validate()?;
            print_memory_plans(&gpu, &a.sizes, &s, a.tiles.memory_budget);
            Ok(())
        }
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Video(args)) => video::run(args),
        None => run(cli.run, &matches),
    }
}

/// Prints, per square size, the GPU memory of an untiled session (weights, activations,
/// gradients, optimiser state, targets) in both storage precisions, and the plan a run on this
/// device would use within `budget` (whole or tiled, from [`stylize::plan::Plan::choose`]).
fn print_memory_plans(gpu: &Gpu, sizes: &[u32], s: &Settings, budget: Option<u64>) {
    use stylize::plan::{Budget, Plan};
    let ch = stylize::vgg::vgg19_channels();
    let max = gpu.max_storage_bytes();
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let weights = |p| stylize::vgg::weight_bytes(&ch, p);
    let budget = Budget::for_device(gpu, budget.unwrap_or(u64::MAX), weights(gpu.variant()));
    let budget_text = if budget.total == u64::MAX { "none".to_string() } else { format!("{:.0} MiB", mib(budget.total)) };
    println!(
        "memory per session, weights included (content and style N×N; this device stores {:?}, conv {}; binds {} MiB, whole-image buffers up to {} MiB; budget {budget_text}):",
        gpu.precision,
        gpu.variant().conv_name(),
        max >> 20,
        gpu.max_buffer_bytes() >> 20
    );
    println!("{:>6} {:>14} {:>14}  this device", "N", "whole, f32", "whole, f16");
    for &n in sizes {
        let n = n as usize;
        let whole = |p| mib(Plan::whole(n, n, (n, n), &ch, p, s).peak() + weights(p));
        let choose = |s: &Settings| Plan::choose(n, n, (n, n), &ch, gpu.variant(), s, budget);
        // As a run plans a scale (`plan::fitted`): where L-BFGS does not fit, Adam.
        let fallback = || if s.optimizer == stylize::Optimizer::Lbfgs { choose(&s.with_adam()).ok() } else { None };
        let here = match choose(s) {
            Ok(p) => p.summary(budget.weights),
            Err(stylize::Error::TooLarge { fits, buffer, .. }) => match fallback() {
                Some(p) => format!("Adam, where L-BFGS would not fit: {}", p.summary(budget.weights)),
                None => format!("does not fit ({buffer}); ≤ {fits} px fits"),
            },
            Err(e) => e.to_string(),
        };
        println!(
            "{n:>6} {:>10.1} MiB {:>10.1} MiB  {here}",
            whole(stylize::Variant { precision: stylize::Precision::F32, ..gpu.variant() }),
            whole(stylize::Variant { precision: stylize::Precision::F16, ..gpu.variant() })
        );
    }
}

/// Opens the device and starts the run; when a kernel fails to compile on this device, warns
/// and falls back (Winograd → direct GEMM, f16 → f32 storage, tiled → direct kernels) on a new device instead of failing.
fn start_run(weights: &VggWeights, inputs: stylize::session::Inputs, settings: &Settings, init: Option<&image::RgbaImage>, budget: Option<u64>) -> Result<Run, Error> {
    let mut opts = GpuOptions::default();
    loop {
        let gpu = pollster::block_on(Gpu::new(&opts))?;
        let variant = gpu.variant();
        let engine = Engine::new(gpu, weights)?;
        if let Some(b) = budget {
            engine.set_memory_budget(b);
        }
        match pollster::block_on(Run::start(engine, inputs.clone(), settings, init)) {
            Err(Error::Kernel(msg)) => {
                let Some(next) = variant.fallback() else { return Err(Error::Kernel(msg)) };
                eprintln!(
                    "warning: {} kernels with {:?} storage failed on this GPU ({msg}); falling back to {} kernels with {:?} storage",
                    variant.conv_name(),
                    variant.precision,
                    next.conv_name(),
                    next.precision
                );
                opts.conv_path = Some(next.path);
                opts.precision = Some(next.precision);
                opts.winograd = Some((next.winograd, next.wino_tile));
            }
            other => return other,
        }
    }
}

/// Finds the weights file: the flag, $STYLIZE_WEIGHTS, ./assets, or assets/ beside the repository
/// the binary was built in.
pub fn weights_path(flag: Option<PathBuf>) -> PathBuf {
    if let Some(p) = flag.or_else(|| std::env::var_os("STYLIZE_WEIGHTS").map(PathBuf::from)) {
        return p;
    }
    let local = PathBuf::from("assets/vgg19-conv-f16.safetensors");
    if local.exists() {
        return local;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vgg19-conv-f16.safetensors");
    if built.exists() {
        built
    } else {
        local
    }
}

fn check_output(path: &Path) -> Result<(), Error> {
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
        return Err(Error::Io(format!("output {}: use a .png or .jpg file name", path.display())));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let probe = dir.join(format!(".stylize-write-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
    let _ = std::fs::remove_file(&probe);
    if path.is_dir() {
        return Err(Error::Io(format!("cannot write {}: it is a directory", path.display())));
    }
    Ok(())
}

/// Writes `img` to `path` (PNG with `record` inside it, or JPEG).
fn save(img: &image::RgbaImage, path: &Path, record: &RunRecord) -> Result<(), Error> {
    let failed = |e: &dyn std::fmt::Display| Error::Io(format!("cannot write {}: {e}", path.display()));
    let is_png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return image::DynamicImage::ImageRgba8(img.clone()).to_rgb8().save(path).map_err(|e| failed(&e));
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| failed(&e))?;
    let png = stylize::record::insert_png_record(&png, record)?;
    std::fs::write(path, png).map_err(|e| failed(&e))
}

/// `stylize CONTENT STYLE -o OUT …`: the flags become settings ([`settings_of`], with
/// `--settings-from`), the inputs are read ([`Inputs::read`]), the run starts and is driven to the
/// end in chunks ([`drive`], [`chunks`]), then the shown image is written with its record.
fn run(a: RunArgs, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let out = a.output.clone().unwrap();
    let flags = settings_of(&a)?;
    let (settings, recorded) = match &a.settings_from {
        Some(p) => settings_from(p, &flags, matches).map(|(s, r)| (s, Some(r)))?,
        None => (flags, None),
    };
    settings.validate()?;
    if a.report_every == 0 || a.save_every == Some(0) {
        return Err(Error::Settings("--report-every and --save-every must be at least 1".into()).into());
    }
    check_output(&out)?;
    let (inputs, settings) = Inputs::read(&a, settings)?;
    let made_from = inputs.record(&a, &settings, recorded.as_ref())?;
    let weights = VggWeights::load(&weights_path(a.weights.clone()))?;
    let mut report = Report::new(a.trace.as_deref())?;
    let images = stylize::session::Inputs::blend(inputs.content.clone(), inputs.paintings.clone()).masked(inputs.masks());
    let mut run = start_run(&weights, images, &settings, inputs.init.as_ref(), a.tiles.memory_budget)?;
    let made_from = made_from(run.session().engine().gpu.summary());
    report.begin(&run, &settings);
    drive(&mut run, &a, &out, &made_from, &mut report)?;
    let (w, h) = run.session().size();
    let n = run.iterations_done();
    let scale = run.scale();
    let session = run.session_mut();
    session.adopt_average()?;
    session.evaluate()?;
    let last = pollster::block_on(session.losses())?;
    report.losses(last, scale)?;
    let img = pollster::block_on(session.image())?;
    save(&img, &out, &made_from)?;
    report.finish(&out, (w, h), n, last)
}

/// The settings the flags ask for (before `--settings-from` and the regions).
fn settings_of(a: &RunArgs) -> Result<Settings, Error> {
    Ok(Settings {
        size: a.size,
        iterations: a.iterations,
        content_weight: a.content_weight,
        style_weight: a.style_weight,
        tv_weight: a.tv_weight,
        style_layer_weights: a.style_layer_weights.clone().try_into().map_err(|_| Error::Settings("--style-layer-weights needs 5 values".into()))?,
        lr: a.lr,
        optimizer: match a.optimizer {
            OptimizerArg::Adam => Optimizer::Adam,
            OptimizerArg::Lbfgs => Optimizer::Lbfgs,
        },
        history: a.history,
        average: matches!(a.average, OnOff::On),
        resample_moments: matches!(a.resample_moments, OnOff::On),
        scales: a.scales,
        min_size: a.min_size,
        schedule: a.schedule.clone().unwrap_or_default(),
        init: match a.init.as_str() {
            "noise" => Init::Noise,
            _ => Init::Content,
        },
        seed: a.seed,
        pooling: match a.pooling {
            PoolArg::Max => Pooling::Max,
            PoolArg::Avg => Pooling::Avg,
        },
        style_scale: a.style_scale,
        colors: match a.colors {
            ColorsArg::Painting => Colors::Painting,
            ColorsArg::Luminance => Colors::Luminance,
            ColorsArg::Match => Colors::Match,
            ColorsArg::Swap => Colors::Swap,
        },
        style_blend: match (a.style_blend.is_empty(), a.more_styles.len()) {
            (true, 0) => Vec::new(),
            (true, more) => vec![1.0; more + 1],
            (false, _) => a.style_blend.clone(),
        },
        style_scales: a.style_scales.clone(),
        ..a.tiles.settings(Settings::default())
    })
}

/// What a run reads: the photo, the paintings (STYLE, each `--style`, each new painting a
/// `--region-style` names) with their paths, the region mask, the style masks and the initial image.
struct Inputs {
    content_path: PathBuf,
    content: image::RgbaImage,
    paintings: Vec<image::RgbaImage>,
    style_paths: Vec<PathBuf>,
    mask: Option<image::RgbaImage>,
    style_masks: Vec<Option<(PathBuf, image::RgbaImage)>>,
    init: Option<image::RgbaImage>,
}

impl Inputs {
    /// Reads the images the flags name and completes `settings` with the regions
    /// (`--region-style`) and the blend weights they imply; checks the sizes.
    fn read(a: &RunArgs, settings: Settings) -> Result<(Inputs, Settings), Error> {
        let (content_path, style_path) = (a.content.clone().unwrap(), a.style.clone().unwrap());
        let content = stylize::image_io::load(&content_path)?;
        let mut paintings = vec![stylize::image_io::load(&style_path)?];
        for p in &a.more_styles {
            paintings.push(stylize::image_io::load(p)?);
        }
        if paintings.len() != settings.paintings() {
            return Err(Error::Settings(format!("{} paintings need {} blend weights (--style-blend), got {}", paintings.len(), paintings.len(), settings.style_blend.len())));
        }
        let mut style_paths: Vec<PathBuf> = std::iter::once(style_path).chain(a.more_styles.iter().cloned()).collect();
        // Region control: each --region-style names a colour and a painting (added when new) or the photo.
        let mut settings = settings;
        let mask = match &a.mask {
            Some(p) => Some(stylize::image_io::load(p)?),
            None => None,
        };
        if mask.is_none() != a.region_style.is_empty() {
            return Err(Error::Settings("--mask and --region-style go together: the mask, and what each of its colours matches".into()));
        }
        for spec in &a.region_style {
            let (colour, what) = spec.split_once('=').ok_or_else(|| Error::Settings(format!("--region-style `{spec}` is not COLOR=PAINTING or COLOR=photo")))?;
            let color = parse_color(colour).ok_or_else(|| Error::Settings(format!("--region-style: `{colour}` is not a colour (#rrggbb)")))?;
            let painting = if what.eq_ignore_ascii_case("photo") {
                None
            } else {
                let p = PathBuf::from(what);
                let known = style_paths.iter().position(|q| q == &p || q.file_name().is_some_and(|n| Some(n) == p.file_name() && !p.exists()));
                Some(match known {
                    Some(k) => k,
                    None => {
                        paintings.push(stylize::image_io::load(&p)?);
                        style_paths.push(p);
                        style_paths.len() - 1
                    }
                })
            };
            settings.regions.push(stylize::session::Region { color, painting });
        }
        // Style masks, each for a painting of the run (named as in --region-style; STYLE by default).
        let mut style_masks: Vec<Option<(PathBuf, image::RgbaImage)>> = vec![None; paintings.len()];
        for spec in &a.style_mask {
            let (painting, file) = match spec.split_once('=') {
                Some((p, f)) => (Some(PathBuf::from(p)), PathBuf::from(f)),
                None => (None, PathBuf::from(spec)),
            };
            let k = match &painting {
                None => 0,
                Some(p) => style_paths
                    .iter()
                    .position(|q| q == p || q.file_name().is_some_and(|n| Some(n) == p.file_name()))
                    .ok_or_else(|| Error::Settings(format!("--style-mask `{spec}`: {} is not a painting of this run (STYLE, --style or --region-style)", p.display())))?,
            };
            if style_masks[k].is_some() {
                return Err(Error::Settings(format!("--style-mask: painting {} has two style masks", style_paths[k].display())));
            }
            style_masks[k] = Some((file.clone(), stylize::image_io::load(&file)?));
        }
        if !settings.regions.is_empty() && settings.style_blend.len() != paintings.len() && paintings.len() > 1 {
            // With regions each region matches its own painting: the weights only count them.
            settings.style_blend = vec![1.0; paintings.len()];
        }
        settings.validate()?;
        let dims: Vec<(u32, u32)> = paintings.iter().map(|p| (p.width(), p.height())).collect();
        stylize::plan::sizes(content.width(), content.height(), &dims, &settings.at_scale(settings.final_size(), 0))?;
        let init = match a.init.as_str() {
            "content" | "noise" => None,
            path => Some(stylize::image_io::load(Path::new(path))?),
        };
        Ok((Inputs { content_path, content, paintings, style_paths, mask, style_masks, init }, settings))
    }

    /// The masks as the engine takes them.
    fn masks(&self) -> Masks {
        Masks { regions: self.mask.clone(), paintings: self.style_masks.iter().map(|m| m.as_ref().map(|(_, img)| img.clone())).collect() }
    }

    /// The record the output PNG carries (given the adapter's summary); notes the inputs that are
    /// not the ones `recorded` names.
    fn record(&self, a: &RunArgs, settings: &Settings, recorded: Option<&RunRecord>) -> Result<impl FnOnce(String) -> RunRecord, Error> {
        let inputs = (input_record(&self.content_path)?, input_record(&self.style_paths[0])?);
        let more_inputs = self.style_paths[1..].iter().map(|p| input_record(p)).collect::<Result<Vec<_>, _>>()?;
        if let Some(r) = recorded {
            for (what, given, rec) in [("photo", &inputs.0, &r.content), ("painting", &inputs.1, &r.style)] {
                if given.sha256 != rec.sha256 {
                    eprintln!("note: {} is not the recorded {what} {} (its SHA-256 differs): the result will differ", given.name, rec.name);
                }
            }
        }
        let mask = a.mask.as_deref().map(input_record).transpose()?;
        let style_masks = if self.style_masks.iter().any(Option::is_some) {
            self.style_masks.iter().map(|m| m.as_ref().map(|(p, _)| input_record(p)).transpose()).collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let settings = settings.clone();
        Ok(move |adapter: String| RunRecord { more_paintings: more_inputs, mask, style_masks, ..RunRecord::new(&settings, inputs.0, inputs.1, adapter) })
    }
}

/// Where the run's progress goes: the progress bar (or plain lines when stderr is not a
/// terminal), the trace file, the final line.
struct Report {
    trace: Option<std::io::BufWriter<std::fs::File>>,
    bar: ProgressBar,
    /// Work (pixel-iterations) of one iteration at the final size: the bar counts in those.
    final_px: f64,
    start: Instant,
    /// L-BFGS: the steps its safeguard took back in the scales finished (`None` with Adam).
    taken_back: Option<u32>,
    /// The (scale, iteration, total) of the last trace line.
    traced: Option<(usize, u32, f32)>,
}

impl Report {
    fn new(trace: Option<&Path>) -> Result<Report, Error> {
        let trace = match trace {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| Error::Io(format!("cannot write {}: {e}", p.display())))?)),
            None => None,
        };
        Ok(Report { trace, bar: ProgressBar::hidden(), final_px: 1.0, start: Instant::now(), taken_back: None, traced: None })
    }

    /// The bar for `run`'s work and the line saying what runs where.
    fn begin(&mut self, run: &Run, settings: &Settings) {
        self.final_px = run.scales().last().map_or(1.0, |s| s.work);
        self.bar = ProgressBar::new((run.work().0 / self.final_px).round() as u64);
        self.bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} final-size it  ETA {eta}  {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        // A scale where L-BFGS does not fit the memory budget runs Adam (`plan::fitted`): named.
        let other = |s: &stylize::session::Scale| if s.optimizer == settings.optimizer { String::new() } else { format!(" {:?}", s.optimizer) };
        let plan: Vec<String> = run.scales().iter().map(|s| format!("{}×{}:{}{}", s.width, s.height, s.iterations, other(s))).collect();
        self.say(format!(
            "{} scale{} ({}), {:?}{} on {}",
            plan.len(),
            if plan.len() == 1 { "" } else { "s" },
            plan.join(", "),
            settings.optimizer,
            if settings.average { " with averaging" } else { "" },
            run.session().engine().gpu.adapter_info.name
        ));
        self.start = Instant::now();
    }

    /// A line above the bar; printed plainly when the bar is hidden (stderr not a terminal).
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}")
        } else {
            self.bar.println(line)
        }
    }

    /// The work done so far on the bar.
    fn progress(&self, run: &Run) {
        self.bar.set_position((run.work().1 / self.final_px).round() as u64);
    }

    /// Losses read back at `scale`: on the bar and as a trace line.
    fn losses(&mut self, l: stylize::Losses, scale: usize) -> Result<(), Error> {
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        self.bar.set_message(format!("scale {}  content {:.3e}  style {:.3e}  tv {:.3e}  total {:.3e}", scale + 1, l.content, l.style, l.tv, l.total));
        // The run's final evaluation can repeat the losses an L-BFGS scale's end already reported.
        // (The same image evaluated twice; with averaging on, the average's line is another image's.)
        let repeated = self.traced.is_some_and(|(s, i, t)| (s, i) == (scale, l.iteration) && (t - l.total).abs() <= 1e-6 * t.abs());
        self.traced = Some((scale, l.iteration, l.total));
        if let Some(t) = self.trace.as_mut().filter(|_| !repeated) {
            let line = serde_json::json!({
                "scale": scale, "iteration": l.iteration, "content": l.content, "style": l.style, "tv": l.tv,
                "total": l.total, "elapsed_ms": (ms * 10.0).round() / 10.0,
            });
            writeln!(t, "{line}").and_then(|_| t.flush()).map_err(|e| Error::Io(format!("writing the trace: {e}")))?;
        }
        Ok(())
    }

    /// Adds the steps the current scale's L-BFGS took back (once, at the scale's end).
    fn count_steps_taken_back(&mut self, run: &Run) -> Result<(), Error> {
        if let Some(f) = run.session().steps_taken_back() {
            *self.taken_back.get_or_insert(0) += pollster::block_on(f)?;
        }
        Ok(())
    }

    /// The run is over: the output's line with its losses.
    fn finish(self, out: &Path, (w, h): (u32, u32), n: u32, last: stylize::Losses) -> anyhow::Result<()> {
        self.bar.finish();
        if let Some(mut t) = self.trace {
            t.flush().map_err(|e| Error::Io(format!("writing the trace: {e}")))?;
        }
        let secs = self.start.elapsed().as_secs_f64();
        eprintln!(
            "wrote {} ({w}×{h}) in {:.1} s, {:.2} it/s; losses of the image written: content {:.4e}, style {:.4e}, tv {:.4e}, total {:.4e}",
            out.display(),
            secs,
            n as f64 / secs,
            last.content,
            last.style,
            last.tv,
            last.total
        );
        if let Some(k) = self.taken_back.filter(|&k| k > 0) {
            eprintln!("L-BFGS took back {k} step{} whose loss rose by more than 1% or was not finite", if k == 1 { "" } else { "s" });
        }
        Ok(())
    }
}

/// Runs every scale of `run` to its end in chunks ([`chunks::chunk_end`]): scripted steering
/// (`--steer`) at its iteration, losses read back every `--report-every`, the image saved every
/// `--save-every` (as OUT-NNNN.png).
fn drive(run: &mut Run, a: &RunArgs, out: &Path, made_from: &RunRecord, report: &mut Report) -> anyhow::Result<()> {
    let mut steers = a.steer.clone();
    steers.sort_by_key(|st| st.at);
    loop {
        let scale = run.scale();
        let n = run.scales()[scale].iterations;
        {
            let (w, h) = run.session().size();
            let memory = run.session().plan().summary(run.session().engine().weight_bytes());
            report.say(format!("scale {} of {} · {w} × {h} px · {n} iterations · {memory}", scale + 1, run.scales().len()));
        }
        while run.session().iteration() < n {
            let t = run.session().iteration();
            // Scripted steering due at this run iteration.
            while steers.first().is_some_and(|st| st.at <= run.iterations_done()) {
                let st = steers.remove(0);
                let next_settings = st.apply(run.settings())?;
                run.steer(&next_settings)?;
                report.say(format!("steered at iteration {}: {}", run.iterations_done(), st.describe()));
            }
            let steer_in = steers.first().map(|st| st.at.saturating_sub(run.iterations_done()));
            let end = chunks::chunk_end(t, n, a.report_every, a.save_every, steer_in);
            run.session_mut().step(end - t, false)?;
            report.progress(run);
            if chunks::reports_after(end, a.report_every) {
                report.losses(pollster::block_on(run.session().losses())?, scale)?;
            }
            if chunks::saves_after(end, n, a.save_every) {
                let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
                let ext = out.extension().and_then(|s| s.to_str()).unwrap_or("png");
                let p = out.with_file_name(format!("{stem}-{:04}.{ext}", run.iterations_done()));
                save(&pollster::block_on(run.session().image())?, &p, made_from)?;
            }
        }
        report.count_steps_taken_back(run)?;
        if run.at_last_scale() {
            return Ok(());
        }
        pollster::block_on(run.next_scale())?;
    }
}
