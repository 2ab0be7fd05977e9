//! The single batch writer: clicks, browser leads, conversions and fraud signals are handed over
//! ready to store through a bounded channel and written many per transaction (group commit), so a
//! click never waits on a disk flush of its own. It only writes: whatever must be decided before
//! a write is decided by the intake that hands it over.

use crate::metrics::Metrics;
use crate::store::{BatchWrite, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const CHANNEL_CAPACITY: usize = 16_384;
const MAX_BATCH: usize = 1_024;
const ATTEMPTS: u32 = 5;

enum Message {
    Write(BatchWrite),
    Flush(oneshot::Sender<()>),
}

/// A handle to the writer task; cloning it is cheap.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl BatchWriter {
    /// Starts the writer task. It ends once every handle is dropped and the queue is drained.
    pub fn spawn(store: Store, metrics: Arc<Metrics>) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = tokio::spawn(run(rx, store, metrics));
        (Self { tx }, task)
    }

    /// Queues a write. Waits only when the queue is full (back-pressure, never loss).
    pub async fn write(&self, write: BatchWrite) {
        if self.tx.send(Message::Write(write)).await.is_err() {
            tracing::error!("batch writer has stopped; a write was dropped");
        }
    }

    /// Resolves once everything queued before this call is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Message>, store: Store, metrics: Arc<Metrics>) {
    let mut writes = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Write(w) => writes.push(w),
                Message::Flush(done) => flushes.push(done),
            }
            next = if writes.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        if !writes.is_empty() {
            commit(&store, &metrics, &writes).await;
            writes.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn commit(store: &Store, metrics: &Metrics, writes: &[BatchWrite]) {
    for attempt in 1..=ATTEMPTS {
        match store.write_batch(writes).await {
            Ok(()) => {
                Metrics::bump(&metrics.batch_writes);
                return;
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = ?e, attempt, size = writes.len(), "batch write failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempt))).await;
            }
            Err(e) => {
                Metrics::bump(&metrics.batch_failures);
                tracing::error!(error = ?e, size = writes.len(), "batch write failed; giving up on this batch");
            }
        }
    }
}
