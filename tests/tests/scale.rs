//! Past one machine: two stateless server processes on one PostgreSQL. Idempotency, deduplication
//! and counting hold across servers because the database's keys and transactions do the work.

use reftrack_e2e::*;
use serde_json::json;

async fn two_servers() -> (TrackServer, TrackServer) {
    let url = postgres::cluster().create_database().await;
    let sites_port = free_port();
    let a = TrackServer::start_with(tempfile::tempdir().unwrap(), &url, free_port(), sites_port).unwrap();
    a.seed("https://www.merchant.test/landing.html").await.unwrap();
    let b = TrackServer::start_with(tempfile::tempdir().unwrap(), &url, free_port(), sites_port).unwrap();
    (a, b)
}

fn order(id: &str) -> serde_json::Value {
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    json!({"order_id": id, "occurred_at": at, "currency": "USD", "total_minor": 10000,
           "customer": {"email": format!("{id}@buyers.example")}, "attribution": {"partner": "jane"}, "source": "api"})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_signed_order_sent_to_two_servers_at_once_is_one_order_and_one_commission() {
    let (a, b) = two_servers().await;
    for i in 0..10 {
        let o = order(&format!("api:race-{i}"));
        let (first, second) = tokio::join!(a.post_order(&o), b.post_order(&o));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first, second, "both servers give the same answer");
        assert_eq!(first["commission_minor"], 3000);
    }
    for server in [&a, &b] {
        let stats = server.stats("jane").await.unwrap();
        assert_eq!((stats["orders"].as_i64(), stats["commission_minor"].as_i64()), (Some(10), Some(30_000)), "{stats}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clicks_spread_over_two_servers_are_all_counted_and_looked_up_on_either() {
    let (a, b) = two_servers().await;
    let mut clicks = Vec::new();
    for i in 0..100 {
        let server = if i % 2 == 0 { &a } else { &b };
        clicks.push(click(server, "jane").await.unwrap());
    }
    for server in [&a, &b] {
        assert_eq!(server.stats("jane").await.unwrap()["hits"], 100);
    }
    // A click made on one server is known to the other (lookup, and the order that cites it).
    let made_on_a = &clicks[0];
    let on_b: serde_json::Value = reqwest::get(b.local(&format!("/v1/lookup?click={made_on_a}"))).await.unwrap().json().await.unwrap();
    assert_eq!(on_b["partner"], "jane");
    let mut o = order("api:clicked");
    o["attribution"] = json!({"click_id": made_on_a});
    let answer = b.post_order(&o).await.unwrap();
    assert_eq!(answer["credited_by"], "click");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_starting_at_once_on_an_empty_database_both_come_up() {
    let url = postgres::cluster().create_database().await;
    let sites_port = free_port();
    let (u1, u2) = (url.clone(), url.clone());
    // Both apply migrations at the same moment; the advisory lock makes one wait for the other.
    let a = std::thread::spawn(move || TrackServer::start_with(tempfile::tempdir().unwrap(), &u1, free_port(), sites_port));
    let b = std::thread::spawn(move || TrackServer::start_with(tempfile::tempdir().unwrap(), &u2, free_port(), sites_port));
    let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
    a.seed("https://www.merchant.test/landing.html").await.unwrap();
    click(&b, "jane").await.unwrap();
    // The click is committed by b's batch writer; a reports it once that commit is done.
    eventually(5, "a sees the click made on b", || async { Ok(a.stats("jane").await?["hits"] == 1) }).await.unwrap();
}
