//! Every import in the server points down: a module uses only modules of lower layers (and its
//! own files), and no two files import each other, directly or in a circle.
//!
//! Read from the sources: each `crate::…` path (in `use` lines and in code) and each `super::…`
//! path names the module a file depends on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may use modules of lower layers only; modules of one layer
/// may not use each other.
const LAYERS: &[&[&str]] = &[
    &["domain", "metrics"],
    &["configuration", "clock"],
    &["store"],
    &["writer", "delivery"],
    &["intake", "backoffice"],
    &["routes"],
    &["startup"],
    &["demo"],
    &["cli"],
];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module {module} is in no layer: add it to LAYERS"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/intake/orders.rs` → `["intake", "orders"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// The code of a file without its test modules, which come last (tests may reach anywhere).
fn code_of(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The modules a file names through `crate::a::b` or `super::b` paths (two levels deep).
fn dependencies(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let word = |s: &str| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_owned();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let first = word(rest);
        let second = rest.strip_prefix(&first).and_then(|r| r.strip_prefix("::")).map(word).unwrap_or_default();
        out.insert([first, second].into_iter().filter(|s| !s.is_empty() && s.chars().next().unwrap().is_lowercase()).collect());
    }
    for (i, _) in code.match_indices("super::") {
        // `super::x` in a/b.rs is a::x; in a/mod.rs (module ["a"]) it is the crate's x.
        let parent: Vec<String> = module.iter().take(module.len().saturating_sub(1)).cloned().collect();
        let name = word(&code[i + "super::".len()..]);
        if !name.is_empty() && name.chars().next().unwrap().is_lowercase() {
            out.insert(parent.into_iter().chain([name]).take(2).collect());
        }
    }
    out
}

#[test]
fn no_module_imports_a_higher_layer_and_no_files_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module.is_empty() {
            continue; // lib.rs and main.rs only declare and start.
        }
        let text = std::fs::read_to_string(file).unwrap();
        let here: Vec<String> = module.iter().take(2).cloned().collect();
        for dep in dependencies(&module, code_of(&text)) {
            let Some(top) = dep.first() else { continue };
            if *top == module[0] {
                if dep != here && !dep.is_empty() && dep.len() > 1 {
                    graph.entry(here.clone()).or_default().insert(dep);
                }
                continue;
            }
            if layer(top) >= layer(&module[0]) {
                wrong.push(format!("{} uses {} (layer {} ≥ {})", file.display(), dep.join("::"), layer(top), layer(&module[0])));
            }
        }
    }
    assert!(wrong.is_empty(), "imports pointing up or sideways:\n{}", wrong.join("\n"));

    // Within a module, files may use each other, but never in a circle.
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|p| p == node) {
            return Some(path[start..].iter().chain([node]).map(|m| m.join("::")).collect::<Vec<_>>().join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("files import each other in a circle: {circle}");
        }
    }
}
