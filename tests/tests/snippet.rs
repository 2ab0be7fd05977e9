//! The snippet in a real headless Chromium, on pages of distinct sites, against the real server.

use reftrack_e2e::Lab;
use serde_json::{json, Value};

async fn cookie_value(lab: &Lab, name: &str) -> Value {
    lab.browser.eval(&format!("var m = document.cookie.match(/(?:^|; ){name}=([^;]*)/); return m ? m[1] : null;")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tracking_link_click_is_captured_first_party_and_removed_from_the_address_bar() {
    let lab = Lab::start(false).await.unwrap();
    let click = lab.click("jane", Some("newsletter")).await.unwrap();
    let affiliate = lab.browser.eval("return reftrack.affiliate()").await.unwrap();
    assert_eq!(affiliate["partner"], "jane");
    assert_eq!(affiliate["subId"], "newsletter");
    assert!(affiliate["expiresAt"].as_str().unwrap().ends_with('Z'));
    let stored = cookie_value(&lab, "rt_ref").await;
    assert!(stored.as_str().unwrap().starts_with(&format!("1.{click}.jane.newsletter.")), "{stored}");
    let local = lab.browser.eval("return localStorage.getItem('rt_ref')").await.unwrap();
    assert_eq!(local, stored);
    assert_eq!(lab.browser.eval("return location.protocol").await.unwrap(), "https:");
    let search = lab.browser.eval("return location.search").await.unwrap();
    assert!(!search.as_str().unwrap().contains("rt_click"), "{search}");
    // The server's own HttpOnly cookie covers the merchant's site (Domain=merchant.test).
    let cookies = lab.browser.client.get_all_cookies().await.unwrap();
    let server = cookies.iter().find(|c| c.name() == "rt_click").expect("server cookie");
    assert_eq!((server.value(), server.http_only(), server.secure()), (click.as_str(), Some(true), Some(true)));
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    assert_eq!(lab.track.stats("jane").await.unwrap()["hits"], 1);
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_links_and_forms_carry_the_click_and_stripe_links_a_client_reference_id() {
    let lab = Lab::start(false).await.unwrap();
    let click = lab.click("jane", None).await.unwrap();
    let href = |id: &str| format!("return document.getElementById('{id}').href");
    let checkout = lab.browser.eval(&href("checkout")).await.unwrap();
    assert!(checkout.as_str().unwrap().ends_with(&format!("pay.html?product=course&rt_click={click}")), "{checkout}");
    let stripe = lab.browser.eval(&href("stripe")).await.unwrap();
    assert_eq!(stripe, format!("https://buy.stripe.com/test_123?rt_click={click}&client_reference_id={click}"));
    let blog = lab.browser.eval(&href("blog")).await.unwrap();
    assert!(!blog.as_str().unwrap().contains("rt_click"), "not a checkout: {blog}");
    let field = lab.browser.eval("var i = document.querySelector('#cart input[name=rt_click]'); return i && i.value").await.unwrap();
    assert_eq!(field, click.as_str(), "a GET form carries the click as a field");
    let decorated = lab.browser.eval("return reftrack.decorate('https://tool.example/build?x=1')").await.unwrap();
    assert_eq!(decorated, format!("https://tool.example/build?x=1&rt_click={click}"));
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_party_tool_gets_its_hidden_fields_filled_and_its_opt_in_counts() {
    let lab = Lab::start(false).await.unwrap();
    let click = lab.click("jane", Some("webinar")).await.unwrap();
    lab.browser.eval("document.getElementById('webinar').click()").await.unwrap();
    lab.browser.wait_for("return location.hostname === 'webinar-tool.test' && typeof reftrack === 'function'").await.unwrap();
    // The partner behind the decorated click is looked up from the tracking domain.
    lab.browser.wait_for("return document.querySelector('#reg input[name=affiliate]').value === 'jane'").await.unwrap();
    let click_field = lab.browser.eval("return document.querySelector('#reg input[name=rt_click]').value").await.unwrap();
    assert_eq!(click_field, click.as_str());
    // A form the tool renders later is filled too.
    lab.browser
        .wait_for("var i = document.querySelector('#late input[name=affiliate_id]'); return !!i && i.value === 'jane'")
        .await
        .unwrap();
    let sub = lab.browser.eval("return document.querySelector('#late input[data-reftrack=sub_id]').value").await.unwrap();
    assert_eq!(sub, "webinar");
    lab.browser
        .eval("document.getElementById('email').value = 'Visitor@Example.com'; document.getElementById('register').click()")
        .await
        .unwrap();
    lab.browser.wait_for("return !!document.getElementById('done')").await.unwrap();
    let submitted = lab.sites.submissions();
    assert_eq!(submitted[0].fields["affiliate"], "jane", "the tool received the affiliate id");
    let stats = lab.wait_for_stat("jane", "opt_ins", 1).await.unwrap();
    assert_eq!(stats["by_sub_id"][0]["sub_id"], "webinar");
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_click_wins_and_first_click_mode_keeps_the_first() {
    let lab = Lab::start(false).await.unwrap();
    lab.click("jane", None).await.unwrap();
    lab.click("john", None).await.unwrap();
    assert_eq!(lab.browser.eval("return reftrack.affiliate()").await.unwrap()["partner"], "john");

    let first = lab.sites.url("www.merchant.test", "/landing.html?mode=first");
    lab.track.add_link(json!({"code": "first", "destination": first})).await.unwrap();
    let fresh = reftrack_e2e::Browser::start(false).await.unwrap();
    for partner in ["jane", "john"] {
        fresh.open(&format!("{}/go/first?aff={partner}", lab.track.base)).await.unwrap();
        fresh.eval("return reftrack.affiliate()").await.unwrap();
    }
    assert_eq!(fresh.eval("return reftrack.affiliate()").await.unwrap()["partner"], "jane");
    fresh.close().await.unwrap();
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_values_in_the_address_are_ignored_and_never_stored() {
    let lab = Lab::start(false).await.unwrap();
    let url = lab.sites.url("www.merchant.test", "/landing.html?rt_click=short&aff=ja%20ne&sid=%3Cx%3E");
    lab.browser.open(&url).await.unwrap();
    assert_eq!(lab.browser.eval("return reftrack.affiliate()").await.unwrap(), Value::Null);
    assert_eq!(cookie_value(&lab, "rt_ref").await, Value::Null);
    assert_eq!(lab.browser.eval("return localStorage.getItem('rt_ref')").await.unwrap(), Value::Null);
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_required_mode_stores_and_sends_nothing_before_consent() {
    let lab = Lab::start(false).await.unwrap();
    let click = lab.click("jane", None).await.unwrap();
    lab.browser.eval("localStorage.clear(); document.cookie = 'rt_ref=; Max-Age=0; Path=/'").await.unwrap();
    let url = lab.sites.url("www.merchant.test", &format!("/landing.html?mode=consent&rt_click={click}"));
    lab.browser.open(&url).await.unwrap();
    lab.browser.eval("return reftrack.affiliate()").await.unwrap();
    assert_eq!(cookie_value(&lab, "rt_ref").await, Value::Null);
    assert_eq!(lab.browser.eval("return localStorage.getItem('rt_ref')").await.unwrap(), Value::Null);
    assert_eq!(lab.browser.eval("return reftrack.lead({email: 'a@example.com'})").await.unwrap(), false);
    assert_eq!(lab.browser.eval("return reftrack.consent(true)").await.unwrap(), true);
    assert!(cookie_value(&lab, "rt_ref").await.as_str().unwrap().contains(&click));
    assert_eq!(lab.browser.eval("return reftrack.lead({email: 'a@example.com'})").await.unwrap(), true);
    lab.wait_for_stat("jane", "opt_ins", 1).await.unwrap();
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_confirmation_page_reports_its_conversion_once() {
    let lab = Lab::start(false).await.unwrap();
    lab.click("jane", None).await.unwrap();
    let thanks = lab.sites.url("www.merchant.test", "/thanks.html?order=cs_test_1");
    lab.browser.open(&thanks).await.unwrap();
    assert_eq!(lab.browser.eval("return window.__conversion").await.unwrap(), true, "queued call replayed and sent");
    lab.browser.client.refresh().await.unwrap();
    lab.browser.wait_for("return typeof reftrack === 'function'").await.unwrap();
    assert_eq!(lab.browser.eval("return window.__conversion").await.unwrap(), false, "not sent again");
    let stats = lab.wait_for_stat("jane", "unverified_conversions", 1).await.unwrap();
    assert_eq!(stats["orders"], 0);
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cookieless_mode_keeps_the_click_in_memory_and_in_decorated_links() {
    let lab = Lab::start(false).await.unwrap();
    let click = lab.click("jane", None).await.unwrap();
    lab.browser.eval("localStorage.clear(); document.cookie = 'rt_ref=; Max-Age=0; Path=/'").await.unwrap();
    lab.browser.open(&lab.sites.url("www.merchant.test", &format!("/landing.html?mode=nocookie&rt_click={click}"))).await.unwrap();
    assert_eq!(lab.browser.eval("return reftrack.affiliate()").await.unwrap()["partner"], "jane");
    assert_eq!(cookie_value(&lab, "rt_ref").await, Value::Null);
    assert_eq!(lab.browser.eval("return localStorage.getItem('rt_ref')").await.unwrap(), Value::Null);
    let checkout = lab.browser.eval("return document.getElementById('checkout').href").await.unwrap();
    assert!(checkout.as_str().unwrap().contains(&click));
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_that_refuses_cookies_is_still_credited_through_link_decoration() {
    let lab = Lab::start(true).await.unwrap();
    let click = lab.click("jane", None).await.unwrap();
    assert_eq!(cookie_value(&lab, "rt_ref").await, Value::Null);
    let checkout = lab.browser.eval("return document.getElementById('checkout').href").await.unwrap();
    assert!(checkout.as_str().unwrap().contains(&click), "{checkout}");
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_its_wasm_the_page_works_and_every_method_resolves_to_its_fallback() {
    let lab = Lab::start(false).await.unwrap();
    lab.browser.open(&lab.sites.url("broken.test", "/page.html")).await.unwrap();
    let results = lab
        .browser
        .eval("return Promise.all([reftrack.affiliate(), reftrack.lead({email: 'a@b.co'}), reftrack.conversion({orderId: 'o', amountMinor: 1, currency: 'USD'}), reftrack.decorate('https://x.test/'), reftrack('nope')])")
        .await
        .unwrap();
    assert_eq!(results, json!([null, false, false, "https://x.test/", null]));
    assert_eq!(lab.browser.eval("return document.getElementById('ok').textContent").await.unwrap(), "The page works.");
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    let globals =
        lab.browser.eval("return Object.keys(window).filter(function (k) { return /wasm|bindgen|reftrack/i.test(k); })").await.unwrap();
    assert_eq!(globals, json!(["reftrack"]), "no globals besides window.reftrack");
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_asking_for_the_referral_at_once_gets_the_partner_behind_a_fresh_click() {
    let lab = Lab::start(false).await.unwrap();
    let early = lab.sites.url("www.merchant.test", "/early.html");
    lab.track.add_link(json!({"code": "early", "destination": early})).await.unwrap();
    lab.browser.open(&format!("{}/go/early?aff=jane&sid=yt", lab.track.base)).await.unwrap();
    let early = lab.browser.eval("return window.__early").await.unwrap();
    assert_eq!((early["partner"].as_str(), early["subId"].as_str()), (Some("jane"), Some("yt")), "{early}");
    lab.browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_embeds_and_carts_links_carry_the_click_where_each_returns_it_with_no_merchant_code() {
    let lab = Lab::start(false).await.unwrap();
    lab.track.add_link(json!({"code": "tools", "destination": lab.sites.url("www.merchant.test", "/tools.html")})).await.unwrap();
    lab.browser.open(&format!("{}/go/tools?aff=jane", lab.track.base)).await.unwrap();
    let click = lab.browser.eval("return reftrack.affiliate().then(function (a) { return a.clickId; })").await.unwrap();
    let click = click.as_str().unwrap().to_owned();
    lab.browser.wait_for("var f = document.getElementById('tally-frame'); return !!f && f.src.indexOf('rt_click=') > 0").await.unwrap();
    let found = lab
        .browser
        .eval(
            "var at = function (id, name) { return document.getElementById(id).getAttribute(name || 'href'); };
             var q = function (id, key, name) { return new URL(at(id, name)).searchParams.get(key); };
             return {
               tfWidget: at('tf-widget', 'data-tf-hidden'), tfPopup: at('tf-popup', 'data-tf-hidden'),
               typeform: new URLSearchParams(new URL(at('typeform')).hash.slice(1)).get('rt_click'),
               tally: q('tally', 'rt_click'), tallyLazy: q('tally-lazy', 'rt_click', 'data-tally-src'),
               tallyFrame: q('tally-frame', 'rt_click', 'src'),
               calendly: q('calendly', 'utm_content'), calendlyInline: q('calendly-inline', 'utm_content', 'data-url'),
               zoom: q('zoom', 'rt_click'), zoomJoin: at('zoom-join'), webinarjam: q('webinarjam', 'rt_click'),
               stripe: q('stripe', 'client_reference_id'), lemonsqueezy: q('lemonsqueezy', 'checkout[custom][rt_click]'),
               gumroad: q('gumroad', 'rt_click'), polar: q('polar', 'reference_id'),
               thrivecart: q('thrivecart', 'passthrough[rt_click]'), samcart: q('samcart', 'rt_click'), elsewhere: at('elsewhere')
             };",
        )
        .await
        .unwrap();
    let c = click.as_str();
    assert_eq!(
        found,
        json!({
            "tfWidget": format!("rt_click={c}"), "tfPopup": format!("utm_source=newsletter,rt_click={c}"), "typeform": c,
            "tally": c, "tallyLazy": c, "tallyFrame": c, "calendly": c, "calendlyInline": c,
            "zoom": c, "zoomJoin": "https://zoom.us/j/123456", "webinarjam": c,
            "stripe": c, "lemonsqueezy": c, "gumroad": c, "polar": c, "thrivecart": c, "samcart": c,
            "elsewhere": "https://news.example/article"
        })
    );
    // The iframe added later was decorated before it loaded: its one request carried the click.
    // (Its src is decorated at once; the request may reach the sites a moment later. Had it
    // loaded undecorated first, that request would be the first here.)
    let tally_loads = || -> Vec<String> { lab.sites.requests().into_iter().filter(|r| r.host == "tally.so").map(|r| r.target).collect() };
    let waited = std::time::Instant::now();
    while tally_loads().is_empty() && waited.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let loads = tally_loads();
    assert_eq!(loads, vec![format!("/embed/wMx?transparentBackground=1&rt_click={c}")]);
    // A Calendly popup opened by the page's own code gets the click too.
    lab.browser.eval("document.getElementById('calendly-popup').click()").await.unwrap();
    let popup = lab.browser.eval("return window.__calendlyPopup").await.unwrap();
    assert_eq!(popup, format!("https://calendly.com/acme/demo?utm_content={c}"));
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    assert_eq!(lab.browser.console_errors().await.unwrap(), Vec::<String>::new());
    lab.browser.close().await.unwrap();
}
