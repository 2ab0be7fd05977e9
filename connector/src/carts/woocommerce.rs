//! WooCommerce: `X-WC-Webhook-Signature`, base64 HMAC-SHA256 of the raw body keyed with the
//! webhook's secret. Creating a webhook sends an unsigned form-encoded ping (`webhook_id=N`) that
//! must get a 200 and store nothing. Orders carry their lines before discounts (`subtotal`),
//! `discount_total`, `shipping_total`, `total_tax` and fees; order updates list the order's
//! refunds, each exact and under its own id.

use super::signatures::{verify_base64, AuthError};
use super::{
    click, email, from_rfc3339, line, new_order, order_id, refund_id, values, Breakdown, Cart, CartConfig, CartRefund, Delivery, Intake,
    OrderRef, PayloadError,
};
use reftrack_protocol::Currency;
use serde::Deserialize;

/// The route and order-id prefix.
pub const NAME: &str = "woocommerce";
/// The signature header.
pub const HEADER: &str = "x-wc-webhook-signature";
/// The topic header (`order.created`).
pub const TOPIC: &str = "x-wc-webhook-topic";

/// WooCommerce.
pub struct WooCommerce;

impl Cart for WooCommerce {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "WOOCOMMERCE_WEBHOOK_SECRET"
    }

    fn is_probe(&self, d: &Delivery<'_>) -> bool {
        is_ping(d.body)
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let signature = d.header(HEADER).ok_or(AuthError::Missing(HEADER))?;
        verify_base64(config.secret().as_bytes(), &[d.body], signature, HEADER)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.header(TOPIC).unwrap_or_default(), d.body)
    }
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
    #[serde(default, deserialize_with = "values::opt_text")]
    discount_total: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    shipping_total: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    total_tax: Option<String>,
    billing: Option<Billing>,
    #[serde(default)]
    meta_data: Vec<Meta>,
    #[serde(default)]
    line_items: Vec<WooLine>,
    #[serde(default)]
    fee_lines: Vec<FeeLine>,
    #[serde(default)]
    refunds: Vec<WooRefund>,
    #[serde(default, deserialize_with = "values::opt_text")]
    date_modified_gmt: Option<String>,
}

#[derive(Deserialize)]
struct Billing {
    #[serde(default, deserialize_with = "values::opt_text")]
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
    variation_id: Option<u64>,
    quantity: i64,
    /// Before the order's discounts, without tax.
    subtotal: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    sku: Option<String>,
}

