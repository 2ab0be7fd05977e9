//! Editing what the merchant set up: programs (and the preview of what they pay), partners
//! (deactivating them), personal Partner Center links, links and their figures, settings.

use crate::commissions::{add_link, add_partner, add_program, click_on};
use crate::corrections::{ok_json, post, refusal};
use crate::helpers::*;
use serde_json::{json, Value};

async fn patch(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.patch(app.url(path)).bearer_auth(ADMIN_KEY).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn a_program_is_edited_field_by_field_and_new_orders_earn_the_new_terms() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order("api:e1", Some(&click), "a@example.com")).await.status(), 200);
    let edited =
        ok_json(patch(&app, "/v1/admin/programs/standard", json!({"rate_bps":4000,"tier2_bps":500,"name":"Standard+"})).await, 200).await;
    assert_eq!(
        (edited["rate_bps"].as_i64(), edited["tier2_bps"].as_i64(), edited["window_days"].as_i64()),
        (Some(4000), Some(500), Some(30))
    );
    let flat = ok_json(patch(&app, "/v1/admin/programs/standard", json!({"flat_minor":2500})).await, 200).await;
    assert_eq!(flat["flat_minor"], 2500);
    let rate = ok_json(patch(&app, "/v1/admin/programs/standard", json!({"flat_minor":null})).await, 200).await;
    assert_eq!((rate["flat_minor"].clone(), rate["name"].clone()), (Value::Null, json!("Standard+")));
    let click = app.click("jane", None).await;
    let answer: Value = app.post_order(&order("api:e2", Some(&click), "b@example.com")).await.json().await.unwrap();
    assert_eq!(answer["commission_minor"], 3960, "40 % of 99.00 from now on");
    let entries = app.get_json("/v1/partners/jane/ledger", ADMIN_KEY).await["entries"].clone();
    assert!(entries.as_array().unwrap().iter().any(|e| e["amount_minor"] == 2970), "the first order keeps its 30 %");

    for (body, status, field) in [
        (json!({"rate_bps":20000}), 400, Some("rate_bps")),
        (json!({"window_days":0}), 400, Some("window_days")),
        (json!({"hold_days":400}), 400, Some("hold_days")),
        (json!({"recurring":"sometimes"}), 400, Some("recurring")),
        (json!({"lead_rate_bps":500,"lead_flat_minor":100}), 400, Some("lead_flat_minor")),
        (json!({"code":"other"}), 400, Some("code")),
        (json!({"colour":"red"}), 400, None),
    ] {
        let got = refusal(patch(&app, "/v1/admin/programs/standard", body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, field), "{body}");
    }
    assert_eq!(refusal(patch(&app, "/v1/admin/programs/ghost", json!({"rate_bps":1})).await).await.0, 404);
    let program = app.get_json("/v1/admin/programs", ADMIN_KEY).await[0].clone();
    assert_eq!(program["rate_bps"], 4000, "refused edits change nothing");
    let r = app.client.patch(app.url("/v1/admin/programs/standard")).json(&json!({"rate_bps":1})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_preview_splits_a_sample_order_by_the_real_rules_before_anything_is_saved() {
    let app = spawn_seeded_app().await;
    let program = json!({"code":"","rate_bps":3000,"window_days":30,"tier2_bps":1000,"tier3_bps":250,"lead_rate_bps":500});
    let products = json!([{"sku":"ebook","rate_bps":5000},{"sku":"course","owner":"john","owner_bps":1000}]);
    let body = json!({"program": program, "products": products, "sample": {"sku":"course","unit_price_minor":9999,"currency":"USD"}});
    let preview = ok_json(post(&app, "/v1/admin/commission-preview", body).await, 200).await;
    let shares: Vec<(&str, &str, i64)> = preview["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["who"].as_str().unwrap(), s["role"].as_str().unwrap(), s["amount_minor"].as_i64().unwrap()))
        .collect();
    // 30 % of 99.99 = 30.00 (29.997 rounded); 10 % = 10.00; 2.5 % = 2.50; 5 % = 5.00; john owns the course: 10 %.
    assert_eq!(
        shares,
        [
            ("partner", "sale", 3000),
            ("parent", "tier2", 1000),
            ("grandparent", "tier3", 250),
            ("lead", "lead", 500),
            ("john", "owner", 1000)
        ]
    );
    let ebook = json!({"program": program, "products": products, "sample": {"sku":"ebook","unit_price_minor":1000,"quantity":3}});
    let preview = ok_json(post(&app, "/v1/admin/commission-preview", ebook).await, 200).await;
    assert_eq!((preview["total_minor"].as_i64(), preview["shares"][0]["amount_minor"].as_i64()), (Some(3000), Some(1500)));
    assert!(app.get_json("/v1/admin/programs", ADMIN_KEY).await.as_array().unwrap().len() == 1, "nothing saved");
    for (body, field) in [
        (json!({"program": {"code":"p","rate_bps":-1,"window_days":30}, "sample": {"unit_price_minor":100}}), "rate_bps"),
        (json!({"program": {"code":"p","rate_bps":1,"window_days":30}, "sample": {"unit_price_minor":-1}}), "unit_price_minor"),
        (json!({"program": {"code":"p","rate_bps":1,"window_days":30}, "sample": {"unit_price_minor":1,"currency":"dollars"}}), "currency"),
        (
            json!({"program": {"code":"p","rate_bps":1,"window_days":30}, "products": [{"sku":"","rate_bps":1}], "sample": {"unit_price_minor":1}}),
            "sku",
        ),
    ] {
        let got = refusal(post(&app, "/v1/admin/commission-preview", body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (400, Some(field)), "{body}");
    }
}

#[tokio::test]
async fn a_deactivated_partners_links_stop_crediting_and_their_history_stays() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    assert_eq!(app.post_order(&order("api:d1", Some(&click), "a@example.com")).await.status(), 200);
    let off = ok_json(patch(&app, "/v1/admin/partners/jane", json!({"active":false})).await, 200).await;
    assert_eq!(off["active"], false);
    let r = app.follow("/go/offer?aff=jane").await;
    assert_eq!(r.status(), 302, "the visitor still gets where they were going");
    assert!(click_from(r.headers()).is_none(), "but the click is not credited");
    let ledger = app.get_json("/v1/partners/jane/ledger", ADMIN_KEY).await;
    assert_eq!(ledger["balances"][0]["earned_minor"], 2970, "their history stays");
    let report = app.get_json("/v1/admin/report", ADMIN_KEY).await;
    assert_eq!(report["partners"][0]["active"], false);
    ok_json(patch(&app, "/v1/admin/partners/jane", json!({"active":true})).await, 200).await;
    assert!(click_from(app.follow("/go/offer?aff=jane").await.headers()).is_some(), "active again, credited again");
}

#[tokio::test]
async fn a_partner_is_edited_and_refused_edits_name_their_field() {
    let app = spawn_seeded_app().await;
    add_partner(&app, "kid", Some("jane"), &["standard"]).await;
    let edited = ok_json(
        patch(&app, "/v1/admin/partners/john", json!({"name":"John P.","email":"JOHN@new.example","parent":"jane","programs":[]})).await,
        200,
    )
    .await;
    assert_eq!(
        (edited["name"].as_str(), edited["email"].as_str(), edited["parent"].as_str()),
        (Some("John P."), Some("john@new.example"), Some("jane"))
    );
    assert_eq!(edited["programs"], json!([]));
    let cleared = ok_json(patch(&app, "/v1/admin/partners/john", json!({"parent":null})).await, 200).await;
    assert_eq!(cleared["parent"], Value::Null);
    for (body, status, field) in [
        (json!({"parent":"kid"}), 400, "parent"),
        (json!({"parent":"jane"}), 400, "parent"),
        (json!({"parent":"ghost"}), 404, "parent"),
        (json!({"email":"nope"}), 400, "email"),
        (json!({"name":" "}), 400, "name"),
        (json!({"programs":["ghost"]}), 404, "programs"),
        (json!({"code":"janet"}), 400, "code"),
    ] {
        let got = refusal(patch(&app, "/v1/admin/partners/jane", body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, Some(field)), "{body}");
    }
    assert_eq!(refusal(patch(&app, "/v1/admin/partners/ghost", json!({"name":"x"})).await).await.0, 404);
}

#[tokio::test]
async fn a_personal_link_is_made_listed_and_revoked() {
    let app = spawn_seeded_app().await;
    let made = ok_json(post(&app, "/v1/admin/partners/jane/tokens", json!({})).await, 201).await;
    let token = made["token"].as_str().unwrap();
    assert!(made["url"].as_str().unwrap().ends_with(&format!("/partner/#token={token}")), "{made}");
    assert_eq!(app.get_json("/v1/me", token).await["partner"], "jane");
    let listed = app.get_json("/v1/admin/partners/jane/tokens", ADMIN_KEY).await;
    assert_eq!(listed["tokens"][0]["id"], made["id"]);
    assert!(listed.to_string().find(token).is_none(), "a token's secret is never listed");
    let id = made["id"].as_i64().unwrap();
    let r = app.client.delete(app.url(&format!("/v1/admin/keys/{id}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.client.get(app.url("/v1/me")).bearer_auth(token).send().await.unwrap().status(), 401);
    assert!(app.get_json("/v1/admin/partners/jane/tokens", ADMIN_KEY).await["tokens"].as_array().unwrap().is_empty());
    assert_eq!(app.client.get(app.url("/v1/admin/partners/ghost/tokens")).bearer_auth(ADMIN_KEY).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_link_is_edited_keeping_its_code_and_lists_its_hits_opt_ins_and_orders() {
    let app = spawn_seeded_app().await;
    add_program(&app, json!({"code":"vip","rate_bps":5000,"window_days":30})).await;
    add_partner(&app, "kim", None, &["vip"]).await;
    add_link(&app, "spring", &[]).await;
    let click = click_on(&app, "spring", "jane").await;
    click_on(&app, "spring", "john").await;
    let lead = json!({"type":"lead","email":"fan@example.com","click_id":click});
    assert_eq!(app.client.post(app.url("/v1/events")).json(&lead).send().await.unwrap().status(), 202);
    assert_eq!(app.post_order(&order("api:l1", Some(&click), "fan@example.com")).await.status(), 200);
    let links = app.get_json("/v1/admin/links", ADMIN_KEY).await;
    let spring = links.as_array().unwrap().iter().find(|l| l["code"] == "spring").unwrap().clone();
    assert_eq!((spring["hits"].as_i64(), spring["opt_ins"].as_i64(), spring["orders"].as_i64()), (Some(2), Some(1), Some(1)));
    let future = app.get_json("/v1/admin/links?from=2999-01-01", ADMIN_KEY).await;
    assert_eq!(future.as_array().unwrap().iter().find(|l| l["code"] == "spring").unwrap()["hits"], 0);

    let edited = ok_json(
        patch(
            &app,
            "/v1/admin/links/spring",
            json!({"name":"Spring sale","destination":"https://www.merchant.test/spring","programs":["vip"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!((edited["name"].as_str(), edited["programs"].clone()), (Some("Spring sale"), json!(["vip"])));
    assert!(click_from(app.follow("/go/spring?aff=jane").await.headers()).is_none(), "jane is not in vip: no credit");
    let kim = app.follow("/go/spring?aff=kim").await;
    assert!(kim.headers()["location"].to_str().unwrap().starts_with("https://www.merchant.test/spring?rt_click="));
    let owned = ok_json(patch(&app, "/v1/admin/links/spring", json!({"partner":"kim","programs":[]})).await, 200).await;
    assert_eq!(owned["partner"], "kim");
    for (body, status, field) in [
        (json!({"destination":"javascript:alert(1)"}), 400, "destination"),
        (json!({"partner":"ghost"}), 404, "partner"),
        (json!({"programs":["ghost"]}), 404, "programs"),
        (json!({"code":"autumn"}), 400, "code"),
    ] {
        let got = refusal(patch(&app, "/v1/admin/links/spring", body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, Some(field)), "{body}");
    }
    assert_eq!(refusal(patch(&app, "/v1/admin/links/ghost", json!({"name":"x"})).await).await.0, 404);
}

#[tokio::test]
async fn opt_ins_are_counted_by_source_in_the_partners_stats_and_the_merchants_report() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", None).await;
    for email in ["a@example.com", "b@example.com"] {
        let lead = json!({"type":"lead","email":email,"click_id":click});
        assert_eq!(app.client.post(app.url("/v1/events")).json(&lead).send().await.unwrap().status(), 202);
    }
    let signed = |id: &str, source: &str| json!({"email": format!("{id}@example.com"), "click_id": click, "source": source, "lead_id": id});
    for (id, source) in [("z1", "zoom"), ("z2", "zoom"), ("t1", "typeform")] {
        let body = serde_json::to_vec(&signed(id, source)).unwrap();
        assert_eq!(app.signed_post("/v1/leads", &body, &format!("msg_{id}"), app.now()).await.status(), 200);
    }
    let stats = app.stats("jane").await;
    assert_eq!(stats["opt_ins"], 5);
    assert_eq!(
        stats["opt_ins_by_source"],
        json!([{"source":"browser","opt_ins":2},{"source":"typeform","opt_ins":1},{"source":"zoom","opt_ins":2}])
    );
    let report = app.get_json("/v1/admin/report", ADMIN_KEY).await;
    assert_eq!(report["partners"][0]["opt_ins_by_source"], stats["opt_ins_by_source"]);
    assert_eq!(report["opt_ins_by_source"], stats["opt_ins_by_source"]);
    assert_eq!(report["partners"][1]["opt_ins_by_source"], json!([]));
}

#[tokio::test]
async fn the_settings_open_and_close_the_sign_up_page() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/v1/admin/settings", ADMIN_KEY).await, json!({"applications_open": false}));
    let open: Value = app.client.get(app.url("/v1/partner-applications")).send().await.unwrap().json().await.unwrap();
    assert_eq!(open, json!({"open": false}));
    assert_eq!(ok_json(patch(&app, "/v1/admin/settings", json!({"applications_open": true})).await, 200).await["applications_open"], true);
    let open: Value = app.client.get(app.url("/v1/partner-applications")).send().await.unwrap().json().await.unwrap();
    assert_eq!(open, json!({"open": true}));
    assert_eq!(refusal(patch(&app, "/v1/admin/settings", json!({"applications_open": "yes"})).await).await.0, 400);
    let r = app.client.patch(app.url("/v1/admin/settings")).json(&json!({"applications_open": false})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
