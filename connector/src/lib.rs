//! reftrack's cart connector: receives third-party checkout webhooks (Stripe, Shopify,
//! WooCommerce, Paddle, Lemon Squeezy, Polar, Gumroad, ThriveCart, SamCart, Chargebee, or a
//! merchant's own signed canonical orders), checks each cart's own authentication, turns what it
//! says into canonical orders, refunds and notices carrying the click, and forwards them signed
//! (Standard Webhooks) to the reftrack server through a durable SQLite outbox: retried with
//! backoff, never lost, never counted twice.
//!
//! Webinar, form and scheduling tools (Zoom, Typeform, Calendly, Kit, Tally, WebinarGeek,
//! WebinarJam, Mailchimp, ActiveCampaign, any form) go the same way as signed opt-ins (leads).
//!
//! `carts` holds one pure module per cart (authenticate + parse, no I/O) and the one list of
//! them, `CARTS`; `tools` one per tool and their list, `TOOLS`; `outbox` all SQL; `forwarder` the delivery loop; `client` the library API for
//! merchants who write their own integration.

pub mod carts;
pub mod cli;
pub mod client;
pub mod configuration;
pub mod forwarder;
pub mod metrics;
pub mod outbox;
pub mod routes;
pub mod startup;
pub mod tools;

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
