use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_beacon_lead_with_a_click_counts_as_an_opt_in_once_per_contact() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("webinar")).await;
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/v1/events"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(
                json!({"type":"lead","click_id":click,"email":"Visitor@Example.com","page":"https://webinar-tool.test/register"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let stats = app.stats("jane").await;
    assert_eq!(stats["opt_ins"], 1, "{stats}");
    assert_eq!(stats["by_sub_id"][0]["sub_id"], "webinar");
}

#[tokio::test]
async fn a_lead_without_a_body_click_uses_the_click_cookie() {
    let app = spawn_seeded_app().await;
    let click = app.click("john", None).await;
    let r = app
        .client
        .post(app.url("/v1/events"))
        .header("cookie", format!("rt_click={click}"))
        .body(json!({"type":"lead","email":"a@example.com","page":"/"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(app.stats("john").await["opt_ins"], 1);
}

#[tokio::test]
async fn a_browser_conversion_is_pending_until_a_signed_order_confirms_it() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let r = app
        .client
        .post(app.url("/v1/events"))
        .body(json!({"type":"conversion","order_id":"cs_123","amount_minor":9900,"currency":"usd","click_id":click}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let stats = app.stats("jane").await;
    assert_eq!(
        (stats["unverified_conversions"].as_i64(), stats["orders"].as_i64(), stats["commission_minor"].as_i64()),
        (Some(1), Some(0), Some(0))
    );
    // The signed order carries no click: the pixel's click credits it, and the pending conversion is reconciled.
    let r = app.post_order(&order("stripe:cs_123", None, "buyer@example.com")).await;
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["partner"], "jane", "{answer}");
    let stats = app.stats("jane").await;
    assert_eq!((stats["unverified_conversions"].as_i64(), stats["orders"].as_i64()), (Some(0), Some(1)), "{stats}");
}

#[tokio::test]
async fn the_pixel_records_a_conversion_and_answers_a_gif() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let r = app.follow(&format!("/v1/pixel.gif?order_id=o-9&amount_minor=500&currency=EUR&click_id={click}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert!(r.bytes().await.unwrap().starts_with(b"GIF89a"));
    // The same order again is still one conversion.
    app.follow(&format!("/v1/pixel.gif?order_id=o-9&amount_minor=500&currency=EUR&click_id={click}")).await;
    assert_eq!(app.stats("jane").await["unverified_conversions"], 1);
}

#[tokio::test]
async fn malformed_events_and_pixels_get_precise_400s() {
    let app = spawn_seeded_app().await;
    let post = |body: &'static str| app.client.post(app.url("/v1/events")).body(body).send();
    assert_eq!(error_code(post("{").await.unwrap()).await, "malformed_json");
    assert_eq!(error_code(post(r#"{"type":"click"}"#).await.unwrap()).await, "malformed_json");
    assert_eq!(error_code(post(r#"{"type":"lead","page":"/"}"#).await.unwrap()).await, "invalid_event");
    assert_eq!(error_code(post(r#"{"type":"lead","email":"nope","page":"/"}"#).await.unwrap()).await, "malformed_json");
    assert_eq!(
        error_code(post(r#"{"type":"conversion","order_id":"o","amount_minor":-1,"currency":"USD"}"#).await.unwrap()).await,
        "invalid_event"
    );
    let r = app.follow("/v1/pixel.gif?order_id=o&amount_minor=ten&currency=USD").await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_event");
    let r = app.follow("/v1/pixel.gif?amount_minor=1&currency=USD").await;
    assert_eq!(error_code(r).await, "invalid_event");
}

#[tokio::test]
async fn an_oversized_event_is_a_413() {
    let app = spawn_seeded_app().await;
    let page = "x".repeat(10_000);
    let r =
        app.client.post(app.url("/v1/events")).body(format!(r#"{{"type":"lead","email":"a@b.co","page":"{page}"}}"#)).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r).await, "payload_too_large");
}

#[tokio::test]
async fn a_conversion_reported_after_its_signed_order_is_reconciled_too() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let answer: serde_json::Value = app.post_order(&order("stripe:cs_late", Some(&click), "b@example.com")).await.json().await.unwrap();
    assert_eq!(answer["partner"], "jane");
    let r = app
        .client
        .post(app.url("/v1/events"))
        .body(json!({"type":"conversion","order_id":"cs_late","amount_minor":9900,"currency":"USD","click_id":click}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let stats = app.stats("jane").await;
    assert_eq!((stats["unverified_conversions"].as_i64(), stats["orders"].as_i64()), (Some(0), Some(1)), "{stats}");
}

#[tokio::test]
async fn a_pixel_only_program_pays_on_the_conversion_until_the_signed_order_replaces_it() {
    let app = spawn_app().await;
    app.admin_post("/v1/admin/programs", json!({"code":"pixel","rate_bps":3000,"window_days":30,"pixel_commission":true})).await;
    app.admin_post("/v1/admin/partners", json!({"code":"jane","name":"Jane","email":"jane@partners.example","programs":["pixel"]})).await;
    app.admin_post("/v1/admin/links", json!({"code":"offer","destination":"https://www.merchant.test/"})).await;
    let click = app.click("jane", None).await;
    let r = app.follow(&format!("/v1/pixel.gif?order_id=cs_px&amount_minor=10000&currency=USD&click_id={click}")).await;
    assert_eq!(r.status(), 200);
    let stats = app.stats("jane").await;
    assert_eq!(
        (stats["unverified_conversions"].as_i64(), stats["orders"].as_i64(), stats["commission_minor"].as_i64()),
        (Some(1), Some(0), Some(3000)),
        "{stats}"
    );
    // The signed order (its real amount) replaces the pixel's commission: earned once, not twice.
    app.post_order(&order("stripe:cs_px", Some(&click), "b@example.com")).await;
    let stats = app.stats("jane").await;
    assert_eq!(
        (stats["unverified_conversions"].as_i64(), stats["orders"].as_i64(), stats["commission_minor"].as_i64()),
        (Some(0), Some(1), Some(2970)),
        "{stats}"
    );
}

#[tokio::test]
async fn a_regular_program_pays_nothing_on_the_pixel_alone() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    app.follow(&format!("/v1/pixel.gif?order_id=cs_np&amount_minor=10000&currency=USD&click_id={click}")).await;
    let stats = app.stats("jane").await;
    assert_eq!((stats["unverified_conversions"].as_i64(), stats["commission_minor"].as_i64()), (Some(1), Some(0)));
}
