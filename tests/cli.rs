//! The `stylize` command as a user runs it: a real run with real weights (32 px, 20 iterations) and
//! every kind of bad input, which must give one clear line on stderr and a non-zero exit, never a
//! panic.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stylize"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

/// `stylize chelsea flow_strokes -o OUT --weights REAL --trace TRACE` plus `args`, run to completion.
fn real_run(cmd: &mut Command, out: &Path, trace: &Path, args: &[&str]) -> std::process::Output {
    cmd.args([test_image("chelsea.png"), test_painting()]).arg("-o").arg(out).args(args).arg("--weights").arg(real_weights_path()).arg("--trace").arg(trace).output().unwrap()
}

fn out_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn real_run_lowers_the_loss_and_writes_png_and_trace() {
    let dir = out_dir("real_run");
    let out = dir.join("cat.png");
    let trace = dir.join("trace.jsonl");
    let st = real_run(&mut bin(), &out, &trace, &["--size", "32", "--iterations", "20", "--report-every", "5", "--save-every", "10"]);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "stylize failed: {stderr}");
    let img = image::open(&out).unwrap();
    // chelsea.png is 451×300: longer side 32 → 32×21.
    assert_eq!((img.width(), img.height()), (32, 21));
    assert!(dir.join("cat-0010.png").exists(), "--save-every wrote the intermediate image");

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).expect("each trace line is JSON")).collect();
    let iters: Vec<u64> = lines.iter().map(|l| l["iteration"].as_u64().unwrap()).collect();
    assert_eq!(iters, vec![0, 5, 10, 15, 20], "iteration 0, every 5, and the last");
    let mut last_ms = -1.0;
    for l in &lines {
        for k in ["content", "style", "tv", "total"] {
            assert!(l[k].as_f64().unwrap().is_finite(), "{k} finite");
        }
        let ms = l["elapsed_ms"].as_f64().unwrap();
        assert!(ms >= last_ms, "elapsed_ms is non-decreasing");
        last_ms = ms;
        assert_eq!(l.as_object().unwrap().len(), 7, "exactly the seven keys (scale, iteration, content, style, tv, total, elapsed_ms)");
    }
    let first = lines[0]["total"].as_f64().unwrap();
    let last = lines.last().unwrap()["total"].as_f64().unwrap();
    eprintln!("total loss {first:.4e} → {last:.4e} ({:.1}%) in 20 iterations", 100.0 * last / first);
    assert!(last < 0.5 * first, "the total loss falls substantially: {first} → {last}");
    assert_eq!(lines[0]["content"].as_f64().unwrap(), 0.0, "init = content: zero content loss at iteration 0");
}

