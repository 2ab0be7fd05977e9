//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=…]`, HMAC-SHA256 of
//! `"{ts}:{raw body}"` keyed with the endpoint's secret. Orders from `transaction.completed`
//! (amounts are strings of minor units), with the lines, discount and tax of `details`; renewals
//! are transactions of origin `subscription_recurring`. Adjustments are exact one by one: an
//! approved refund is a refund, a chargeback a lost dispute; a chargeback warning or reversal, a
//! credit and a failed payment are notices.

use super::signatures::{AuthError, TimestampedHex};
use super::{
    click, concerns_money, from_rfc3339, line, new_order, order_id, refund_id, unhandled_money_event, values, Breakdown, Cart, CartConfig,
    CartNotice, CartRefund, Delivery, Intake, OrderRef, PayloadError, Setting,
};
use reftrack_protocol::Currency;
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "paddle";
/// The signature header.
pub const HEADER: &str = "paddle-signature";
/// The timestamp tolerance setting (Paddle's SDK uses only 5 s; clocks drift, so 300 here).
pub const TOLERANCE_ENV: &str = "PADDLE_TOLERANCE_SECS";

/// The scheme: `ts=<unix>;h1=<hex>[…]` over `"{ts}:{body}"`.
const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ';', ts_key: "ts", sig_key: "h1", joiner: b":" };

/// Paddle Billing.
pub struct Paddle;

impl Cart for Paddle {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "PADDLE_WEBHOOK_SECRET"
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
        parse(d.body)
    }
}

/// Verifies `Paddle-Signature` against `secret` at `now` (unix seconds).
pub fn verify(headers: &axum::http::HeaderMap, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), AuthError> {
    SCHEME.verify(headers.get(HEADER).and_then(|v| v.to_str().ok()), body, secret, now, tolerance)
}

/// The `Paddle-Signature` value the cart would send (for tests and local replays).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    SCHEME.sign(secret, ts, body)
}

#[derive(Deserialize)]
struct Event {
    event_id: String,
    event_type: String,
    occurred_at: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Transaction {
    id: String,
    currency_code: String,
    #[serde(default)]
    custom_data: Option<HashMap<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "values::opt_text")]
    origin: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
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
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
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
    #[serde(default)]
    line_items: Vec<DetailLine>,
}

#[derive(Deserialize)]
struct Totals {
    total: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    grand_total: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    discount: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    tax: Option<String>,
}

#[derive(Deserialize)]
struct DetailLine {
    price_id: String,
    quantity: i64,
    totals: LineTotals,
    product: Option<Product>,
}

#[derive(Deserialize)]
struct LineTotals {
    /// Unit price × quantity, before discount and tax (tax backed out of tax-inclusive prices).
    subtotal: String,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Adjustment {
    id: String,
    action: String,
    status: String,
    transaction_id: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency_code: Option<String>,
    totals: Totals,
    created_at: String,
    #[serde(default, deserialize_with = "values::opt_text")]
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
        "transaction.payment_failed" => payment_failed(&event.event_id, serde_json::from_value(event.data)?),
        "adjustment.created" | "adjustment.updated" => adjustment(serde_json::from_value(event.data)?),
        other if concerns_money(other) => Ok(unhandled_money_event(event.event_id, "Paddle", other, from_rfc3339(&event.occurred_at)?)),
        other => Ok(Intake::ignored(format!("Paddle event {other} is not handled"))),
    }
}

fn breakdown(t: &Transaction) -> Result<Breakdown, PayloadError> {
    let items = if t.details.line_items.is_empty() {
        // Older payloads: the item prices (exact only for prices without tax inside them).
        t.items
            .iter()
            .map(|i| {
                let name = i.price.name.clone().or(i.price.description.clone()).unwrap_or_default();
                let unit = minor(&i.price.unit_price.amount)?;
                Ok(reftrack_protocol::LineItem { sku: i.price.id.clone(), name, quantity: i.quantity, unit_price_minor: unit })
            })
            .collect::<Result<Vec<_>, PayloadError>>()?
    } else {
        t.details
            .line_items
            .iter()
            .map(|l| {
                let name = l.product.as_ref().and_then(|p| p.name.clone()).unwrap_or_default();
                Ok(line(l.price_id.clone(), name, l.quantity, minor(&l.totals.subtotal)?))
            })
            .collect::<Result<Vec<_>, PayloadError>>()?
    };
    let totals = &t.details.totals;
    Ok(Breakdown {
        items,
        discount_minor: totals.discount.as_deref().map(minor).transpose()?.unwrap_or(0),
        shipping_minor: 0,
        tax_minor: totals.tax.as_deref().map(minor).transpose()?.unwrap_or(0),
    })
}

fn transaction(t: Transaction) -> Result<Intake, PayloadError> {
    // What was paid: `grand_total` is the total less any credit from the customer's balance.
    let total = minor(t.details.totals.grand_total.as_deref().unwrap_or(&t.details.totals.total))?;
    let breakdown = breakdown(&t)?;
    let occurred_at = from_rfc3339(t.billed_at.as_deref().unwrap_or(&t.created_at))?;
    let mut order = new_order(NAME, order_id(NAME, &t.id)?, occurred_at, Currency::parse(&t.currency_code)?, total, breakdown);
    order.attribution.click_id = click(t.custom_data.as_ref().and_then(|d| d.get("rt_click")).and_then(|v| v.as_str()));
    // Paddle sends only a customer id; the email would need an API call.
    order.renewal = t.origin.as_deref() == Some("subscription_recurring") && t.subscription_id.is_some();
    order.subscription_id = t.subscription_id.map(|sub| format!("{NAME}:{sub}"));
    Ok(Intake::order(order, vec![]))
}

