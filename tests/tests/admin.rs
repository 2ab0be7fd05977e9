//! The merchant's pages in a real headless Chromium, from an empty database: a program with a
//! product override and tier 2, two partners (one by approving an application from the public
//! sign-up page), a link limited to the program, a partner handed their personal link, banners
//! and copy; then a visitor's click and signed orders; the merchant finds an order, sees why it
//! was credited, moves it to the other partner, voids a commission and runs a payout. Every
//! figure on the page is the API's, and the partner sees the moved order, the voided commission
//! and the resources. Bad input gets a message next to its field and changes nothing; a missing
//! or revoked admin key gets the sign-in form. Screenshots of each page go to `docs/`.

use fantoccini::Locator;
use reftrack_e2e::*;
use reftrack_protocol::signature::Secret;
use serde_json::{json, Value};
use std::path::PathBuf;

fn docs(name: &str) -> PathBuf {
    root().join("docs").join(name)
}

/// `$29.70`, `-$29.70`: how the pages print USD.
fn usd(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The API as the merchant's scripts would call it.
struct Api<'a> {
    track: &'a TrackServer,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.track.local(path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn get_as(&self, token: &str, path: &str) -> Value {
        self.http.get(self.track.local(path)).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(self.track.local(path)).bearer_auth(ADMIN_KEY).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn signed(&self, path: &str, id: &str, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let secret = Secret::parse(SECRET).unwrap();
        let mut req = self.http.post(self.track.local(path)).body(bytes.clone());
        for (k, v) in secret.headers(id, time::OffsetDateTime::now_utc().unix_timestamp(), &bytes) {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.text().await.unwrap());
    }
}

/// The page, driven as a person would: values typed, buttons pressed.
struct Page {
    b: Browser,
}

impl Page {
    async fn js(&self, script: &str) -> Value {
        self.b.eval(script).await.unwrap()
    }

    async fn wait(&self, script: &str) {
        if let Err(e) = self.b.wait_for(script).await {
            let shot = root().join("target/screenshots/admin-failed.png");
            let _ = self.b.full_page_screenshot(&shot).await;
            let status =
                self.js("return [document.getElementById('status') && document.getElementById('status').textContent, location.href]").await;
            panic!("{e}: status {status} (screenshot {})", shot.display());
        }
    }

    /// Types `value` into the field (as its input and change events say).
    async fn set(&self, id: &str, value: &str) {
        self.js(&format!(
            "var e = document.getElementById({id}); e.value = {value}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true",
            id = js_string(id),
            value = js_string(value)
        ))
        .await;
    }

    async fn tick(&self, id: &str, on: bool) {
        self.js(&format!("var e = document.getElementById({}); if (e.checked !== {on}) e.click(); return true", js_string(id))).await;
    }

    async fn click(&self, selector: &str) {
        self.js(&format!("document.querySelector({}).click(); return true", js_string(selector))).await;
    }

