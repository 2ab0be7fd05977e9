//! The canonical order, refund and lead every source is turned into, and the browser's events.

use crate::{ClickId, Currency, Email, OrderId, ParseError, PartnerCode, RefundId, SubId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest page URL a browser event may carry.
pub const MAX_PAGE_LEN: usize = 2048;
/// Most line items one order may carry.
pub const MAX_ITEMS: usize = 500;

/// One order, whatever cart or tool it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalOrder {
    pub order_id: OrderId,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub currency: Currency,
    #[serde(default)]
    pub items: Vec<LineItem>,
    pub total_minor: i64,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

/// What the order carries to tie it to a partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_id: Option<SubId>,
}

impl CanonicalOrder {
    /// Checks what the types alone cannot: amounts, quantities, the source label, UTC.
    pub fn validate(&self) -> Result<(), ParseError> {
        validate_source(&self.source)?;
        if self.subscription_id.as_ref().is_some_and(|s| s.is_empty() || s.len() > 128) {
            return Err(ParseError::Invalid { what: "subscription_id", why: "it must be 1–128 characters" });
        }
        if self.renewal && self.subscription_id.is_none() {
            return Err(ParseError::Invalid { what: "renewal", why: "a renewal must name its subscription_id" });
        }
        if self.total_minor < 0 {
            return Err(ParseError::Invalid { what: "total_minor", why: "it is negative" });
        }
        if self.items.len() > MAX_ITEMS {
            return Err(ParseError::Invalid { what: "items", why: "there are more than 500" });
        }
        for item in &self.items {
            if item.sku.is_empty() || item.sku.len() > 128 {
                return Err(ParseError::Invalid { what: "items[].sku", why: "it must be 1–128 characters" });
            }
            if item.name.len() > 512 {
                return Err(ParseError::TooLong { what: "items[].name", max: 512 });
            }
            if item.quantity <= 0 || item.quantity > 1_000_000 {
                return Err(ParseError::Invalid { what: "items[].quantity", why: "it must be 1–1,000,000" });
            }
            if item.unit_price_minor < 0 {
                return Err(ParseError::Invalid { what: "items[].unit_price_minor", why: "it is negative" });
            }
            if item.unit_price_minor.checked_mul(item.quantity).is_none() {
                return Err(ParseError::Invalid { what: "items[]", why: "quantity × unit price overflows" });
            }
        }
        Ok(())
    }
}

fn validate_source(source: &str) -> Result<(), ParseError> {
    let ok = !source.is_empty()
        && source.len() <= 32
        && source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ParseError::Invalid { what: "source", why: "it must be 1–32 of a-z 0-9 _ -" })
    }
}

/// A refund of part or all of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub order_id: OrderId,
    pub refund_id: RefundId,
    pub amount_minor: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl Refund {
    /// A refund moves a positive amount.
    pub fn validate(&self) -> Result<(), ParseError> {
        if self.amount_minor <= 0 {
            return Err(ParseError::Invalid { what: "amount_minor", why: "it must be positive" });
        }
        Ok(())
    }
}

/// An opt-in reported by a server (a webinar tool's webhook, the merchant's CRM): it counts as an opt-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLead {
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_id: Option<SubId>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<OffsetDateTime>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
}

impl BrowserEvent {
    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ParseError> {
        match self {
            BrowserEvent::Lead(lead) => {
                if lead.page.len() > MAX_PAGE_LEN {
                    return Err(ParseError::TooLong { what: "page", max: MAX_PAGE_LEN });
                }
                if lead.click_id.is_none() && lead.email.is_none() {
                    return Err(ParseError::Invalid { what: "lead", why: "it needs a click_id or an email" });
                }
                Ok(())
            }
            BrowserEvent::Conversion(c) if c.amount_minor < 0 => Err(ParseError::Invalid { what: "amount_minor", why: "it is negative" }),
            BrowserEvent::Conversion(_) => Ok(()),
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
}
