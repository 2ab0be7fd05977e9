//! Attribution survives what browsers and merchants do to it: one test per condition, each first
//! asserting that the condition is really in force, in a real headless Chromium on distinct sites
//! (the merchant `www.merchant.test`, its tracking domain `track.merchant.test`, a third-party
//! checkout `checkout.cartvendor.test`, a webinar tool `webinar-tool.test`). The sale is a signed
//! order the test posts as the connector would, carrying the click the checkout's form received.
//! Where a signal survives, the sale is credited to the right partner and the hit counted once;
//! where none survives, nothing is invented; no page logs an error.

use reftrack_e2e::{Browser, Cookies, Lab};
use serde_json::{json, Value};

/// Errors seen along a journey: each page's `window.__errors` and the browser's console.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    /// Collects what the current page and the console reported so far.
    async fn note(&mut self, b: &Browser) {
        let page = b.eval("return window.__errors || []").await.unwrap();
        self.0.extend(page.as_array().into_iter().flatten().filter_map(|e| e.as_str()).map(str::to_owned));
        self.0.extend(b.console_errors().await.unwrap());
    }

    async fn assert_none(mut self, b: &Browser) {
        self.note(b).await;
        assert!(self.0.is_empty(), "errors on the pages: {:?}", self.0);
    }
}

/// What a cross-site frame could do with a `SameSite=None` cookie: `allowed` or `blocked`.
async fn third_party_cookies(lab: &Lab, b: &Browser) -> String {
    b.client.goto(&lab.sites.url("www.merchant.test", "/probe.html")).await.unwrap();
    b.wait_for("return window.__thirdParty !== null").await.unwrap();
    b.eval("return window.__thirdParty").await.unwrap().as_str().unwrap().to_owned()
}

async fn cookie(b: &Browser, name: &str) -> Value {
    b.eval(&format!("var m = document.cookie.match(/(?:^|; ){name}=([^;]*)/); return m ? m[1] : null;")).await.unwrap()
}

/// The snippet's requests to the tracking server from this page (`/v1/lookup`, `/v1/touch`…).
async fn server_requests(b: &Browser) -> Vec<String> {
    let names = b
        .eval("return performance.getEntriesByType('resource').map(function (e) { return e.name; }).filter(function (n) { return n.indexOf('/v1/') >= 0; })")
        .await
        .unwrap();
    names.as_array().into_iter().flatten().filter_map(|n| n.as_str()).map(str::to_owned).collect()
}

/// Deletes what Safari deletes after seven days: every cookie a script can see (not the server's
/// HttpOnly ones) and all script storage, on the merchant's site and the checkout's; asserts it is gone.
async fn expire_script_storage(lab: &Lab, b: &Browser) {
    for host in ["checkout.cartvendor.test", "www.merchant.test"] {
        b.client.goto(&lab.sites.url(host, "/probe.html")).await.unwrap();
        wipe(b).await;
    }
    let left = b.client.get_all_cookies().await.unwrap();
    assert!(left.iter().all(|c| c.http_only() == Some(true)), "only HttpOnly cookies are left: {left:?}");
}

async fn wipe(b: &Browser) {
    b.eval(
        "document.cookie.split('; ').forEach(function (c) { var n = c.split('=')[0];
           ['', '; Domain=merchant.test'].forEach(function (d) { document.cookie = n + '=; Max-Age=0; Path=/' + d; }); });
         localStorage.clear(); sessionStorage.clear();",
    )
    .await
    .unwrap();
    assert_eq!(b.eval("return document.cookie + localStorage.length + sessionStorage.length").await.unwrap(), "00");
}

/// From the merchant's landing page (open) through its checkout link to the third-party checkout,
/// paying with `email`: the click the checkout's form carried (empty for none).
async fn checkout(lab: &Lab, b: &Browser, errors: &mut Errors, email: &str) -> String {
    b.wait_for("return typeof reftrack === 'function'").await.unwrap();
    b.eval("return reftrack.affiliate()").await.unwrap();
    errors.note(b).await;
    b.eval("document.getElementById('checkout').click()").await.unwrap();
    b.wait_for("return location.hostname === 'checkout.cartvendor.test' && typeof reftrack === 'function'").await.unwrap();
    b.eval("return reftrack.affiliate()").await.unwrap();
    errors.note(b).await;
    b.eval(&format!("document.getElementById('email').value = '{email}'; document.getElementById('paybtn').click()")).await.unwrap();
    b.wait_for("return !!document.getElementById('done')").await.unwrap();
    let paid = lab.sites.submissions().into_iter().rev().find(|s| s.host == "checkout.cartvendor.test" && s.path == "pay").unwrap();
    paid.fields.get("rt_click").cloned().unwrap_or_default()
}