#[derive(Deserialize)]
struct FeeLine {
    id: u64,
    name: String,
    total: String,
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
    let id = order_id(NAME, &o.id.to_string())?;
    let occurred_at = gmt(&o.date_created_gmt)?;
    let refunded_at = o.date_modified_gmt.as_deref().map(gmt).transpose()?.unwrap_or(occurred_at);
    let refunds = o
        .refunds
        .iter()
        .map(|r| {
            let amount = currency.parse_major(&r.total)?.checked_neg().ok_or_else(|| super::invalid("refund total overflows"))?;
            Ok(CartRefund::single(refund_id(NAME, &r.id.to_string())?, OrderRef::Order(id.clone()), amount, refunded_at))
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let mut order =
        new_order(NAME, id, occurred_at, currency, currency.parse_major(&o.total)?, breakdown(&o, currency).unwrap_or_default());
    order.attribution.click_id = click(o.meta_data.iter().find(|m| m.key == "rt_click").and_then(|m| m.value.as_str()));
    order.customer.email = email(o.billing.as_ref().and_then(|b| b.email.as_deref()));
    Ok(Intake::order(order, vec![]).with_refunds(refunds))
}

/// Lines before discounts, the discount, shipping, tax and fees (a negative fee is a discount).
/// WooCommerce keeps unrounded line subtotals when prices include tax: such a figure is not exact
/// in the currency, and the order then goes without lines (its shipping and tax are still read).
fn breakdown(o: &Order, currency: Currency) -> Option<Breakdown> {
    let mut discount = values::major_or_zero(currency, o.discount_total.as_deref(), "discount_total").ok()?;
    let shipping = values::major_or_zero(currency, o.shipping_total.as_deref(), "shipping_total").ok()?;
    let tax = values::major_or_zero(currency, o.total_tax.as_deref(), "total_tax").ok()?;
    let mut items = Some(Vec::with_capacity(o.line_items.len() + o.fee_lines.len()));
    for l in &o.line_items {
        let sku = l.sku.clone().unwrap_or_else(|| match l.variation_id.filter(|v| *v > 0) {
            Some(v) => format!("variation:{v}"),
            None => format!("product:{}", l.product_id.unwrap_or(0)),
        });
        match (currency.parse_major(&l.subtotal).ok(), items.as_mut()) {
            (Some(amount), Some(items)) => items.push(line(sku, l.name.clone(), l.quantity, amount)),
            _ => items = None,
        }
    }
    for fee in &o.fee_lines {
        match currency.parse_major(&fee.total).ok() {
            Some(amount) if amount < 0 => discount = discount.checked_sub(amount)?,
            Some(amount) => items.iter_mut().for_each(|i| i.push(line(format!("fee:{}", fee.id), fee.name.clone(), 1, amount))),
            None => items = None,
        }
    }
    Some(Breakdown { items: items.unwrap_or_default(), discount_minor: discount, shipping_minor: shipping, tax_minor: tax })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use reftrack_protocol::LineItem;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn the_creation_ping_is_recognised_and_nothing_else_is() {
        assert!(is_ping(b"webhook_id=15"));
        assert!(!is_ping(b"webhook_id=15&x=1"));
        assert!(!is_ping(b"{\"id\":1}"));
    }

    #[test]
    fn an_order_becomes_exact_lines_and_its_refunds_are_read_from_an_update() {
        let body = fixture("woocommerce_order_created.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse("order.created", body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.order_id.as_str(), order.total_minor, order.currency.as_str()), ("woocommerce:727", 4900, "EUR"));
        assert_eq!(order.items[1], LineItem { sku: "product:94".into(), name: "Worksheets".into(), quantity: 3, unit_price_minor: 1000 });
        assert_eq!(order.occurred_at.unix_timestamp(), 1_795_170_600);
        assert!(intake.refunds.is_empty());
        let updated = fixture("woocommerce_order_updated_refunded.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse("order.updated", updated.as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(1900));
        assert_eq!(intake.refunds[0].refund_id.as_str(), "woocommerce:730");
    }

    #[test]
    fn a_coupon_shipping_tax_and_a_fee_add_up_to_the_total() {
        let order = parse("order.created", fixture("woocommerce_order_discount_shipping_tax.json").as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        // 2 × 40.00 + 15.00 + 2.50 fee − 9.50 coupon + 4.90 shipping + 17.67 tax = 110.57
        assert_eq!(order.items.len(), 3);
        assert_eq!((order.discount_minor, order.shipping_minor, order.tax_minor, order.total_minor), (950, 490, 1767, 11057));
    }

    #[test]
    fn an_unrounded_line_subtotal_leaves_the_order_without_lines() {
        let body =
            fixture("woocommerce_order_discount_shipping_tax.json").replace("\"subtotal\": \"15.00\"", "\"subtotal\": \"14.999999\"");
        let order = parse("order.created", body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert!(order.items.is_empty());
        assert_eq!((order.total_minor, order.discount_minor, order.shipping_minor, order.tax_minor), (11057, 0, 490, 1767));
    }

    #[test]
    fn unpaid_orders_are_not_sales() {
        let body = fixture("woocommerce_order_created.json").replace("processing", "pending");
        assert!(parse("order.created", body.as_bytes()).unwrap().ignored.is_some());
    }
}
