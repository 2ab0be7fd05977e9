//! Tracking-link hits: nginx answering the same `302` against the release server, with the same
//! wrk settings, then every answered click looked for in the database after a graceful stop.

use crate::board::Board;
use crate::tools::{self, CpuUse, Load, LoadResult, Nginx, Syscalls};
use crate::{count, Ctx};
use anyhow::{Context, Result};
use reftrack_e2e::TrackServer;
use std::time::Duration;

/// The hit every load makes (the issue's).
pub const PATH: &str = "/go/spring?aff=jane&sid=ad1";

/// A measured load and where the CPU went.
pub struct Measured {
    pub load: LoadResult,
    pub cpu: CpuUse,
    pub syscalls: Option<Syscalls>,
}

impl Measured {
    /// `12345/s  p50 1.2 ms  p99 4.5 ms  …`, with CPU per answer and the syscalls when counted.
    pub fn describe(&self) -> String {
        let l = &self.load;
        let per = |x: f64| x / (l.answered.max(1) as f64);
        let mut s = format!(
            "{:>8.0}/s  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.1} ms  ({} answered, {} errors{})  server CPU {:.0} µs/answer; {}",
            l.rate(),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            l.answered,
            l.errors,
            if l.exhausted { ", RAN OUT OF PREPARED REQUESTS: a lower bound" } else { "" },
            per(self.cpu.server_s) * 1e6,
            self.cpu.describe()
        );
        if let Some(unexpected) = &l.unexpected {
            s.push_str(&format!("\n               first unexpected answer: {unexpected}"));
        }
        if let Some(sys) = &self.syscalls {
            s.push_str(&format!("; {:.1} syscalls and {:.2} context switches per answer", per(sys.syscalls), per(sys.context_switches)));
        }
        s
    }
}

/// Runs one wrk per port at once (the connections split between them), each with its own visitors.
pub fn load(ctx: &Ctx, ports: &[u16], pids: &[u32], seconds: u32) -> Result<Measured> {
    let script = tools::script(ctx.dir.path(), "clicks.lua", include_str!("lua/clicks.lua"))?;
    let loads: Vec<Load> = ports
        .iter()
        .map(|port| Load {
            url: format!("http://127.0.0.1:{port}"),
            script: script.clone(),
            args: vec![PATH.to_owned(), ctx.next_visitors().to_string()],
            connections: ctx.scale.connections / ports.len() as u32,
            seconds,
        })
        .collect();
    let (runs, cpu, syscalls) = tools::run_loads(&loads, pids, ctx.perf)?;
    Ok(Measured { load: LoadResult::combined(&runs), cpu, syscalls })
}

/// Program `standard`, partner jane and the link `spring` (to `https://www.example.com/spring`).
pub async fn seed(server: &TrackServer) -> Result<()> {
    server.seed("https://www.example.com/landing").await?;
    server.add_link(serde_json::json!({"code": "spring", "destination": "https://www.example.com/spring", "programs": ["standard"]})).await
}

/// One click as a browser makes it; returns the answer's Location and Set-Cookie.
async fn probe(server: &TrackServer) -> Result<(String, String)> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let r = http
        .get(server.local(PATH))
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36")
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await?;
    anyhow::ensure!(r.status() == 302, "the tracking link answered {}", r.status());
    let header = |name| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).with_context(|| format!("no {name}"));
    Ok((header("location")?, header("set-cookie")?))
}

/// What the SQLite click section leaves for the others.
pub struct Outcome {
    /// nginx's 302/s and p99 (ms), the baseline of every click figure of the run.
    pub nginx_rate: f64,
    pub nginx_p99_ms: f64,
    /// The server's database, full of clicks, for the order section.
    pub db: tempfile::TempDir,
}

/// nginx, the server, nginx again; then the graceful stop and the count.
pub async fn sqlite(ctx: &Ctx, board: &mut Board) -> Result<Outcome> {
    println!("\n== clicks: nginx `return 302` vs reftrack {PATH} (SQLite), wrk -t1 -c{} -d{}s", ctx.scale.connections, ctx.scale.seconds);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("reftrack.db").display());
    let server = TrackServer::start_with_env(dir, &url, reftrack_e2e::free_port(), 0, crate::SERVER_ENV)?;
    seed(&server).await?;
    let (location, cookie) = probe(&server).await?;
    let nginx = Nginx::start(&location, &cookie)?;
    let (s, w) = (ctx.scale.seconds, ctx.scale.warmup_seconds);
    let pid = server.process.pid();
    load(ctx, &[nginx.port], &[nginx.pid()], w)?;
    let before = load(ctx, &[nginx.port], &[nginx.pid()], s)?;
    println!("  nginx        {}", before.describe());
    let warm = load(ctx, &[server.port], &[pid], w)?;
    let track = load(ctx, &[server.port], &[pid], s)?;
    println!("  reftrack     {}", track.describe());
    let after = load(ctx, &[nginx.port], &[nginx.pid()], s)?;
    println!("  nginx again  {}", after.describe());
    drop(nginx);

    let nginx_rate = (before.load.rate() + after.load.rate()) / 2.0;
    let nginx_p99_ms = (before.load.p99_ms + after.load.p99_ms) / 2.0;
    let spread = (before.load.rate() - after.load.rate()).abs() / nginx_rate * 100.0;
    board.note(
        "nginx 302/s (mean of before and after)",
        format!("{nginx_rate:.0}/s, p99 {nginx_p99_ms:.2} ms (runs differ by {spread:.0} %)"),
    );
    let ratio = track.load.rate() / nginx_rate;
    board.check("SQLite clicks/s ÷ nginx", format!("{ratio:.2}× ({:.0}/s)", track.load.rate()), "≥ 0.8×", ratio >= 0.8);
    let p99 = track.load.p99_ms / nginx_p99_ms;
    board.check("SQLite click p99 ÷ nginx p99", format!("{p99:.1}× ({:.2} ms)", track.load.p99_ms), "≤ 2×", p99 <= 2.0);

    let answered = 1 + warm.load.answered + track.load.answered;
    let dir = server.shutdown(Duration::from_secs(60)).context("stopping the server after the clicks")?;
    let recorded = count(&url, "SELECT COUNT(*) FROM clicks").await?;
    recorded_check(board, "SQLite", answered, recorded, ctx.scale.connections as u64 * 2);
    Ok(Outcome { nginx_rate, nginx_p99_ms, db: dir })
}

/// Every answered click must be in the database; a few more may be (requests in flight when wrk
/// stopped are served and recorded, but wrk no longer counts their answers).
pub fn recorded_check(board: &mut Board, engine: &str, answered: u64, recorded: i64, in_flight: u64) {
    let recorded = recorded.max(0) as u64;
    let figure = format!(
        "{recorded} recorded of {answered} answered 302s{}",
        match recorded.checked_sub(answered) {
            Some(0) => String::new(),
            Some(more) => format!(" (+{more} in flight when wrk stopped)"),
            None => format!(" ({} LOST)", answered - recorded),
        }
    );
    board.check(
        &format!("{engine}: every click recorded (after a graceful stop)"),
        figure,
        "all, +≤ connections",
        recorded >= answered && recorded - answered <= in_flight,
    );
}
