//! SamCart: the "Webhooks" app (formerly Notify URL) posts JSON and signs nothing, so the URL the
//! merchant pastes carries the secret (`?token=…`, compared in constant time).
//!
//! SamCart publishes no schema for these posts; the shape read here is the one integrations in
//! the wild read (`type` of `Order`, `Refund`, `PartialRefund`, `RecurringPaymentSucceeded`,
//! `RecurringPaymentRecovered`, `RecurringPaymentFailed`, `Cancel`…; `order`, `customer`,
//! `product`), amounts in major units. Anything else is refused with a precise 400 that shows in
//! SamCart's delivery log, never guessed at. The click rides a checkout custom field named
//! `rt_click` (`order.custom_fields`), filled by the snippet on the checkout page. SamCart does
//! not state a currency: `SAMCART_CURRENCY` (USD when unset) unless the order names one.

use super::signatures::{check_token, AuthError};
use super::{
    click, concerns_money, email, from_rfc3339, line, new_order, order_id, refund_id, values, Breakdown, Cart, CartConfig, CartNotice,
    CartRefund, Delivery, Intake, OrderRef, PayloadError, Setting,
};
use reftrack_protocol::{Currency, OrderId};
use serde::Deserialize;
use time::OffsetDateTime;

/// The route and order-id prefix.
pub const NAME: &str = "samcart";
/// The store's currency when the payload names none.
pub const CURRENCY_ENV: &str = "SAMCART_CURRENCY";

/// SamCart.
pub struct SamCart;

impl Cart for SamCart {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "SAMCART_WEBHOOK_SECRET"
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting { env: CURRENCY_ENV, about: "your SamCart store's currency (USD)" }]
    }

    fn check(&self, config: &CartConfig) -> Result<(), String> {
        store_currency(config).map(drop)
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        check_token(d.query_param("token").as_deref(), config.secret(), "token")
    }

    fn parse(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<Intake, PayloadError> {
        let currency = store_currency(config).map_err(super::invalid)?;
        parse(d.body, currency, super::from_unix(d.now)?)
    }
}

fn store_currency(config: &CartConfig) -> Result<Currency, String> {
    let raw = config.setting(CURRENCY_ENV).unwrap_or("USD");
    Currency::parse(raw)
        .ok()
        .filter(Currency::is_iso4217)
        .ok_or_else(|| format!("{CURRENCY_ENV} must be an ISO 4217 currency, not {raw:?}"))
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "type", default, deserialize_with = "values::opt_text")]
    kind: Option<String>,
    order: Option<Order>,
    customer: Option<Customer>,
    product: Option<Product>,
    #[serde(default, deserialize_with = "values::opt_text")]
    refund_transaction_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    refund_amount: Option<String>,
}

