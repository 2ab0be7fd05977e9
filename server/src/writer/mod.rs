//! The writers: group commit, so that many requests share one commit (one fsync) and each is
//! answered only once its own data is committed.
//!
//! - `batch`: clicks, browser leads, conversions and fraud signals, many rows per transaction;
//! - `orders`: signed orders, many per transaction, each in a savepoint of its own.
//!
//! Each runs on a thread of its own (see [`spawn_on_own_thread`]).
//!
//! They only write: every decision is made by the intake before it hands a write over.

mod batch;
mod orders;

pub use batch::{BatchWriter, WriteFailed};
pub use orders::{OrderToStore, OrderWriter};

use std::future::Future;
use tokio::task::JoinHandle;

/// Runs a writer's loop on a thread and runtime of its own. A writer waits for the database once
/// per statement; on the shared workers every one of those waits ended behind the requests queued
/// there (measured: a group of 12 signed orders took 7 ms, with the writer's SQLite thread busy
/// for a fifth of it). On its own thread it goes on as soon as the database answers.
fn spawn_on_own_thread<F>(writer: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a writer's runtime starts");
    tokio::task::spawn_blocking(move || runtime.block_on(writer))
}
