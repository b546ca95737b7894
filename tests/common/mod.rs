//! Shared test helpers: one GPU device per test binary (lavapipe in CI), deterministic random
//! data, NaN-filled output buffers, and error statistics for GPU-vs-reference comparisons.
#![allow(dead_code)]

use rand::{RngExt, SeedableRng};
use std::path::PathBuf;
use std::sync::OnceLock;
use stylize::gpu::{Dispatch, Gpu, Precision};

/// The device shared by every test of a binary. Panics (failing the test) without an adapter:
/// CI installs lavapipe, so a missing GPU is a setup error, never a skip.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| pollster::block_on(Gpu::new(&Default::default())).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)"))
}

/// A device that binds at most 64 KiB of a buffer at a time (as a device with a small binding
/// limit would), so the windowed whole-image kernels ([`stylize::kernels::window`]) run several
/// windows at test sizes.
pub fn windowed_gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let opts = stylize::GpuOptions { max_binding: Some(64 << 10), precision: Some(Precision::F32), ..Default::default() };
        let gpu = pollster::block_on(Gpu::new(&opts)).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
        assert_eq!(gpu.max_storage_bytes(), 64 << 10, "the device binds 64 KiB");
        gpu
    })
}

/// The storage precisions this device runs: f32, and f16 where the adapter offers `shader-f16`
/// (lavapipe does; [`f16_tested`] never lets an adapter without it pass silently).
pub fn precisions(gpu: &Gpu) -> Vec<Precision> {
    if f16_tested(gpu.has_f16(), "f16 storage in the kernel tests") {
        vec![Precision::F32, Precision::F16]
    } else {
        vec![Precision::F32]
    }
}

/// Whether the f16 part of a test (`what`) runs on an adapter that does (`has_f16`) or does not
/// offer `shader-f16`. Never silently: an adapter without it fails the test (as the Dawn runner
/// does), unless `STYLIZE_TESTS_WITHOUT_F16=1` says that is expected here; then a loud
/// `SKIPPED` line names what is not tested.
pub fn f16_tested(has_f16: bool, what: &str) -> bool {
    if has_f16 {
        return true;
    }
    assert!(
        std::env::var("STYLIZE_TESTS_WITHOUT_F16").is_ok_and(|v| v == "1"),
        "this adapter ({}) lacks shader-f16, so {what} would go untested: run on an adapter with it (lavapipe has it) or set STYLIZE_TESTS_WITHOUT_F16=1 to skip it knowingly",
        gpu().adapter_info.name
    );
    eprintln!("SKIPPED: {what}: this adapter lacks shader-f16 (STYLIZE_TESTS_WITHOUT_F16=1)");
    false
}

/// Activation values as the GPU sees them after storing them in `p` (f16 rounding).
pub fn round_acts(p: Precision, v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| p.round_act(x)).collect()
}

/// Weights as stored in `p` (f16 rounding).
pub fn round_weights(p: Precision, v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| p.round_weight(x)).collect()
}

/// An activation buffer of `n` NaNs in precision `p`.
pub fn nan_acts(gpu: &Gpu, p: Precision, n: usize) -> wgpu::Buffer {
    gpu.act_init("nan", p, &vec![f32::NAN; n])
}

/// Runs the dispatches, reads `len` activations stored in `p` from `out` (as f32 values), and
/// fails the test on any GPU error. With `STYLIZE_EXPORT_CASES=DIR` set, also records the case
/// (see [`export`]) so the comparisons that follow are replayed under Dawn/Tint.
pub fn run_read_acts(gpu: &Gpu, p: Precision, ds: &[&Dispatch], out: &wgpu::Buffer, len: usize) -> Vec<f32> {
    run_recorded(gpu, ds, out, export::Format::Act(p), || pollster::block_on(gpu.read_act(out, p, len)).expect("readback"))
}

/// Runs the dispatches and reads `px` RGBA8 pixels (one u32 each) from `out`: their bytes, each
/// as an f32 value 0–255 (compared with [`byte_values`] of the reference's bytes). Recorded like
/// [`run_read_acts`].
pub fn run_read_rgba(gpu: &Gpu, ds: &[&Dispatch], out: &wgpu::Buffer, px: usize) -> Vec<f32> {
    run_recorded(gpu, ds, out, export::Format::Rgba8, || pollster::block_on(gpu.read_bytes(out, 0, 4 * px as u64)).expect("readback").into_iter().map(f32::from).collect())
}

