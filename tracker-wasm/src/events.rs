//! The lead and conversion events the snippet sends, and the memory of orders already reported.
//!
//! Events are small JSON objects written by hand (serde_json would triple the snippet); every
//! value is either validated to a URL-safe charset or escaped by [`push_json_str`].

use crate::record::{push_u64, Record};
use alloc::string::String;
use reftrack_protocol::text::split_byte;
use reftrack_protocol::{Currency, Email, OrderId};

/// How many order ids a browser remembers, to ignore a reloaded confirmation page.
pub const REMEMBERED_ORDERS: usize = 20;

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_field(out: &mut String, key: &str, value: &str) {
    out.push(',');
    push_json_str(out, key);
    out.push(':');
    push_json_str(out, value);
}

/// The lead event, or `None` when there is neither a valid email nor a live click to report.
pub fn lead(record: Option<&Record>, email: &str, page: &str, now: u64) -> Option<String> {
    let email = Email::parse(email).ok();
    let click = record.filter(|r| r.is_live(now)).and_then(|r| r.click.as_ref());
    if email.is_none() && click.is_none() {
        return None;
    }
    let mut out = String::from("{\"type\":\"lead\"");
    // The server caps pages at 2048 characters; a longer URL is cut rather than refused.
    let page = page.char_indices().nth(2000).map_or(page, |(i, _)| page.get(..i).unwrap_or(page));
    push_field(&mut out, "page", page);
    if let Some(e) = &email {
        push_field(&mut out, "email", e.as_str());
    }
    if let Some(c) = click {
        push_field(&mut out, "click_id", c.as_str());
    }
    out.push('}');
    Some(out)
}

/// What a page passes to `reftrack.conversion()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionInput<'a> {
    pub order_id: &'a str,
    /// Integer minor units, if given (`amountMinor`); NaN when absent.
    pub amount_minor: f64,
    /// Major units (`amount`), used when `amount_minor` is absent; NaN when absent.
    pub amount: f64,
    pub currency: &'a str,
}

/// Why a conversion was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    Invalid,
    AlreadySent,
}

/// The conversion event, unless the input is invalid or this browser already reported the order.
pub fn conversion(record: Option<&Record>, input: &ConversionInput<'_>, sent: &str, now: u64) -> Result<String, NotSent> {
    let order_id = OrderId::parse(input.order_id).map_err(|_| NotSent::Invalid)?;
    let currency = Currency::parse(input.currency).map_err(|_| NotSent::Invalid)?;
    let amount = amount_minor(input.amount_minor, input.amount, &currency).ok_or(NotSent::Invalid)?;
    if was_sent(sent, order_id.as_str()) {
        return Err(NotSent::AlreadySent);
    }
    let mut out = String::from("{\"type\":\"conversion\"");
    push_field(&mut out, "order_id", order_id.as_str());
    out.push_str(",\"amount_minor\":");
    push_u64(&mut out, amount);
    push_field(&mut out, "currency", currency.as_str());
    if let Some(c) = record.filter(|r| r.is_live(now)).and_then(|r| r.click.as_ref()) {
        push_field(&mut out, "click_id", c.as_str());
    }
    out.push('}');
    Ok(out)
}

/// Whether `order_id` is in the space-separated list of reported orders.
pub fn was_sent(sent: &str, order_id: &str) -> bool {
    split_byte(sent, b' ').any(|id| id == order_id)
}

/// The list with `order_id` added, keeping the most recent [`REMEMBERED_ORDERS`].
pub fn remember(sent: &str, order_id: &str) -> String {
    let count = split_byte(sent, b' ').filter(|s| !s.is_empty()).count();
    let skip = (count + 1).saturating_sub(REMEMBERED_ORDERS);
    let mut out = String::new();
    for id in split_byte(sent, b' ').filter(|s| !s.is_empty()).skip(skip) {
        out.push_str(id);
        out.push(' ');
    }
    out.push_str(order_id);
    out
}

