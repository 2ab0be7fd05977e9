//! Signed orders: raw commits of one row per transaction by an outside process (`sqlite3`,
//! `pgbench`) against many concurrent signed `POST /v1/orders` through the server, each a
//! distinct order; then every acknowledged order looked for after a graceful stop.

use crate::board::Board;
use crate::clicks::{self, Measured};
use crate::tools::{self, Load, LoadResult};
use crate::{count, Ctx};
use anyhow::{Context, Result};
use reftrack_e2e::{free_port, postgres, TrackServer, SECRET};
use reftrack_protocol::signature::Secret;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes of the raw rows, about an order's row with its stored answer.
const ROW_BYTES: usize = 600;

/// A signed order ready to send: webhook-id, webhook-timestamp, webhook-signature and body.
struct Signed {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// `n` signed orders with ids `{tag}:{i}`, each naming one of `clicks` (or, without clicks,
/// partner jane) and a distinct buyer.
fn signed_orders(tag: &str, n: usize, clicks: &[String]) -> Result<Vec<Signed>> {
    let secret = Secret::parse(SECRET)?;
    let now = time::OffsetDateTime::now_utc();
    let at = now.format(&time::format_description::well_known::Rfc3339)?;
    (0..n)
        .map(|i| {
            let id = format!("{tag}:{i}");
            let attribution = match clicks.get(i % clicks.len().max(1)) {
                Some(click) => serde_json::json!({"click_id": click}),
                None => serde_json::json!({"partner": "jane"}),
            };
            let body = serde_json::to_vec(&serde_json::json!({
                "order_id": id, "occurred_at": at, "currency": "USD", "total_minor": 9900,
                "items": [{"sku": "course", "name": "The Course", "quantity": 1, "unit_price_minor": 9900}],
                "customer": {"email": format!("{tag}.{i}@buyers.example")}, "attribution": attribution, "source": "api"
            }))?;
            let msg = format!("msg_{tag}_{i}");
            let [_, (_, timestamp), (_, signature)] = secret.headers(&msg, now.unix_timestamp(), &body);
            Ok(Signed { id: msg, timestamp, signature, body })
        })
        .collect()
}

/// Writes signed orders for wrk (`orders.lua`): one per line, the headers and the body tab-separated.
fn prepare(ctx: &Ctx, tag: &str, n: usize, clicks: &[String]) -> Result<PathBuf> {
    let path = ctx.dir.path().join(format!("orders-{tag}.tsv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for o in signed_orders(tag, n, clicks)? {
        out.write_all(format!("{}\t{}\t{}\t", o.id, o.timestamp, o.signature).as_bytes())?;
        out.write_all(&o.body)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(path)
}

/// Posts `n` signed orders to each server from as many concurrent requests as the loads use, every
/// request awaited to its answer. (Not wrk: when wrk stops it drops the requests in flight, and a
/// dropped order request can leave the server's SQLite pool unusable; see the README.)
async fn warm(ctx: &Ctx, servers: &[&TrackServer], tag: &str, n: usize, clicks: &[String]) -> Result<u64> {
    let http = reqwest::Client::new();
    let mut answered = 0;
    for (k, server) in servers.iter().enumerate() {
        let orders = signed_orders(&format!("{tag}w{k}"), n, clicks)?;
        let url = server.local("/v1/orders");
        for batch in orders.chunks(ctx.scale.connections as usize) {
            let mut posts = tokio::task::JoinSet::new();
            for o in batch {
                let post = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &o.id)
                    .header("webhook-timestamp", &o.timestamp)
                    .header("webhook-signature", &o.signature)
                    .body(o.body.clone())
                    .send();
                posts.spawn(async move {
                    let answer = post.await?;
                    let status = answer.status();
                    anyhow::ensure!(status == 200, "warm-up order: {status} {}", answer.text().await?);
                    Ok(())
                });
            }
            while let Some(done) = posts.join_next().await {
                done??;
                answered += 1;
            }
        }
    }
    Ok(answered)
}

/// One wrk per server, at once, each posting its own prepared orders.
fn load(ctx: &Ctx, servers: &[&TrackServer], files: &[PathBuf], seconds: u32) -> Result<Measured> {
    let script = tools::script(ctx.dir.path(), "orders.lua", include_str!("lua/orders.lua"))?;
    let loads: Vec<Load> = servers
        .iter()
        .zip(files)
        .map(|(server, file)| Load {
            url: format!("http://127.0.0.1:{}", server.port),
            script: script.clone(),
            args: vec![file.display().to_string()],
            connections: ctx.scale.connections / servers.len() as u32,
            seconds,
        })
        .collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.process.pid()).collect();
    let (runs, cpu, syscalls) = tools::run_loads(&loads, &pids, ctx.perf)?;
    Ok(Measured { load: LoadResult::combined(&runs), cpu, syscalls })
}

/// A warm-up and a measured order load on `servers` (fresh processes: see [`warm`]); returns the
/// measured load and how many orders were acknowledged in all.
async fn warm_and_measure(ctx: &Ctx, servers: &[&TrackServer], tag: &str, clicks: &[String]) -> Result<(Measured, u64)> {
    let per_server = ctx.scale.orders_per_load / servers.len();
    let files: Vec<PathBuf> = (0..servers.len()).map(|k| prepare(ctx, &format!("{tag}m{k}"), per_server, clicks)).collect::<Result<_>>()?;
    let warmed = warm(ctx, servers, tag, 500, clicks).await?;
    let measured = load(ctx, servers, &files, ctx.scale.seconds)?;
    crate::print_server_log(servers, &measured.load);
    let answered = warmed + measured.load.answered;
    Ok((measured, answered))
}

/// Commits/s of the `sqlite3` CLI, sized to run about two seconds.
fn raw_sqlite(dir: &Path) -> Result<f64> {
    let first = tools::sqlite_commits(&dir.join("probe"), 200, ROW_BYTES)?;
    let rows = ((first * 2.0) as usize).clamp(200, 200_000);
    tools::sqlite_commits(dir, rows, ROW_BYTES)
}

fn stored_check(board: &mut Board, engine: &str, answered: u64, stored: i64, in_flight: u64) {
    let stored = stored.max(0) as u64;
    board.check(
        &format!("{engine}: every acknowledged order stored"),
        format!("{stored} stored of {answered} answered 200s"),
        "all, +≤ connections",
        stored >= answered && stored - answered <= in_flight,
    );
}

/// Raw `sqlite3` commits vs signed orders through the server on SQLite (on the click section's
/// database when there is one, its clicks named by the orders).
pub async fn sqlite(ctx: &Ctx, board: &mut Board, clicked: Option<tempfile::TempDir>) -> Result<()> {
    println!(
        "\n== orders on SQLite: raw sqlite3 commits (WAL, synchronous=FULL, one row per transaction) vs signed POST /v1/orders, wrk -c{}",
        ctx.scale.connections
    );
    let raw_dir = tempfile::tempdir()?;
    std::fs::create_dir_all(raw_dir.path().join("probe"))?;
    let raw = raw_sqlite(raw_dir.path())?;
    println!("  raw sqlite3  {raw:>8.0} commits/s");
    let seeded = clicked.is_some();
    let dir = match clicked {
        Some(dir) => dir,
        None => tempfile::tempdir()?,
    };
    let url = format!("sqlite://{}", dir.path().join("reftrack.db").display());
    let clicks: Vec<String> = if seeded { click_ids(&url, 10_000).await? } else { Vec::new() };
    let before = if seeded { count(&url, "SELECT COUNT(*) FROM orders").await? } else { 0 };
    let server = TrackServer::start_with_env(dir, &url, free_port(), 0, crate::SERVER_ENV)?;
    if !seeded {
        clicks::seed(&server).await?;
    }
    let (measured, answered) = warm_and_measure(ctx, &[&server], "sqlite", &clicks).await?;
    println!("  reftrack     {}", measured.describe());
    let ratio = measured.load.rate() / raw;
    board.note("raw sqlite3 commits/s (one row per transaction)", format!("{raw:.0}/s"));
    board.check(
        "SQLite signed orders/s ÷ raw commits",
        format!("{ratio:.2}× ({:.0}/s, p99 {:.1} ms)", measured.load.rate(), measured.load.p99_ms),
        "≥ 3×",
        ratio >= 3.0,
    );
    let _dir = server.shutdown(Duration::from_secs(60)).context("stopping the server after the orders")?;
    let stored = count(&url, "SELECT COUNT(*) FROM orders").await? - before;
    stored_check(board, "SQLite", answered, stored, ctx.scale.connections as u64 * 2);
    Ok(())
}

async fn click_ids(url: &str, n: usize) -> Result<Vec<String>> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows = sqlx::query(&format!("SELECT id FROM clicks LIMIT {n}")).fetch_all(&mut conn).await?;
    Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?)
}

