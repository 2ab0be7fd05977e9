//! The programs the bench drives from outside, each in its own process: `wrk` (the load), `nginx`
//! (the redirect baseline), `sqlite3` and `pgbench` (raw commits), `perf stat` (syscalls); and the
//! CPU accounting that tells how much of the machine each side used.

use anyhow::{bail, Context, Result};
use reftrack_e2e::{free_port, spawn_listening, Process};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;
use tempfile::TempDir;

/// Whether `program` is on PATH.
pub fn has(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Fails with what to install when a program the bench needs is missing.
pub fn require(programs: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = programs.iter().filter(|(program, _)| !has(program)).map(|(_, package)| *package).collect();
    if !missing.is_empty() {
        bail!(
            "the bench needs {}: `apt-get install -y {}` (cargo xtask bench does it when run as root)",
            missing.join(", "),
            missing.join(" ")
        );
    }
    Ok(())
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fields of `/proc/PID/stat` after the command name: [11] utime, [12] stime, [13] cutime, [14] cstime.
fn stat_fields(pid: &str) -> Result<Vec<f64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed stat")?;
    Ok(after_name.split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect())
}

/// CPU seconds a running process (all its threads) has used so far.
pub fn process_cpu(pid: u32) -> f64 {
    stat_fields(&pid.to_string()).map(|f| (f[11] + f[12]) / clock_ticks()).unwrap_or(0.0)
}

/// CPU seconds used by this process's children that have exited and been waited for (wrk, pgbench).
pub fn reaped_children_cpu() -> f64 {
    stat_fields("self").map(|f| (f[13] + f[14]) / clock_ticks()).unwrap_or(0.0)
}

/// The machine's busy CPU seconds (all cores) since boot, from `/proc/stat`.
pub fn machine_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat.lines().next().unwrap_or_default().split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0.0)).collect();
    // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
    let busy: f64 = fields.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    busy / clock_ticks()
}

/// How many `rustc` processes are running now (other engineers' builds make figures noisy).
pub fn compilers_running() -> usize {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries.flatten().filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "rustc")).count()
        })
        .unwrap_or(0)
}

/// One `wrk` process: `-t1 -c{connections} -d{seconds}s` running `script` with `args`.
#[derive(Debug, Clone)]
pub struct Load {
    pub url: String,
    pub script: PathBuf,
    pub args: Vec<String>,
    pub connections: u32,
    pub seconds: u32,
}

#[derive(Debug, Deserialize)]
struct Errors {
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
}

#[derive(Debug, Deserialize)]
struct Latency {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
}

#[derive(Debug, Deserialize)]
struct Printed {
    duration_us: u64,
    requests: u64,
    answered: u64,
    exhausted: u64,
    unexpected: String,
    errors: Errors,
    latency_us: Latency,
}

/// What one wrk run saw.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub seconds: f64,
    /// Responses of any status.
    pub responses: u64,
    /// Responses with the status the script expects (302 for clicks, 200 for orders).
    pub answered: u64,
    /// Status ≥ 400 plus socket errors and timeouts.
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The script ran out of prepared requests before the end (the rate is then a lower bound).
    pub exhausted: bool,
    /// The first answer with another status than expected: status and the start of its body.
    pub unexpected: Option<String>,
}

impl LoadResult {
    /// Expected answers per second.
    pub fn rate(&self) -> f64 {
        self.answered as f64 / self.seconds
    }

    /// The sum of simultaneous runs against several servers (latencies: the worst of them).
    pub fn combined(runs: &[LoadResult]) -> LoadResult {
        let max = |f: fn(&LoadResult) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        LoadResult {
            seconds: max(|r| r.seconds),
            responses: runs.iter().map(|r| r.responses).sum(),
            answered: runs.iter().map(|r| r.answered).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
            p50_ms: max(|r| r.p50_ms),
            p90_ms: max(|r| r.p90_ms),
            p99_ms: max(|r| r.p99_ms),
            max_ms: max(|r| r.max_ms),
            exhausted: runs.iter().any(|r| r.exhausted),
            unexpected: runs.iter().find_map(|r| r.unexpected.clone()),
        }
    }
}

