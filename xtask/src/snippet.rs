//! Building the snippet: compile to wasm, let the pinned wasm-bindgen (as a library: no CLI to
//! install) strip its metadata, shrink with wasm-opt when present, write the call contract
//! (`tracker-wasm/src/contract.rs`) into the loader's scope after checking every call the loader
//! makes against it, and check the size budget. wasm-bindgen's JS glue is not shipped: the module
//! imports nothing, and the loader instantiates it itself.

use crate::{cargo, root, run};
use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use reftrack_tracker::contract::{Spec, CONTRACT};
use reftrack_tracker::out::CAPACITY;
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The wasm features rustc's wasm32 target emits, which wasm-opt must be told it may keep.
const FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-reference-types",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
];

/// The most the browser may download, gzip-compressed, JS and wasm together.
pub const GZIP_BUDGET: usize = 12 * 1024;

fn dist() -> PathBuf {
    root().join("www/dist")
}

fn newest(path: &Path) -> SystemTime {
    let Ok(meta) = fs::metadata(path) else { return SystemTime::UNIX_EPOCH };
    let own = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if !meta.is_dir() {
        return own;
    }
    fs::read_dir(path).into_iter().flatten().flatten().map(|e| newest(&e.path())).fold(own, SystemTime::max)
}

/// Builds unless `www/dist/` is newer than every source it comes from.
pub fn build_if_stale() -> Result<()> {
    let built = fs::metadata(dist().join("reftrack_bg.wasm")).and_then(|m| m.modified()).ok();
    let sources =
        ["tracker-wasm/src", "tracker-wasm/Cargo.toml", "protocol/src", "www/loader.js", "www/reftrack.d.ts", "xtask/src/snippet.rs"]
            .iter()
            .map(|p| newest(&root().join(p)))
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
    match built {
        Some(b) if b >= sources && dist().join("reftrack.js").exists() => Ok(()),
        _ => build(false),
    }
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len())
}

/// Builds `www/dist/{reftrack.js, reftrack_bg.wasm, reftrack.d.ts}`, prints their sizes, and fails
/// when they exceed the gzip budget (`strict`: even when npm's tools were missing).
pub fn build(strict: bool) -> Result<()> {
    let mut build = cargo();
    build.args(["build", "-p", "reftrack-tracker", "--lib", "--target", "wasm32-unknown-unknown", "--profile", "snippet"]);
    // The core passes no JS values (one numeric call over a shared buffer): without reference
    // types wasm-bindgen adds no externref table, so the module imports nothing and the loader
    // instantiates it itself, with none of wasm-bindgen's JS glue. (Only this profile: the
    // wasm-bindgen-test build keeps the target's defaults.)
    build.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", "-Ctarget-feature=-reference-types");
    run(&mut build)?;
    let compiled = root().join("target/wasm32-unknown-unknown/snippet/reftrack_tracker.wasm");
    let out = root().join("target/snippet-bindgen");
    fs::create_dir_all(&out)?;
    let mut output = wasm_bindgen_cli_support::Bindgen::new()
        .input_bytes("reftrack", without_target_features(&fs::read(&compiled)?)?)
        .out_name("reftrack")
        .no_modules(true)?
        .remove_name_section(true)
        .remove_producers_section(true)
        .typescript(false)
        .generate_output()
        .context("wasm-bindgen")?;
    // The loader instantiates the module with no imports: anything wasm-bindgen would have had
    // its glue provide is a mistake in the core.
    let imports: Vec<String> = output.wasm().imports.iter().map(|i| format!("{}.{}", i.module, i.name)).collect();
    if !imports.is_empty() {
        bail!("the wasm core must import nothing, but imports {imports:?}");
    }
    let wasm = out.join("reftrack_bg.wasm");
    fs::write(&wasm, output.wasm_mut().emit_wasm())?;
    optimise(&wasm)?;
    optimise_after_bindgen(&wasm)?;

    let loader = fs::read_to_string(root().join("www/loader.js"))?;
    check_calls(&loader, CONTRACT)?;
    let js = format!("(function () {{\n\"use strict\";\n{}\n{loader}\n}})();\n", contract_js(CONTRACT));
    fs::create_dir_all(dist())?;
    let bundle = out.join("bundle.js");
    fs::write(&bundle, &js)?;
    let minified = minify(&bundle, &dist().join("reftrack.js"))?;
    fs::copy(&wasm, dist().join("reftrack_bg.wasm"))?;
    fs::copy(root().join("www/reftrack.d.ts"), dist().join("reftrack.d.ts"))?;

    let mut total_gzip = 0;
    eprintln!("\nsnippet (what the browser downloads):");
    for file in ["reftrack.js", "reftrack_bg.wasm"] {
        let bytes = fs::read(dist().join(file))?;
        let gz = gzip_len(&bytes)?;
        total_gzip += gz;
        eprintln!("  {file:<18} {:>7} B raw  {:>6} B gzip", bytes.len(), gz);
    }
    eprintln!("  {:<18} {:>7}        {:>6} B gzip (budget {GZIP_BUDGET} B)\n", "total", "", total_gzip);
    if total_gzip > GZIP_BUDGET {
        let message = format!("the snippet is {total_gzip} B gzipped, over the {GZIP_BUDGET} B budget");
        // Without npm's minifier the size says nothing about what ships, so that build may go on
        // (a local demo without Node.js) unless the budget is asked for.
        if minified || strict {
            bail!(message);
        }
        eprintln!("WARNING: {message}, unminified\n");
    }
    Ok(())
}