fn payment_failed(event_id: &str, t: Transaction) -> Result<Intake, PayloadError> {
    let total = minor(t.details.totals.grand_total.as_deref().unwrap_or(&t.details.totals.total))?;
    let (kind, what) = match &t.subscription_id {
        Some(sub) => ("renewal_failed", format!("a payment of subscription {sub}")),
        None => ("payment_failed", "a payment".to_owned()),
    };
    let message = format!("{what} failed (transaction {}): nothing is credited until it is paid", t.id);
    let at = from_rfc3339(&t.created_at)?;
    Ok(Intake::notice(CartNotice::new(event_id, kind, message, at).amount(total, Currency::parse(&t.currency_code)?)))
}

fn adjustment(a: Adjustment) -> Result<Intake, PayloadError> {
    let at = from_rfc3339(a.updated_at.as_deref().unwrap_or(&a.created_at))?;
    let order = OrderRef::Order(order_id(NAME, &a.transaction_id)?);
    let amount = minor(&a.totals.total)?;
    let currency = a.currency_code.as_deref().map(Currency::parse).transpose()?;
    let notice = |kind: &'static str, what: &str| {
        let mut n = CartNotice::new(
            format!("{}:{kind}", a.id),
            kind,
            format!("{what} of {amount} (minor units) on transaction {}", a.transaction_id),
            at,
        )
        .about(order.clone());
        n.amount_minor = Some(amount);
        n.currency = currency;
        n
    };
    match (a.action.as_str(), a.status.as_str()) {
        ("refund", "approved") => Ok(Intake::refund(CartRefund::single(refund_id(NAME, &a.id)?, order, amount, at))),
        ("chargeback", "approved") => Ok(Intake::refund(CartRefund::dispute(refund_id(NAME, &a.id)?, order, amount, at))),
        ("chargeback_warning", _) => Ok(Intake::notice(notice("dispute_opened", "a chargeback warning"))),
        ("chargeback_reverse", "approved") => Ok(Intake::notice(notice("dispute_won", "a chargeback was reversed (the money came back)"))),
        ("credit" | "credit_reverse", "approved") => {
            Ok(Intake::notice(notice("credit_adjustment", "a credit adjustment (customer balance, not a refund)")))
        }
        (action, status) => Ok(Intake::ignored(format!("adjustment {} is {action} {status}: no money moved yet", a.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;
    use reftrack_protocol::RefundKind;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, value.parse().unwrap());
        h
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn the_signature_covers_timestamp_colon_body_and_has_a_tolerance() {
        let body = b"{}";
        verify(&headers(&sign("pdl_ntfset_x", 100, body)), body, "pdl_ntfset_x", 104, 5).unwrap();
        assert_eq!(verify(&headers(&sign("pdl_ntfset_x", 100, body)), body, "pdl_ntfset_x", 106, 5), Err(AuthError::Stale(5)));
        assert_eq!(verify(&headers(&sign("other", 100, body)), body, "pdl_ntfset_x", 100, 5), Err(AuthError::Mismatch));
        assert_eq!(verify(&headers("h1=abc"), body, "pdl_ntfset_x", 100, 5), Err(AuthError::Malformed(HEADER)));
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
        let body = fixture("paddle_transaction_completed.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.order_id.as_str(), order.total_minor), ("paddle:txn_01hv8wptq8987qeep44cyrewp9", 9900));
        assert_eq!(order.items[0].unit_price_minor, 9900);
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(!order.renewal);
    }

    #[test]
    fn a_discounted_taxed_renewal_keeps_its_lines_discount_and_tax() {
        let order = parse(fixture("paddle_transaction_completed_renewal_discount_tax.json").as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        // 3 seats × 20.00 − 6.00 + 10.80 tax = 64.80
        assert_eq!((order.items[0].quantity, order.items[0].unit_price_minor), (3, 2000));
        assert_eq!((order.discount_minor, order.tax_minor, order.total_minor), (600, 1080, 6480));
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("paddle:sub_01hv8y5ehszzq0yv20ttx3166y"));
    }

    #[test]
    fn approved_refunds_are_refunds_and_chargebacks_are_disputes_or_notices() {
        let body = fixture("paddle_adjustment_updated.json");
        let intake = parse(body.as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(4950));
        let pending = body.replace("\"approved\"", "\"pending_approval\"");
        assert!(parse(pending.as_bytes()).unwrap().ignored.is_some());
        let chargeback = parse(body.replace("\"refund\"", "\"chargeback\"").as_bytes()).unwrap();
        assert_eq!(chargeback.refunds[0].kind, RefundKind::Dispute);
        let warning = parse(body.replace("\"refund\"", "\"chargeback_warning\"").as_bytes()).unwrap();
        assert_eq!(warning.notices[0].kind, "dispute_opened");
        warning.validate("paddle").unwrap();
        let credit = parse(body.replace("\"refund\"", "\"credit\"").as_bytes()).unwrap();
        assert_eq!(credit.notices[0].kind, "credit_adjustment");
    }

    #[test]
    fn a_failed_payment_is_a_notice() {
        let body = fixture("paddle_transaction_completed_renewal_discount_tax.json")
            .replace("transaction.completed", "transaction.payment_failed");
        let intake = parse(body.as_bytes()).unwrap();
        assert_eq!((intake.notices[0].kind, intake.notices[0].amount_minor), ("renewal_failed", Some(6480)));
    }
}
