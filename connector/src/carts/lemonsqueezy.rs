//! Lemon Squeezy: `X-Signature`, lower-case hex HMAC-SHA256 of the raw body keyed with the
//! webhook's signing secret. The event is `meta.event_name`; the click rides the checkout's custom
//! data (`?checkout[custom][rt_click]=…` on the checkout URL), which comes back in
//! `meta.custom_data` of the order and of every event of its subscription.
//!
//! `order_created` is the order (subtotal, `discount_total`, `tax` unless `tax_inclusive`,
//! `total`, in cents); `order_refunded` reports the order's `refunded_amount` so far, sent as a
//! cumulative refund. Renewals are `subscription_payment_success` invoices of billing reason
//! `renewal` (the `initial` one is the order itself); a failed renewal is a notice; a refunded
//! renewal is a cumulative refund of that renewal.

use super::signatures::{verify_hex, AuthError};
use super::{
    click, concerns_money, email, from_rfc3339, line, new_order, order_id, unhandled_money_event, values, Breakdown, Cart, CartConfig,
    CartNotice, CartRefund, Delivery, Intake, OrderRef, PayloadError,
};
use reftrack_protocol::{Currency, LineItem};
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "lemonsqueezy";
/// The signature header.
pub const HEADER: &str = "x-signature";

/// Lemon Squeezy.
pub struct LemonSqueezy;

impl Cart for LemonSqueezy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "LEMONSQUEEZY_WEBHOOK_SECRET"
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let signature = d.header(HEADER).ok_or(AuthError::Missing(HEADER))?;
        verify_hex(config.secret().as_bytes(), &[d.body], signature, HEADER)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.body, super::from_unix(d.now)?)
    }
}

/// The `X-Signature` value Lemon Squeezy would send (for tests and local replays).
pub fn sign(secret: &str, body: &[u8]) -> String {
    super::signatures::hex_hmac(secret.as_bytes(), &[body])
}

#[derive(Deserialize)]
struct Event {
    meta: Meta,
    data: Data,
}

#[derive(Deserialize)]
struct Meta {
    event_name: String,
    #[serde(default)]
    custom_data: Option<HashMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    attributes: serde_json::Value,
}

#[derive(Deserialize)]
struct Order {
    currency: String,
    status: String,
    subtotal: i64,
    #[serde(default, deserialize_with = "values::opt_int")]
    setup_fee: Option<i64>,
    #[serde(default)]
    discount_total: i64,
    #[serde(default)]
    tax: i64,
    #[serde(default)]
    tax_inclusive: bool,
    total: i64,
    #[serde(default, deserialize_with = "values::opt_int")]
    refunded_amount: Option<i64>,
    #[serde(default)]
    refunded: bool,
    #[serde(default, deserialize_with = "values::opt_text")]
    refunded_at: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    user_email: Option<String>,
    first_order_item: Option<OrderItem>,
    created_at: String,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct OrderItem {
    variant_id: Option<i64>,
    product_id: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    product_name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    variant_name: Option<String>,
    price: i64,
    #[serde(default, deserialize_with = "values::opt_int")]
    quantity: Option<i64>,
}

#[derive(Deserialize)]
struct Invoice {
    subscription_id: i64,
    billing_reason: String,
    currency: String,
    status: Option<String>,
    subtotal: i64,
    #[serde(default)]
    discount_total: i64,
    #[serde(default)]
    tax: i64,
    #[serde(default)]
    tax_inclusive: bool,
    total: i64,
    #[serde(default, deserialize_with = "values::opt_int")]
    refunded_amount: Option<i64>,
    #[serde(default)]
    refunded: bool,
    #[serde(default, deserialize_with = "values::opt_text")]
    refunded_at: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    user_email: Option<String>,
    created_at: String,
    updated_at: Option<String>,
}

/// Reads a (verified) Lemon Squeezy event.
/// `now` dates an event that carries no time of its own.
pub fn parse(body: &[u8], now: time::OffsetDateTime) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    let click_id = click(event.meta.custom_data.as_ref().and_then(|d| d.get("rt_click")).and_then(|v| v.as_str()));
    let data = event.data;
    let expect = |kind: &str| {
        if data.kind == kind {
            Ok(())
        } else {
            Err(super::invalid(format!("{} carries {:?}, not {kind}", event.meta.event_name, data.kind)))
        }
    };
    match event.meta.event_name.as_str() {
        "order_created" => {
            expect("orders")?;
            order(&data.id, serde_json::from_value(data.attributes)?, click_id)
        }
        "order_refunded" => {
            expect("orders")?;
            order_refunded(&data.id, serde_json::from_value(data.attributes)?)
        }
        "subscription_payment_success" | "subscription_payment_recovered" => {
            expect("subscription-invoices")?;
            renewal(&data.id, serde_json::from_value(data.attributes)?, click_id)
        }
        "subscription_payment_failed" => {
            expect("subscription-invoices")?;
            renewal_failed(&data.id, serde_json::from_value(data.attributes)?)
        }
        "subscription_payment_refunded" => {
            expect("subscription-invoices")?;
            renewal_refunded(&data.id, serde_json::from_value(data.attributes)?)
        }
        other if concerns_money(other) => {
            let at = data.attributes.get("updated_at").and_then(|v| v.as_str()).map(from_rfc3339).transpose()?;
            Ok(unhandled_money_event(format!("{}:{other}", data.id), "Lemon Squeezy", other, at.unwrap_or(now)))
        }
        other => Ok(Intake::ignored(format!("Lemon Squeezy event {other} is not handled"))),
    }
}

