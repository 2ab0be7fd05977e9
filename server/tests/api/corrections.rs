//! The merchant's orders and corrections: the order list and one order with how it was credited,
//! crediting an unattributed order by hand, moving an order to another partner, voiding and
//! approving commissions early, adjusting balances. Each correction adds ledger entries and
//! leaves the earlier ones exactly as they were; balances follow.

use crate::commissions::{add_link, add_partner, add_program, click_on};
use crate::helpers::*;
use serde_json::{json, Value};

/// Program `std` (30 %, tier 2 10 %, 30-day refund window); jane (kim's parent), kim, john; link `go`.
pub async fn shop() -> TestApp {
    let app = spawn_app().await;
    add_program(&app, json!({"code":"std","rate_bps":3000,"tier2_bps":1000,"window_days":30})).await;
    add_partner(&app, "jane", None, &["std"]).await;
    add_partner(&app, "kim", Some("jane"), &["std"]).await;
    add_partner(&app, "john", None, &["std"]).await;
    add_link(&app, "go", &[]).await;
    app
}

pub async fn ok_json(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A refusal's status and `{error, field}`, checking it has a message.
pub async fn refusal(r: reqwest::Response) -> (u16, String, Option<String>) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("error bodies are JSON");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {body}");
    (status, body["error"].as_str().unwrap().to_owned(), body["field"].as_str().map(str::to_owned))
}

pub async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.admin_post(path, body).await
}

pub async fn get(app: &TestApp, path: &str) -> Value {
    app.get_json(path, ADMIN_KEY).await
}

/// Every ledger entry of these partners, oldest first.
pub async fn entries(app: &TestApp, partners: &[&str]) -> Vec<Value> {
    let mut all = Vec::new();
    for p in partners {
        all.extend(get(app, &format!("/v1/partners/{p}/ledger")).await["entries"].as_array().unwrap().iter().cloned());
    }
    all.sort_by_key(|e| e["id"].as_i64());
    all
}

/// `after` holds every entry of `before` unchanged, plus the new ones, which it answers.
pub fn appended(before: &[Value], after: &[Value]) -> Vec<Value> {
    for e in before {
        assert!(after.contains(e), "an entry changed or disappeared: {e}\nafter: {after:?}");
    }
    after.iter().filter(|e| !before.contains(e)).cloned().collect()
}

pub async fn balance(app: &TestApp, partner: &str) -> Value {
    get(app, &format!("/v1/partners/{partner}/ledger")).await["balances"].get(0).cloned().unwrap_or(json!({}))
}

fn figures(b: &Value) -> (i64, i64, i64) {
    (b["pending_minor"].as_i64().unwrap_or(0), b["approved_minor"].as_i64().unwrap_or(0), b["balance_minor"].as_i64().unwrap_or(0))
}

fn kinds(new: &[Value]) -> Vec<(String, String, i64)> {
    new.iter()
        .map(|e| (e["partner"].as_str().unwrap().to_owned(), e["kind"].as_str().unwrap().to_owned(), e["amount_minor"].as_i64().unwrap()))
        .collect()
}

fn k(partner: &str, kind: &str, amount: i64) -> (String, String, i64) {
    (partner.to_owned(), kind.to_owned(), amount)
}

