//! The crate's layering is a checked fact: every `crate::` path in `crate/` (code, not comments;
//! `#[cfg(test)]` modules aside) names a module of its own layer or below, as the table under
//! "## Layers" in ARCHITECTURE.md orders them, and the module graph has no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module → layer, read from ARCHITECTURE.md's "## Layers" table (`| N | \`a\` \`b\` |` rows).
fn layers() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = doc.split("## Layers").nth(1).expect("ARCHITECTURE.md has a ## Layers section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(layer) = cells[1].parse::<usize>() else { continue };
        for name in cells[2].split('`').skip(1).step_by(2) {
            assert!(out.insert(name.to_string(), layer).is_none(), "{name} is listed twice");
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `crate/` belongs to (`crate/session/tiled.rs` → `session`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(Path::new(ROOT).join("crate")).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The names `src` reaches through `crate::` in its code (comments and the `#[cfg(test)]` module
/// left out): the first segment of each path, each of a `crate::{a, b::c}` group's.
fn imports(src: &str) -> BTreeSet<String> {
    let code = src.split("#[cfg(test)]").next().unwrap();
    let code: String = code.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| -> String { s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with('$') {
            continue; // `$crate::` in a macro: the crate that expands it
        }
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at depth-0 commas.
            let (mut depth, mut start) = (0, 0);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// What the crate root re-exports (`pub use module::{A, B}` in crate/lib.rs) and the exported
/// macros (`macro_rules!` in a module): item → the module it comes from.
fn root_items() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let lib = std::fs::read_to_string(Path::new(ROOT).join("crate/lib.rs")).unwrap();
    for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
        let (module, items) = line.trim_end_matches(';').split_once("::").unwrap();
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            out.insert(item.trim().rsplit("::").next().unwrap().to_string(), module.to_string());
        }
    }
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("crate"), &mut files);
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for (i, _) in src.match_indices("macro_rules! ") {
            let name: String = src[i + 13..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.insert(name, module_of(&f));
        }
    }
    out
}

/// Every module → the modules it imports (itself excluded).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("crate"), &mut files);
    let root = root_items();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module_of(&f);
        let src = std::fs::read_to_string(&f).unwrap();
        // An item the root re-exports counts as an import of the module it comes from.
        let targets = imports(&src).into_iter().map(|t| root.get(&t).cloned().unwrap_or(t));
        let e = g.entry(m.clone()).or_default();
        e.extend(targets.filter(|t| *t != m));
    }
    g
}

#[test]
fn no_module_imports_a_higher_layer() {
    let layers = layers();
    let g = graph();
    let mut bad = Vec::new();
    for (m, targets) in &g {
        let Some(&lm) = layers.get(m) else {
            bad.push(format!("module {m} is in no layer of ARCHITECTURE.md"));
            continue;
        };
        for t in targets {
            match layers.get(t) {
                Some(&lt) if lt > lm => bad.push(format!("{m} (layer {lm}) imports {t} (layer {lt})")),
                None => bad.push(format!("{m} imports {t}, which is in no layer")),
                _ => {}
            }
        }
    }
    assert!(bad.is_empty(), "imports up the stack:\n{}", bad.join("\n"));
    eprintln!("{} modules in {} layers, no import up the stack", g.len(), layers.values().collect::<BTreeSet<_>>().len());
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    // Depth-first search; a node met again while on the path closes a cycle.
    fn visit(m: &str, g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} → {m}", path[i..].join(" → "));
        }
        path.push(m.to_string());
        for t in g.get(m).into_iter().flatten() {
            visit(t, g, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        visit(m, &g, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_scanner_sees_an_upward_import() {
    // The check itself can fail: a layer-1 file naming a layer-7 module is found.
    let src = "use crate::error::Result;\nuse crate::{gpu::{Gpu, Slice}, tiles};\n/// [`crate::session`] in a doc link is fine\nfn f() { crate::session::live_sessions(); }\n#[cfg(test)]\nmod t { use crate::cli; }\n";
    let want: BTreeSet<String> = ["error", "gpu", "tiles", "session"].map(String::from).into();
    assert_eq!(imports(src), want);
    assert_eq!(root_items().get("Session").map(String::as_str), Some("session"), "root re-exports resolve to their module");
}