/// The order's one product, then its setup fee if the figures only add up with it.
fn order_breakdown(o: &Order) -> Breakdown {
    let tax = if o.tax_inclusive { 0 } else { o.tax };
    let base = Breakdown { items: vec![], discount_minor: o.discount_total, shipping_minor: 0, tax_minor: tax };
    let Some(item) = &o.first_order_item else {
        return base;
    };
    let quantity = item.quantity.unwrap_or(1).max(1);
    let sku = match (item.variant_id, item.product_id) {
        (Some(v), _) => format!("variant:{v}"),
        (None, Some(p)) => format!("product:{p}"),
        _ => "item".to_owned(),
    };
    let name = match (&item.product_name, &item.variant_name) {
        (Some(p), Some(v)) if v != "Default" => format!("{p} - {v}"),
        (Some(p), _) => p.clone(),
        _ => String::new(),
    };
    // `price` is the item's price; the subtotal is what the lines come to.
    let product = if item.price.checked_mul(quantity) == Some(o.subtotal) {
        LineItem { sku, name, quantity, unit_price_minor: item.price }
    } else {
        line(sku, name, quantity, o.subtotal)
    };
    let with_product = Breakdown { items: vec![product.clone()], ..base.clone() };
    if with_product.fits(o.total) {
        return with_product;
    }
    match o.setup_fee.filter(|f| *f > 0) {
        Some(fee) => Breakdown { items: vec![product, line("setup_fee".into(), "Setup fee".into(), 1, fee)], ..base },
        None => with_product,
    }
}

fn order(id: &str, o: Order, click_id: Option<reftrack_protocol::ClickId>) -> Result<Intake, PayloadError> {
    if !matches!(o.status.as_str(), "paid" | "refunded" | "partial_refund") {
        return Ok(Intake::ignored(format!("order {id} is {}, not paid", o.status)));
    }
    let currency = Currency::parse(&o.currency)?;
    let mut order = new_order(NAME, order_id(NAME, id)?, from_rfc3339(&o.created_at)?, currency, o.total, order_breakdown(&o));
    order.customer.email = email(o.user_email.as_deref());
    order.attribution.click_id = click_id;
    Ok(Intake::order(order, vec![]))
}

fn order_refunded(id: &str, o: Order) -> Result<Intake, PayloadError> {
    // `refunded_amount` is the refunded total so far; older payloads only say `refunded` (full).
    let total_refunded = match o.refunded_amount {
        Some(a) if a > 0 => a,
        _ if o.refunded => o.total,
        _ => return Ok(Intake::ignored(format!("order {id} reports no refunded amount"))),
    };
    let at = from_rfc3339(o.refunded_at.as_deref().or(o.updated_at.as_deref()).unwrap_or(&o.created_at))?;
    let order = order_id(NAME, id)?;
    Ok(Intake::refund(CartRefund::cumulative(order.as_str(), OrderRef::Order(order.clone()), total_refunded, at)?))
}

