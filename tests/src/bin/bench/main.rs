//! `cargo xtask bench`: the release server measured against baselines taken in the same run, by
//! load generators and baselines that run in their own processes:
//! - clicks: nginx answering the same `302` (one worker, on loopback) against the server's
//!   tracking link, both under the same `wrk`; every answered click looked for afterwards;
//! - orders: raw one-row commits (`sqlite3`, `pgbench`) against signed orders through the server,
//!   on SQLite and on PostgreSQL (fsync on), with one server and with two;
//! - reports: partner stats, chart and the merchant's report on a generated database of 10 M
//!   clicks, 100 k orders and 1,000 partners, on SQLite and on PostgreSQL.
//!
//! `--quick` runs shorter loads on a tenth of the data; `--only clicks,orders,postgres,reports`
//! picks sections; `--perf` counts the servers' syscalls and context switches (`perf stat`).

mod board;
mod clicks;
mod dataset;
mod orders;
mod tools;

use anyhow::{bail, Context, Result};
use board::Board;
use dataset::{Engine, Size};
use reftrack_e2e::postgres::{self, PgCluster};
use reftrack_e2e::{free_port, TrackServer};
use std::cell::Cell;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// What every measured server runs with: the visitor's IP from `X-Forwarded-For` (wrk sends a
/// distinct one per hit) and the default flood limit, so the flood check does its real work.
pub const SERVER_ENV: &[(&str, &str)] = &[("REFTRACK_CLIENT_IP_HEADER", "x-forwarded-for"), ("REFTRACK_CLICK_FLOOD_LIMIT", "20")];

/// How long and how big.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Each measured load.
    pub seconds: u32,
    /// The load before each measured one on a server (connections, caches, the pool).
    pub warmup_seconds: u32,
    pub connections: u32,
    /// Signed orders prepared for each measured order load.
    pub orders_per_load: usize,
    pub dataset: Size,
    /// Timed requests per report endpoint, and the time after which three are enough.
    pub report_reps: usize,
    pub report_budget_s: u64,
}

impl Scale {
    fn full() -> Self {
        Self {
            seconds: 6,
            warmup_seconds: 1,
            connections: 32,
            orders_per_load: 60_000,
            dataset: Size { partners: 1_000, jane_clicks: 9_000_000, other_clicks: 1_000_000, jane_orders: 90_000, other_orders: 10_000 },
            report_reps: 10,
            report_budget_s: 30,
        }
    }

    fn quick() -> Self {
        Self {
            seconds: 3,
            orders_per_load: 30_000,
            dataset: Size { partners: 1_000, jane_clicks: 900_000, other_clicks: 100_000, jane_orders: 9_000, other_orders: 1_000 },
            report_reps: 5,
            report_budget_s: 10,
            ..Self::full()
        }
    }
}

/// What the sections share.
pub struct Ctx {
    pub scale: Scale,
    pub perf: bool,
    /// Load scripts and prepared orders.
    pub dir: TempDir,
    visitors: Cell<u8>,
}

impl Ctx {
    /// A first octet for the visitors of the next wrk process, never used before in this run
    /// (so no visitor repeats and the flood check never refuses one).
    pub fn next_visitors(&self) -> u8 {
        let octet = self.visitors.get();
        self.visitors.set(octet.checked_add(1).expect("fewer than 245 loads"));
        octet
    }
}

/// `SELECT COUNT(*)`-like query on the database at `url`, with the server stopped or running.
pub async fn count(url: &str, sql: &str) -> Result<i64> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.with_context(|| format!("opening {url}"))?;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(n)
}

