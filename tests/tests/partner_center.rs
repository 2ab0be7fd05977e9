//! The Partner Center and the merchant's partner view in a real headless Chromium: each page
//! renders, its numbers are the API's, and one partner cannot see another's data. Screenshots
//! go to `target/screenshots/` to be looked at.

use reftrack_e2e::*;
use serde_json::{json, Value};

const DAY_SECS: i64 = 86_400;

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// The pages' default range: the last 30 days, as `from=…&to=…`.
fn last_30_days() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("from={}&to={today}", today - time::Duration::days(29))
}

/// `$29.70`, `-$29.70`: how the pages print USD.
fn usd(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

struct Shop {
    track: TrackServer,
    http: reqwest::Client,
}

impl Shop {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, self.track.local(path)).bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn as_partner(&self, token: &str, path: &str) -> Value {
        self.http.get(self.track.local(path)).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    async fn token(&self, partner: &str) -> String {
        let body = self.admin(reqwest::Method::POST, &format!("/v1/admin/partners/{partner}/tokens"), None).await;
        body["token"].as_str().unwrap().to_owned()
    }
}

/// A program with an override and tiers, jane (with a child, kim) and john, some clicks, opt-ins,
/// orders, a refund and a payout.
async fn shop() -> Shop {
    let track = TrackServer::start(free_port()).unwrap();
    track.seed("https://www.merchant.test/landing").await.unwrap();
    let shop = Shop { track, http: reqwest::Client::new() };
    use reqwest::Method;
    shop.admin(Method::POST, "/v1/admin/programs", Some(json!({"code":"vip","name":"VIP partners","rate_bps":2000,"tier2_bps":1000,"lead_rate_bps":500,"hold_days":14,"recurring":"first:6","window_days":90}))).await;
    shop.admin(Method::POST, "/v1/admin/programs/vip/products", Some(json!({"sku":"ebook","rate_bps":5000}))).await;
    shop.admin(
        Method::POST,
        "/v1/admin/partners",
        Some(json!({"code":"kim","name":"Kim Child","email":"kim@partners.example","parent":"jane","programs":["vip"]})),
    )
    .await;
    shop.admin(
        Method::POST,
        "/v1/admin/links",
        Some(json!({"code":"webinar","name":"Webinar sign-up","destination":"https://www.merchant.test/webinar"})),
    )
    .await;
    shop.admin(
        Method::POST,
        "/v1/admin/links",
        Some(json!({"code":"johns-page","destination":"https://www.merchant.test/john","partner":"john"})),
    )
    .await;

    let jane_click = click(&shop.track, "jane").await.unwrap();
    click(&shop.track, "jane").await.unwrap();
    click(&shop.track, "john").await.unwrap();
    let order = |id: &str, click: Option<&str>, partner: Option<&str>, at: i64, items: Value, total: i64| {
        json!({"order_id": id, "occurred_at": rfc3339(at), "currency": "USD", "items": items, "total_minor": total,
               "customer": {"email": format!("{}@buyers.example", id.replace(':', "_"))},
               "attribution": {"click_id": click, "partner": partner}, "source": "api"})
    };
    let course = json!([{"sku":"course","name":"The Course","quantity":1,"unit_price_minor":9900}]);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Today: a $99 course through jane's click (29.70, pending for 30 days).
    shop.track.post_order(&order("api:today", Some(&jane_click), None, now, course.clone(), 9900)).await.unwrap();
    // 40 days ago, named for jane: approved, then paid out.
    shop.track.post_order(&order("api:old", None, Some("jane"), now - 40 * DAY_SECS, course.clone(), 9900)).await.unwrap();
    shop.admin(Method::POST, "/v1/admin/payouts", Some(json!({"min_balance_minor": 1000}))).await;
    // 40 days ago, named for john, after that payout run: approved and due in the next one.
    let small = json!([{"sku":"course","name":"The Course","quantity":1,"unit_price_minor":5000}]);
    shop.track.post_order(&order("api:john_old", None, Some("john"), now - 40 * DAY_SECS, small, 5000)).await.unwrap();
    // Kim's ebook sale: kim earns 50 %, jane 10 % as kim's parent.
    // Jane buying through her own click: nobody earns, and it is counted as a self-referral.
    let mut own = order("api:self", Some(&jane_click), None, now, course.clone(), 9900);
    own["customer"]["email"] = json!("jane@partners.example");
    assert_eq!(shop.track.post_order(&own).await.unwrap()["reason"], "self_referral");
    let ebook = json!([{"sku":"ebook","name":"The Ebook","quantity":2,"unit_price_minor":1500}]);
    shop.track.post_order(&order("api:kim", None, Some("kim"), now, ebook, 3000)).await.unwrap();
    shop
}

#[tokio::test(flavor = "multi_thread")]
async fn the_partner_center_shows_a_partners_own_ledger_stats_chart_products_terms_and_links() {
    let shop = shop().await;
    let jane = shop.token("jane").await;
    let ledger = shop.as_partner(&jane, "/v1/partners/jane/ledger").await;
    let stats = shop.as_partner(&jane, "/v1/partners/jane/stats?from=2000-01-01").await;
    let balance = &ledger["balances"][0];
    // The figures the page must show are the API's: 29.70 today (pending) + 29.70 paid + 3.00 tier 2.
    assert_eq!((balance["earned_minor"].as_i64(), balance["paid_minor"].as_i64()), (Some(2970 + 2970 + 300), Some(2970)), "{ledger}");

    let b = Browser::start(false).await.unwrap();
    b.client.goto(&shop.track.local(&format!("/partner/#token={jane}"))).await.unwrap();
    b.wait_for("var v = document.querySelector('#bal-balance .value'); return !!v && document.querySelectorAll('#links tr[data-link]').length > 0 && !!document.querySelector('#chart svg')").await.unwrap();
    let shots = root().join("target/screenshots");
    b.full_page_screenshot(&shots.join("partner-center.png")).await.unwrap();

    let text = |sel: &str| format!("return (document.querySelector('{sel}') || {{}}).textContent");
    for (id, key) in [
        ("earned", "earned_minor"),
        ("pending", "pending_minor"),
        ("approved", "approved_minor"),
        ("paid", "paid_minor"),
        ("clawed_back", "clawed_back_minor"),
        ("balance", "balance_minor"),
    ] {
        let shown = b.eval(&text(&format!("#bal-{id} .value"))).await.unwrap();
        assert_eq!(shown, usd(balance[key].as_i64().unwrap()), "ledger {id}");
    }
    // The default range is the last 30 days: today's order and clicks, not the one 40 days ago.
    let recent = shop.as_partner(&jane, &format!("/v1/partners/jane/stats?{}", last_30_days())).await;
    for (id, want) in [
        ("hits", recent["hits"].to_string()),
        ("orders", recent["orders"].to_string()),
        ("commission_minor", usd(recent["commission_minor"].as_i64().unwrap())),
    ] {
        assert_eq!(b.eval(&text(&format!("#fig-{id} .value"))).await.unwrap(), want, "figure {id}");
    }
    assert_eq!(recent["hits"], 2);
    assert_eq!(b.eval(&text("#fig-order_rate .value")).await.unwrap(), "50.0 %");
    let svg = b.eval("return document.querySelector('#chart svg').innerHTML").await.unwrap();
    assert!(svg.as_str().unwrap().contains("Hits: 2</title>"), "the chart draws today's hits");
    let products = b.eval(&text("#products")).await.unwrap();
    assert!(products.as_str().unwrap().contains("The Course (course)") && products.as_str().unwrap().contains("$99.00"), "{products}");
    let terms = b.eval(&text("#programs")).await.unwrap();
    assert!(terms.as_str().unwrap().contains("Sale commission: 30 % of each order"), "{terms}");

    // The link generator: jane's open links with her code, a SubID added as she types; not john's own link.
    let links = b.eval("return Array.from(document.querySelectorAll('#links tr[data-link]')).map(function (r) { return r.getAttribute('data-link'); })").await.unwrap();
    assert_eq!(links, json!(["demo", "webinar"]));
    b.eval("var i = document.querySelector('#links tr[data-link=demo] input.sub'); i.value = 'fb_ads'; i.dispatchEvent(new Event('input')); return true").await.unwrap();
    let url = b.eval("return document.querySelector('#links tr[data-link=demo] input.url').value").await.unwrap();
    assert_eq!(url, format!("{}/go/demo?aff=jane&sid=fb_ads", shop.track.base));
    // The token left the address bar at once.
    assert_eq!(b.eval("return location.hash").await.unwrap(), "");
    // From jane's page, john's data is refused.
    let status = b
        .eval(&format!("return fetch('../v1/partners/john/stats', {{headers: {{Authorization: 'Bearer {jane}'}}}}).then(function (r) {{ return r.status; }})"))
        .await
        .unwrap();
    assert_eq!(status, 403);
    let page = b.eval("return document.body.innerText").await.unwrap();
    assert!(!page.as_str().unwrap().contains("johns-page"), "john's own link is not on jane's page");
    assert_eq!(stats["products"][0]["sku"], "course");
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_partner_sees_only_their_own_figures_and_a_bad_token_sees_nothing() {
    let shop = shop().await;
    let john = shop.token("john").await;
    let b = Browser::start(false).await.unwrap();
    b.client.goto(&shop.track.local(&format!("/partner/#token={john}"))).await.unwrap();
    b.wait_for("return !!document.querySelector('#fig-hits .value') && !!document.querySelector('#bal-balance .value')").await.unwrap();
    assert_eq!(b.eval("return document.getElementById('who').textContent").await.unwrap(), "john (john)");
    assert_eq!(b.eval("return document.querySelector('#fig-hits .value').textContent").await.unwrap(), "1");
    assert_eq!(b.eval("return document.querySelector('#bal-approved .value').textContent").await.unwrap(), "$15.00");
    let links = b.eval("return Array.from(document.querySelectorAll('#links tr[data-link]')).map(function (r) { return r.getAttribute('data-link'); })").await.unwrap();
    assert_eq!(links, json!(["demo", "johns-page", "webinar"]));

    // A token that is not (or no longer) valid shows the sign-in form and no figures.
    b.eval("sessionStorage.clear(); return true").await.unwrap();
    b.client.goto(&shop.track.local("/partner/#token=rtpt_not_a_real_token")).await.unwrap();
    b.wait_for("return !document.getElementById('login').hidden && document.getElementById('center').hidden").await.unwrap();
    let message = b.eval("return document.getElementById('status').textContent").await.unwrap();
    assert!(message.as_str().unwrap().contains("not valid"), "{message}");
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_merchants_partner_view_lists_every_partner_with_the_apis_figures_and_previews_payouts() {
    let shop = shop().await;
    let report = shop.admin(reqwest::Method::GET, &format!("/v1/admin/report?{}", last_30_days()), None).await;
    let b = Browser::start(false).await.unwrap();
    b.client.goto(&shop.track.local(&format!("/admin/#key={ADMIN_KEY}"))).await.unwrap();
    b.wait_for("return document.querySelectorAll('#partners tr[data-partner]').length === 3").await.unwrap();
    let rows = b
        .eval("return Array.from(document.querySelectorAll('#partners tr[data-partner]')).map(function (r) { return Array.from(r.cells).map(function (c) { return c.textContent; }); })")
        .await
        .unwrap();
    for (row, api) in rows.as_array().unwrap().iter().zip(report["partners"].as_array().unwrap()) {
        assert_eq!(row[0], api["partner"]);
        assert_eq!(row[3], api["hits"].to_string());
        assert_eq!(row[5], api["orders"].to_string());
        assert_eq!(row[7], usd(api["commission_minor"].as_i64().unwrap()));
        let balance = api["balances"].get(0).map_or(0, |b| b["balance_minor"].as_i64().unwrap());
        assert_eq!(row[12], usd(balance), "{}", api["partner"]);
    }
    b.eval("document.getElementById('min').value = '1.00'; document.getElementById('preview').click(); return true").await.unwrap();
    b.wait_for("return document.querySelectorAll('#payouts tr[data-partner]').length > 0").await.unwrap();
    let due = shop.admin(reqwest::Method::GET, "/v1/admin/payouts/preview?min_balance=100", None).await;
    let shown = b.eval("return Array.from(document.querySelectorAll('#payouts tr[data-partner]')).map(function (r) { return r.getAttribute('data-partner'); })").await.unwrap();
    let want: Vec<&str> = due["payouts"].as_array().unwrap().iter().map(|p| p["partner"].as_str().unwrap()).collect();
    assert_eq!(shown, json!(want));
    assert_eq!(b.eval("return document.querySelector('#fraud-self_referral .value').textContent").await.unwrap(), "1");
    let jane_flags = &rows[0][13];
    assert_eq!(jane_flags, "self_referral 1");
    b.full_page_screenshot(&root().join("target/screenshots/admin-partners.png")).await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_adds_and_deletes_a_postback_in_the_partner_center_and_a_refused_target_says_why() {
    let shop = shop().await;
    let john = shop.token("john").await;
    let b = Browser::start(false).await.unwrap();
    b.client.goto(&shop.track.local(&format!("/partner/#token={john}"))).await.unwrap();
    b.wait_for("return !!document.querySelector('#postbacks tr') && !!document.querySelector('#bal-balance .value')").await.unwrap();
    // A literal public address: accepted without DNS, and nothing is sent to it in this test.
    let template = "https://93.184.216.34/pb?cid={click_id}&e={event}";
    b.eval(&format!(
        "document.getElementById('postback-url').value = '{template}'; document.getElementById('postback-method').value = 'POST';
         document.querySelector('#postback-events input[value=\"commission.created\"]').checked = true;
         document.getElementById('postback-add').click(); return true"
    ))
    .await
    .unwrap();
    b.wait_for("return document.querySelectorAll('#postbacks tr[data-postback]').length === 1").await.unwrap();
    let listed = shop.as_partner(&john, "/v1/partners/john/postbacks").await;
    let made = &listed["postbacks"][0];
    assert_eq!((made["url"].as_str(), made["method"].as_str()), (Some(template), Some("POST")), "{listed}");
    assert_eq!(made["events"], json!(["order.credited", "commission.created"]));

    b.eval("document.getElementById('postback-url').value = 'https://169.254.169.254/latest'; document.getElementById('postback-add').click(); return true")
        .await
        .unwrap();
    b.wait_for("return document.getElementById('status').textContent.indexOf('link-local') >= 0").await.unwrap();
    assert_eq!(shop.as_partner(&john, "/v1/partners/john/postbacks").await["postbacks"].as_array().unwrap().len(), 1);

    b.eval("document.querySelector('#postbacks tr[data-postback] button').click(); return true").await.unwrap();
    b.wait_for("return document.querySelectorAll('#postbacks tr[data-postback]').length === 0").await.unwrap();
    assert_eq!(shop.as_partner(&john, "/v1/partners/john/postbacks").await["postbacks"], json!([]));
    b.close().await.unwrap();
}
