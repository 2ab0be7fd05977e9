//! Programs, tiers, lead and sale partners, several programs, renewals, and the refund window.

use crate::helpers::*;
use serde_json::{json, Value};

const DAY_SECS: i64 = 86_400;

async fn created(r: reqwest::Response) {
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

pub async fn add_program(app: &TestApp, program: Value) {
    created(app.admin_post("/v1/admin/programs", program).await).await;
}

pub async fn add_partner(app: &TestApp, code: &str, parent: Option<&str>, programs: &[&str]) {
    let body = json!({"code": code, "name": format!("{code} partner"), "email": format!("{code}@partners.example"), "parent": parent, "programs": programs});
    created(app.admin_post("/v1/admin/partners", body).await).await;
}

pub async fn add_link(app: &TestApp, code: &str, programs: &[&str]) {
    let body = json!({"code": code, "destination": "https://www.merchant.test/offer", "programs": programs});
    created(app.admin_post("/v1/admin/links", body).await).await;
}

/// Follows link `link` for `partner`; the click id.
pub async fn click_on(app: &TestApp, link: &str, partner: &str) -> String {
    let r = app.follow(&format!("/go/{link}?aff={partner}")).await;
    assert_eq!(r.status(), 302);
    click_from(r.headers()).expect("a credited click")
}

fn shares(answer: &Value) -> Vec<(String, String, i64)> {
    answer["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["partner"].as_str().unwrap().to_owned(), s["role"].as_str().unwrap().to_owned(), s["amount_minor"].as_i64().unwrap()))
        .collect()
}

fn share(partner: &str, role: &str, amount: i64) -> (String, String, i64) {
    (partner.to_owned(), role.to_owned(), amount)
}

#[tokio::test]
async fn a_parent_earns_tier_two_and_a_grandparent_tier_three_on_their_childs_sale() {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"tiered","rate_bps":3000,"tier2_bps":1000,"tier3_bps":500,"window_days":30})).await;
    add_partner(&app, "gran", None, &["tiered"]).await;
    add_partner(&app, "mum", Some("gran"), &["tiered"]).await;
    add_partner(&app, "kid", Some("mum"), &["tiered"]).await;
    add_link(&app, "t", &["tiered"]).await;
    let click = click_on(&app, "t", "kid").await;
    let answer: Value = app.post_order(&order("api:t1", Some(&click), "buyer@example.com")).await.json().await.unwrap();
    // $99.00: 30 % = 29.70 to kid, 10 % = 9.90 to mum, 5 % = 4.95 to gran.
    assert_eq!(shares(&answer), [share("kid", "sale", 2970), share("mum", "tier2", 990), share("gran", "tier3", 495)]);
    assert_eq!(answer["commission_minor"], 2970, "the order's commission is the sale partner's");
    for (partner, earned, orders) in [("kid", 2970, 1), ("mum", 990, 0), ("gran", 495, 0)] {
        let stats = app.stats(partner).await;
        assert_eq!((stats["commission_minor"].as_i64(), stats["orders"].as_i64()), (Some(earned), Some(orders)), "{partner}: {stats}");
    }
    // A full refund claws every share back.
    let refund = json!({"order_id":"api:t1","refund_id":"re_t1","amount_minor":9900,"occurred_at":rfc3339(now())});
    let r: Value = app.post_refund(&refund).await.json().await.unwrap();
    assert_eq!(r["clawback_minor"], 2970 + 990 + 495);
    assert_eq!(app.stats("gran").await["clawback_minor"], 495);
}

#[tokio::test]
async fn the_lead_partner_and_the_sale_partner_both_earn_under_their_own_programs() {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"sales","rate_bps":3000,"window_days":30})).await;
    add_program(&app, json!({"code":"leads","rate_bps":1000,"lead_rate_bps":500,"window_days":60})).await;
    add_partner(&app, "jane", None, &["leads"]).await;
    add_partner(&app, "john", None, &["sales"]).await;
    add_link(&app, "open", &[]).await;
    // Jane brings the contact (an opt-in through her link)…
    let jane_click = click_on(&app, "open", "jane").await;
    let lead = json!({"email":"fan@example.com","click_id":jane_click}).to_string();
    assert_eq!(app.signed_post("/v1/leads", lead.as_bytes(), "msg_lead", now()).await.status(), 200);
    // …and John's click precedes the purchase.
    let john_click = click_on(&app, "open", "john").await;
    let answer: Value = app.post_order(&order("api:ls1", Some(&john_click), "fan@example.com")).await.json().await.unwrap();
    assert_eq!(answer["partner"], "john");
    // John: 30 % of 99.00 under "sales"; Jane: the 5 % lead share of her own program "leads".
    assert_eq!(shares(&answer), [share("john", "sale", 2970), share("jane", "lead", 495)]);
    // When the lead partner also makes the sale, she earns the sale terms once.
    let again = click_on(&app, "open", "jane").await;
    let answer: Value = app.post_order(&order("api:ls2", Some(&again), "fan@example.com")).await.json().await.unwrap();
    assert_eq!(shares(&answer), [share("jane", "sale", 990)]);
}

