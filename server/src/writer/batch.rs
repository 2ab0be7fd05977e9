//! The single batch writer: clicks, browser leads, conversions and fraud signals are handed over
//! ready to store through a bounded channel and written many per transaction (group commit).
//! Each caller waits until its own write is committed — so a 302 or a 202 is only answered for what
//! is on disk — but shares the commit with every request that arrived meanwhile.
//!
//! It only writes: whatever must be decided before a write is decided by the intake that hands it
//! over. A batch that fails for one bad row is split until that row alone fails, so one row never
//! costs its neighbours; when storage itself fails (disk full, database gone) the whole batch is
//! refused at once, each caller is told, and the next batch tries again.

use crate::metrics::Metrics;
use crate::store::{BatchWrite, DbError, Dialect, Store, Writer};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const CHANNEL_CAPACITY: usize = 16_384;
const MAX_BATCH: usize = 1_024;

/// Why a write was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteFailed {
    /// Storage cannot write now (disk full, database unreachable); a retry later may succeed.
    #[error("storage is unavailable")]
    Unavailable,
    /// This write itself was refused by the database.
    #[error("the database refused the write")]
    Refused,
    /// The writer has stopped (the server is shutting down).
    #[error("the writer has stopped")]
    Stopped,
}

type Ack = oneshot::Sender<Result<(), WriteFailed>>;

enum Message {
    Write(BatchWrite, Ack),
    Flush(oneshot::Sender<()>),
    /// Commit what came before, then stop (the server is shutting down).
    Close,
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
        // Only SQLite has a WAL of ours to look after; PostgreSQL checkpoints by itself.
        let checkpoints = (store.dialect() == Dialect::Sqlite).then(|| tokio::spawn(checkpoints(store.clone())));
        let task = super::spawn_on_own_thread(async move {
            run(rx, store, metrics).await;
            if let Some(checkpoints) = checkpoints {
                checkpoints.abort();
            }
        });
        (Self { tx }, task)
    }

    /// Queues a write and waits until it is committed. Waits longer only when the queue is full
    /// (back-pressure, never loss).
    pub async fn write(&self, write: BatchWrite) -> Result<(), WriteFailed> {
        let (ack, committed) = oneshot::channel();
        if self.tx.send(Message::Write(write, ack)).await.is_err() {
            return Err(WriteFailed::Stopped);
        }
        committed.await.unwrap_or(Err(WriteFailed::Stopped))
    }

    /// Commits everything queued before this call, then stops the writer; later writes fail with
    /// [`WriteFailed::Stopped`]. Resolves once the writer has stopped.
    pub async fn close(&self, task: JoinHandle<()>) {
        if self.tx.send(Message::Close).await.is_ok() {
            let _ = task.await;
        }
    }

    /// Resolves once everything queued before this call is committed (or has failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Message>, store: Store, metrics: Arc<Metrics>) {
    let mut writes = Vec::with_capacity(MAX_BATCH);
    let mut acks = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    let mut closing = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Write(w, ack) => {
                    writes.push(w);
                    acks.push(ack);
                }
                Message::Flush(done) => flushes.push(done),
                Message::Close => closing = true,
            }
            next = if writes.len() < MAX_BATCH && !closing { rx.try_recv().ok() } else { None };
        }
        if !writes.is_empty() {
            let outcomes = commit(&store, &metrics, &writes).await;
            for (ack, outcome) in acks.drain(..).zip(outcomes) {
                let _ = ack.send(outcome);
            }
            writes.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        if let Err(e) = store.restart_wal_if_due(Writer::Batch).await {
            tracing::warn!(error = ?e, "the WAL could not be started over; the next batch tries again");
        }
        if closing {
            return;
        }
    }
}

/// How often the WAL is checkpointed beside the writer (no commit checkpoints itself).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Passive checkpoints every [`CHECKPOINT_EVERY`] (each marks the WAL for a restart once it is
/// too long: see [`Store::checkpoint`]).
async fn checkpoints(store: Store) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = ?e, "a WAL checkpoint failed; the next one tries again");
        }
    }
}

/// Commits `writes`, returning each one's outcome in order.
async fn commit(store: &Store, metrics: &Metrics, writes: &[BatchWrite]) -> Vec<Result<(), WriteFailed>> {
    let mut outcomes = vec![Ok(()); writes.len()];
    // Ranges still to commit; a failing range is split in halves until the bad rows stand alone.
    let mut pending = Vec::with_capacity(8);
    pending.push(0..writes.len());
    while let Some(range) = pending.pop() {
        match store.write_batch(&writes[range.clone()]).await {
            Ok(()) => Metrics::bump(&metrics.batch_writes),
            Err(e) if e.is_unavailable() => {
                Metrics::bump(&metrics.batch_failures);
                metrics.storage_failed();
                tracing::error!(error = ?e, size = range.len(), "storage is unavailable; the batch is refused and its callers told");
                for outcome in &mut outcomes[range] {
                    *outcome = Err(WriteFailed::Unavailable);
                }
            }
            Err(e) if range.len() == 1 => {
                Metrics::bump(&metrics.rows_refused);
                tracing::warn!(error = ?e, "one write was refused by the database; its neighbours are kept");
                outcomes[range.start] = Err(WriteFailed::Refused);
            }
            Err(DbError::Conflict(_) | DbError::NotFound(_) | DbError::Other(_) | DbError::Unavailable(_)) => {
                let middle = range.start + range.len() / 2;
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use crate::store::{BatchWrite, Click, Store};
    use reftrack_protocol::{LinkCode, PartnerCode};

    fn click(n: i64) -> BatchWrite {
        BatchWrite::Click(Click {
            id: crate::domain::click_id::mint(1_700_000_000_000 + n),
            link: LinkCode::parse("spring").unwrap(),
            partner: PartnerCode::parse("jane").unwrap(),
            sub_id: None,
            program: None,
            at_ms: 1_700_000_000_000 + n,
            expires_at_ms: 1_800_000_000_000,
            ip_hash: Some(format!("{n:016x}")),
        })
    }

    /// Commits never checkpoint themselves: under a steady stream of clicks only the checkpoints
    /// beside the writer, and its restarts of the WAL between batches, keep the WAL small.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_small_under_a_steady_stream_of_clicks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        let (writer, task) = super::BatchWriter::spawn(store, std::sync::Arc::default());
        let wal = dir.path().join("t.db-wal");
        let stream = writer.clone();
        let (clicks, largest) = super::super::steady_stream(&wal, 4, move |n| {
            let writer = stream.clone();
            async move { writer.write(click(n as i64)).await.unwrap() }
        })
        .await;
        writer.close(task).await;
        assert!(clicks > 5_000, "too few clicks to tell ({clicks})");
        // The writer starts the WAL over past 16 MiB, and it may grow by a few intervals of writes
        // before (passive checkpoints alone let it grow past 170 MB in this test).
        assert!(largest < 48 << 20, "the WAL grew to {largest} bytes over {clicks} clicks");
    }
}
