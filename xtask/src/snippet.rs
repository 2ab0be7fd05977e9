//! Building the snippet: compile to wasm, generate bindings with the pinned wasm-bindgen (as a
//! library: no CLI to install), shrink with wasm-opt when present, wrap the glue and the loader in
//! one function scope, and check the size budget.

use crate::{cargo, root, run};
use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
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
    let sources = ["tracker-wasm/src", "tracker-wasm/Cargo.toml", "protocol/src", "www/loader.js", "www/reftrack.d.ts"]
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
    run(&mut build)?;
    let compiled = root().join("target/wasm32-unknown-unknown/snippet/reftrack_tracker.wasm");
    let out = root().join("target/snippet-bindgen");
    fs::create_dir_all(&out)?;
    // wasm-opt runs before wasm-bindgen: Debian's wasm-opt 108 cannot read the table.fill that
    // wasm-bindgen's externref support adds afterwards.
    let input = out.join("optimised.wasm");
    fs::copy(&compiled, &input)?;
    optimise(&input)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .out_name("reftrack")
        .no_modules(true)?
        .remove_name_section(true)
        .remove_producers_section(true)
        .typescript(false)
        .generate(&out)
        .context("wasm-bindgen")?;
    let wasm = out.join("reftrack_bg.wasm");
    optimise_after_bindgen(&wasm)?;

    let glue = fs::read_to_string(out.join("reftrack.js"))?;
    let loader = fs::read_to_string(root().join("www/loader.js"))?;
    let js = format!("(function () {{\n\"use strict\";\n{glue}\n{loader}\n}})();\n");
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
