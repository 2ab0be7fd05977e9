//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body keyed with the app's
//! client secret; the topic comes in `X-Shopify-Topic`. Orders from `orders/paid` (or
//! `orders/create` once paid), with their lines, `total_discounts`, shipping
//! (`total_shipping_price_set`) and `total_tax` (not added again when `taxes_included`). The click
//! rides the cart attributes (`note_attributes`) or the landing page's URL. Refunds are exact one
//! by one: `refunds/create`, and the `refunds` an order update (`orders/updated`,
//! `orders/cancelled`) lists, under the same ids, so either topic or both count each refund once.

use super::signatures::{verify_base64, AuthError};
use super::{
    click, click_in_url, email, from_rfc3339, line, new_order, order_id, refund_id, values, Breakdown, Cart, CartConfig, CartRefund,
    Delivery, Intake, OrderRef, PayloadError,
};
use reftrack_protocol::Currency;
use serde::Deserialize;

/// The route and order-id prefix.
pub const NAME: &str = "shopify";
/// The signature header.
pub const HEADER: &str = "x-shopify-hmac-sha256";
/// The topic header.
pub const TOPIC: &str = "x-shopify-topic";

/// Shopify.
pub struct Shopify;

impl Cart for Shopify {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "SHOPIFY_WEBHOOK_SECRET"
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let signature = d.header(HEADER).ok_or(AuthError::Missing(HEADER))?;
        verify_base64(config.secret().as_bytes(), &[d.body], signature, HEADER)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.header(TOPIC).unwrap_or_default(), d.body)
    }
}

#[derive(Deserialize)]
struct Order {
    id: u64,
    created_at: String,
    currency: String,
    total_price: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    total_discounts: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    total_tax: Option<String>,
    #[serde(default)]
    taxes_included: bool,
    total_shipping_price_set: Option<MoneySet>,
    #[serde(default, deserialize_with = "values::opt_text")]
    total_tip_received: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    financial_status: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    contact_email: Option<String>,
    customer: Option<ShopifyCustomer>,
    #[serde(default, deserialize_with = "values::opt_text")]
    landing_site: Option<String>,
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
    #[serde(default)]
    line_items: Vec<ShopifyLine>,
    #[serde(default)]
    refunds: Vec<Refund>,
}

#[derive(Deserialize)]
struct MoneySet {
    shop_money: Money,
}

#[derive(Deserialize)]
struct Money {
    amount: String,
}

#[derive(Deserialize)]
struct ShopifyCustomer {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
}

#[derive(Deserialize)]
struct NoteAttribute {
    name: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct ShopifyLine {
    #[serde(default, deserialize_with = "values::opt_text")]
    sku: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    title: Option<String>,
    product_id: Option<u64>,
    variant_id: Option<u64>,
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
        "orders/create" | "orders/paid" => order(topic, serde_json::from_slice(body)?),
        "orders/updated" | "orders/cancelled" | "orders/edited" => order_refunds(serde_json::from_slice(body)?),
        "refunds/create" => {
            let r: Refund = serde_json::from_slice(body)?;
            Ok(Intake::refunds(refund(&r, None)?.into_iter().collect()))
        }
        other => Ok(Intake::ignored(format!("Shopify topic {other:?} is not handled"))),
    }
}

fn order(topic: &str, o: Order) -> Result<Intake, PayloadError> {
    // An order placed with a manual payment method, or only authorised, is not a sale yet:
    // orders/paid brings it once the money is captured.
    let paid = matches!(o.financial_status.as_deref(), Some("paid" | "partially_paid" | "partially_refunded" | "refunded"));
    if topic == "orders/create" && o.financial_status.is_some() && !paid {
        return Ok(Intake::ignored(format!("order {} is {:?}, not paid yet: orders/paid brings it", o.id, o.financial_status)));
    }
    let currency = Currency::parse(&o.currency)?;
    let total = currency.parse_major(&o.total_price)?;
    let click_id = click(o.note_attributes.iter().find(|a| a.name == "rt_click").and_then(|a| a.value.as_str()))
        .or_else(|| o.landing_site.as_deref().and_then(click_in_url));
    let buyer = email(o.email.as_deref().or(o.contact_email.as_deref()).or(o.customer.as_ref().and_then(|c| c.email.as_deref())));
    let breakdown = breakdown(&o, currency).unwrap_or_default();
    let mut order = new_order(NAME, order_id(NAME, &o.id.to_string())?, from_rfc3339(&o.created_at)?, currency, total, breakdown);
    order.customer.email = buyer;
    order.attribution.click_id = click_id;
    let refunds = o.refunds.iter().map(|r| refund(r, Some(currency))).collect::<Result<Vec<_>, _>>()?;
    Ok(Intake::order(order, vec![]).with_refunds(refunds.into_iter().flatten()))
}