async fn partner_token(app: &TestApp, partner: &str) -> String {
    ok_json(post(app, &format!("/v1/admin/partners/{partner}/tokens"), json!({})).await, 201).await["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_order_list_says_how_each_order_was_credited_or_why_not_and_finds_them_by_id_or_email() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("stripe:cs_1", Some(&click), "fan@example.com")).await.status(), 200);
    assert_eq!(app.post_order(&order("stripe:cs_2", None, "nobody@example.com")).await.status(), 200);
    let mut own = order("stripe:cs_3", Some(&click_on(&app, "go", "john").await), "john@partners.example");
    own["attribution"]["partner"] = json!("john");
    assert_eq!(app.post_order(&own).await.status(), 200);

    let all = get(&app, "/v1/admin/orders").await;
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let rows: Vec<Row> = all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["order_id"].as_str().unwrap(), o["partner"].as_str(), o["credited_by"].as_str(), o["reason"].as_str()))
        .collect();
    assert!(rows.contains(&("stripe:cs_1", Some("kim"), Some("click"), None)), "{rows:?}");
    assert!(rows.contains(&("stripe:cs_2", None, None, Some("no_touch"))), "{rows:?}");
    assert!(rows.contains(&("stripe:cs_3", None, None, Some("self_referral"))), "{rows:?}");
    let kim = all["orders"].as_array().unwrap().iter().find(|o| o["order_id"] == "stripe:cs_1").unwrap();
    // Kim's 29.70 and jane's 9.90 (tier 2) are held on the order.
    assert_eq!((kim["commission_minor"].as_i64(), kim["commissions_minor"].as_i64()), (Some(2970), Some(3960)));

    let unattributed = get(&app, "/v1/admin/orders?status=unattributed").await;
    assert_eq!(unattributed["orders"].as_array().unwrap().len(), 2);
    let by_email = get(&app, "/v1/admin/orders?q=FAN@example").await;
    assert_eq!(by_email["orders"][0]["order_id"], "stripe:cs_1");
    let by_id = get(&app, "/v1/admin/orders?q=cs_2").await;
    assert_eq!(by_id["orders"].as_array().unwrap().len(), 1);
    assert_eq!(get(&app, "/v1/admin/orders?partner=kim").await["orders"].as_array().unwrap().len(), 1);
    assert_eq!(get(&app, "/v1/admin/orders?q=100%25").await["orders"].as_array().unwrap().len(), 0, "% is searched for, not a wildcard");

    let detail = get(&app, "/v1/admin/orders/stripe:cs_1").await;
    assert_eq!((detail["credited_by"].as_str(), detail["link"].as_str()), (Some("click"), Some("go")));
    assert_eq!(detail["click_id"], json!(click));
    assert_eq!(detail["items"][0]["sku"], "course");
    let commissions: Vec<(&str, &str, i64, &str)> = detail["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["partner"].as_str().unwrap(),
                c["role"].as_str().unwrap(),
                c["remaining_minor"].as_i64().unwrap(),
                c["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(commissions, [("kim", "sale", 2970, "pending"), ("jane", "tier2", 990, "pending")]);

    for (path, status, field) in [
        ("/v1/admin/orders?status=paid", 400, Some("status")),
        ("/v1/admin/orders?partner=a%20b", 400, Some("partner")),
        ("/v1/admin/orders?limit=0", 400, Some("limit")),
        ("/v1/admin/orders/stripe:nope", 404, None),
    ] {
        let r = app.client.get(app.url(path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        let (got, _, f) = refusal(r).await;
        assert_eq!((got, f.as_deref()), (status, field), "{path}");
    }
}

#[tokio::test]
async fn an_unattributed_order_credited_by_hand_earns_the_partner_and_their_parent_and_they_see_it() {
    let app = shop().await;
    assert_eq!(app.post_order(&order("api:u1", None, "fan@example.com")).await.status(), 200);
    let before = entries(&app, &["kim", "jane"]).await;
    let detail =
        ok_json(post(&app, "/v1/admin/orders/api:u1/credit", json!({"partner":"kim","reason":"used kim's coupon at the till"})).await, 200)
            .await;
    assert_eq!(
        (detail["partner"].as_str(), detail["credited_by"].as_str(), detail["status"].as_str()),
        (Some("kim"), Some("manual"), Some("attributed"))
    );
    assert_eq!((detail["reason"].as_str(), detail["commission_minor"].as_i64()), (None, Some(2970)));
    assert_eq!(detail["credits"][0]["from_status"], "unattributed");
    assert_eq!(detail["credits"][0]["reason"], "used kim's coupon at the till");

    let new = appended(&before, &entries(&app, &["kim", "jane"]).await);
    assert_eq!(kinds(&new), [k("kim", "earned", 2970), k("jane", "earned", 990)]);
    assert!(new.iter().all(|e| e["reason"] == "used kim's coupon at the till" && e["order_id"] == "api:u1"));
    assert_eq!(figures(&balance(&app, "kim").await), (2970, 0, 2970));
    // Kim sees it, with the reason, through her own token; her stats count the order.
    let token = partner_token(&app, "kim").await;
    let own = app.get_json("/v1/partners/kim/ledger", &token).await;
    assert_eq!(own["entries"][0]["reason"], "used kim's coupon at the till");
    assert_eq!(app.stats("kim").await["orders"], 1);
}

#[tokio::test]
async fn moving_an_order_reverses_the_old_shares_books_the_new_ones_and_refunds_claw_back_from_the_new_partner() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("api:m1", Some(&click), "fan@example.com")).await.status(), 200);
    // A third is refunded before the move: kim −9.90, jane −3.30.
    let refund = json!({"order_id":"api:m1","refund_id":"r1","amount_minor":3300,"occurred_at":"2026-01-01T00:00:00Z"});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    let everyone = ["kim", "jane", "john"];
    let before = entries(&app, &everyone).await;

    let detail =
        ok_json(post(&app, "/v1/admin/orders/api:m1/credit", json!({"partner":"john","reason":"john's webinar sold it"})).await, 200).await;
    assert_eq!((detail["partner"].as_str(), detail["credited_by"].as_str(), detail["link"].as_str()), (Some("john"), Some("manual"), None));
    assert_eq!((detail["credits"][0]["from_partner"].as_str(), detail["credits"][0]["from_link"].as_str()), (Some("kim"), Some("go")));
    let new = appended(&before, &entries(&app, &everyone).await);
    // Kim's and jane's remaining 19.80 and 6.60 are moved out; john earns 29.70 less the refunded third.
    assert_eq!(kinds(&new), [k("kim", "move", -1980), k("jane", "move", -660), k("john", "earned", 2970), k("john", "clawback", -990)]);
    let kims_sale = before.iter().find(|e| e["partner"] == "kim" && e["kind"] == "earned").unwrap();
    assert_eq!(new[0]["reverses_id"], kims_sale["id"], "the reversal names the commission it cancels");
    for (partner, want) in [("kim", (0, 0, 0)), ("jane", (0, 0, 0)), ("john", (1980, 0, 1980))] {
        assert_eq!(figures(&balance(&app, partner).await), want, "{partner}");
    }
    assert_eq!(balance(&app, "kim").await["reversed_minor"], 1980);
    let stats = (app.stats("kim").await, app.stats("john").await);
    assert_eq!((stats.0["orders"].as_i64(), stats.1["orders"].as_i64()), (Some(0), Some(1)), "the order counts for john now");
    assert_eq!((stats.0["commission_minor"].as_i64(), stats.1["commission_minor"].as_i64()), (Some(990), Some(2970)));

    // The rest is refunded: only john's commission is clawed back.
    let before = entries(&app, &everyone).await;
    let rest = json!({"order_id":"api:m1","refund_id":"r2","amount_minor":6600,"occurred_at":"2026-01-02T00:00:00Z"});
    assert_eq!(app.post_refund(&rest).await.status(), 200);
    assert_eq!(kinds(&appended(&before, &entries(&app, &everyone).await)), [k("john", "clawback", -1980)]);
    assert_eq!(figures(&balance(&app, "john").await), (0, 0, 0));

    // Moving it back to kim gives her (and jane) their shares again, net of the refunds: nothing.
    let back = ok_json(post(&app, "/v1/admin/orders/api:m1/credit", json!({"partner":"kim","reason":"mistake"})).await, 200).await;
    assert_eq!(back["credits"].as_array().unwrap().len(), 2);
    for partner in everyone {
        assert_eq!(figures(&balance(&app, partner).await), (0, 0, 0), "{partner}");
    }
}

