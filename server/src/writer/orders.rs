//! Signed orders by group commit. Each order is decided by the intake, then handed over here and
//! waits until it is committed; orders that arrive while a commit is under way are committed
//! together in the next transaction, each in a savepoint of its own (`Store::insert_orders`), so
//! a refused order costs only itself and a busy server pays one fsync per group, not per order.
//! A lone order is committed at once: nothing waits for company.

use crate::domain::plan::OrderPlan;
use crate::metrics::Metrics;
use crate::store::{DbError, NewOrder, Store, Writer};
use reftrack_protocol::CanonicalOrder;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const CHANNEL_CAPACITY: usize = 4_096;
/// Orders per transaction at most: enough to amortise the commit, few enough that one group's
/// commit latency stays small.
const MAX_GROUP: usize = 64;

/// An order with its decision, owned so it can wait in the queue.
#[derive(Debug)]
pub struct OrderToStore {
    pub order: CanonicalOrder,
    pub plan: OrderPlan,
    pub body_hash: String,
    pub received_at_ms: i64,
    /// The answer returned now and to every replay.
    pub response_json: String,
}

impl OrderToStore {
    fn as_new(&self) -> NewOrder<'_> {
        NewOrder {
            order: &self.order,
            plan: &self.plan,
            body_hash: &self.body_hash,
            received_at_ms: self.received_at_ms,
            response_json: &self.response_json,
        }
    }
}

type Ack = oneshot::Sender<Result<(), DbError>>;

enum Message {
    Store(Box<OrderToStore>, Ack),
    /// Commit what came before, then stop (the server is shutting down).
    Close,
}

/// A handle to the order writer task; cloning it is cheap.
#[derive(Clone, Debug)]
pub struct OrderWriter {
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl OrderWriter {
    /// Starts the order writer task.
    pub fn spawn(store: Store, metrics: Arc<Metrics>) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = super::spawn_on_own_thread(run(rx, store, metrics));
        (Self { tx }, task)
    }

    /// Stores an order and waits until it is committed: `Ok` only once it is durable;
    /// `Conflict` if its id was stored first (by another request, or earlier in the same group).
    pub async fn store(&self, order: OrderToStore) -> Result<(), DbError> {
        let (ack, committed) = oneshot::channel();
        if self.tx.send(Message::Store(Box::new(order), ack)).await.is_err() {
            return Err(stopped());
        }
        committed.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Commits everything queued before this call, then stops the writer.
    pub async fn close(&self, task: JoinHandle<()>) {
        if self.tx.send(Message::Close).await.is_ok() {
            let _ = task.await;
        }
    }
}

fn stopped() -> DbError {
    DbError::Unavailable(anyhow::anyhow!("the order writer has stopped (the server is shutting down)"))
}

async fn run(mut rx: mpsc::Receiver<Message>, store: Store, metrics: Arc<Metrics>) {
    let mut group: Vec<Box<OrderToStore>> = Vec::with_capacity(MAX_GROUP);
    let mut acks: Vec<Ack> = Vec::with_capacity(MAX_GROUP);
    let mut closing = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Store(order, ack) => {
                    group.push(order);
                    acks.push(ack);
                }
                Message::Close => closing = true,
            }
            next = if group.len() < MAX_GROUP && !closing { rx.try_recv().ok() } else { None };
        }
        if !group.is_empty() {
            let orders: Vec<NewOrder<'_>> = group.iter().map(|o| o.as_new()).collect();
            match store.insert_orders(&orders).await {
                Ok(outcomes) => {
                    Metrics::bump(&metrics.order_groups);
                    for (ack, outcome) in acks.drain(..).zip(outcomes) {
                        let _ = ack.send(outcome);
                    }
                }
                Err(e) if e.is_unavailable() => {
                    metrics.storage_failed();
                    tracing::error!(error = ?e, size = group.len(), "storage is unavailable; a group of orders is refused and its callers told");
                    for ack in acks.drain(..) {
                        let _ = ack.send(Err(DbError::Unavailable(anyhow::anyhow!("{e:#}"))));
                    }
                }
                // Something about the group itself failed: each order is tried alone, so none
                // pays for another.
                Err(e) => {
                    tracing::warn!(error = ?e, size = group.len(), "a group of orders failed; committing them one by one");
                    for (ack, order) in acks.drain(..).zip(&orders) {
                        let _ = ack.send(store.insert_order(*order).await);
                    }
                }
            }
            drop(orders);
            group.clear();
        }
        if let Err(e) = store.restart_wal_if_due(Writer::Orders).await {
            tracing::warn!(error = ?e, "the WAL could not be started over; the next group tries again");
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OrderToStore, OrderWriter};
    use crate::domain::attribution::Model;
    use crate::domain::plan::{plan_order, OrderFacts};
    use crate::store::Store;
    use reftrack_protocol::CanonicalOrder;

    fn order(n: u64) -> OrderToStore {
        let order: CanonicalOrder = serde_json::from_value(serde_json::json!({
            "order_id": format!("api:{n}"), "occurred_at": "2026-11-30T12:00:00Z", "currency": "USD", "total_minor": 9900,
            "items": [{"sku": "course", "name": "The Course", "quantity": 1, "unit_price_minor": 9900}],
            "customer": {"email": format!("buyer{n}@buyers.example")}, "source": "api"
        }))
        .unwrap();
        let plan = plan_order(&order, &OrderFacts::default(), Model::default());
        OrderToStore { order, plan, body_hash: "hash".repeat(16), received_at_ms: 1_780_000_000_000, response_json: "{}".repeat(200) }
    }

    /// Commits never checkpoint themselves: with signed orders alone (no click batches), the order
    /// writer starts the WAL over between its groups once a checkpoint finds it too long.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_small_under_a_steady_stream_of_orders_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        // The checkpoints run beside the batch writer, which gets nothing to write here.
        let (batch, batch_task) = crate::writer::BatchWriter::spawn(store.clone(), std::sync::Arc::default());
        let (writer, task) = OrderWriter::spawn(store, std::sync::Arc::default());
        let wal = dir.path().join("t.db-wal");
        let stream = writer.clone();
        let (orders, largest) = super::super::steady_stream(&wal, 4, move |n| {
            let writer = stream.clone();
            async move { writer.store(order(n)).await.unwrap() }
        })
        .await;
        writer.close(task).await;
        batch.close(batch_task).await;
        assert!(orders > 2_000, "too few orders to tell ({orders})");
        assert!(largest < 48 << 20, "the WAL grew to {largest} bytes over {orders} orders");
    }
}
