//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, HMAC-SHA256 of `"{t}.{raw body}"` keyed
//! with the `whsec_…` string itself. Orders come from `checkout.session.completed`; renewals from
//! `invoice.paid` with `billing_reason` `subscription_cycle` (the first invoice is left to its
//! checkout session, so it is never counted twice). Refunds and disputes name the payment intent
//! or the charge, not the session: the session's order records that mapping (`cart_refs`).
//!
//! Money going back: `refund.created` is one refund; `charge.refunded` reports the charge's
//! refunded total so far (`amount_refunded`), sent as a cumulative refund, so the same money
//! reported both ways is taken back once. A lost dispute (`charge.dispute.closed`, `lost`) is a
//! dispute refund of the disputed amount; an opened or won dispute, a failed renewal and a failed
//! refund are notices.

use super::signatures::{AuthError, TimestampedHex};
use super::{
    click, click_in_url, concerns_money, email, from_unix, new_order, order_id, refund_id, unhandled_money_event, values, Breakdown, Cart,
    CartConfig, CartNotice, CartRefund, Delivery, Intake, OrderRef, PayloadError, Setting,
};
use reftrack_protocol::Currency;
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// The route and order-id prefix.
pub const NAME: &str = "stripe";
/// The signature header.
pub const HEADER: &str = "stripe-signature";
/// The timestamp tolerance setting (seconds; Stripe's libraries use 300).
pub const TOLERANCE_ENV: &str = "STRIPE_TOLERANCE_SECS";

/// The scheme: `t=<unix>,v1=<hex>[…]` over `"{ts}.{body}"`.
const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ',', ts_key: "t", sig_key: "v1", joiner: b"." };

/// Stripe.
pub struct Stripe;

impl Cart for Stripe {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "STRIPE_WEBHOOK_SECRET"
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting { env: TOLERANCE_ENV, about: "timestamp tolerance in seconds (300)" }]
    }

    fn check(&self, config: &CartConfig) -> Result<(), String> {
        config.int_setting(TOLERANCE_ENV, 300).map(drop)
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let tolerance = config.int_setting(TOLERANCE_ENV, 300).unwrap_or(300);
        verify(d.headers, d.body, config.secret(), d.now, tolerance)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.body, from_unix(d.now)?)
    }
}

/// Verifies `Stripe-Signature` against `secret` at `now` (unix seconds).
pub fn verify(headers: &axum::http::HeaderMap, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), AuthError> {
    SCHEME.verify(headers.get(HEADER).and_then(|v| v.to_str().ok()), body, secret, now, tolerance)
}

/// The `Stripe-Signature` value the cart would send (for tests and local replays).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    SCHEME.sign(secret, ts, body)
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: Option<i64>,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    created: i64,
    amount_total: Option<i64>,
    amount_subtotal: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    client_reference_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    customer_email: Option<String>,
    customer_details: Option<CustomerDetails>,
    #[serde(default)]
    metadata: HashMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_intent: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_status: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    success_url: Option<String>,
    /// Set when the session started a subscription; its renewals then earn for the same partner.
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription: Option<String>,
    total_details: Option<TotalDetails>,
}

#[derive(Deserialize)]
struct TotalDetails {
    #[serde(default)]
    amount_discount: i64,
    #[serde(default)]
    amount_shipping: i64,
    #[serde(default)]
    amount_tax: i64,
}

#[derive(Deserialize)]
struct CustomerDetails {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    id: String,
    created: i64,
    currency: String,
    amount_paid: i64,
    #[serde(default)]
    amount_due: i64,
    #[serde(default)]
    attempt_count: i64,
    #[serde(default, deserialize_with = "values::opt_text")]
    billing_reason: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    customer_email: Option<String>,
    /// Before API version 2025-03-31 the subscription is named here…
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription: Option<String>,
    /// …since then under `parent.subscription_details`.
    parent: Option<InvoiceParent>,
    status_transitions: Option<StatusTransitions>,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_intent: Option<String>,
    #[serde(default)]
    total_taxes: Vec<InvoiceTax>,
}

#[derive(Deserialize)]
struct InvoiceTax {
    amount: i64,
    #[serde(default, deserialize_with = "values::opt_text")]
    tax_behavior: Option<String>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription: Option<String>,
}

