//! reftrack's attribution server: tracking links, lookup, browser events, signed orders, refunds
//! and leads, commissions and partner stats, on embedded SQLite.
//!
//! `startup` builds the application; `routes` holds thin handlers; `domain` the pure rules;
//! `crediting` and `admin` the use cases that join rules and storage; `store` all SQL.

pub mod admin;
pub mod auth;
pub mod chart;
pub mod cli;
pub mod configuration;
pub mod crediting;
pub mod demo;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod payouts;
pub mod report;
pub mod routes;
pub mod routing;
pub mod startup;
pub mod store;
pub mod writer;

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    domain::period::to_ms(time::OffsetDateTime::now_utc())
}
