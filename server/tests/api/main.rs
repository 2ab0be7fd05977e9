//! Integration tests: the real `reftrack` binary on a random port with a fresh database, over
//! HTTP. The backend is `REFTRACK_TEST_BACKEND` (`sqlite` by default, or `postgres`: a real
//! PostgreSQL server the suite starts); `cargo xtask test` runs the suite on both.

mod helpers;

mod admin;
mod applications;
mod attacks;
mod back_office;
mod commissions;
mod corrections;
mod durability;
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
mod rollups;
mod stats;
mod webhooks;
mod windows;