#[tokio::test]
async fn a_partner_in_two_programs_earns_under_the_one_paying_more_on_each_order() {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"rate30","rate_bps":3000,"window_days":30})).await;
    add_program(&app, json!({"code":"flat25","rate_bps":0,"flat_minor":2500,"window_days":90})).await;
    add_partner(&app, "dual", None, &["flat25", "rate30"]).await;
    add_link(&app, "both", &[]).await;
    add_link(&app, "only_rate", &["rate30"]).await;
    let big = order("api:d1", Some(&click_on(&app, "both", "dual").await), "a@example.com");
    let answer: Value = app.post_order(&big).await.json().await.unwrap();
    assert_eq!((answer["program"].as_str(), answer["commission_minor"].as_i64()), (Some("rate30"), Some(2970)));
    let mut small = order("api:d2", Some(&click_on(&app, "both", "dual").await), "b@example.com");
    small["items"][0]["unit_price_minor"] = json!(5000);
    small["total_minor"] = json!(5000);
    let answer: Value = app.post_order(&small).await.json().await.unwrap();
    assert_eq!((answer["program"].as_str(), answer["commission_minor"].as_i64()), (Some("flat25"), Some(2500)));
    // A link limited to one program pays under that program only.
    small["order_id"] = json!("api:d3");
    small["attribution"]["click_id"] = json!(click_on(&app, "only_rate", "dual").await);
    let answer: Value = app.post_order(&small).await.json().await.unwrap();
    assert_eq!((answer["program"].as_str(), answer["commission_minor"].as_i64()), (Some("rate30"), Some(1500)));
    // The click lasts as long as the longest window among the partner's programs (90 days).
    let r = app.follow("/go/both?aff=dual").await;
    assert!(set_cookie(r.headers()).unwrap().contains(&format!("Max-Age={}", 90 * DAY_SECS)));
}

#[tokio::test]
async fn renewals_earn_for_the_subscriptions_partner_as_the_programs_recurring_rule_says() {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"subs","rate_bps":3000,"recurring":"first:2","window_days":7})).await;
    add_partner(&app, "jane", None, &["subs"]).await;
    add_link(&app, "plan", &[]).await;
    let click = click_on(&app, "plan", "jane").await;
    let mut first = order("api:sub_first", Some(&click), "member@example.com");
    first["subscription_id"] = json!("api:sub_1");
    first["occurred_at"] = json!(rfc3339(now()));
    let answer: Value = app.post_order(&first).await.json().await.unwrap();
    assert_eq!(answer["commission_minor"], 2970);
    // Monthly renewals, long after the 7-day window: the first two earn, the third does not.
    let mut got = Vec::new();
    for month in 1..=3 {
        let mut renewal = order(&format!("api:sub_r{month}"), None, "member@example.com");
        renewal["subscription_id"] = json!("api:sub_1");
        renewal["renewal"] = json!(true);
        renewal["occurred_at"] = json!(rfc3339(now() + month * 30 * DAY_SECS));
        let answer: Value = app.post_order(&renewal).await.json().await.unwrap();
        assert_eq!((answer["partner"].as_str(), answer["credited_by"].as_str()), (Some("jane"), Some("subscription")), "{answer}");
        got.push((answer["renewal"].as_i64().unwrap(), answer["commission_minor"].as_i64().unwrap()));
    }
    assert_eq!(got, [(1, 2970), (2, 2970), (3, 0)]);
    // A renewal must say which subscription it renews.
    let mut bad = order("api:sub_bad", None, "member@example.com");
    bad["renewal"] = json!(true);
    let r = app.post_order(&bad).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn commissions_stay_pending_for_the_refund_window_then_are_approved() {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"hold","rate_bps":3000,"hold_days":30,"window_days":30})).await;
    add_partner(&app, "jane", None, &["hold"]).await;
    let token: Value =
        app.client.post(app.url("/v1/admin/partners/jane/tokens")).bearer_auth(ADMIN_KEY).send().await.unwrap().json().await.unwrap();
    // An order named for jane 40 days ago is past its 30-day refund window; today's is not.
    for (id, at) in [("api:old", now() - 40 * DAY_SECS), ("api:new", now())] {
        let mut o = order(id, None, "buyer@example.com");
        o["attribution"]["partner"] = json!("jane");
        o["occurred_at"] = json!(rfc3339(at));
        assert_eq!(app.post_order(&o).await.status(), 200);
    }
    let ledger = app.get_json("/v1/partners/jane/ledger", token["token"].as_str().unwrap()).await;
    let usd = &ledger["balances"][0];
    assert_eq!(
        (usd["earned_minor"].as_i64(), usd["approved_minor"].as_i64(), usd["pending_minor"].as_i64(), usd["balance_minor"].as_i64()),
        (Some(5940), Some(2970), Some(2970), Some(5940)),
        "{ledger}"
    );
    assert_eq!(ledger["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn program_terms_out_of_range_are_refused() {
    let app = spawn_app().await;
    for bad in [
        json!({"code":"a","rate_bps":100,"tier2_bps":10001,"window_days":30}),
        json!({"code":"b","rate_bps":100,"lead_rate_bps":-1,"window_days":30}),
        json!({"code":"c","rate_bps":100,"lead_rate_bps":100,"lead_flat_minor":100,"window_days":30}),
        json!({"code":"d","rate_bps":100,"recurring":"sometimes","window_days":30}),
        json!({"code":"e","rate_bps":100,"hold_days":400,"window_days":30}),
    ] {
        let r = app.admin_post("/v1/admin/programs", bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "invalid_input");
    }
}
