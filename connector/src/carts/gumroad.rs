//! Gumroad: the Ping (and the API's resource subscriptions) post the sale form-encoded and
//! unsigned, so the URL the merchant pastes carries the secret (`?token=…`, compared in constant
//! time) and, when `GUMROAD_SELLER_ID` is set, the sale's `seller_id` must be that seller.
//!
//! Facts from Gumroad's own source (`Purchase::PingNotification`): `price` is `price_cents`, which
//! Gumroad settles and records in USD whatever the product's display `currency`, so orders are in
//! USD; `refunded` is true only once the sale is fully refunded (a cumulative refund of the whole
//! price); a partial refund sends the same ping with `refunded` false and no amount (a notice);
//! `disputed` / `dispute_won` come with the `dispute` / `dispute_won` resources (notices: Gumroad
//! says nothing when a dispute is lost). The product URL's query comes back in `url_params`, so
//! the click rides `?rt_click=…` on the product link. Recurring charges (`is_recurring_charge`)
//! are renewals of `subscription_id`.

use super::signatures::{check_token, same_secret, AuthError};
use super::{
    click, email, form, from_rfc3339, line, new_order, order_id, values, Breakdown, Cart, CartConfig, CartNotice, CartRefund, Delivery,
    Intake, OrderRef, PayloadError, Setting,
};
use reftrack_protocol::Currency;
use serde::Deserialize;
use std::collections::HashMap;

/// The route and order-id prefix.
pub const NAME: &str = "gumroad";
/// The optional seller check.
pub const SELLER_ENV: &str = "GUMROAD_SELLER_ID";

/// Gumroad.
pub struct Gumroad;

impl Cart for Gumroad {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "GUMROAD_WEBHOOK_SECRET"
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting { env: SELLER_ENV, about: "your Gumroad seller_id: pings for any other seller are refused" }]
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        check_token(d.query_param("token").as_deref(), config.secret(), "token")?;
        if let Some(seller) = config.setting(SELLER_ENV) {
            let given = body(d).ok().and_then(|v| v.get("seller_id").and_then(values::text));
            if !given.is_some_and(|g| same_secret(&g, seller)) {
                return Err(AuthError::WrongAccount("seller_id"));
            }
        }
        Ok(())
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse_value(body(d)?)
    }
}

fn body(d: &Delivery<'_>) -> Result<serde_json::Value, PayloadError> {
    if d.is_form() {
        form::to_json(d.body)
    } else {
        Ok(serde_json::from_slice(d.body)?)
    }
}

#[derive(Deserialize)]
struct Ping {
    #[serde(default, deserialize_with = "values::opt_text")]
    sale_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    sale_timestamp: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    product_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    short_product_id: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    product_name: Option<String>,
    #[serde(default, deserialize_with = "values::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "values::opt_int")]
    price: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    quantity: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    shipping_rate: Option<i64>,
    #[serde(default, deserialize_with = "values::opt_int")]
    gift_price: Option<i64>,
    #[serde(default, deserialize_with = "values::flag")]
    is_gift_receiver_purchase: bool,
    #[serde(default)]
    url_params: Option<HashMap<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "values::opt_text")]
    subscription_id: Option<String>,
    #[serde(default, deserialize_with = "values::flag")]
    is_recurring_charge: bool,
    #[serde(default, deserialize_with = "values::flag")]
    refunded: bool,
    #[serde(default, deserialize_with = "values::flag")]
    disputed: bool,
    #[serde(default, deserialize_with = "values::flag")]
    dispute_won: bool,
    #[serde(default, deserialize_with = "values::opt_text")]
    resource_name: Option<String>,
}