#[derive(Deserialize)]
struct Order {
    #[serde(default, deserialize_with = "values::opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    total: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    discount: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    shipping: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    tax: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    created_at: Option<String>,
    #[serde(default)]
    custom_fields: Vec<CustomField>,
    #[serde(default)]
    transaction_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CustomField {
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    slug: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct Customer {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default, deserialize_with = "values::opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
    /// One price, or several separated by commas when the order holds several products.
    #[serde(default, deserialize_with = "values::opt_text")]
    price: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    transaction_id: Option<String>,
}

/// Reads a (verified) SamCart notification; `now` dates it when the order gives no time.
pub fn parse(body: &[u8], store_currency: Currency, now: OffsetDateTime) -> Result<Intake, PayloadError> {
    let n: Notification = serde_json::from_slice(body)?;
    let kind = n.kind.clone().ok_or_else(|| super::invalid("the notification has no type"))?;
    match kind.as_str() {
        "Order" => order(&n, store_currency, now, false),
        "RecurringPaymentSucceeded" | "RecurringPaymentRecovered" => order(&n, store_currency, now, true),
        "RecurringPaymentFailed" => {
            let (id, currency, at) = facts(&n, store_currency, now)?;
            let total = total(&n, currency)?;
            let sub = n.order.as_ref().and_then(|o| o.subscription_id.clone()).unwrap_or_default();
            let message = format!("a payment of subscription {sub} (order {id}) failed: nothing is credited until it is paid");
            let key = format!("{}:{}:payment_failed", id, payment_key(&n).unwrap_or_else(|| at.date().to_string()));
            Ok(Intake::notice(CartNotice::new(key, "renewal_failed", message, at).about(OrderRef::Order(id)).amount(total, currency)))
        }
        "Refund" | "PartialRefund" => refund(&n, &kind, store_currency, now),
        other if concerns_money(other) => {
            let (id, _, at) = facts(&n, store_currency, now)?;
            Ok(super::unhandled_money_event(format!("{id}:{other}"), "SamCart", other, at))
        }
        other => Ok(Intake::ignored(format!("SamCart {other} notifications do not move money"))),
    }
}

/// The order's id, currency and time.
fn facts(n: &Notification, store_currency: Currency, now: OffsetDateTime) -> Result<(OrderId, Currency, OffsetDateTime), PayloadError> {
    let o = n.order.as_ref().ok_or_else(|| super::invalid("the notification has no order"))?;
    let id = o.id.as_deref().ok_or_else(|| super::invalid("the order has no id"))?;
    let currency = match &o.currency {
        Some(c) => Currency::parse(c)?,
        None => store_currency,
    };
    let at = match o.created_at.as_deref() {
        Some(raw) => time_of(raw)?,
        None => now,
    };
    Ok((order_id(NAME, id)?, currency, at))
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS` (UTC).
fn time_of(raw: &str) -> Result<OffsetDateTime, PayloadError> {
    from_rfc3339(raw).or_else(|_| {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(raw.trim(), &format)
            .map(|t| t.assume_utc())
            .map_err(|_| super::invalid(format!("{raw:?} is not a time SamCart is known to send")))
    })
}

fn total(n: &Notification, currency: Currency) -> Result<i64, PayloadError> {
    values::major(currency, n.order.as_ref().and_then(|o| o.total.as_deref()), "order.total")
}

/// The payment a renewal or failure is about (a subscription keeps its order id).
fn payment_key(n: &Notification) -> Option<String> {
    let from_order = n.order.as_ref().and_then(|o| o.transaction_id.as_ref()).and_then(|t| match t {
        serde_json::Value::Array(items) => items.last().and_then(values::text),
        other => values::text(other),
    });
    n.product.as_ref().and_then(|p| p.transaction_id.clone()).or(from_order)
}

fn order(n: &Notification, store_currency: Currency, now: OffsetDateTime, renewal: bool) -> Result<Intake, PayloadError> {
    let (first_id, currency, at) = facts(n, store_currency, now)?;
    let o = n.order.as_ref().expect("facts() checked the order");
    let total = total(n, currency)?;
    let breakdown = Breakdown {
        items: lines(n.product.as_ref(), currency).unwrap_or_default(),
        discount_minor: values::major_or_zero(currency, o.discount.as_deref(), "order.discount")?,
        shipping_minor: values::major_or_zero(currency, o.shipping.as_deref(), "order.shipping")?,
        tax_minor: values::major_or_zero(currency, o.tax.as_deref(), "order.tax")?,
    };
    let id = if renewal {
        let payment = payment_key(n).ok_or_else(|| super::invalid("a recurring payment names no transaction_id"))?;
        order_id(NAME, &format!("{}:{payment}", first_id.as_str().trim_start_matches("samcart:")))?
    } else {
        first_id
    };
    let mut order = new_order(NAME, id, at, currency, total, breakdown);
    order.customer.email = email(n.customer.as_ref().and_then(|c| c.email.as_deref()));
    let field = o.custom_fields.iter().find(|f| f.slug.as_deref() == Some("rt_click") || f.name.as_deref() == Some("rt_click"));
    order.attribution.click_id = click(field.and_then(|f| f.value.as_deref()));
    order.subscription_id = o.subscription_id.as_ref().map(|s| format!("{NAME}:{s}"));
    if renewal && order.subscription_id.is_none() {
        return Err(super::invalid("a recurring payment names no order.subscription_id"));
    }
    order.renewal = renewal;
    Ok(Intake::order(order, vec![]))
}

/// The products, when their ids and prices pair up exactly.
fn lines(p: Option<&Product>, currency: Currency) -> Option<Vec<reftrack_protocol::LineItem>> {
    let p = p?;
    let ids: Vec<&str> = p.id.as_deref()?.split(',').map(str::trim).collect();
    let prices: Vec<&str> = p.price.as_deref()?.split(',').map(str::trim).collect();
    if ids.len() != prices.len() {
        return None;
    }
    let name = p.name.clone().unwrap_or_default();
    ids.iter()
        .zip(prices)
        .map(|(id, price)| {
            Some(line(
                format!("product:{id}"),
                if ids.len() == 1 { name.clone() } else { String::new() },
                1,
                currency.parse_major(price).ok()?,
            ))
        })
        .collect()
}

fn refund(n: &Notification, kind: &str, store_currency: Currency, now: OffsetDateTime) -> Result<Intake, PayloadError> {
    let (id, currency, _) = facts(n, store_currency, now)?;
    let order = OrderRef::Order(id.clone());
    match (n.refund_amount.as_deref(), &n.refund_transaction_id) {
        (Some(amount), Some(txn)) => {
            let amount = values::major(currency, Some(amount), "refund_amount")?;
            Ok(Intake::refund(CartRefund::single(refund_id(NAME, txn)?, order, amount, now)))
        }
        // A full refund: the whole order, as a refunded total (the same money twice is taken once).
        _ if kind == "Refund" => {
            let total = total(n, currency)?;
            Ok(Intake::refund(CartRefund::cumulative(id.as_str(), order, total, now)?))
        }
        _ => {
            let message = format!("order {id} was partly refunded; SamCart did not say how much, so nothing was clawed back");
            let key = format!("{}:{}:partial_refund", id, n.refund_transaction_id.clone().unwrap_or_default());
            Ok(Intake::notice(CartNotice::new(key, "refund_amount_unknown", message, now).about(order)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    const TOKEN: &str = "sc-token-2b9f0c8e1d";

    fn fixture() -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/samcart_order.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn now() -> OffsetDateTime {
        super::super::from_unix(1_796_000_000).unwrap()
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn only_the_token_in_the_url_authenticates_and_the_currency_setting_is_checked() {
        let h = HeaderMap::new();
        let body = fixture();
        let d = |query| Delivery { headers: &h, query, body: body.as_bytes(), now: 0 };
        let config = CartConfig::new(TOKEN, []);
        SamCart.authenticate(&d("token=sc-token-2b9f0c8e1d"), &config).unwrap();
        assert_eq!(SamCart.authenticate(&d(""), &config), Err(AuthError::MissingToken("token")));
        assert_eq!(SamCart.authenticate(&d("token=sc-token"), &config), Err(AuthError::BadToken("token")));
        assert!(SamCart.check(&CartConfig::new(TOKEN, [(CURRENCY_ENV, "XYZ".to_owned())])).is_err());
        SamCart.check(&CartConfig::new(TOKEN, [(CURRENCY_ENV, "eur".to_owned())])).unwrap();
    }

    #[test]
    fn an_order_keeps_its_products_discount_shipping_and_tax_and_the_click_from_its_custom_field() {
        let body = fixture().replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = parse(body.as_bytes(), usd(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "samcart:8123456");
        // 97.00 + 47.00 − 14.40 + 0 shipping + 10.37 tax = 139.97
        assert_eq!(order.items.len(), 2);
        assert_eq!((order.total_minor, order.discount_minor, order.tax_minor), (13997, 1440, 1037));
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert_eq!(order.occurred_at.unix_timestamp(), 1_795_580_096, "created_at in SamCart's UTC format");
        assert_eq!(order.subscription_id.as_deref(), Some("samcart:551200"));
    }

    #[test]
    fn a_recurring_payment_is_a_renewal_keyed_by_its_transaction_and_a_failed_one_a_notice() {
        let body = fixture().replace("{{CLICK}}", "").replace("\"type\": \"Order\"", "\"type\": \"RecurringPaymentSucceeded\"");
        let order = parse(body.as_bytes(), usd(), now()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "samcart:8123456:ch_3QsamcartRenew02");
        assert!(order.renewal);
        let failed = body.replace("RecurringPaymentSucceeded", "RecurringPaymentFailed");
        let intake = parse(failed.as_bytes(), usd(), now()).unwrap();
        assert_eq!(intake.notices[0].kind, "renewal_failed");
        intake.validate("samcart").unwrap();
    }

    #[test]
    fn a_full_refund_is_the_whole_order_and_a_partial_one_without_an_amount_a_notice() {
        let body = fixture().replace("{{CLICK}}", "").replace("\"type\": \"Order\"", "\"type\": \"Refund\"");
        let intake = parse(body.as_bytes(), usd(), now()).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Cumulative(13997));
        let partial = body.replace("\"type\": \"Refund\"", "\"type\": \"PartialRefund\"");
        assert_eq!(parse(partial.as_bytes(), usd(), now()).unwrap().notices[0].kind, "refund_amount_unknown");
        let stated = body.replace("\"refund_transaction_id\": null", "\"refund_transaction_id\": \"re_9\", \"refund_amount\": \"40.00\"");
        assert_eq!(parse(stated.as_bytes(), usd(), now()).unwrap().refunds[0].amount, RefundAmount::Single(4000));
    }

    #[test]
    fn unknown_shapes_are_refused_precisely_and_other_types_ignored() {
        assert!(parse(br#"{"order":{"id":1}}"#, usd(), now()).unwrap_err().to_string().contains("no type"));
        assert!(parse(br#"{"type":"Order","order":{"id":1}}"#, usd(), now()).unwrap_err().to_string().contains("order.total"));
        assert!(parse(br#"{"type":"Cancel","order":{"id":1}}"#, usd(), now()).unwrap().ignored.is_some());
    }
}
