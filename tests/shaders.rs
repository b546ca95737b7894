//! Every WGSL file parses and validates with naga, without a GPU: each kernel file with every
//! precision prelude the engine compiles it with (f32 and f16, both conv directions), and the
//! preview's display.wgsl as it is.

fn validate(name: &str, src: &str) {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let caps = naga::valid::Capabilities::default() | naga::valid::Capabilities::SHADER_FLOAT16;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
}

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "wgsl")).collect();
    files.sort();
    // The compute kernels (gpu::SHADERS) plus the preview's display.wgsl.
    assert_eq!(files.len(), stylize::gpu::SHADERS.len() + 1, "every shader file is used by the engine");
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        assert!(src.starts_with("//"), "{}: starts with a header comment", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        let kernel = stylize::gpu::SHADERS.iter().position(|(n, _)| *n == name);
        match kernel {
            Some(i) => assert_eq!(stylize::gpu::SHADERS[i].1, src, "{name}: the engine embeds this file"),
            None => validate(&name, &src),
        }
    }
    let variants = stylize::gpu::shader_variants(true);
    assert_eq!(variants.len(), 2 * (stylize::gpu::SHADERS.len() + 1), "each kernel file in both precisions (conv: both directions)");
    for (i, prelude) in variants {
        let (name, src) = stylize::gpu::SHADERS[i];
        validate(&format!("{name} with prelude\n{prelude}"), &format!("{prelude}{src}"));
    }
}
