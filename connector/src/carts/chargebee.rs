//! Chargebee: webhooks are authenticated with HTTP Basic auth on the webhook URL — a user and
//! password the merchant chooses in Chargebee, set here as `user:password`.
//!
//! `payment_succeeded` carries the paid `invoice` (lines with `unit_amount` × `quantity`,
//! `discounts`, `tax` unless `price_type` is `tax_inclusive`, `total`, in cents), the
//! `transaction`, the `customer` and the `subscription`: the order is the invoice; a recurring
//! invoice that is not the subscription's first is a renewal. `payment_refunded` is one refund
//! (its own transaction), of the invoice it names or, failing that, of the payment it refers to.
//! `payment_failed` is a notice. The click rides a custom field `cf_rt_click` (of the
//! subscription or the customer) or `meta_data.rt_click`.

use super::signatures::{check_basic_auth, AuthError};
use super::{
    click, concerns_money, email, from_unix, line, new_order, order_id, refund_id, values, Breakdown, Cart, CartConfig, CartNotice,
    CartRefund, Delivery, Intake, OrderRef, PayloadError,
};
use reftrack_protocol::{ClickId, Currency, LineItem};
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "chargebee";

/// Chargebee.
pub struct Chargebee;

impl Cart for Chargebee {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "CHARGEBEE_WEBHOOK_SECRET"
    }

    fn check(&self, config: &CartConfig) -> Result<(), String> {
        match config.secret().split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(()),
            _ => Err("CHARGEBEE_WEBHOOK_SECRET must be user:password, the ones set on the webhook in Chargebee".into()),
        }
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        check_basic_auth(d.header("authorization"), config.secret())
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.body)
    }
}

#[derive(Deserialize)]
struct Event {
    id: String,
    occurred_at: i64,
    event_type: String,
    content: Content,
}

#[derive(Deserialize)]
struct Content {
    transaction: Option<Transaction>,
    invoice: Option<Invoice>,
    customer: Option<Party>,
    subscription: Option<Party>,
    credit_note: Option<CreditNote>,
}

#[derive(Deserialize)]
struct Transaction {
    id: String,
    amount: i64,
    currency_code: String,
    date: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    reference_transaction_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    id: String,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
    #[serde(default)]
    recurring: bool,
    #[serde(default)]
    first_invoice: bool,
    #[serde(default, deserialize_with = "values::opt_text")]
    price_type: Option<String>,
    total: i64,
    #[serde(default)]
    tax: i64,
    currency_code: String,
    paid_at: Option<i64>,
    date: Option<i64>,
    #[serde(default)]
    line_items: Vec<InvoiceLine>,
    #[serde(default)]
    discounts: Vec<Discount>,
}

#[derive(Deserialize)]
struct InvoiceLine {
    #[serde(default, deserialize_with = "values::opt_text")]
    entity_type: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    entity_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    description: Option<String>,
    unit_amount: i64,
    quantity: i64,
    amount: i64,
}

#[derive(Deserialize)]
struct Discount {
    amount: i64,
}

/// A customer or a subscription: where the click may be.
#[derive(Deserialize)]
struct Party {
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    cf_rt_click: Option<String>,
    #[serde(default)]
    meta_data: Option<HashMap<String, serde_json::Value>>,
}

impl Party {
    fn click(&self) -> Option<ClickId> {
        click(self.cf_rt_click.as_deref())
            .or_else(|| click(self.meta_data.as_ref().and_then(|m| m.get("rt_click")).and_then(|v| v.as_str())))
    }
}

#[derive(Deserialize)]
struct CreditNote {
    #[serde(default, deserialize_with = "values::opt_text")]
    reference_invoice_id: Option<String>,
}

/// Reads a (verified) Chargebee event.
pub fn parse(body: &[u8]) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(body)?;
    let at = from_unix(event.occurred_at)?;
    match event.event_type.as_str() {
        "payment_succeeded" => payment(event),
        "payment_refunded" => refund(event),
        "payment_failed" => failed(event),
        "refund_initiated" | "payment_initiated" => Ok(Intake::ignored(format!("{}: no money has moved yet", event.event_type))),
        other if concerns_money(other) => Ok(super::unhandled_money_event(event.id, "Chargebee", other, at)),
        other => Ok(Intake::ignored(format!("Chargebee event {other} is not handled"))),
    }
}

