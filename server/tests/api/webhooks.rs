//! Outgoing events end to end: a real HTTP receiver in the test takes the merchant's webhooks
//! (their Standard Webhooks signatures checked here by hand, with hmac/sha2/base64, not by the
//! server's signer) and a partner's postbacks; endpoints that fail and come back, a server killed
//! before it could deliver, targets on the server's own network, two servers on one database.

use crate::helpers::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reftrack_server::clock::Clock;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// 2026-11-01T10:00:00Z.
const NOVEMBER_1: i64 = 1_793_527_200_000;
const ALLOW_LOCAL: [(&str, &str); 2] = [("REFTRACK_WEBHOOK_ALLOW_PRIVATE", "true"), ("REFTRACK_WEBHOOK_ALLOW_HTTP", "true")];
const ALLOW_LOCAL_FLAGS: [&str; 6] = ["--webhook-allow-private", "true", "--webhook-allow-http", "true", "--metrics-token", METRICS_TOKEN];

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
    fn query(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
    }
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    /// The status answered (200 unless set).
    status: AtomicU16,
    retry_after: Mutex<Option<String>>,
    delay_ms: AtomicU64,
}

/// A real HTTP server on 127.0.0.1 that records every request.
struct Receiver {
    base: String,
    shared: Arc<Shared>,
}

