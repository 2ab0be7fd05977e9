//! One module per cart: how it signs its webhooks and how its payloads become canonical orders
//! and refunds. Everything here is pure (headers and bytes in, values out) and unit-tested.

pub mod generic;
pub mod paddle;
pub mod shopify;
pub mod signatures;
pub mod stripe;
pub mod woocommerce;

use reftrack_protocol::{CanonicalOrder, OrderId, RefundId};
use time::OffsetDateTime;

/// A cart the connector accepts webhooks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cart {
    Stripe,
    Shopify,
    WooCommerce,
    Paddle,
    Generic,
}

impl Cart {
    /// The cart named in the route (`/webhooks/{name}`).
    pub fn from_route(name: &str) -> Option<Cart> {
        match name {
            "stripe" => Some(Cart::Stripe),
            "shopify" => Some(Cart::Shopify),
            "woocommerce" => Some(Cart::WooCommerce),
            "paddle" => Some(Cart::Paddle),
            "generic" => Some(Cart::Generic),
            _ => None,
        }
    }

    /// Its name in routes, order-id prefixes and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Cart::Stripe => "stripe",
            Cart::Shopify => "shopify",
            Cart::WooCommerce => "woocommerce",
            Cart::Paddle => "paddle",
            Cart::Generic => "generic",
        }
    }

    /// The environment variable holding its webhook secret.
    pub fn secret_env(self) -> &'static str {
        match self {
            Cart::Stripe => "STRIPE_WEBHOOK_SECRET",
            Cart::Shopify => "SHOPIFY_WEBHOOK_SECRET",
            Cart::WooCommerce => "WOOCOMMERCE_WEBHOOK_SECRET",
            Cart::Paddle => "PADDLE_WEBHOOK_SECRET",
            Cart::Generic => "GENERIC_WEBHOOK_SECRET",
        }
    }
}

/// Which order a refund belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// Our order id, known from the payload.
    Order(OrderId),
    /// Only the cart's own id of the payment (`stripe:pi_…`): looked up in the outbox's mapping.
    CartRef(String),
}

/// A refund as a cart reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartRefund {
    pub refund_id: RefundId,
    pub order: OrderRef,
    pub amount_minor: i64,
    pub occurred_at: OffsetDateTime,
}

/// What a webhook means for us: an order, refunds, both (a WooCommerce order update lists its
/// refunds), or nothing we handle (acknowledged so the cart stops retrying).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intake {
    pub order: Option<Box<CanonicalOrder>>,
    /// The cart's own payment ids that later refunds may name instead of the order.
    pub cart_refs: Vec<String>,
    pub refunds: Vec<CartRefund>,
    /// Why nothing was taken, for the log and the answer.
    pub ignored: Option<String>,
}

impl Intake {
    /// An event we do not handle.
    pub fn ignored(why: impl Into<String>) -> Self {
        Intake { ignored: Some(why.into()), ..Intake::default() }
    }

    /// An order.
    pub fn order(order: CanonicalOrder, cart_refs: Vec<String>) -> Self {
        Intake { order: Some(Box::new(order)), cart_refs, ..Intake::default() }
    }

    /// Refunds (none at all is "ignored").
    pub fn refunds(refunds: Vec<CartRefund>) -> Self {
        if refunds.is_empty() {
            return Intake::ignored("no refund that moved money");
        }
        Intake { refunds, ..Intake::default() }
    }
}

/// Why a payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

impl From<reftrack_protocol::ParseError> for PayloadError {
    fn from(e: reftrack_protocol::ParseError) -> Self {
        PayloadError::Invalid(e.to_string())
    }
}

/// `{cart}:{id}`, so two carts' order ids can never collide on the server.
pub fn order_id(cart: Cart, id: &str) -> Result<OrderId, PayloadError> {
    Ok(OrderId::parse(&format!("{}:{id}", cart.name()))?)
}

/// `{cart}:{id}` for refunds.
pub fn refund_id(cart: Cart, id: &str) -> Result<RefundId, PayloadError> {
    Ok(RefundId::parse(&format!("{}:{id}", cart.name()))?)
}

/// The `rt_click` parameter of a URL or path (`/landing?rt_click=…`), if present and valid.
pub fn click_in_url(url: &str) -> Option<reftrack_protocol::ClickId> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == reftrack_protocol::names::CLICK_PARAM)
        .and_then(|(_, v)| reftrack_protocol::ClickId::parse(&v).ok())
}

/// Unix seconds → a UTC time.
pub fn from_unix(secs: i64) -> Result<OffsetDateTime, PayloadError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| PayloadError::Invalid(format!("{secs} is not a valid unix time")))
}

/// An RFC 3339 time (any offset) → UTC.
pub fn from_rfc3339(raw: &str) -> Result<OffsetDateTime, PayloadError> {
    OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .map_err(|_| PayloadError::Invalid(format!("{raw:?} is not an RFC 3339 time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_click_is_read_from_a_landing_url() {
        let click = click_in_url("/offer?utm=x&rt_click=AAAAAAAAAAAAAAAAAAAAAA#top").unwrap();
        assert_eq!(click.as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(click_in_url("/offer?rt_click=bad").is_none());
        assert!(click_in_url("/offer").is_none());
    }

    #[test]
    fn order_ids_are_prefixed_by_their_cart() {
        assert_eq!(order_id(Cart::Shopify, "820982911946154508").unwrap().as_str(), "shopify:820982911946154508");
    }
}
