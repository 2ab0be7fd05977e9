use crate::helpers::*;
use reqwest::header::LOCATION;

#[tokio::test]
async fn a_tracking_link_redirects_to_its_destination_with_the_click_id_and_sets_the_cookie() {
    let app = spawn_seeded_app().await;
    let r = app.follow("/go/offer?aff=jane&sid=newsletter").await;
    assert_eq!(r.status(), 302);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    let click = click_from(r.headers()).unwrap();
    assert_eq!(location, format!("https://www.merchant.test/offer?utm=x&rt_click={click}#buy"));
    let cookie = set_cookie(r.headers()).unwrap();
    assert!(cookie.starts_with(&format!("rt_click={click};")), "{cookie}");
    assert!(cookie.contains("Max-Age=2592000"), "30-day window: {cookie}");
    assert!(cookie.contains("Path=/") && cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http has no Secure: {cookie}");
    assert_eq!(app.stats("jane").await["hits"], 1);
}

#[tokio::test]
async fn the_cookie_is_secure_and_domain_wide_when_configured() {
    let app = spawn_app_with(&[("REFTRACK_PUBLIC_URL", "https://track.merchant.test"), ("REFTRACK_COOKIE_DOMAIN", "merchant.test")]).await;
    app.seed().await;
    let r = app.follow("/go/offer?aff=jane").await;
    let cookie = set_cookie(r.headers()).unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("; Domain=merchant.test"), "{cookie}");
}

