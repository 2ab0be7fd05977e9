//! `cargo xtask bench`: throughput of the click redirect, signed order intake and the connector,
//! each as a ratio to a baseline measured in the same run on the same machine:
//! - clicks/s against a bare axum server answering `302` (the floor of any redirect in Rust);
//! - orders/s against raw SQLite inserts with the same durability (WAL, synchronous=FULL, one
//!   transaction per order), written by as many concurrent writers;
//! - connector orders/s end to end (webhook in → outbox → signed forward → server commit);
//! - the same clicks and orders with PostgreSQL (fsync on), one server and two servers sharing it.

use reftrack_e2e::{free_port, postgres, sites, ConnectorProcess, TrackServer, GENERIC_SECRET, SECRET};
use reftrack_protocol::signature::Secret;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 32;
const SECONDS: u64 = 5;

/// Runs `request(i)` from `CONCURRENCY` tasks for `SECONDS`; returns completed requests per second.
async fn load<F, Fut>(request: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (request, done, counter) = (request.clone(), done.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if request(i).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36")
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap()
}

async fn baseline_redirect() -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/go/{link}",
        axum::routing::get(|| async { (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, "https://www.example.com/")]) }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = client();
    let rate = load(move |_| {
        let http = http.clone();
        async move { http.get(format!("http://127.0.0.1:{port}/go/demo?aff=jane")).send().await.is_ok_and(|r| r.status() == 302) }
    })
    .await;
    server.abort();
    rate
}

async fn baseline_sqlite() -> f64 {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL)").execute(&pool).await.unwrap();
    let body = "x".repeat(400);
    load(move |i| {
        let (pool, body) = (pool.clone(), body.clone());
        async move {
            sqlx::query("INSERT INTO orders (order_id, body) VALUES (?1, ?2)").bind(format!("o{i}")).bind(body).execute(&pool).await.is_ok()
        }
    })
    .await
}

fn order(id: &str) -> serde_json::Value {
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    json!({"order_id": id, "occurred_at": at, "currency": "USD", "total_minor": 9900,
           "items": [{"sku": "course", "quantity": 1, "unit_price_minor": 9900}],
           "customer": {"email": format!("{id}@buyers.example")}, "attribution": {"partner": "jane"}, "source": "api"})
}

