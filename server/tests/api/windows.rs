//! Windows that only time closes — the refund window before a commission is payable, the click's
//! own window — tested by moving the application's clock, not by setting windows to zero.

use crate::helpers::*;
use reftrack_server::clock::Clock;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
/// 2026-11-01T10:00:00Z.
const NOVEMBER_1: i64 = 1_793_527_200_000;

fn order_at(app: &TestApp, id: &str, click: Option<&str>) -> Value {
    let mut o = order(id, click, "buyer@example.com");
    o["occurred_at"] = json!(rfc3339(app.now()));
    o
}

async fn balance(app: &TestApp) -> Value {
    app.get_json("/v1/partners/jane/ledger", ADMIN_KEY).await["balances"][0].clone()
}

#[tokio::test]
async fn a_commission_is_pending_through_its_refund_window_and_payable_once_the_clock_passes_it() {
    let clock = Clock::manual(NOVEMBER_1);
    let app = spawn_app_on_clock(clock.clone()).await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order_at(&app, "api:t1", Some(&click))).await.status(), 200);
    let b = balance(&app).await;
    assert_eq!((b["pending_minor"].as_i64(), b["approved_minor"].as_i64()), (Some(2970), Some(0)));

    clock.advance(29 * DAY_MS);
    let preview = app.get_json("/v1/admin/payouts/preview", ADMIN_KEY).await;
    assert_eq!(preview["payouts"], json!([]), "29 days after the order it is still in its 30-day refund window");

    clock.advance(DAY_MS + 1);
    let b = balance(&app).await;
    assert_eq!((b["pending_minor"].as_i64(), b["approved_minor"].as_i64()), (Some(0), Some(2970)));
    let paid: Value = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor": 0})).await.json().await.unwrap();
    assert_eq!(paid["payouts"][0]["amount_minor"], 2970, "{paid}");
}

#[tokio::test]
async fn a_click_stops_crediting_when_its_window_has_passed() {
    let clock = Clock::manual(NOVEMBER_1);
    let app = spawn_app_on_clock(clock.clone()).await;
    let click = app.click("jane", None).await;
    clock.advance(30 * DAY_MS - 60_000);
    let inside: Value = app.post_order(&order_at(&app, "api:t2", Some(&click))).await.json().await.unwrap();
    assert_eq!(inside["partner"], "jane", "a minute before the 30-day window closes: {inside}");

    clock.advance(2 * DAY_MS);
    let outside: Value = app.post_order(&order_at(&app, "api:t3", Some(&click))).await.json().await.unwrap();
    assert_eq!((outside["status"].as_str(), outside["reason"].as_str()), (Some("unattributed"), Some("outside_window")), "{outside}");
    let lookup: Value = app.client.get(app.url(&format!("/v1/lookup?click={click}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(lookup["partner"], Value::Null, "an expired click is not answered");
}

#[tokio::test]
async fn signatures_are_checked_against_the_servers_clock() {
    let clock = Clock::manual(NOVEMBER_1);
    let app = spawn_app_on_clock(clock.clone()).await;
    let body = serde_json::to_vec(&order_at(&app, "api:t4", None)).unwrap();
    let stale = app.signed_post("/v1/orders", &body, "msg_t4", app.now() - 301).await;
    assert_eq!(stale.status(), 401, "five minutes and a second behind the server's clock");
    let fresh = app.signed_post("/v1/orders", &body, "msg_t4", app.now() - 299).await;
    assert_eq!(fresh.status(), 200);
}