fn invoice_order_id(id: &str) -> Result<reftrack_protocol::OrderId, PayloadError> {
    order_id(NAME, &format!("invoice:{id}"))
}

fn renewal(id: &str, i: Invoice, click_id: Option<reftrack_protocol::ClickId>) -> Result<Intake, PayloadError> {
    if i.billing_reason == "initial" {
        return Ok(Intake::ignored(format!("invoice {id} is the subscription's first payment: order_created brings it")));
    }
    if i.status.as_deref().is_some_and(|s| s != "paid") {
        return Ok(Intake::ignored(format!("invoice {id} is {:?}, not paid", i.status)));
    }
    let currency = Currency::parse(&i.currency)?;
    let tax = if i.tax_inclusive { 0 } else { i.tax };
    let breakdown = Breakdown {
        items: vec![line(format!("subscription:{}", i.subscription_id), "Subscription".into(), 1, i.subtotal)],
        discount_minor: i.discount_total,
        shipping_minor: 0,
        tax_minor: tax,
    };
    let mut order = new_order(NAME, invoice_order_id(id)?, from_rfc3339(&i.created_at)?, currency, i.total, breakdown);
    order.customer.email = email(i.user_email.as_deref());
    // The first order does not name its subscription (order_created does not carry it), so the
    // renewal is attributed through the click the subscription's custom data still carries.
    order.attribution.click_id = click_id;
    order.renewal = true;
    order.subscription_id = Some(format!("{NAME}:{}", i.subscription_id));
    Ok(Intake::order(order, vec![]))
}

fn renewal_failed(id: &str, i: Invoice) -> Result<Intake, PayloadError> {
    let message = format!("a payment of subscription {} failed (invoice {id}): nothing is credited until it is paid", i.subscription_id);
    let notice = CartNotice::new(
        format!("invoice:{id}:payment_failed"),
        "renewal_failed",
        message,
        from_rfc3339(i.updated_at.as_deref().unwrap_or(&i.created_at))?,
    )
    .amount(i.total, Currency::parse(&i.currency)?);
    Ok(Intake::notice(notice))
}

