//! Every WGSL file parses and validates with naga, without a GPU.

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "wgsl")).collect();
    files.sort();
    // The compute kernels (gpu::SHADERS) plus the preview's display.wgsl.
    assert_eq!(files.len(), stylize::gpu::SHADERS.len() + 1, "every shader file is used by the engine");
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
        assert!(src.starts_with("//"), "{}: starts with a header comment", path.display());
    }
}
