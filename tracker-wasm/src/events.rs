//! The lead and conversion events the snippet sends, and the memory of orders already reported.
//!
//! Events are small JSON objects written by hand (serde_json would triple the snippet); every
//! value is either validated to a URL-safe charset or escaped by [`Out::json_str`].

use crate::out::{parse_u64, Out};
use crate::record::Record;
use reftrack_protocol::text::split_byte;
use reftrack_protocol::{check, Currency};

/// How many order ids a browser remembers, to ignore a reloaded confirmation page.
pub const REMEMBERED_ORDERS: usize = 20;
/// Longest page address sent with a lead, in bytes (the server takes 2048).
pub const MAX_PAGE: usize = 2000;

/// Writes the lead event for an opt-in on `page`; false (and nothing written) when there is
/// neither a valid email nor a live click to report.
pub fn lead(record: Option<&Record<'_>>, email: &str, page: &str, now: u64, out: &mut Out) -> bool {
    let email = check::email(email);
    let click = record.filter(|r| r.is_live(now)).and_then(|r| r.click);
    if email.is_none() && click.is_none() {
        return false;
    }
    // Cut long addresses on a character boundary.
    let cut = (0..=page.len().min(MAX_PAGE)).rev().find(|&i| page.is_char_boundary(i)).unwrap_or(0);
    out.push("{\"type\":\"lead\"");
    out.field("page", page.get(..cut).unwrap_or_default());
    if let Some(e) = email {
        out.push(",\"email\":");
        out.json_str(e, true);
    }
    if let Some(c) = click {
        out.field("click_id", c);
    }
    out.push("}");
    true
}

/// What the confirmation page reports, as the loader read it (numbers as JavaScript prints them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversionInput<'a> {
    pub order_id: &'a str,
    /// Whole minor units (`"9900"`), or empty.
    pub amount_minor: &'a str,
    /// Major units (`"99"`, `"19.99"`), used when `amount_minor` is empty.
    pub amount: &'a str,
    pub currency: &'a str,
}

/// Why a conversion was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    Invalid,
    AlreadySent,
}

/// Writes the conversion event, unless the input is invalid or this browser already reported the
/// order (its id is in `sent`, the space-separated memory of reported orders).
pub fn conversion(record: Option<&Record<'_>>, input: &ConversionInput<'_>, sent: &str, now: u64, out: &mut Out) -> Result<(), NotSent> {
    if !check::order_id(input.order_id) {
        return Err(NotSent::Invalid);
    }
    let currency = Currency::parse(input.currency).map_err(|_| NotSent::Invalid)?;
    let amount = amount_minor(input.amount_minor, input.amount, &currency).ok_or(NotSent::Invalid)?;
    if was_sent(sent, input.order_id) {
        return Err(NotSent::AlreadySent);
    }
    out.push("{\"type\":\"conversion\"");
    out.field("order_id", input.order_id);
    out.push(",\"amount_minor\":");
    out.u64(amount);
    out.field("currency", currency.as_str());
    if let Some(c) = record.filter(|r| r.is_live(now)).and_then(|r| r.click) {
        out.field("click_id", c);
    }
    out.push("}");
    Ok(())
}

/// Whether `order_id` is in the memory of reported orders.
pub fn was_sent(sent: &str, order_id: &str) -> bool {
    split_byte(sent, b' ').any(|id| id == order_id)
}

/// Writes the memory of reported orders with `order_id` added, keeping the most recent ones.
pub fn remember(sent: &str, order_id: &str, out: &mut Out) {
    let count = split_byte(sent, b' ').filter(|s| !s.is_empty()).count();
    let skip = (count + 1).saturating_sub(REMEMBERED_ORDERS);
    for id in split_byte(sent, b' ').filter(|s| !s.is_empty()).skip(skip) {
        out.push(id);
        out.push(" ");
    }
    out.push(order_id);
}

