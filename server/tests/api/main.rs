//! Integration tests: the real `reftrack` binary on a random port with a temp database, over HTTP.

mod helpers;

mod admin;
mod events;
mod health;
mod leads;
mod links;
mod lookup;
mod orders;
mod refunds;
mod stats;