/// Where the CPU went during a measured run.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// The measured servers (all threads).
    pub server_s: f64,
    /// The load generators.
    pub load_s: f64,
    /// Everything else on the machine (other engineers' builds, PostgreSQL, …).
    pub others_s: f64,
    pub wall_s: f64,
}

impl CpuUse {
    /// `server 1.02 cores, wrk 0.71, others 0.20`.
    pub fn describe(&self) -> String {
        let cores = |s: f64| s / self.wall_s.max(1e-9);
        format!(
            "cpu: server {:.2} cores, wrk {:.2}, rest of the machine {:.2}",
            cores(self.server_s),
            cores(self.load_s),
            cores(self.others_s)
        )
    }
}

/// Optional `perf stat` of the servers during a run: syscalls and context switches.
#[derive(Debug, Clone, Default)]
pub struct Syscalls {
    pub syscalls: f64,
    pub context_switches: f64,
}

/// Runs the loads at the same time, `servers` being the processes whose CPU is theirs, and
/// `perf stat` on them when `perf` is set.
pub fn run_loads(loads: &[Load], servers: &[u32], perf: bool) -> Result<(Vec<LoadResult>, CpuUse, Option<Syscalls>)> {
    let server_cpu = || servers.iter().map(|pid| process_cpu(*pid)).sum::<f64>();
    let seconds = loads.iter().map(|l| l.seconds).max().unwrap_or(0);
    let (server0, load0, busy0, started) = (server_cpu(), reaped_children_cpu(), machine_busy(), Instant::now());
    let perf_child = if perf && !servers.is_empty() { Some(perf_stat(servers, seconds)?) } else { None };
    let children: Vec<(Child, &Load)> = loads
        .iter()
        .map(|load| {
            let child = Command::new("wrk")
                .args(["-t1", &format!("-c{}", load.connections), &format!("-d{}s", load.seconds), "--timeout", "30s", "-s"])
                .arg(&load.script)
                .arg(&load.url)
                .arg("--")
                .args(&load.args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting wrk")?;
            Ok((child, load))
        })
        .collect::<Result<_>>()?;
    let mut results = Vec::new();
    for (child, load) in children {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("BENCH_RESULT ")) else {
            bail!("wrk {} printed no result: {stdout}{}", load.url, String::from_utf8_lossy(&out.stderr));
        };
        let p: Printed = serde_json::from_str(line).with_context(|| format!("wrk's result {line}"))?;
        let e = &p.errors;
        let ms = |us: u64| us as f64 / 1000.0;
        results.push(LoadResult {
            seconds: p.duration_us as f64 / 1e6,
            responses: p.requests,
            answered: p.answered,
            errors: e.connect + e.read + e.write + e.status + e.timeout,
            p50_ms: ms(p.latency_us.p50),
            p90_ms: ms(p.latency_us.p90),
            p99_ms: ms(p.latency_us.p99),
            max_ms: ms(p.latency_us.max),
            exhausted: p.exhausted > 0,
            unexpected: Some(p.unexpected).filter(|u| !u.is_empty()),
        });
    }
    let wall_s = started.elapsed().as_secs_f64();
    let server_s = server_cpu() - server0;
    let load_s = reaped_children_cpu() - load0;
    let cpu = CpuUse { server_s, load_s, others_s: (machine_busy() - busy0 - server_s - load_s).max(0.0), wall_s };
    let syscalls = match perf_child {
        Some(child) => Some(read_perf_stat(child)?),
        None => None,
    };
    Ok((results, cpu, syscalls))
}