/// Minifies with terser (from npm, pinned) when `npx` is available (true); otherwise ships as is.
fn minify(input: &Path, output: &Path) -> Result<bool> {
    let npx = Command::new("npx").arg("--version").output();
    if npx.is_err() {
        eprintln!("npx not found: the snippet's JS is not minified (install Node.js and npm for the real size)");
        fs::copy(input, output)?;
        return Ok(false);
    }
    let mut cmd = Command::new("npx");
    cmd.args(["--yes", "terser@5.51.2", "--compress", "--mangle", "--toplevel", "--comments", "false", "--output"]).arg(output).arg(input);
    run(&mut cmd)?;
    Ok(true)
}

/// A second wasm-opt pass over wasm-bindgen's output, with npm's binaryen (pinned) when `npx` is
/// available: unlike Debian's wasm-opt 108 it reads the externref code wasm-bindgen adds.
fn optimise_after_bindgen(wasm: &Path) -> Result<()> {
    if Command::new("npx").arg("--version").output().is_err() {
        return Ok(());
    }
    let mut cmd = Command::new("npx");
    cmd.args(["--yes", "--package=binaryen@132.0.0", "--", "wasm-opt", "-Oz", "--strip-debug", "--strip-producers"])
        .args(FEATURES)
        .arg(wasm)
        .arg("-o")
        .arg(wasm);
    run(&mut cmd)
}

/// wasm-opt -Oz when installed (Debian's binaryen needs the features spelled out).
fn optimise(wasm: &Path) -> Result<()> {
    let probe = Command::new("wasm-opt").arg("--version").output();
    if probe.is_err() {
        eprintln!("wasm-opt not found: skipping (apt-get install binaryen makes the snippet smaller)");
        return Ok(());
    }
    let mut cmd = Command::new("wasm-opt");
    cmd.arg("-Oz").args(FEATURES).arg(wasm).arg("-o").arg(wasm);
    run(&mut cmd)
}

/// The module without its `target_features` section. The core is built without reference types,
/// but the section also lists the features of the prebuilt standard
/// library, and from it wasm-bindgen would add an externref table that the loader must import.
fn without_target_features(wasm: &[u8]) -> Result<Vec<u8>> {
    fn leb128(bytes: &[u8]) -> Result<(usize, usize)> {
        let (mut value, mut shift) = (0usize, 0);
        for (i, b) in bytes.iter().enumerate().take(5) {
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((value, i + 1));
            }
            shift += 7;
        }
        bail!("a malformed wasm module")
    }
    let mut kept = wasm.get(..8).context("not a wasm module")?.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, n) = leb128(&wasm[at + 1..])?;
        let end = at + 1 + n + size;
        let body = wasm.get(at + 1 + n..end).context("a truncated wasm module")?;
        let (name_len, m) = if id == 0 { leb128(body)? } else { (0, 0) };
        if !(id == 0 && body.get(m..m + name_len) == Some(b"target_features".as_slice())) {
            kept.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    Ok(kept)
}

