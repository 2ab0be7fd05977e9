//! Fraud signals, each counted by reason in the partner's stats and the merchant's report.

use crate::helpers::*;
use serde_json::Value;

async fn report(app: &TestApp) -> Value {
    app.get_json("/v1/admin/report", ADMIN_KEY).await
}

#[tokio::test]
async fn a_partner_buying_through_their_own_link_earns_nothing_and_is_counted() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let answer: Value = app.post_order(&order("api:self", Some(&click), "JANE@partners.example")).await.json().await.unwrap();
    assert_eq!((answer["status"].as_str(), answer["reason"].as_str()), (Some("unattributed"), Some("self_referral")));
    assert_eq!(app.stats("jane").await["fraud"]["self_referral"], 1);
    assert_eq!(app.stats("john").await["fraud"]["self_referral"], 0);
}

#[tokio::test]
async fn an_order_id_reused_with_another_body_and_a_refired_pixel_count_as_duplicates() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let first = order("api:dup", Some(&click), "a@example.com");
    assert_eq!(app.post_order(&first).await.status(), 200);
    // A retry of the same body is not a duplicate; another body under the same id is.
    assert_eq!(app.post_order(&first).await.status(), 200);
    assert_eq!(app.post_order(&order("api:dup", Some(&click), "b@example.com")).await.status(), 409);
    for _ in 0..2 {
        app.follow(&format!("/v1/pixel.gif?order_id=px_1&amount_minor=500&currency=USD&click_id={click}")).await;
    }
    assert_eq!(app.stats("jane").await["fraud"]["duplicate_order_id"], 2);
}

#[tokio::test]
async fn clicks_beyond_the_flood_limit_redirect_but_count_as_a_flood_not_as_hits() {
    let app = spawn_app_with(&[("REFTRACK_CLICK_FLOOD_LIMIT", "3")]).await;
    app.seed().await;
    let mut credited = 0;
    for _ in 0..5 {
        let r = app.follow("/go/offer?aff=jane").await;
        assert_eq!(r.status(), 302, "the visitor always gets through");
        credited += usize::from(click_from(r.headers()).is_some());
    }
    assert_eq!(credited, 3);
    let stats = app.stats("jane").await;
    assert_eq!(
        (stats["hits"].as_i64(), stats["fraud"]["click_flood"].as_i64()),
        (Some(3), Some(1)),
        "two clicks over the limit from one visitor are one signal: a third party cannot pin more on the partner"
    );
    assert!(app.metrics().await.contains("reason=\"click_flood\""));
}

#[tokio::test]
async fn behind_a_proxy_the_flood_check_counts_each_visitor_by_the_configured_header() {
    let app = spawn_app_with(&[("REFTRACK_CLICK_FLOOD_LIMIT", "2"), ("REFTRACK_CLIENT_IP_HEADER", "X-Forwarded-For")]).await;
    app.seed().await;
    let follow = |ip: String| {
        let req = app.client.get(app.url("/go/offer?aff=jane")).header("x-forwarded-for", ip);
        async move { click_from(req.send().await.unwrap().headers()).is_some() }
    };
    // Ten visitors through one proxy address are ten visitors, not a flood…
    for n in 0..10 {
        assert!(follow(format!("203.0.113.{n}")).await, "visitor {n}");
    }
    // …while one visitor is still limited, whatever they put in front of the proxy's value.
    let credited: Vec<bool> = futures::future::join_all((0..3).map(|n| follow(format!("10.9.9.{n}, 198.51.100.7")))).await;
    assert_eq!(credited.iter().filter(|c| **c).count(), 2);
    let stats = app.stats("jane").await;
    assert_eq!((stats["hits"].as_i64(), stats["fraud"]["click_flood"].as_i64()), (Some(12), Some(1)));
}

#[tokio::test]
async fn a_conversion_pixel_without_a_matching_click_is_counted_for_the_merchant() {
    let app = spawn_seeded_app().await;
    app.follow("/v1/pixel.gif?order_id=orphan_1&amount_minor=500&currency=USD").await;
    app.follow("/v1/pixel.gif?order_id=orphan_2&amount_minor=500&currency=USD&click_id=AAAAAAAAAAAAAAAAAAAAAA").await;
    let report = report(&app).await;
    assert_eq!(report["fraud"]["pixel_without_click"], 2, "{report}");
    assert_eq!(report["fraud"]["self_referral"], 0);
}
