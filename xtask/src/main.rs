//! `cargo xtask <task>`: the project's chores, so the README's commands stay one line each.
//!
//! - `snippet` builds the browser snippet into `www/dist/` and enforces its size budget.
//! - `demo` builds what is needed and runs `reftrack demo`.
//! - `bench [--quick] [--perf] [--only clicks,orders,postgres,reports]` installs nginx, wrk,
//!   sqlite3 and PostgreSQL when missing, builds the release server and measures it against
//!   baselines taken in the same run (the README's Benchmarks section says what and how).
//! - `test` installs what the tests need on a fresh machine (wasm target, Chromium, PostgreSQL,
//!   wasm-bindgen's test runner), builds the snippet, then runs every test of the workspace (on
//!   SQLite), the server's API suite again on PostgreSQL, and the wasm core's tests in headless
//!   Chromium.

mod setup;
mod snippet;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The workspace this xtask was run in. `cargo run` sets `CARGO_MANIFEST_DIR` for the run as
/// well: with a target folder shared by two checkouts (a clone pointed at this one's build), the
/// binary's own compile-time path would be the other checkout's, and its commands would build and
/// measure that checkout's sources.
fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing on a non-zero exit.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.current_dir(root()).status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("snippet") => {
            setup::wasm_target()?;
            snippet::build(args.iter().any(|a| a == "--strict"))
        }
        Some("demo") => {
            setup::wasm_target()?;
            snippet::build_if_stale()?;
            run(cargo().args(["run", "--release", "-p", "reftrack-server", "--", "demo"]).args(&args[1..]))
        }
        Some("test") => {
            setup::wasm_target()?;
            setup::system_packages()?;
            setup::wasm_bindgen_test_runner()?;
            snippet::build_if_stale()?;
            run(cargo().args(["test", "--workspace"]))?;
            // The API suite again, on a real PostgreSQL server it starts itself.
            run(cargo().args(["test", "-p", "reftrack-server", "--test", "api"]).env("REFTRACK_TEST_BACKEND", "postgres"))?;
            // The wasm core itself, compiled to wasm32, in headless Chromium (tracker-wasm/webdriver.json).
            run(cargo()
                .args(["test", "-p", "reftrack-tracker", "--lib", "--target", "wasm32-unknown-unknown"])
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
                .env("CHROMEDRIVER", "chromedriver"))
        }
        Some("bench") => {
            setup::bench_packages(args.iter().any(|a| a == "--perf"))?;
            // The release server is what is measured. The driver only prepares, starts and reads:
            // the load comes from wrk and the baselines from nginx, sqlite3 and pgbench, each in
            // its own process, so a debug build of the driver is enough.
            run(cargo().args(["build", "--release", "-p", "reftrack-server", "--bin", "reftrack"]))?;
            run(cargo()
                .args(["run", "-q", "-p", "reftrack-e2e", "--bin", "bench", "--"])
                .args(&args[1..])
                .env("REFTRACK_BIN_DIR", root().join("target/release")))
        }
        _ => {
            eprintln!("usage: cargo xtask <snippet [--strict] | demo [serve flags] | test | bench [--quick] [--perf] [--only SECTIONS]>");
            std::process::exit(2);
        }
    }
}