/// The contract as the loader reads it: `CONTRACT`, one `[name, [arguments…], [answer fields…]]`
/// per operation in number order, and `CAPACITY`, the shared buffer's size.
fn contract_js(contract: &[Spec]) -> String {
    let list = |items: &[&str]| format!("[{}]", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(","));
    let ops: Vec<String> = contract.iter().map(|s| format!("[\"{}\",{},{}]", s.name, list(s.args), list(s.answer))).collect();
    format!(
        "// Generated by `cargo xtask snippet` from tracker-wasm/src/contract.rs.\nvar CAPACITY = {CAPACITY}, CONTRACT = [{}];",
        ops.join(",")
    )
}

/// Fails unless every `core.<operation>({…})` in the loader names an operation of the contract and
/// passes exactly its arguments by name, and every operation is called somewhere.
fn check_calls(loader: &str, contract: &[Spec]) -> Result<()> {
    let mut called = BTreeSet::new();
    for (at, _) in loader.match_indices("core.") {
        let rest = &loader[at + 5..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        let spec = contract.iter().find(|s| s.name == name);
        let Some(spec) = spec else { bail!("www/loader.js calls core.{name}, which tracker-wasm/src/contract.rs does not define") };
        let Some(literal) = rest[name.len()..].strip_prefix("({") else {
            bail!("www/loader.js must call core.{name} with an object literal of its named arguments: core.{name}({{…}})")
        };
        let passed = object_keys(literal).with_context(|| format!("reading the arguments of core.{name} in www/loader.js"))?;
        let declared: BTreeSet<String> = spec.args.iter().map(|a| (*a).to_owned()).collect();
        if passed != declared {
            bail!("www/loader.js calls core.{name} with {passed:?}; the contract declares {declared:?}");
        }
        called.insert(name);
    }
    let unused: Vec<&str> = contract.iter().map(|s| s.name).filter(|n| !called.contains(*n)).collect();
    if !unused.is_empty() {
        bail!("the contract's operations {unused:?} are never called by www/loader.js");
    }
    Ok(())
}

/// The keys of a JS object literal's top level (`a: x, b, c: f(1, 2)}` → a, b, c), read up to its
/// closing brace; strings and nested brackets are skipped.
fn object_keys(literal: &str) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    let (mut depth, mut entry, mut quote) = (0usize, String::new(), None::<char>);
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '}' if depth > 0 => depth -= 1,
            '}' | ',' if depth == 0 => {
                let key = entry.split(':').next().unwrap_or_default().trim().to_owned();
                if !key.is_empty() {
                    keys.insert(key);
                }
                entry.clear();
                if c == '}' {
                    return Ok(keys);
                }
                continue;
            }
            _ => {}
        }
        if depth == 0 && quote.is_none() {
            entry.push(c);
        }
    }
    bail!("no closing brace")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Spec] = &[Spec { name: "view", args: &["record", "now"], answer: &["click"] }];

    #[test]
    fn object_literal_keys_are_read_at_the_top_level_only() {
        let keys = object_keys(r#"record: f(a, {x: 1}), now, label: "a,}b" }) rest"#).unwrap();
        assert_eq!(keys, ["label", "now", "record"].iter().map(|k| (*k).to_owned()).collect());
    }

    #[test]
    fn a_loader_call_that_differs_from_the_contract_fails_the_build() {
        assert!(check_calls("core.view({record: r, now: now()})", SPEC).is_ok());
        assert!(check_calls("core.view({record: r})", SPEC).is_err(), "a missing argument");
        assert!(check_calls("core.view({record: r, now: 1, extra: 2})", SPEC).is_err(), "an unknown argument");
        assert!(check_calls("core.veiw({record: r, now: 1})", SPEC).is_err(), "an unknown operation");
        assert!(check_calls("core.view(r, 1)", SPEC).is_err(), "positional arguments");
        assert!(check_calls("var core;", SPEC).is_err(), "an operation nobody calls");
    }

    #[test]
    fn the_generated_contract_lists_every_operation_in_number_order() {
        let js = contract_js(CONTRACT);
        let mut last = 0;
        for spec in CONTRACT {
            let at = js.find(&format!("[\"{}\",", spec.name)).unwrap();
            assert!(at > last);
            last = at;
        }
        assert!(js.contains(&format!("CAPACITY = {CAPACITY}")));
    }
}