/// The amount in integer minor units: `amount_minor` when given (it must be whole), else the
/// major `amount` scaled by the currency's exponent and rounded half up. Negative, non-finite or
/// absurdly large amounts are refused.
pub fn amount_minor(amount_minor: f64, amount: f64, currency: &Currency) -> Option<u64> {
    const LIMIT: f64 = 9.0e15;
    let minor = if !amount_minor.is_nan() {
        if amount_minor != (amount_minor as u64) as f64 {
            return None;
        }
        amount_minor
    } else {
        amount * [1.0, 10.0, 100.0, 1000.0][currency.exponent() as usize] + 0.5
    };
    (minor.is_finite() && (0.0..LIMIT).contains(&minor)).then_some(minor as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn record() -> Record {
        Record::from_params(Some(CLICK), Some("jane"), None, 1_000, 30).unwrap()
    }

    fn input<'a>(order_id: &'a str, amount_minor: f64, amount: f64, currency: &'a str) -> ConversionInput<'a> {
        ConversionInput { order_id, amount_minor, amount, currency }
    }

    #[test]
    fn a_lead_carries_the_email_the_click_and_an_escaped_page() {
        let json = lead(Some(&record()), " Jane@Example.com ", "https://x.test/?q=\"a\"\\\n", 2_000).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"type":"lead","page":"https://x.test/?q=\"a\"\\\u000a","email":"jane@example.com","click_id":"{CLICK}"}}"#)
        );
    }

    #[test]
    fn a_lead_without_email_or_live_click_is_not_sent() {
        assert_eq!(lead(None, "not-an-email", "/", 0), None);
        let expired = record();
        assert_eq!(lead(Some(&expired), "", "/", expired.expires_at), None);
        assert!(lead(None, "a@b.co", "/", 0).is_some());
    }

    #[test]
    fn a_conversion_carries_minor_units_and_the_click() {
        let json = conversion(Some(&record()), &input("cs_1", f64::NAN, 99.0, "usd"), "", 2_000).unwrap();
        assert_eq!(json, format!(r#"{{"type":"conversion","order_id":"cs_1","amount_minor":9900,"currency":"USD","click_id":"{CLICK}"}}"#));
    }

    #[test]
    fn a_reported_order_is_not_sent_again() {
        let sent = remember("", "cs_1");
        assert_eq!(conversion(None, &input("cs_1", 100.0, f64::NAN, "EUR"), &sent, 0), Err(NotSent::AlreadySent));
        assert!(conversion(None, &input("cs_2", 100.0, f64::NAN, "EUR"), &sent, 0).is_ok());
    }

    #[test]
    fn invalid_conversions_are_refused() {
        assert_eq!(conversion(None, &input("has space", 1.0, f64::NAN, "EUR"), "", 0), Err(NotSent::Invalid));
        assert_eq!(conversion(None, &input("o", 1.0, f64::NAN, "EU"), "", 0), Err(NotSent::Invalid));
        assert_eq!(conversion(None, &input("o", 1.5, f64::NAN, "EUR"), "", 0), Err(NotSent::Invalid));
        assert_eq!(conversion(None, &input("o", f64::NAN, -1.0, "EUR"), "", 0), Err(NotSent::Invalid));
        assert_eq!(conversion(None, &input("o", f64::NAN, f64::NAN, "EUR"), "", 0), Err(NotSent::Invalid));
    }

    #[test]
    fn the_memory_of_orders_keeps_the_most_recent_twenty() {
        let mut sent = String::new();
        for i in 0..25 {
            sent = remember(&sent, &format!("o{i}"));
        }
        assert!(!was_sent(&sent, "o4"));
        assert!(was_sent(&sent, "o5") && was_sent(&sent, "o24"));
        assert_eq!(sent.split(' ').count(), REMEMBERED_ORDERS);
        assert!(!was_sent(&sent, "o2"), "no prefix matches");
    }

    #[test]
    fn amounts_become_integer_minor_units_by_currency() {
        let c = |code: &str| Currency::parse(code).unwrap();
        assert_eq!(amount_minor(9900.0, f64::NAN, &c("USD")), Some(9900));
        assert_eq!(amount_minor(f64::NAN, 99.0, &c("USD")), Some(9900));
        assert_eq!(amount_minor(f64::NAN, 19.99, &c("EUR")), Some(1999));
        assert_eq!(amount_minor(f64::NAN, 1500.0, &c("JPY")), Some(1500));
        assert_eq!(amount_minor(f64::NAN, 1.234, &c("KWD")), Some(1234));
        assert_eq!(amount_minor(f64::NAN, f64::INFINITY, &c("USD")), None);
    }
}