/// Runs stylize with `args` and asserts a one-line error containing `needle`.
fn fails_with(args: &[&std::ffi::OsStr], needle: &str) {
    let st = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success(), "expected failure for {args:?}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    assert!(stderr.contains(needle), "error for {args:?} mentions {needle:?}: {stderr}");
    eprintln!("{}", lines[0]);
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn bad_inputs_give_one_clear_error() {
    let dir = out_dir("bad_inputs");
    let good = test_image("chelsea.png");
    let style = test_image("mosaic.png");
    let weights = real_weights_path();
    let out = dir.join("o.png");
    let w = |p: &Path| -> Vec<std::ffi::OsString> { vec!["--weights".into(), p.as_os_str().into()] };

    let text = dir.join("notes.png");
    std::fs::write(&text, "this is not an image").unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let garbage = dir.join("garbage.jpg");
    std::fs::write(&garbage, (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()).unwrap();
    let thin = dir.join("thin.png");
    image::RgbaImage::new(300, 5).save(&thin).unwrap();

    let run = |content: &Path, extra: &[&std::ffi::OsStr], needle: &str| {
        let mut a: Vec<&std::ffi::OsStr> = vec![content.as_os_str(), style.as_os_str(), os("-o"), out.as_os_str()];
        a.extend_from_slice(extra);
        let ww = w(&weights);
        let mut a2 = a.clone();
        if !extra.contains(&os("--weights")) {
            a2.extend(ww.iter().map(|s| s.as_os_str()));
        }
        fails_with(&a2, needle);
    };
    run(&dir.join("missing.png"), &[], "cannot open");
    run(&text, &[], "cannot decode");
    run(&truncated, &[], "cannot decode");
    run(&garbage, &[], "cannot decode");
    run(&thin, &[os("--size"), os("64")], "at least 16 px");
    run(&good, &[os("--size"), os("0")], "size 0 is out of range");
    run(&good, &[os("--size"), os("100000")], "size 100000 is out of range");
    run(&good, &[os("--lr=-1")], "learning rate");
    // Past the memory budget even in the smallest tiles: a clear error naming the size asked for
    // (not the first coarse scale), the budget and the largest size that fits, before anything is
    // allocated; and a budget the weights alone exceed. (The weights take ~314 MiB with f32
    // storage: the GEMM layouts and Winograd's transformed kernels.)
    run(&good, &[os("--size"), os("2048"), os("--memory-budget"), os("400MiB")], "size 2048×1362 is too large for this GPU: even in the smallest tiles it needs");
    run(&good, &[os("--size"), os("2048"), os("--memory-budget"), os("400MiB")], "but the memory budget is 400.0 MiB; the largest size that fits is about");
    run(&good, &[os("--memory-budget"), os("64MiB")], "no size fits: raise the memory budget");
    run(&good, &[os("--iterations"), os("abc")], "invalid value");
    run(&good, &[os("--no-such-flag")], "unexpected argument");
    fails_with(&[os("only-one.png")], "required arguments were not provided");
    // A JPEG cut off while downloading: refused (the page refuses it with the same message).
    let cut = dir.join("cut.jpg");
    let whole = jpeg(&half_red_half_blue(64, 48));
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    run(&cut, &[], "cut.jpg is truncated: its JPEG data ends before the end-of-image marker");

    let not_st = dir.join("weights.safetensors");
    std::fs::write(&not_st, "definitely not weights").unwrap();
    run(&good, &[os("--weights"), not_st.as_os_str()], "not a valid safetensors file");
    let wbytes = std::fs::read(&weights).unwrap();
    let trunc_w = dir.join("truncated.safetensors");
    std::fs::write(&trunc_w, &wbytes[..wbytes.len() / 2]).unwrap();
    run(&good, &[os("--weights"), trunc_w.as_os_str()], "not a valid safetensors file");
    let wrong = dir.join("wrong.safetensors");
    let t = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &[0u8; 8]).unwrap();
    safetensors::serialize_to_file([("fc6.weight", t)], None, &wrong).unwrap();
    run(&good, &[os("--weights"), wrong.as_os_str()], "conv1_1.weight` is missing");
    run(&good, &[os("--weights"), dir.join("nope.safetensors").as_os_str()], "cannot read");
    // Hostile weight files: each refused with one line naming the problem.
    let raw = |header: &str, data: &[u8]| {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend(header.as_bytes());
        v.extend(data);
        v
    };
    let conv11 = |dtype: &str, shape: &str, len: usize| format!(r#"{{"conv1_1.weight":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[0,{len}]}}}}"#);
    let mut nan = vec![0u8; 6912];
    nan[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut huge_header = (1u64 << 62).to_le_bytes().to_vec();
    huge_header.extend(b"{}");
    for (file, bytes, needle) in [
        ("dtype.safetensors", raw(&conv11("I32", "[64,3,3,3]", 6912), &[0; 6912]), "tensor `conv1_1.weight` has dtype I32; only F16 and F32"),
        ("shape.safetensors", raw(&conv11("F32", "[64,3,3,2]", 4608), &[0; 4608]), "tensor `conv1_1.weight` has shape [64, 3, 3, 2], expected [64, 3, 3, 3]"),
        ("offsets.safetensors", raw(&conv11("F32", "[64,3,3,3]", 6912), &[0; 100]), "not a valid safetensors file"),
        ("header.safetensors", huge_header, "not a valid safetensors file"),
        ("nan.safetensors", raw(&conv11("F32", "[64,3,3,3]", 6912), &nan), "tensor `conv1_1.weight` has a non-finite value at index 10"),
    ] {
        let p = dir.join(file);
        std::fs::write(&p, bytes).unwrap();
        run(&good, &[os("--weights"), p.as_os_str()], needle);
    }
    // Empty and unsupported images.
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    run(&empty, &[], "cannot decode");
    let tiff = dir.join("scan.tif");
    std::fs::write(&tiff, b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00").unwrap();
    run(&tiff, &[], "it is a TIFF image, which stylize does not read");

    // Unwritable output: a missing directory, and a directory as the file.
    let args_missing = [good.as_os_str(), style.as_os_str(), os("-o"), os("/nonexistent-dir/out.png")];
    fails_with(&args_missing, "cannot write");
    let args_dir = [good.as_os_str(), style.as_os_str(), os("-o"), dir.as_os_str()];
    fails_with(&args_dir, "use a .png or .jpg");
}

#[test]
fn f16_storage_run_lowers_the_loss() {
    // Forced f16 storage (lavapipe offers shader-f16; the default there is f32).
    let probe = bin().arg("info").output().unwrap();
    if !f16_tested(String::from_utf8_lossy(&probe.stdout).contains("SHADER_F16"), "the CLI's f16 storage run") {
        return;
    }
    let dir = out_dir("f16_run");
    let trace = dir.join("trace.jsonl");
    let st = real_run(bin().env("STYLIZE_PRECISION", "f16"), &dir.join("cat.png"), &trace, &["--size", "32", "--iterations", "10", "--report-every", "10"]);
    assert!(st.status.success(), "stylize failed: {}", String::from_utf8_lossy(&st.stderr));
    let totals: Vec<f64> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["total"].as_f64().unwrap()).collect();
    assert_eq!(totals.len(), 2);
    assert!(totals[1] < 0.8 * totals[0], "10 iterations lower the total loss: {totals:?}");
}

#[test]
fn info_prints_the_memory_plan_and_bad_precision_is_one_line() {
    let st = bin().args(["info", "--sizes", "256,1024"]).output().unwrap();
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    assert!(out.contains("storage F32") || out.contains("storage F16"), "the device's storage precision: {out}");
    for n in ["256", "1024"] {
        let row = out.lines().find(|l| l.trim_start().starts_with(n)).unwrap_or_else(|| panic!("a row for {n}: {out}"));
        let mib: Vec<f64> = row.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        // N, f32 MiB, f16 MiB: f16 storage needs less.
        assert!(mib.len() >= 3 && mib[2] < mib[1], "{row}");
    }
    let st = bin().env("STYLIZE_PRECISION", "f8").arg("info").output().unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success());
    assert!(err.contains("precision must be `f32` or `f16`") && !err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn exif_orientation_is_honoured() {
    // A landscape JPEG stored with EXIF orientation 6 is a portrait photo: the output is portrait.
    let dir = out_dir("exif");
    let photo = dir.join("portrait.jpg");
    std::fs::write(&photo, with_exif_orientation(&jpeg(&half_red_half_blue(48, 24)), 6)).unwrap();
    let out = dir.join("o.png");
    let st = bin().arg(&photo).arg(test_painting()).args(["--size", "32", "--iterations", "0", "--weights"]).arg(real_weights_path()).arg("-o").arg(&out).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (16, 32), "48×24 stored, shown 24×48 → 16×32");
    assert!(img.get_pixel(8, 4).0[0] > 150, "red (the stored left half) on top");
}

#[test]
fn a_kernel_that_fails_to_compile_falls_back_instead_of_failing() {
    // The GPU configuration (tiled kernels, f16 storage, Winograd) with its f16 wide conv (which
    // conv1_1 runs) made uncompilable: the run warns, falls back (to the direct GEMM, then to f32
    // storage) and finishes.
    let dir = out_dir("fallback");
    let trace = dir.join("trace.jsonl");
    let mut cmd = bin();
    cmd.env("STYLIZE_CONV", "tiled").env("STYLIZE_BREAK_KERNELS", "conv_forward_f16");
    if String::from_utf8_lossy(&bin().arg("info").output().unwrap().stdout).contains("SHADER_F16") {
        cmd.env("STYLIZE_PRECISION", "f16");
    } else {
        cmd.env("STYLIZE_BREAK_KERNELS", "gram_partial"); // no f16 here: break a tiled f32 kernel
    }
    let st = real_run(&mut cmd, &dir.join("o.png"), &trace, &["--size", "32", "--iterations", "3", "--report-every", "3"]);
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{err}");
    assert!(err.contains("warning: tiled+winograd kernels with F") && err.contains("failed on this GPU") && err.contains("falling back to tiled+gemm"), "{err}");
    assert!(err.contains("deliberately broken"), "the compiler's message is quoted: {err}");
    let lines = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(lines.lines().count(), 2, "the run finished: {lines}");
    // With nothing left to fall back to: one clear line.
    let st = bin()
        .env("STYLIZE_CONV", "direct+gemm")
        .env("STYLIZE_PRECISION", "f32")
        .env("STYLIZE_BREAK_KERNELS", "conv_forward")
        .args([test_image("chelsea.png"), test_painting()])
        .args(["--size", "32", "--iterations", "1", "-o"])
        .arg(dir.join("p.png"))
        .arg("--weights")
        .arg(real_weights_path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: a GPU kernel failed to compile or validate on this device"), "{err}");
}

#[test]
fn a_winograd_kernel_that_fails_to_compile_falls_back_to_the_gemm() {
    // The default conv (Winograd, direct kernels, f32 storage: F(4×4) on conv1_2 at 32 px) with
    // Winograd's GEMMs made uncompilable: the run warns, runs every conv by the direct GEMM on a
    // new device, and finishes.
    let dir = out_dir("winograd_fallback");
    let trace = dir.join("trace.jsonl");
    let mut cmd = bin();
    cmd.env("STYLIZE_CONV", "direct+winograd").env("STYLIZE_PRECISION", "f32").env("STYLIZE_BREAK_KERNELS", "wino_gemm");
    let st = real_run(&mut cmd, &dir.join("o.png"), &trace, &["--size", "32", "--iterations", "2", "--report-every", "2"]);
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{err}");
    assert!(err.contains("warning: direct+winograd kernels with F32 storage failed on this GPU") && err.contains("falling back to direct+gemm kernels with F32 storage"), "{err}");
    assert_eq!(err.matches("warning:").count(), 1, "one fallback is enough: {err}");
    assert_eq!(std::fs::read_to_string(&trace).unwrap().lines().count(), 2, "the run finished");
}

/// The last line's "losses of the image written: content C, style S, tv T, total X" → [C, S, T, X].
fn written_losses(stderr: &str) -> [f64; 4] {
    let line = stderr.lines().rev().find(|l| l.contains("losses of the image written")).unwrap_or_else(|| panic!("no losses line in {stderr}"));
    let tail = &line[line.find("content").unwrap()..];
    let v: Vec<f64> = tail.split(',').map(|p| p.split_whitespace().last().unwrap().parse().unwrap()).collect();
    [v[0], v[1], v[2], v[3]]
}

/// Coarse to fine with an explicit schedule and L-BFGS: every scale in the trace, the output at
/// the last scale's size, the loss falls; then `--init OUT --iterations 0` re-evaluates the saved
/// image and finds the losses the run printed for it.
#[test]
fn schedule_lbfgs_and_init_evaluate_from_the_cli() {
    let dir = out_dir("schedule_lbfgs");
    let (out, trace) = (dir.join("ctf.png"), dir.join("trace.jsonl"));
    let st = real_run(&mut bin(), &out, &trace, &["--schedule", "26:6,32:4", "--optimizer", "lbfgs", "--average", "on", "--report-every", "2"]);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "stylize failed: {stderr}");
    assert!(stderr.contains("2 scales (26×17:6, 32×21:4), Lbfgs with averaging"), "the plan is printed: {stderr}");
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (32, 21));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let scales: Vec<u64> = lines.iter().map(|l| l["scale"].as_u64().unwrap()).collect();
    assert!(scales.contains(&0) && scales.contains(&1), "both scales traced: {scales:?}");
    let first = lines.iter().find(|l| l["scale"] == 0).unwrap()["total"].as_f64().unwrap();
    let last_scale0 = lines.iter().rfind(|l| l["scale"] == 0).unwrap()["total"].as_f64().unwrap();
    assert!(last_scale0 < 0.7 * first, "L-BFGS lowers the loss at the first scale: {first} → {last_scale0}");
    let written = written_losses(&stderr);

    let eval = bin()
        .args([test_image("chelsea.png"), test_painting()])
        .args(["-o".as_ref(), dir.join("eval.png").as_os_str()])
        .args(["--init".as_ref(), out.as_os_str()])
        .args(["--iterations", "0", "--size", "32", "--scales", "1", "--weights"])
        .arg(real_weights_path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&eval.stderr);
    assert!(eval.status.success(), "evaluation failed: {e}");
    let again = written_losses(&e);
    // The saved PNG is the shown image rounded to 8 bits: the losses agree to a few percent.
    for (a, b) in written.iter().zip(&again) {
        assert!((a - b).abs() <= 0.05 * a.abs().max(1.0), "re-evaluated {again:?} vs written {written:?}");
    }
    let bad = bin().args(["a.png", "b.png", "-o", "c.png", "--schedule", "32:10,24:5"]).output().unwrap();
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && msg.contains("schedule sizes must increase"), "{msg}");
}

/// The "… N tiles of C px (halo H px), X MiB" (or "whole image, X MiB") plan line's MiB figure.
fn plan_mib(stderr: &str) -> f64 {
    let line = stderr.lines().find(|l| l.starts_with("scale 1 of 1")).expect("the plan line");
    let mib = line.rsplit(", ").next().unwrap().trim_end_matches(" MiB");
    mib.parse().unwrap_or_else(|_| panic!("MiB in {line:?}"))
}

#[test]
fn a_memory_budget_runs_the_network_over_tiles_that_fit_it() {
    // relu1_1 and relu2_1 only: 16-px halos, so tiles save memory at a size lavapipe runs quickly
    // (at 96 px the whole image's peak, the targets' buffers released before the iteration's,
    // is already below 64-px tiles': 118.4 vs 119.5 MiB; at 128 px 130.0 vs 122.0).
    let dir = out_dir("budget");
    let shallow = ["--size", "128", "--scales", "1", "--iterations", "2", "--content-weight", "0", "--style-layer-weights", "1,1,0,0,0"];
    let run = |extra: &[&str], name: &str| {
        let args: Vec<&str> = shallow.iter().chain(extra).copied().collect();
        let st = real_run(&mut bin(), &dir.join(name), &dir.join(format!("{name}.jsonl")), &args);
        let stderr = String::from_utf8_lossy(&st.stderr).to_string();
        assert!(st.status.success(), "stylize failed: {stderr}");
        stderr
    };
    let whole = run(&[], "whole.png");
    assert!(whole.contains("whole image"), "{whole}");
    let tiled = run(&["--tile-size", "64"], "forced.png");
    let need = plan_mib(&tiled);
    assert!(need < plan_mib(&whole), "tiles need less memory: {need} vs {}", plan_mib(&whole));
    let budget = format!("{:.1}MiB", need + 0.1);
    let out = run(&["--memory-budget", &budget], "budget.png");
    eprintln!("{}", out.lines().find(|l| l.starts_with("scale 1 of 1")).unwrap());
    assert!(out.contains("tiles of 64 px") && plan_mib(&out) <= need + 0.1, "the budget picks 64-px tiles: {out}");
    let img = image::open(dir.join("budget.png")).unwrap();
    assert_eq!((img.width(), img.height()), (128, 85), "the full size");
    let too_small = bin().args(["x.png", "y.png", "-o", "z.png", "--memory-budget", "lots"]).output().unwrap();
    assert_eq!(too_small.status.code(), Some(2), "a budget that is not a size is a usage error");
}

/// The PNG carries its settings, inputs and adapter; the same run twice gives the same pixels;
/// `--settings-from` reproduces a result from its PNG alone (flags given override it).
#[test]
fn the_png_records_its_settings_and_settings_from_reproduces_it() {
    let dir = out_dir("record");
    let (photo, painting) = (test_image("chelsea.png"), test_painting());
    let go = |name: &str, args: &[&str]| {
        let out = dir.join(name);
        let st = bin().arg(&photo).arg(&painting).arg("-o").arg(&out).args(args).arg("--weights").arg(real_weights_path()).output().unwrap();
        let stderr = String::from_utf8_lossy(&st.stderr).to_string();
        assert!(st.status.success(), "stylize {args:?} failed: {stderr}");
        let bytes = std::fs::read(&out).unwrap();
        let record = stylize::record::read_png_record(&bytes).unwrap().expect("the PNG carries a record");
        (image::load_from_memory(&bytes).unwrap().to_rgba8().into_raw(), record, stderr)
    };
    let custom = [
        "--size",
        "32",
        "--iterations",
        "4",
        "--style-weight",
        "100",
        "--tv-weight",
        "5",
        "--seed",
        "4",
        "--init",
        "noise",
        "--lr",
        "3",
        "--style-layer-weights",
        "1,1,0.5,0.2,0.1",
    ];
    let (a, rec, _) = go("a.png", &custom);
    assert_eq!((rec.settings.style_weight, rec.settings.seed, rec.settings.init, rec.settings.lr), (100.0, 4, stylize::Init::Noise, Some(3.0)));
    assert_eq!(rec.content.name, "chelsea.png");
    let sha = stylize::record::sha256_hex(&std::fs::read(&photo).unwrap());
    assert_eq!(rec.content.sha256, sha, "the photo's SHA-256");
    assert!(rec.adapter.contains("conv path"), "{}", rec.adapter);
    let (again, _, _) = go("again.png", &custom);
    assert!(a == again, "same inputs, settings and adapter: the same pixels");
    let a_png = dir.join("a.png");
    let a_arg = a_png.to_str().unwrap();
    let (b, rec_b, _) = go("b.png", &["--settings-from", a_arg]);
    assert_eq!(rec_b.settings, rec.settings, "every setting restored from the PNG");
    assert!(a == b, "--settings-from reproduces the pixels");
    let (_, rec_c, _) = go("c.png", &["--settings-from", a_arg, "--iterations", "2"]);
    assert_eq!(rec_c.settings, stylize::Settings { iterations: 2, ..rec.settings.clone() }, "a flag given overrides the record");
    // Another painting: a note, not a failure.
    let other = test_image("mosaic.png");
    let st = bin()
        .arg(&photo)
        .arg(&other)
        .arg("-o")
        .arg(dir.join("d.png"))
        .args(["--settings-from", a_arg, "--iterations", "0", "--scales", "1"])
        .arg("--weights")
        .arg(real_weights_path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success() && e.contains("is not the recorded painting"), "{e}");
    // A PNG without a record, and a file that is not a PNG.
    let plain = dir.join("plain.png");
    image::RgbaImage::new(4, 4).save(&plain).unwrap();
    let jpg = dir.join("x.jpg");
    std::fs::write(&jpg, jpeg(&half_red_half_blue(16, 16))).unwrap();
    let fail = |p: &Path, needle: &str| {
        let st = bin().arg(&photo).arg(&painting).arg("-o").arg(dir.join("e.png")).arg("--settings-from").arg(p).output().unwrap();
        let e = String::from_utf8_lossy(&st.stderr);
        assert!(!st.status.success() && e.trim().lines().count() == 1 && e.contains(needle), "{e}");
    };
    fail(&plain, "it carries no stylize settings");
    fail(&jpg, "it is not a PNG image");
}

/// YIQ chroma (I, Q) of an RGB pixel.
fn chroma(p: &[u8]) -> (f64, f64) {
    let [r, g, b] = [p[0], p[1], p[2]].map(|v| v as f64);
    (0.596 * r - 0.274 * g - 0.322 * b, 0.211 * r - 0.523 * g + 0.312 * b)
}

/// `--colors`: every mode lowers the loss; with `luminance` and `swap` the output has the photo's
/// chroma (YIQ's I and Q) within a few levels (8-bit rounding, clamping at 0 and 255), while the
/// painting's colours (the default) do not.
#[test]
fn colour_modes_keep_the_photos_colours() {
    let dir = out_dir("colors");
    let photo = stylize::image_io::load(&test_image("chelsea.png")).unwrap();
    let small = stylize::resample::resize(&photo, 32, 21);
    // Mean RGB of an image, and the distance between two images' means.
    let mean_rgb = |img: &image::RgbaImage| -> [f64; 3] { std::array::from_fn(|k| img.pixels().map(|p| p[k] as f64).sum::<f64>() / img.pixels().len() as f64) };
    let mean_dist = |a: [f64; 3], b: [f64; 3]| (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt();
    let mut palette_dist = std::collections::HashMap::new();
    for mode in ["painting", "luminance", "match", "swap"] {
        let (out, trace) = (dir.join(format!("{mode}.png")), dir.join(format!("{mode}.jsonl")));
        let st = real_run(&mut bin(), &out, &trace, &["--size", "32", "--iterations", "10", "--report-every", "9", "--colors", mode]);
        let stderr = String::from_utf8_lossy(&st.stderr);
        assert!(st.status.success(), "--colors {mode}: {stderr}");
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let (first, last) = (lines[0]["total"].as_f64().unwrap(), lines.last().unwrap()["total"].as_f64().unwrap());
        assert!(last < 0.8 * first, "--colors {mode}: the loss falls: {first} → {last}");
        let img = image::open(&out).unwrap().to_rgba8();
        let n = (img.width() * img.height()) as f64;
        let diff: f64 = img
            .pixels()
            .zip(small.pixels())
            .map(|(a, b)| {
                let ((ia, qa), (ib, qb)) = (chroma(&a.0), chroma(&b.0));
                (ia - ib).abs() + (qa - qb).abs()
            })
            .sum::<f64>()
            / n;
        let to_photo = mean_dist(mean_rgb(&img), mean_rgb(&small));
        palette_dist.insert(mode, to_photo);
        eprintln!("--colors {mode}: loss {first:.4e} → {last:.4e}; mean |ΔI| + |ΔQ| from the photo {diff:.2}; mean RGB {to_photo:.1} from the photo's");
        match mode {
            "luminance" | "swap" => assert!(diff < 3.0, "--colors {mode}: the photo's chroma, off by {diff:.2} on average"),
            "painting" => assert!(diff > 10.0, "the painting's colours differ from the photo's: {diff:.2}"),
            _ => {}
        }
    }
    // match: the painting's palette is fitted to the photo's (mean and covariance), so the result's
    // mean colour is the photo's, not the painting's.
    let (m, p) = (palette_dist["match"], palette_dist["painting"]);
    assert!(m < 0.5 * p, "--colors match brings the result's mean colour to the photo's: {m:.1} from it vs {p:.1} with the painting's colours");
}

/// Two paintings blended from the CLI: the run lowers the loss, the record names both, and a
/// blend that does not match the paintings is one clear line.
#[test]
fn two_paintings_blend_from_the_cli() {
    let dir = out_dir("blend");
    let mosaic = test_image("mosaic.png");
    let (out, trace) = (dir.join("blend.png"), dir.join("blend.jsonl"));
    let mut cmd = bin();
    cmd.arg("--style").arg(&mosaic);
    let st = real_run(&mut cmd, &out, &trace, &["--size", "32", "--iterations", "8", "--report-every", "7", "--style-blend", "0.7,0.3", "--style-scales", "1,0.75"]);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (first, last) = (lines[0]["total"].as_f64().unwrap(), lines.last().unwrap()["total"].as_f64().unwrap());
    assert!(last < 0.8 * first, "the loss falls: {first} → {last}");
    let rec = stylize::record::read_png_record(&std::fs::read(&out).unwrap()).unwrap().unwrap();
    assert_eq!(rec.settings.style_blend, vec![0.7, 0.3]);
    assert_eq!(rec.more_paintings.len(), 1);
    assert_eq!(rec.more_paintings[0].name, mosaic.file_name().unwrap().to_string_lossy());
    let bad = bin().args(["a.png", "b.png", "-o", "c.png", "--style", "d.png", "--style-blend", "1,2,3"]).arg("--weights").arg(real_weights_path()).output().unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.trim().lines().count() == 1, "{e}");
}

/// `--steer 5:style-weight=1000`: from run iteration 5 on, the losses are weighted with β = 1000
/// (the run is not restarted); a key that cannot be steered is a usage error.
#[test]
fn steer_changes_a_running_cli_run() {
    let dir = out_dir("steer");
    let (out, trace) = (dir.join("s.png"), dir.join("s.jsonl"));
    let st = real_run(&mut bin(), &out, &trace, &["--size", "32", "--iterations", "8", "--report-every", "1", "--steer", "5:style-weight=1000;tv-weight=5"]);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success() && stderr.contains("steered at iteration 5: style-weight 1000, tv-weight 5"), "{stderr}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // One run: iterations 0 to 6, then the written image (8). With L-BFGS (the default) the scale's
    // last step is followed, in the same submission, by the evaluation of its result for the
    // safeguard, so iteration 7's losses are superseded by the result's before they can be read.
    let want: Vec<u64> = (0..=6).chain([8]).collect();
    assert_eq!(lines.iter().map(|l| l["iteration"].as_u64().unwrap()).collect::<Vec<_>>(), want, "one run: iterations 0 to 6, then the written image (8)");
    for l in &lines {
        let it = l["iteration"].as_u64().unwrap();
        let f = |k: &str| l[k].as_f64().unwrap();
        let (beta, tau) = if it >= 5 { (1000.0, 5.0) } else { (30.0, 20.0) };
        let want = f("content") + beta * f("style") + tau * f("tv");
        assert!((f("total") - want).abs() <= 1e-4 * want, "iteration {it}: total {} vs α·c + {beta}·s + {tau}·tv = {want}", f("total"));
    }
    let bad = bin().args(["a.png", "b.png", "-o", "c.png", "--steer", "5:size=64"]).output().unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(bad.status.code() == Some(2) && e.contains("`size` cannot be steered"), "{e}");
}

/// `--mask` with `--region-style`: the region given to the painting is repainted, the region that
/// keeps the photo keeps it — with Adam and with L-BFGS (the default), over tiles too:
/// away from a soft border a few pixels wide its pixels are the photo's within 2 levels, and the
/// border is no seam (the step across it is no larger than the styled half's own steps); the
/// record names the regions and the mask.
#[test]
fn a_region_mask_keeps_the_photo_where_asked() {
    let dir = out_dir("regions");
    let mask = dir.join("mask.png");
    // Left half red (the painting), right half blue (the photo).
    image::RgbaImage::from_fn(451, 300, |x, _| if x < 225 { image::Rgba([255, 0, 0, 255]) } else { image::Rgba([0, 0, 255, 255]) }).save(&mask).unwrap();
    let painting = test_painting();
    let photo_full = stylize::image_io::load(&test_image("chelsea.png")).unwrap();
    // Adam (40 iterations); L-BFGS; over tiles with Adam (64-px cores at 128 px, shallow
    // style layers so that the tiles are real parts of the image).
    let cases: [(&str, &[&str]); 3] = [
        ("adam", &["--size", "64", "--iterations", "40", "--optimizer", "adam"]),
        ("lbfgs", &["--size", "64", "--iterations", "20", "--optimizer", "lbfgs"]),
        ("tiles", &["--size", "128", "--iterations", "10", "--optimizer", "adam", "--tile-size", "64", "--style-layer-weights", "1,1,0,0,0"]),
    ];
    for (name, args) in cases {
        let (out, trace) = (dir.join(format!("{name}.png")), dir.join(format!("{name}.jsonl")));
        let mut cmd = bin();
        cmd.arg("--mask").arg(&mask).args(["--region-style", &format!("#ff0000={}", painting.display()), "--region-style", "#00f=photo"]);
        let st = real_run(&mut cmd, &out, &trace, args);
        let stderr = String::from_utf8_lossy(&st.stderr);
        assert!(st.status.success(), "{stderr}");
        if name == "tiles" {
            assert!(stderr.contains("tiles of 64 px"), "runs over tiles: {stderr}");
        }
        let img = image::open(&out).unwrap().to_rgba8();
        let (w, h) = (img.width(), img.height());
        let photo = stylize::resample::resize(&photo_full, w as usize, h as usize);
        // The border: the mask's column 225 of 451, at this width; the kept region is kept to it,
        // the ramp spans the 2r px outside it.
        let border = (225 * w).div_ceil(451);
        let r = stylize::masks::feather_radius(w as usize, h as usize) as u32;
        let diff = |x: u32, y: u32| (0..3).map(|k| (img.get_pixel(x, y)[k] as f64 - photo.get_pixel(x, y)[k] as f64).abs()).fold(0.0, f64::max);
        let (mut kept_max, mut kept_sum, mut styled_sum, mut n_kept, mut n_styled) = (0.0f64, 0.0, 0.0, 0, 0);
        for y in 0..h {
            for x in (border + 1)..w {
                kept_max = kept_max.max(diff(x, y));
                kept_sum += diff(x, y);
                n_kept += 1;
            }
            for x in 0..border.saturating_sub(2 * r + 1) {
                styled_sum += diff(x, y);
                n_styled += 1;
            }
        }
        // The step between neighbouring columns (mean over rows and channels): across the border
        // against the styled half's own.
        let step = |x: u32| (0..h).map(|y| (0..3).map(|k| (img.get_pixel(x + 1, y)[k] as f64 - img.get_pixel(x, y)[k] as f64).abs()).sum::<f64>() / 3.0).sum::<f64>() / h as f64;
        let across = (border - 2 * r - 1..border + 1).map(step).fold(0.0, f64::max);
        let styled_steps: Vec<f64> = (0..border - 2 * r - 2).map(step).collect();
        let styled_step = styled_steps.iter().sum::<f64>() / styled_steps.len() as f64;
        eprintln!("regions ({name}, {w}×{h}): kept half (from the border on) max |Δ| {kept_max:.1}, mean {:.2}; styled half mean |Δ| {:.1} (levels); largest step across the border {across:.1} vs the styled half's mean step {styled_step:.1}",
            kept_sum / n_kept as f64, styled_sum / n_styled as f64);
        assert!(kept_max <= 2.0, "{name}: the region that keeps the photo keeps it: {kept_max:.1} levels off");
        assert!(styled_sum / n_styled as f64 > 10.0, "{name}: the other half is repainted");
        assert!(across <= 1.5 * styled_step, "{name}: no seam at the border: a step of {across:.1} vs {styled_step:.1} within the styled half");
        if name == "adam" {
            let rec = stylize::record::read_png_record(&std::fs::read(&out).unwrap()).unwrap().unwrap();
            assert_eq!(rec.settings.regions.len(), 2);
            assert_eq!(rec.settings.regions[1].painting, None);
            assert_eq!(rec.mask.unwrap().name, "mask.png");
        }
    }
    let bad = bin()
        .arg(test_image("chelsea.png"))
        .arg(test_painting())
        .args(["-o", "c.png", "--region-style", "#ff0000=photo"])
        .arg("--weights")
        .arg(real_weights_path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.trim().lines().count() == 1 && e.contains("--mask and --region-style go together"), "{e}");
}

/// A style mask picks the part of the painting a region matches: a painting red on the left and
/// blue on the right, the whole photo one region; with the style mask marking the painting's
/// left half for it, the result (from noise) turns red, not the purple mix of the whole
/// painting's Grams (measured: mean R − B 16.0 against −4.8).
#[test]
fn a_style_mask_picks_the_part_of_the_painting() {
    let dir = out_dir("style-mask");
    let (mask, painting, style_mask) = (dir.join("mask.png"), dir.join("halves.png"), dir.join("halves-mask.png"));
    image::RgbaImage::from_pixel(60, 40, image::Rgba([255, 0, 0, 255])).save(&mask).unwrap();
    image::RgbaImage::from_fn(128, 96, |x, y| {
        let t = ((x * 7 + y * 13) % 48) as u8 + if (x / 6 + y / 6) % 2 == 0 { 40 } else { 0 };
        if x < 64 {
            image::Rgba([110 + t, 20 + t / 4, 20, 255])
        } else {
            image::Rgba([20, 30 + t / 4, 110 + t, 255])
        }
    })
    .save(&painting)
    .unwrap();
    image::RgbaImage::from_fn(128, 96, |x, _| if x < 64 { image::Rgba([255, 0, 0, 255]) } else { image::Rgba([0, 0, 0, 255]) }).save(&style_mask).unwrap();
    let red_minus_blue = |extra: &[&str], name: &str| {
        let (out, trace) = (dir.join(format!("{name}.png")), dir.join(format!("{name}.jsonl")));
        let mut cmd = bin();
        cmd.arg(test_image("chelsea.png")).arg(&painting).arg("--mask").arg(&mask).args(["--region-style", "#ff0000=halves.png"]).args(extra);
        let st = cmd
            .arg("-o")
            .arg(&out)
            .arg("--trace")
            .arg(&trace)
            .args(["--size", "64", "--iterations", "20", "--scales", "1", "--optimizer", "lbfgs", "--report-every", "20", "--init", "noise"])
            .arg("--weights")
            .arg(real_weights_path())
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let img = image::open(&out).unwrap().to_rgba8();
        let mean = |k: usize| img.pixels().map(|p| p[k] as f64).sum::<f64>() / img.pixels().len() as f64;
        eprintln!("{name}: mean R {:.1} G {:.1} B {:.1}", mean(0), mean(1), mean(2));
        (mean(0) - mean(2), out)
    };
    let (whole, _) = red_minus_blue(&[], "whole");
    let spec = style_mask.display().to_string();
    let (left, out) = red_minus_blue(&["--style-mask", &spec], "left");
    eprintln!("style mask: mean R − B of the result {left:.1} with the painting's red half marked, {whole:.1} from the whole painting");
    assert!(left > whole + 10.0, "the style mask's part of the painting sets the colours: {left:.1} vs {whole:.1}");
    let rec = stylize::record::read_png_record(&std::fs::read(&out).unwrap()).unwrap().unwrap();
    assert_eq!(rec.style_masks.len(), 1);
    assert_eq!(rec.style_masks[0].as_ref().unwrap().name, "halves-mask.png");
    let bad =
        bin().arg(test_image("chelsea.png")).arg(&painting).args(["-o", "c.png", "--style-mask"]).arg(&style_mask).arg("--weights").arg(real_weights_path()).output().unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.trim().lines().count() == 1 && e.contains("a style mask needs regions"), "{e}");
    let bad = bin()
        .arg(test_image("chelsea.png"))
        .arg(&painting)
        .args(["-o", "c.png", "--style-mask", "nothere.jpg=m.png"])
        .arg("--mask")
        .arg(&mask)
        .args(["--region-style", "#ff0000=photo"])
        .arg("--weights")
        .arg(real_weights_path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.trim().lines().count() == 1 && e.contains("is not a painting of this run"), "{e}");
}