#[derive(Deserialize)]
struct StatusTransitions {
    paid_at: Option<i64>,
}

#[derive(Deserialize)]
struct StripeRefund {
    id: String,
    amount: i64,
    created: i64,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    charge: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_intent: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_intent: Option<String>,
    amount_refunded: i64,
    refunds: Option<RefundList>,
}

#[derive(Deserialize)]
struct RefundList {
    #[serde(default)]
    data: Vec<StripeRefund>,
}

#[derive(Deserialize)]
struct Dispute {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    charge: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    payment_intent: Option<String>,
    status: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    reason: Option<String>,
}

/// Reads a (verified) Stripe event; `now` dates one that carries no `created`.
pub fn parse(body: &[u8], now: OffsetDateTime) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    let at = event.created.map(from_unix).transpose()?.unwrap_or(now);
    let object = event.data.object;
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => session(serde_json::from_value(object)?),
        "invoice.paid" => invoice(serde_json::from_value(object)?),
        "invoice.payment_failed" => payment_failed(serde_json::from_value(object)?),
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            refund_event(&event.kind, serde_json::from_value(object)?)
        }
        "charge.refunded" => charge_refunded(serde_json::from_value(object)?, at),
        "charge.dispute.created" => dispute_opened(serde_json::from_value(object)?, at),
        "charge.dispute.closed" => dispute_closed(serde_json::from_value(object)?, at),
        "charge.dispute.updated" | "charge.dispute.funds_withdrawn" | "charge.dispute.funds_reinstated" => {
            Ok(Intake::ignored(format!("{}: a dispute's outcome is applied from charge.dispute.closed", event.kind)))
        }
        other if concerns_money(other) => {
            let key = if event.id.is_empty() { other.to_owned() } else { event.id };
            Ok(unhandled_money_event(key, "Stripe", other, at))
        }
        other => Ok(Intake::ignored(format!("Stripe event {other} is not handled"))),
    }
}

fn session(s: Session) -> Result<Intake, PayloadError> {
    if s.payment_status.as_deref() == Some("unpaid") {
        return Ok(Intake::ignored("checkout session not paid yet"));
    }
    let currency = Currency::parse(s.currency.as_deref().unwrap_or_default())?;
    let total = s.amount_total.unwrap_or(0);
    // The session event carries no line items (they need an API call), so no lines and no
    // discount; shipping is on top of the lines, and tax is counted only when it was added on top
    // (tax already inside the prices does not make the subtotal and the total differ by it).
    let details = s.total_details.unwrap_or(TotalDetails { amount_discount: 0, amount_shipping: 0, amount_tax: 0 });
    let exclusive_tax = s.amount_subtotal.is_some_and(|sub| {
        sub.checked_sub(details.amount_discount)
            .and_then(|v| v.checked_add(details.amount_shipping))
            .and_then(|v| v.checked_add(details.amount_tax))
            == Some(total)
    });
    let breakdown = Breakdown {
        items: vec![],
        discount_minor: 0,
        shipping_minor: details.amount_shipping,
        tax_minor: if exclusive_tax { details.amount_tax } else { 0 },
    };
    let mut order = new_order(NAME, order_id(NAME, &s.id)?, from_unix(s.created)?, currency, total, breakdown);
    // The snippet sets client_reference_id on Payment Links; Checkout integrations pass metadata.
    order.attribution.click_id = click(s.metadata.get("rt_click").and_then(|v| v.as_str()))
        .or_else(|| click(s.client_reference_id.as_deref()))
        .or_else(|| s.success_url.as_deref().and_then(click_in_url));
    order.customer.email = email(s.customer_details.and_then(|d| d.email).or(s.customer_email).as_deref());
    order.subscription_id = s.subscription.map(|sub| format!("{NAME}:{sub}"));
    let refs = s.payment_intent.map(|pi| format!("{NAME}:{pi}")).into_iter().collect();
    Ok(Intake::order(order, refs))
}

fn subscription_of(i: &Invoice) -> Option<String> {
    i.subscription.clone().or_else(|| i.parent.as_ref().and_then(|p| p.subscription_details.as_ref()).and_then(|d| d.subscription.clone()))
}

