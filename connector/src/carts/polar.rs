//! Polar: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64>`).
//! Polar's own SDK and server sign with the secret string's bytes (they base64-encode the secret
//! before handing it to the Standard Webhooks library, which decodes it again), so the key here
//! is the secret as pasted, whatever its prefix.
//!
//! `order.paid` is the order: items before discount, `discount_amount`, `tax_amount` and
//! `total_amount` in cents; `billing_reason` `subscription_cycle` / `subscription_update` are
//! renewals of `subscription_id`. `order.refunded` (and `order.updated`) report the order's
//! `refunded_amount` plus `refunded_tax_amount` so far — a cumulative refund; `refund.created`
//! is one refund of `amount` + `tax_amount` once it succeeded. A checkout link can only carry
//! `reference_id` and `utm_*` into the order's metadata, so the click rides
//! `?reference_id=<click>` on a checkout link, or `metadata.rt_click` on an API checkout.

use super::signatures::{verify_standard, AuthError};
use super::{
    click, concerns_money, email, from_rfc3339, line, new_order, order_id, refund_id, unhandled_money_event, values, Breakdown, Cart,
    CartConfig, CartNotice, CartRefund, Delivery, Intake, OrderRef, PayloadError,
};
use reftrack_protocol::signature::{Secret, Verifier};
use reftrack_protocol::Currency;
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "polar";

/// Polar.
pub struct Polar;

impl Cart for Polar {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "POLAR_WEBHOOK_SECRET"
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        verify_standard(&verifier(config.secret()), d.headers, d.body, d.now)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.body, super::from_unix(d.now)?)
    }
}

/// The verifier for Polar's secret: its bytes are the key.
pub fn verifier(secret: &str) -> Verifier {
    Verifier::new(vec![Secret::from_bytes(secret.as_bytes())])
}

/// The three Standard Webhooks headers Polar would send (for tests and local replays).
pub fn headers(secret: &str, msg_id: &str, ts: i64, body: &[u8]) -> [(&'static str, String); 3] {
    Secret::from_bytes(secret.as_bytes()).headers(msg_id, ts, body)
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Order {
    id: String,
    created_at: String,
    modified_at: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    status: Option<String>,
    paid: Option<bool>,
    subtotal_amount: Option<i64>,
    #[serde(default)]
    discount_amount: i64,
    #[serde(default)]
    tax_amount: i64,
    total_amount: Option<i64>,
    /// Before `total_amount` existed: the amount after discount, before tax.
    amount: Option<i64>,
    #[serde(default)]
    refunded_amount: i64,
    #[serde(default)]
    refunded_tax_amount: i64,
    currency: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    billing_reason: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, serde_json::Value>,
    customer: Option<Customer>,
    product: Option<Product>,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Customer {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Product {
    id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default, deserialize_with = "values::opt_text")]
    label: Option<String>,
    amount: i64,
    #[serde(default, deserialize_with = "values::opt_text")]
    product_price_id: Option<String>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    tax_amount: i64,
    currency: String,
    order_id: String,
    created_at: String,
    modified_at: Option<String>,
}

/// Reads a (verified) Polar event.
/// `now` dates an event that carries no time of its own.
pub fn parse(body: &[u8], now: time::OffsetDateTime) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    match event.kind.as_str() {
        "order.paid" => order(serde_json::from_value(event.data)?),
        "order.created" => Ok(Intake::ignored("order.created: the order is counted once paid, from order.paid")),
        "order.refunded" | "order.updated" => order_refunded(serde_json::from_value(event.data)?),
        "refund.created" | "refund.updated" => refund(&event.kind, serde_json::from_value(event.data)?),
        other if concerns_money(other) => {
            let id = event.data.get("id").and_then(|v| v.as_str()).unwrap_or("event").to_owned();
            let at =
                event.data.get("modified_at").or(event.data.get("created_at")).and_then(|v| v.as_str()).map(from_rfc3339).transpose()?;
            Ok(unhandled_money_event(format!("{id}:{other}"), "Polar", other, at.unwrap_or(now)))
        }
        other => Ok(Intake::ignored(format!("Polar event {other} is not handled"))),
    }
}

fn total_of(o: &Order) -> Result<i64, PayloadError> {
    match (o.total_amount, o.amount) {
        (Some(t), _) => Ok(t),
        (None, Some(a)) => a.checked_add(o.tax_amount).ok_or_else(|| super::invalid("amounts overflow")),
        (None, None) => Err(super::invalid("the order has no total_amount")),
    }
}

fn order(o: Order) -> Result<Intake, PayloadError> {
    if o.paid == Some(false) || o.status.as_deref() == Some("pending") {
        return Ok(Intake::ignored(format!("order {} is not paid yet", o.id)));
    }
    let currency = Currency::parse(&o.currency)?;
    let total = total_of(&o)?;
    let product = o.product.as_ref();
    let items = if o.items.is_empty() {
        o.subtotal_amount
            .map(|sub| {
                let sku = product.and_then(|p| p.id.clone()).map(|id| format!("product:{id}")).unwrap_or_else(|| "product".into());
                vec![line(sku, product.and_then(|p| p.name.clone()).unwrap_or_default(), 1, sub)]
            })
            .unwrap_or_default()
    } else {
        o.items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let sku = item.product_price_id.clone().map(|p| format!("price:{p}")).unwrap_or_else(|| format!("item:{i}"));
                line(sku, item.label.clone().unwrap_or_default(), 1, item.amount)
            })
            .collect()
    };
    let breakdown = Breakdown { items, discount_minor: o.discount_amount, shipping_minor: 0, tax_minor: o.tax_amount };
    let mut order = new_order(NAME, order_id(NAME, &o.id)?, from_rfc3339(&o.created_at)?, currency, total, breakdown);
    order.customer.email = email(o.customer.as_ref().and_then(|c| c.email.as_deref()));
    let meta = |k: &str| o.metadata.get(k).and_then(|v| v.as_str());
    order.attribution.click_id = click(meta("rt_click")).or_else(|| click(meta("reference_id")));
    order.renewal =
        matches!(o.billing_reason.as_deref(), Some("subscription_cycle" | "subscription_update")) && o.subscription_id.is_some();
    order.subscription_id = o.subscription_id.as_ref().map(|s| format!("{NAME}:{s}"));
    Ok(Intake::order(order, vec![]))
}