/// A panning clip: `n` frames of `size`² px, a window over chelsea.png moving 2 px right and
/// 1 px down per frame (a camera panning over a still scene).
fn panning_clip(dir: &Path, n: u32, size: u32) {
    let photo = image::open(test_image("chelsea.png")).unwrap().to_rgba8();
    let scene = image::imageops::resize(&photo, 3 * size, 2 * size, image::imageops::FilterType::Triangle);
    for k in 0..n {
        let frame = image::imageops::crop_imm(&scene, 10 + 2 * k, 6 + k, size, size).to_image();
        frame.save(dir.join(format!("frame-{k:02}.png"))).unwrap();
    }
}

/// `stylize video INPUT OUTPUT --style <the test painting> ARGS --weights <the real weights>`.
fn run_video(input: &Path, output: &Path, args: &[&str]) -> std::process::Output {
    bin().arg("video").args([input, output]).arg("--style").arg(test_painting()).args(args).arg("--weights").arg(real_weights_path()).output().unwrap()
}

/// (mean temporal error, mean style loss) from `stylize video`'s summary line.
fn video_summary(stdout: &str) -> (f64, f64) {
    let line = stdout.lines().last().unwrap_or_default();
    let num = |key: &str| line.split(key).nth(1).and_then(|r| r.split_whitespace().next()).and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("no {key} in {line:?}"));
    (num("mean temporal error "), num("mean style loss "))
}

