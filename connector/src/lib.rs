//! reftrack's cart connector: receives third-party checkout webhooks (Stripe, Shopify,
//! WooCommerce, Paddle, or a merchant's own signed canonical orders), verifies each cart's own
//! signature, turns the order into one canonical order carrying the click, and forwards it signed
//! (Standard Webhooks) to the reftrack server through a durable SQLite outbox: retried with
//! backoff, never lost, never counted twice.
//!
//! Webinar, form and scheduling tools (Zoom, Typeform, Calendly, Kit, Tally, WebinarGeek,
//! WebinarJam, Mailchimp, ActiveCampaign, any form) go the same way as signed opt-ins (leads).
//!
//! `carts` holds one pure module per cart (verify + parse, no I/O); `tools` one per tool; `outbox`
//! all SQL; `forwarder` the delivery loop; `client` the library API for merchants who write their
//! own integration.

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