fn perf_stat(pids: &[u32], seconds: u32) -> Result<Child> {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    Command::new("perf")
        .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter,context-switches", "-p", &pids.join(","), "--", "sleep"])
        .arg(seconds.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting perf stat")
}

fn read_perf_stat(child: Child) -> Result<Syscalls> {
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let value = |event: &str| {
        text.lines().find(|l| l.split(',').nth(2) == Some(event)).and_then(|l| l.split(',').next()).and_then(|v| v.parse::<f64>().ok())
    };
    match (value("raw_syscalls:sys_enter"), value("context-switches")) {
        (Some(syscalls), Some(context_switches)) => Ok(Syscalls { syscalls, context_switches }),
        _ => bail!("perf stat gave no counts (is perf usable here? `perf stat -e raw_syscalls:sys_enter true`): {text}"),
    }
}

/// Writes a load script: the shared reporting part, then the script's own.
pub fn script(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, [include_str!("lua/report.lua"), body].join("\n"))?;
    Ok(path)
}

/// nginx with one worker, its own prefix and configuration, on loopback, answering every request
/// with the same `302` a tracking link gives (the same Location, Set-Cookie and Cache-Control).
pub struct Nginx {
    process: Process,
    pub port: u16,
    _dir: TempDir,
}

impl Nginx {
    pub fn start(location: &str, set_cookie: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("rtnginx").tempdir()?;
        let port = free_port();
        let d = dir.path().display();
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        // One process serving (no master: nothing is left behind if the bench is killed), no access
        // log, and keep-alive as long as the server's (nginx closes after 1,000 requests by default).
        let config = format!(
            r#"worker_processes 1;
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            add_header Set-Cookie "{cookie}" always;
            add_header Cache-Control "no-store" always;
            return 302 "{location}";
        }}
    }}
}}
"#,
            cookie = quote(set_cookie),
            location = quote(location),
        );
        std::fs::write(dir.path().join("nginx.conf"), config)?;
        let mut cmd = Command::new("nginx");
        cmd.arg("-p").arg(dir.path()).arg("-e").arg(dir.path().join("error.log")).arg("-c").arg(dir.path().join("nginx.conf"));
        let process = spawn_listening(cmd, port)?;
        Ok(Self { process, port, _dir: dir })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Commits per second of `sqlite3` (the CLI, its own process) inserting one row per transaction
/// into a fresh WAL database with `synchronous=FULL`: the durability of the server's orders.
pub fn sqlite_commits(dir: &Path, rows: usize, row_bytes: usize) -> Result<f64> {
    let db = dir.join("raw.db");
    let create = "PRAGMA journal_mode=WAL; CREATE TABLE orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL);";
    let out = Command::new("sqlite3").arg(&db).arg(create).output().context("running sqlite3")?;
    anyhow::ensure!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    let body = "x".repeat(row_bytes);
    let mut script = String::from("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\n");
    for i in 0..rows {
        script.push_str(&format!("INSERT INTO orders VALUES ('raw:{i}', '{body}');\n"));
    }
    let path = dir.join("raw.sql");
    std::fs::write(&path, script)?;
    let started = Instant::now();
    let out = Command::new("sqlite3").arg(&db).stdin(std::fs::File::open(&path)?).output().context("running sqlite3")?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    Ok(rows as f64 / elapsed)
}

/// Transactions per second of `pgbench` running `INSERT`s of one row per transaction from
/// `clients` connections for `seconds`, into a table shaped like an order (a text key).
pub fn pgbench_commits(port: u16, database: &str, dir: &Path, clients: u32, seconds: u32, row_bytes: usize) -> Result<f64> {
    let psql = |sql: &str| -> Result<()> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "reftrack",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .context("running psql")?;
        anyhow::ensure!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    };
    psql("CREATE TABLE IF NOT EXISTS raw_orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL)")?;
    let script = dir.join("raw_orders.sql");
    std::fs::write(
        &script,
        format!("INSERT INTO raw_orders VALUES ('raw:' || :client_id || ':' || md5(random()::text || clock_timestamp()::text), repeat('x', {row_bytes}));\n"),
    )?;
    let out = Command::new("pgbench")
        .args(["-n", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "reftrack", "-f"])
        .arg(&script)
        .args(["-c", &clients.to_string(), "-j", "1", "-T", &seconds.to_string(), database])
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "pgbench: {text}{}", String::from_utf8_lossy(&out.stderr));
    text.lines()
        .find_map(|l| l.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .with_context(|| format!("no tps in pgbench's output: {text}"))
}
