//! The Partner Center's API: profile, ledger, chart, and the merchant's report.

use crate::helpers::*;
use serde_json::{json, Value};

async fn token(app: &TestApp, partner: &str) -> String {
    let r = app.client.post(app.url(&format!("/v1/admin/partners/{partner}/tokens"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(bearer).send().await.unwrap()
}

#[tokio::test]
async fn a_partner_token_reads_its_own_center_and_nobody_elses() {
    let app = spawn_seeded_app().await;
    let jane = token(&app, "jane").await;
    for path in ["stats", "profile", "ledger", "chart.svg"] {
        assert_eq!(get(&app, &format!("/v1/partners/jane/{path}"), &jane).await.status(), 200, "{path}");
        let r = get(&app, &format!("/v1/partners/john/{path}"), &jane).await;
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(error_code(r).await, "forbidden");
        assert_eq!(get(&app, &format!("/v1/partners/jane/{path}"), "rtpt_forged").await.status(), 401, "{path}");
    }
    assert_eq!(get(&app, "/v1/admin/report", &jane).await.status(), 403, "partners do not see the merchant's report");
}

#[tokio::test]
async fn a_revoked_partner_token_stops_working_at_once() {
    let app = spawn_seeded_app().await;
    let r = app.client.post(app.url("/v1/admin/partners/jane/tokens")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    let issued: Value = r.json().await.unwrap();
    let (id, jane) = (issued["id"].as_i64().unwrap(), issued["token"].as_str().unwrap().to_owned());
    assert_eq!(get(&app, "/v1/partners/jane/ledger", &jane).await.status(), 200);
    let r = app.client.delete(app.url(&format!("/v1/admin/keys/{id}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&app, "/v1/partners/jane/ledger", &jane).await;
    assert_eq!(r.status(), 401);
    // Only the hash is stored, and a second revocation finds nothing to revoke.
    let r = app.client.delete(app.url(&format!("/v1/admin/keys/{id}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(error_code(r).await, "unknown_key");
    // The CLI revokes too.
    let r = app.client.post(app.url("/v1/admin/partners/jane/tokens")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    let issued: Value = r.json().await.unwrap();
    let second = issued["token"].as_str().unwrap();
    assert_eq!(app.get_json("/v1/me", second).await["partner"], "jane");
    let out = run_cli(&app.database_url, &["keys", "revoke", &issued["id"].to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(get(&app, "/v1/me", second).await.status(), 401);
}

#[tokio::test]
async fn the_profile_shows_the_commission_structure_and_ready_to_share_links() {
    let app = spawn_seeded_app().await;
    let r = app.admin_post("/v1/admin/programs/standard/products", json!({"sku":"ebook","rate_bps":5000})).await;
    assert_eq!(r.status(), 201);
    let r = app.admin_post("/v1/admin/links", json!({"code":"johns","destination":"https://www.merchant.test/j","partner":"john"})).await;
    assert_eq!(r.status(), 201);
    let profile = app.get_json("/v1/partners/jane/profile", &token(&app, "jane").await).await;
    assert_eq!(profile["programs"][0]["code"], "standard");
    assert_eq!(profile["programs"][0]["rate_bps"], 3000);
    assert_eq!(profile["programs"][0]["products"][0]["sku"], "ebook");
    let links = profile["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "john's own link is not jane's: {profile}");
    assert_eq!(links[0]["url"], app.url("/go/offer?aff=jane"));
    // The link works as shown.
    assert_eq!(app.follow("/go/offer?aff=jane").await.status(), 302);
}

#[tokio::test]
async fn stats_break_down_by_day_and_product_and_the_chart_draws_the_same_figures() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("yt")).await;
    app.click("jane", None).await;
    assert_eq!(app.post_order(&order("api:pc1", Some(&click), "buyer@example.com")).await.status(), 200);
    let stats = app.stats("jane").await;
    let today = now() / 86_400;
    assert_eq!(stats["daily"], json!([{"day": today, "hits": 2, "opt_ins": 0, "orders": 1, "commission_minor": 2970}]));
    assert_eq!(stats["products"], json!([{"sku":"course","name":"The Course","currency":"USD","quantity":1,"revenue_minor":9900}]));
    let r = get(&app, "/v1/partners/jane/chart.svg", ADMIN_KEY).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let svg = r.text().await.unwrap();
    let date = time::OffsetDateTime::from_unix_timestamp(now()).unwrap().date();
    assert!(svg.contains(&format!("<title>{date} Hits: 2</title>")) && svg.contains(&format!("<title>{date} Orders: 1</title>")), "{svg}");
    assert_eq!(svg.matches("<rect class=").count(), 3 * 30, "the last 30 days by default");
    let r = get(&app, "/v1/partners/jane/chart.svg?from=2020-01-01&to=2026-01-01", ADMIN_KEY).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_period");
}

#[tokio::test]
async fn the_merchants_report_lists_every_partner_as_json_and_csv() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order("api:rep1", Some(&click), "buyer@example.com")).await.status(), 200);
    let report = app.get_json("/v1/admin/report", ADMIN_KEY).await;
    let partners = report["partners"].as_array().unwrap();
    assert_eq!(partners.iter().map(|p| p["partner"].as_str().unwrap()).collect::<Vec<_>>(), ["jane", "john"]);
    assert_eq!((partners[0]["orders"].as_i64(), partners[0]["commission_minor"].as_i64()), (Some(1), Some(2970)));
    assert_eq!(partners[0]["balances"][0]["pending_minor"], 2970, "inside the 30-day refund window");
    let r = get(&app, "/v1/admin/report?format=csv", ADMIN_KEY).await;
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"partners.csv\"");
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("partner,name,email,parent,hits,opt_ins,orders,revenue_minor,commission_minor"));
    assert_eq!(lines.next().unwrap(), "jane,jane,jane@partners.example,,1,0,1,9900,2970,0,USD,29.70,0.00,0.00,29.70,0,0,0,0,0");
    assert_eq!(lines.next().unwrap(), "john,john,john@partners.example,,0,0,0,0,0,0,,,,,,0,0,0,0,0");
}