#[tokio::test]
async fn a_credit_that_makes_no_sense_is_refused_and_changes_nothing() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("api:c1", Some(&click), "john@partners.example")).await.status(), 200);
    let before = entries(&app, &["kim", "jane", "john"]).await;
    for (body, status, code, field) in [
        (json!({"partner":"kim","reason":"again"}), 400, "invalid_input", Some("partner")),
        (json!({"partner":"john","reason":"his own purchase"}), 400, "invalid_input", Some("partner")),
        (json!({"partner":"ghost","reason":"who?"}), 404, "not_found", Some("partner")),
        (json!({"partner":"x y","reason":"bad code"}), 400, "invalid_input", Some("partner")),
        (json!({"partner":"jane","reason":"  "}), 400, "invalid_input", Some("reason")),
        (json!({"partner":"jane"}), 400, "malformed_json", None),
    ] {
        let got = refusal(post(&app, "/v1/admin/orders/api:c1/credit", body.clone()).await).await;
        assert_eq!(got, (status, code.to_owned(), field.map(str::to_owned)), "{body}");
    }
    let (status, _, _) = refusal(post(&app, "/v1/admin/orders/api:none/credit", json!({"partner":"jane","reason":"x"})).await).await;
    assert_eq!(status, 404);
    ok_json(
        app.client.patch(app.url("/v1/admin/partners/john")).bearer_auth(ADMIN_KEY).json(&json!({"active":false})).send().await.unwrap(),
        200,
    )
    .await;
    let (status, _, field) = refusal(post(&app, "/v1/admin/orders/api:c1/credit", json!({"partner":"john","reason":"x"})).await).await;
    assert_eq!((status, field.as_deref()), (400, Some("partner")), "a deactivated partner is not credited");
    assert_eq!(entries(&app, &["kim", "jane", "john"]).await, before);
    assert_eq!(get(&app, "/v1/admin/orders/api:c1").await["partner"], "kim");
}

