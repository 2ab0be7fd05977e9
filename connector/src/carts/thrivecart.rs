//! ThriveCart: account webhooks are form-encoded with PHP-style brackets (`customer[email]`,
//! `order[charges][0][amount]`), amounts in cents, and unsigned: each carries `thrivecart_secret`,
//! the account's secret word (Settings › API & Webhooks), compared here in constant time.
//! ThriveCart only saves a webhook URL that answers a HEAD and a POST with 2xx: the HEAD is
//! answered by the route, and a POST carrying neither an event nor a secret is answered 200 and
//! stores nothing.
//!
//! `order.success` is the order (its charges, `order[tax]`, `order[total]`); `order.subscription_payment`
//! a renewal of the order's subscription; `order.rebill_failed` a notice; `order.refund` a refund
//! when it states its amount, otherwise a notice. Test-mode deliveries (`mode=test`) are
//! acknowledged and ignored: ThriveCart sends every event of the account, tests included. The
//! click rides the checkout URL's passthrough parameters (`?passthrough[rt_click]=…`), which come
//! back as `passthrough[rt_click]`.

use super::signatures::{check_token, AuthError};
use super::{
    click, concerns_money, email, form, from_unix, line, new_order, order_id, refund_id, values, Breakdown, Cart, CartConfig, CartNotice,
    CartRefund, Delivery, Intake, OrderRef, PayloadError,
};
use reftrack_protocol::Currency;
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "thrivecart";
/// The body field carrying the account's secret word.
pub const SECRET_FIELD: &str = "thrivecart_secret";

/// ThriveCart.
pub struct ThriveCart;

impl Cart for ThriveCart {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "THRIVECART_WEBHOOK_SECRET"
    }

    fn is_probe(&self, d: &Delivery<'_>) -> bool {
        // ThriveCart's URL check: nothing to read, nothing to store.
        body(d).is_ok_and(|v| v.get("event").and_then(values::text).is_none() && v.get(SECRET_FIELD).and_then(values::text).is_none())
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let given = body(d).ok().and_then(|v| v.get(SECRET_FIELD).and_then(values::text));
        check_token(given.as_deref(), config.secret(), SECRET_FIELD)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse_value(body(d)?)
    }
}

fn body(d: &Delivery<'_>) -> Result<serde_json::Value, PayloadError> {
    if d.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    if d.is_form() {
        form::to_json(d.body)
    } else {
        Ok(serde_json::from_slice(d.body)?)
    }
}

#[derive(Deserialize)]
struct Webhook {
    #[serde(default, deserialize_with = "values::opt_text")]
    event: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    event_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    mode_int: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    order_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    invoice_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    order_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency: Option<String>,
    customer: Option<Customer>,
    order: Option<Order>,
    #[serde(default)]
    passthrough: Option<HashMap<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "values::opt_text")]
    rt_click: Option<String>,
    refund: Option<Refund>,
}

