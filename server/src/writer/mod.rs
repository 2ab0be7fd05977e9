//! The writers: group commit, so that many requests share one commit (one fsync) and each is
//! answered only once its own data is committed.
//!
//! - `batch`: clicks, browser leads, conversions and fraud signals, many rows per transaction;
//! - `orders`: signed orders, many per transaction, each in a savepoint of its own.
//!
//! They only write: every decision is made by the intake before it hands a write over.

mod batch;
mod orders;

pub use batch::{BatchWriter, WriteFailed};
pub use orders::{OrderToStore, OrderWriter};