#[tokio::test]
async fn voiding_a_pending_commission_adds_a_void_entry_and_a_second_void_or_a_paid_one_is_refused() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("api:v1", Some(&click), "fan@example.com")).await.status(), 200);
    let before = entries(&app, &["kim", "jane"]).await;
    let sale = before.iter().find(|e| e["partner"] == "kim").unwrap()["id"].as_i64().unwrap();
    let voided = ok_json(post(&app, &format!("/v1/admin/ledger/{sale}/void"), json!({"reason":"test order"})).await, 201).await;
    assert_eq!(
        (voided["state"].as_str(), voided["remaining_minor"].as_i64(), voided["voided"].as_bool()),
        (Some("voided"), Some(0), Some(true))
    );
    let new = appended(&before, &entries(&app, &["kim", "jane"]).await);
    assert_eq!(kinds(&new), [k("kim", "void", -2970)]);
    assert_eq!((new[0]["reason"].as_str(), new[0]["reverses_id"].as_i64()), (Some("test order"), Some(sale)));
    assert_eq!(figures(&balance(&app, "kim").await), (0, 0, 0));
    assert_eq!(figures(&balance(&app, "jane").await), (990, 0, 990), "only the voided commission changes");
    assert_eq!(app.stats("kim").await["commission_minor"], 0, "stats count commission net of voids");

    let after = entries(&app, &["kim", "jane"]).await;
    let (status, code, _) = refusal(post(&app, &format!("/v1/admin/ledger/{sale}/void"), json!({"reason":"again"})).await).await;
    assert_eq!((status, code.as_str()), (409, "nothing_left"));
    let void_id = new[0]["id"].as_i64().unwrap();
    let (status, _, field) = refusal(post(&app, &format!("/v1/admin/ledger/{void_id}/void"), json!({"reason":"x"})).await).await;
    assert_eq!((status, field.as_deref()), (400, Some("entry_id")), "only a commission's earned entry can be voided");
    let (status, _, field) = refusal(post(&app, &format!("/v1/admin/ledger/{sale}/void"), json!({"reason":""})).await).await;
    assert_eq!((status, field.as_deref()), (400, Some("reason")));
    assert_eq!(refusal(post(&app, "/v1/admin/ledger/999999/void", json!({"reason":"x"})).await).await.0, 404);
    assert_eq!(entries(&app, &["kim", "jane"]).await, after, "refusals book nothing");
    // A refund of the voided order claws back nothing from kim.
    let refund = json!({"order_id":"api:v1","refund_id":"rv","amount_minor":9900,"occurred_at":"2026-01-01T00:00:00Z"});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    assert_eq!(kinds(&appended(&after, &entries(&app, &["kim", "jane"]).await)), [k("jane", "clawback", -990)]);

    // A paid commission cannot be voided.
    let app = spawn_app().await;
    add_program(&app, json!({"code":"now","rate_bps":3000,"hold_days":0,"window_days":30})).await;
    add_partner(&app, "jane", None, &["now"]).await;
    add_link(&app, "go", &[]).await;
    let click = click_on(&app, "go", "jane").await;
    assert_eq!(app.post_order(&order("api:p1", Some(&click), "fan@example.com")).await.status(), 200);
    ok_json(post(&app, "/v1/admin/payouts", json!({"min_balance_minor":0})).await, 201).await;
    let sale = entries(&app, &["jane"]).await.iter().find(|e| e["kind"] == "earned").unwrap()["id"].as_i64().unwrap();
    let (status, code, _) = refusal(post(&app, &format!("/v1/admin/ledger/{sale}/void"), json!({"reason":"late"})).await).await;
    assert_eq!((status, code.as_str()), (409, "already_paid"));
}

