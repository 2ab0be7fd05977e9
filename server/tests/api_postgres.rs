//! The integration suite of `api/` against a real PostgreSQL server the tests start themselves.

/// Which backend the suite runs against.
const POSTGRES: bool = true;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/commissions.rs"]
mod commissions;
#[path = "api/events.rs"]
mod events;
#[path = "api/fraud.rs"]
mod fraud;
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
#[path = "api/partner_center.rs"]
mod partner_center;
#[path = "api/payouts.rs"]
mod payouts;
#[path = "../../tests/src/postgres.rs"]
mod postgres;
#[path = "api/refunds.rs"]
mod refunds;
#[path = "api/stats.rs"]
mod stats;