async fn record(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let delay = shared.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = match shared.status.load(Ordering::Relaxed) {
        0 => 200,
        s => s,
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    shared.got.lock().unwrap().push(Received { method, uri, headers, body, answered: status });
    let mut response = (StatusCode::from_u16(status).unwrap(), "ok").into_response();
    if let Some(after) = shared.retry_after.lock().unwrap().clone() {
        response.headers_mut().insert("retry-after", after.parse().unwrap());
    }
    response
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, shared }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::Relaxed);
    }
    fn got(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }
    /// Waits (up to 15 s) until `n` requests arrived, and answers them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_up_to(n, Duration::from_secs(15)).await
    }
    async fn wait_up_to(&self, n: usize, limit: Duration) -> Vec<Received> {
        for _ in 0..limit.as_millis() / 50 {
            if self.got().len() >= n {
                return self.got();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("waited for {n} requests, got {}: {:#?}", self.got().len(), self.got().iter().map(|r| &r.body).collect::<Vec<_>>());
    }
    /// The requests answered 2xx, by event type.
    fn delivered_types(&self) -> Vec<String> {
        let mut types: Vec<String> =
            self.got().iter().filter(|r| r.answered < 300).map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
        types.sort();
        types
    }
}

/// Verifies a Standard Webhooks signature independently of the server: HMAC-SHA256 keyed with the
/// base64-decoded part of `whsec_…` over "{id}.{timestamp}.{body}", base64, one of the
/// space-separated `v1,` signatures.
fn signature_is_valid(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", r.header("webhook-id"), r.header("webhook-timestamp")).as_bytes());
    mac.update(r.body.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature").split(' ').any(|s| s == expected)
}

#[test]
fn the_hand_written_verifier_accepts_the_published_standard_webhooks_vector_and_nothing_else() {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".parse().unwrap());
    headers.insert("webhook-timestamp", "1649367553".parse().unwrap());
    headers.insert("webhook-signature", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".parse().unwrap());
    let mut r = Received {
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers,
        body: r#"{"email":"test@example.com","username":"test_user"}"#.into(),
        answered: 200,
    };
    assert!(signature_is_valid("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", &r));
    r.headers.insert("webhook-timestamp", "1649367554".parse().unwrap());
    assert!(!signature_is_valid("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", &r));
}

async fn add_webhook(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let r = app.admin_post("/v1/admin/webhooks", json!({"url": url, "events": events})).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let made: Value = r.json().await.unwrap();
    (made["id"].as_i64().unwrap(), made["secret"].as_str().unwrap().to_owned())
}

fn order_now(app: &TestApp, id: &str, click: Option<&str>) -> Value {
    let mut o = order(id, click, "buyer@example.com");
    o["occurred_at"] = json!(rfc3339(app.now()));
    o
}

async fn deliveries(app: &TestApp, webhook: i64) -> Vec<Value> {
    app.get_json(&format!("/v1/admin/webhooks/{webhook}/deliveries"), ADMIN_KEY).await["deliveries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_credited_order_sends_signed_order_credited_and_commission_created_and_a_refund_sends_commission_clawed_back() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let (_, secret) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited", "commission.created", "commission.clawed_back"]).await;
    assert!(secret.starts_with("whsec_"));

    let click = app.click("jane", Some("spring")).await;
    assert_eq!(app.post_order(&order_now(&app, "api:w1", Some(&click))).await.status(), 200);
    let got = receiver.wait_for(2).await;
    for r in &got {
        assert!(signature_is_valid(&secret, r), "the signature does not verify: {r:?}");
        let body = r.json();
        assert_eq!(r.header("webhook-id"), body["id"], "webhook-id is the event id");
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        assert!((now() - ts).abs() < 60, "the timestamp is the time of sending");
        assert_eq!(body["version"], 1);
    }
    let by_type: BTreeMap<String, Value> = got.iter().map(|r| (r.json()["type"].as_str().unwrap().to_owned(), r.json())).collect();
    let credited = &by_type["order.credited"]["data"];
    assert_eq!((credited["order_id"].as_str(), credited["partner"].as_str()), (Some("api:w1"), Some("jane")));
    assert_eq!((credited["total_minor"].as_i64(), credited["commission_minor"].as_i64()), (Some(9900), Some(2970)));
    assert_eq!(credited["click_id"], click.as_str());
    assert_eq!(credited["sub_id"], "spring");
    let commission = &by_type["commission.created"]["data"];
    assert_eq!((commission["partner"].as_str(), commission["amount_minor"].as_i64()), (Some("jane"), Some(2970)));
    assert_eq!(commission["role"], "sale");

    // A tampered body no longer verifies: the check above can fail.
    let mut forged = got[0].clone();
    forged.body = forged.body.replace("2970", "9999");
    assert!(!signature_is_valid(&secret, &forged));

    let refund = json!({"order_id": "api:w1", "refund_id": "re_w1", "amount_minor": 3300, "occurred_at": rfc3339(app.now())});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    let got = receiver.wait_for(3).await;
    let clawed = got.iter().map(Received::json).find(|b| b["type"] == "commission.clawed_back").expect("commission.clawed_back");
    assert!(signature_is_valid(&secret, got.last().unwrap()));
    assert_eq!((clawed["data"]["amount_minor"].as_i64(), clawed["data"]["refund_id"].as_str()), (Some(-990), Some("re_w1")));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), 3, "nothing else was subscribed, nothing sent twice");
}

