//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body keyed with the app's
//! client secret. The topic comes in `X-Shopify-Topic`; the click in the cart attributes
//! (`note_attributes`) or in the landing page's URL.

use super::signatures::{verify_base64, SignatureError};
use super::{click_in_url, from_rfc3339, order_id, refund_id, Cart, CartRefund, Intake, OrderRef, PayloadError};
use axum::http::HeaderMap;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, Email, LineItem};
use serde::Deserialize;

/// The signature header.
pub const HEADER: &str = "x-shopify-hmac-sha256";
/// The topic header.
pub const TOPIC: &str = "x-shopify-topic";

/// Verifies `X-Shopify-Hmac-Sha256`.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    let signature = headers.get(HEADER).and_then(|v| v.to_str().ok()).ok_or(SignatureError::Missing(HEADER))?;
    verify_base64(secret.as_bytes(), &[body], signature, HEADER)
}

#[derive(Deserialize)]
struct Order {
    id: u64,
    created_at: String,
    currency: String,
    total_price: String,
    email: Option<String>,
    contact_email: Option<String>,
    customer: Option<ShopifyCustomer>,
    landing_site: Option<String>,
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
    #[serde(default)]
    line_items: Vec<ShopifyLine>,
}

#[derive(Deserialize)]
struct ShopifyCustomer {
    email: Option<String>,
}

#[derive(Deserialize)]
struct NoteAttribute {
    name: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct ShopifyLine {
    sku: Option<String>,
    name: Option<String>,
    title: Option<String>,
    product_id: Option<u64>,
    quantity: i64,
    price: String,
}

#[derive(Deserialize)]
struct Refund {
    id: u64,
    order_id: u64,
    created_at: String,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Deserialize)]
struct Transaction {
    kind: String,
    status: Option<String>,
    amount: String,
    currency: Option<String>,
}

/// Reads a (verified) Shopify webhook of `topic`.
pub fn parse(topic: &str, body: &[u8]) -> Result<Intake, PayloadError> {
    match topic {
        "orders/create" | "orders/paid" => order(serde_json::from_slice(body)?),
        "refunds/create" => refund(serde_json::from_slice(body)?),
        other => Ok(Intake::ignored(format!("Shopify topic {other:?} is not handled"))),
    }
}

fn order(o: Order) -> Result<Intake, PayloadError> {
    let currency = Currency::parse(&o.currency)?;
    let click = o
        .note_attributes
        .iter()
        .find(|a| a.name == "rt_click")
        .and_then(|a| a.value.as_str())
        .and_then(|c| ClickId::parse(c).ok())
        .or_else(|| o.landing_site.as_deref().and_then(click_in_url));
    let email = o.email.or(o.contact_email).or(o.customer.and_then(|c| c.email)).and_then(|e| Email::parse(&e).ok());
    let items = o
        .line_items
        .into_iter()
        .map(|l| {
            Ok(LineItem {
                sku: l.sku.filter(|s| !s.is_empty()).unwrap_or_else(|| format!("product:{}", l.product_id.unwrap_or(0))),
                name: l.name.or(l.title).unwrap_or_default(),
                quantity: l.quantity,
                unit_price_minor: currency.parse_major(&l.price)?,
            })
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let order = CanonicalOrder {
        order_id: order_id(Cart::Shopify, &o.id.to_string())?,
        occurred_at: from_rfc3339(&o.created_at)?,
        currency,
        total_minor: currency.parse_major(&o.total_price)?,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        items,
        customer: Customer { email },
        attribution: Attribution { click_id: click, partner: None, sub_id: None },
        source: "shopify".into(),
        renewal: false,
        subscription_id: None,
    };
    Ok(Intake::order(order, vec![]))
}

fn refund(r: Refund) -> Result<Intake, PayloadError> {
    let mut amount = 0;
    for t in r.transactions.iter().filter(|t| t.kind == "refund" && t.status.as_deref().unwrap_or("success") == "success") {
        let currency = Currency::parse(t.currency.as_deref().unwrap_or("USD"))?;
        amount += currency.parse_major(&t.amount)?;
    }
    if amount <= 0 {
        return Ok(Intake::ignored("refund without a successful money movement (restock only)"));
    }
    Ok(Intake::refunds(vec![CartRefund {
        refund_id: refund_id(Cart::Shopify, &r.id.to_string())?,
        order: OrderRef::Order(order_id(Cart::Shopify, &r.order_id.to_string())?),
        amount_minor: amount,
        occurred_at: from_rfc3339(&r.created_at)?,
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::signatures::base64_hmac;

    #[test]
    fn the_base64_hmac_of_the_body_verifies() {
        let body = b"{\"id\":1}";
        let mut h = HeaderMap::new();
        h.insert(HEADER, base64_hmac(b"shpss_secret", &[body]).parse().unwrap());
        verify(&h, body, "shpss_secret").unwrap();
        assert_eq!(verify(&h, body, "other"), Err(SignatureError::Mismatch));
        assert_eq!(verify(&h, b"{\"id\":2}", "shpss_secret"), Err(SignatureError::Mismatch));
        assert_eq!(verify(&HeaderMap::new(), body, "shpss_secret"), Err(SignatureError::Missing(HEADER)));
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: base64(hmac.new(b"shpss_secret", body, sha256).digest())
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let mut h = HeaderMap::new();
        h.insert(HEADER, "lLBH6Rw11NFjQ14xv5mmTBbELulDPwWuEj9UnBkI8Js=".parse().unwrap());
        verify(&h, body, "shpss_secret").unwrap();
    }

    #[test]
    fn an_order_keeps_its_lines_in_minor_units_and_the_click_from_cart_attributes() {
        let body = include_str!("../../tests/fixtures/shopify_orders_create.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse("orders/create", body.as_bytes()).unwrap().order.unwrap();
        assert_eq!(order.order_id.as_str(), "shopify:820982911946154508");
        assert_eq!(order.total_minor, 19900);
        assert_eq!(
            order.items[0],
            LineItem { sku: "COURSE-STD".into(), name: "The Course - Standard".into(), quantity: 2, unit_price_minor: 9950 }
        );
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.occurred_at.unix_timestamp(), 1_795_169_106);
    }

    #[test]
    fn a_refund_sums_its_successful_refund_transactions() {
        let intake = parse("refunds/create", include_bytes!("../../tests/fixtures/shopify_refunds_create.json")).unwrap();
        assert_eq!(intake.refunds[0].amount_minor, 9950);
        assert_eq!(intake.refunds[0].order, OrderRef::Order(order_id(Cart::Shopify, "820982911946154508").unwrap()));
        assert!(parse("products/update", b"{}").unwrap().ignored.is_some());
    }
}
