//! Integration tests: the real `reftrack` binary on a random port with a fresh database, over
//! HTTP. The backend is `REFTRACK_TEST_BACKEND` (`sqlite` by default, or `postgres`: a real
//! PostgreSQL server the suite starts); `cargo xtask test` runs the suite on both.

mod helpers;

mod admin;
mod applications;
mod back_office;
mod commissions;
mod corrections;
mod events;
mod fraud;
mod health;
mod leads;
mod links;
mod lookup;
mod orders;
mod owners;
mod partner_center;
mod payouts;
mod refunds;
mod resources;
mod stats;
mod windows;
