use crate::helpers::*;
use serde_json::{json, Value};

fn refund(order_id: &str, refund_id: &str, amount: i64) -> Value {
    json!({"order_id": order_id, "refund_id": refund_id, "amount_minor": amount, "occurred_at": "2026-11-20T12:00:00Z"})
}

async fn credited_order(app: &TestApp, id: &str) {
    let click = app.click("jane", Some("yt")).await;
    let answer: Value = app.post_order(&order(id, Some(&click), "buyer@example.com")).await.json().await.unwrap();
    assert_eq!(answer["commission_minor"], 2970);
}

#[tokio::test]
async fn a_full_refund_claws_back_the_whole_commission() {
    let app = spawn_seeded_app().await;
    credited_order(&app, "api:r1").await;
    let r = app.post_refund(&refund("api:r1", "re_1", 9900)).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["clawback_minor"], 2970);
    let stats = app.stats("jane").await;
    assert_eq!((stats["commission_minor"].as_i64(), stats["clawback_minor"].as_i64()), (Some(2970), Some(2970)));
    assert_eq!(stats["by_sub_id"][0]["clawback_minor"], 2970, "clawbacks keep the SubID: {stats}");
}

#[tokio::test]
async fn partial_refunds_claw_back_pro_rata_and_never_more_than_earned() {
    let app = spawn_seeded_app().await;
    credited_order(&app, "api:r2").await;
    let a: Value = app.post_refund(&refund("api:r2", "re_a", 3300)).await.json().await.unwrap();
    assert_eq!(a["clawback_minor"], 990);
    let b: Value = app.post_refund(&refund("api:r2", "re_b", 9900)).await.json().await.unwrap();
    assert_eq!(b["clawback_minor"], 1980, "capped at the rest of the commission");
    assert_eq!(app.stats("jane").await["clawback_minor"], 2970);
}

#[tokio::test]
async fn a_replayed_refund_claws_back_once_and_a_reused_id_is_a_409() {
    let app = spawn_seeded_app().await;
    credited_order(&app, "api:r3").await;
    let first = app.post_refund(&refund("api:r3", "re_x", 3300)).await.text().await.unwrap();
    let again = app.post_refund(&refund("api:r3", "re_x", 3300)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(app.stats("jane").await["clawback_minor"], 990);
    assert!(app.metrics().await.contains("reftrack_refunds_total 1"));
    let reused = app.post_refund(&refund("api:r3", "re_x", 100)).await;
    assert_eq!(reused.status(), 409);
}

#[tokio::test]
async fn a_refund_of_an_unknown_order_is_a_404_and_an_invalid_one_a_400() {
    let app = spawn_seeded_app().await;
    let r = app.post_refund(&refund("api:none", "re_1", 100)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "unknown_order");
    credited_order(&app, "api:r4").await;
    let r = app.post_refund(&refund("api:r4", "re_0", 0)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_refund");
    // The 404 stored nothing: the same refund id works once the order exists.
    let r = app.post_refund(&refund("api:r4", "re_1", 9900)).await;
    assert_eq!(r.status(), 200);
}