#[test]
fn video_frames_agree_with_each_other() {
    // 4 frames, 32 px: the temporal loss and the warped start against independent frames (the
    // 8-frame, 48-px measurement is in BENCHMARKS.md, "Video").
    let input = out_dir("video_in");
    panning_clip(&input, 4, 32);
    let mut results = Vec::new();
    for (name, extra) in [("video_temporal", vec![]), ("video_independent", vec!["--independent"])] {
        let output = out_dir(name);
        let mut args = vec!["--size", "32", "--iterations", "30", "--frame-iterations", "30"];
        args.extend(extra);
        let st = run_video(&input, &output, &args);
        let stdout = String::from_utf8_lossy(&st.stdout);
        assert!(st.status.success(), "stylize video failed: {}", String::from_utf8_lossy(&st.stderr));
        eprintln!("{name}:\n{stdout}");
        assert_eq!(stdout.lines().filter(|l| l.starts_with("frame ")).count(), 4, "one line per frame");
        for k in 0..4 {
            let img = image::open(output.join(format!("frame-{k:02}.png"))).unwrap();
            assert_eq!((img.width(), img.height()), (32, 32));
        }
        results.push(video_summary(&stdout));
    }
    let ((with, style_with), (without, style_without)) = (results[0], results[1]);
    eprintln!("temporal error {with:.3} with the temporal loss vs {without:.3} independent ({:.1}× lower); style loss {style_with:.4e} vs {style_without:.4e}", without / with);
    assert!(with * 1.5 < without, "the temporal loss lowers the temporal error: {with} vs {without}");
}

#[test]
fn a_video_frame_of_another_size_is_refused() {
    // Frame 2 is wider than frame 1: after frame 1 is done (and kept for the flow), frame 2 is
    // refused with an Image error naming both sizes, not run with mismatched buffers.
    let input = out_dir("video_sizes_in");
    image::RgbaImage::from_fn(32, 32, |x, y| image::Rgba([(x * 8) as u8, (y * 8) as u8, 128, 255])).save(input.join("frame-00.png")).unwrap();
    image::RgbaImage::from_fn(40, 32, |x, y| image::Rgba([(x * 6) as u8, (y * 8) as u8, 128, 255])).save(input.join("frame-01.png")).unwrap();
    let output = out_dir("video_sizes_out");
    let st = run_video(&input, &output, &["--size", "32", "--iterations", "2", "--frame-iterations", "2"]);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success(), "a frame of another size must fail");
    assert!(stderr.contains("every frame must have the same size"), "the error names the problem: {stderr}");
    assert!(output.join("frame-00.png").exists(), "the first frame was written before the second failed");
}
