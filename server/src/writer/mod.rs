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

/// For the writers' tests: 32 clients writing `write(n)` for distinct `n` as fast as they are
/// answered for `seconds`, while the size of the `wal` file is watched. Returns the writes made
/// and the largest WAL seen.
#[cfg(test)]
async fn steady_stream<F, W>(wal: &std::path::Path, seconds: u64, write: F) -> (u64, u64)
where
    F: Fn(u64) -> W + Clone + Send + 'static,
    W: Future<Output = ()> + Send,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let clients: Vec<_> = (0..32)
        .map(|k| {
            let write = write.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while std::time::Instant::now() < deadline {
                    write(n * 32 + k).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut largest = 0;
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        largest = largest.max(std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0));
    }
    let mut writes = 0;
    for client in clients {
        writes += client.await.unwrap();
    }
    (writes, largest)
}
