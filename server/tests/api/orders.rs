use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn a_signed_order_with_a_click_is_credited_with_the_commission() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("newsletter")).await;
    let r = app.post_order(&order("api:1001", Some(&click), "buyer@example.com")).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["order_id"], "api:1001");
    assert_eq!(answer["status"], "attributed");
    assert_eq!(answer["partner"], "jane");
    assert_eq!(answer["commission_minor"], 2970, "30 % of 99.00");
    let stats = app.stats("jane").await;
    assert_eq!(
        (stats["orders"].as_i64(), stats["revenue_minor"].as_i64(), stats["commission_minor"].as_i64()),
        (Some(1), Some(9900), Some(2970))
    );
}

#[tokio::test]
async fn the_same_order_twice_is_one_order_and_gets_the_same_answer() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let o = order("api:1", Some(&click), "buyer@example.com");
    let first = app.post_order(&o).await.text().await.unwrap();
    let second = app.post_order(&o).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.unwrap(), first);
    let stats = app.stats("jane").await;
    assert_eq!((stats["orders"].as_i64(), stats["commission_minor"].as_i64()), (Some(1), Some(2970)));
}

#[tokio::test]
async fn concurrent_copies_of_one_order_are_counted_once() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let o = order("api:race", Some(&click), "buyer@example.com");
    let answers = futures_join(&app, &o, 8).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0].1 == w[1].1));
    assert_eq!(app.stats("jane").await["commission_minor"], 2970);
}

async fn futures_join(app: &TestApp, o: &Value, n: usize) -> Vec<(u16, String)> {
    let requests = (0..n).map(|_| async {
        let r = app.post_order(o).await;
        (r.status().as_u16(), r.text().await.unwrap())
    });
    futures::future::join_all(requests).await
}

#[tokio::test]
async fn the_same_order_id_with_a_different_body_is_a_409() {
    let app = spawn_seeded_app().await;
    let mut o = order("api:2", None, "buyer@example.com");
    assert_eq!(app.post_order(&o).await.status(), 200);
    o["items"][0]["name"] = json!("Another course");
    let r = app.post_order(&o).await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "id_conflict");
}

#[tokio::test]
async fn an_order_without_any_touch_is_stored_unattributed() {
    let app = spawn_seeded_app().await;
    let o = order("api:3", None, "nobody@example.com");
    let answer: Value = app.post_order(&o).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed");
    assert_eq!(answer["partner"], Value::Null);
    assert_eq!(answer["commission_minor"], 0);
    // Stored: sending it again is a replay, not a new order.
    let again: Value = app.post_order(&o).await.json().await.unwrap();
    assert_eq!(again["status"], "unattributed");
}

#[tokio::test]
async fn the_last_click_wins() {
    let app = spawn_seeded_app().await;
    app.click("jane", None).await;
    let johns = app.click("john", None).await;
    let answer: Value = app.post_order(&order("api:4", Some(&johns), "buyer@example.com")).await.json().await.unwrap();
    assert_eq!(answer["partner"], "john");
}

#[tokio::test]
async fn a_repeat_buyer_without_a_click_is_credited_to_the_lead_partner() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    app.post_order(&order("api:5", Some(&click), "loyal@example.com")).await;
    let answer: Value = app.post_order(&order("api:6", None, "Loyal@Example.com")).await.json().await.unwrap();
    assert_eq!(answer["partner"], "jane", "{answer}");
    assert_eq!(answer["credited_by"], "lead");
}

#[tokio::test]
async fn a_partner_buying_through_their_own_link_earns_nothing() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let answer: Value = app.post_order(&order("api:7", Some(&click), "jane@partners.example")).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed");
    assert_eq!(answer["reason"], "self_referral");
    assert_eq!(app.stats("jane").await["commission_minor"], 0);
}

#[tokio::test]
async fn a_product_override_changes_the_commission() {
    let app = spawn_seeded_app().await;
    let r = app.admin_post("/v1/admin/programs/standard/products", json!({"sku":"course","rate_bps":5000})).await;
    assert_eq!(r.status(), 201);
    let click = app.click("jane", None).await;
    let answer: Value = app.post_order(&order("api:8", Some(&click), "b@example.com")).await.json().await.unwrap();
    assert_eq!(answer["commission_minor"], 4950);
}

#[tokio::test]
async fn a_bad_signature_is_a_401_and_nothing_is_stored() {
    let app = spawn_seeded_app().await;
    let body = serde_json::to_vec(&order("api:9", None, "b@example.com")).unwrap();
    let forged = app
        .client
        .post(app.url("/v1/orders"))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(error_code(forged).await, "bad_signature");
    let unsigned = app.client.post(app.url("/v1/orders")).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(error_code(unsigned).await, "missing_signature_header");
    // Signed over another body: tampering is caught.
    let secret = reftrack_protocol::signature::Secret::parse(SECRET).unwrap();
    let ts = now();
    let tampered = app
        .client
        .post(app.url("/v1/orders"))
        .header("webhook-id", "msg_2")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", secret.sign("msg_2", ts, b"{}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    // Nothing was stored: the real, signed order is new.
    let ok: Value = app.post_order(&order("api:9", None, "b@example.com")).await.json().await.unwrap();
    assert_eq!(ok["order_id"], "api:9");
    assert!(app.metrics().await.contains("reftrack_orders_total 1"));
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_a_401() {
    let app = spawn_seeded_app().await;
    let body = serde_json::to_vec(&order("api:10", None, "b@example.com")).unwrap();
    let old = app.signed_post("/v1/orders", &body, "msg_old", now() - 301).await;
    assert_eq!(old.status(), 401);
    assert_eq!(error_code(old).await, "stale_timestamp");
    let future = app.signed_post("/v1/orders", &body, "msg_new", now() + 301).await;
    assert_eq!(error_code(future).await, "stale_timestamp");
}

#[tokio::test]
async fn a_replayed_signed_order_is_recognised_and_not_counted_twice() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let body = serde_json::to_vec(&order("api:11", Some(&click), "b@example.com")).unwrap();
    let ts = now();
    let first = app.signed_post("/v1/orders", &body, "msg_replay", ts).await.text().await.unwrap();
    let replay = app.signed_post("/v1/orders", &body, "msg_replay", ts).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.text().await.unwrap(), first);
    assert_eq!(app.stats("jane").await["orders"], 1);
}