fn order_refunded(o: Order) -> Result<Intake, PayloadError> {
    // The refunded amount and its tax are kept apart; the order's total includes its tax.
    let refunded = o.refunded_amount.checked_add(o.refunded_tax_amount).ok_or_else(|| super::invalid("refunded amounts overflow"))?;
    if refunded <= 0 {
        return Ok(Intake::ignored(format!("order {} reports nothing refunded", o.id)));
    }
    let id = order_id(NAME, &o.id)?;
    let at = from_rfc3339(o.modified_at.as_deref().unwrap_or(&o.created_at))?;
    Ok(Intake::refund(CartRefund::cumulative(id.as_str(), OrderRef::Order(id.clone()), refunded, at)?))
}

fn refund(kind: &str, r: Refund) -> Result<Intake, PayloadError> {
    let amount = r.amount.checked_add(r.tax_amount).ok_or_else(|| super::invalid("refund amounts overflow"))?;
    let order = OrderRef::Order(order_id(NAME, &r.order_id)?);
    let at = from_rfc3339(r.modified_at.as_deref().unwrap_or(&r.created_at))?;
    match r.status.as_str() {
        "succeeded" => Ok(Intake::refund(CartRefund::single(refund_id(NAME, &r.id)?, order, amount, at))),
        "failed" | "canceled" if kind == "refund.updated" => {
            let message = format!("refund {} of {amount} (minor units) {}: it may already have been clawed back", r.id, r.status);
            Ok(Intake::notice(
                CartNotice::new(format!("{}:refund_failed", r.id), "refund_failed", message, at)
                    .about(order)
                    .amount(amount, Currency::parse(&r.currency)?),
            ))
        }
        other => Ok(Intake::ignored(format!("refund {} is {other}: no money moved yet", r.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    const SECRET: &str = "polar_whs_3kFq8sZ2mWc7Ty1vRb9Xp0aLe5Nd4Jh6";

    fn now() -> time::OffsetDateTime {
        crate::carts::from_unix(1_800_000_000).unwrap()
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn authenticate(headers: &[(&'static str, String)], body: &[u8], now: i64) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Polar.authenticate(&Delivery { headers: &h, query: "", body, now }, &CartConfig::new(SECRET, []))
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: base64(hmac.new(SECRET.encode(), b"msg_2bX.1700000000." + body, sha256).digest()),
        // which is what Polar's server computes after its base64 round trip of the secret.
        let body = br#"{"type":"order.paid","data":{}}"#;
        let signature = "v1,DHmzY9aIQ4dg2+7E8FoUDFJjAKiXIYSBSqlvfAVyBvU=";
        let computed = headers(SECRET, "msg_2bX", 1_700_000_000, body);
        assert_eq!(computed[2].1, signature);
        authenticate(&computed, body, 1_700_000_100).unwrap();
        // Several signatures (a secret being rotated): any one matching is enough.
        let rotated = [computed[0].clone(), computed[1].clone(), ("webhook-signature", format!("v1,AAAA {signature}"))];
        authenticate(&rotated, body, 1_700_000_000).unwrap();
    }

    #[test]
    fn a_forged_stale_or_unsigned_delivery_is_refused() {
        let body = fixture("polar_order_paid.json");
        let forged = headers("polar_whs_attacker", "msg_1", 1_000, body.as_bytes());
        assert_eq!(authenticate(&forged, body.as_bytes(), 1_000), Err(AuthError::Mismatch));
        let good = headers(SECRET, "msg_1", 1_000, body.as_bytes());
        assert_eq!(authenticate(&good, body.as_bytes(), 1_301), Err(AuthError::Stale(300)));
        assert_eq!(authenticate(&good, b"{}", 1_000), Err(AuthError::Mismatch));
        assert_eq!(authenticate(&good[..2], body.as_bytes(), 1_000), Err(AuthError::Missing("webhook-signature")));
    }

    #[test]
    fn even_a_whsec_looking_secret_is_used_as_its_own_bytes_as_polar_does() {
        let whsec = "whsec_cG9sYXJfd2hzX3Rlc3Rfc2VjcmV0XzEyMw==";
        let body = b"{}";
        let check = |headers: [(&'static str, String); 3]| {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(k, v.parse().unwrap());
            }
            Polar.authenticate(&Delivery { headers: &h, query: "", body, now: 1_000 }, &CartConfig::new(whsec, []))
        };
        check(headers(whsec, "msg_1", 1_000, body)).unwrap();
        let decoded = Secret::parse(whsec).unwrap().headers("msg_1", 1_000, body);
        assert_eq!(check(decoded), Err(AuthError::Mismatch));
    }

    #[test]
    fn a_paid_order_keeps_its_items_discount_and_tax_and_the_click_from_the_reference_id() {
        let body = fixture("polar_order_paid.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "polar:0a3e9f6c-5b1d-4f2a-8c7e-1d2b3c4a5f60");
        // 100.00 − 10.00 + 7.20 tax = 97.20
        assert_eq!((order.total_minor, order.discount_minor, order.tax_minor, order.currency.as_str()), (9720, 1000, 720, "USD"));
        assert_eq!(order.items[0].unit_price_minor, 10000);
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "customer@example.com");
        assert_eq!(order.subscription_id.as_deref(), Some("polar:5e8c3d1a-2b4f-4a6e-9c0d-7f1e2a3b4c5d"));
        assert!(!order.renewal, "subscription_create is the first payment");
        let cycle = body.replace("\"billing_reason\": \"subscription_create\"", "\"billing_reason\": \"subscription_cycle\"");
        assert!(parse(cycle.as_bytes(), now()).unwrap().order.unwrap().renewal);
    }

    #[test]
    fn a_refunded_order_reports_its_refunded_total_with_tax() {
        let intake = parse(fixture("polar_order_refunded.json").as_bytes(), now()).unwrap();
        let refund = &intake.refunds[0];
        // 45.00 refunded + 3.60 of its tax.
        assert_eq!(refund.amount, RefundAmount::Cumulative(4860));
        assert_eq!(refund.refund_id.as_str(), "polar:0a3e9f6c-5b1d-4f2a-8c7e-1d2b3c4a5f60:refunded:4860");
        let untouched = fixture("polar_order_paid.json").replace("order.paid", "order.updated").replace("{{CLICK}}", "");
        assert!(parse(untouched.as_bytes(), now()).unwrap().ignored.is_some());
    }

    #[test]
    fn a_succeeded_refund_is_one_refund_and_a_failed_one_a_notice() {
        let refund = serde_json::json!({"type": "refund.created", "data": {
            "id": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "status": "succeeded", "reason": "customer_request",
            "amount": 4500, "tax_amount": 360, "currency": "usd", "order_id": "0a3e9f6c-5b1d-4f2a-8c7e-1d2b3c4a5f60",
            "created_at": "2026-11-26T08:00:00Z", "modified_at": null}});
        let intake = parse(&serde_json::to_vec(&refund).unwrap(), now()).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(4860));
        let mut failed = refund.clone();
        failed["type"] = "refund.updated".into();
        failed["data"]["status"] = "failed".into();
        assert_eq!(parse(&serde_json::to_vec(&failed).unwrap(), now()).unwrap().notices[0].kind, "refund_failed");
        let mut pending = refund;
        pending["data"]["status"] = "pending".into();
        assert!(parse(&serde_json::to_vec(&pending).unwrap(), now()).unwrap().ignored.is_some());
    }
}