fn invoice_breakdown(i: &Invoice) -> Breakdown {
    let items: Vec<LineItem> = i
        .line_items
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let sku = match (&l.entity_type, &l.entity_id) {
                (Some(t), Some(id)) => format!("{t}:{id}"),
                (None, Some(id)) => id.clone(),
                _ => format!("line:{n}"),
            };
            let name = l.description.clone().unwrap_or_default();
            if l.unit_amount.checked_mul(l.quantity) == Some(l.amount) && l.quantity > 0 {
                LineItem { sku, name, quantity: l.quantity, unit_price_minor: l.unit_amount }
            } else {
                // A decimal quantity or tiered price: the line's amount, as one unit.
                line(sku, name, 1, l.amount)
            }
        })
        .collect();
    let discount = i.discounts.iter().try_fold(0i64, |s, d| s.checked_add(d.amount)).unwrap_or(-1);
    let tax = if i.price_type.as_deref() == Some("tax_inclusive") { 0 } else { i.tax };
    Breakdown { items, discount_minor: discount, shipping_minor: 0, tax_minor: tax }
}

fn payment(e: Event) -> Result<Intake, PayloadError> {
    let invoice = e.content.invoice.as_ref().ok_or_else(|| super::invalid("payment_succeeded carries no invoice"))?;
    let currency = Currency::parse(&invoice.currency_code)?;
    let paid_at =
        from_unix(invoice.paid_at.or(e.content.transaction.as_ref().and_then(|t| t.date)).or(invoice.date).unwrap_or(e.occurred_at))?;
    let mut order = new_order(NAME, order_id(NAME, &invoice.id)?, paid_at, currency, invoice.total, invoice_breakdown(invoice));
    let subscription = e.content.subscription.as_ref();
    let customer = e.content.customer.as_ref();
    order.attribution.click_id = subscription.and_then(Party::click).or_else(|| customer.and_then(Party::click));
    order.customer.email = email(customer.and_then(|c| c.email.as_deref()));
    let subscription_id = invoice.subscription_id.clone().or(e.content.transaction.as_ref().and_then(|t| t.subscription_id.clone()));
    order.renewal = invoice.recurring && !invoice.first_invoice && subscription_id.is_some();
    order.subscription_id = subscription_id.map(|s| format!("{NAME}:{s}"));
    let refs = e.content.transaction.map(|t| format!("{NAME}:{}", t.id)).into_iter().collect();
    Ok(Intake::order(order, refs))
}

fn refund(e: Event) -> Result<Intake, PayloadError> {
    let t = e.content.transaction.ok_or_else(|| super::invalid("payment_refunded carries no transaction"))?;
    if t.status.as_deref().is_some_and(|s| s != "success") {
        return Ok(Intake::ignored(format!("refund {} is {:?}: no money moved", t.id, t.status)));
    }
    let invoice = e.content.invoice.map(|i| i.id).or(e.content.credit_note.and_then(|c| c.reference_invoice_id));
    let order = match (invoice, t.reference_transaction_id) {
        (Some(inv), _) => OrderRef::Order(order_id(NAME, &inv)?),
        (None, Some(payment)) => OrderRef::CartRef(format!("{NAME}:{payment}")),
        (None, None) => return Err(super::invalid("the refund names neither its invoice nor its payment")),
    };
    let at = from_unix(t.date.unwrap_or(e.occurred_at))?;
    // A refund in a currency we cannot read is refused rather than applied blind.
    Currency::parse(&t.currency_code)?;
    Ok(Intake::refund(CartRefund::single(refund_id(NAME, &t.id)?, order, t.amount, at)))
}

