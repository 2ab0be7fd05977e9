//! The canonical order, refund and lead every source is turned into, and the browser's events.

use crate::{ClickId, Currency, Email, OrderId, ParseError, PartnerCode, RefundId, SubId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest page URL a browser event may carry.
pub const MAX_PAGE_LEN: usize = 2048;
/// Most line items one order may carry.
pub const MAX_ITEMS: usize = 500;

/// Largest amount anything may carry, in minor units (10¹², $10 billion in cents): far above any
/// real order, far below where sums over many orders could overflow 64 bits.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
/// Most units of one line.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// One order, whatever cart or tool it came from.
///
/// When it has lines, `total_minor` = Σ lines − `discount_minor` + `shipping_minor` + `tax_minor`,
/// exactly (in minor units), so commission computed on the lines and reports of the total agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalOrder {
    pub order_id: OrderId,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub currency: Currency,
    #[serde(default)]
    pub items: Vec<LineItem>,
    pub total_minor: i64,
    /// Order-level discounts (coupons), as a positive amount taken off the lines.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discount_minor: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shipping_minor: i64,
    /// Tax added on top of the lines (tax already inside the prices is not repeated here).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tax_minor: i64,
    #[serde(default)]
    pub customer: Customer,
    #[serde(default)]
    pub attribution: Attribution,
    /// Where the order came from: `stripe`, `shopify`, `woocommerce`, `paddle`, `pixel`, `api`…
    pub source: String,
    /// True for a subscription renewal (not the first payment).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renewal: bool,
    /// The cart's subscription this payment belongs to: renewals earn for the partner of its first order.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub subscription_id: Option<String>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    #[serde(default)]
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

/// Who bought.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub email: Option<Email>,
}

/// What the order carries to tie it to a partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub partner: Option<PartnerCode>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub sub_id: Option<SubId>,
}

/// Text that is stored and shown: bounded, and without control characters (PostgreSQL refuses
/// NUL, and nothing we show needs the others).
pub fn check_text(what: &'static str, raw: &str, max: usize) -> Result<(), ParseError> {
    if raw.len() > max {
        return Err(ParseError::TooLong { what, max });
    }
    if raw.chars().any(char::is_control) {
        return Err(ParseError::BadCharacter { what, allowed: "printable characters" });
    }
    Ok(())
}

/// A time RFC 3339 can write: a four-digit year in its own offset, an offset of whole minutes.
/// Anything else validated would make serialising the message fail (a panic where it is expected
/// to succeed), so it is refused here, where it arrives.
pub fn check_time(what: &'static str, t: &OffsetDateTime) -> Result<(), ParseError> {
    if !(0..=9999).contains(&t.year()) || t.offset().seconds_past_minute() != 0 {
        return Err(ParseError::Invalid { what, why: "it must be between the years 0000 and 9999 (RFC 3339)" });
    }
    Ok(())
}

/// An amount within `0..=MAX_AMOUNT_MINOR`.
pub fn check_amount(what: &'static str, amount: i64) -> Result<(), ParseError> {
    if amount < 0 {
        return Err(ParseError::Invalid { what, why: "it is negative" });
    }
    if amount > MAX_AMOUNT_MINOR {
        return Err(ParseError::Invalid { what, why: "it is above 10^12 minor units" });
    }
    Ok(())
}

/// A currency ISO 4217 knows.
pub fn check_currency(currency: &Currency) -> Result<(), ParseError> {
    if currency.is_iso4217() {
        Ok(())
    } else {
        Err(ParseError::Invalid { what: "currency", why: "it is not an ISO 4217 currency" })
    }
}

/// A short machine code: 1–`max` of a-z 0-9 _ - (sources, kinds).
fn check_label(what: &'static str, raw: &str, max: usize) -> Result<(), ParseError> {
    let ok =
        !raw.is_empty() && raw.len() <= max && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ParseError::Invalid { what, why: "it must be 1–32 of a-z 0-9 _ -" })
    }
}

/// An idempotency key of visible ASCII (a tool's event or registrant id, prefixed by the tool).
fn check_key(what: &'static str, raw: &str) -> Result<(), ParseError> {
    if raw.is_empty() || raw.len() > 200 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError::Invalid { what, why: "it must be 1–200 visible ASCII characters" });
    }
    Ok(())
}