/// The lines at their prices, the order's discounts, shipping and tax (when added on top). A line
/// price that is not exact in the currency leaves the order without lines.
fn breakdown(o: &Order, currency: Currency) -> Option<Breakdown> {
    let items = o
        .line_items
        .iter()
        .map(|l| {
            let unit = currency.parse_major(&l.price).ok()?;
            let sku = l.sku.clone().unwrap_or_else(|| match (l.product_id, l.variant_id) {
                (_, Some(v)) => format!("variant:{v}"),
                (Some(p), None) => format!("product:{p}"),
                _ => "item".to_owned(),
            });
            Some(line(sku, l.name.clone().or(l.title.clone()).unwrap_or_default(), l.quantity, unit.checked_mul(l.quantity)?))
        })
        .collect::<Option<Vec<_>>>();
    let tip = values::major_or_zero(currency, o.total_tip_received.as_deref(), "total_tip_received").ok()?;
    let items = items.map(|mut items| {
        if tip > 0 {
            items.push(line("tip".into(), "Tip".into(), 1, tip));
        }
        items
    });
    let shipping = o.total_shipping_price_set.as_ref().map(|s| currency.parse_major(&s.shop_money.amount)).transpose().ok()?.unwrap_or(0);
    let tax = values::major_or_zero(currency, o.total_tax.as_deref(), "total_tax").ok()?;
    Some(Breakdown {
        items: items.unwrap_or_default(),
        discount_minor: values::major_or_zero(currency, o.total_discounts.as_deref(), "total_discounts").ok()?,
        shipping_minor: shipping,
        tax_minor: if o.taxes_included { 0 } else { tax },
    })
}

/// The refunds an order update lists (only those that moved money).
fn order_refunds(o: Order) -> Result<Intake, PayloadError> {
    let currency = Currency::parse(&o.currency)?;
    let refunds = o.refunds.iter().map(|r| refund(r, Some(currency))).collect::<Result<Vec<_>, _>>()?;
    let refunds: Vec<_> = refunds.into_iter().flatten().collect();
    if refunds.is_empty() {
        return Ok(Intake::ignored(format!("order {} update lists no refund that moved money", o.id)));
    }
    Ok(Intake::refunds(refunds))
}

