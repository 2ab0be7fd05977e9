//! The integration suite of `api/` against a real PostgreSQL server the tests start themselves.

/// Which backend the suite runs against.
const POSTGRES: bool = true;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/events.rs"]
mod events;
#[path = "api/health.rs"]
mod health;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/leads.rs"]
mod leads;
#[path = "api/links.rs"]
mod links;
#[path = "api/lookup.rs"]
mod lookup;
#[path = "api/orders.rs"]
mod orders;
#[path = "../../tests/src/postgres.rs"]
mod postgres;
#[path = "api/refunds.rs"]
mod refunds;
#[path = "api/stats.rs"]
mod stats;