/// Clicks/s and orders/s spread round-robin over `servers`.
async fn clicks_and_orders(servers: &[&TrackServer], tag: &str) -> (f64, f64) {
    let http = client();
    let urls: Vec<String> = servers.iter().map(|s| s.local("/go/demo?aff=jane&sid=bench")).collect();
    let clicks = load(move |i| {
        let (http, url) = (http.clone(), urls[i as usize % urls.len()].clone());
        async move { http.get(&url).send().await.is_ok_and(|r| r.status() == 302) }
    })
    .await;
    let http = client();
    let urls: Vec<String> = servers.iter().map(|s| s.local("/v1/orders")).collect();
    let secret = Secret::parse(SECRET).unwrap();
    let tag = tag.to_owned();
    let orders = load(move |i| {
        let (http, url, secret) = (http.clone(), urls[i as usize % urls.len()].clone(), secret.clone());
        let id = format!("{tag}:{i}");
        async move {
            let body = serde_json::to_vec(&order(&id)).unwrap();
            let ts = time::OffsetDateTime::now_utc().unix_timestamp();
            let mut req = http.post(&url).body(body.clone());
            for (k, v) in secret.headers(&format!("msg_{id}"), ts, &body) {
                req = req.header(k, v);
            }
            req.send().await.is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    (clicks, orders)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!(
        "reftrack bench: {CONCURRENCY} concurrent clients, {SECONDS} s per measurement, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let sites = sites::Sites::start().await.unwrap();
    let track = TrackServer::start(sites.port).unwrap();
    track.seed("https://www.example.com/landing").await.unwrap();

    let base = baseline_redirect().await;
    let http = client();
    let url = track.local("/go/demo?aff=jane&sid=bench");
    let clicks = load(move |_| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(&url).send().await.is_ok_and(|r| r.status() == 302) }
    })
    .await;
    let counted = track.stats("jane").await.unwrap()["hits"].as_i64().unwrap();
    println!(
        "clicks/s     {clicks:>9.0}   baseline axum 302: {base:>9.0}/s   ratio {:.2}   (every click counted: {counted})",
        clicks / base
    );

    let raw = baseline_sqlite().await;
    let http = client();
    let orders_url = track.local("/v1/orders");
    let secret = Secret::parse(SECRET).unwrap();
    let orders = load(move |i| {
        let (http, url, secret) = (http.clone(), orders_url.clone(), secret.clone());
        async move {
            let body = serde_json::to_vec(&order(&format!("bench:{i}"))).unwrap();
            let ts = time::OffsetDateTime::now_utc().unix_timestamp();
            let mut req = http.post(&url).body(body.clone());
            for (k, v) in secret.headers(&format!("msg_{i}"), ts, &body) {
                req = req.header(k, v);
            }
            req.send().await.is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    println!("orders/s     {orders:>9.0}   baseline raw SQLite insert (FULL sync): {raw:>9.0}/s   ratio {:.2}", orders / raw);

    // Connector: queue N orders through its webhook, time until the server has them all.
    let outbox_dir = tempfile::tempdir().unwrap();
    let connector =
        ConnectorProcess::start(&track.local(""), &outbox_dir.path().join("outbox.db"), &[("REFTRACK_CONNECTOR_CONCURRENCY", "16")])
            .unwrap();
    let before = track.stats("jane").await.unwrap()["orders"].as_i64().unwrap();
    let n: i64 = 2000;
    let generic = Secret::parse(GENERIC_SECRET).unwrap();
    let http = client();
    let started = Instant::now();
    let posted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY as i64 {
        let (http, generic, base, posted) = (http.clone(), generic.clone(), connector.base.clone(), posted.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let body = serde_json::to_vec(&order(&format!("conn:{i}"))).unwrap();
                let ts = time::OffsetDateTime::now_utc().unix_timestamp();
                let mut req = http.post(format!("{base}/webhooks/generic")).body(body.clone());
                for (k, v) in generic.headers(&format!("msg_conn_{i}"), ts, &body) {
                    req = req.header(k, v);
                }
                if req.send().await.is_ok_and(|r| r.status() == 200) {
                    posted.fetch_add(1, Ordering::Relaxed);
                }
                i += CONCURRENCY as i64;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let accepted_in = started.elapsed().as_secs_f64();
    loop {
        let have = track.stats("jane").await.unwrap()["orders"].as_i64().unwrap() - before;
        if have >= n || started.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed().as_secs_f64();
    let arrived = track.stats("jane").await.unwrap()["orders"].as_i64().unwrap() - before;
    println!(
        "connector    {:>9.0}   orders/s end to end ({arrived}/{n} arrived in {total:.2} s; webhooks accepted at {:.0}/s)",
        arrived as f64 / total,
        posted.load(Ordering::Relaxed) as f64 / accepted_in
    );
    drop(connector);

    // PostgreSQL, fsync on: one server, then two stateless servers on the same database.
    let cluster = postgres::start(false);
    let db = cluster.create_database().await;
    let one = TrackServer::start_with(tempfile::tempdir().unwrap(), &db, free_port(), sites.port).unwrap();
    one.seed("https://www.example.com/landing").await.unwrap();
    let (c1, o1) = clicks_and_orders(&[&one], "pg1").await;
    println!("postgres x1  clicks/s {c1:>7.0} ({:.2} of SQLite)   orders/s {o1:>6.0} ({:.2} of SQLite)", c1 / clicks, o1 / orders);
    let two = TrackServer::start_with(tempfile::tempdir().unwrap(), &db, free_port(), sites.port).unwrap();
    let (c2, o2) = clicks_and_orders(&[&one, &two], "pg2").await;
    println!("postgres x2  clicks/s {c2:>7.0} ({:.2} of one)      orders/s {o2:>6.0} ({:.2} of one)   [2 cores shared by both servers, PostgreSQL and the load]", c2 / c1, o2 / o1);
}