#[tokio::test]
async fn redeliver_sends_the_same_event_id_again_and_a_test_send_arrives_signed() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let (webhook, secret) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited"]).await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_now(&app, "api:r1", Some(&click))).await.status(), 200);
    let first = receiver.wait_for(1).await[0].clone();

    // The receiver has the request before the server has written its answer down.
    let mut log = deliveries(&app, webhook).await;
    for _ in 0..50 {
        if log.first().is_some_and(|d| d["state"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = deliveries(&app, webhook).await;
    }
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["state"].as_str(), log[0]["last_status"].as_i64(), log[0]["attempts"].as_i64()),
        (Some("delivered"), Some(200), Some(1))
    );
    let path = format!("/v1/admin/webhooks/{webhook}/deliveries/{}/redeliver", log[0]["id"]);
    assert_eq!(app.admin_post(&path, json!({})).await.status(), 202);
    let again = receiver.wait_for(2).await[1].clone();
    assert_eq!(again.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(again.body, first.body, "the same event");
    assert!(signature_is_valid(&secret, &again));

    assert_eq!(app.admin_post(&format!("/v1/admin/webhooks/{webhook}/test"), json!({})).await.status(), 202);
    let test = receiver.wait_for(3).await[2].clone();
    assert_eq!(test.json()["type"], "webhook.test");
    assert!(signature_is_valid(&secret, &test));

    let r = app.admin_post(&format!("/v1/admin/webhooks/{webhook}/deliveries/999999/redeliver"), json!({})).await;
    assert_eq!(r.status(), 404);
    let r = app.client.delete(app.url(&format!("/v1/admin/webhooks/{webhook}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get_json("/v1/admin/webhooks", ADMIN_KEY).await["webhooks"], json!([]));
}

#[tokio::test]
async fn a_partner_postback_receives_its_own_conversions_with_the_macros_filled_and_never_the_email() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let made: Value = app.admin_post("/v1/admin/partners/jane/tokens", json!({})).await.json().await.unwrap();
    let jane = made["token"].as_str().unwrap().to_owned();
    let template = receiver
        .url("/pb/jane?click={click_id}&sub={sub_id}&order={order_id}&amount={amount}&commission={commission}&cur={currency}&e={event}");
    let r = app
        .client
        .post(app.url("/v1/partners/jane/postbacks"))
        .bearer_auth(&jane)
        .json(&json!({"url": template, "method": "GET", "events": ["order.credited", "commission.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // John's postback must never see Jane's conversions.
    let r = app
        .admin_post(
            "/v1/partners/john/postbacks",
            json!({"url": receiver.url("/pb/john?o={order_id}"), "method": "POST", "events": ["order.credited"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Jane's token cannot reach John's postbacks.
    let r = app.client.get(app.url("/v1/partners/john/postbacks")).bearer_auth(&jane).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let click = app.click("jane", Some("spring")).await;
    assert_eq!(app.post_order(&order_now(&app, "api:p1", Some(&click))).await.status(), 200);
    let got = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got_now = receiver.got();
    assert_eq!(
        got_now.len(),
        2,
        "jane's two events, nothing for john: {:?}",
        got_now.iter().map(|r| r.uri.to_string()).collect::<Vec<_>>()
    );
    for r in &got {
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.uri.path(), "/pb/jane");
        assert!(!r.uri.to_string().contains("buyer"), "the buyer's email never reaches a partner: {}", r.uri);
        let q = r.query();
        assert_eq!(q["click"], click);
        assert_eq!(q["sub"], "spring");
        assert_eq!(
            (q["order"].as_str(), q["amount"].as_str(), q["commission"].as_str(), q["cur"].as_str()),
            ("api:p1", "99.00", "29.70", "USD")
        );
    }
    let mut events: Vec<String> = got.iter().map(|r| r.query()["e"].clone()).collect();
    events.sort();
    assert_eq!(events, ["commission.created", "order.credited"]);

    let listed = app.get_json("/v1/partners/jane/postbacks", &jane).await;
    assert_eq!(listed["postbacks"][0]["state"], "enabled");
    assert_eq!(listed["postbacks"][0]["method"], "GET");
}

#[tokio::test]
async fn a_partner_holds_at_most_five_postbacks_and_bad_templates_are_refused_on_their_field() {
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let add = |body: Value| app.admin_post("/v1/partners/jane/postbacks", body);
    for i in 0..5 {
        let r = add(json!({"url": format!("https://p.example/{i}?c={{click_id}}"), "events": ["order.credited"]})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let r = add(json!({"url": "https://p.example/6", "events": ["order.credited"]})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "too_many_postbacks");
    for (body, field) in [
        (json!({"url": "https://p.example/?e={email}", "events": ["order.credited"]}), "url"),
        (json!({"url": "https://{sub_id}.p.example/", "events": ["order.credited"]}), "url"),
        (json!({"url": "https://p.example/", "method": "PUT", "events": ["order.credited"]}), "method"),
        (json!({"url": "https://p.example/", "events": ["partner.created"]}), "events"),
        (json!({"url": "https://p.example/", "events": []}), "events"),
    ] {
        let r = app.admin_post("/v1/partners/john/postbacks", body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
}

#[tokio::test]
async fn targets_on_the_server_s_own_network_are_refused_with_a_400_on_url_unless_explicitly_allowed() {
    let app = spawn_seeded_app().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
    ] {
        let r = app.admin_post("/v1/admin/webhooks", json!({"url": url, "events": ["order.credited"]})).await;
        assert_eq!(r.status(), 400, "{url}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!((answer["error"].as_str(), answer["field"].as_str()), (Some("invalid_input"), Some("url")), "{url}: {answer}");
        assert!(answer["message"].as_str().unwrap().len() > 10);
        let r = app.admin_post("/v1/partners/jane/postbacks", json!({"url": url, "events": ["order.credited"]})).await;
        assert_eq!(r.status(), 400, "postback {url}");
    }
    let answer: Value = app
        .admin_post("/v1/admin/webhooks", json!({"url": "https://localhost/x", "events": ["order.credited"]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(answer["message"].as_str().unwrap().contains("loopback"), "{answer}");
    let r = app.admin_post("/v1/admin/webhooks", json!({"url": "https://hooks.example.com/x", "events": ["order.paid"]})).await;
    assert_eq!(r.status(), 400);

    let allowed = spawn_app_with(&ALLOW_LOCAL).await;
    let r = allowed.admin_post("/v1/admin/webhooks", json!({"url": "http://127.0.0.1:9/hook", "events": ["order.credited"]})).await;
    assert_eq!(r.status(), 201, "allowed with REFTRACK_WEBHOOK_ALLOW_PRIVATE and REFTRACK_WEBHOOK_ALLOW_HTTP");
}

/// Waits until the server has recorded every attempt the receiver saw (the receiver sees a
/// request before the server records its outcome), and answers the log.
async fn settled(app: &TestApp, webhook: i64, receiver: &Receiver) -> Vec<Value> {
    for _ in 0..200 {
        let log = deliveries(app, webhook).await;
        let recorded: i64 = log.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
        if recorded == receiver.got().len() as i64 {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not record the {} attempts the receiver saw", receiver.got().len());
}

/// Moves the manual clock by `ms` and lets the delivery task (which polls every 200 ms) act.
async fn advance(clock: &Clock, ms: i64) {
    clock.advance(ms);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn an_endpoint_down_for_a_while_gets_every_event_once_when_it_is_back_and_retry_after_is_honoured() {
    let receiver = Receiver::start().await;
    let clock = Clock::manual(NOVEMBER_1);
    let app = spawn_app_on_clock_with(clock.clone(), &ALLOW_LOCAL_FLAGS).await;
    let (webhook, _) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited", "commission.created"]).await;
    receiver.answer(503);
    *receiver.shared.retry_after.lock().unwrap() = Some("60".into());
    let click = app.click("jane", None).await;
    for i in 0..3 {
        assert_eq!(app.post_order(&order_now(&app, &format!("api:d{i}"), Some(&click))).await.status(), 200);
    }
    receiver.wait_for(6).await;
    let log = settled(&app, webhook, &receiver).await;
    assert!(log.iter().all(|d| d["state"] == "pending" && d["attempts"] == 1 && d["last_status"] == 503), "{log:?}");

    // Retry-After: 60 outweighs the schedule's 5 s.
    advance(&clock, 5_000).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got().len(), 6, "no retry before the receiver's Retry-After");
    receiver.answer(500);
    *receiver.shared.retry_after.lock().unwrap() = None;
    advance(&clock, 55_000).await;
    receiver.wait_for(12).await;
    settled(&app, webhook, &receiver).await;
    // Next step of the schedule is 5 minutes; the endpoint is back.
    receiver.answer(200);
    advance(&clock, 299_000).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got().len(), 12, "the third attempt waits its 5 minutes");
    advance(&clock, 1_000).await;
    receiver.wait_for(18).await;
    settled(&app, webhook, &receiver).await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let delivered: Vec<Received> = receiver.got().into_iter().filter(|r| r.answered == 200).collect();
    let mut ids: Vec<String> = delivered.iter().map(|r| r.header("webhook-id").to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((delivered.len(), ids.len()), (6, 6), "every event arrived once, none missing");
    assert_eq!(receiver.delivered_types(), ["commission.created"; 3].into_iter().chain(["order.credited"; 3]).collect::<Vec<_>>());
    let log = settled(&app, webhook, &receiver).await;
    assert!(log.iter().all(|d| d["state"] == "delivered" && d["attempts"] == 3), "{log:?}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("reftrack_outbox_depth 0"), "{metrics}");
    assert!(metrics.contains("reftrack_webhook_deliveries_total 6"), "{metrics}");
    assert!(metrics.contains("reftrack_webhook_retries_total 12"), "{metrics}");
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_the_merchant_is_shown_why() {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let clock = Clock::manual(NOVEMBER_1);
    let app = spawn_app_on_clock_with(clock.clone(), &ALLOW_LOCAL_FLAGS).await;
    let (webhook, _) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited"]).await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_now(&app, "api:f1", Some(&click))).await.status(), 200);
    receiver.wait_for(1).await;
    settled(&app, webhook, &receiver).await;
    let schedule = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000];
    for (n, wait) in schedule.iter().enumerate() {
        advance(&clock, *wait).await;
        receiver.wait_for(n + 2).await;
        settled(&app, webhook, &receiver).await;
    }
    let log = settled(&app, webhook, &receiver).await;
    assert_eq!((log[0]["state"].as_str(), log[0]["attempts"].as_i64()), (Some("failed"), Some(10)), "ten attempts, then given up");
    let listed = app.get_json("/v1/admin/webhooks", ADMIN_KEY).await;
    assert_eq!(listed["webhooks"][0]["state"], "enabled", "3 days of failures do not disable it");

    // A second event keeps failing; once the endpoint has failed for 5 days it is disabled.
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_now(&app, "api:f2", Some(&click))).await.status(), 200);
    let mut seen = receiver.wait_for(11).await.len();
    settled(&app, webhook, &receiver).await;
    for wait in schedule {
        if app.get_json("/v1/admin/webhooks", ADMIN_KEY).await["webhooks"][0]["state"] == "disabled" {
            break;
        }
        advance(&clock, wait).await;
        seen = receiver.wait_for(seen + 1).await.len();
        settled(&app, webhook, &receiver).await;
    }
    let listed = app.get_json("/v1/admin/webhooks", ADMIN_KEY).await;
    let hook = &listed["webhooks"][0];
    assert_eq!(hook["state"], "disabled", "{listed}");
    let why = hook["disabled_reason"].as_str().unwrap();
    assert!(why.contains("5 days") && why.contains("HTTP 500"), "{why}");
    // Disabled, it is sent nothing more however long we wait.
    let before = receiver.got().len();
    advance(&clock, 2 * 86_400_000).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), before);
    assert!(app.metrics().await.contains("reftrack_webhook_endpoints_disabled 1"));
}

#[tokio::test]
async fn an_event_committed_before_a_sigkill_is_delivered_after_the_restart() {
    let receiver = Receiver::start().await;
    // This server commits the order and its events but sends nothing: it is killed before it could.
    let mut env = ALLOW_LOCAL.to_vec();
    env.push(("REFTRACK_WEBHOOK_DELIVERY", "off"));
    let mut app = spawn_app_with(&env).await;
    app.seed().await;
    let (_, secret) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited"]).await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_now(&app, "api:k1", Some(&click))).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.got().is_empty());
    app.kill_now();

    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let url = app.database_url.clone();
    drop(app);
    let _app = spawn_app_at(dir, url, &ALLOW_LOCAL).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["data"]["order_id"], "api:k1");
    assert!(signature_is_valid(&secret, &got[0]));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_delivery_leaves_it_to_the_next_once_its_lease_runs_out() {
    let receiver = Receiver::start().await;
    // The first attempt is never answered: the server is killed while it waits.
    receiver.shared.delay_ms.store(60_000, Ordering::Relaxed);
    let mut env = ALLOW_LOCAL.to_vec();
    env.push(("REFTRACK_WEBHOOK_TIMEOUT_SECS", "1"));
    let mut app = spawn_app_with(&env).await;
    app.seed().await;
    let (webhook, _) = add_webhook(&app, &receiver.url("/hooks"), &["order.credited"]).await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_now(&app, "api:x1", Some(&click))).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leased = deliveries(&app, webhook).await;
    assert_eq!((leased[0]["state"].as_str(), leased[0]["attempts"].as_i64()), (Some("pending"), Some(0)), "in flight");
    app.kill_now();

    receiver.shared.delay_ms.store(0, Ordering::Relaxed);
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let url = app.database_url.clone();
    drop(app);
    let started = std::time::Instant::now();
    let app = spawn_app_at(dir, url, &env).await;
    // The lease (twice the 1 s timeout and 10 s) runs out, then the new server sends it.
    let got = receiver.wait_up_to(1, Duration::from_secs(40)).await;
    assert_eq!(got[0].json()["data"]["order_id"], "api:x1");
    eprintln!("taken over {:?} after the restart", started.elapsed());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.got().len(), 1);
    assert_eq!(deliveries(&app, webhook).await[0]["state"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_deliver_each_event_once() {
    let receiver = Receiver::start().await;
    // A slow receiver keeps deliveries in flight while the other server reads the outbox.
    receiver.shared.delay_ms.store(30, Ordering::Relaxed);
    let first = spawn_app_with(&ALLOW_LOCAL).await;
    first.seed().await;
    let second = spawn_app_at(tempfile::tempdir().unwrap(), first.database_url.clone(), &ALLOW_LOCAL).await;
    add_webhook(&first, &receiver.url("/hooks"), &["order.credited", "commission.created"]).await;
    let click = first.click("jane", None).await;
    let orders = 30;
    for i in 0..orders {
        let app = if i % 2 == 0 { &first } else { &second };
        assert_eq!(app.post_order(&order_now(app, &format!("api:m{i}"), Some(&click))).await.status(), 200);
    }
    receiver.wait_for(orders * 2).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let got = receiver.got();
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!((total, ids.len()), (orders * 2, orders * 2), "each of {} events delivered exactly once", orders * 2);
    let (a, b) = (attempts_made(&first).await, attempts_made(&second).await);
    eprintln!("two servers: {a} and {b} deliveries of {total}");
    assert_eq!(a + b, total as u64);
}

async fn attempts_made(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines().find_map(|l| l.strip_prefix("reftrack_webhook_attempts_total ")).unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_kind_of_change_sends_its_own_event_once() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let all = [
        "lead.created",
        "order.credited",
        "order.unattributed",
        "commission.created",
        "commission.clawed_back",
        "commission.approved",
        "commission.voided",
        "payout.created",
        "partner.created",
        "partner.approved",
    ];
    add_webhook(&app, &receiver.url("/hooks"), &all).await;
    let r = app
        .admin_post("/v1/admin/partners", json!({"code":"kim","name":"Kim","email":"kim@partners.example","programs":["standard"]}))
        .await;
    assert_eq!(r.status(), 201);
    let click = app.click("jane", None).await;
    let lead = json!({"email": "fan@example.com", "click_id": click}).to_string();
    assert_eq!(app.signed_post("/v1/leads", lead.as_bytes(), "msg_lead_e", app.now()).await.status(), 200);
    assert_eq!(app.post_order(&order_now(&app, "api:e1", Some(&click))).await.status(), 200);
    assert_eq!(app.post_order(&order_now(&app, "api:e2", Some(&click))).await.status(), 200);
    let mut stranger = order("api:e3", None, "stranger@example.com");
    stranger["occurred_at"] = json!(rfc3339(app.now()));
    assert_eq!(app.post_order(&stranger).await.status(), 200);
    let ledger = app.get_json("/v1/partners/jane/ledger", ADMIN_KEY).await;
    let earned = |order: &str| {
        ledger["entries"].as_array().unwrap().iter().find(|e| e["order_id"] == order && e["kind"] == "earned").unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let r = app.admin_post(&format!("/v1/admin/ledger/{}/approve", earned("api:e1")), json!({"reason": "trusted"})).await;
    assert_eq!(r.status(), 201);
    let r = app.admin_post(&format!("/v1/admin/ledger/{}/void", earned("api:e2")), json!({"reason": "test order"})).await;
    assert_eq!(r.status(), 201);
    let r = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor": 0})).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    receiver.wait_for(10).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        receiver.delivered_types(),
        [
            "commission.approved",
            "commission.created",
            "commission.created",
            "commission.voided",
            "lead.created",
            "order.credited",
            "order.credited",
            "order.unattributed",
            "partner.created",
            "payout.created",
        ],
        "one event per change, nothing twice"
    );
    let bodies: Vec<Value> = receiver.got().iter().map(Received::json).collect();
    let of = |t: &str| bodies.iter().find(|b| b["type"] == t).unwrap()["data"].clone();
    assert_eq!(
        (of("commission.approved")["amount_minor"].as_i64(), of("commission.approved")["partner"].as_str()),
        (Some(2970), Some("jane"))
    );
    assert_eq!(of("commission.voided")["amount_minor"], -2970);
    assert_eq!(of("commission.voided")["reason"], "test order");
    assert_eq!((of("payout.created")["amount_minor"].as_i64(), of("payout.created")["partner"].as_str()), (Some(2970), Some("jane")));
    assert_eq!((of("lead.created")["partner"].as_str(), of("lead.created")["email"].as_str()), (Some("jane"), Some("fan@example.com")));
    assert_eq!(of("partner.created")["partner"], "kim");
    assert_eq!(of("order.unattributed")["order_id"], "api:e3");
}

#[tokio::test]
async fn a_parent_s_postback_gets_its_tier_commission_without_the_child_s_click_or_sub_id() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    app.seed().await;
    let setup = [
        ("/v1/admin/programs", json!({"code":"tiered","name":"Tiered","rate_bps":3000,"window_days":30,"tier2_bps":1000})),
        ("/v1/admin/partners", json!({"code":"kim","name":"Kim","email":"kim@partners.example","parent":"jane","programs":["tiered"]})),
        ("/v1/admin/links", json!({"code":"tl","destination":"https://www.merchant.test/t","programs":["tiered"]})),
    ];
    for (path, body) in setup {
        let r = app.admin_post(path, body).await;
        assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap());
    }
    let template = receiver.url("/pb?click={click_id}&sub={sub_id}&c={commission}&e={event}");
    for partner in ["jane", "kim"] {
        let body = json!({"url": template.replace("/pb", &format!("/pb/{partner}")), "events": ["commission.created"]});
        assert_eq!(app.admin_post(&format!("/v1/partners/{partner}/postbacks"), body).await.status(), 201);
    }
    let r = app.follow("/go/tl?aff=kim&sid=kims_list").await;
    let click = click_from(r.headers()).unwrap();
    assert_eq!(app.post_order(&order_now(&app, "api:t1", Some(&click))).await.status(), 200);
    let got = receiver.wait_for(2).await;
    let by_path: BTreeMap<String, BTreeMap<String, String>> = got.iter().map(|r| (r.uri.path().to_owned(), r.query())).collect();
    let kim = &by_path["/pb/kim"];
    assert_eq!((kim["click"].as_str(), kim["sub"].as_str(), kim["c"].as_str()), (click.as_str(), "kims_list", "29.70"));
    let jane = &by_path["/pb/jane"];
    assert_eq!((jane["click"].as_str(), jane["sub"].as_str(), jane["c"].as_str()), ("", "", "9.90"), "jane's own share only: {jane:?}");
}