impl CanonicalOrder {
    /// Checks what the types alone cannot: amounts and their sum, quantities, texts, the source.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_label("source", &self.source, 32)?;
        check_currency(&self.currency)?;
        check_time("occurred_at", &self.occurred_at)?;
        if let Some(s) = &self.subscription_id {
            check_text("subscription_id", s, 128)?;
        }
        if self.renewal && self.subscription_id.is_none() {
            return Err(ParseError::Invalid { what: "renewal", why: "a renewal must name its subscription_id" });
        }
        check_amount("total_minor", self.total_minor)?;
        check_amount("discount_minor", self.discount_minor)?;
        check_amount("shipping_minor", self.shipping_minor)?;
        check_amount("tax_minor", self.tax_minor)?;
        if self.items.len() > MAX_ITEMS {
            return Err(ParseError::Invalid { what: "items", why: "there are more than 500" });
        }
        let mut lines: i64 = 0;
        for item in &self.items {
            if item.sku.is_empty() {
                return Err(ParseError::Empty { what: "items[].sku" });
            }
            check_text("items[].sku", &item.sku, 128)?;
            check_text("items[].name", &item.name, 512)?;
            if item.quantity <= 0 || item.quantity > MAX_QUANTITY {
                return Err(ParseError::Invalid { what: "items[].quantity", why: "it must be 1–1,000,000" });
            }
            check_amount("items[].unit_price_minor", item.unit_price_minor)?;
            let line = item.unit_price_minor.checked_mul(item.quantity);
            lines = line
                .and_then(|l| lines.checked_add(l))
                .filter(|l| *l <= MAX_AMOUNT_MINOR)
                .ok_or(ParseError::Invalid { what: "items", why: "the lines add up to more than 10^12 minor units" })?;
        }
        if !self.items.is_empty() {
            // Every term is at most 10^12, so this cannot overflow.
            let expected = lines - self.discount_minor + self.shipping_minor + self.tax_minor;
            if expected != self.total_minor {
                return Err(ParseError::Invalid {
                    what: "total_minor",
                    why: "it must equal the lines − discount_minor + shipping_minor + tax_minor",
                });
            }
        } else if self.discount_minor > 0 {
            return Err(ParseError::Invalid { what: "discount_minor", why: "an order without lines has nothing to discount" });
        }
        Ok(())
    }

    /// The lines' amount after the order's discount, spread over the lines in proportion (what a
    /// percentage commission is paid on). Lines sum to the discounted total exactly.
    pub fn net_line_amounts(&self) -> Vec<i64> {
        let gross: Vec<i128> = self.items.iter().map(|i| i128::from(i.unit_price_minor) * i128::from(i.quantity)).collect();
        let sum: i128 = gross.iter().sum();
        if self.discount_minor <= 0 || sum <= 0 {
            return gross.into_iter().map(|g| g as i64).collect();
        }
        let discount = i128::from(self.discount_minor.min(sum as i64));
        let mut given = 0i128;
        let last = gross.len() - 1;
        gross
            .iter()
            .enumerate()
            .map(|(i, g)| {
                // The last line takes the rounding remainder, so the shares add up exactly.
                let share = if i == last { discount - given } else { g * discount / sum };
                given += share;
                (g - share) as i64
            })
            .collect()
    }
}

/// What a refund message is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// Money the merchant gave back.
    #[default]
    Refund,
    /// A chargeback the merchant lost: the bank took the money back.
    Dispute,
}

impl RefundKind {
    fn is_refund(&self) -> bool {
        *self == RefundKind::Refund
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundKind::Refund => "refund",
            RefundKind::Dispute => "dispute",
        }
    }
}

/// Money taken back from an order: one refund of `amount_minor` (`refund.created`), or the cart's
/// refunded total so far, `refunded_total_minor` (Stripe `charge.refunded`, order updates). The
/// server claws back so that the order's refunded amount is the larger of the individual refunds'
/// sum and the highest total reported (plus lost disputes), so the same money reported both ways,
/// twice, or out of order is taken back once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub order_id: OrderId,
    pub refund_id: RefundId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_total_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "RefundKind::is_refund")]
    pub kind: RefundKind,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl Refund {
    /// One refund of `amount_minor`.
    pub fn single(order_id: OrderId, refund_id: RefundId, amount_minor: i64, occurred_at: OffsetDateTime) -> Self {
        Refund { order_id, refund_id, amount_minor: Some(amount_minor), refunded_total_minor: None, kind: RefundKind::Refund, occurred_at }
    }

    /// The cart's refunded total of the order so far.
    pub fn cumulative(order_id: OrderId, refund_id: RefundId, refunded_total_minor: i64, occurred_at: OffsetDateTime) -> Self {
        Refund {
            order_id,
            refund_id,
            amount_minor: None,
            refunded_total_minor: Some(refunded_total_minor),
            kind: RefundKind::Refund,
            occurred_at,
        }
    }

    /// Exactly one of the two amounts, positive and in range; a dispute is one amount.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_time("occurred_at", &self.occurred_at)?;
        match (self.amount_minor, self.refunded_total_minor) {
            (Some(a), None) => check_amount("amount_minor", a)?,
            (None, Some(t)) if self.kind == RefundKind::Refund => check_amount("refunded_total_minor", t)?,
            (None, Some(_)) => return Err(ParseError::Invalid { what: "refunded_total_minor", why: "a dispute gives its amount_minor" }),
            _ => return Err(ParseError::Invalid { what: "amount_minor", why: "give amount_minor or refunded_total_minor, one of them" }),
        }
        if self.amount_minor == Some(0) {
            return Err(ParseError::Invalid { what: "amount_minor", why: "it must be positive" });
        }
        Ok(())
    }
}

