//! The wire contract shared by reftrack's server, browser snippet and cart connector.
//!
//! Everything here is plain data and pure functions: no I/O, no async runtime, so the crate
//! also compiles to `wasm32-unknown-unknown` for the snippet. Values that cross a boundary are
//! newtypes that can only be built valid (parse, don't validate).
//!
//! Without the default `std` feature the crate is `no_std` (with `alloc`) and offers only the
//! IDs, money and names, which is all the size-constrained snippet links.

#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

#[cfg(feature = "std")]
mod blank;
mod error;
mod ids;
mod money;
pub mod names;
#[cfg(feature = "std")]
mod order;
#[cfg(feature = "std")]
pub mod signature;
pub mod text;

pub use error::ParseError;
pub use ids::{check, ClickId, Email, LinkCode, OrderId, PartnerCode, ProgramCode, RefundId, SubId};
pub use money::{Currency, Money};
#[cfg(feature = "std")]
pub use order::{
    check_amount, check_currency, check_text, check_time, Attribution, BrowserEvent, CanonicalOrder, Conversion, Customer, Lead, LineItem,
    Notice, Refund, RefundKind, ServerLead, MAX_AMOUNT_MINOR, MAX_QUANTITY,
};
