//! The durable outbox (SQLite): orders, refunds and tools' leads are committed here before a cart
//! or tool gets its 2xx, and leave only when the server has accepted them. All of the connector's
//! SQL is here.

use crate::carts::{CartRefund, OrderRef};
use anyhow::Context;
use reftrack_protocol::{CanonicalOrder, Refund, ServerLead};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// What an entry is delivered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Order,
    Refund,
    /// An opt-in from a webinar, form or scheduling tool.
    Lead,
}

impl Kind {
    /// The server path it is posted to.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Order => "/v1/orders",
            Kind::Refund => "/v1/refunds",
            Kind::Lead => "/v1/leads",
        }
    }
}

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub id: i64,
    pub msg_id: String,
    pub kind: Kind,
    #[serde(skip)]
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

fn entry_of(row: &SqliteRow) -> Entry {
    Entry {
        id: row.get("id"),
        msg_id: row.get("msg_id"),
        kind: match row.get::<String, _>("kind").as_str() {
            "refund" => Kind::Refund,
            "lead" => Kind::Lead,
            _ => Kind::Order,
        },
        body: row.get("body"),
        state: row.get("state"),
        attempts: row.get("attempts"),
        next_attempt_at_ms: row.get("next_attempt_at_ms"),
        last_error: row.get("last_error"),
        created_at_ms: row.get("created_at_ms"),
    }
}

/// Why an intake could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// A refund names a payment whose order has not arrived yet (the cart should retry later).
    #[error("refund {0} names a payment whose order has not been received yet")]
    UnknownPayment(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The outbox file.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
}

impl Outbox {
    /// Opens (creating) the outbox file at `path` and applies migrations.
    pub async fn open(path: &str) -> anyhow::Result<Self> {
        let url = if path.starts_with("sqlite:") { path.to_owned() } else { format!("sqlite://{path}") };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged order must survive a crash or power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool =
            SqlitePoolOptions::new().max_connections(4).connect_with(options).await.with_context(|| format!("opening outbox {path}"))?;
        sqlx::migrate!("./migrations").run(&pool).await.context("applying outbox migrations")?;
        Ok(Self { pool })
    }

    /// Stores an order (with the cart ids that may name it later) and refunds, atomically.
    /// Entries already present (a cart's retry) are left as they are. Returns how many are new.
    pub async fn accept(
        &self,
        order: Option<&CanonicalOrder>,
        cart_refs: &[String],
        refunds: &[CartRefund],
        now_ms: i64,
    ) -> Result<u64, AcceptError> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        if let Some(order) = order {
            let body = serde_json::to_string(order).expect("orders serialise");
            added += insert(&mut tx, &format!("order:{}", order.order_id), "order", &body, now_ms).await?;
            for cart_ref in cart_refs {
                sqlx::query("INSERT OR IGNORE INTO cart_refs (cart_ref, order_id) VALUES (?1, ?2)")
                    .bind(cart_ref)
                    .bind(order.order_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for refund in refunds {
            let order_id = match &refund.order {
                OrderRef::Order(id) => id.clone(),
                OrderRef::CartRef(cart_ref) => {
                    let found: Option<String> = sqlx::query_scalar("SELECT order_id FROM cart_refs WHERE cart_ref = ?1")
                        .bind(cart_ref)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let found = found.ok_or_else(|| AcceptError::UnknownPayment(refund.refund_id.to_string()))?;
                    reftrack_protocol::OrderId::parse(&found).map_err(|e| AcceptError::Db(sqlx::Error::Protocol(e.to_string())))?
                }
            };
            let body = Refund::single(order_id, refund.refund_id.clone(), refund.amount_minor, refund.occurred_at);
            let body = serde_json::to_string(&body).expect("refunds serialise");
            added += insert(&mut tx, &format!("refund:{}", refund.refund_id), "refund", &body, now_ms).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Stores leads (a tool's delivery may carry several), atomically, each under `lead:{lead_id}` so
    /// a tool's redelivery is the same entry (a lead without a key is keyed by its email). Returns
    /// how many are new.
    pub async fn accept_leads(&self, leads: &[ServerLead], now_ms: i64) -> sqlx::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for lead in leads {
            let msg_id = match &lead.lead_id {
                Some(key) => format!("lead:{key}"),
                None => format!("lead:email:{}", lead.email),
            };
            let body = serde_json::to_string(lead).expect("leads serialise");
            added += insert(&mut tx, &msg_id, "lead", &body, now_ms).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Pending entries due at `now_ms`, oldest first, skipping `busy` ones.
    pub async fn due(&self, now_ms: i64, limit: i64, busy: &[i64]) -> sqlx::Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at_ms <= ?1 ORDER BY next_attempt_at_ms, id LIMIT ?2",
        )
        .bind(now_ms)
        .bind(limit + busy.len() as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(entry_of).filter(|e| !busy.contains(&e.id)).take(limit as usize).collect())
    }

    /// When the next pending entry falls due.
    pub async fn next_due_ms(&self) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(next_attempt_at_ms) FROM outbox WHERE state = 'pending'").fetch_one(&self.pool).await
    }

    /// The server accepted it.
    pub async fn mark_done(&self, id: i64, now_ms: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbox SET state = 'done', done_at_ms = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Try again at `next_ms`.
    pub async fn mark_retry(&self, id: i64, next_ms: i64, error: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at_ms = ?2, last_error = ?3 WHERE id = ?1")
            .bind(id)
            .bind(next_ms)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The server refused it for good: kept aside with the reason.
    pub async fn mark_dead(&self, id: i64, error: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Entries in `state` (all when `None`), newest first.
    pub async fn list(&self, state: Option<&str>) -> sqlx::Result<Vec<Entry>> {
        let rows =
            sqlx::query("SELECT * FROM outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC").bind(state).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(entry_of).collect())
    }

    /// Puts dead (or given) entries back in the queue, due now. Returns how many.
    pub async fn retry(&self, id: Option<i64>, now_ms: i64) -> sqlx::Result<u64> {
        let done = sqlx::query("UPDATE outbox SET state = 'pending', next_attempt_at_ms = ?2 WHERE state != 'done' AND (?1 IS NULL AND state = 'dead' OR id = ?1)")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Counts by state: (pending, dead).
    pub async fn depth(&self) -> sqlx::Result<(i64, i64)> {
        let row = sqlx::query("SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.get(0), row.get(1)))
    }
}

async fn insert(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, msg_id: &str, kind: &str, body: &str, now_ms: i64) -> sqlx::Result<u64> {
    let done =
        sqlx::query("INSERT OR IGNORE INTO outbox (msg_id, kind, body, next_attempt_at_ms, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)")
            .bind(msg_id)
            .bind(kind)
            .bind(body)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected())
}