/// A renewal of a subscription, as a canonical order that names its subscription.
fn invoice(i: Invoice) -> Result<Intake, PayloadError> {
    if i.billing_reason.as_deref() != Some("subscription_cycle") {
        let reason = i.billing_reason.clone().unwrap_or_default();
        return Ok(Intake::ignored(format!("invoice {} ({reason}) is not a renewal: first payments come from the checkout session", i.id)));
    }
    let Some(subscription) = subscription_of(&i) else {
        return Ok(Intake::ignored(format!("invoice {} names no subscription", i.id)));
    };
    // Invoice lines can be prorations (negative) and are paginated: the total is what was paid,
    // with the tax added on top of the prices when the invoice says so.
    let tax =
        i.total_taxes.iter().filter(|t| t.tax_behavior.as_deref() == Some("exclusive")).try_fold(0i64, |s, t| s.checked_add(t.amount));
    let breakdown = Breakdown { tax_minor: tax.unwrap_or(0), ..Breakdown::default() };
    let paid_at = from_unix(i.status_transitions.as_ref().and_then(|t| t.paid_at).unwrap_or(i.created))?;
    let mut order = new_order(NAME, order_id(NAME, &i.id)?, paid_at, Currency::parse(&i.currency)?, i.amount_paid, breakdown);
    order.customer.email = email(i.customer_email.as_deref());
    order.renewal = true;
    order.subscription_id = Some(format!("{NAME}:{subscription}"));
    let refs = i.payment_intent.map(|pi| format!("{NAME}:{pi}")).into_iter().collect();
    Ok(Intake::order(order, refs))
}

fn payment_failed(i: Invoice) -> Result<Intake, PayloadError> {
    let currency = Currency::parse(&i.currency)?;
    let (kind, what) = match subscription_of(&i) {
        Some(sub) => ("renewal_failed", format!("a payment of subscription {sub}")),
        None => ("payment_failed", "a payment".to_owned()),
    };
    let message = format!("{what} failed (invoice {}, attempt {}): nothing is credited until it is paid", i.id, i.attempt_count);
    let notice = CartNotice::new(format!("{}:payment_failed:{}", i.id, i.attempt_count), kind, message, from_unix(i.created)?)
        .amount(i.amount_due, currency);
    Ok(Intake::notice(notice))
}

fn payment_ref(payment_intent: Option<String>, charge: Option<String>) -> Option<OrderRef> {
    payment_intent.or(charge).map(|p| OrderRef::CartRef(format!("{NAME}:{p}")))
}

fn refund_event(kind: &str, r: StripeRefund) -> Result<Intake, PayloadError> {
    let at = from_unix(r.created)?;
    let order = payment_ref(r.payment_intent.clone(), r.charge.clone()).ok_or_else(|| super::invalid("refund names no payment"))?;
    match r.status.as_deref() {
        // A refund that failed after it was reported: the clawback already applied stays, and the
        // merchant is told, since the money came back to them.
        Some("failed" | "canceled") if kind != "refund.created" => {
            let currency = Currency::parse(r.currency.as_deref().unwrap_or("usd"))?;
            let message = format!("refund {} of {} (minor units) {}: it may already have been clawed back", r.id, r.amount, kind);
            Ok(Intake::notice(
                CartNotice::new(format!("{}:refund_failed", r.id), "refund_failed", message, at).about(order).amount(r.amount, currency),
            ))
        }
        Some("failed" | "canceled") => Ok(Intake::ignored(format!("refund {} never moved money", r.id))),
        _ => Ok(Intake::refund(CartRefund::single(refund_id(NAME, &r.id)?, order, r.amount, at))),
    }
}

fn charge_refunded(c: Charge, at: OffsetDateTime) -> Result<Intake, PayloadError> {
    let order = payment_ref(c.payment_intent.clone(), Some(c.id.clone())).expect("a charge names itself");
    let mut refunds = vec![CartRefund::cumulative(&format!("{NAME}:{}", c.id), order.clone(), c.amount_refunded, at)?];
    // Older API versions list the refunds too: each is the same money as its refund.created, so
    // it is sent under the same id (one message) and the server takes the larger of the sums.
    for r in c.refunds.map(|l| l.data).unwrap_or_default() {
        if !matches!(r.status.as_deref(), Some("failed" | "canceled")) {
            refunds.push(CartRefund::single(refund_id(NAME, &r.id)?, order.clone(), r.amount, from_unix(r.created)?));
        }
    }
    Ok(Intake::refunds(refunds))
}

