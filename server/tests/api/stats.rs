use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn stats_break_figures_down_by_link_and_sub_id() {
    let app = spawn_seeded_app().await;
    app.admin_post("/v1/admin/links", json!({"code":"blog","destination":"https://www.merchant.test/blog"})).await;
    let a = app.click("jane", Some("yt")).await;
    app.click("jane", Some("yt")).await;
    let b = click_from(app.follow("/go/blog?aff=jane&sid=mail").await.headers()).unwrap();
    app.post_order(&order("api:s1", Some(&a), "x@example.com")).await;
    app.post_order(&order("api:s2", Some(&b), "y@example.com")).await;
    let stats = app.stats("jane").await;
    assert_eq!((stats["hits"].as_i64(), stats["orders"].as_i64(), stats["revenue_minor"].as_i64()), (Some(3), Some(2), Some(19800)));
    let by_link: Vec<(String, i64, i64)> = stats["by_link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["link"].as_str().unwrap().to_owned(), r["hits"].as_i64().unwrap(), r["commission_minor"].as_i64().unwrap()))
        .collect();
    assert_eq!(by_link, vec![("blog".into(), 1, 2970), ("offer".into(), 2, 2970)]);
    let subs: Vec<(String, i64)> = stats["by_sub_id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["sub_id"].as_str().unwrap().to_owned(), r["hits"].as_i64().unwrap()))
        .collect();
    assert_eq!(subs, vec![("mail".into(), 1), ("yt".into(), 2)]);
    for key in ["hits", "opt_ins", "orders", "unverified_conversions", "revenue_minor", "commission_minor", "clawback_minor"] {
        assert!(stats[key].is_i64(), "{key} in {stats}");
    }
}

#[tokio::test]
async fn stats_honour_the_date_range() {
    let app = spawn_seeded_app().await;
    app.click("jane", None).await;
    let past: Value = app
        .client
        .get(app.url("/v1/partners/jane/stats?from=2020-01-01&to=2020-12-31"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(past["hits"], 0);
    let now: Value = app
        .client
        .get(app.url("/v1/partners/jane/stats?from=2020-01-01"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["hits"], 1);
    let bad = app.client.get(app.url("/v1/partners/jane/stats?from=yesterday")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!((bad.status().as_u16(), error_code(bad).await), (400, "invalid_period".into()));
}

#[tokio::test]
async fn a_partner_token_sees_only_its_own_stats() {
    let app = spawn_seeded_app().await;
    let r = app.admin_post("/v1/admin/partners/jane/tokens", json!({})).await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let own = app.client.get(app.url("/v1/partners/jane/stats")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(own.status(), 200);
    let other = app.client.get(app.url("/v1/partners/john/stats")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(other.status(), 403);
    let admin = app.client.get(app.url("/v1/admin/partners")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(admin.status(), 403);
    let anonymous = app.client.get(app.url("/v1/partners/jane/stats")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let unknown = app.client.get(app.url("/v1/partners/ghost/stats")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}
