//! Every WGSL module the engine compiles parses and validates with naga, without a GPU (each kernel
//! file with each prelude: f32 and f16 storage, both conv directions; the preview's display.wgsl as
//! it is); every uniform struct's WGSL twin has its Rust struct's size and field offsets; and every
//! kernel's binding table (WGSL name → slot, kind) matches the variables its entry point uses.

mod common;
use stylize::gpu::Bind;
use stylize::kernels::{module_source, ModuleKey, Shader, PRELUDE_WGSL};

fn validate(name: &str, src: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let caps = naga::valid::Capabilities::default() | naga::valid::Capabilities::SHADER_FLOAT16;
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps).validate(&module).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    (module, info)
}

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "wgsl")).collect();
    files.sort();
    // The kernel files, the shared prelude.wgsl and the preview's display.wgsl.
    assert_eq!(files.len(), Shader::ALL.len() + 2, "every shader file is used by the engine");
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        assert!(src.starts_with("//"), "{}: starts with a header comment", path.display());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match Shader::ALL.iter().find(|s| s.file_name() == name) {
            Some(s) => assert_eq!(s.source(), src, "{name}: the engine embeds this file"),
            None if name == "prelude.wgsl" => assert_eq!(PRELUDE_WGSL, src, "the engine embeds prelude.wgsl"),
            None => {
                validate(&name, &src);
            }
        }
    }
    let modules = ModuleKey::all(true);
    assert_eq!(modules.len(), 2 * (Shader::ALL.len() + 2), "each kernel file in both precisions (the two conv files: both directions)");
    for key in modules {
        validate(&format!("{key:?}"), &module_source(key));
    }
}

#[test]
fn uniform_structs_match_their_rust_twins() {
    let mut checked = 0;
    for shader in Shader::ALL {
        let key = ModuleKey { shader, precision: stylize::Precision::F32, conv: shader.is_conv().then_some(stylize::kernels::Direction::Forward) };
        let (module, _) = validate(shader.file_name(), &module_source(key));
        for u in shader.uniforms() {
            let ty = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(u.name)).unwrap_or_else(|| panic!("{}: struct {} in the WGSL", shader.file_name(), u.name)).1;
            let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{} is a struct", u.name) };
            let wgsl: Vec<(&str, usize)> = members.iter().map(|m| (m.name.as_deref().unwrap(), m.offset as usize)).collect();
            assert_eq!(wgsl, u.fields, "{}: WGSL member offsets vs the Rust struct's", u.name);
            assert_eq!(*span as usize, u.size, "{}: WGSL size vs size_of the Rust struct", u.name);
            assert_eq!(u.size % 16, 0, "{}: a uniform's size is a multiple of 16", u.name);
            checked += 1;
        }
    }
    assert_eq!(checked, 14, "every uniform struct");
}

#[test]
fn bindings_match_the_wgsl() {
    let mut checked = 0;
    for shader in Shader::ALL {
        let key = ModuleKey { shader, precision: stylize::Precision::F16, conv: shader.is_conv().then_some(stylize::kernels::Direction::Backward) };
        let (module, info) = validate(shader.file_name(), &module_source(key));
        let entries: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(shader.kernels().len(), entries.len(), "{}: every entry point has a binding table ({entries:?})", shader.file_name());
        for def in shader.kernels() {
            let ep = module.entry_points.iter().position(|e| e.name == def.entry).unwrap_or_else(|| panic!("entry point {}", def.entry));
            let used = info.get_entry_point(ep);
            let mut wgsl: Vec<(String, u32, Bind)> = module
                .global_variables
                .iter()
                .filter(|(h, g)| g.binding.is_some() && !used[*h].is_empty())
                .map(|(_, g)| {
                    let kind = match g.space {
                        naga::AddressSpace::Uniform => Bind::Uniform,
                        naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => Bind::Write,
                        naga::AddressSpace::Storage { .. } => Bind::Read,
                        s => panic!("{}: unexpected address space {s:?}", def.entry),
                    };
                    (g.name.clone().unwrap(), g.binding.as_ref().unwrap().binding, kind)
                })
                .collect();
            wgsl.sort_by_key(|b| b.1);
            let mut table: Vec<(String, u32, Bind)> = def.bindings.iter().map(|b| (b.name.to_string(), b.slot, b.kind)).collect();
            table.sort_by_key(|b| b.1);
            assert_eq!(table, wgsl, "{}: the Rust binding table vs the variables the entry point uses", def.entry);
            checked += 1;
        }
    }
    assert_eq!(checked, 49, "every kernel entry point");
}

#[test]
fn every_pipeline_variant_is_listed_once() {
    let all = stylize::kernels::all_pipelines(true);
    // conv 2 directions × 5 tiles, Winograd 2 directions × (2 input transforms, tiled GEMM, 3
    // direct GEMMs, 2 output transforms), pool 2 × 2, Gram partials and style gradient 4 each, content
    // loss, to_act, the tile activation copy and the masked features: per precision; Gram finish,
    // style diff, TV, temporal, reduce, Adam ×2, pre/post, L-BFGS ×6, tile copy/zero/Gram
    // sum/masked add, colour ×5, Gram blend, flow ×6: f32.
    assert_eq!(all.len(), 2 * (10 + 16 + 4 + 8 + 1 + 1 + 1 + 1) + 9 + 6 + 4 + 5 + 1 + 6);
    let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "distinct names");
    for (i, a) in all.iter().enumerate() {
        assert!(all[i + 1..].iter().all(|b| b.key != a.key), "{}: distinct keys", a.name);
    }
    // For the Tint test: every variant with its module's WGSL.
    if let Some(dir) = std::env::var_os("STYLIZE_EXPORT_CASES") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pipelines.json"), serde_json::to_vec(&common::export::pipelines_json(true)).unwrap()).unwrap();
    }
}