/// The amount in minor units: `amount_minor` if given (whole, non-negative), else `amount` in major
/// units read exactly (`19.99` EUR → 1999; more decimals than the currency has is invalid).
pub fn amount_minor(amount_minor: &str, amount: &str, currency: &Currency) -> Option<u64> {
    // Nine quadrillion: beyond it JavaScript numbers are no longer exact.
    const LIMIT: u64 = 9_000_000_000_000_000;
    let minor = if amount_minor.is_empty() { u64::try_from(currency.parse_major(amount).ok()?).ok()? } else { parse_u64(amount_minor)? };
    (minor < LIMIT).then_some(minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn record() -> Record<'static> {
        Record::from_params(CLICK, "jane", "", 1_000, 30).unwrap()
    }

    fn input<'a>(order_id: &'a str, amount_minor: &'a str, amount: &'a str, currency: &'a str) -> ConversionInput<'a> {
        ConversionInput { order_id, amount_minor, amount, currency }
    }

    fn lead_json(record: Option<&Record<'_>>, email: &str, page: &str, now: u64) -> Option<String> {
        let mut out = Out::default();
        lead(record, email, page, now, &mut out).then(|| out.as_str().into())
    }

    fn conversion_json(record: Option<&Record<'_>>, input: &ConversionInput<'_>, sent: &str, now: u64) -> Result<String, NotSent> {
        let mut out = Out::default();
        conversion(record, input, sent, now, &mut out).map(|()| out.as_str().into())
    }

    fn remembered(sent: &str, order_id: &str) -> String {
        let mut out = Out::default();
        remember(sent, order_id, &mut out);
        out.as_str().into()
    }

    #[test]
    fn a_lead_carries_the_email_the_click_and_an_escaped_page() {
        let json = lead_json(Some(&record()), " Jane@Example.com ", "https://x.test/?q=\"a\"\\\n", 2_000).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"type":"lead","page":"https://x.test/?q=\"a\"\\\u000a","email":"jane@example.com","click_id":"{CLICK}"}}"#)
        );
    }

    #[test]
    fn a_long_page_address_is_cut_on_a_character_boundary() {
        let page = format!("https://x.test/{}", "é".repeat(2000));
        let json = lead_json(None, "a@b.co", &page, 0).unwrap();
        assert!(json.len() < MAX_PAGE + 100 && json.contains("é\",\"email\""), "{json}");
    }

    #[test]
    fn a_lead_without_email_or_live_click_is_not_sent() {
        assert_eq!(lead_json(None, "not-an-email", "/", 0), None);
        let expired = record();
        assert_eq!(lead_json(Some(&expired), "", "/", expired.expires_at), None);
        assert!(lead_json(None, "a@b.co", "/", 0).is_some());
    }

    #[test]
    fn a_conversion_carries_minor_units_and_the_click() {
        let json = conversion_json(Some(&record()), &input("cs_1", "", "99", "usd"), "", 2_000).unwrap();
        assert_eq!(json, format!(r#"{{"type":"conversion","order_id":"cs_1","amount_minor":9900,"currency":"USD","click_id":"{CLICK}"}}"#));
    }

    #[test]
    fn a_reported_order_is_not_sent_again() {
        let sent = remembered("", "cs_1");
        assert_eq!(conversion_json(None, &input("cs_1", "100", "", "EUR"), &sent, 0), Err(NotSent::AlreadySent));
        assert!(conversion_json(None, &input("cs_2", "100", "", "EUR"), &sent, 0).is_ok());
    }

    #[test]
    fn invalid_conversions_are_refused() {
        for (order, minor, major, currency) in [
            ("has space", "1", "", "EUR"),
            ("o", "1", "", "EU"),
            ("o", "1.5", "", "EUR"),
            ("o", "", "-1", "EUR"),
            ("o", "", "", "EUR"),
            ("o", "", "1e+21", "USD"),
        ] {
            assert_eq!(
                conversion_json(None, &input(order, minor, major, currency), "", 0),
                Err(NotSent::Invalid),
                "{order} {minor} {major}"
            );
        }
    }

    #[test]
    fn the_memory_of_orders_keeps_the_most_recent_twenty() {
        let mut sent = String::new();
        for i in 0..25 {
            sent = remembered(&sent, &format!("o{i}"));
        }
        assert!(!was_sent(&sent, "o4"));
        assert!(was_sent(&sent, "o5") && was_sent(&sent, "o24"));
        assert_eq!(sent.split(' ').count(), REMEMBERED_ORDERS);
        assert!(!was_sent(&sent, "o2"), "no prefix matches");
    }

    #[test]
    fn amounts_become_exact_integer_minor_units_by_currency() {
        let c = |code: &str| Currency::parse(code).unwrap();
        assert_eq!(amount_minor("9900", "", &c("USD")), Some(9900));
        assert_eq!(amount_minor("", "99", &c("USD")), Some(9900));
        assert_eq!(amount_minor("", "19.99", &c("EUR")), Some(1999));
        assert_eq!(amount_minor("", "1500", &c("JPY")), Some(1500));
        assert_eq!(amount_minor("", "1.234", &c("KWD")), Some(1234));
        assert_eq!(amount_minor("", "19.999", &c("EUR")), None);
        assert_eq!(amount_minor("", "Infinity", &c("USD")), None);
    }
}