#[derive(Deserialize)]
struct Customer {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Order {
    #[serde(default, deserialize_with = "values::opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    total: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    tax: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    currency: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    date_unix: Option<i64>,
    #[serde(default, deserialize_with = "values::list")]
    charges: Vec<Charge>,
    #[serde(default, deserialize_with = "values::list")]
    future_charges: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Charge {
    #[serde(default, deserialize_with = "values::opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    item_type: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    item_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    quantity: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text", rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Refund {
    #[serde(default, deserialize_with = "values::opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    date_unix: Option<i64>,
}

/// Reads a (verified) ThriveCart webhook, as JSON (a form body is converted first).
pub fn parse_value(value: serde_json::Value) -> Result<Intake, PayloadError> {
    let w: Webhook = serde_json::from_value(value)?;
    let event = w.event.clone().ok_or_else(|| super::invalid("the webhook names no event"))?;
    if w.mode.as_deref() == Some("test") || w.mode_int == Some(1) {
        return Ok(Intake::ignored(format!("{event} in test mode")));
    }
    match event.as_str() {
        "order.success" | "order_created" => order(&w, false),
        "order.subscription_payment" | "order_rebill" => order(&w, true),
        "order.rebill_failed" | "order_rebill_failed" => rebill_failed(&w),
        e if e.starts_with("order.refund") || e.starts_with("order_refund") => refund(&w, &event),
        // ThriveCart's own affiliate program is not ours to track.
        e if e.starts_with("affiliate") => Ok(Intake::ignored(format!("{e} is about ThriveCart's affiliates"))),
        e if concerns_money(e) => {
            let key = format!("{}:{e}", w.event_id.clone().or(w.invoice_id.clone()).or(w.order_id.clone()).unwrap_or_default());
            Ok(super::unhandled_money_event(key, "ThriveCart", e, at(&w)?))
        }
        other => Ok(Intake::ignored(format!("ThriveCart event {other} is not handled"))),
    }
}

fn at(w: &Webhook) -> Result<time::OffsetDateTime, PayloadError> {
    let secs = w
        .order_timestamp
        .or(w.order.as_ref().and_then(|o| o.date_unix))
        .ok_or_else(|| super::invalid("the webhook has no order_timestamp"))?;
    from_unix(secs)
}

fn the_order_id(w: &Webhook) -> Result<String, PayloadError> {
    w.order_id.clone().or(w.order.as_ref().and_then(|o| o.id.clone())).ok_or_else(|| super::invalid("the webhook has no order_id"))
}

fn currency(w: &Webhook) -> Result<Currency, PayloadError> {
    let raw = w
        .currency
        .clone()
        .or(w.order.as_ref().and_then(|o| o.currency.clone()))
        .ok_or_else(|| super::invalid("the webhook has no currency"))?;
    Ok(Currency::parse(&raw)?)
}

fn order(w: &Webhook, renewal: bool) -> Result<Intake, PayloadError> {
    let o = w.order.as_ref().ok_or_else(|| super::invalid("the webhook has no order"))?;
    let total = values::minor(o.total, "order[total]")?;
    let cart_order = the_order_id(w)?;
    let items = o
        .charges
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sku = match (&c.item_type, &c.item_id, &c.reference) {
                (Some(t), Some(id), _) => format!("{t}:{id}"),
                (_, _, Some(r)) => r.clone(),
                _ => format!("charge:{i}"),
            };
            Ok(line(sku, c.name.clone().unwrap_or_default(), c.quantity.unwrap_or(1), values::minor(c.amount, "order[charges][][amount]")?))
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    let breakdown = Breakdown { items, tax_minor: o.tax.unwrap_or(0), ..Breakdown::default() };
    // One subscription keeps its order's id for every payment: a renewal is keyed by its invoice.
    let id = if renewal {
        let payment = w.invoice_id.clone().or(w.event_id.clone()).or(w.order_timestamp.map(|t| t.to_string()));
        order_id(NAME, &format!("{cart_order}:{}", payment.ok_or_else(|| super::invalid("a renewal names no invoice_id"))?))?
    } else {
        order_id(NAME, &cart_order)?
    };
    let mut order = new_order(NAME, id, at(w)?, currency(w)?, total, breakdown);
    order.customer.email = email(w.customer.as_ref().and_then(|c| c.email.as_deref()));
    order.attribution.click_id =
        click(w.passthrough.as_ref().and_then(|p| p.get("rt_click")).and_then(|v| v.as_str())).or_else(|| click(w.rt_click.as_deref()));
    let recurring = o.charges.iter().any(|c| matches!(c.kind.as_deref(), Some("recurring" | "split"))) || !o.future_charges.is_empty();
    if renewal || recurring {
        order.subscription_id = Some(format!("{NAME}:{cart_order}"));
    }
    order.renewal = renewal;
    Ok(Intake::order(order, vec![]))
}

fn rebill_failed(w: &Webhook) -> Result<Intake, PayloadError> {
    let cart_order = the_order_id(w)?;
    let key = format!("{cart_order}:{}:rebill_failed", w.invoice_id.clone().or(w.event_id.clone()).unwrap_or_default());
    let message = format!("a subscription payment of order {cart_order} failed: nothing is credited until it is paid");
    let mut notice = CartNotice::new(key, "renewal_failed", message, at(w)?).about(OrderRef::Order(order_id(NAME, &cart_order)?));
    if let Some(total) = w.order.as_ref().and_then(|o| o.total) {
        notice = notice.amount(total, currency(w)?);
    }
    Ok(Intake::notice(notice))
}

fn refund(w: &Webhook, event: &str) -> Result<Intake, PayloadError> {
    let cart_order = the_order_id(w)?;
    let order = OrderRef::Order(order_id(NAME, &cart_order)?);
    let when = match w.refund.as_ref().and_then(|r| r.date_unix) {
        Some(t) => from_unix(t)?,
        None => at(w)?,
    };
    match w.refund.as_ref().and_then(|r| r.amount).filter(|a| *a > 0) {
        Some(amount) => {
            let key = w
                .refund
                .as_ref()
                .and_then(|r| r.id.clone())
                .or(w.event_id.clone())
                .unwrap_or_else(|| format!("{}:{amount}", w.invoice_id.clone().unwrap_or_default()));
            Ok(Intake::refund(CartRefund::single(refund_id(NAME, &format!("{cart_order}:{key}"))?, order, amount, when)))
        }
        None => {
            let message = format!("{event} for order {cart_order} states no amount: nothing was clawed back, check it in ThriveCart");
            let key = format!("{cart_order}:{}:{event}", w.event_id.clone().or(w.invoice_id.clone()).unwrap_or_default());
            Ok(Intake::notice(CartNotice::new(key, "refund_amount_unknown", message, when).about(order)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    const WORD: &str = "TCSECRETWORD42";

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn delivery<'a>(h: &'a HeaderMap, body: &'a str) -> Delivery<'a> {
        Delivery { headers: h, query: "", body: body.as_bytes(), now: 0 }
    }

    fn form() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h
    }

    fn run(body: &str) -> Intake {
        let h = form();
        let config = CartConfig::new(WORD, []);
        ThriveCart.authenticate(&delivery(&h, body), &config).unwrap();
        ThriveCart.parse(&delivery(&h, body), &config).unwrap()
    }

    #[test]
    fn the_secret_word_in_the_body_must_match_and_the_url_check_stores_nothing() {
        let h = form();
        let body = fixture("thrivecart_order_success.txt").replace("{{CLICK}}", "");
        let config = CartConfig::new(WORD, []);
        ThriveCart.authenticate(&delivery(&h, &body), &config).unwrap();
        let forged = body.replace(&format!("thrivecart_secret={WORD}"), "thrivecart_secret=guess");
        assert_eq!(ThriveCart.authenticate(&delivery(&h, &forged), &config), Err(AuthError::BadToken(SECRET_FIELD)));
        let missing = body.replace(&format!("thrivecart_secret={WORD}&"), "");
        assert_eq!(ThriveCart.authenticate(&delivery(&h, &missing), &config), Err(AuthError::MissingToken(SECRET_FIELD)));
        assert!(!ThriveCart.is_probe(&delivery(&h, &body)));
        assert!(!ThriveCart.is_probe(&delivery(&h, &missing)), "an event without the secret is refused, not waved through");
        assert!(ThriveCart.is_probe(&delivery(&h, "")));
        assert!(ThriveCart.is_probe(&delivery(&h, "ping=1")));
    }

    #[test]
    fn an_order_keeps_its_charges_and_tax_and_the_click_from_passthrough() {
        let body = fixture("thrivecart_order_success.txt").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let order = run(&body).order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "thrivecart:1514394");
        // 97.00 product + 27.00 bump + 24.80 tax = 148.80
        assert_eq!((order.total_minor, order.tax_minor, order.items.len(), order.currency.as_str()), (14880, 2480, 2, "USD"));
        assert_eq!(order.items[1].sku, "bump:2");
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "jsmith@email.com");
        assert_eq!(order.occurred_at.unix_timestamp(), 1_795_600_000);
        assert!(order.subscription_id.is_none());
    }

    #[test]
    fn a_subscription_payment_is_a_renewal_keyed_by_its_invoice() {
        let body = fixture("thrivecart_order_success.txt")
            .replace("{{CLICK}}", "")
            .replace("event=order.success", "event=order.subscription_payment")
            .replace("invoice_id=000000001", "invoice_id=000000007");
        let order = run(&body).order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "thrivecart:1514394:000000007");
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("thrivecart:1514394"));
    }

