//! Integration tests: the real `reftrack` binary on a random port with a temp SQLite database,
//! over HTTP. `api_postgres` runs these same files against a real PostgreSQL.

/// Which backend the suite runs against.
const POSTGRES: bool = false;

mod helpers;
#[allow(dead_code)]
#[path = "../../../tests/src/postgres.rs"]
mod postgres;

mod admin;
mod commissions;
mod events;
mod fraud;
mod health;
mod leads;
mod links;
mod lookup;
mod orders;
mod partner_center;
mod payouts;
mod refunds;
mod stats;
