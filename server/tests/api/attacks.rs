//! What an unauthenticated request must never do: take credit for someone else's order or
//! contact, earn on a forged amount, pin fraud signals on a partner, break reports, or empty a
//! batch of other people's clicks. Each test is one attack, tried as an attacker would.

use crate::helpers::*;
use serde_json::{json, Value};

async fn pixel(app: &TestApp, order_id: &str, amount: i64, click: &str) -> u16 {
    app.follow(&format!("/v1/pixel.gif?order_id={order_id}&amount_minor={amount}&currency=USD&click_id={click}")).await.status().as_u16()
}

#[tokio::test]
async fn a_pixel_fired_before_an_order_exists_does_not_credit_that_order() {
    let app = spawn_seeded_app().await;
    let mine = app.click("john", None).await;
    // John guesses the shop's next order number and fires the pixel for it in advance…
    assert_eq!(pixel(&app, "727", 9900, &mine).await, 200);
    // …an hour later a visitor nobody referred buys: the cart's signed order carries no click.
    let mut organic = order("woocommerce:727", None, "organic@example.com");
    organic["occurred_at"] = json!(rfc3339(now() + 3600));
    let answer: Value = app.post_order(&organic).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed", "a pixel older than the order is not its click: {answer}");
    assert_eq!(app.stats("john").await["commission_minor"], 0);
}

#[tokio::test]
async fn a_pixel_for_another_amount_or_claimed_by_two_clicks_credits_nobody_and_is_flagged() {
    let app = spawn_seeded_app().await;
    let jane = app.click("jane", None).await;
    let john = app.click("john", None).await;
    assert_eq!(pixel(&app, "cs_amount", 100, &jane).await, 200);
    let answer: Value = app.post_order(&order("stripe:cs_amount", None, "a@example.com")).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed", "a pixel for 1.00 is not evidence for a 99.00 order");

    assert_eq!(pixel(&app, "cs_both", 9900, &jane).await, 200);
    assert_eq!(pixel(&app, "cs_both", 9900, &john).await, 200);
    let answer: Value = app.post_order(&order("stripe:cs_both", None, "b@example.com")).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed", "two clicks claiming one order: neither claim stands");
    let report = app.get_json("/v1/admin/report", ADMIN_KEY).await;
    assert_eq!(report["fraud"]["conflicting_claims"], 1, "{report}");
    // The same pixel, plausible and uncontested, still credits.
    assert_eq!(pixel(&app, "cs_ok", 9900, &jane).await, 200);
    let answer: Value = app.post_order(&order("stripe:cs_ok", None, "c@example.com")).await.json().await.unwrap();
    assert_eq!(answer["partner"], "jane", "{answer}");
}

#[tokio::test]
async fn a_browser_opt_in_without_its_clicks_cookie_makes_nobody_a_contacts_lead_partner() {
    let app = spawn_seeded_app().await;
    let mine = app.click("john", None).await;
    // John posts opt-ins for other people's emails with his own click, from his own machine.
    let forged = json!({"type":"lead","email":"victim@example.com","click_id":mine,"page":"/"}).to_string();
    assert_eq!(app.client.post(app.url("/v1/events")).body(forged).send().await.unwrap().status(), 202);
    let answer: Value = app.post_order(&order("api:victim", None, "victim@example.com")).await.json().await.unwrap();
    assert_eq!(answer["status"], "unattributed", "the victim's organic order is nobody's: {answer}");
}

#[tokio::test]
async fn one_click_binds_at_most_three_contacts_even_with_its_cookie() {
    let app = spawn_seeded_app().await;
    let mine = app.click("john", None).await;
    for n in 0..5 {
        let lead = json!({"type":"lead","email":format!("person{n}@example.com"),"click_id":mine,"page":"/"}).to_string();
        let r = app.client.post(app.url("/v1/events")).header("cookie", format!("rt_click={mine}")).body(lead).send().await.unwrap();
        assert_eq!(r.status(), 202);
    }
    let mut credited = 0;
    for n in 0..5 {
        let answer: Value =
            app.post_order(&order(&format!("api:p{n}"), None, &format!("person{n}@example.com"))).await.json().await.unwrap();
        credited += usize::from(answer["partner"] == "john");
    }
    assert_eq!(credited, 3);
}