#[tokio::test]
async fn malformed_invalid_and_oversized_orders_are_refused() {
    let app = spawn_seeded_app().await;
    let r = app.signed_post("/v1/orders", b"{\"order_id\":", "m1", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (400, "malformed_json".into()));
    let mut o = order("api:12", None, "b@example.com");
    o["items"][0]["quantity"] = json!(0);
    let r = app.signed_post("/v1/orders", &serde_json::to_vec(&o).unwrap(), "m2", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (400, "invalid_order".into()));
    let mut o = order("api:13", None, "b@example.com");
    o["attribution"]["partner"] = json!("ja ne");
    let r = app.signed_post("/v1/orders", &serde_json::to_vec(&o).unwrap(), "m3", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (400, "malformed_json".into()));
    let mut big = order("api:14", None, "b@example.com");
    big["items"][0]["name"] = json!("x".repeat(300 * 1024));
    let r = app.signed_post("/v1/orders", &serde_json::to_vec(&big).unwrap(), "m4", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (413, "payload_too_large".into()));
}

#[tokio::test]
async fn a_server_without_signing_secrets_refuses_signed_intake() {
    let app = spawn_app_with(&[("REFTRACK_SIGNING_SECRETS", "")]).await;
    let r = app.post_order(&order("api:15", None, "b@example.com")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "signing_not_configured");
}

#[tokio::test]
async fn an_order_naming_a_partner_without_a_click_credits_that_partner() {
    let app = spawn_seeded_app().await;
    let mut o = order("api:16", None, "b@example.com");
    o["attribution"]["partner"] = json!("john");
    let answer: Value = app.post_order(&o).await.json().await.unwrap();
    assert_eq!((answer["partner"].as_str(), answer["credited_by"].as_str()), (Some("john"), Some("named")));
}

#[tokio::test]
async fn an_order_stays_recorded_after_a_restart() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let o = order("api:17", Some(&click), "b@example.com");
    app.post_order(&o).await;
    let again = restart(app).await;
    assert_eq!(again.stats("jane").await["orders"], 1);
    let replay: Value = again.post_order(&o).await.json().await.unwrap();
    assert_eq!(replay["partner"], "jane");
}

/// The value of an unlabelled counter in the Prometheus text.
fn counter(metrics: &str, name: &str) -> i64 {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or_else(|| panic!("{name} in {metrics}"))
}

#[tokio::test]
async fn orders_arriving_together_share_commits_and_each_is_stored_once_with_its_own_answer() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let groups_before = counter(&app.metrics().await, "reftrack_order_groups_total");
    // 48 orders, each sent twice at once: the second of a pair lands in the same group as the
    // first or in a later one, and must be answered as a replay in either case, never stored twice.
    let orders: Vec<Value> = (0..48).map(|i| order(&format!("api:g{i}"), Some(&click), &format!("b{i}@example.com"))).collect();
    let sends = orders.iter().chain(orders.iter()).map(|o| app.post_order(o));
    let answers = futures::future::join_all(sends).await;
    let mut bodies = std::collections::BTreeMap::new();
    for r in answers {
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        bodies.entry(answer["order_id"].as_str().unwrap().to_owned()).or_insert_with(Vec::new).push(answer);
    }
    assert_eq!(bodies.len(), 48);
    for (id, pair) in &bodies {
        assert_eq!(pair.len(), 2, "{id}");
        assert_eq!(pair[0], pair[1], "a replay is answered as the first: {id}");
        assert_eq!(pair[0]["partner"], "jane");
    }
    let groups = counter(&app.metrics().await, "reftrack_order_groups_total") - groups_before;
    // Each of the 48 orders is committed once at least: fewer commits means they shared them.
    assert!(groups < 48, "48 orders sent at once shared commits: {groups} groups");
    let stats = app.stats("jane").await;
    assert_eq!(stats["orders"], 48, "each order once");
    assert_eq!(stats["commission_minor"], 48 * 2970, "each commission once");
    // Another body under a stored id is still refused.
    let mut changed = orders[0].clone();
    changed["total_minor"] = json!(1);
    changed["items"][0]["unit_price_minor"] = json!(1);
    assert_eq!(app.post_order(&changed).await.status(), 409);
}

#[tokio::test]
async fn more_concurrent_orders_than_database_connections_are_all_answered_by_a_fresh_server() {
    // A fresh server remembers nothing of the catalog: every order reads it, while holding
    // nothing else, or 48 orders on 16 connections would wait for each other until they time out.
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let orders: Vec<Value> = (0..48).map(|n| order(&format!("api:many{n}"), Some(&click), &format!("many{n}@example.com"))).collect();
    let answers = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(orders.iter().map(|o| app.post_order(o))))
        .await
        .expect("every order is answered in time");
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