fn renewal_refunded(id: &str, i: Invoice) -> Result<Intake, PayloadError> {
    if i.billing_reason == "initial" {
        return Ok(Intake::ignored(format!("invoice {id} is the first payment: its refund arrives as order_refunded")));
    }
    let total_refunded = match i.refunded_amount {
        Some(a) if a > 0 => a,
        _ if i.refunded => i.total,
        _ => return Ok(Intake::ignored(format!("invoice {id} reports no refunded amount"))),
    };
    let at = from_rfc3339(i.refunded_at.as_deref().or(i.updated_at.as_deref()).unwrap_or(&i.created_at))?;
    let order = invoice_order_id(id)?;
    Ok(Intake::refund(CartRefund::cumulative(order.as_str(), OrderRef::Order(order.clone()), total_refunded, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    const SECRET: &str = "ls-signing-secret";

    fn now() -> time::OffsetDateTime {
        crate::carts::from_unix(1_800_000_000).unwrap()
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn authenticate(signature: Option<&str>, body: &[u8]) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        if let Some(s) = signature {
            h.insert(HEADER, s.parse().unwrap());
        }
        LemonSqueezy.authenticate(&Delivery { headers: &h, query: "", body, now: 0 }, &CartConfig::new(SECRET, []))
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"ls-signing-secret", body, sha256).hexdigest()
        let body = br#"{"meta":{"event_name":"order_created"}}"#;
        let expected = "4f7c05d4fca4be62f3191b2aa65ee4714a9da701fb073b7410bde9d0948dcfdf";
        assert_eq!(sign(SECRET, body), expected);
        authenticate(Some(expected), body).unwrap();
        authenticate(Some(&expected.to_ascii_uppercase()), body).unwrap();
    }

    #[test]
    fn a_forged_missing_or_malformed_signature_is_refused() {
        let body = fixture("lemonsqueezy_order_created.json");
        assert_eq!(authenticate(Some(&sign("attacker", body.as_bytes())), body.as_bytes()), Err(AuthError::Mismatch));
        assert_eq!(authenticate(Some(&sign(SECRET, b"{}")), body.as_bytes()), Err(AuthError::Mismatch));
        assert_eq!(authenticate(None, body.as_bytes()), Err(AuthError::Missing(HEADER)));
        assert_eq!(authenticate(Some("not-hex"), body.as_bytes()), Err(AuthError::Malformed(HEADER)));
    }

    #[test]
    fn an_order_keeps_its_product_discount_and_added_tax_and_the_click_from_custom_data() {
        let body = fixture("lemonsqueezy_order_created.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "lemonsqueezy:1734567");
        // 49.00 − 4.90 + 8.82 VAT = 52.92
        assert_eq!((order.total_minor, order.discount_minor, order.tax_minor, order.currency.as_str()), (5292, 490, 882, "EUR"));
        assert_eq!(order.items[0].sku, "variant:482911");
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert!(!order.renewal);
    }

    #[test]
    fn tax_inside_the_price_is_not_added_and_an_empty_click_is_no_click() {
        let body = fixture("lemonsqueezy_order_created.json")
            .replace("\"tax_inclusive\": false", "\"tax_inclusive\": true")
            .replace("\"total\": 5292", "\"total\": 4410")
            .replace("{{CLICK}}", "");
        let order = parse(body.as_bytes(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.tax_minor, order.total_minor, order.items.len()), (0, 4410, 1));
        assert!(order.attribution.click_id.is_none());
    }

    #[test]
    fn a_refund_reports_the_refunded_total_so_far() {
        let body = fixture("lemonsqueezy_order_refunded.json");
        let intake = parse(body.as_bytes(), now()).unwrap();
        let refund = &intake.refunds[0];
        assert_eq!(refund.amount, RefundAmount::Cumulative(2646));
        assert_eq!(refund.refund_id.as_str(), "lemonsqueezy:1734567:refunded:2646");
        assert_eq!(refund.order, OrderRef::Order(order_id(NAME, "1734567").unwrap()));
        // A full refund in an older payload without `refunded_amount`.
        let full = body.replace("\"refunded_amount\": 2646,", "").replace("\"refunded\": false", "\"refunded\": true");
        assert_eq!(parse(full.as_bytes(), now()).unwrap().refunds[0].amount, RefundAmount::Cumulative(5292));
    }

    #[test]
    fn a_renewal_names_its_subscription_and_the_first_invoice_is_left_to_the_order() {
        let body = fixture("lemonsqueezy_subscription_payment_success.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "lemonsqueezy:invoice:2690432");
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("lemonsqueezy:389201"));
        assert_eq!((order.total_minor, order.tax_minor), (1200, 200));
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        let initial = parse(body.replace("\"billing_reason\": \"renewal\"", "\"billing_reason\": \"initial\"").as_bytes(), now()).unwrap();
        assert!(initial.ignored.is_some() && initial.order.is_none());
    }

    #[test]
    fn a_failed_or_refunded_renewal_is_a_notice_or_a_cumulative_refund() {
        let body = fixture("lemonsqueezy_subscription_payment_success.json").replace("{{CLICK}}", "");
        let failed = parse(body.replace("subscription_payment_success", "subscription_payment_failed").as_bytes(), now()).unwrap();
        assert_eq!((failed.notices[0].kind, failed.notices[0].amount_minor), ("renewal_failed", Some(1200)));
        failed.validate("lemonsqueezy").unwrap();
        let refunded = body
            .replace("subscription_payment_success", "subscription_payment_refunded")
            .replace("\"refunded\": false", "\"refunded\": true")
            .replace("\"refunded_amount\": 0", "\"refunded_amount\": 1200");
        let refund = &parse(refunded.as_bytes(), now()).unwrap().refunds[0];
        assert_eq!(refund.amount, RefundAmount::Cumulative(1200));
        assert_eq!(refund.order, OrderRef::Order(order_id(NAME, "invoice:2690432").unwrap()));
    }

    #[test]
    fn an_event_whose_data_is_not_what_its_name_says_is_refused() {
        let body = fixture("lemonsqueezy_order_created.json").replace("\"type\": \"orders\"", "\"type\": \"subscriptions\"");
        assert!(parse(body.as_bytes(), now()).is_err());
        assert!(parse(br#"{"meta":{"event_name":"license_key_created"},"data":{"type":"license-keys","id":"1","attributes":{}}}"#, now())
            .unwrap()
            .ignored
            .is_some());
    }
}