#[tokio::test]
async fn a_forged_conversion_earns_nothing_above_the_cap_and_a_refired_pixel_pins_one_signal() {
    let app = spawn_app().await;
    app.admin_post("/v1/admin/programs", json!({"code":"pixel","rate_bps":3000,"window_days":30,"pixel_commission":true})).await;
    app.admin_post("/v1/admin/partners", json!({"code":"jane","name":"Jane","email":"jane@partners.example","programs":["pixel"]})).await;
    app.admin_post("/v1/admin/links", json!({"code":"offer","destination":"https://www.merchant.test/"})).await;
    let click = app.click("jane", None).await;
    // The amount of an entry of 2,767,011,611,056,432,742 minor units once booked.
    let huge = pixel(&app, "big", 999_999_999_999, &click).await;
    assert_eq!(huge, 200, "recorded as a conversion…");
    assert_eq!(app.stats("jane").await["commission_minor"], 0, "…but it earns nothing above the cap");
    assert_eq!(pixel(&app, "big2", 9_223_372_036_854_775_807, &click).await, 400, "an amount out of range is refused");
    // Anyone can fire Jane's pixel ten times: one duplicate signal, not nine.
    for _ in 0..10 {
        pixel(&app, "px_1", 500, &click).await;
    }
    assert_eq!(app.stats("jane").await["fraud"]["duplicate_order_id"], 1);
}

#[tokio::test]
async fn amounts_that_would_overflow_are_refused_and_reports_keep_working() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let mut o = order("api:huge", Some(&click), "b@example.com");
    o["items"][0]["quantity"] = json!(1_000_000);
    o["items"][0]["unit_price_minor"] = json!(9_223_372_036_854_i64);
    o["total_minor"] = json!(0);
    let r = app.post_order(&o).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (400, "invalid_order".to_owned()));
    assert_eq!(app.post_order(&order("api:ok", Some(&click), "c@example.com")).await.status(), 200);
    let refund = json!({"order_id":"api:ok","refund_id":"r_max","amount_minor":i64::MAX,"occurred_at":rfc3339(now())});
    assert_eq!(app.post_refund(&refund).await.status(), 400);
    let refund = json!({"order_id":"api:ok","refund_id":"r_1","amount_minor":3300,"occurred_at":rfc3339(now())});
    let answer: Value = app.post_refund(&refund).await.json().await.unwrap();
    assert_eq!(answer["clawback_minor"], 990, "later refunds of the order still work: {answer}");
    assert_eq!(app.stats("jane").await["commission_minor"], 2970);
    app.get_json("/v1/admin/report", ADMIN_KEY).await;
}

#[tokio::test]
async fn an_event_with_a_nul_character_is_refused_and_the_clicks_around_it_are_all_stored() {
    // One test client is one visitor: the flood check is off so its 40 clicks all count.
    let app = spawn_app_with(&[("REFTRACK_CLICK_FLOOD_LIMIT", "0")]).await;
    app.seed().await;
    let mut clicks = 0;
    for round in 0..40 {
        if round % 4 == 0 {
            let poison = r#"{"type":"lead","email":"a@b.co","page":"\u0000"}"#;
            let r = app.client.post(app.url("/v1/events")).body(poison).send().await.unwrap();
            assert_eq!(r.status(), 400, "PostgreSQL refuses NUL in text: it is refused at the edge");
        }
        app.click("jane", None).await;
        clicks += 1;
    }
    assert_eq!(app.stats("jane").await["hits"], clicks);
}
