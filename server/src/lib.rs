//! reftrack's attribution server: tracking links, lookup, browser events, signed orders, refunds,
//! leads and notices, commissions, ledger and payouts, partner stats; on embedded SQLite or
//! PostgreSQL.
//!
//! Layers, each importing only those below it (a test checks this): `cli`/`demo` → `startup` →
//! `routes` (state, auth, HTTP errors, handlers) → `intake` (the use cases of what comes in) and
//! `backoffice` (what the merchant manages and reads) → `writer` (group commit of clicks and orders) and `delivery`
//! (outgoing webhooks and postbacks) → `store`
//! (all SQL) → `domain` (pure rules). `configuration`, `clock` and `metrics` are leaves.
//! ARCHITECTURE.md at the repository's root is the map.

pub mod backoffice;
pub mod cli;
pub mod clock;
pub mod configuration;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod intake;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod writer;
