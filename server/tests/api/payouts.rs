//! Payout runs over HTTP and the CLI, the CSV they export, and clawbacks after a payout.

use crate::commissions::{add_link, add_partner, add_program, click_on};
use crate::helpers::*;
use serde_json::{json, Value};

/// Program `now` pays at once (no refund window); jane and john are in it, link `go`.
async fn app_without_hold() -> TestApp {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"now","rate_bps":3000,"hold_days":0,"window_days":30})).await;
    add_partner(&app, "jane", None, &["now"]).await;
    add_partner(&app, "john", None, &["now"]).await;
    add_link(&app, "go", &[]).await;
    app
}

async fn sale(app: &TestApp, id: &str, partner: &str, total: i64) {
    let mut o = order(id, Some(&click_on(app, "go", partner).await), "buyer@example.com");
    o["items"][0]["unit_price_minor"] = json!(total);
    o["total_minor"] = json!(total);
    assert_eq!(app.post_order(&o).await.status(), 200);
}

async fn balance(app: &TestApp, partner: &str) -> Value {
    app.get_json(&format!("/v1/partners/{partner}/ledger"), ADMIN_KEY).await["balances"][0].clone()
}

#[tokio::test]
async fn a_payout_run_pays_approved_balances_over_the_minimum_and_marks_them_paid() {
    let app = app_without_hold().await;
    sale(&app, "api:p1", "jane", 9900).await; // 29.70
    sale(&app, "api:p2", "john", 1000).await; // 3.00, under the minimum
    let preview = app.get_json("/v1/admin/payouts/preview?min_balance=500", ADMIN_KEY).await;
    assert_eq!(preview["payouts"].as_array().unwrap().len(), 1, "{preview}");
    assert_eq!((preview["payouts"][0]["partner"].as_str(), preview["payouts"][0]["amount"].as_str()), (Some("jane"), Some("29.70")));
    assert_eq!(balance(&app, "jane").await["paid_minor"], 0, "a preview marks nothing");

    let r = app
        .client
        .post(app.url("/v1/admin/payouts?format=csv"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"min_balance_minor":500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "partner,name,email,amount,currency,payout_id");
    assert!(lines[1].starts_with("jane,jane partner,jane@partners.example,29.70,USD,"), "{csv}");
    assert_eq!(lines.len(), 2);

    let jane = balance(&app, "jane").await;
    assert_eq!(
        (jane["paid_minor"].as_i64(), jane["balance_minor"].as_i64(), jane["approved_minor"].as_i64()),
        (Some(2970), Some(0), Some(0))
    );
    // Paid entries are never paid twice.
    let again: Value = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor":500})).await.json().await.unwrap();
    assert_eq!(again["payouts"], json!([]));
    assert_eq!(balance(&app, "john").await["approved_minor"], 300);
}

#[tokio::test]
async fn a_refund_after_a_payout_is_carried_as_a_negative_balance_and_repaid_from_the_next_commission() {
    let app = app_without_hold().await;
    sale(&app, "api:n1", "jane", 9900).await;
    assert_eq!(app.admin_post("/v1/admin/payouts", json!({})).await.status(), 201);
    let refund = json!({"order_id":"api:n1","refund_id":"re_n1","amount_minor":9900,"occurred_at":"2026-11-20T12:00:00Z"});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    let jane = balance(&app, "jane").await;
    assert_eq!(
        (jane["earned_minor"].as_i64(), jane["paid_minor"].as_i64(), jane["clawed_back_minor"].as_i64(), jane["balance_minor"].as_i64()),
        (Some(2970), Some(2970), Some(2970), Some(-2970))
    );
    let none: Value = app.admin_post("/v1/admin/payouts", json!({})).await.json().await.unwrap();
    assert_eq!(none["payouts"], json!([]), "a negative balance is not paid");
    sale(&app, "api:n2", "jane", 20000).await; // 60.00 earned, 29.70 owed: 30.30 paid
    let paid: Value = app.admin_post("/v1/admin/payouts", json!({})).await.json().await.unwrap();
    assert_eq!(paid["payouts"][0]["amount_minor"], 3030, "{paid}");
}

#[tokio::test]
async fn the_cli_previews_and_creates_payouts_and_writes_the_csv() {
    let app = app_without_hold().await;
    sale(&app, "api:c1", "jane", 9900).await;
    let preview = run_cli(&app.database_url, &["payouts", "preview", "--min-balance", "1000", "--csv", "-"]);
    assert!(preview.status.success(), "{}", String::from_utf8_lossy(&preview.stderr));
    assert_eq!(
        String::from_utf8_lossy(&preview.stdout),
        "partner,name,email,amount,currency,payout_id\njane,jane partner,jane@partners.example,29.70,USD,\n"
    );
    let file = app.dir.path().join("payouts.csv");
    let create = run_cli(&app.database_url, &["payouts", "create", "--min-balance", "1000", "--csv", file.to_str().unwrap()]);
    assert!(create.status.success(), "{}", String::from_utf8_lossy(&create.stderr));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("jane,") && !l.ends_with(',')), "the line carries its payout id: {csv}");
    assert_eq!(balance(&app, "jane").await["paid_minor"], 2970);
    let negative = run_cli(&app.database_url, &["payouts", "preview", "--min-balance", "-1"]);
    assert!(!negative.status.success());
}

#[tokio::test]
async fn payout_requests_with_bad_input_or_without_the_admin_key_are_refused() {
    let app = app_without_hold().await;
    let r = app.client.get(app.url("/v1/admin/payouts/preview?min_balance=-5")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_min_balance");
    let r = app.client.get(app.url("/v1/admin/payouts/preview?format=xml")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(error_code(r).await, "invalid_format");
    let r = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor":"lots"})).await;
    assert_eq!(r.status(), 400);
    let r = app.client.post(app.url("/v1/admin/payouts")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn each_payout_run_is_kept_and_its_csv_downloaded_again() {
    let app = app_without_hold().await;
    sale(&app, "api:h1", "jane", 9900).await;
    sale(&app, "api:h2", "john", 1000).await;
    let first: Value = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor":0})).await.json().await.unwrap();
    sale(&app, "api:h3", "jane", 5000).await;
    // The runs are told apart by when they were booked.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.admin_post("/v1/admin/payouts", json!({"min_balance_minor":0})).await;
    let history = app.get_json("/v1/admin/payouts", ADMIN_KEY).await;
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{history}");
    // Newest first: the second run paid jane 15.00; the first, jane 29.70 and john 3.00.
    assert_eq!((runs[0]["lines"].as_array().unwrap().len(), runs[0]["lines"][0]["amount"].as_str()), (1, Some("15.00")));
    assert_eq!(runs[1]["lines"].as_array().unwrap().len(), 2);
    assert_eq!(runs[1]["totals"], json!([["USD", 3270]]));
    assert_eq!(runs[1]["lines"][0]["payout_id"], first["payouts"][0]["payout_id"]);
    let run_id = runs[1]["run_id"].as_i64().unwrap();
    let r = app.client.get(app.url(&format!("/v1/admin/payouts/{run_id}?format=csv"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-disposition"], format!("attachment; filename=\"payouts-{run_id}.csv\"").as_str());
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("jane,jane partner,jane@partners.example,29.70,USD,"));
    assert_eq!(app.client.get(app.url("/v1/admin/payouts/1")).bearer_auth(ADMIN_KEY).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(app.url("/v1/admin/payouts")).send().await.unwrap().status(), 401);
    let cli = run_cli(&app.database_url, &["payouts", "csv", &run_id.to_string()]);
    assert_eq!(String::from_utf8(cli.stdout).unwrap(), csv);
}
