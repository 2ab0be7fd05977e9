//! The whole journey as merchants and partners live it: a partner's link, a third-party webinar
//! tool, a third-party checkout whose Stripe-signed webhook reaches the connector, the merchant's
//! confirmation page, and the partner's stats — in a real browser across distinct sites.

use reftrack_connector::carts::stripe;
use reftrack_e2e::sites::CartVendor;
use reftrack_e2e::*;
use serde_json::{json, Value};

struct World {
    lab: Lab,
    connector: ConnectorProcess,
    _outbox: tempfile::TempDir,
}

async fn world(block_cookies: bool) -> World {
    let lab = Lab::start(block_cookies).await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let connector = ConnectorProcess::start(&lab.track.local(""), &outbox.path().join("outbox.db"), &[]).unwrap();
    lab.sites.set_cart_vendor(CartVendor { connector: connector.base.clone(), stripe_secret: STRIPE_SECRET.into() });
    World { lab, connector, _outbox: outbox }
}

/// From the merchant's landing page: through the decorated link to the cart, pay, and land on the
/// merchant's confirmation page (which fires the conversion pixel).
async fn buy(lab: &Lab, email: &str) -> String {
    let b = &lab.browser;
    b.wait_for("return typeof reftrack === 'function'").await.unwrap();
    b.eval("return reftrack.affiliate()").await.unwrap();
    b.eval("document.getElementById('checkout').click()").await.unwrap();
    b.wait_for("return location.hostname === 'checkout.cartvendor.test' && typeof reftrack === 'function'").await.unwrap();
    b.eval("return reftrack.affiliate()").await.unwrap();
    b.eval(&format!("document.getElementById('email').value = '{email}'; document.getElementById('paybtn').click()")).await.unwrap();
    b.wait_for(
        "return location.hostname === 'www.merchant.test' && location.pathname === '/thanks.html' && typeof reftrack === 'function'",
    )
    .await
    .unwrap();
    assert_eq!(b.eval("return window.__conversion").await.unwrap(), true, "the confirmation page reported the conversion");
    b.eval("return new URLSearchParams(location.search).get('order')").await.unwrap().as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partners_visitor_opts_in_on_a_webinar_tool_buys_on_a_third_party_checkout_and_is_refunded() {
    let w = world(false).await;
    let (lab, b) = (&w.lab, &w.lab.browser);

    // 1. jane's tracking link with a SubID: the click is recorded and captured on the merchant's site.
    let click = lab.click("jane", Some("webinar")).await.unwrap();

    // 2. The webinar tool's page: its hidden affiliate field is filled; the submit is jane's opt-in.
    b.eval("document.getElementById('webinar').click()").await.unwrap();
    b.wait_for("return location.hostname === 'webinar-tool.test' && typeof reftrack === 'function'").await.unwrap();
    b.wait_for("return document.querySelector('#reg input[name=affiliate]').value === 'jane'").await.unwrap();
    b.eval("document.getElementById('email').value = 'visitor@example.com'; document.getElementById('register').click()").await.unwrap();
    b.wait_for("return !!document.getElementById('done')").await.unwrap();
    let registration = lab.sites.submissions().into_iter().find(|s| s.host == "webinar-tool.test").unwrap();
    assert_eq!(registration.fields["affiliate"], "jane");
    lab.wait_for_stat("jane", "opt_ins", 1).await.unwrap();

    // 3. Back on the merchant's site later (the click is remembered there), the decorated link
    //    leads to the third-party checkout, which reads the click into its order; the cart's
    //    Stripe webhook reaches the connector.
    b.open(&lab.sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    let order = buy(lab, "visitor@example.com").await;
    let paid = lab.sites.submissions().into_iter().find(|s| s.host == "checkout.cartvendor.test").unwrap();
    assert_eq!(paid.fields["rt_click"], click, "the checkout carried the click");

    // 4. + 5. The signed order is attributed; the pixel's conversion is reconciled, not counted twice.
    let stats = lab.wait_for_stat("jane", "orders", 1).await.unwrap();
    let stats =
        if stats["unverified_conversions"] == 0 { stats } else { lab.wait_for_stat("jane", "unverified_conversions", 0).await.unwrap() };
    assert_eq!(stats["hits"], 1);
    assert_eq!(stats["opt_ins"], 1);
    assert_eq!(stats["revenue_minor"], 9900);
    assert_eq!(stats["commission_minor"], 2970);
    assert_eq!(
        stats["by_link"],
        json!([{"link": "demo", "hits": 1, "opt_ins": 1, "orders": 1, "unverified_conversions": 0, "revenue_minor": 9900, "commission_minor": 2970, "clawback_minor": 0}])
    );
    assert_eq!(stats["by_sub_id"][0]["sub_id"], "webinar");

    // A refund through the connector becomes a clawback in her stats.
    let n = order.trim_start_matches("cs_test_journey");
    let refund = json!({
        "id": "evt_refund", "object": "event", "type": "refund.created", "created": time::OffsetDateTime::now_utc().unix_timestamp(),
        "data": {"object": {"id": "re_journey", "object": "refund", "amount": 9900, "created": time::OffsetDateTime::now_utc().unix_timestamp(),
                             "payment_intent": format!("pi_journey{n}"), "status": "succeeded"}}
    });
    let body = serde_json::to_vec(&refund).unwrap();
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", w.connector.base))
        .header("stripe-signature", stripe::sign(STRIPE_SECRET, ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stats = lab.wait_for_stat("jane", "clawback_minor", 2970).await.unwrap();
    assert_eq!(stats["commission_minor"], 2970, "the earned commission stays on record; the clawback offsets it");
    assert_eq!(lab.page_errors().await.unwrap(), json!([]));
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_without_a_click_buys_unattributed_and_one_who_clicks_jane_then_john_credits_john() {
    let w = world(false).await;
    let lab = &w.lab;
    lab.browser.open(&lab.sites.url("www.merchant.test", "/landing.html")).await.unwrap();
    buy(lab, "walk-in@example.com").await;
    // The order reached the server (as unattributed) and nobody was credited.
    poll(30, "the walk-in order is recorded", || async {
        let metrics = reqwest::Client::new().get(lab.track.local("/metrics")).bearer_auth(METRICS_TOKEN).send().await?.text().await?;
        Ok(metrics.contains("reftrack_orders_total 1\n").then_some(()))
    })
    .await
    .unwrap();
    for partner in ["jane", "john"] {
        assert_eq!(lab.track.stats(partner).await.unwrap()["orders"], 0);
    }

    lab.click("jane", None).await.unwrap();
    lab.click("john", None).await.unwrap();
    buy(lab, "switcher@example.com").await;
    lab.wait_for_stat("john", "orders", 1).await.unwrap();
    let jane: Value = lab.track.stats("jane").await.unwrap();
    assert_eq!((jane["hits"].as_i64(), jane["orders"].as_i64()), (Some(1), Some(0)));
    lab.browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_whose_browser_refuses_cookies_is_credited_through_link_decoration() {
    let w = world(true).await;
    let lab = &w.lab;
    lab.click("jane", None).await.unwrap();
    buy(lab, "private@example.com").await;
    let stats = lab.wait_for_stat("jane", "orders", 1).await.unwrap();
    assert_eq!(stats["commission_minor"], 2970);
    lab.browser.client.clone().close().await.unwrap();
}