/// An opt-in reported by a server (a webinar tool's webhook, the merchant's CRM): it counts as an opt-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLead {
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub partner: Option<PartnerCode>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub sub_id: Option<SubId>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<OffsetDateTime>,
    /// The tool it came from (`zoom`, `typeform`…); `api` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub source: Option<String>,
    /// The tool's own id of this opt-in (`zoom:<registrant id>`): a delivery with the same key is the
    /// same opt-in, whatever its message id. Without it, the message id (`webhook-id`) is the key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub lead_id: Option<String>,
}

impl ServerLead {
    /// Checks the texts.
    pub fn validate(&self) -> Result<(), ParseError> {
        if let Some(name) = &self.name {
            check_text("name", name, 256)?;
        }
        if let Some(source) = &self.source {
            check_label("source", source, 32)?;
        }
        if let Some(key) = &self.lead_id {
            check_key("lead_id", key)?;
        }
        if let Some(at) = &self.occurred_at {
            check_time("occurred_at", at)?;
        }
        Ok(())
    }
}

/// Something about money the connector received but could not apply (a dispute opened, a
/// renewal that failed, a refund of an unknown payment): shown to the merchant, never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable per event (`stripe:evt_…`), so a redelivery is one notice.
    pub notice_id: String,
    /// The cart or tool (`stripe`).
    pub source: String,
    /// What happened (`dispute_opened`, `renewal_failed`, `refund_unmatched`…).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub order_id: Option<OrderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// A sentence for the merchant.
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl Notice {
    /// Checks the texts and the amount.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_key("notice_id", &self.notice_id)?;
        check_label("source", &self.source, 32)?;
        check_label("kind", &self.kind, 32)?;
        check_text("message", &self.message, 1000)?;
        check_time("occurred_at", &self.occurred_at)?;
        if let Some(a) = self.amount_minor {
            check_amount("amount_minor", a)?;
        }
        if let Some(c) = &self.currency {
            check_currency(c)?;
        }
        Ok(())
    }
}

/// What the snippet sends to `/v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrowserEvent {
    Lead(Lead),
    Conversion(Conversion),
}

/// An opt-in seen in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub email: Option<Email>,
    #[serde(default)]
    pub page: String,
}

/// A purchase seen on a confirmation page (unverified until a signed order confirms it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::blank::none_if_empty")]
    pub click_id: Option<ClickId>,
}

impl Conversion {
    /// Checks the amount and currency.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_amount("amount_minor", self.amount_minor)?;
        check_currency(&self.currency)
    }
}

impl BrowserEvent {
    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ParseError> {
        match self {
            BrowserEvent::Lead(lead) => {
                check_text("page", &lead.page, MAX_PAGE_LEN)?;
                if lead.click_id.is_none() && lead.email.is_none() {
                    return Err(ParseError::Invalid { what: "lead", why: "it needs a click_id or an email" });
                }
                Ok(())
            }
            BrowserEvent::Conversion(c) => c.validate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> &'static str {
        r#"{"order_id":"stripe:cs_1","occurred_at":"2026-11-01T10:00:00Z","currency":"usd",
            "items":[{"sku":"course","name":"Course","quantity":1,"unit_price_minor":9900}],
            "total_minor":9900,"customer":{"email":"Buyer@Example.com"},
            "attribution":{"click_id":"AAAAAAAAAAAAAAAAAAAAAA","partner":"jane"},"source":"stripe"}"#
    }

    #[test]
    fn a_canonical_order_parses_and_normalises() {
        let order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.validate().unwrap();
        assert_eq!(order.currency.as_str(), "USD");
        assert_eq!(order.customer.email.unwrap().as_str(), "buyer@example.com");
        assert_eq!(order.attribution.partner.unwrap().as_str(), "jane");
    }

    #[test]
    fn an_order_with_a_negative_quantity_is_invalid() {
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.items[0].quantity = 0;
        assert!(order.validate().is_err());
        order.items[0].quantity = 1;
        order.source = "Stripe!".into();
        assert!(order.validate().is_err());
    }