/// The cart's order, signed and posted as the connector would, with the click the checkout received.
async fn sell(lab: &Lab, order: &str, email: &str, click: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let attribution = if click.is_empty() { json!({}) } else { json!({"click_id": click}) };
    let order = json!({
        "order_id": format!("cartvendor:{order}"), "occurred_at": now, "currency": "USD",
        "items": [{"sku": "course", "name": "The Course", "quantity": 1, "unit_price_minor": 9900}], "total_minor": 9900,
        "customer": {"email": email}, "attribution": attribution, "source": "cartvendor"
    });
    lab.track.post_order(&order).await.unwrap()
}

/// The sale was credited to jane, and her link's hit counted once.
async fn assert_credited_to_jane(lab: &Lab, answer: &Value) {
    assert_eq!((answer["status"].as_str(), answer["partner"].as_str()), (Some("attributed"), Some("jane")), "{answer}");
    let stats = lab.track.stats("jane").await.unwrap();
    assert_eq!((stats["hits"].as_i64(), stats["orders"].as_i64()), (Some(1), Some(1)), "{stats}");
}

/// A link whose destination is the landing page in a variant (`?mode=consent`…).
async fn link_to_landing(lab: &Lab, code: &str, mode: &str) {
    let destination = lab.sites.url("www.merchant.test", &format!("/landing.html?mode={mode}"));
    lab.track.add_link(json!({"code": code, "destination": destination, "programs": ["standard"]})).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn in_chromes_default_with_third_party_cookies_the_sale_is_credited_to_the_partner() {
    let lab = Lab::start_with(Cookies::ThirdPartyAllowed, &[]).await.unwrap();
    let b = &lab.browser;
    assert_eq!(third_party_cookies(&lab, b).await, "allowed");
    let mut errors = Errors::default();
    let click = lab.click("jane", None).await.unwrap();
    assert!(cookie(b, "rt_ref").await.as_str().unwrap().contains(&click));
    let carried = checkout(&lab, b, &mut errors, "buyer@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "default", "buyer@example.com", &carried).await).await;
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_third_party_cookies_blocked_the_third_party_checkout_still_carries_the_click() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let b = &lab.browser;
    assert_eq!(third_party_cookies(&lab, b).await, "blocked");
    let mut errors = Errors::default();
    let click = lab.click("jane", None).await.unwrap();
    assert!(cookie(b, "rt_ref").await.as_str().unwrap().contains(&click), "first-party cookies still work");
    let carried = checkout(&lab, b, &mut errors, "buyer@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "blocked", "buyer@example.com", &carried).await).await;
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_safari_deletes_script_storage_the_servers_cookie_brings_the_click_back_to_a_typed_visit() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    let click = lab.click("jane", None).await.unwrap();
    errors.note(b).await;
    expire_script_storage(&lab, b).await;
    let server_cookie = b.client.get_all_cookies().await.unwrap().into_iter().find(|c| c.name() == "rt_click").unwrap();
    assert_eq!(server_cookie.value(), click, "the server's HttpOnly cookie survived");

    // The visitor comes back by typing the merchant's address: no click in the URL, nothing stored.
    b.open(&lab.sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    // Unasked: the snippet recovers the click, stores it and decorates the checkout link itself.
    b.wait_for(&format!("return document.getElementById('checkout').href.indexOf('rt_click={click}') > 0")).await.unwrap();
    assert_eq!(b.eval("return reftrack.affiliate()").await.unwrap()["partner"], "jane");
    let lookups: Vec<String> = server_requests(b).await.into_iter().filter(|r| r.contains("/v1/lookup")).collect();
    assert_eq!(lookups.len(), 1, "one small request: {lookups:?}");
    assert!(cookie(b, "rt_ref").await.as_str().unwrap().contains(&click), "stored again");
    let carried = checkout(&lab, b, &mut errors, "returning@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "safari", "returning@example.com", &carried).await).await;
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_cookies_off_entirely_the_click_rides_the_checkout_link_alone() {
    let lab = Lab::start_with(Cookies::Off, &[]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    let click = lab.click("jane", None).await.unwrap();
    let kept = b.eval("document.cookie = 'rt_probe=1; Path=/'; return document.cookie.indexOf('rt_probe=1') >= 0").await.unwrap();
    assert_eq!(kept, false, "the page cannot keep a cookie");
    assert!(b.client.get_all_cookies().await.unwrap().is_empty(), "the browser kept no cookie");
    let stored = b.eval("try { return localStorage.length } catch (e) { return 'refused' }").await.unwrap();
    assert_eq!(stored, "refused", "no script storage either");
    let carried = checkout(&lab, b, &mut errors, "private@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "off", "private@example.com", &carried).await).await;
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_consent_required_nothing_happens_until_consent_and_a_refusal_removes_what_was_kept() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    link_to_landing(&lab, "consent", "consent").await;
    b.open(&format!("{}/go/consent?aff=jane", lab.track.base)).await.unwrap();
    let before = b.eval("return reftrack.affiliate()").await.unwrap();
    let click = before["clickId"].as_str().unwrap().to_owned();
    assert_eq!(b.eval("return reftrack.lead({email: 'early@example.com'})").await.unwrap(), false);
    let href = b.eval("return document.getElementById('checkout').href").await.unwrap();
    assert!(!href.as_str().unwrap().contains("rt_click"), "no decoration before consent: {href}");
    assert_eq!(cookie(b, "rt_ref").await, Value::Null);
    assert_eq!(b.eval("return localStorage.length + sessionStorage.length").await.unwrap(), 0);
    assert_eq!(server_requests(b).await, Vec::<String>::new(), "no touch, lookup or event before consent");

    assert_eq!(b.eval("return reftrack.consent(true)").await.unwrap(), true);
    assert!(cookie(b, "rt_ref").await.as_str().unwrap().contains(&click));
    b.wait_for(&format!("return document.getElementById('checkout').href.indexOf('rt_click={click}') > 0")).await.unwrap();
    let carried = checkout(&lab, b, &mut errors, "consenting@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "consent", "consenting@example.com", &carried).await).await;

    // Later the visitor withdraws consent: what the snippet kept is removed.
    b.open(&lab.sites.url("www.merchant.test", "/landing.html?mode=consent")).await.unwrap();
    b.eval("return reftrack.consent(true)").await.unwrap();
    assert!(cookie(b, "rt_ref").await.is_string());
    assert_eq!(b.eval("return reftrack.consent(false)").await.unwrap(), true);
    assert_eq!(cookie(b, "rt_ref").await, Value::Null);
    assert_eq!(b.eval("return [localStorage.getItem('rt_ref'), localStorage.getItem('rt_conv')]").await.unwrap(), json!([null, null]));
    assert_eq!(b.eval("return reftrack.affiliate()").await.unwrap(), Value::Null);
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cookieless_mode_stores_nothing_never_asks_the_server_for_a_cookie_and_still_credits_the_sale() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    link_to_landing(&lab, "cookieless", "nocookie").await;
    b.open(&format!("{}/go/cookieless?aff=jane", lab.track.base)).await.unwrap();
    let click = b.eval("return reftrack.affiliate()").await.unwrap()["clickId"].as_str().unwrap().to_owned();
    assert_eq!(cookie(b, "rt_ref").await, Value::Null);
    assert_eq!(b.eval("return localStorage.length + sessionStorage.length").await.unwrap(), 0);
    let touches: Vec<String> = server_requests(b).await.into_iter().filter(|r| r.contains("/v1/touch")).collect();
    assert!(touches.is_empty(), "{touches:?}");
    let carried = checkout(&lab, b, &mut errors, "cookieless@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "cookieless", "cookieless@example.com", &carried).await).await;
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_server_setting_no_cookies_the_link_carries_the_sale_and_a_wiped_browser_invents_nothing() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[("REFTRACK_COOKIES", "off")]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    let click = lab.click("jane", None).await.unwrap();
    let names: Vec<String> = b.client.get_all_cookies().await.unwrap().iter().map(|c| c.name().to_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with("rt_click")), "the server set no cookie: {names:?}");
    let carried = checkout(&lab, b, &mut errors, "first@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "nocookies1", "first@example.com", &carried).await).await;

    // Script storage expires too: no signal is left, and none is made up.
    expire_script_storage(&lab, b).await;
    b.open(&lab.sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    assert_eq!(b.eval("return reftrack.affiliate()").await.unwrap(), Value::Null);
    let carried = checkout(&lab, b, &mut errors, "second@example.com").await;
    assert_eq!(carried, "", "the checkout received no click");
    let answer = sell(&lab, "nocookies2", "second@example.com", &carried).await;
    assert_eq!(answer["status"], "unattributed", "{answer}");
    assert_eq!(lab.track.stats("jane").await.unwrap()["orders"], 1);
    errors.assert_none(b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_who_opts_in_on_one_browser_and_buys_on_another_is_credited_through_the_lead() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let (phone, mut errors) = (&lab.browser, Errors::default());
    lab.click("jane", Some("webinar")).await.unwrap();
    phone.eval("document.getElementById('webinar').click()").await.unwrap();
    phone.wait_for("return location.hostname === 'webinar-tool.test' && typeof reftrack === 'function'").await.unwrap();
    phone.wait_for("return document.querySelector('#reg input[name=affiliate]').value === 'jane'").await.unwrap();
    errors.note(phone).await;
    phone.eval("document.getElementById('email').value = 'fan@example.com'; document.getElementById('register').click()").await.unwrap();
    phone.wait_for("return !!document.getElementById('done')").await.unwrap();
    lab.wait_for_stat("jane", "opt_ins", 1).await.unwrap();
    errors.assert_none(phone).await;
    // The browser's own opt-in came from a third-party site without the click's cookie: it counts
    // as an opt-in but cannot bind the email (anyone can send one). The tool's webhook, signed
    // through the connector with the click its hidden field received, does.
    let registered = lab.sites.submissions().into_iter().rev().find(|s| s.host == "webinar-tool.test").unwrap();
    let tool_click = registered.fields.get("rt_click").cloned().unwrap_or_default();
    assert!(!tool_click.is_empty(), "the tool's hidden field carried the click: {registered:?}");
    let lead = json!({"email": "fan@example.com", "click_id": tool_click, "source": "webinarjam", "lead_id": "reg-1"});
    lab.track.post_lead(&lead).await.unwrap();

    // The laptop never saw the click.
    let laptop = Browser::start_with(Cookies::ThirdPartyBlocked).await.unwrap();
    let mut errors = Errors::default();
    laptop.open(&lab.sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    assert_eq!(laptop.eval("return reftrack.affiliate()").await.unwrap(), Value::Null);
    let carried = checkout(&lab, &laptop, &mut errors, "fan@example.com").await;
    assert_eq!(carried, "");
    assert_credited_to_jane(&lab, &sell(&lab, "laptop", "fan@example.com", &carried).await).await;
    errors.assert_none(&laptop).await;
    laptop.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_preview_fetched_before_the_person_is_not_a_hit_and_the_persons_click_is() {
    let lab = Lab::start_with(Cookies::ThirdPartyBlocked, &[]).await.unwrap();
    let b = &lab.browser;
    let mut errors = Errors::default();
    let preview = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
        .build()
        .unwrap();
    let fetched = preview.get(lab.track.local("/go/demo?aff=jane")).send().await.unwrap();
    assert_eq!(fetched.status(), 302, "the preview is redirected");
    assert!(fetched.headers().get("set-cookie").is_none(), "and given no click");
    assert!(!fetched.headers()["location"].to_str().unwrap().contains("rt_click"));
    let head = preview.head(lab.track.local("/go/demo?aff=jane")).send().await.unwrap();
    assert_eq!(head.status(), 302);
    assert_eq!(lab.track.stats("jane").await.unwrap()["hits"], 0, "no hit from the preview");

    let click = lab.click("jane", None).await.unwrap();
    let carried = checkout(&lab, b, &mut errors, "person@example.com").await;
    assert_eq!(carried, click);
    assert_credited_to_jane(&lab, &sell(&lab, "preview", "person@example.com", &carried).await).await;
    errors.assert_none(b).await;
}