/// Prints what the servers logged (their stdout) since the last call, when a load met answers it
/// did not expect: the first lines say why.
pub fn print_server_log(servers: &[&TrackServer], load: &tools::LoadResult) {
    for server in servers {
        let lines: Vec<String> = std::mem::take(&mut *server.process.output.lock().expect("log lock"));
        if load.unexpected.is_some() {
            for line in lines.iter().take(5) {
                println!("               server {}: {line}", server.port);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Clicks,
    Orders,
    Postgres,
    Reports,
}

const SECTIONS: [(&str, Section); 4] =
    [("clicks", Section::Clicks), ("orders", Section::Orders), ("postgres", Section::Postgres), ("reports", Section::Reports)];

struct Options {
    quick: bool,
    perf: bool,
    sections: Vec<Section>,
}

fn options() -> Result<Options> {
    let mut o = Options { quick: false, perf: false, sections: SECTIONS.iter().map(|(_, s)| *s).collect() };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--perf" => o.perf = true,
            "--only" => {
                let list = args.next().context("--only needs a list: clicks,orders,postgres,reports")?;
                o.sections = list
                    .split(',')
                    .map(|name| {
                        SECTIONS.iter().find(|(n, _)| *n == name.trim()).map(|(_, s)| *s).with_context(|| format!("no section {name:?}"))
                    })
                    .collect::<Result<_>>()?;
            }
            other => bail!("unknown argument {other:?}: cargo xtask bench [--quick] [--perf] [--only clicks,orders,postgres,reports]"),
        }
    }
    Ok(o)
}

/// The report section on one engine: migrate with the release server, generate, time.
async fn reports(ctx: &Ctx, board: &mut Board, engine: Engine, cluster: Option<&PgCluster>) -> Result<()> {
    let size = ctx.scale.dataset;
    let clicks = size.jane_clicks + size.other_clicks;
    let orders = size.jane_orders + size.other_orders;
    println!(
        "\n== reports on {}: {clicks} clicks ({} for jane over 30 days), {orders} orders, {} partners",
        engine.name(),
        size.jane_clicks,
        size.partners
    );
    let dir = tempfile::tempdir()?;
    let url = match (engine, cluster) {
        (Engine::Postgres, Some(cluster)) => cluster.create_database().await,
        _ => format!("sqlite://{}", dir.path().join("reftrack.db").display()),
    };
    let port = free_port();
    // Started once for its migrations; killed, since it has nothing queued (and a SIGTERM this
    // early can arrive before the server listens for it).
    let (dir, _) = TrackServer::start_with_env(dir, &url, port, 0, SERVER_ENV)?.stop();
    let started = Instant::now();
    dataset::generate(engine, &url, size).await?;
    println!("  generated in {:.0} s", started.elapsed().as_secs_f64());
    // The rows were written behind the server's back: its rollups are recomputed from them, as an
    // operator who loads data by hand does.
    let started = Instant::now();
    let rebuilt = std::process::Command::new(reftrack_e2e::binaries().join("reftrack"))
        .args(["rollups", "rebuild"])
        .env("REFTRACK_DATABASE_URL", &url)
        .output()?;
    anyhow::ensure!(rebuilt.status.success(), "reftrack rollups rebuild: {}", String::from_utf8_lossy(&rebuilt.stderr));
    println!("  rollups rebuilt in {:.1} s (reftrack rollups rebuild)", started.elapsed().as_secs_f64());
    let server = TrackServer::start_with_env(dir, &url, port, 0, SERVER_ENV)?;
    dataset::measure(engine, &server, size, &ctx.scale, board).await?;
    server.shutdown(Duration::from_secs(30))?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    tools::require(&[("wrk", "wrk"), ("nginx", "nginx"), ("sqlite3", "sqlite3"), ("pgbench", "postgresql")])?;
    if options.perf {
        tools::require(&[("perf", "linux-perf")])?;
    }
    let scale = if options.quick { Scale::quick() } else { Scale::full() };
    let ctx = Ctx { scale, perf: options.perf, dir: tempfile::Builder::new().prefix("rtbench").tempdir()?, visitors: Cell::new(10) };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "reftrack bench{}: {} cores, load average {}, {} rustc running now{}",
        if options.quick { " --quick (shorter loads, a tenth of the report data: not the issue's figures)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        tools::compilers_running(),
        if tools::compilers_running() > 0 { " (figures are noisy while others compile; the ratios less so)" } else { "" }
    );
    let started = Instant::now();
    let mut board = Board::default();
    let wants = |s| options.sections.contains(&s);
    let mut nginx = None;
    let mut clicked = None;
    if wants(Section::Clicks) {
        let outcome = clicks::sqlite(&ctx, &mut board).await?;
        nginx = Some((outcome.nginx_rate, outcome.nginx_p99_ms));
        clicked = Some(outcome.db);
    }
    if wants(Section::Orders) {
        orders::sqlite(&ctx, &mut board, clicked).await?;
    }
    // One PostgreSQL for the run, fsync on; it stops when the bench ends.
    let cluster = (wants(Section::Postgres) || wants(Section::Reports)).then(|| postgres::start(false));
    if let (true, Some(cluster)) = (wants(Section::Postgres), &cluster) {
        orders::postgres(&ctx, &mut board, cluster, nginx).await?;
    }
    if wants(Section::Reports) {
        reports(&ctx, &mut board, Engine::Sqlite, None).await?;
        reports(&ctx, &mut board, Engine::Postgres, cluster.as_ref()).await?;
    }
    board.print();
    println!("bench ran {:.0} s; {} rustc running at the end", started.elapsed().as_secs_f64(), tools::compilers_running());
    Ok(())
}