/// Reads a (verified) ping as JSON (a form body is converted first).
pub fn parse_value(value: serde_json::Value) -> Result<Intake, PayloadError> {
    let p: Ping = serde_json::from_value(value)?;
    let resource = p.resource_name.clone().unwrap_or_else(|| "sale".into());
    if !matches!(resource.as_str(), "sale" | "refund" | "dispute" | "dispute_won") {
        return Ok(Intake::ignored(format!("Gumroad {resource} pings do not move money")));
    }
    let sale_id = p.sale_id.clone().ok_or_else(|| super::invalid("the ping has no sale_id"))?;
    let at = from_rfc3339(p.sale_timestamp.as_deref().ok_or_else(|| super::invalid("the ping has no sale_timestamp"))?)?;
    let usd = Currency::parse("USD").expect("static");
    // A gift's receiver purchase is $0; what was paid is the gifter's price.
    let price = match (p.is_gift_receiver_purchase, p.gift_price) {
        (true, Some(gift)) => gift,
        _ => values::minor(p.price, "price")?,
    };
    // A physical product's price may include its shipping: without knowing, the order has no lines.
    let items = match p.shipping_rate {
        Some(rate) if rate > 0 => vec![],
        _ => {
            let sku =
                p.product_id.clone().or(p.short_product_id.clone()).map(|id| format!("product:{id}")).unwrap_or_else(|| "product".into());
            vec![line(sku, p.product_name.clone().unwrap_or_default(), p.quantity.unwrap_or(1), price)]
        }
    };
    let id = order_id(NAME, &sale_id)?;
    let mut order = new_order(NAME, id.clone(), at, usd, price, Breakdown { items, ..Breakdown::default() });
    order.customer.email = email(p.email.as_deref());
    order.attribution.click_id = click(p.url_params.as_ref().and_then(|u| u.get("rt_click")).and_then(|v| v.as_str()));
    order.renewal = p.is_recurring_charge && p.subscription_id.is_some();
    order.subscription_id = p.subscription_id.as_ref().map(|s| format!("{NAME}:{s}"));
    // Every ping of a sale carries the whole sale: the order is sent too (the same order id, so
    // it counts once), which also gives a refund its order if the sale ping was missed.
    let mut intake = Intake::order(order, vec![]);
    if p.refunded {
        intake = intake.with_refunds([CartRefund::cumulative(id.as_str(), OrderRef::Order(id.clone()), price, at)?]);
    } else if resource == "refund" {
        let message = format!("sale {sale_id} was partly refunded; Gumroad's ping does not say how much, so nothing was clawed back");
        intake = intake.with_notice(
            CartNotice::new(format!("{sale_id}:partial_refund"), "refund_amount_unknown", message, at).about(OrderRef::Order(id.clone())),
        );
    }
    if resource == "dispute" || (p.disputed && !p.dispute_won && resource != "dispute_won") {
        let message = format!("sale {sale_id} is disputed (chargeback): Gumroad reports no outcome, check it in Gumroad");
        intake = intake.with_notice(
            CartNotice::new(format!("{sale_id}:dispute"), "dispute_opened", message, at)
                .about(OrderRef::Order(id.clone()))
                .amount(price, usd),
        );
    }
    if resource == "dispute_won" || p.dispute_won {
        let message = format!("the dispute of sale {sale_id} was won: nothing is taken back");
        intake = intake.with_notice(
            CartNotice::new(format!("{sale_id}:dispute_won"), "dispute_won", message, at).about(OrderRef::Order(id)).amount(price, usd),
        );
    }
    Ok(intake)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::RefundAmount;
    use axum::http::HeaderMap;

    const TOKEN: &str = "gr-token-6f1d0a9e8b7c";

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h
    }

    fn run(body: &str, query: &str, settings: Vec<(&'static str, String)>) -> Result<Intake, String> {
        let h = form_headers();
        let d = Delivery { headers: &h, query, body: body.as_bytes(), now: 0 };
        let config = CartConfig::new(TOKEN, settings);
        Gumroad.authenticate(&d, &config).map_err(|e| e.code().to_owned())?;
        Gumroad.parse(&d, &config).map_err(|e| e.to_string())
    }

    #[test]
    fn the_token_in_the_url_must_be_the_secret_and_the_seller_the_configured_one() {
        let body = fixture("gumroad_sale.txt").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        run(&body, &format!("token={TOKEN}"), vec![]).unwrap();
        assert_eq!(run(&body, "", vec![]).unwrap_err(), "missing_token");
        assert_eq!(run(&body, "token=guess", vec![]).unwrap_err(), "bad_token");
        assert_eq!(run(&body, &format!("token={TOKEN}x"), vec![]).unwrap_err(), "bad_token");
        let seller = |id: &str| vec![(SELLER_ENV, id.to_owned())];
        run(&body, &format!("token={TOKEN}"), seller("Fa9nE_rCrYz8kYqhWxA0jQ==")).unwrap();
        assert_eq!(run(&body, &format!("token={TOKEN}"), seller("someone-else")).unwrap_err(), "wrong_account");
    }

    #[test]
    fn a_sale_becomes_a_usd_order_with_the_click_from_url_params() {
        let body = fixture("gumroad_sale.txt").replace("{{CLICK}}", "AAAAAAAAAAAAAAAAAAAAAA");
        let intake = run(&body, &format!("token={TOKEN}"), vec![]).unwrap();
        let order = intake.order.unwrap();
        order.validate().unwrap();
        assert_eq!(order.order_id.as_str(), "gumroad:xQiPZEFyNMa9qRbtz1cJzA==");
        assert_eq!((order.total_minor, order.currency.as_str()), (4900, "USD"), "price_cents are USD even for a product shown in EUR");
        assert_eq!(order.items[0].sku, "product:Fhz3KHsPzNfb6DLt3n2QWw==");
        assert_eq!(order.attribution.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert!(!order.renewal && intake.refunds.is_empty() && intake.notices.is_empty());
    }

    #[test]
    fn a_full_refund_is_the_whole_price_refunded_and_a_partial_one_a_notice() {
        let sale = fixture("gumroad_sale.txt").replace("{{CLICK}}", "");
        let full = sale.replace("refunded=false", "refunded=true").replace("resource_name=sale", "resource_name=refund");
        let intake = run(&full, &format!("token={TOKEN}"), vec![]).unwrap();
        assert_eq!(intake.refunds[0].amount, RefundAmount::Cumulative(4900));
        assert_eq!(intake.refunds[0].refund_id.as_str(), "gumroad:xQiPZEFyNMa9qRbtz1cJzA==:refunded:4900");
        assert!(intake.order.is_some(), "the refund ping carries its sale");
        let partial = sale.replace("resource_name=sale", "resource_name=refund");
        let intake = run(&partial, &format!("token={TOKEN}"), vec![]).unwrap();
        assert!(intake.refunds.is_empty());
        assert_eq!(intake.notices[0].kind, "refund_amount_unknown");
        intake.validate("gumroad").unwrap();
    }

    #[test]
    fn disputes_are_notices_and_recurring_charges_are_renewals() {
        let sale = fixture("gumroad_sale.txt").replace("{{CLICK}}", "");
        let dispute = sale.replace("disputed=false", "disputed=true").replace("resource_name=sale", "resource_name=dispute");
        assert_eq!(run(&dispute, &format!("token={TOKEN}"), vec![]).unwrap().notices[0].kind, "dispute_opened");
        let won = dispute.replace("dispute_won=false", "dispute_won=true").replace("resource_name=dispute", "resource_name=dispute_won");
        assert_eq!(run(&won, &format!("token={TOKEN}"), vec![]).unwrap().notices[0].kind, "dispute_won");
        let renewal = format!("{sale}&subscription_id=sub_q1w2e3%3D%3D&is_recurring_charge=true&recurrence=monthly");
        let order = run(&renewal, &format!("token={TOKEN}"), vec![]).unwrap().order.unwrap();
        assert!(order.renewal);
        assert_eq!(order.subscription_id.as_deref(), Some("gumroad:sub_q1w2e3=="));
        let cancelled = "resource_name=cancellation&subscription_id=sub_1";
        assert!(run(cancelled, &format!("token={TOKEN}"), vec![]).unwrap().ignored.is_some());
    }

    #[test]
    fn the_same_ping_as_json_reads_the_same_and_malformed_pings_are_refused() {
        let json = serde_json::json!({"sale_id": "s1", "sale_timestamp": "2026-11-24T10:00:00Z", "price": 1500, "currency": "usd",
            "email": "", "url_params": {"rt_click": "AAAAAAAAAAAAAAAAAAAAAA"}, "refunded": false, "quantity": 1});
        let order = parse_value(json).unwrap().order.unwrap();
        assert_eq!((order.total_minor, order.attribution.click_id.unwrap().as_str()), (1500, "AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(order.customer.email.is_none(), "an empty email is no email");
        for bad in [
            serde_json::json!({"sale_timestamp": "2026-11-24T10:00:00Z", "price": 1500}),
            serde_json::json!({"sale_id": "s1", "price": 1500}),
            serde_json::json!({"sale_id": "s1", "sale_timestamp": "2026-11-24T10:00:00Z", "price": "15.00"}),
            serde_json::json!({"sale_id": "s1", "sale_timestamp": "yesterday", "price": 1500}),
        ] {
            assert!(parse_value(bad).is_err());
        }
    }
}
