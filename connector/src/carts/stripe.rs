//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, HMAC-SHA256 of `"{t}.{raw body}"` keyed
//! with the `whsec_…` string itself. Orders come from `checkout.session.completed`; refunds from
//! `refund.created` (or `charge.refunded` where the API version lists the charge's refunds), which
//! name the payment intent, not the session: the session's order records that mapping.
//! Subscription renewals come from `invoice.paid` with `billing_reason` `subscription_cycle`; the
//! first invoice of a subscription is left to its checkout session, so it is never counted twice.

use super::signatures::{SignatureError, TimestampedHex};
use super::{click_in_url, from_unix, order_id, refund_id, Cart, CartRefund, Intake, OrderRef, PayloadError};
use axum::http::HeaderMap;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, Email};
use serde::Deserialize;
use std::collections::HashMap;

/// The signature header.
pub const HEADER: &str = "stripe-signature";

/// The scheme: `t=<unix>,v1=<hex>[…]` over `"{ts}.{body}"`.
const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ',', ts_key: "t", sig_key: "v1", joiner: b"." };

/// Verifies `Stripe-Signature` against `secret` at `now` (unix seconds).
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    SCHEME.verify(headers.get(HEADER).and_then(|v| v.to_str().ok()), body, secret, now, tolerance)
}

/// The `Stripe-Signature` value the cart would send (for tests and local replays).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    SCHEME.sign(secret, ts, body)
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
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
    currency: Option<String>,
    client_reference_id: Option<String>,
    customer_email: Option<String>,
    customer_details: Option<CustomerDetails>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    payment_intent: Option<String>,
    payment_status: Option<String>,
    success_url: Option<String>,
    /// Set when the session started a subscription; its renewals then earn for the same partner.
    subscription: Option<String>,
}

#[derive(Deserialize)]
struct CustomerDetails {
    email: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    id: String,
    created: i64,
    currency: String,
    amount_paid: i64,
    billing_reason: Option<String>,
    customer_email: Option<String>,
    /// Before API version 2025-03-31 the subscription is named here…
    subscription: Option<String>,
    /// …since then under `parent.subscription_details`.
    parent: Option<InvoiceParent>,
    status_transitions: Option<StatusTransitions>,
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
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
    charge: Option<String>,
    payment_intent: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    payment_intent: Option<String>,
    refunds: Option<RefundList>,
}

#[derive(Deserialize)]
struct RefundList {
    #[serde(default)]
    data: Vec<StripeRefund>,
}

/// Reads a (verified) Stripe event.
pub fn parse(body: &[u8]) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => session(serde_json::from_value(event.data.object)?),
        "invoice.paid" => invoice(serde_json::from_value(event.data.object)?),
        "refund.created" | "refund.updated" => {
            let refund: StripeRefund = serde_json::from_value(event.data.object)?;
            Ok(Intake::refunds(refund_of(refund, None)?.into_iter().collect()))
        }
        "charge.refunded" => {
            let charge: Charge = serde_json::from_value(event.data.object)?;
            let Some(list) = charge.refunds else {
                return Ok(Intake::ignored("charge.refunded without its refund list: subscribe to refund.created"));
            };
            let fallback = charge.payment_intent.clone().unwrap_or(charge.id.clone());
            let refunds = list.data.into_iter().map(|r| refund_of(r, Some(&fallback))).collect::<Result<Vec<_>, _>>()?;
            Ok(Intake::refunds(refunds.into_iter().flatten().collect()))
        }
        other => Ok(Intake::ignored(format!("Stripe event {other} is not handled"))),
    }
}

fn session(s: Session) -> Result<Intake, PayloadError> {
    if s.payment_status.as_deref() == Some("unpaid") {
        return Ok(Intake::ignored("checkout session not paid yet"));
    }
    let currency = Currency::parse(s.currency.as_deref().unwrap_or_default())?;
    // The snippet sets client_reference_id on Payment Links; Checkout integrations pass metadata.
    let click = s
        .metadata
        .get("rt_click")
        .and_then(|c| ClickId::parse(c).ok())
        .or_else(|| s.client_reference_id.as_deref().and_then(|c| ClickId::parse(c).ok()))
        .or_else(|| s.success_url.as_deref().and_then(click_in_url));
    let email = s.customer_details.and_then(|d| d.email).or(s.customer_email).and_then(|e| Email::parse(&e).ok());
    let order = CanonicalOrder {
        order_id: order_id(Cart::Stripe, &s.id)?,
        occurred_at: from_unix(s.created)?,
        currency,
        items: vec![],
        total_minor: s.amount_total.unwrap_or(0),
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        customer: Customer { email },
        attribution: Attribution { click_id: click, partner: None, sub_id: None },
        source: "stripe".into(),
        renewal: false,
        subscription_id: s.subscription.map(|sub| format!("stripe:{sub}")),
    };
    let refs = s.payment_intent.map(|pi| format!("stripe:{pi}")).into_iter().collect();
    Ok(Intake::order(order, refs))
}