/// Snapshots the case (when exporting), runs `ds`, reads `out` with `read` and makes the values
/// the case's first output.
fn run_recorded(gpu: &Gpu, ds: &[&Dispatch], out: &wgpu::Buffer, format: export::Format, read: impl FnOnce() -> Vec<f32>) -> Vec<f32> {
    let pending = export::dir().map(|_| export::snapshot(gpu, ds));
    gpu.run(ds);
    let v = read();
    gpu.check().expect("no GPU validation error");
    if let Some(case) = pending {
        export::pending(case);
        export::output(out, format, &v);
    }
    v
}

/// Reads `len` f32 from `buf`, another buffer the dispatches of the last `run_read` wrote (a
/// gradient beside its loss, the iterate average beside the image). When exporting, one more
/// read-back output of that case, so the comparisons of these values are replayed too.
pub fn read_also(gpu: &Gpu, buf: &wgpu::Buffer, len: usize) -> Vec<f32> {
    let v = pollster::block_on(gpu.read_f32(buf, 0, len)).expect("readback");
    gpu.check().expect("no GPU validation error");
    if export::dir().is_some() {
        export::output(buf, export::Format::F32, &v);
    }
    v
}

/// The column sums of `values` taken in rows of `width` (in f32, row by row): per-workgroup
/// partial rows read back and reduced on the CPU. When exporting, an output of the pending case
/// derived from the one `values` belongs to, so the replay sums Tint's rows the same way and the
/// comparisons of the sums are replayed too.
pub fn row_sums(values: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0f32; width];
    for r in values.chunks(width) {
        sums.iter_mut().zip(r).for_each(|(s, v)| *s += v);
    }
    if export::dir().is_some() {
        export::row_sums(values, width, &sums);
    }
    sums
}

/// Bytes as f64 references for [`run_read_rgba`]'s values.
pub fn byte_values(bytes: &[u8]) -> Vec<f64> {
    bytes.iter().map(|&b| b as f64).collect()
}

/// Recording kernel cases for the Tint test (tests/dawn/run.mjs): every `run_read`,
/// `run_read_acts` and `run_read_rgba` of a kernel test, with the contents of every buffer its
/// dispatches bind before they ran, its read-back outputs (that read, any `read_also` of another
/// bound buffer after it, any `row_sums` of them), and every `assert_close` on them (the f64
/// reference and the tolerances), written as JSON to `$STYLIZE_EXPORT_CASES/cases/`. Nothing is
/// dropped: while exporting, an `assert_close` on values that are no output of the pending case
/// fails the test, naming the check.
pub mod export {
    use super::*;
    use base64::Engine as _;
    use serde_json::{json, Value};
    use std::cell::RefCell;