#[tokio::test]
async fn approving_a_commission_early_makes_it_payable_now_without_earning_it_twice() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("api:a1", Some(&click), "fan@example.com")).await.status(), 200);
    let before = entries(&app, &["kim"]).await;
    let sale = before[0]["id"].as_i64().unwrap();
    assert!(get(&app, "/v1/admin/payouts/preview").await["payouts"].as_array().unwrap().is_empty(), "pending: nothing due");
    let approved =
        ok_json(post(&app, &format!("/v1/admin/ledger/{sale}/approve"), json!({"reason":"long-standing partner"})).await, 201).await;
    assert_eq!(approved["state"], "approved");
    let new = appended(&before, &entries(&app, &["kim"]).await);
    assert_eq!(kinds(&new), [k("kim", "approval", -2970), k("kim", "approval", 2970)]);
    assert!(new.iter().all(|e| e["reverses_id"].as_i64() == Some(sale)));
    let b = balance(&app, "kim").await;
    assert_eq!((figures(&b), b["earned_minor"].as_i64()), ((0, 2970, 2970), Some(2970)));
    let (status, code, _) = refusal(post(&app, &format!("/v1/admin/ledger/{sale}/approve"), json!({"reason":"again"})).await).await;
    assert_eq!((status, code.as_str()), (409, "already_approved"));
    // The next payout run pays it; jane's tier share is still pending and stays.
    let due = get(&app, "/v1/admin/payouts/preview").await;
    assert_eq!((due["payouts"][0]["partner"].as_str(), due["payouts"][0]["amount_minor"].as_i64()), (Some("kim"), Some(2970)));
    ok_json(post(&app, "/v1/admin/payouts", json!({})).await, 201).await;
    assert_eq!(figures(&balance(&app, "kim").await), (0, 0, 0));
    // A refund after the payout claws back at once (the commission was approved).
    let refund = json!({"order_id":"api:a1","refund_id":"ra","amount_minor":9900,"occurred_at":"2026-01-01T00:00:00Z"});
    assert_eq!(app.post_refund(&refund).await.status(), 200);
    assert_eq!(figures(&balance(&app, "kim").await), (0, -2970, -2970));
}

#[tokio::test]
async fn an_adjustment_books_a_bonus_or_a_correction_payable_at_once() {
    let app = shop().await;
    let bonus = ok_json(
        post(&app, "/v1/admin/partners/jane/adjustments", json!({"amount_minor":5000,"currency":"USD","reason":"Q4 bonus"})).await,
        201,
    )
    .await;
    assert_eq!(
        (bonus["kind"].as_str(), bonus["role"].as_str(), bonus["reason"].as_str()),
        (Some("adjustment"), Some("adjustment"), Some("Q4 bonus"))
    );
    let before = entries(&app, &["jane"]).await;
    ok_json(
        post(&app, "/v1/admin/partners/jane/adjustments", json!({"amount_minor":-1200,"currency":"USD","reason":"double-counted sale"}))
            .await,
        201,
    )
    .await;
    assert_eq!(kinds(&appended(&before, &entries(&app, &["jane"]).await)), [k("jane", "adjustment", -1200)]);
    let b = balance(&app, "jane").await;
    assert_eq!((figures(&b), b["adjusted_minor"].as_i64()), ((0, 3800, 3800), Some(3800)));
    assert_eq!(get(&app, "/v1/admin/payouts/preview").await["payouts"][0]["amount_minor"], 3800);
    let before = entries(&app, &["jane"]).await;
    for (path, body, status, field) in [
        ("/v1/admin/partners/jane/adjustments", json!({"amount_minor":0,"currency":"USD","reason":"x"}), 400, Some("amount_minor")),
        ("/v1/admin/partners/jane/adjustments", json!({"amount_minor":100,"currency":"usd!","reason":"x"}), 400, Some("currency")),
        ("/v1/admin/partners/jane/adjustments", json!({"amount_minor":100,"currency":"XYZ","reason":"x"}), 400, Some("currency")),
        ("/v1/admin/partners/jane/adjustments", json!({"amount_minor":100,"currency":"USD","reason":""}), 400, Some("reason")),
        ("/v1/admin/partners/jane/adjustments", json!({"amount_minor":"5","currency":"USD","reason":"x"}), 400, None),
        ("/v1/admin/partners/ghost/adjustments", json!({"amount_minor":100,"currency":"USD","reason":"x"}), 404, None),
    ] {
        let (got, _, f) = refusal(post(&app, path, body.clone()).await).await;
        assert_eq!((got, f.as_deref()), (status, field), "{body}");
    }
    assert_eq!(entries(&app, &["jane"]).await, before);
}

