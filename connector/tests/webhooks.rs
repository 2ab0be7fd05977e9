//! The connector's HTTP edge in process: the real router, a real outbox in a temp file, carts
//! configured from a map. The server is absent (entries stay pending), so what is checked is what
//! each delivery stores and answers.

use reftrack_connector::carts::{lemonsqueezy, polar, CARTS};
use reftrack_connector::configuration::{BackendArgs, CartSecrets, ServeArgs};
use reftrack_connector::outbox::{Kind, Outbox};
use reftrack_connector::startup::Connector;
use serde_json::Value;
use std::collections::HashMap;

const LS: &str = "ls-signing-secret";
const POLAR: &str = "polar_whs_3kFq8sZ2mWc7Ty1vRb9Xp0aLe5Nd4Jh6";
const TOKEN: &str = "url-token-1f9e2d";
const CHARGEBEE: &str = "reftrack:pa55:word";
const THRIVECART: &str = "TCSECRETWORD42";

struct App {
    base: String,
    outbox: Outbox,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// No tool configured (these tests are about carts).
#[derive(clap::Parser)]
struct ToolsOnly {
    #[command(flatten)]
    tools: reftrack_connector::tools::ToolArgs,
}

async fn app(env: &[(&str, &str)]) -> App {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let map: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let carts = CartSecrets::from_env(|k| map.get(k).cloned()).unwrap();
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        backend: BackendArgs {
            // Nothing listens there: entries stay in the outbox, which is what these tests read.
            backend_url: "http://127.0.0.1:9".into(),
            signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            concurrency: 1,
            retry_min_ms: 60_000,
            retry_max_ms: 60_000,
        },
        outbox_min_free_bytes: 0,
        tools: <ToolsOnly as clap::Parser>::parse_from(["connector"]).tools,
    };
    let connector = Connector::build_with(&args, path.to_str().unwrap(), carts).await.unwrap();
    let base = format!("http://{}", connector.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(connector.run_until(async {
        let _ = stopped.await;
    }));
    let outbox = Outbox::open(path.to_str().unwrap()).await.unwrap();
    App { base, outbox, _dir: dir, _stop: stop }
}

fn all_new_carts() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LEMONSQUEEZY_WEBHOOK_SECRET", LS),
        ("POLAR_WEBHOOK_SECRET", POLAR),
        ("GUMROAD_WEBHOOK_SECRET", TOKEN),
        ("THRIVECART_WEBHOOK_SECRET", THRIVECART),
        ("SAMCART_WEBHOOK_SECRET", TOKEN),
        ("CHARGEBEE_WEBHOOK_SECRET", CHARGEBEE),
    ]
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().replace("{{CLICK}}", "")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A delivery of `cart` as the cart sends it; `honest` false forges its proof.
fn delivery(app: &App, cart: &str, honest: bool) -> reqwest::RequestBuilder {
    let http = reqwest::Client::new();
    let url = |query: &str| format!("{}/webhooks/{cart}{query}", app.base);
    let token = if honest { TOKEN } else { "guess" };
    match cart {
        "lemonsqueezy" => {
            let body = fixture("lemonsqueezy_order_created.json");
            let secret = if honest { LS } else { "attacker" };
            http.post(url("")).header("x-signature", lemonsqueezy::sign(secret, body.as_bytes())).body(body)
        }
        "polar" => {
            let body = fixture("polar_order_paid.json");
            let secret = if honest { POLAR } else { "polar_whs_attacker" };
            let mut req = http.post(url(""));
            for (k, v) in polar::headers(secret, "msg_1", now(), body.as_bytes()) {
                req = req.header(k, v);
            }
            req.body(body)
        }
        "gumroad" => http
            .post(url(&format!("?token={token}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fixture("gumroad_sale.txt")),
        "thrivecart" => {
            let body = fixture("thrivecart_order_success.txt");
            let body = if honest { body } else { body.replace(THRIVECART, "guess") };
            http.post(url("")).header("content-type", "application/x-www-form-urlencoded").body(body)
        }
        "samcart" => {
            http.post(url(&format!("?token={token}"))).header("content-type", "application/json").body(fixture("samcart_order.json"))
        }
        "chargebee" => {
            let (user, password) = if honest { CHARGEBEE.split_once(':').unwrap() } else { ("reftrack", "guess") };
            http.post(url("")).basic_auth(user, Some(password)).body(fixture("chargebee_payment_succeeded.json"))
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn each_new_cart_stores_an_authenticated_order_and_refuses_a_forged_one_storing_nothing() {
    for cart in ["lemonsqueezy", "polar", "gumroad", "thrivecart", "samcart", "chargebee"] {
        let app = app(&all_new_carts()).await;
        let forged = delivery(&app, cart, false).send().await.unwrap();
        assert_eq!(forged.status(), 401, "{cart}");
        let body: Value = forged.json().await.unwrap();
        assert!(body["error"].is_string() && body["message"].is_string(), "{cart}: {body}");
        assert!(app.outbox.list(None, None).await.unwrap().is_empty(), "{cart}: a forged delivery stores nothing");
        let honest = delivery(&app, cart, true).send().await.unwrap();
        assert_eq!(honest.status(), 200, "{cart}: {}", honest.text().await.unwrap());
        let orders = app.outbox.list(None, Some(Kind::Order)).await.unwrap();
        assert_eq!(orders.len(), 1, "{cart}");
        assert!(orders[0].msg_id.starts_with(&format!("order:{cart}:")), "{}", orders[0].msg_id);
        // The same delivery again (a cart's retry, or a replay) is the same entry.
        assert_eq!(delivery(&app, cart, true).send().await.unwrap().status(), 200);
        assert_eq!(app.outbox.list(None, None).await.unwrap().len(), 1, "{cart}");
    }
}

#[tokio::test]
async fn a_cart_without_its_secret_is_refused_and_an_unknown_name_is_not_found() {
    let app = app(&[]).await;
    for cart in CARTS {
        let r = reqwest::Client::new()
            .post(format!("{}/webhooks/{}", app.base, cart.name()))
            .body("{\"event\":\"order.success\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{}", cart.name());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "cart_not_configured");
        assert!(body["message"].as_str().unwrap().contains(cart.secret_env()));
    }
    let unknown = reqwest::Client::new().post(format!("{}/webhooks/nope", app.base)).body("{}").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(app.outbox.list(None, None).await.unwrap().is_empty());
    let metrics = reqwest::get(format!("{}/metrics", app.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("reftrack_connector_cart_configured{cart=\"thrivecart\"} 0"), "{metrics}");
}

#[tokio::test]
async fn thrivecarts_url_check_by_head_and_by_an_empty_post_is_answered_and_stores_nothing() {
    let app = app(&all_new_carts()).await;
    let http = reqwest::Client::new();
    assert_eq!(http.head(format!("{}/webhooks/thrivecart", app.base)).send().await.unwrap().status(), 200);
    assert_eq!(http.head(format!("{}/webhooks/nope", app.base)).send().await.unwrap().status(), 404);
    let check = http
        .post(format!("{}/webhooks/thrivecart", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    assert!(app.outbox.list(None, None).await.unwrap().is_empty());
    // An event without the secret word is no check: it is refused.
    let unsigned = fixture("thrivecart_order_success.txt").replace(&format!("thrivecart_secret={THRIVECART}&"), "");
    let r = http
        .post(format!("{}/webhooks/thrivecart", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(unsigned)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_money_event_that_cannot_be_applied_is_stored_as_a_notice_and_counted() {
    let app = app(&all_new_carts()).await;
    let body =
        fixture("lemonsqueezy_subscription_payment_success.json").replace("subscription_payment_success", "subscription_payment_failed");
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/lemonsqueezy", app.base))
        .header("x-signature", lemonsqueezy::sign(LS, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let notices = app.outbox.list(None, Some(Kind::Notice)).await.unwrap();
    assert_eq!(notices.len(), 1);
    let notice: Value = serde_json::from_str(&notices[0].body).unwrap();
    assert_eq!((notice["kind"].as_str(), notice["source"].as_str()), (Some("renewal_failed"), Some("lemonsqueezy")));
    let metrics = reqwest::get(format!("{}/metrics", app.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("reftrack_connector_notices_total{cart=\"lemonsqueezy\",kind=\"renewal_failed\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_malformed_or_oversized_payload_is_a_precise_4xx_and_stores_nothing() {
    let app = app(&all_new_carts()).await;
    let http = reqwest::Client::new();
    let cases = [
        ("samcart", format!("?token={TOKEN}"), r#"{"type":"Order","order":{"id":1,"total":"9.999"}}"#.to_owned(), 400),
        ("gumroad", format!("?token={TOKEN}"), "sale_id=1&price=abc&sale_timestamp=2026-11-24T10:00:00Z".to_owned(), 400),
        ("gumroad", format!("?token={TOKEN}"), "a[b=1".to_owned(), 400),
        ("samcart", format!("?token={TOKEN}"), " ".repeat(2 * 1024 * 1024), 413),
    ];
    for (cart, query, body, status) in cases {
        let r = http
            .post(format!("{}/webhooks/{cart}{query}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{cart}");
        let answer: Value = r.json().await.unwrap();
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    assert!(app.outbox.list(None, None).await.unwrap().is_empty());
}