    /// `$STYLIZE_EXPORT_CASES`, when set.
    pub fn dir() -> Option<PathBuf> {
        std::env::var_os("STYLIZE_EXPORT_CASES").map(PathBuf::from)
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A buffer's bytes: base64, or a 4-byte pattern repeated (NaN-filled outputs, constant
    /// inputs) as `{fill, size}`, so large uniform buffers stay small.
    fn bytes_json(bytes: &[u8]) -> Value {
        if bytes.len() >= 8 && bytes.len().is_multiple_of(4) && bytes.chunks(4).all(|c| c == &bytes[..4]) {
            json!({ "fill": b64(&bytes[..4]), "size": bytes.len() })
        } else {
            json!(b64(bytes))
        }
    }

    /// How a read-back output's values are stored in its buffer.
    #[derive(Clone, Copy, Debug)]
    pub enum Format {
        F32,
        /// Activations in a storage precision (f16: scaled by `F16_ACT_STORE`).
        Act(Precision),
        /// RGBA8 pixels, read as their bytes.
        Rgba8,
    }

    pub struct Case {
        json: Value,
        buffers: Vec<wgpu::Buffer>,          // the bound buffers, numbered as in json["buffers"]
        outputs: Vec<(usize, usize, Value)>, // address and length of each output's values here, and how the replay gets them
        checks: Vec<Value>,
        file: PathBuf,
    }

    impl Case {
        /// The output (index, element offset) that `values` are part of; the latest first.
        fn find(&self, values: &[f32]) -> Option<(usize, usize)> {
            let addr = values.as_ptr() as usize;
            self.outputs
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (start, len, _))| addr >= *start && addr + 4 * values.len() <= start + 4 * len)
                .map(|(i, (start, ..))| (i, (addr - start) / 4))
        }
    }

    thread_local! {
        static PENDING: RefCell<Option<Case>> = const { RefCell::new(None) };
        static COUNT: RefCell<usize> = const { RefCell::new(0) };
    }

    /// Runs `f` on the pending case; panics naming `what` when there is none.
    fn with_pending<R>(what: &str, f: impl FnOnce(&mut Case) -> R) -> R {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let case = p.as_mut().unwrap_or_else(|| panic!("{what}: no kernel case recorded before it (run the dispatches with run_read, run_read_acts or run_read_rgba): with STYLIZE_EXPORT_CASES set it would not be replayed under Dawn/Tint"));
            f(case)
        })
    }

    /// The module key as a string (the cases' module table key).
    fn module_id(k: &stylize::kernels::ModuleKey) -> String {
        format!("{k:?}")
    }

    /// Every pipeline variant (with its module's WGSL), written once per export directory.
    pub fn pipelines_json(with_f16: bool) -> serde_json::Value {
        let mut modules = serde_json::Map::new();
        let specs: Vec<serde_json::Value> = stylize::kernels::all_pipelines(with_f16)
            .into_iter()
            .map(|s| {
                modules.entry(module_id(&s.key.module)).or_insert_with(|| stylize::kernels::module_source(s.key.module).into());
                serde_json::json!({
                    "name": s.name, "module": module_id(&s.key.module), "entry": s.key.entry,
                    "constants": s.key.constants.iter().map(|(n, v)| (n.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                    "layout": s.bindings.iter().map(|b| serde_json::json!({ "slot": b.slot, "kind": format!("{:?}", b.kind) })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({ "modules": modules, "pipelines": specs })
    }

    /// The state before `ds` run: every bound buffer's bytes, and how to run them.
    pub fn snapshot(gpu: &Gpu, ds: &[&Dispatch]) -> Case {
        let mut buffers: Vec<wgpu::Buffer> = Vec::new();
        let mut index = |b: &wgpu::Buffer| match buffers.iter().position(|x| x == b) {
            Some(i) => i,
            None => {
                buffers.push(b.clone());
                buffers.len() - 1
            }
        };
        let mut modules = serde_json::Map::new();
        let mut dispatches = Vec::new();
        for d in ds {
            let r = d.recipe();
            modules.entry(module_id(&r.key.module)).or_insert_with(|| stylize::kernels::module_source(r.key.module).into());
            let bindings: Vec<Value> = r.buffers.iter().map(|(b, buf, offset, size)| json!({ "slot": b.slot, "buffer": index(buf), "offset": offset, "size": size })).collect();
            dispatches.push(json!({
                "kernel": d.kernel, "module": module_id(&r.key.module), "entry": r.key.entry,
                "constants": r.key.constants.iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "layout": r.bindings.iter().map(|b| json!({ "slot": b.slot, "kind": format!("{:?}", b.kind) })).collect::<Vec<_>>(),
                "params": b64(&r.params), "bindings": bindings, "groups": d.groups(),
            }));
        }
        let data: Vec<Value> = buffers.iter().map(|b| bytes_json(&pollster::block_on(gpu.read_bytes(b, 0, b.size())).unwrap())).collect();
        let n = COUNT.with(|c| {
            *c.borrow_mut() += 1;
            *c.borrow()
        });
        let test = std::thread::current().name().unwrap_or("case").replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let file = dir().unwrap().join("cases").join(format!("{}-{test}-{n:03}.json", env!("CARGO_CRATE_NAME")));
        let json = json!({ "modules": modules, "buffers": data, "dispatches": dispatches });
        Case { json, buffers, outputs: Vec::new(), checks: Vec::new(), file }
    }

    /// Makes `case` the one whose outputs the next `assert_close` calls check.
    pub fn pending(case: Case) {
        PENDING.with(|p| *p.borrow_mut() = Some(case));
    }

    /// Adds `values`, read from `buf` (stored as `format`) after the pending case's dispatches
    /// ran, as one of its outputs. Panics when its dispatches do not bind `buf`.
    pub fn output(buf: &wgpu::Buffer, format: Format, values: &[f32]) {
        let what = "reading a buffer after the dispatches";
        with_pending(what, |case| {
            let Some(buffer) = case.buffers.iter().position(|b| b == buf) else {
                panic!("{what}: the buffer is not bound by the dispatches of the last run_read: its values could not be replayed under Dawn/Tint");
            };
            let (format, load_scale) = match format {
                Format::F32 | Format::Act(Precision::F32) => ("F32", 1.0),
                Format::Act(Precision::F16) => ("F16", 1.0 / stylize::gpu::F16_ACT_STORE),
                Format::Rgba8 => ("U8", 1.0),
            };
            case.outputs.push((values.as_ptr() as usize, values.len(), json!({ "buffer": buffer, "len": values.len(), "format": format, "load_scale": load_scale })));
        });
    }

    /// Adds `sums` ([`super::row_sums`] of `values` in rows of `width`) as an output derived from
    /// the output `values` are part of.
    pub fn row_sums(values: &[f32], width: usize, sums: &[f32]) {
        with_pending("row_sums", |case| {
            let Some((output, offset)) = case.find(values) else {
                panic!("row_sums: the values summed are no output of the last run_read: their sums could not be replayed under Dawn/Tint");
            };
            case.outputs.push((sums.as_ptr() as usize, sums.len(), json!({ "row_sums_of": output, "offset": offset, "rows_len": values.len(), "width": width })));
        });
    }

    /// Records a comparison of `gpu` (part of an output of the pending case) with `reference`,
    /// rewriting the case's file. While exporting, panics (failing the test, naming the check)
    /// when `gpu` is no such output: every comparison is replayed, none dropped.
    pub fn check(what: &str, gpu: &[f32], reference: &[f64], atol: f64, rtol: f64) {
        if dir().is_none() {
            return;
        }
        with_pending(what, |case| {
            let Some((output, offset)) = case.find(gpu) else {
                panic!("{what}: the compared values are no output of the last run_read (read them with run_read, run_read_acts, run_read_rgba, read_also or row_sums): with STYLIZE_EXPORT_CASES set the comparison would not be replayed under Dawn/Tint");
            };
            let reference = match reference.first() {
                Some(&r) if reference.len() > 1 && r.is_finite() && reference.iter().all(|x| x.to_bits() == r.to_bits()) => json!({ "fill": r }),
                _ => json!(b64(&reference.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())),
            };
            case.checks.push(json!({ "what": what, "output": output, "offset": offset, "len": gpu.len(), "reference": reference, "atol": atol, "rtol": rtol }));
            let mut json = case.json.clone();
            json["outputs"] = json!(case.outputs.iter().map(|(.., o)| o).collect::<Vec<_>>());
            json["checks"] = json!(case.checks);
            std::fs::create_dir_all(case.file.parent().unwrap()).unwrap();
            std::fs::write(&case.file, serde_json::to_vec(&json).unwrap()).unwrap();
        });
    }
}

/// Deterministic uniform values in [lo, hi).
pub fn random(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| lo + (hi - lo) * rng.random::<f32>()).collect()
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// A storage buffer of `n` f32 NaNs, so any element a kernel fails to write shows up.
pub fn nan_buffer(gpu: &Gpu, n: usize) -> wgpu::Buffer {
    nan_acts(gpu, Precision::F32, n)
}

/// Runs the dispatches in one pass, reads `len` f32 from `out`, and fails the test on any GPU error.
pub fn run_read(gpu: &Gpu, ds: &[&Dispatch], out: &wgpu::Buffer, len: usize) -> Vec<f32> {
    run_read_acts(gpu, Precision::F32, ds, out, len)
}

/// Asserts |gpu − reference| ≤ atol + rtol·|reference| elementwise (NaN fails), printing error stats.
/// With `STYLIZE_EXPORT_CASES` set, also records the comparison for the Tint test
/// ([`export::check`]), failing when `gpu` is no output of the pending case.
pub fn assert_close(what: &str, gpu: &[f32], reference: &[f64], atol: f64, rtol: f64) {
    export::check(what, gpu, reference, atol, rtol);
    assert_eq!(gpu.len(), reference.len(), "{what}: length");
    let mut max_abs: f64 = 0.0;
    let mut max_rel: f64 = 0.0;
    let mut worst = None;
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let g = g as f64;
        let err = (g - r).abs();
        if (err.is_nan() || err > atol + rtol * r.abs()) && worst.is_none() {
            worst = Some((i, g, r));
        }
        if err.is_finite() {
            max_abs = max_abs.max(err);
            if r.abs() > atol {
                max_rel = max_rel.max(err / r.abs());
            }
        }
    }
    eprintln!("{what}: n={} max_abs_err={max_abs:.3e} max_rel_err={max_rel:.3e} (atol {atol:.0e}, rtol {rtol:.0e})", gpu.len());
    if let Some((i, g, r)) = worst {
        panic!("{what}: element {i}: gpu {g} vs reference {r} (atol {atol}, rtol {rtol})");
    }
}

/// The folder tools/setup provisions (git-ignored): the weights and assets/samples. Tests read
/// their inputs only from here and from tests/data, never from ../shared, so a fresh clone runs
/// exactly the tests CI runs.
pub fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// A test image that tools/fetch-samples provisions on every machine (assets/samples: the photos
/// from the scikit-image wheel, the procedural paintings `flow_strokes.png` and `mosaic.png`, the
/// texture `ihc.png`). Panics naming the file when it is missing.
pub fn test_image(name: &str) -> PathBuf {
    const EVERY_MACHINE: [&str; 8] = ["chelsea.png", "astronaut.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "flow_strokes.png", "mosaic.png", "ihc.png"];
    assert!(EVERY_MACHINE.contains(&name), "{name} is not provisioned on every machine: tests use only {EVERY_MACHINE:?}");
    let p = assets().join("samples").join(name);
    assert!(p.exists(), "test image {} is missing: run tools/setup (tools/fetch-samples)", p.display());
    p
}

/// The painting the tests style with: the procedural flow-field brush strokes (every machine has it).
pub fn test_painting() -> PathBuf {
    test_image("flow_strokes.png")
}

/// The real VGG19 weights in f32, as tools/fetch-weights converts them (assets/).
pub fn real_weights_path() -> PathBuf {
    let a = assets().join("vgg19-conv-f32.safetensors");
    assert!(a.exists(), "no VGG19 weights at {}: run tools/setup (tools/fetch-weights)", a.display());
    a
}

/// The real VGG19 weights stored in f16 (what the page and the CLI load by default).
pub fn f16_weights_path() -> PathBuf {
    let a = assets().join("vgg19-conv-f16.safetensors");
    assert!(a.exists(), "no VGG19 weights at {}: run tools/setup (tools/fetch-weights)", a.display());
    a
}

/// A file of the project's test data (tests/data).
pub fn test_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// `img` encoded as a baseline JPEG (quality 95).
pub fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).unwrap();
    out
}

/// `jpeg` with an EXIF APP1 segment (big-endian TIFF, one IFD0 entry: Orientation = `o`)
/// inserted after the SOI marker, as cameras write it.
pub fn with_exif_orientation(jpeg: &[u8], o: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec(); // header, IFD0 at offset 8
    tiff.extend([0, 1]); // one entry
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]); // tag 0x0112 Orientation, SHORT, count 1
    tiff.extend(o.to_be_bytes());
    tiff.extend([0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

/// A `w`×`h` test photo: left half red, right half blue.
pub fn half_red_half_blue(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, _| if x < w / 2 { image::Rgb([230, 20, 20]) } else { image::Rgb([20, 20, 230]) })
}

/// Tiling is not trivial: several tiles, none of whose inputs (core + halo) is the whole image,
/// and some starting inside it on both axes (so crops — features, masks — at a non-zero origin run).
pub fn assert_real_tiles(g: &stylize::tiles::TileGrid, what: &str) {
    assert!(g.tiles.len() >= 4, "{what}: {} tile(s) of {} px over {}×{}", g.tiles.len(), g.core, g.width, g.height);
    for t in &g.tiles {
        let (tw, th) = t.input_size();
        assert!(tw < g.width || th < g.height, "{what}: tile {t:?} (halo {}) sees the whole {}×{} image", g.halo, g.width, g.height);
    }
    assert!(g.tiles.iter().any(|t| t.ix0 > 0 && t.iy0 > 0), "{what}: no tile input starts inside the {}×{} image", g.width, g.height);
}