/// A renewal of a subscription, as a canonical order that names its subscription.
fn invoice(i: Invoice) -> Result<Intake, PayloadError> {
    if i.billing_reason.as_deref() != Some("subscription_cycle") {
        let reason = i.billing_reason.unwrap_or_default();
        return Ok(Intake::ignored(format!("invoice {} ({reason}) is not a renewal: first payments come from the checkout session", i.id)));
    }
    let subscription = i.subscription.or_else(|| i.parent.and_then(|p| p.subscription_details).and_then(|d| d.subscription));
    let Some(subscription) = subscription else {
        return Ok(Intake::ignored(format!("invoice {} names no subscription", i.id)));
    };
    let order = CanonicalOrder {
        order_id: order_id(Cart::Stripe, &i.id)?,
        occurred_at: from_unix(i.status_transitions.and_then(|t| t.paid_at).unwrap_or(i.created))?,
        currency: Currency::parse(&i.currency)?,
        items: vec![],
        total_minor: i.amount_paid,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        customer: Customer { email: i.customer_email.and_then(|e| Email::parse(&e).ok()) },
        attribution: Attribution::default(),
        source: "stripe".into(),
        renewal: true,
        subscription_id: Some(format!("stripe:{subscription}")),
    };
    let refs = i.payment_intent.map(|pi| format!("stripe:{pi}")).into_iter().collect();
    Ok(Intake::order(order, refs))
}

fn refund_of(r: StripeRefund, payment: Option<&str>) -> Result<Option<CartRefund>, PayloadError> {
    if matches!(r.status.as_deref(), Some("failed" | "canceled")) {
        return Ok(None);
    }
    let payment = r
        .payment_intent
        .or(r.charge)
        .or(payment.map(str::to_owned))
        .ok_or_else(|| PayloadError::Invalid("refund names no payment".into()))?;
    Ok(Some(CartRefund {
        refund_id: refund_id(Cart::Stripe, &r.id)?,
        order: OrderRef::CartRef(format!("stripe:{payment}")),
        amount_minor: r.amount,
        occurred_at: from_unix(r.created)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn a_signature_made_with_the_secret_string_verifies_and_a_forged_one_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        verify(&headers(&sign(SECRET, 1_000, body)), body, SECRET, 1_100, 300).unwrap();
        assert_eq!(verify(&headers(&sign("whsec_other", 1_000, body)), body, SECRET, 1_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(&headers(&sign(SECRET, 1_000, body)), b"{}", SECRET, 1_000, 300), Err(SignatureError::Mismatch));
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
        assert_eq!(verify(&headers(&only_v0), body, SECRET, 1_000, 300), Err(SignatureError::Malformed(HEADER)));
    }

    #[test]
    fn an_old_timestamp_or_a_missing_header_is_refused() {
        let body = b"{}";
        assert_eq!(verify(&headers(&sign(SECRET, 1_000, body)), body, SECRET, 1_301, 300), Err(SignatureError::Stale(300)));
        assert_eq!(verify(&HeaderMap::new(), body, SECRET, 1_000, 300), Err(SignatureError::Missing(HEADER)));
        assert_eq!(verify(&headers("v1=abc"), body, SECRET, 1_000, 300), Err(SignatureError::Malformed(HEADER)));
    }

    #[test]
    fn a_completed_checkout_session_becomes_an_order_with_its_click() {
        let body =
            include_str!("../../tests/fixtures/stripe_checkout_session_completed.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse(body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        assert_eq!(order.order_id.as_str(), "stripe:cs_test_a1b2c3");
        assert_eq!((order.total_minor, order.currency.as_str()), (9900, "USD"));
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(intake.cart_refs, vec!["stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa"]);
    }

    #[test]
    fn a_paid_renewal_invoice_becomes_a_renewal_of_its_subscription_and_the_first_invoice_is_left_to_checkout() {
        let fixture = include_str!("../../tests/fixtures/stripe_invoice_paid.json");
        let order = parse(fixture.replace("{{REASON}}", "subscription_cycle").as_bytes()).unwrap().order.unwrap();
        assert_eq!(order.order_id.as_str(), "stripe:in_1QrenewLkdIwHu7ixInv0001");
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("stripe:sub_1QsubLkdIwHu7ixMember01"));
        assert_eq!((order.total_minor, order.currency.as_str()), (2900, "USD"));
        assert_eq!(order.customer.email.unwrap().as_str(), "member@example.com");
        assert_eq!(crate::carts::from_unix(1_766_307_650).unwrap(), order.occurred_at, "paid_at, not created");
        let first = parse(fixture.replace("{{REASON}}", "subscription_create").as_bytes()).unwrap();
        assert!(first.order.is_none() && first.ignored.is_some());
        // Older API versions name the subscription on the invoice itself.
        let old =
            fixture.replace("{{REASON}}", "subscription_cycle").replace("\"parent\": {", "\"subscription\": \"sub_old\", \"parent_x\": {");
        assert_eq!(parse(old.as_bytes()).unwrap().order.unwrap().subscription_id.as_deref(), Some("stripe:sub_old"));
    }

    #[test]
    fn a_refund_names_the_payment_intent_and_unhandled_events_are_ignored() {
        let body = include_bytes!("../../tests/fixtures/stripe_refund_created.json");
        let intake = parse(body).unwrap();
        assert_eq!(intake.refunds[0].order, OrderRef::CartRef("stripe:pi_3MtwBwLkdIwHu7ix28a3tqPa".into()));
        assert_eq!(intake.refunds[0].amount_minor, 3300);
        let other = parse(br#"{"id":"evt_x","type":"customer.created","data":{"object":{}}}"#).unwrap();
        assert!(other.ignored.is_some() && other.order.is_none());
    }
}