fn failed(e: Event) -> Result<Intake, PayloadError> {
    let at = from_unix(e.occurred_at)?;
    let (amount, currency) = match (&e.content.transaction, &e.content.invoice) {
        (Some(t), _) => (t.amount, Currency::parse(&t.currency_code)?),
        (None, Some(i)) => (i.total, Currency::parse(&i.currency_code)?),
        (None, None) => return Err(super::invalid("payment_failed carries neither a transaction nor an invoice")),
    };
    let invoice = e.content.invoice.as_ref().map(|i| i.id.clone()).unwrap_or_default();
    let subscription = e.content.invoice.as_ref().and_then(|i| i.subscription_id.clone());
    let (kind, what) = match subscription {
        Some(s) => ("renewal_failed", format!("a payment of subscription {s}")),
        None => ("payment_failed", "a payment".to_owned()),
    };
    let message = format!("{what} failed (invoice {invoice}): nothing is credited until it is paid");
    Ok(Intake::notice(CartNotice::new(e.id, kind, message, at).amount(amount, currency)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn basic_auth_with_the_configured_user_and_password_is_required() {
        let config = CartConfig::new("reftrack:pa55:word", []);
        Chargebee.check(&config).unwrap();
        assert!(Chargebee.check(&CartConfig::new("no-colon", [])).is_err());
        assert!(Chargebee.check(&CartConfig::new(":password", [])).is_err());
        let with = |value: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = value {
                h.insert("authorization", v.parse().unwrap());
            }
            Chargebee.authenticate(&Delivery { headers: &h, query: "", body: b"{}", now: 0 }, &config)
        };
        with(Some("Basic cmVmdHJhY2s6cGE1NTp3b3Jk")).unwrap();
        assert_eq!(with(Some("Basic cmVmdHJhY2s6cGE1NQ==")), Err(AuthError::BadCredentials));
        assert_eq!(with(None), Err(AuthError::MissingCredentials));
    }

    #[test]
    fn a_paid_invoice_becomes_an_order_with_its_lines_discount_and_tax_and_the_click_from_a_custom_field() {
        let body = fixture("chargebee_payment_succeeded.json").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = parse(body.as_bytes()).unwrap();
        let order = intake.order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "chargebee:inv_0041");
        // 2 × 49.00 + 15.00 setup − 11.30 + 20.34 tax = 122.04
        assert_eq!((order.items.len(), order.discount_minor, order.tax_minor, order.total_minor), (2, 1130, 2034, 12204));
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "subscriber@example.com");
        assert_eq!(order.subscription_id.as_deref(), Some("chargebee:AzZlGKT5Z1Xq2Mb1"));
        assert!(!order.renewal, "the subscription's first invoice");
        assert_eq!(intake.cart_refs, vec!["chargebee:txn_AzZlGKT5Z1XtE2Mc"]);
        let renewal = body.replace("\"first_invoice\": true", "\"first_invoice\": false");
        assert!(parse(renewal.as_bytes()).unwrap().order.unwrap().renewal);
    }

    #[test]
    fn the_click_may_ride_meta_data_and_tax_inside_the_prices_is_not_added() {
        let body = fixture("chargebee_payment_succeeded.json")
            .replace("\"cf_rt_click\": \"{{CLICK}}\"", "\"meta_data\": {\"rt_click\": \"BBBBBBBBBBBBBBBBBBBBBB\"}")
            .replace("\"price_type\": \"tax_exclusive\"", "\"price_type\": \"tax_inclusive\"")
            .replace("\"total\": 12204", "\"total\": 10170");
        let order = parse(body.as_bytes()).unwrap().order.unwrap();
        order.validate().unwrap();
        assert_eq!((order.tax_minor, order.total_minor, order.items.len()), (0, 10170, 2));
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "BBBBBBBBBBBBBBBBBBBBBB");
    }

    #[test]
    fn a_refund_is_one_refund_of_its_invoice_and_a_failed_payment_a_notice() {
        let intake = parse(fixture("chargebee_payment_refunded.json").as_bytes()).unwrap();
        let refund = &intake.refunds[0];
        assert_eq!(refund.amount, RefundAmount::Single(6102));
        assert_eq!(refund.refund_id.as_str(), "chargebee:txn_AzZlGKT5Z3RfN8Qd");
        assert_eq!(refund.order, OrderRef::Order(order_id(NAME, "inv_0041").unwrap()));
        let without_invoice = fixture("chargebee_payment_refunded.json")
            .replace("\"invoice\":", "\"invoice_x\":")
            .replace("\"credit_note\":", "\"credit_note_x\":");
        assert_eq!(parse(without_invoice.as_bytes()).unwrap().refunds[0].order, OrderRef::CartRef("chargebee:txn_AzZlGKT5Z1XtE2Mc".into()));
        let failed = fixture("chargebee_payment_succeeded.json").replace("{{CLICK}}", "").replace("payment_succeeded", "payment_failed");
        let notice = parse(failed.as_bytes()).unwrap();
        assert_eq!(notice.notices[0].kind, "renewal_failed");
        notice.validate("chargebee").unwrap();
    }
}