    #[test]
    fn browser_events_are_tagged_by_type() {
        let lead: BrowserEvent = serde_json::from_str(r#"{"type":"lead","email":"a@b.co","page":"/x"}"#).unwrap();
        assert!(matches!(lead, BrowserEvent::Lead(_)));
        let empty: BrowserEvent = serde_json::from_str(r#"{"type":"lead","page":"/x"}"#).unwrap();
        assert!(empty.validate().is_err());
        let conv: BrowserEvent =
            serde_json::from_str(r#"{"type":"conversion","order_id":"o1","amount_minor":100,"currency":"EUR"}"#).unwrap();
        conv.validate().unwrap();
        assert!(serde_json::from_str::<BrowserEvent>(r#"{"type":"click"}"#).is_err());
    }

    #[test]
    fn the_total_must_equal_the_lines_with_discount_shipping_and_tax() {
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.total_minor = 9800;
        assert!(order.validate().is_err(), "a total that is not the lines");
        order.discount_minor = 1100;
        order.shipping_minor = 500;
        order.tax_minor = 500;
        order.validate().unwrap();
        order.items[0].quantity = 1_000_000;
        order.items[0].unit_price_minor = 9_223_372_036_854;
        assert!(order.validate().is_err(), "lines above 10^12 are refused before anything multiplies them");
    }

    #[test]
    fn amounts_and_currencies_are_bounded() {
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.currency = crate::Currency::parse("ABC").unwrap();
        assert!(order.validate().is_err());
        let refund = |body: &str| serde_json::from_str::<Refund>(body).unwrap().validate();
        assert!(
            refund(r#"{"order_id":"o","refund_id":"r","amount_minor":9223372036854775807,"occurred_at":"2026-11-01T10:00:00Z"}"#).is_err()
        );
        assert!(refund(
            r#"{"order_id":"o","refund_id":"r","amount_minor":100,"refunded_total_minor":100,"occurred_at":"2026-11-01T10:00:00Z"}"#
        )
        .is_err());
        assert!(refund(r#"{"order_id":"o","refund_id":"r","occurred_at":"2026-11-01T10:00:00Z"}"#).is_err());
        refund(r#"{"order_id":"o","refund_id":"r","refunded_total_minor":100,"occurred_at":"2026-11-01T10:00:00Z"}"#).unwrap();
        refund(r#"{"order_id":"o","refund_id":"r","amount_minor":100,"kind":"dispute","occurred_at":"2026-11-01T10:00:00Z"}"#).unwrap();
    }

    #[test]
    fn a_time_rfc_3339_cannot_write_is_refused_instead_of_panicking_when_serialised() {
        // Found by the property tests: from_unix_timestamp gives years down to -9999, which
        // passed validate and then failed to serialise (the connector's `expect` panicked).
        let before_year_0 = OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap();
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.occurred_at = before_year_0;
        assert!(serde_json::to_string(&order).is_err(), "the reason for the check");
        assert!(order.validate().is_err());
        let refund = Refund::single(OrderId::parse("o").unwrap(), RefundId::parse("r").unwrap(), 1, before_year_0);
        assert!(refund.validate().is_err());
        let lead: ServerLead = serde_json::from_str(r#"{"email":"a@b.co"}"#).unwrap();
        assert!(ServerLead { occurred_at: Some(before_year_0), ..lead }.validate().is_err());
        order.occurred_at = OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap();
        order.validate().unwrap();
    }

    #[test]
    fn texts_with_control_characters_are_refused() {
        let lead: BrowserEvent = serde_json::from_str(r#"{"type":"lead","email":"a@b.co","page":"\u0000"}"#).unwrap();
        assert!(lead.validate().is_err());
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.items[0].name = "Course\u{7}".into();
        assert!(order.validate().is_err());
    }

    #[test]
    fn empty_optional_fields_are_missing() {
        let lead: ServerLead = serde_json::from_str(r#"{"email":"a@b.co","click_id":"","partner":"","name":""}"#).unwrap();
        assert_eq!((lead.click_id, lead.partner, lead.name), (None, None, None));
        let order: CanonicalOrder = serde_json::from_str(
            r#"{"order_id":"o1","occurred_at":"2026-11-01T10:00:00Z","currency":"USD","total_minor":100,"source":"api",
                "customer":{"email":""},"attribution":{"click_id":"","partner":"","sub_id":""},"subscription_id":""}"#,
        )
        .unwrap();
        order.validate().unwrap();
        assert_eq!(order.attribution, Attribution::default());
        assert_eq!(order.customer.email, None);
    }

    #[test]
    fn a_discount_is_spread_over_the_lines_exactly() {
        let mut order: CanonicalOrder = serde_json::from_str(sample()).unwrap();
        order.items.push(LineItem { sku: "ebook".into(), name: String::new(), quantity: 2, unit_price_minor: 1000 });
        order.discount_minor = 1000;
        order.total_minor = 9900 + 2000 - 1000;
        order.validate().unwrap();
        let net = order.net_line_amounts();
        assert_eq!(net.iter().sum::<i64>(), 10_900);
        assert_eq!(net, vec![9900 - 831, 2000 - 169]);
    }
}
