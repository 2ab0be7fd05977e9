//! Installing what a fresh machine lacks: the wasm target, Chromium and its driver. Each step is
//! skipped when already done.

use crate::run;
use anyhow::{bail, Result};
use std::process::Command;

fn has(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// `rustup target add wasm32-unknown-unknown` if missing.
pub fn wasm_target() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown") => Ok(()),
        Ok(_) => run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"])),
        Err(_) => Ok(()), // No rustup: the toolchain manager of this machine must provide the target.
    }
}

/// The version of `wasm-bindgen-test-runner` that matches the pinned wasm-bindgen.
const WASM_BINDGEN: &str = "0.2.130";

/// `wasm-bindgen-test-runner` (runs the wasm core's tests in headless Chromium), from crates.io
/// when missing or of another version: `cargo install wasm-bindgen-cli` (about two minutes).
pub fn wasm_bindgen_test_runner() -> Result<()> {
    let version = Command::new("wasm-bindgen-test-runner").arg("--version").output();
    if version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(WASM_BINDGEN)) {
        return Ok(());
    }
    // Not --locked: the CLI's own lockfile does not build with this toolchain.
    run(crate::cargo().args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN]))
}

fn has_postgres() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.path().join("bin/initdb").exists())))
}

/// Debian's chromium and chromium-driver (browser tests), postgresql (the PostgreSQL suite starts
/// its own server) and binaryen (wasm-opt, a smaller snippet), when missing and we may install them.
pub fn system_packages() -> Result<()> {
    if has("chromium") && has("chromedriver") && has("wasm-opt") && has_postgres() {
        return Ok(());
    }
    if !has("apt-get") {
        bail!("the browser tests need chromium and chromedriver on PATH");
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", "chromium", "chromium-driver", "binaryen", "postgresql"])
}

/// What `cargo xtask bench` drives, from Debian packages when missing: nginx (the redirect
/// baseline), wrk (the load), sqlite3 and PostgreSQL's pgbench (raw commits), and perf for
/// `--perf`. Installed as root; otherwise the missing packages are named and the bench stops.
pub fn bench_packages(perf: bool) -> Result<()> {
    let mut wanted = vec![("nginx", "nginx"), ("wrk", "wrk"), ("sqlite3", "sqlite3"), ("pgbench", "postgresql")];
    if perf {
        wanted.push(("perf", "linux-perf"));
    }
    let mut missing: Vec<&str> = wanted.iter().filter(|(program, _)| !has(program)).map(|(_, package)| *package).collect();
    if !has_postgres() && !missing.contains(&"postgresql") {
        missing.push("postgresql");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !has("apt-get") {
        bail!("the bench needs {0}: install them (`sudo apt-get install -y {0}`) or run `cargo xtask bench` as root", missing.join(" "));
    }
    let apt = |args: &[&str]| run(Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive"));
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    apt(&install)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
