//! Product owners: a product override names an owner partner and a share; the owner earns it on
//! every sale of the product, whoever referred the buyer (unattributed orders too), beside the
//! referrer's commission, and refunds claw it back pro rata like every share.

use crate::commissions::{add_link, add_partner, add_program, click_on};
use crate::corrections::{appended, balance, entries, ok_json, post, refusal};
use crate::helpers::*;
use serde_json::{json, Value};

async fn shop() -> TestApp {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"std","rate_bps":3000,"window_days":30})).await;
    add_partner(&app, "jane", None, &["std"]).await;
    add_partner(&app, "author", None, &[]).await;
    add_link(&app, "go", &[]).await;
    // The course pays its author 20 % of its lines; the referrer earns the program's 30 %.
    let o =
        ok_json(post(&app, "/v1/admin/programs/std/products", json!({"sku":"course","owner":"author","owner_bps":2000})).await, 201).await;
    assert_eq!((o["owner"].as_str(), o["owner_bps"].as_i64(), o["rate_bps"].as_i64()), (Some("author"), Some(2000), None));
    app
}

fn shares(answer: &Value) -> Vec<(String, String, i64)> {
    answer["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["partner"].as_str().unwrap().to_owned(), s["role"].as_str().unwrap().to_owned(), s["amount_minor"].as_i64().unwrap()))
        .collect()
}

fn s(partner: &str, role: &str, amount: i64) -> (String, String, i64) {
    (partner.to_owned(), role.to_owned(), amount)
}

#[tokio::test]
async fn a_products_owner_earns_on_every_sale_of_it_beside_the_referrer_and_on_unattributed_orders() {
    let app = shop().await;
    let click = click_on(&app, "go", "jane").await;
    let referred: Value = app.post_order(&order("api:o1", Some(&click), "fan@example.com")).await.json().await.unwrap();
    // $99.00: jane 30 % = 29.70; the author 20 % = 19.80. The sale partner's commission is jane's only.
    assert_eq!(shares(&referred), [s("jane", "sale", 2970), s("author", "owner", 1980)]);
    assert_eq!(referred["commission_minor"], 2970);
    let nobody: Value = app.post_order(&order("api:o2", None, "walk-in@example.com")).await.json().await.unwrap();
    assert_eq!((nobody["status"].as_str(), shares(&nobody)), (Some("unattributed"), vec![s("author", "owner", 1980)]));
    // Another product earns the author nothing.
    let mut other = order("api:o3", None, "other@example.com");
    other["items"][0]["sku"] = json!("ebook");
    let other: Value = app.post_order(&other).await.json().await.unwrap();
    assert!(shares(&other).is_empty());
    let b = balance(&app, "author").await;
    assert_eq!((b["earned_minor"].as_i64(), b["pending_minor"].as_i64()), (Some(3960), Some(3960)));
    // The author buying their own product earns nothing on it.
    let own: Value = app.post_order(&order("api:o4", None, "author@partners.example")).await.json().await.unwrap();
    assert!(shares(&own).is_empty());
}

#[tokio::test]
async fn a_refund_claws_back_the_owners_share_pro_rata() {
    let app = shop().await;
    let click = click_on(&app, "go", "jane").await;
    assert_eq!(app.post_order(&order("api:r1", Some(&click), "fan@example.com")).await.status(), 200);
    let before = entries(&app, &["jane", "author"]).await;
    let refund = json!({"order_id":"api:r1","refund_id":"r1","amount_minor":3300,"occurred_at":"2026-01-01T00:00:00Z"});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    let new = appended(&before, &entries(&app, &["jane", "author"]).await);
    let claws: Vec<(&str, &str, &str, i64)> = new
        .iter()
        .map(|e| {
            (e["partner"].as_str().unwrap(), e["kind"].as_str().unwrap(), e["role"].as_str().unwrap(), e["amount_minor"].as_i64().unwrap())
        })
        .collect();
    // A third refunded: the author −6.60, jane −9.90.
    assert_eq!(claws, [("author", "clawback", "owner", -660), ("jane", "clawback", "sale", -990)]);
    let rest = json!({"order_id":"api:r1","refund_id":"r2","amount_minor":6600,"occurred_at":"2026-01-02T00:00:00Z"});
    assert_eq!(app.post_refund(&rest).await.status(), 200);
    assert_eq!(balance(&app, "author").await["balance_minor"], 0);
    assert_eq!(balance(&app, "jane").await["balance_minor"], 0);
}

#[tokio::test]
async fn an_owner_needs_a_share_and_must_exist_and_others_do_not_see_who_owns_a_product() {
    let app = shop().await;
    for (body, status, field) in [
        (json!({"sku":"x","owner":"author"}), 400, "owner_bps"),
        (json!({"sku":"x","owner_bps":500}), 400, "owner"),
        (json!({"sku":"x","owner":"ghost","owner_bps":500}), 404, "owner"),
        (json!({"sku":"x","owner":"author","owner_bps":0}), 400, "owner_bps"),
        (json!({"sku":"x","owner":"author","owner_bps":10001}), 400, "owner_bps"),
        (json!({"sku":"x"}), 400, "rate_bps"),
    ] {
        let got = refusal(post(&app, "/v1/admin/programs/std/products", body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, Some(field)), "{body}");
    }
    let programs = app.get_json("/v1/admin/programs", ADMIN_KEY).await;
    assert_eq!(programs[0]["products"], json!([{"sku":"course","rate_bps":null,"flat_minor":null,"owner":"author","owner_bps":2000}]));
    // Jane's profile does not show who owns the course (it sets no rate of its own either).
    let profile = app.get_json("/v1/partners/jane/profile", ADMIN_KEY).await;
    assert_eq!(profile["programs"][0]["products"], json!([]));
    // A product override may be removed.
    let r = app.client.delete(app.url("/v1/admin/programs/std/products/course")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let nobody: Value = app.post_order(&order("api:gone", None, "walk-in@example.com")).await.json().await.unwrap();
    assert!(shares(&nobody).is_empty());
    let r = app.client.delete(app.url("/v1/admin/programs/std/products/course")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