    #[test]
    fn refunds_with_an_amount_are_refunds_and_without_one_notices_and_test_mode_is_ignored() {
        let base = fixture("thrivecart_order_success.txt").replace("{{CLICK}}", "").replace("event=order.success", "event=order.refund");
        let with_amount = format!("{base}&refund%5Bamount%5D=2700&refund%5Bid%5D=r-88");
        let intake = run(&with_amount);
        assert_eq!(intake.refunds[0].amount, RefundAmount::Single(2700));
        assert_eq!(intake.refunds[0].refund_id.as_str(), "thrivecart:1514394:r-88");
        let intake = run(&base);
        assert_eq!(intake.notices[0].kind, "refund_amount_unknown");
        intake.validate("thrivecart").unwrap();
        let test = fixture("thrivecart_order_success.txt").replace("{{CLICK}}", "").replace("mode=live&mode_int=2", "mode=test&mode_int=1");
        assert!(run(&test).ignored.is_some());
        let failed = base.replace("event=order.refund", "event=order.rebill_failed");
        assert_eq!(run(&failed).notices[0].kind, "renewal_failed");
    }

    #[test]
    fn the_json_delivery_reads_the_same() {
        let json = serde_json::json!({"event": "order.success", "mode": "live", "mode_int": 2, "thrivecart_secret": WORD,
            "order_id": 77, "order_timestamp": 1_795_600_000, "currency": "EUR", "customer": {"email": "b@x.io"},
            "order": {"id": 77, "total": 9700, "tax": 0, "charges": [{"name": "Course", "item_type": "product", "item_id": 1, "amount": 9700}]},
            "passthrough": {"rt_click": "AAAAAAAAAAAAAAAAAAAAAA"}});
        let order = parse_value(json).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.order_id.as_str(), order.total_minor, order.items.len()), ("thrivecart:77", 9700, 1));
        assert!(parse_value(serde_json::json!({"event": "order.success", "order_id": 1})).is_err(), "an order without its figures");
    }
}
