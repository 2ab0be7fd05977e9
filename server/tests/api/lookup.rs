use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn lookup_answers_the_partner_of_the_click_cookie() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("webinar")).await;
    let r = app.client.get(app.url("/v1/lookup")).header("cookie", format!("rt_click={click}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["partner"], "jane");
    assert_eq!(body["sub_id"], "webinar");
    assert_eq!(body["click_id"], click.as_str());
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn lookup_by_query_parameter_and_without_a_click() {
    let app = spawn_seeded_app().await;
    let click = app.click("john", None).await;
    let body: Value = app.follow(&format!("/v1/lookup?click={click}")).await.json().await.unwrap();
    assert_eq!(body["partner"], "john");
    let none: Value = app.follow("/v1/lookup").await.json().await.unwrap();
    assert_eq!(none, serde_json::json!({"partner": null}));
    let unknown: Value = app.follow("/v1/lookup?click=AAAAAAAAAAAAAAAAAAAAAA").await.json().await.unwrap();
    assert_eq!(unknown["partner"], Value::Null);
    let bad = app.follow("/v1/lookup?click=x").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(error_code(bad).await, "invalid_click_id");
}

#[tokio::test]
async fn lookup_allows_credentialed_cors_only_for_configured_origins() {
    let app = spawn_seeded_app().await;
    let allowed = app.client.get(app.url("/v1/lookup")).header("origin", MERCHANT_ORIGIN).send().await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], MERCHANT_ORIGIN);
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let other = app.client.get(app.url("/v1/lookup")).header("origin", "https://evil.test").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/touch"))
        .header("origin", MERCHANT_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], MERCHANT_ORIGIN);
}

#[tokio::test]
async fn touch_resets_the_cookie_from_the_server_as_http_only_for_the_rest_of_the_window() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let r = app.client.post(app.url("/v1/touch")).header("cookie", format!("rt_click={click}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = set_cookie(r.headers()).unwrap();
    assert!(cookie.starts_with(&format!("rt_click={click};")) && cookie.contains("HttpOnly"), "{cookie}");
    let max_age: i64 = cookie.split("Max-Age=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!((2_591_000..=2_592_000).contains(&max_age), "{max_age}");
    let by_body = app.client.post(app.url("/v1/touch")).body(format!("{{\"click_id\":\"{click}\"}}")).send().await.unwrap();
    assert_eq!(by_body.status(), 200);
}

#[tokio::test]
async fn touch_refuses_unknown_or_missing_clicks() {
    let app = spawn_seeded_app().await;
    let r = app.client.post(app.url("/v1/touch")).body("{\"click_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}").send().await.unwrap();
    assert_eq!(r.status(), 204, "nothing to refresh, and nothing for the browser to log as an error");
    assert!(set_cookie(r.headers()).is_none(), "an unknown click gets no cookie");
    let r = app.client.post(app.url("/v1/touch")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "missing_click_id");
    let r = app.client.post(app.url("/v1/touch")).body("{not json").send().await.unwrap();
    assert_eq!(error_code(r).await, "malformed_json");
}

#[tokio::test]
async fn a_lookup_by_click_id_is_readable_from_any_origin_but_the_cookie_lookup_is_not() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    let by_id = app
        .client
        .get(app.url(&format!("/v1/lookup?click={click}")))
        .header("origin", "https://some-webinar-tool.example")
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.headers()["access-control-allow-origin"], "*");
    assert!(by_id.headers().get("access-control-allow-credentials").is_none());
    let by_cookie = app
        .client
        .get(app.url("/v1/lookup"))
        .header("origin", "https://some-webinar-tool.example")
        .header("cookie", format!("rt_click={click}"))
        .send()
        .await
        .unwrap();
    assert!(by_cookie.headers().get("access-control-allow-origin").is_none());
    // A configured origin still gets its credentialed answer, with one header.
    let allowed = app.client.get(app.url(&format!("/v1/lookup?click={click}"))).header("origin", MERCHANT_ORIGIN).send().await.unwrap();
    let values: Vec<_> = allowed.headers().get_all("access-control-allow-origin").iter().collect();
    assert_eq!(values, vec![MERCHANT_ORIGIN]);
}