fn dispute_opened(d: Dispute, at: OffsetDateTime) -> Result<Intake, PayloadError> {
    let order = payment_ref(d.payment_intent.clone(), d.charge.clone()).ok_or_else(|| super::invalid("dispute names no payment"))?;
    let reason = d.reason.as_deref().unwrap_or("unstated");
    let message =
        format!("the buyer disputed {} (minor units), reason {reason}: the commission is taken back only if the dispute is lost", d.amount);
    let notice = CartNotice::new(format!("{}:dispute_opened", d.id), "dispute_opened", message, at)
        .about(order)
        .amount(d.amount, Currency::parse(&d.currency)?);
    Ok(Intake::notice(notice))
}

fn dispute_closed(d: Dispute, at: OffsetDateTime) -> Result<Intake, PayloadError> {
    let order = payment_ref(d.payment_intent.clone(), d.charge.clone()).ok_or_else(|| super::invalid("dispute names no payment"))?;
    let currency = Currency::parse(&d.currency)?;
    match d.status.as_str() {
        "lost" => Ok(Intake::refund(CartRefund::dispute(refund_id(NAME, &d.id)?, order, d.amount, at))),
        "won" => {
            let message = format!("the dispute of {} (minor units) was won: nothing is taken back", d.amount);
            Ok(Intake::notice(
                CartNotice::new(format!("{}:dispute_won", d.id), "dispute_won", message, at).about(order).amount(d.amount, currency),
            ))
        }
        other => {
            let message = format!("the dispute of {} (minor units) closed as {other}: check it in Stripe", d.amount);
            Ok(Intake::notice(
                CartNotice::new(format!("{}:dispute_closed", d.id), "dispute_closed", message, at).about(order).amount(d.amount, currency),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;
    use reftrack_protocol::RefundKind;

    const SECRET: &str = "whsec_test_secret";

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, value.parse().unwrap());
        h
    }

    fn event(kind: &str, object: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"id": "evt_1", "type": kind, "created": 1_766_307_700, "data": {"object": object}})).unwrap()
    }

    fn parse_now(body: &[u8]) -> Result<Intake, PayloadError> {
        parse(body, from_unix(1_800_000_000).unwrap())
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_signature_made_with_the_secret_string_verifies_and_a_forged_one_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        verify(&headers(&sign(SECRET, 1_000, body)), body, SECRET, 1_100, 300).unwrap();
        assert_eq!(verify(&headers(&sign("whsec_other", 1_000, body)), body, SECRET, 1_000, 300), Err(AuthError::Mismatch));
        assert_eq!(verify(&headers(&sign(SECRET, 1_000, body)), b"{}", SECRET, 1_000, 300), Err(AuthError::Mismatch));
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"whsec_test_secret", b"1700000000." + body, sha256).hexdigest()
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let header = "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";
        assert_eq!(sign(SECRET, 1_700_000_000, body), header);
        verify(&headers(header), body, SECRET, 1_700_000_000, 300).unwrap();
    }

    #[test]
    fn any_of_several_v1_signatures_is_enough_and_v0_is_ignored() {
        let body = b"{}";
        let good = sign(SECRET, 1_000, body);
        let v1 = good.split("v1=").nth(1).unwrap();
        let header = format!("t=1000,v0={v1},v1=deadbeef,v1={v1}");
        verify(&headers(&header), body, SECRET, 1_000, 300).unwrap();
        let only_v0 = format!("t=1000,v0={v1}");
        assert_eq!(verify(&headers(&only_v0), body, SECRET, 1_000, 300), Err(AuthError::Malformed(HEADER)));
    }

    #[test]
    fn an_old_or_future_timestamp_or_a_missing_header_is_refused() {
        let body = b"{}";
        assert_eq!(verify(&headers(&sign(SECRET, 1_000, body)), body, SECRET, 1_301, 300), Err(AuthError::Stale(300)));
        assert_eq!(verify(&headers(&sign(SECRET, 1_400, body)), body, SECRET, 1_000, 300), Err(AuthError::Stale(300)));
        assert_eq!(verify(&HeaderMap::new(), body, SECRET, 1_000, 300), Err(AuthError::Missing(HEADER)));
        assert_eq!(verify(&headers("v1=abc"), body, SECRET, 1_000, 300), Err(AuthError::Malformed(HEADER)));
    }

    #[test]
    fn a_completed_checkout_session_becomes_an_order_with_its_click() {
        let body = fixture("stripe_checkout_session_completed.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse_now(body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "stripe:cs_test_a1b2c3");
        assert_eq!((order.total_minor, order.currency.as_str()), (9900, "USD"));
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(intake.cart_refs, vec!["stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa"]);
    }

    #[test]
    fn empty_optional_strings_are_missing_values_not_ids() {
        let body = fixture("stripe_checkout_session_completed.json")
            .replace("{{CLICK}}", "")
            .replace("\"subscription\": null", "\"subscription\": \"\"")
            .replace("\"payment_intent\": \"pi_3MtwBwLkdIwHu7ix28a3tqPa\"", "\"payment_intent\": \"\"");
        let intake = parse_now(body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        assert_eq!((order.subscription_id, order.attribution.click_id), (None, None));
        assert!(intake.cart_refs.is_empty());
    }

    #[test]
    fn a_session_with_a_discount_shipping_and_added_tax_keeps_its_shipping_and_tax() {
        let body = fixture("stripe_checkout_session_discount_shipping_tax.json");
        let order = parse_now(body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        // 100.00 − 10.00 + 5.00 shipping + 7.60 tax, no lines (the event has none).
        assert_eq!((order.total_minor, order.discount_minor, order.shipping_minor, order.tax_minor), (10_260, 0, 500, 760));
        assert!(order.items.is_empty());
        let inclusive = body.replace("\"amount_total\": 10260", "\"amount_total\": 9500");
        let order = parse_now(inclusive.as_bytes()).unwrap().order.unwrap();
        assert_eq!((order.total_minor, order.tax_minor), (9500, 0), "tax inside the prices is not added on top");
    }

    #[test]
    fn a_paid_renewal_invoice_becomes_a_renewal_of_its_subscription_and_the_first_invoice_is_left_to_checkout() {
        let fixture = fixture("stripe_invoice_paid.json");
        let order = parse_now(fixture.replace("{{REASON}}", "subscription_cycle").as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "stripe:in_1QrenewLkdIwHu7ixInv0001");
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("stripe:sub_1QsubLkdIwHu7ixMember01"));
        assert_eq!((order.total_minor, order.currency.as_str()), (2900, "USD"));
        assert_eq!(order.customer.email.unwrap().as_str(), "member@example.com");
        assert_eq!(crate::carts::from_unix(1_766_307_650).unwrap(), order.occurred_at, "paid_at, not created");
        let first = parse_now(fixture.replace("{{REASON}}", "subscription_create").as_bytes()).unwrap();
        assert!(first.order.is_none() && first.ignored.is_some());
        // Older API versions name the subscription on the invoice itself.
        let old =
            fixture.replace("{{REASON}}", "subscription_cycle").replace("\"parent\": {", "\"subscription\": \"sub_old\", \"parent_x\": {");
        assert_eq!(parse_now(old.as_bytes()).unwrap().order.unwrap().subscription_id.as_deref(), Some("stripe:sub_old"));
    }

    #[test]
    fn a_refund_names_the_payment_intent_and_unhandled_events_are_ignored() {
        let intake = parse_now(fixture("stripe_refund_created.json").as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].order, OrderRef::CartRef("stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa".into()));
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(3300));
        let other = parse_now(br#"{"id":"evt_x","type":"customer.created","created":1,"data":{"object":{}}}"#).unwrap();
        assert!(other.ignored.is_some() && other.order.is_none() && other.notices.is_empty());
    }

    #[test]
    fn a_charge_refunded_without_its_refund_list_is_a_cumulative_refund_of_the_charge() {
        let intake = parse_now(fixture("stripe_charge_refunded.json").as_bytes()).unwrap();
        assert_eq!(intake.refunds.len(), 1, "the current API version lists no refunds on the charge");
        let refund = &intake.refunds[0];
        assert_eq!(refund.amount, RefundAmount::Cumulative(5000));
        assert_eq!(refund.refund_id.as_str(), "stripe:ch_3MtwBwLkdIwHu7ix0Qw8RJDb:refunded:5000");
        assert_eq!(refund.order, OrderRef::CartRef("stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa".into()));
        assert_eq!(refund.to_refund(crate::carts::order_id(NAME, "cs_1").unwrap()).refunded_total_minor, Some(5000));
    }

    #[test]
    fn a_charge_refunded_with_its_refund_list_also_sends_each_refund_under_its_own_id() {
        let body = fixture("stripe_charge_refunded.json").replace(
            "\"status\": \"succeeded\"",
            r#""status": "succeeded", "refunds": {"object":"list","data":[{"id":"re_3MtwBwLkdIwHu7ix0Xkmqe4i","amount":3300,"created":1763632790,"status":"succeeded","charge":"ch_3MtwBwLkdIwHu7ix0Qw8RJDb"},{"id":"re_failed","amount":99,"created":1763632790,"status":"failed"}]}"#,
        );
        let intake = parse_now(body.as_bytes()).unwrap();
        assert_eq!(intake.refunds.len(), 2);
        assert_eq!(intake.refunds[1].refund_id.as_str(), "stripe:re_3MtwBwLkdIwHu7ix0Xkmqe4i");
    }

    #[test]
    fn a_lost_dispute_is_a_dispute_refund_and_an_opened_or_won_one_is_a_notice() {
        let closed = fixture("stripe_charge_dispute_closed.json");
        let intake = parse_now(closed.as_bytes()).unwrap();
        let refund = &intake.refunds[0];
        assert_eq!((refund.kind, refund.amount), (RefundKind::Dispute, RefundAmount::Single(9900)));
        assert_eq!(refund.refund_id.as_str(), "stripe:du_1MtJUT2eZvKYlo2CNaw2HvEv");
        assert_eq!(refund.order, OrderRef::CartRef("stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa".into()));
        let won = parse_now(closed.replace("\"status\": \"lost\"", "\"status\": \"won\"").as_bytes()).unwrap();
        assert!(won.refunds.is_empty());
        assert_eq!(won.notices[0].kind, "dispute_won");
        let opened = closed
            .replace("charge.dispute.closed", "charge.dispute.created")
            .replace("\"status\": \"lost\"", "\"status\": \"needs_response\"");
        let opened = parse_now(opened.as_bytes()).unwrap();
        assert_eq!((opened.notices[0].kind, opened.notices[0].amount_minor), ("dispute_opened", Some(9900)));
        opened.validate("stripe").unwrap();
        let withdrawn = parse_now(closed.replace("charge.dispute.closed", "charge.dispute.funds_withdrawn").as_bytes()).unwrap();
        assert!(withdrawn.ignored.is_some(), "the outcome is applied once, from the closed event");
    }

    #[test]
    fn a_failed_renewal_and_a_failed_refund_are_notices_and_unknown_money_events_are_never_quiet() {
        let fixture = fixture("stripe_invoice_paid.json")
            .replace("{{REASON}}", "subscription_cycle")
            .replace("invoice.paid", "invoice.payment_failed");
        let failed = parse_now(fixture.as_bytes()).unwrap();
        assert_eq!(failed.notices[0].kind, "renewal_failed");
        failed.validate("stripe").unwrap();
        let refund = serde_json::json!({"id":"re_1","amount":500,"created":1_766_307_700,"currency":"usd","payment_intent":"pi_1","status":"failed"});
        let intake = parse_now(&event("refund.failed", refund.clone())).unwrap();
        assert_eq!(intake.notices[0].kind, "refund_failed");
        assert!(parse_now(&event("refund.created", refund)).unwrap().ignored.is_some(), "a refund that failed at once moved no money");
        let unknown = parse_now(&event("charge.refund.deleted_someday", serde_json::json!({}))).unwrap();
        assert_eq!(unknown.notices[0].kind, "unhandled_money_event");
        assert_eq!(unknown.notices[0].to_notice("stripe", None).notice_id, "stripe:evt_1");
    }
}