/// PostgreSQL with fsync on: raw `pgbench` commits, then clicks and orders through one server
/// and through two sharing the database.
pub async fn postgres(ctx: &Ctx, board: &mut Board, cluster: &postgres::PgCluster, nginx: Option<(f64, f64)>) -> Result<()> {
    println!("\n== PostgreSQL (fsync on): raw pgbench INSERT commits vs the server, one and two servers");
    let url = cluster.create_database().await;
    let database = url.rsplit('/').next().unwrap_or_default().to_owned();
    let raw_dir = tempfile::tempdir()?;
    let secs = ctx.scale.seconds;
    let raw1 = tools::pgbench_commits(cluster.port, &database, raw_dir.path(), 1, secs, ROW_BYTES)?;
    let raw_n = tools::pgbench_commits(cluster.port, &database, raw_dir.path(), ctx.scale.connections, secs, ROW_BYTES)?;
    println!("  raw pgbench  {raw1:>8.0} commits/s from 1 client, {raw_n:.0}/s from {} clients", ctx.scale.connections);
    board.note("raw pgbench commits/s (1 client | 32 clients)", format!("{raw1:.0}/s | {raw_n:.0}/s"));

    let one = TrackServer::start_with_env(tempfile::tempdir()?, &url, free_port(), 0, crate::SERVER_ENV)?;
    clicks::seed(&one).await?;
    let c = &ctx.scale;
    let warm = clicks::load(ctx, &[one.port], &[one.process.pid()], c.warmup_seconds)?;
    let c1 = clicks::load(ctx, &[one.port], &[one.process.pid()], c.seconds)?;
    println!("  clicks x1    {}", c1.describe());
    let mut clicks_answered = warm.load.answered + c1.load.answered;
    let ids = click_ids(&url, 10_000).await?;
    let (o1, mut orders_answered) = warm_and_measure(ctx, &[&one], "pg1", &ids).await?;
    println!("  orders x1    {}", o1.describe());

    // Fresh processes for the next loads (the order load ended with requests dropped mid-flight).
    let patience = Duration::from_secs(60);
    one.shutdown(patience).context("stopping the first PostgreSQL server")?;
    let one = TrackServer::start_with_env(tempfile::tempdir()?, &url, free_port(), 0, crate::SERVER_ENV)?;
    let two = TrackServer::start_with_env(tempfile::tempdir()?, &url, free_port(), 0, crate::SERVER_ENV)?;
    let ports = [one.port, two.port];
    let pids = [one.process.pid(), two.process.pid()];
    let warm = clicks::load(ctx, &ports, &pids, c.warmup_seconds)?;
    let c2 = clicks::load(ctx, &ports, &pids, c.seconds)?;
    println!("  clicks x2    {}", c2.describe());
    clicks_answered += warm.load.answered + c2.load.answered;
    let (o2, answered) = warm_and_measure(ctx, &[&one, &two], "pg2", &ids).await?;
    println!("  orders x2    {}", o2.describe());
    orders_answered += answered;

    if let Some((nginx_rate, nginx_p99)) = nginx {
        for (n, m) in [(1, &c1), (2, &c2)] {
            board.note(
                &format!("PostgreSQL clicks/s, {n} server(s) ÷ nginx"),
                format!(
                    "{:.2}× ({:.0}/s), p99 {:.1}× ({:.2} ms)",
                    m.load.rate() / nginx_rate,
                    m.load.rate(),
                    m.load.p99_ms / nginx_p99,
                    m.load.p99_ms
                ),
            );
        }
    }
    for (n, m) in [(1, &o1), (2, &o2)] {
        let ratio = m.load.rate() / raw1;
        board.check(
            &format!("PostgreSQL signed orders/s, {n} server(s) ÷ raw (1 client)"),
            format!(
                "{ratio:.2}× ({:.0}/s, p99 {:.1} ms; {:.2}× the 32-client raw rate)",
                m.load.rate(),
                m.load.p99_ms,
                m.load.rate() / raw_n
            ),
            "≥ 3×",
            ratio >= 3.0,
        );
    }
    one.shutdown(patience).context("stopping the first PostgreSQL server")?;
    two.shutdown(patience).context("stopping the second PostgreSQL server")?;
    let in_flight = ctx.scale.connections as u64 * 4;
    clicks::recorded_check(board, "PostgreSQL", clicks_answered, count(&url, "SELECT COUNT(*) FROM clicks").await?, in_flight);
    stored_check(board, "PostgreSQL", orders_answered, count(&url, "SELECT COUNT(*) FROM orders").await?, in_flight);
    Ok(())
}
