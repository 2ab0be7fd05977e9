//! The connector and the server as real processes: each cart's signed webhook becomes an
//! attributed order; forged and stale ones are refused; nothing is lost or doubled when the server
//! is down or the connector is killed.

use reftrack_connector::carts::signatures::base64_hmac;
use reftrack_connector::carts::{paddle, stripe};
use reftrack_e2e::*;
use reftrack_protocol::signature::Secret;
use serde_json::{json, Value};
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

fn fixture(name: &str, click: &str) -> Value {
    let path = root().join("connector/tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap().replace("{{CLICK}}", click)).unwrap()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A cart delivering a webhook, signed with that cart's own scheme.
async fn deliver(
    connector: &ConnectorProcess,
    cart: &str,
    topic: Option<&str>,
    body: &[u8],
    secret_override: Option<&str>,
    ts: i64,
) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{}/webhooks/{cart}", connector.base)).body(body.to_vec());
    match cart {
        "stripe" => req = req.header(stripe::HEADER, stripe::sign(secret_override.unwrap_or(STRIPE_SECRET), ts, body)),
        "shopify" => {
            req = req
                .header("x-shopify-hmac-sha256", base64_hmac(secret_override.unwrap_or(SHOPIFY_SECRET).as_bytes(), &[body]))
                .header("x-shopify-topic", topic.unwrap())
                .header("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        }
        "woocommerce" => {
            req = req
                .header("x-wc-webhook-signature", base64_hmac(secret_override.unwrap_or(WOOCOMMERCE_SECRET).as_bytes(), &[body]))
                .header("x-wc-webhook-topic", topic.unwrap())
        }
        "paddle" => req = req.header(paddle::HEADER, paddle::sign(secret_override.unwrap_or(PADDLE_SECRET), ts, body)),
        "generic" => {
            let secret = Secret::parse(secret_override.unwrap_or(GENERIC_SECRET)).unwrap();
            for (k, v) in secret.headers(&format!("msg_{}", ts), ts, body) {
                req = req.header(k, v);
            }
        }
        _ => unreachable!(),
    }
    req.send().await.unwrap()
}

struct Pipeline {
    _sites: sites::Sites,
    track: TrackServer,
    connector: ConnectorProcess,
    outbox: PathBuf,
    _outbox_dir: tempfile::TempDir,
}

async fn pipeline(env: &[(&str, &str)]) -> Pipeline {
    let sites = sites::Sites::start().await.unwrap();
    let track = TrackServer::start(sites.port).unwrap();
    track.seed(&sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    let outbox_dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir.path().join("outbox.db");
    let connector = ConnectorProcess::start(&track.local(""), &outbox, env).unwrap();
    Pipeline { _sites: sites, track, connector, outbox, _outbox_dir: outbox_dir }
}

async fn wait_for_orders(track: &TrackServer, partner: &str, n: i64) -> Value {
    let found = poll(30, &format!("{partner} has {n} orders"), || async {
        let stats = track.stats(partner).await?;
        Ok((stats["orders"].as_i64() == Some(n)).then_some(stats))
    })
    .await;
    match found {
        Ok(stats) => stats,
        Err(e) => panic!("{e}: {}", track.stats(partner).await.unwrap()),
    }
}

fn generic_order(id: &str, partner: &str, total: i64) -> Value {
    json!({
        "order_id": id, "occurred_at": now().format(&Rfc3339).unwrap(), "currency": "USD",
        "total_minor": total, "customer": {"email": format!("{id}@buyers.example")},
        "attribution": {"partner": partner}, "source": "api"
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn each_carts_signed_webhook_ends_as_an_attributed_order_with_its_commission() {
    let p = pipeline(&[]).await;
    let at = now();
    let ts = at.unix_timestamp();

    let mut stripe_event = fixture("stripe_checkout_session_completed.json", &click(&p.track, "jane").await.unwrap());
    stripe_event["data"]["object"]["created"] = json!(ts);
    let mut shopify = fixture("shopify_orders_create.json", &click(&p.track, "jane").await.unwrap());
    shopify["created_at"] = json!(at.format(&Rfc3339).unwrap());
    let mut woo = fixture("woocommerce_order_created.json", &click(&p.track, "jane").await.unwrap());
    woo["date_created_gmt"] = json!(at.format(&Rfc3339).unwrap().trim_end_matches('Z'));
    let mut paddle_event = fixture("paddle_transaction_completed.json", &click(&p.track, "jane").await.unwrap());
    paddle_event["data"]["billed_at"] = json!(at.format(&Rfc3339).unwrap());

    let cases = [
        ("stripe", None, stripe_event),
        ("shopify", Some("orders/create"), shopify),
        ("woocommerce", Some("order.created"), woo),
        ("paddle", None, paddle_event),
        ("generic", None, generic_order("shop:42", "jane", 5000)),
    ];
    for (cart, topic, body) in &cases {
        let r = deliver(&p.connector, cart, *topic, &serde_json::to_vec(body).unwrap(), None, ts).await;
        assert_eq!(r.status(), 200, "{cart}: {}", r.text().await.unwrap());
    }
    let stats = wait_for_orders(&p.track, "jane", 5).await;
    // 30 % of 99.00 (Stripe), 199.00 (Shopify), 49.00 (WooCommerce), 99.00 (Paddle), 50.00 (generic).
    assert_eq!(stats["commission_minor"], 2970 + 5970 + 1470 + 2970 + 1500, "{stats}");
    let demo = stats["by_link"].as_array().unwrap().iter().find(|l| l["link"] == "demo").unwrap();
    assert_eq!(demo["orders"], 4, "the four carts' orders carry the tracking link's click: {stats}");
    assert_eq!(stats["hits"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cart_retrying_its_webhook_makes_one_order() {
    let p = pipeline(&[]).await;
    let ts = now().unix_timestamp();
    let mut event = fixture("stripe_checkout_session_completed.json", &click(&p.track, "jane").await.unwrap());
    event["data"]["object"]["created"] = json!(ts);
    let body = serde_json::to_vec(&event).unwrap();
    for _ in 0..3 {
        assert_eq!(deliver(&p.connector, "stripe", None, &body, None, ts).await.status(), 200);
    }
    let stats = wait_for_orders(&p.track, "jane", 1).await;
    assert_eq!(stats["commission_minor"], 2970);
    let entries: Value = serde_json::from_str(&ConnectorProcess::cli(&p.outbox, &["outbox", "list"], &[]).unwrap()).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_stale_signatures_are_refused_and_nothing_is_stored() {
    let p = pipeline(&[]).await;
    let ts = now().unix_timestamp();
    let mut event = fixture("stripe_checkout_session_completed.json", "AAAAAAAAAAAAAAAAAAAAAA");
    event["data"]["object"]["created"] = json!(ts);
    let body = serde_json::to_vec(&event).unwrap();
    let forged = deliver(&p.connector, "stripe", None, &body, Some("whsec_attacker"), ts).await;
    assert_eq!(forged.status(), 401);
    assert_eq!(forged.json::<Value>().await.unwrap()["error"], "bad_signature");
    let stale = deliver(&p.connector, "stripe", None, &body, None, ts - 301).await;
    assert_eq!(stale.json::<Value>().await.unwrap()["error"], "stale_timestamp");
    for (cart, topic) in [("shopify", Some("orders/create")), ("woocommerce", Some("order.created")), ("paddle", None), ("generic", None)] {
        let r = deliver(&p.connector, cart, topic, b"{}", Some("whsec_d3JvbmctYnV0LWxvbmctZW5vdWdoLWtleQ=="), ts).await;
        assert_eq!(r.status(), 401, "{cart}");
    }
    let unsigned = reqwest::Client::new().post(format!("{}/webhooks/shopify", p.connector.base)).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.json::<Value>().await.unwrap()["error"], "missing_signature");
    let entries = ConnectorProcess::cli(&p.outbox, &["outbox", "list"], &[]).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&entries).unwrap(), json!([]));
    let metrics = reqwest::get(format!("{}/metrics", p.connector.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("reftrack_connector_rejects_total{cart=\"stripe\",reason=\"bad_signature\"} 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unhandled_events_the_woocommerce_ping_and_unconfigured_carts_are_answered_clearly() {
    let p = pipeline(&[("PADDLE_WEBHOOK_SECRET", "")]).await;
    let ts = now().unix_timestamp();
    let other = deliver(&p.connector, "stripe", None, br#"{"id":"evt_1","type":"customer.created","data":{"object":{}}}"#, None, ts).await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.json::<Value>().await.unwrap()["status"], "ignored");
    let ping = reqwest::Client::new()
        .post(format!("{}/webhooks/woocommerce", p.connector.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=15")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    let paddle = deliver(&p.connector, "paddle", None, b"{}", None, ts).await;
    assert_eq!(paddle.status(), 503);
    let body: Value = paddle.json().await.unwrap();
    assert_eq!(body["error"], "cart_not_configured");
    assert!(body["message"].as_str().unwrap().contains("PADDLE_WEBHOOK_SECRET"));
    let unknown = reqwest::Client::new().post(format!("{}/webhooks/gumroad", p.connector.base)).body("{}").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let big = deliver(&p.connector, "generic", None, &vec![b' '; 2 * 1024 * 1024], None, ts).await;
    assert_eq!(big.status(), 413);
    assert_eq!(serde_json::from_str::<Value>(&ConnectorProcess::cli(&p.outbox, &["outbox", "list"], &[]).unwrap()).unwrap(), json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_subscription_renewals_earn_for_the_partner_who_brought_the_subscription() {
    let p = pipeline(&[]).await;
    let ts = now().unix_timestamp();
    let mut first = fixture("stripe_checkout_session_completed.json", &click(&p.track, "jane").await.unwrap());
    first["data"]["object"]["created"] = json!(ts);
    first["data"]["object"]["mode"] = json!("subscription");
    first["data"]["object"]["subscription"] = json!("sub_1QsubLkdIwHu7ixMember01");
    assert_eq!(deliver(&p.connector, "stripe", None, &serde_json::to_vec(&first).unwrap(), None, ts).await.status(), 200);
    wait_for_orders(&p.track, "jane", 1).await;
    // A month later the renewal invoice carries no click at all: the subscription is the link.
    let body = std::fs::read_to_string(root().join("connector/tests/fixtures/stripe_invoice_paid.json"))
        .unwrap()
        .replace("{{REASON}}", "subscription_cycle");
    let mut renewal: Value = serde_json::from_str(&body).unwrap();
    renewal["data"]["object"]["status_transitions"]["paid_at"] = json!(ts + 30 * 86_400);
    assert_eq!(deliver(&p.connector, "stripe", None, &serde_json::to_vec(&renewal).unwrap(), None, ts).await.status(), 200);
    let stats = wait_for_orders(&p.track, "jane", 2).await;
    // 30 % of $99.00 and of the $29.00 renewal.
    assert_eq!(stats["commission_minor"], 2970 + 870, "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stripe_refund_becomes_a_pro_rata_clawback() {
    let p = pipeline(&[]).await;
    let ts = now().unix_timestamp();
    let mut order = fixture("stripe_checkout_session_completed.json", &click(&p.track, "jane").await.unwrap());
    order["data"]["object"]["created"] = json!(ts);
    let mut refund = fixture("stripe_refund_created.json", "");
    refund["data"]["object"]["created"] = json!(ts + 60);
    // The refund first: the order has not been seen, so the cart is told to retry later.
    let early = deliver(&p.connector, "stripe", None, &serde_json::to_vec(&refund).unwrap(), None, ts).await;
    assert_eq!(early.status(), 503);
    assert_eq!(early.headers()["retry-after"], "60");
    assert_eq!(deliver(&p.connector, "stripe", None, &serde_json::to_vec(&order).unwrap(), None, ts).await.status(), 200);
    assert_eq!(deliver(&p.connector, "stripe", None, &serde_json::to_vec(&refund).unwrap(), None, ts).await.status(), 200);
    let clawed = poll(30, "the clawback is recorded", || async {
        let stats = p.track.stats("jane").await?;
        Ok((stats["clawback_minor"] == 990).then_some(stats))
    })
    .await;
    assert!(clawed.is_ok(), "{clawed:?}: {}", p.track.stats("jane").await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_accepted_while_the_server_is_down_arrive_exactly_once_after_it_restarts() {
    let p = pipeline(&[]).await;
    let sites_port = free_port();
    let (db, port) = p.track.stop();
    let ts = now().unix_timestamp();
    for i in 0..20 {
        let body = serde_json::to_vec(&generic_order(&format!("shop:down-{i}"), "jane", 1000)).unwrap();
        let r = deliver(&p.connector, "generic", None, &body, None, ts + i).await;
        assert_eq!(r.status(), 200, "accepted while the server is down");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pending: Value =
        serde_json::from_str(&ConnectorProcess::cli(&p.outbox, &["outbox", "list", "--state", "pending"], &[]).unwrap()).unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 20);
    assert!(pending[0]["attempts"].as_i64().unwrap() >= 1, "retried meanwhile: {}", pending[0]);
    let track = TrackServer::start_in(db, port, sites_port).unwrap();
    let stats = wait_for_orders(&track, "jane", 20).await;
    assert_eq!(stats["commission_minor"], 20 * 300);
    eventually(10, "the outbox drains", || async {
        let pending: Value = serde_json::from_str(&ConnectorProcess::cli(&p.outbox, &["outbox", "list", "--state", "pending"], &[])?)?;
        Ok(pending.as_array().is_some_and(|a| a.is_empty()))
    })
    .await
    .unwrap();
    assert_eq!(track.stats("jane").await.unwrap()["orders"], 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_killed_in_the_middle_of_a_batch_loses_and_doubles_nothing() {
    let p = pipeline(&[("REFTRACK_CONNECTOR_CONCURRENCY", "1")]).await;
    let Pipeline { connector, outbox, track, _sites, _outbox_dir } = p;
    // Queue everything while the server is away, so the batch is in the outbox when it returns.
    let sites_port = free_port();
    let (db, port) = track.stop();
    let ts = now().unix_timestamp();
    let n = 300;
    for i in 0..n {
        let body = serde_json::to_vec(&generic_order(&format!("shop:kill-{i}"), "jane", 1000)).unwrap();
        assert_eq!(deliver(&connector, "generic", None, &body, None, ts + i).await.status(), 200);
    }
    let track = TrackServer::start_in(db, port, sites_port).unwrap();
    eventually(30, "delivery has started", || async { Ok(track.stats("jane").await?["orders"].as_i64().unwrap_or(0) >= 10) })
        .await
        .unwrap();
    drop(connector); // SIGKILL, mid-batch
    let delivered_at_kill = track.stats("jane").await.unwrap()["orders"].as_i64().unwrap();
    assert!(delivered_at_kill < n, "the kill came before the batch finished ({delivered_at_kill})");
    let _again = ConnectorProcess::start(&track.local(""), &outbox, &[]).unwrap();
    let stats = wait_for_orders(&track, "jane", n).await;
    assert_eq!(stats["commission_minor"], n * 300, "no order was credited twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_the_server_refuses_are_kept_as_dead_letters_and_can_be_retried() {
    let p = pipeline(&[("REFTRACK_SIGNING_SECRET", "whsec_bm90LXRoZS1zZXJ2ZXJzLXNlY3JldC0xMjM=")]).await;
    let Pipeline { connector, outbox, track, _sites, _outbox_dir } = p;
    let ts = now().unix_timestamp();
    let body = serde_json::to_vec(&generic_order("shop:dead-1", "jane", 1000)).unwrap();
    assert_eq!(deliver(&connector, "generic", None, &body, None, ts).await.status(), 200);
    let dead = poll(10, "the entry is a dead letter", || async {
        let dead: Value = serde_json::from_str(&ConnectorProcess::cli(&outbox, &["outbox", "list", "--state", "dead"], &[])?)?;
        Ok(dead.as_array().is_some_and(|a| a.len() == 1).then_some(dead))
    })
    .await
    .unwrap();
    assert!(dead[0]["last_error"].as_str().unwrap().starts_with("401"), "{dead}");
    drop(connector);
    let _fixed = ConnectorProcess::start(&track.local(""), &outbox, &[]).unwrap();
    let requeued = ConnectorProcess::cli(&outbox, &["outbox", "retry", "--dead"], &[]).unwrap();
    assert!(requeued.contains("\"requeued\": 1"), "{requeued}");
    wait_for_orders(&track, "jane", 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_sends_one_order_and_imports_a_csv_backfill() {
    let p = pipeline(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let order_file = dir.path().join("order.json");
    std::fs::write(&order_file, serde_json::to_vec(&generic_order("shop:cli-1", "john", 2000)).unwrap()).unwrap();
    let env = [("REFTRACK_BACKEND_URL", p.track.local("")), ("REFTRACK_SIGNING_SECRET", SECRET.to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer: Value =
        serde_json::from_str(&ConnectorProcess::cli(&p.outbox, &["send", order_file.to_str().unwrap()], &env).unwrap()).unwrap();
    assert_eq!((answer["partner"].as_str(), answer["commission_minor"].as_i64()), (Some("john"), Some(600)));
    let csv = dir.path().join("orders.csv");
    let at = now().format(&Rfc3339).unwrap();
    let mut text = String::from("order_id,occurred_at,currency,total_minor,email,click_id,partner,sub_id,source\n");
    for i in 0..25 {
        text.push_str(&format!("legacy:{i},{at},USD,1000,b{i}@example.com,,john,,import\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let out = ConnectorProcess::cli(&p.outbox, &["import", csv.to_str().unwrap()], &env).unwrap();
    assert!(out.contains("\"imported\": 25") && out.contains("\"dead\": 0"), "{out}");
    assert_eq!(p.track.stats("john").await.unwrap()["orders"], 26);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_file_sets_what_the_environment_does_not() {
    let sites = sites::Sites::start().await.unwrap();
    let track = TrackServer::start(sites.port).unwrap();
    track.seed(&sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connector.env");
    std::fs::write(
        &file,
        format!(
            "REFTRACK_BACKEND_URL={}\nREFTRACK_SIGNING_SECRET={SECRET}\nREFTRACK_CONNECTOR_LISTEN=127.0.0.1:0\nREFTRACK_OUTBOX={}\nGENERIC_WEBHOOK_SECRET=whsec_ZnJvbS10aGUtZmlsZS1ub3QtdXNlZA==\n",
            track.local(""),
            dir.path().join("outbox.db").display()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(binaries().join("reftrack-connector"));
    cmd.args(["serve", "--config"]).arg(&file).env("GENERIC_WEBHOOK_SECRET", GENERIC_SECRET).env("RUST_LOG", "error");
    for var in ["REFTRACK_BACKEND_URL", "REFTRACK_SIGNING_SECRET", "REFTRACK_CONNECTOR_LISTEN", "REFTRACK_OUTBOX"] {
        cmd.env_remove(var);
    }
    let (_process, base) = spawn_until(cmd, "reftrack-connector listening on ").unwrap();
    let connector = ConnectorProcess { process: _process, base };
    let ts = now().unix_timestamp();
    // Signed with the environment's secret (which wins over the file's), forwarded to the file's backend.
    let body = serde_json::to_vec(&generic_order("shop:configured", "jane", 1000)).unwrap();
    assert_eq!(deliver(&connector, "generic", None, &body, None, ts).await.status(), 200);
    wait_for_orders(&track, "jane", 1).await;
}
