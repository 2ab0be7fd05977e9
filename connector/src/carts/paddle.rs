//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=…]`, HMAC-SHA256 of
//! `"{ts}:{raw body}"` keyed with the endpoint's secret. Orders from `transaction.completed`
//! (amounts are strings of minor units); refunds from refund adjustments once approved (most are
//! created `pending_approval` and approved later in `adjustment.updated`).

use super::signatures::{SignatureError, TimestampedHex};
use super::{from_rfc3339, order_id, refund_id, Cart, CartRefund, Intake, OrderRef, PayloadError};
use axum::http::HeaderMap;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, LineItem};
use serde::Deserialize;
use std::collections::HashMap;

/// The signature header.
pub const HEADER: &str = "paddle-signature";

/// The scheme: `ts=<unix>;h1=<hex>[…]` over `"{ts}:{body}"`.
const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ';', ts_key: "ts", sig_key: "h1", joiner: b":" };

/// Verifies `Paddle-Signature` against `secret` at `now` (unix seconds).
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    SCHEME.verify(headers.get(HEADER).and_then(|v| v.to_str().ok()), body, secret, now, tolerance)
}

/// The `Paddle-Signature` value the cart would send (for tests and local replays).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    SCHEME.sign(secret, ts, body)
}

#[derive(Deserialize)]
struct Event {
    event_type: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Transaction {
    id: String,
    currency_code: String,
    #[serde(default)]
    custom_data: Option<HashMap<String, serde_json::Value>>,
    origin: Option<String>,
    subscription_id: Option<String>,
    billed_at: Option<String>,
    created_at: String,
    #[serde(default)]
    items: Vec<Item>,
    details: Details,
}

#[derive(Deserialize)]
struct Item {
    price: Price,
    quantity: i64,
}

#[derive(Deserialize)]
struct Price {
    id: String,
    name: Option<String>,
    description: Option<String>,
    unit_price: Amount,
}

#[derive(Deserialize)]
struct Amount {
    amount: String,
}

#[derive(Deserialize)]
struct Details {
    totals: Totals,
}

#[derive(Deserialize)]
struct Totals {
    total: String,
    grand_total: Option<String>,
}

#[derive(Deserialize)]
struct Adjustment {
    id: String,
    action: String,
    status: String,
    transaction_id: String,
    totals: Totals,
    created_at: String,
    updated_at: Option<String>,
}

fn minor(raw: &str) -> Result<i64, PayloadError> {
    raw.trim().parse().map_err(|_| PayloadError::Invalid(format!("{raw:?} is not an amount in minor units")))
}

/// Reads a (verified) Paddle event.
pub fn parse(body: &[u8]) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    match event.event_type.as_str() {
        "transaction.completed" => transaction(serde_json::from_value(event.data)?),
        "adjustment.created" | "adjustment.updated" => adjustment(serde_json::from_value(event.data)?),
        other => Ok(Intake::ignored(format!("Paddle event {other} is not handled"))),
    }
}

fn transaction(t: Transaction) -> Result<Intake, PayloadError> {
    let click = t.custom_data.as_ref().and_then(|d| d.get("rt_click")).and_then(|v| v.as_str()).and_then(|c| ClickId::parse(c).ok());
    let items = t
        .items
        .into_iter()
        .map(|i| {
            Ok(LineItem {
                sku: i.price.id,
                name: i.price.name.or(i.price.description).unwrap_or_default(),
                quantity: i.quantity,
                unit_price_minor: minor(&i.price.unit_price.amount)?,
            })
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let order = CanonicalOrder {
        order_id: order_id(Cart::Paddle, &t.id)?,
        occurred_at: from_rfc3339(t.billed_at.as_deref().unwrap_or(&t.created_at))?,
        currency: Currency::parse(&t.currency_code)?,
        total_minor: minor(t.details.totals.grand_total.as_deref().unwrap_or(&t.details.totals.total))?,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        items,
        // Paddle sends only a customer id; the email would need an API call.
        customer: Customer { email: None },
        attribution: Attribution { click_id: click, partner: None, sub_id: None },
        source: "paddle".into(),
        renewal: t.origin.as_deref() == Some("subscription_recurring") && t.subscription_id.is_some(),
        subscription_id: t.subscription_id.map(|sub| format!("paddle:{sub}")),
    };
    Ok(Intake::order(order, vec![]))
}

fn adjustment(a: Adjustment) -> Result<Intake, PayloadError> {
    if a.action != "refund" || a.status != "approved" {
        return Ok(Intake::ignored(format!("adjustment {} is {} {}, not an approved refund", a.id, a.action, a.status)));
    }
    Ok(Intake::refunds(vec![CartRefund {
        refund_id: refund_id(Cart::Paddle, &a.id)?,
        order: OrderRef::Order(order_id(Cart::Paddle, &a.transaction_id)?),
        amount_minor: minor(&a.totals.total)?,
        occurred_at: from_rfc3339(a.updated_at.as_deref().unwrap_or(&a.created_at))?,
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn the_signature_covers_timestamp_colon_body_and_has_a_tolerance() {
        let body = b"{}";
        verify(&headers(&sign("pdl_ntfset_x", 100, body)), body, "pdl_ntfset_x", 104, 5).unwrap();
        assert_eq!(verify(&headers(&sign("pdl_ntfset_x", 100, body)), body, "pdl_ntfset_x", 106, 5), Err(SignatureError::Stale(5)));
        assert_eq!(verify(&headers(&sign("other", 100, body)), body, "pdl_ntfset_x", 100, 5), Err(SignatureError::Mismatch));
        assert_eq!(verify(&headers("h1=abc"), body, "pdl_ntfset_x", 100, 5), Err(SignatureError::Malformed(HEADER)));
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"pdl_ntfset_01h_secret", b"1700000000:" + body, sha256).hexdigest()
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let header = "ts=1700000000;h1=142afbb4171ecef254f85b89881c1d6b4bf54c9e91f3b07242305d05c5040025";
        assert_eq!(sign("pdl_ntfset_01h_secret", 1_700_000_000, body), header);
        verify(&headers(header), body, "pdl_ntfset_01h_secret", 1_700_000_003, 5).unwrap();
    }

    #[test]
    fn a_completed_transaction_becomes_an_order_with_the_click_from_custom_data() {
        let body = include_str!("../../tests/fixtures/paddle_transaction_completed.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes()).unwrap().order.unwrap();
        assert_eq!((order.order_id.as_str(), order.total_minor), ("paddle:txn_01hv8wptq8987qeep44cyrewp9", 9900));
        assert_eq!(order.items[0].unit_price_minor, 9900);
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(!order.renewal);
    }

    #[test]
    fn only_approved_refund_adjustments_are_refunds() {
        let body = include_str!("../../tests/fixtures/paddle_adjustment_updated.json");
        let intake = parse(body.as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].amount_minor, 4950);
        let pending = body.replace("\"approved\"", "\"pending_approval\"");
        assert!(parse(pending.as_bytes()).unwrap().ignored.is_some());
        let credit = body.replace("\"refund\"", "\"credit\"");
        assert!(parse(credit.as_bytes()).unwrap().ignored.is_some());
    }
}