#[tokio::test]
async fn the_commissions_list_shows_each_commission_by_state() {
    let app = shop().await;
    let click = click_on(&app, "go", "kim").await;
    assert_eq!(app.post_order(&order("api:l1", Some(&click), "fan@example.com")).await.status(), 200);
    let list = get(&app, "/v1/admin/commissions?state=pending").await;
    assert_eq!(list["commissions"].as_array().unwrap().len(), 2);
    let kims = get(&app, "/v1/admin/commissions?partner=kim").await;
    assert_eq!((kims["commissions"][0]["role"].as_str(), kims["commissions"][0]["remaining_minor"].as_i64()), (Some("sale"), Some(2970)));
    let (status, _, field) =
        refusal(app.client.get(app.url("/v1/admin/commissions?state=lost")).bearer_auth(ADMIN_KEY).send().await.unwrap()).await;
    assert_eq!((status, field.as_deref()), (400, Some("state")));
}

#[tokio::test]
async fn order_and_ledger_endpoints_need_the_admin_key() {
    let app = shop().await;
    assert_eq!(app.post_order(&order("api:x1", None, "fan@example.com")).await.status(), 200);
    let token = partner_token(&app, "kim").await;
    let reads = ["/v1/admin/orders", "/v1/admin/orders/api:x1", "/v1/admin/commissions", "/v1/admin/payouts"];
    let writes = [
        ("/v1/admin/orders/api:x1/credit", json!({"partner":"kim","reason":"x"})),
        ("/v1/admin/ledger/1/void", json!({"reason":"x"})),
        ("/v1/admin/ledger/1/approve", json!({"reason":"x"})),
        ("/v1/admin/partners/kim/adjustments", json!({"amount_minor":100,"currency":"USD","reason":"x"})),
    ];
    for path in reads {
        assert_eq!(app.client.get(app.url(path)).send().await.unwrap().status(), 401, "{path}");
        assert_eq!(app.client.get(app.url(path)).bearer_auth(&token).send().await.unwrap().status(), 403, "{path}");
    }
    for (path, body) in writes {
        assert_eq!(app.client.post(app.url(path)).json(&body).send().await.unwrap().status(), 401, "{path}");
        assert_eq!(app.client.post(app.url(path)).bearer_auth(&token).json(&body).send().await.unwrap().status(), 403, "{path}");
    }
    assert!(entries(&app, &["kim"]).await.is_empty(), "nothing was booked");
}

#[tokio::test]
async fn the_cli_credits_voids_and_adjusts_like_the_api() {
    let app = shop().await;
    assert_eq!(app.post_order(&order("api:cli1", None, "fan@example.com")).await.status(), 200);
    let run = |args: &[&str]| {
        let out = run_cli(&app.database_url, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let credited = run(&["orders", "credit", "api:cli1", "--partner", "kim", "--reason", "phone order"]);
    assert_eq!(credited["credited_by"], "manual");
    let sale = credited["commissions"][0]["entry_id"].as_i64().unwrap().to_string();
    assert_eq!(run(&["commissions", "approve", &sale, "--reason", "trusted"])["state"], "approved");
    assert_eq!(run(&["partner", "adjust", "--code", "jane", "--amount-minor", "-500", "--reason", "correction"])["amount_minor"], -500);
    assert_eq!(run(&["orders", "list", "--partner", "kim"]).as_array().unwrap().len(), 1);
    let refused = run_cli(&app.database_url, &["commissions", "void", &sale, "--reason", ""]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("reason"));
}