/// A refund's successful refund transactions; `None` for a restock-only refund.
fn refund(r: &Refund, currency: Option<Currency>) -> Result<Option<CartRefund>, PayloadError> {
    let mut amount: i64 = 0;
    for t in r.transactions.iter().filter(|t| t.kind == "refund" && t.status.as_deref().unwrap_or("success") == "success") {
        let currency = match (&t.currency, currency) {
            (Some(c), _) => Currency::parse(c)?,
            (None, Some(c)) => c,
            (None, None) => return Err(super::invalid(format!("refund {} gives no currency", r.id))),
        };
        amount = amount.checked_add(currency.parse_major(&t.amount)?).ok_or_else(|| super::invalid("refund amounts overflow"))?;
    }
    if amount <= 0 {
        return Ok(None);
    }
    Ok(Some(CartRefund::single(
        refund_id(NAME, &r.id.to_string())?,
        OrderRef::Order(order_id(NAME, &r.order_id.to_string())?),
        amount,
        from_rfc3339(&r.created_at)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::signatures::base64_hmac;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;
    use reftrack_protocol::LineItem;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn delivery<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Delivery<'a> {
        Delivery { headers, query: "", body, now: 0 }
    }

    #[test]
    fn the_base64_hmac_of_the_body_verifies() {
        let body = b"{\"id\":1}";
        let config = CartConfig::new("shpss_secret", []);
        let mut h = HeaderMap::new();
        h.insert(HEADER, base64_hmac(b"shpss_secret", &[body]).parse().unwrap());
        Shopify.authenticate(&delivery(&h, body), &config).unwrap();
        assert_eq!(Shopify.authenticate(&delivery(&h, body), &CartConfig::new("other", [])), Err(AuthError::Mismatch));
        assert_eq!(Shopify.authenticate(&delivery(&h, b"{\"id\":2}"), &config), Err(AuthError::Mismatch));
        assert_eq!(Shopify.authenticate(&delivery(&HeaderMap::new(), body), &config), Err(AuthError::Missing(HEADER)));
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: base64(hmac.new(b"shpss_secret", body, sha256).digest())
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let mut h = HeaderMap::new();
        h.insert(HEADER, "lLBH6Rw11NFjQ14xv5mmTBbELulDPwWuEj9UnBkI8Js=".parse().unwrap());
        Shopify.authenticate(&delivery(&h, body), &CartConfig::new("shpss_secret", [])).unwrap();
    }

    #[test]
    fn an_order_keeps_its_lines_in_minor_units_and_the_click_from_cart_attributes() {
        let body = fixture("shopify_orders_create.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse("orders/create", body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
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
    fn an_order_with_a_discount_shipping_and_tax_adds_up_exactly() {
        let order = parse("orders/paid", fixture("shopify_orders_paid_discount_shipping_tax.json").as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        // 2 × 59.99 + 25.00 − 20.00 + 7.50 shipping + 11.32 tax = 143.80
        assert_eq!(order.items.len(), 2);
        assert_eq!((order.discount_minor, order.shipping_minor, order.tax_minor, order.total_minor), (2000, 750, 1132, 14380));
    }

    #[test]
    fn tax_inside_the_prices_is_not_added_again() {
        let body = fixture("shopify_orders_paid_discount_shipping_tax.json")
            .replace("\"taxes_included\": false", "\"taxes_included\": true")
            .replace("\"total_price\": \"143.80\"", "\"total_price\": \"132.48\"");
        let order = parse("orders/paid", body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.tax_minor, order.total_minor, order.items.len()), (0, 13248, 2));
    }

    #[test]
    fn figures_that_do_not_add_up_leave_the_order_without_lines() {
        let body =
            fixture("shopify_orders_paid_discount_shipping_tax.json").replace("\"total_price\": \"143.80\"", "\"total_price\": \"143.81\"");
        let order = parse("orders/paid", body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert!(order.items.is_empty());
        assert_eq!((order.total_minor, order.discount_minor), (14381, 0));
    }

    #[test]
    fn an_unpaid_order_waits_for_orders_paid() {
        let body = fixture("shopify_orders_create.json").replace("\"financial_status\": \"paid\"", "\"financial_status\": \"pending\"");
        assert!(parse("orders/create", body.as_bytes()).unwrap().ignored.is_some());
    }

    #[test]
    fn a_refund_sums_its_successful_refund_transactions() {
        let intake = parse("refunds/create", fixture("shopify_refunds_create.json").as_bytes()).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(9950));
        assert_eq!(intake.refunds[0].order, OrderRef::Order(order_id(NAME, "820982911946154508").unwrap()));
        assert!(parse("products/update", b"{}").unwrap().ignored.is_some());
    }

    #[test]
    fn an_order_update_lists_its_refunds_under_the_same_ids_as_refunds_create() {
        let refund = fixture("shopify_refunds_create.json");
        let body = fixture("shopify_orders_create.json").replace("\"refunds\": []", &format!("\"refunds\": [{refund}]"));
        let intake = parse("orders/updated", body.as_bytes()).unwrap();
        assert!(intake.order.is_none());
        assert_eq!(intake.refunds[0].refund_id.as_str(), "shopify:509562969");
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(9950));
        assert!(parse("orders/updated", fixture("shopify_orders_create.json").as_bytes()).unwrap().ignored.is_some());
    }
}
