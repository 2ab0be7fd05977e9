//! Acknowledged means durable, and the process keeps serving: a click answered with its 302 is on
//! disk before the answer, even if the process is killed the next instant; an order answered 200
//! on a filling disk is in the database; when the disk has room again the server takes orders
//! without a restart; slow or greedy clients neither starve other visitors nor hold up a stop.

use crate::helpers::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_click_answered_before_a_sigkill_is_there_after_the_restart() {
    let mut app = spawn_app_with(&[("REFTRACK_CLICK_FLOOD_LIMIT", "0")]).await;
    app.seed().await;
    let acked: Arc<Mutex<Vec<String>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url, acked, stop) = (app.client.clone(), app.url("/go/offer?aff=jane"), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(r) = client.get(&url).send().await else { return };
                if let Some(click) = click_from(r.headers()) {
                    acked.lock().unwrap().push(click);
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.kill_now();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    let app = restart(app).await;
    let mut lost = 0;
    for click in &acked {
        let found: serde_json::Value =
            app.client.get(app.url(&format!("/v1/lookup?click={click}"))).send().await.unwrap().json().await.unwrap();
        lost += usize::from(found["partner"] != "jane");
    }
    assert_eq!(lost, 0, "of {} clicks answered with a 302 before the kill, {lost} were lost", acked.len());
    // Clicks committed in the instant before the kill may not have had their 302 sent: a few more
    // clicks than answers, at most one per client in flight, never fewer.
    let hits = app.stats("jane").await["hits"].as_u64().unwrap();
    eprintln!("SIGKILL mid-burst: {} clicks answered 302, {hits} stored, {lost} answered but lost", acked.len());
    assert!((acked.len() as u64..=acked.len() as u64 + 16).contains(&hits), "{hits} hits for {} answered clicks", acked.len());
}

/// A 1 MiB filesystem for the database, or `None` when not root (CI runs as root).
fn small_filesystem(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let mount = dir.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=2M", "tmpfs"]).arg(&mount).status().ok()?;
    mounted.success().then_some(mount)
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_answered_200_on_a_full_disk_are_all_stored_and_the_server_recovers_when_space_returns() {
    if reftrack_testkit::Backend::from_env() != reftrack_testkit::Backend::Sqlite {
        return; // The database file is SQLite's; PostgreSQL keeps its own data directory.
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = small_filesystem(dir.path()) else {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let _unmount = Unmount(mount.clone());
    let url = format!("sqlite://{}", mount.join("reftrack.db").display());
    let mut app = spawn_app_at(dir, url.clone(), &[]).await;
    app.seed().await;
    // Fill what is left but a little with a file we can delete to give the space back.
    let filler = mount.join("filler");
    let free = nix_free_bytes(&mount);
    // The schema and the seed's WAL take most of a megabyte: without room for a filler, deleting
    // it would give nothing back and the recovery below would prove nothing.
    assert!(free > 512 * 1024, "only {free} bytes free after seeding: the small filesystem is too small for this test");
    std::fs::write(&filler, vec![0u8; free.saturating_sub(96 * 1024) as usize]).unwrap();

    let mut acked = Vec::new();
    let mut refused = 0;
    for n in 0..400 {
        let id = format!("api:full{n}");
        let mut o = order(&id, None, &format!("buyer{n}@example.com"));
        o["items"][0]["name"] = serde_json::json!("x".repeat(400));
        let r = app.post_order(&o).await;
        match r.status().as_u16() {
            200 => acked.push(id),
            503 => {
                assert!(r.headers().contains_key("retry-after"), "a full disk is a 503 with Retry-After");
                refused += 1;
            }
            other => panic!("a full disk answered {other}: {}", r.text().await.unwrap()),
        }
    }
    eprintln!("full disk: {} orders answered 200, {refused} answered 503", acked.len());
    assert!(refused > 0, "the disk never filled ({} orders fit): the test proves nothing", acked.len());
    assert_eq!(app.follow("/healthz").await.status(), 503, "health tells the truth while orders cannot be written");

    // Space comes back: the same process takes orders again.
    std::fs::remove_file(&filler).unwrap();
    let after = order("api:after", None, "after@example.com");
    let mut recovered = false;
    for _ in 0..50 {
        if app.post_order(&after).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server recovers by itself once there is space");
    acked.push("api:after".into());

    app.kill_now();
    let stored: Vec<String> = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT order_id FROM orders ORDER BY order_id").fetch_all(&mut conn).await.unwrap()
    };
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged orders were lost: {missing:?}", missing.len(), acked.len());
    assert_eq!(stored.len(), acked.len(), "and nothing unacknowledged was kept as if it had been");
}

/// Free bytes on the filesystem of `path` (from `df`, to keep the tests free of `unsafe`).
fn nix_free_bytes(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df").args(["--output=avail", "-B1"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_neither_starve_other_visitors_nor_hold_up_a_shutdown() {
    use tokio::io::AsyncWriteExt;
    let mut app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // One address opens 2,000 connections and sends each a request that never ends.
    let mut held = Vec::new();
    for _ in 0..2_000 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
            held.push(stream);
        }
    }
    // Another visitor is served at once.
    let other = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), other.get(app.url("/healthz")).send()).await;
    assert!(matches!(&r, Ok(Ok(r)) if r.status() == 200), "healthz while 2,000 slow connections are open: {r:?}");
    let answered_in = started.elapsed();
    assert!(answered_in < Duration::from_secs(2), "answered in {answered_in:?}");
    // A stop does not wait for them.
    let took = app.terminate();
    eprintln!("2,000 slow connections: healthz answered in {answered_in:?}, SIGTERM took {took:?}");
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?} with slow clients connected");
    drop(held);
}

#[tokio::test]
async fn tracking_links_with_huge_partner_codes_do_not_grow_memory() {
    let app = spawn_seeded_app().await;
    let before = app.rss_kib();
    let long = "a".repeat(60_000);
    for n in 0..500 {
        let r = app.follow(&format!("/go/offer?aff={long}{n}")).await;
        assert_eq!(r.status(), 302, "still redirected, without credit");
    }
    let after = app.rss_kib();
    eprintln!("500 links with 60 kB partner codes: RSS {before} KiB → {after} KiB");
    assert!(after < before + 20 * 1024, "RSS grew from {before} KiB to {after} KiB");
}