#[tokio::test]
async fn under_https_a_cross_site_twin_cookie_is_set_that_the_credentialed_lookup_reads() {
    let app = spawn_app_with(&[("REFTRACK_PUBLIC_URL", "https://track.merchant.test")]).await;
    app.seed().await;
    let r = app.follow("/go/offer?aff=jane").await;
    let click = click_from(r.headers()).unwrap();
    let cookies: Vec<&str> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("rt_click={click};")) && cookies[0].contains("SameSite=Lax"), "{cookies:?}");
    let twin = cookies[1];
    assert!(twin.starts_with(&format!("rt_click_x={click};")), "{twin}");
    assert!(twin.contains("SameSite=None") && twin.contains("; Secure") && twin.contains("HttpOnly"), "{twin}");
    // A third-party page's credentialed lookup carries only the SameSite=None cookie.
    let found: serde_json::Value =
        app.client.get(app.url("/v1/lookup")).header("cookie", format!("rt_click_x={click}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(found["partner"], "jane");
}

#[tokio::test]
async fn with_cookies_off_neither_the_link_nor_touch_sets_a_cookie() {
    let app = spawn_app_with(&[("REFTRACK_COOKIES", "off")]).await;
    app.seed().await;
    let r = app.follow("/go/offer?aff=jane").await;
    assert_eq!(r.status(), 302);
    let click = click_from(r.headers()).expect("the click still travels in the URL");
    assert!(set_cookie(r.headers()).is_none());
    let touched = app.client.post(app.url("/v1/touch")).body(format!("{{\"click_id\":\"{click}\"}}")).send().await.unwrap();
    assert_eq!(touched.status(), 200);
    assert!(set_cookie(touched.headers()).is_none());
    assert_eq!(app.stats("jane").await["hits"], 1, "the hit still counts");
}

#[tokio::test]
async fn under_cookies_consent_the_link_sets_none_and_touch_sets_it_once_the_snippet_asks() {
    let app = spawn_app_with(&[("REFTRACK_COOKIES", "consent")]).await;
    app.seed().await;
    let r = app.follow("/go/offer?aff=jane").await;
    let click = click_from(r.headers()).expect("the click still travels in the URL");
    assert!(set_cookie(r.headers()).is_none(), "no cookie before the visitor could consent");
    let touched = app.client.post(app.url("/v1/touch")).body(format!("{{\"click_id\":\"{click}\"}}")).send().await.unwrap();
    let cookie = set_cookie(touched.headers()).expect("touch sets the cookie after consent");
    assert!(cookie.starts_with(&format!("rt_click={click};")) && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn browsers_prefetching_a_link_are_redirected_but_not_counted() {
    let app = spawn_seeded_app().await;
    for (name, value) in [("sec-purpose", "prefetch"), ("purpose", "prefetch"), ("x-purpose", "preview")] {
        let r = app.client.get(app.url("/go/offer?aff=jane")).header(name, value).send().await.unwrap();
        assert_eq!(r.status(), 302);
        assert!(click_from(r.headers()).is_none(), "{name}: {value}");
    }
    assert_eq!(app.stats("jane").await["hits"], 0);
}

#[tokio::test]
async fn an_unknown_link_is_a_404_json_error_or_a_page_for_browsers() {
    let app = spawn_seeded_app().await;
    let r = app.follow("/go/nope?aff=jane").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "unknown_link");
    let page = app.client.get(app.url("/go/nope")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("This link does not exist"));
    let bad_code = app.follow("/go/has%20space").await;
    assert_eq!(bad_code.status(), 404);
}

#[tokio::test]
async fn an_open_redirect_attempt_still_goes_only_to_the_configured_destination() {
    let app = spawn_seeded_app().await;
    for query in ["url=https://evil.test", "destination=https://evil.test", "redirect=//evil.test", "next=https%3A%2F%2Fevil.test"] {
        let r = app.follow(&format!("/go/offer?aff=jane&{query}")).await;
        let location = r.headers()[LOCATION].to_str().unwrap();
        assert!(location.starts_with("https://www.merchant.test/offer?"), "{query} → {location}");
        assert!(!location.contains("evil"), "{location}");
    }
}

#[tokio::test]
async fn an_invalid_or_unknown_partner_is_redirected_without_credit() {
    let app = spawn_seeded_app().await;
    for aff in ["ja%20ne", "%3Cscript%3E", "nobody"] {
        let r = app.follow(&format!("/go/offer?aff={aff}")).await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.headers()[LOCATION], "https://www.merchant.test/offer?utm=x#buy");
        assert!(set_cookie(r.headers()).is_none(), "no cookie for {aff}");
    }
    let metrics = app.metrics().await;
    assert!(metrics.contains("reftrack_rejects_total{reason=\"invalid_partner_code\"} 2"), "{metrics}");
    assert!(metrics.contains("reftrack_rejects_total{reason=\"unknown_partner\"} 1"), "{metrics}");
    assert_eq!(app.stats("jane").await["hits"], 0);
}

#[tokio::test]
async fn a_link_limited_to_one_partner_credits_only_that_partner() {
    let app = spawn_seeded_app().await;
    let r = app
        .admin_post("/v1/admin/links", serde_json::json!({"code":"jane-only","destination":"https://www.merchant.test/","partner":"jane"}))
        .await;
    assert_eq!(r.status(), 201);
    let own = app.follow("/go/jane-only").await;
    assert!(click_from(own.headers()).is_some(), "the link's own partner needs no aff");
    let other = app.follow("/go/jane-only?aff=john").await;
    assert_eq!(other.status(), 302);
    assert!(click_from(other.headers()).is_none());
    assert_eq!(app.stats("jane").await["hits"], 1);
    assert_eq!(app.stats("john").await["hits"], 0);
}

#[tokio::test]
async fn a_link_limited_to_a_program_refuses_partners_outside_it() {
    let app = spawn_seeded_app().await;
    app.admin_post("/v1/admin/programs", serde_json::json!({"code":"vip","rate_bps":5000,"window_days":90})).await;
    app.admin_post(
        "/v1/admin/partners",
        serde_json::json!({"code":"vera","name":"Vera","email":"vera@partners.example","programs":["vip"]}),
    )
    .await;
    let r = app
        .admin_post(
            "/v1/admin/links",
            serde_json::json!({"code":"vip-offer","destination":"https://www.merchant.test/vip","programs":["vip"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert!(click_from(app.follow("/go/vip-offer?aff=jane").await.headers()).is_none());
    let vera = app.follow("/go/vip-offer?aff=vera").await;
    assert!(click_from(vera.headers()).is_some());
    assert!(set_cookie(vera.headers()).unwrap().contains("Max-Age=7776000"), "the vip program's 90-day window");
}

#[tokio::test]
async fn bots_head_requests_and_link_previews_are_redirected_but_not_counted() {
    let app = spawn_seeded_app().await;
    for ua in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "facebookexternalhit/1.1",
        "Slackbot-LinkExpanding 1.0",
        "",
    ] {
        let r = app.client.get(app.url("/go/offer?aff=jane")).header("user-agent", ua).send().await.unwrap();
        assert_eq!(r.status(), 302, "{ua}");
        assert!(click_from(r.headers()).is_none(), "{ua}");
    }
    let head = app.client.head(app.url("/go/offer?aff=jane")).send().await.unwrap();
    assert_eq!(head.status(), 302);
    assert!(set_cookie(head.headers()).is_none());
    assert_eq!(app.stats("jane").await["hits"], 0);
    assert!(app.metrics().await.contains("reftrack_bot_hits_total 5"));
}

#[tokio::test]
async fn an_invalid_sub_id_is_dropped_but_the_click_still_counts() {
    let app = spawn_seeded_app().await;
    app.click("jane", Some("bad%20sid")).await;
    let stats = app.stats("jane").await;
    assert_eq!(stats["hits"], 1);
    assert_eq!(stats["by_sub_id"][0]["sub_id"], serde_json::Value::Null);
}

#[tokio::test]
async fn everything_can_be_served_under_a_base_path() {
    let app = spawn_app_with(&[("REFTRACK_BASE_PATH", "/_rt")]).await;
    let r = app
        .client
        .post(app.url("/_rt/v1/admin/programs"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({"code":"p","rate_bps":1000,"window_days":30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    app.client
        .post(app.url("/_rt/v1/admin/partners"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({"code":"jane","name":"J","email":"j@p.example","programs":["p"]}))
        .send()
        .await
        .unwrap();
    app.client
        .post(app.url("/_rt/v1/admin/links"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({"code":"l","destination":"https://www.merchant.test/"}))
        .send()
        .await
        .unwrap();
    let r = app.follow("/_rt/go/l?aff=jane").await;
    assert_eq!(r.status(), 302);
    assert!(click_from(r.headers()).is_some());
    assert_eq!(app.follow("/go/l?aff=jane").await.status(), 404);
}
