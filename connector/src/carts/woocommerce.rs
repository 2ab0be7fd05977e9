//! WooCommerce: `X-WC-Webhook-Signature`, base64 HMAC-SHA256 of the raw body keyed with the
//! webhook's secret. Creating a webhook sends an unsigned form-encoded ping (`webhook_id=N`) that
//! must get a 200 and store nothing. Order updates list the order's refunds.

use super::signatures::{verify_base64, SignatureError};
use super::{from_rfc3339, order_id, refund_id, Cart, CartRefund, Intake, OrderRef, PayloadError};
use axum::http::HeaderMap;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, Email, LineItem};
use serde::Deserialize;

/// The signature header.
pub const HEADER: &str = "x-wc-webhook-signature";
/// The topic header (`order.created`).
pub const TOPIC: &str = "x-wc-webhook-topic";

/// Verifies `X-WC-Webhook-Signature`.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    let signature = headers.get(HEADER).and_then(|v| v.to_str().ok()).ok_or(SignatureError::Missing(HEADER))?;
    verify_base64(secret.as_bytes(), &[body], signature, HEADER)
}

/// True for the webhook-creation ping: a form body holding only `webhook_id`.
pub fn is_ping(body: &[u8]) -> bool {
    let pairs: Vec<_> = url::form_urlencoded::parse(body).collect();
    body.len() < 64 && pairs.len() == 1 && pairs[0].0 == "webhook_id" && pairs[0].1.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Deserialize)]
struct Order {
    id: u64,
    status: String,
    currency: String,
    date_created_gmt: String,
    total: String,
    billing: Option<Billing>,
    #[serde(default)]
    meta_data: Vec<Meta>,
    #[serde(default)]
    line_items: Vec<WooLine>,
    #[serde(default)]
    refunds: Vec<WooRefund>,
    date_modified_gmt: Option<String>,
}

#[derive(Deserialize)]
struct Billing {
    email: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    key: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct WooLine {
    name: String,
    product_id: Option<u64>,
    quantity: i64,
    total: String,
    sku: Option<String>,
}

#[derive(Deserialize)]
struct WooRefund {
    id: u64,
    total: String,
}

/// Reads a (verified) WooCommerce webhook of `topic`.
pub fn parse(topic: &str, body: &[u8]) -> Result<Intake, PayloadError> {
    match topic {
        "order.created" | "order.updated" => order(serde_json::from_slice(body)?),
        other => Ok(Intake::ignored(format!("WooCommerce topic {other:?} is not handled"))),
    }
}

/// WooCommerce's GMT times carry no offset.
fn gmt(raw: &str) -> Result<time::OffsetDateTime, PayloadError> {
    if raw.ends_with('Z') || raw.contains('+') {
        from_rfc3339(raw)
    } else {
        from_rfc3339(&format!("{raw}Z"))
    }
}

fn order(o: Order) -> Result<Intake, PayloadError> {
    // Pending, on-hold (awaiting a bank transfer), failed or cancelled orders are not sales.
    if !matches!(o.status.as_str(), "processing" | "completed" | "refunded") {
        return Ok(Intake::ignored(format!("order status {:?} is not a sale", o.status)));
    }
    let currency = Currency::parse(&o.currency)?;
    let id = order_id(Cart::WooCommerce, &o.id.to_string())?;
    let click = o.meta_data.iter().find(|m| m.key == "rt_click").and_then(|m| m.value.as_str()).and_then(|c| ClickId::parse(c).ok());
    let items = o
        .line_items
        .into_iter()
        .map(|l| {
            // The line total is exact; a unit price that does not divide it stays one line of one.
            let total = currency.parse_major(&l.total)?;
            let (quantity, unit) = if l.quantity > 0 && total % l.quantity == 0 { (l.quantity, total / l.quantity) } else { (1, total) };
            Ok(LineItem {
                sku: l.sku.filter(|s| !s.is_empty()).unwrap_or_else(|| format!("product:{}", l.product_id.unwrap_or(0))),
                name: l.name,
                quantity,
                unit_price_minor: unit,
            })
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let refunded_at = o.date_modified_gmt.as_deref().map(gmt).transpose()?;
    let occurred_at = gmt(&o.date_created_gmt)?;
    let refunds = o
        .refunds
        .iter()
        .map(|r| {
            Ok(CartRefund {
                refund_id: refund_id(Cart::WooCommerce, &r.id.to_string())?,
                order: OrderRef::Order(id.clone()),
                amount_minor: -currency.parse_major(&r.total)?,
                occurred_at: refunded_at.unwrap_or(occurred_at),
            })
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let order = CanonicalOrder {
        order_id: id,
        occurred_at,
        currency,
        total_minor: currency.parse_major(&o.total)?,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        items,
        customer: Customer { email: o.billing.and_then(|b| b.email).and_then(|e| Email::parse(&e).ok()) },
        attribution: Attribution { click_id: click, partner: None, sub_id: None },
        source: "woocommerce".into(),
        renewal: false,
        subscription_id: None,
    };
    let mut intake = Intake::order(order, vec![]);
    intake.refunds = refunds;
    Ok(intake)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creation_ping_is_recognised_and_nothing_else_is() {
        assert!(is_ping(b"webhook_id=15"));
        assert!(!is_ping(b"webhook_id=15&x=1"));
        assert!(!is_ping(b"{\"id\":1}"));
    }

    #[test]
    fn an_order_becomes_exact_lines_and_its_refunds_are_read_from_an_update() {
        let body = include_str!("../../tests/fixtures/woocommerce_order_created.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse("order.created", body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        assert_eq!((order.order_id.as_str(), order.total_minor, order.currency.as_str()), ("woocommerce:727", 4900, "EUR"));
        assert_eq!(order.items[1], LineItem { sku: "product:94".into(), name: "Worksheets".into(), quantity: 3, unit_price_minor: 1000 });
        assert_eq!(order.occurred_at.unix_timestamp(), 1_795_170_600);
        assert!(intake.refunds.is_empty());
        let updated =
            include_str!("../../tests/fixtures/woocommerce_order_updated_refunded.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse("order.updated", updated.as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].amount_minor, 1900);
        assert_eq!(intake.refunds[0].refund_id.as_str(), "woocommerce:730");
    }

    #[test]
    fn unpaid_orders_are_not_sales() {
        let body = include_str!("../../tests/fixtures/woocommerce_order_created.json").replace("processing", "pending");
        assert!(parse("order.created", body.as_bytes()).unwrap().ignored.is_some());
    }
}