    async fn text(&self, selector: &str) -> String {
        self.js(&format!("var e = document.querySelector({}); return e ? e.textContent : null", js_string(selector)))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn tab(&self, name: &str) {
        self.click(&format!("#tabs button[data-tab={name}]")).await;
        self.wait(&format!("return !document.getElementById('tab-{name}').hidden")).await;
    }

    /// The message next to a field, once shown.
    async fn field_error(&self, id: &str) -> String {
        self.wait(&format!("return !!document.getElementById('{id}-error')")).await;
        let invalid = self.js(&format!("return document.getElementById('{id}').getAttribute('aria-invalid')")).await;
        let shown = self.text(&format!("#{id}-error")).await;
        assert!(
            invalid == "true" || self.js(&format!("return document.getElementById('{id}').tagName")).await == "FIELDSET",
            "{id} is not marked invalid"
        );
        assert!(!shown.is_empty());
        shown
    }

    /// The cells of a table's keyed rows.
    async fn rows(&self, table: &str) -> Vec<Vec<String>> {
        let v = self
            .js(&format!(
                "return Array.from(document.querySelectorAll('#{table} tr')).slice(1).filter(function (r) {{ return !r.querySelector('td.hint'); }}).map(function (r) {{ return Array.from(r.cells).map(function (c) {{ return c.textContent; }}); }})"
            ))
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn shot(&self, name: &str) {
        self.js("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur(); return true").await;
        self.b.full_page_screenshot(&docs(name)).await.unwrap();
        self.b.client.set_window_size(1280, 900).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_runs_the_program_from_an_empty_database_and_partners_see_every_change() {
    let track = TrackServer::start(free_port()).unwrap();
    let api = Api { track: &track, http: reqwest::Client::new() };
    let admin = format!("{}/admin/", track.base);
    let page = Page { b: Browser::start(false).await.unwrap() };

    // No key: the sign-in form and nothing else. A wrong key: the form again, with why.
    page.b.client.goto(&admin).await.unwrap();
    page.wait("return !document.getElementById('login').hidden && document.getElementById('admin').hidden").await;
    page.b.client.find(Locator::Id("key-input")).await.unwrap().send_keys("not-a-key\u{E007}").await.unwrap();
    page.wait("return document.getElementById('status').textContent.indexOf('not an admin key') >= 0").await;
    assert_eq!(page.js("return document.getElementById('admin').hidden").await, true);
    // Signed in with the keyboard: the key typed, Enter pressed.
    page.b.client.find(Locator::Id("key-input")).await.unwrap().send_keys(&format!("{ADMIN_KEY}\u{E007}")).await.unwrap();
    page.wait("return !document.getElementById('tab-partners').hidden && document.querySelector('#partners td.hint') !== null").await;

    // ---- A program with tier 2 and a product override ----
    page.tab("programs").await;
    page.click("#program-new").await;
    page.set("pg-code", "vip").await;
    page.set("pg-name", "VIP partners").await;
    page.set("pg-rate", "thirty").await;
    page.click("#program-save").await;
    assert!(page.field_error("pg-rate").await.contains("percentage"));
    assert_eq!(api.get("/v1/admin/programs").await, json!([]), "a refused form changes nothing");
    page.set("pg-rate", "300").await;
    page.click("#program-save").await;
    assert!(page.field_error("pg-rate").await.contains("0–10000"), "the server's refusal, next to the field");
    assert_eq!(api.get("/v1/admin/programs").await, json!([]));
    page.set("pg-rate", "30").await;
    page.set("pg-tier2", "10").await;
    page.set("pg-window", "60").await;
    page.set("pg-hold", "0").await;
    page.set("pv-price", "99.00").await;
    // The preview is the server's split of a sample order, shown as the merchant types.
    page.wait("return document.querySelectorAll('#program-preview tr[data-role]').length === 2").await;
    let preview = api
        .post(
            "/v1/admin/commission-preview",
            json!({"program":{"code":"vip","rate_bps":3000,"tier2_bps":1000,"window_days":60,"hold_days":0},"sample":{"unit_price_minor":9900}}),
        )
        .await;
    let shown = page.rows("program-preview").await;
    for (row, share) in shown.iter().zip(preview["shares"].as_array().unwrap()) {
        assert_eq!(row[1], usd(share["amount_minor"].as_i64().unwrap()));
    }
    assert_eq!(shown[0][1], "$29.70");
    page.click("#program-save").await;
    page.wait("return !document.getElementById('products-box').hidden").await;
    let vip = &api.get("/v1/admin/programs").await[0];
    assert_eq!((vip["rate_bps"].as_i64(), vip["tier2_bps"].as_i64(), vip["hold_days"].as_i64()), (Some(3000), Some(1000), Some(0)));
    // The ebook pays 50 %. An owner's share without an owner is refused next to the owner.
    page.set("pr-sku", "ebook").await;
    page.set("pr-value", "50").await;
    page.set("pr-owner-share", "10").await;
    page.click("#product-form button[type=submit]").await;
    assert!(page.field_error("pr-owner").await.contains("owner"));
    page.set("pr-owner-share", "").await;
    page.click("#product-form button[type=submit]").await;
    page.wait("return document.querySelector('#products tr[data-sku=ebook]') !== null").await;
    page.set("pv-sku", "ebook").await;
    page.set("pv-price", "20.00").await;
    page.wait("return (document.querySelector('#program-preview tr[data-role=sale]') || {}).textContent === 'A partner in it (who made the sale)$10.00'").await;
    page.shot("admin-programs.png").await;

    // ---- Partners: kim applies on the public page and is approved; jane is added, kim's child ----
    page.tab("partners").await;
    page.tick("apps-open", true).await;
    page.wait("return document.getElementById('status').textContent.indexOf('takes applications') >= 0").await;
    let visitor = Page { b: Browser::start(false).await.unwrap() };
    visitor.b.client.goto(&format!("{}/partner/apply", track.base)).await.unwrap();
    visitor.wait("return !document.getElementById('apply').hidden").await;
    visitor.set("ap-email", "kim-at-creators").await;
    visitor.set("ap-name", "Kim Creator").await;
    visitor.set("ap-website", "creators.example/kim").await;
    visitor.set("ap-notes", "I teach this to 20,000 subscribers.").await;
    visitor.click("#apply-form button").await;
    assert!(visitor.field_error("ap-email").await.contains("email"));
    visitor.b.full_page_screenshot(&docs("partner-apply.png")).await.unwrap();
    visitor.set("ap-email", "kim@creators.example").await;
    visitor.click("#apply-form button").await;
    visitor.wait("return !document.getElementById('thanks').hidden").await;

    page.tab("programs").await;
    page.tab("partners").await;
    page.wait("return document.querySelectorAll('#applications [data-application]').length === 1").await;
    let application = api.get("/v1/admin/partner-applications").await["applications"][0].clone();
    assert_eq!(application["email"], "kim@creators.example");
    let id = application["id"].as_i64().unwrap();
    page.set(&format!("app-code-{id}"), "kim").await;
    page.tick(&format!("app-{id}-program-vip"), true).await;
    page.click(&format!("#application-{id} button[type=submit]")).await;
    page.wait(&format!("return !!document.getElementById('approved-url-{id}')")).await;
    let kim_url = page.js(&format!("return document.getElementById('approved-url-{id}').value")).await.as_str().unwrap().to_owned();
    assert!(kim_url.starts_with(&format!("{}/partner/#token=rtpt_", track.base)), "{kim_url}");

    page.set("pa-code", "jane").await;
    page.set("pa-name", "Jane Partner").await;
    page.set("pa-email", "jane-at-partners").await;
    page.click("#partner-add button[type=submit]").await;
    assert!(page.field_error("pa-email").await.contains("email"));
    assert_eq!(api.get("/v1/admin/partners").await.as_array().unwrap().len(), 1, "only kim");
    page.set("pa-email", "jane@partners.example").await;
    page.set("pa-parent", "kim").await;
    page.tick("pa-program-vip", true).await;
    page.click("#partner-add button[type=submit]").await;
    page.wait("return document.querySelectorAll('#partners tr[data-partner]').length === 2").await;
    let partners = api.get("/v1/admin/partners").await;
    assert_eq!((partners[0]["code"].as_str(), partners[0]["parent"].as_str()), (Some("jane"), Some("kim")));

    // Jane's personal link, made and copied on her page.
    page.click("#partners tr[data-partner=jane] button").await;
    page.wait("return !document.getElementById('partner-panel').hidden").await;
    page.click("#make-link").await;
    page.wait("return !document.getElementById('personal-link').hidden && document.getElementById('personal-url').value.length > 0").await;
    let jane_url = page.js("return document.getElementById('personal-url').value").await.as_str().unwrap().to_owned();
    page.wait("return document.querySelectorAll('#tokens tr[data-token]').length === 1").await;
    let jane_tokens = api.get("/v1/admin/partners/jane/tokens").await;
    assert_eq!(jane_tokens["tokens"].as_array().unwrap().len(), 1);

    // ---- A link limited to the program ----
    page.tab("links").await;
    page.click("#link-new").await;
    page.set("ln-code", "spring").await;
    page.set("ln-name", "Spring offer").await;
    page.set("ln-destination", "javascript:alert(1)").await;
    page.tick("ln-program-vip", true).await;
    page.click("#link-form button[type=submit]").await;
    assert!(page.field_error("ln-destination").await.contains("http"));
    assert_eq!(api.get("/v1/admin/links").await, json!([]));
    page.set("ln-destination", &format!("{}/", track.base)).await;
    page.click("#link-form button[type=submit]").await;
    page.wait("return document.querySelector('#links tr[data-link=spring]') !== null").await;
    assert_eq!(api.get("/v1/admin/links").await[0]["programs"], json!(["vip"]));

    // ---- Resources: an uploaded banner and copy ----
    page.tab("resources").await;
    page.set("rs-title", "Spring banner").await;
    page.set("rs-alt", "The Course, spring edition").await;
    let svg = track.dir.path().join("banner.svg");
    std::fs::write(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>").unwrap();
    page.b.client.find(Locator::Id("rs-file")).await.unwrap().send_keys(svg.to_str().unwrap()).await.unwrap();
    page.click("#resource-form button[type=submit]").await;
    assert!(page.field_error("rs-file").await.contains("SVG"));
    let png = root().join("tests/fixtures/banner.png");
    page.js("document.getElementById('rs-file').value = ''; return true").await;
    page.b.client.find(Locator::Id("rs-file")).await.unwrap().send_keys(png.to_str().unwrap()).await.unwrap();
    page.click("#resource-form button[type=submit]").await;
    page.wait("return document.querySelectorAll('#resources [data-resource]').length === 1").await;
    page.click("#rs-kind-text").await;
    page.set("rs-title", "Newsletter blurb").await;
    page.set("rs-text", "The course that changed my year: {link}").await;
    page.click("#resource-form button[type=submit]").await;
    page.wait("return document.querySelectorAll('#resources [data-resource]').length === 2").await;
    page.shot("admin-resources.png").await;

    // ---- A visitor follows jane's link; the cart's orders arrive signed ----
    visitor.b.client.goto(&format!("{}/go/spring?aff=jane&sid=newsletter", track.base)).await.unwrap();
    visitor.wait("return location.search.indexOf('rt_click=') >= 0").await;
    let href = visitor.js("return location.href").await;
    let click = url::Url::parse(href.as_str().unwrap()).unwrap().query_pairs().find(|(k, _)| k == "rt_click").unwrap().1.into_owned();
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let items = json!([{"sku":"course","name":"The Course","quantity":1,"unit_price_minor":9900},{"sku":"ebook","name":"The Ebook","quantity":1,"unit_price_minor":2000}]);
    let first = json!({"order_id":"stripe:cs_spring_1","occurred_at":now,"currency":"USD","items":items,"total_minor":11900,
                       "customer":{"email":"fan@buyers.example"},"attribution":{"click_id":click},"source":"stripe"});
    let answer = track.post_order(&first).await.unwrap();
    // Jane: 30 % of 99.00 + 50 % of 20.00 = 39.70; kim, her parent: 10 % of 119.00 = 11.90.
    assert_eq!((answer["partner"].as_str(), answer["commission_minor"].as_i64()), (Some("jane"), Some(3970)));
    let course = json!([{"sku":"course","name":"The Course","quantity":1,"unit_price_minor":9900}]);
    let second = json!({"order_id":"stripe:cs_spring_2","occurred_at":now,"currency":"USD","items":course,"total_minor":9900,
                        "customer":{"email":"friend@buyers.example"},"attribution":{"click_id":click},"source":"stripe"});
    track.post_order(&second).await.unwrap();
    let notice = json!({"notice_id":"stripe:evt_dispute_1","source":"stripe","kind":"dispute_opened","order_id":"stripe:cs_spring_2",
                        "amount_minor":9900,"currency":"USD","message":"A dispute was opened on this payment; it is taken back only if it is lost.","occurred_at":now});
    api.signed("/v1/notices", "msg_notice_1", &notice).await;

    // ---- The merchant finds the order and sees why it was credited ----
    page.tab("orders").await;
    page.set("os-q", "spring_1").await;
    page.click("#order-search button[type=submit]").await;
    page.wait("return document.querySelectorAll('#orders tr[data-order]').length === 1").await;
    page.click("#orders tr[data-order='stripe:cs_spring_1'] button").await;
    page.wait("return !document.getElementById('order-panel').hidden && document.querySelectorAll('#order-commissions tr[data-entry]').length === 2").await;
    let why = page.text("#order-why").await;
    assert!(why.contains("Credited to jane by a click on link spring (SubID newsletter)"), "{why}");
    let detail = api.get("/v1/admin/orders/stripe:cs_spring_1").await;
    assert_eq!(detail["credited_by"], "click");
    let rows = page.rows("order-commissions").await;
    for (row, c) in rows.iter().zip(detail["commissions"].as_array().unwrap()) {
        assert_eq!((row[0].as_str(), row[1].as_str()), (c["partner"].as_str().unwrap(), c["role"].as_str().unwrap()));
        assert_eq!(row[5], usd(c["remaining_minor"].as_i64().unwrap()));
    }
    assert_eq!(page.text("#of-commissions .value").await, usd(detail["commissions_minor"].as_i64().unwrap()));

    // ---- It moves to kim: a reason is required ----
    page.set("cr-partner", "kim").await;
    page.click("#credit-submit").await;
    assert!(page.field_error("cr-reason").await.contains("why"));
    assert_eq!(api.get("/v1/admin/orders/stripe:cs_spring_1").await["partner"], "jane", "refused: still jane's");
    page.set("cr-reason", "Kim's coupon was used at checkout").await;
    page.click("#credit-submit").await;
    page.wait("return document.getElementById('order-why').textContent.indexOf('Credited to kim by hand') >= 0").await;
    let moved = api.get("/v1/admin/orders/stripe:cs_spring_1").await;
    assert_eq!((moved["partner"].as_str(), moved["credited_by"].as_str()), (Some("kim"), Some("manual")));
    let kinds: Vec<(&str, &str, i64)> = moved["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["partner"].as_str().unwrap(), e["kind"].as_str().unwrap(), e["amount_minor"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("jane", "earned", 3970), ("kim", "earned", 1190), ("jane", "move", -3970), ("kim", "move", -1190), ("kim", "earned", 3970)]
    );
    page.wait("return document.querySelectorAll('#order-credits tr').length === 2").await;
    page.shot("admin-orders.png").await;

    // ---- Kim's tier share on the second order is voided ----
    page.tab("commissions").await;
    page.set("cf-state", "approved").await;
    page.click("#commission-filter button[type=submit]").await;
    let tier = api.get("/v1/admin/commissions?partner=kim&state=approved").await["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "tier2")
        .unwrap()
        .clone();
    let entry = tier["entry_id"].as_i64().unwrap();
    page.wait(&format!("return document.querySelector('#commissions tr[data-entry=\"{entry}\"] [data-action=void]') !== null")).await;
    page.click(&format!("#commissions tr[data-entry=\"{entry}\"] [data-action=void]")).await;
    page.wait(&format!("return !!document.getElementById('reason-void-{entry}')")).await;
    page.click(&format!("#commissions tr[data-entry=\"{entry}\"] form button[type=submit]")).await;
    assert!(page.field_error(&format!("reason-void-{entry}")).await.contains("why"));
    page.set(&format!("reason-void-{entry}"), "Duplicate of a phone order").await;
    page.click(&format!("#commissions tr[data-entry=\"{entry}\"] form button[type=submit]")).await;
    page.wait(&format!("return document.querySelector('#commissions tr[data-entry=\"{entry}\"]') === null")).await;
    let voided = api.get("/v1/admin/commissions?partner=kim&state=voided").await;
    assert_eq!(voided["commissions"][0]["entry_id"], entry);
    page.set("cf-state", "").await;
    page.click("#commission-filter button[type=submit]").await;
    page.wait("return document.querySelectorAll('#commissions tr[data-entry]').length === 5").await;
    page.shot("admin-commissions.png").await;

    // ---- A payout run ----
    page.tab("payouts").await;
    page.set("min", "a lot").await;
    page.click("#pay").await;
    assert!(page.field_error("min").await.contains("amount"));
    assert_eq!(api.get("/v1/admin/payouts").await["runs"], json!([]));
    page.set("min", "0").await;
    page.click("#pay").await;
    page.wait("return document.querySelectorAll('#runs tr[data-run]').length === 1").await;
    let runs = api.get("/v1/admin/payouts").await;
    let lines = runs["runs"][0]["lines"].as_array().unwrap().clone();
    let shown = page.rows("payouts").await;
    assert_eq!(shown.len(), lines.len());
    for (row, line) in shown.iter().zip(&lines) {
        assert_eq!((row[0].as_str(), row[3].clone()), (line["partner"].as_str().unwrap(), usd(line["amount_minor"].as_i64().unwrap())));
    }
    // Jane: her second order's 29.70. Kim: the moved order's 39.70 (her voided tier share pays nothing).
    let paid: Vec<(&str, i64)> = lines.iter().map(|l| (l["partner"].as_str().unwrap(), l["amount_minor"].as_i64().unwrap())).collect();
    assert_eq!(paid, [("jane", 2970), ("kim", 3970)]);
    page.shot("admin-payouts.png").await;

    // ---- Every partner's figures on the Partners page are the API's ----
    page.tab("partners").await;
    page.wait("return document.querySelectorAll('#partners tr[data-partner]').length === 2").await;
    let report = api.get(&format!("/v1/admin/report?{}", last_30_days())).await;
    let rows = page.rows("partners").await;
    for (row, p) in rows.iter().zip(report["partners"].as_array().unwrap()) {
        assert_eq!(row[0], p["partner"].as_str().unwrap());
        assert_eq!((row[3].clone(), row[5].clone()), (p["hits"].to_string(), p["orders"].to_string()));
        assert_eq!(row[7], usd(p["commission_minor"].as_i64().unwrap()));
        let b = &p["balances"][0];
        assert_eq!(
            (row[11].clone(), row[12].clone()),
            (usd(b["paid_minor"].as_i64().unwrap()), usd(b["balance_minor"].as_i64().unwrap())),
            "{}",
            row[0]
        );
    }
    page.click("#partners tr[data-partner=kim] button").await;
    page.wait("return document.querySelectorAll('#partner-entries tr[data-entry]').length > 0").await;
    page.shot("admin-partners.png").await;
    page.tab("notices").await;
    page.wait("return document.querySelectorAll('#notices tr[data-notice]').length === 1").await;
    assert!(page.text("#notices").await.contains("dispute opened"));
    assert_eq!(page.text("#notice-count").await, "1");
    page.shot("admin-notices.png").await;
    page.tab("links").await;
    page.wait("return (document.querySelector('#links tr[data-link=spring]') || {cells: []}).cells.length > 0").await;
    let spring = &page.rows("links").await[0];
    let listed = api.get(&format!("/v1/admin/links?{}", last_30_days())).await;
    assert_eq!((spring[4].clone(), spring[6].clone()), (listed[0]["hits"].to_string(), listed[0]["orders"].to_string()));
    page.shot("admin-links.png").await;
    // On a phone.
    page.b.client.set_window_size(390, 844).await.unwrap();
    page.tab("orders").await;
    page.b.screenshot(&docs("admin-phone.png")).await.unwrap();
    let overflow = page.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
    assert_eq!(overflow, true, "nothing but tables scrolls sideways on a phone");
    page.b.client.set_window_size(1280, 900).await.unwrap();

    // ---- Kim, in her Partner Center, sees the moved order, the voided commission, the resources ----
    let partner = &visitor;
    partner.b.client.goto(&kim_url).await.unwrap();
    partner.wait("return document.querySelectorAll('#entries tr[data-entry]').length > 0 && document.querySelectorAll('#resources [data-resource]').length === 2").await;
    let ledger_rows = partner.rows("entries").await;
    let texts: Vec<String> = ledger_rows.iter().map(|r| r[2].clone()).collect();
    assert!(texts.iter().any(|t| t == "sale commission (credited by hand: Kim's coupon was used at checkout)"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "order moved to another partner: Kim's coupon was used at checkout"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "commission voided: Duplicate of a phone order"), "{texts:?}");
    let kim_token = kim_url.split("#token=").nth(1).unwrap();
    let own = api.get_as(kim_token, "/v1/partners/kim/ledger").await;
    let b = &own["balances"][0];
    for (id, key) in [("earned", "earned_minor"), ("paid", "paid_minor"), ("reversed", "reversed_minor"), ("balance", "balance_minor")] {
        assert_eq!(partner.text(&format!("#bal-{id} .value")).await, usd(b[key].as_i64().unwrap()), "{id}");
    }
    let html = partner.js("return document.querySelector('#resources [data-resource] textarea.html').value").await;
    assert!(html.as_str().unwrap().contains(&format!("href=\"{}/go/spring?aff=kim\"", track.base)), "{html}");
    let text = partner.js("return document.querySelectorAll('#resources [data-resource]')[1].querySelector('textarea.text').value").await;
    assert_eq!(text, format!("The course that changed my year: {}/go/spring?aff=kim", track.base));
    partner.b.full_page_screenshot(&docs("partner-center-resources.png")).await.unwrap();
    // Jane sees her moved order too.
    partner.b.client.goto(&jane_url).await.unwrap();
    partner
        .wait("return document.getElementById('who').textContent.indexOf('jane') >= 0 && document.querySelectorAll('#entries tr[data-entry]').length > 0 && document.getElementById('entries').textContent.indexOf('voided') < 0")
        .await;
    let texts: Vec<String> = partner.rows("entries").await.iter().map(|r| r[2].clone()).collect();
    assert!(texts.iter().any(|t| t == "order moved to another partner: Kim's coupon was used at checkout"), "{texts:?}");
    visitor.b.close().await.unwrap();

    // ---- A revoked admin key gets the sign-in form, not data ----
    let out = std::process::Command::new(binaries().join("reftrack"))
        .arg("--database")
        .arg(format!("sqlite://{}", track.dir.path().join("reftrack.db").display()))
        .args(["keys", "admin"])
        .output()
        .unwrap();
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    page.js("sessionStorage.clear(); return true").await;
    page.b.client.goto(&format!("{admin}#key={}", made["key"].as_str().unwrap())).await.unwrap();
    page.wait("return !document.getElementById('tab-partners').hidden").await;
    let r = api.http.delete(track.local(&format!("/v1/admin/keys/{}", made["id"]))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    page.b.client.refresh().await.unwrap();
    page.wait("return !document.getElementById('login').hidden && document.getElementById('admin').hidden").await;
    assert!(page.text("#status").await.contains("not an admin key"));
    assert_eq!(page.js("return document.querySelectorAll('#partners tr[data-partner]').length").await, 0, "no data shown");
    page.shot("admin-signin.png").await;
    let errors = page.b.console_errors().await.unwrap();
    assert!(errors.iter().all(|e| e.contains("the server responded with a status of 4")), "no script error: {errors:?}");
    page.b.close().await.unwrap();
}

/// The pages' default range: the last 30 days, as `from=…&to=…`.
fn last_30_days() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("from={}&to={today}", today - time::Duration::days(29))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_other_form_refuses_bad_input_next_to_the_field_and_changes_nothing() {
    let track = TrackServer::start(free_port()).unwrap();
    track.seed(&format!("{}/", track.base)).await.unwrap();
    let api = Api { track: &track, http: reqwest::Client::new() };
    let page = Page { b: Browser::start(false).await.unwrap() };
    page.b.client.goto(&format!("{}/admin/#key={ADMIN_KEY}", track.base)).await.unwrap();
    page.wait("return document.querySelectorAll('#partners tr[data-partner]').length === 2").await;
    let before = (api.get("/v1/admin/partners").await, api.get("/v1/partners/jane/ledger").await);

    // Editing a partner: a bad email, a loop of parents.
    page.click("#partners tr[data-partner=jane] button").await;
    page.wait("return !document.getElementById('partner-panel').hidden").await;
    page.set("pe-email", "nope").await;
    page.click("#partner-edit button[type=submit]").await;
    assert!(page.field_error("pe-email").await.contains("email"));
    page.set("pe-email", "jane@partners.example").await;
    page.set("pe-parent", "jane").await;
    page.click("#partner-edit button[type=submit]").await;
    assert!(page.field_error("pe-parent").await.contains("parent"));
    // Adjusting a balance: no amount, then no reason.
    page.set("adj-amount", "fifty").await;
    page.click("#adjust-form button[type=submit]").await;
    assert!(page.field_error("adj-amount").await.contains("amount"));
    page.set("adj-amount", "50.00").await;
    page.click("#adjust-form button[type=submit]").await;
    assert!(page.field_error("adj-reason").await.contains("why"));
    page.set("adj-currency", "XYZ").await;
    page.set("adj-reason", "bonus").await;
    page.click("#adjust-form button[type=submit]").await;
    assert!(page.field_error("adj-currency").await.contains("ISO 4217"));
    // Adding a partner whose code is taken.
    page.set("pa-code", "jane").await;
    page.set("pa-name", "Another Jane").await;
    page.set("pa-email", "jane2@partners.example").await;
    page.click("#partner-add button[type=submit]").await;
    assert!(page.field_error("pa-code").await.contains("already exists"));
    assert_eq!((api.get("/v1/admin/partners").await, api.get("/v1/partners/jane/ledger").await), before);

    // A program's code is taken; a flat amount that is not one.
    page.tab("programs").await;
    page.click("#program-new").await;
    page.set("pg-code", "standard").await;
    page.click("#program-save").await;
    assert!(page.field_error("pg-code").await.contains("already exists"));
    page.set("pg-code", "flat").await;
    page.click("#pg-sale-flat").await;
    page.set("pg-flat", "ten dollars").await;
    page.click("#program-save").await;
    assert!(page.field_error("pg-flat").await.contains("amount"));
    page.set("pg-flat", "10").await;
    page.set("pg-hold", "999").await;
    page.click("#program-save").await;
    assert!(page.field_error("pg-hold").await.contains("0–365"));
    assert_eq!(api.get("/v1/admin/programs").await.as_array().unwrap().len(), 1);
    // A link's code is taken.
    page.tab("links").await;
    page.click("#link-new").await;
    page.set("ln-code", "demo").await;
    page.set("ln-destination", "https://www.merchant.test/").await;
    page.click("#link-form button[type=submit]").await;
    assert!(page.field_error("ln-code").await.contains("already exists"));
    // A resource without its image, a text without copy.
    page.tab("resources").await;
    page.set("rs-title", "Banner").await;
    page.click("#resource-form button[type=submit]").await;
    assert!(page.field_error("rs-file").await.contains("image"));
    page.click("#rs-kind-text").await;
    page.click("#resource-form button[type=submit]").await;
    assert!(page.field_error("rs-text").await.contains("copy"));
    assert_eq!(api.get("/v1/admin/resources").await["resources"], json!([]));
    // An order credited to the buyer themself.
    let order = json!({"order_id":"api:self","occurred_at":"2026-01-01T00:00:00Z","currency":"USD","total_minor":9900,
                       "customer":{"email":"jane@partners.example"},"source":"api"});
    track.post_order(&order).await.unwrap();
    page.tab("orders").await;
    page.wait("return document.querySelectorAll('#orders tr[data-order]').length === 1").await;
    page.click("#orders tr[data-order='api:self'] button").await;
    page.wait("return !document.getElementById('order-panel').hidden").await;
    assert!(page.text("#order-why").await.contains("Not credited"));
    page.set("cr-partner", "jane").await;
    page.set("cr-reason", "she says so").await;
    page.click("#credit-submit").await;
    assert!(page.field_error("cr-partner").await.contains("own purchase"));
    assert_eq!(api.get("/v1/admin/orders/api:self").await["partner"], Value::Null);
    page.b.close().await.unwrap();
}
