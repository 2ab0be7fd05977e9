//! The durable outbox (SQLite): orders, refunds and notices are committed here before a cart gets
//! its 2xx, and leave only when the server has accepted them. All of the connector's SQL is here.
//!
//! Every write runs on a connection of its own ([`WriteTx`]), and a connection on which a write
//! failed is closed, never handed back to the pool. SQLite rolls a transaction back by itself when
//! a COMMIT (or a statement) fails with `SQLITE_FULL`, while sqlx's transaction bookkeeping still
//! believes it open; a connection returned in that state once turned every later "commit" into the
//! release of a nested savepoint inside a transaction that never ended — acknowledged, never
//! written, holding the write lock. Closing it ends whatever SQLite still holds, and the pool opens
//! a fresh one when space returns, so the outbox recovers without a restart.

use crate::carts::{Intake, OrderRef};
use anyhow::Context;
use reftrack_protocol::{CanonicalOrder, OrderId, ServerLead};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an entry is delivered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Order,
    Refund,
    Notice,
    /// An opt-in from a webinar, form or scheduling tool.
    Lead,
}

impl Kind {
    /// The server path it is posted to.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Order => "/v1/orders",
            Kind::Refund => "/v1/refunds",
            Kind::Notice => "/v1/notices",
            Kind::Lead => "/v1/leads",
        }
    }

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Order => "order",
            Kind::Refund => "refund",
            Kind::Notice => "notice",
            Kind::Lead => "lead",
        }
    }

    fn from_stored(raw: &str) -> Kind {
        match raw {
            "refund" => Kind::Refund,
            "notice" => Kind::Notice,
            "lead" => Kind::Lead,
            _ => Kind::Order,
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
        kind: Kind::from_stored(&row.get::<String, _>("kind")),
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

/// True when `e` says the outbox cannot be written for now — the disk is full, an I/O error, the
/// file is locked, read-only or cannot be opened, no connection could be had — so the same write
/// may succeed later (answered 503 with `Retry-After`), rather than a fault in what was written.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            // Extended result codes carry the primary one in their low byte.
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            // BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
            matches!(primary, Some(5 | 6 | 7 | 8 | 10 | 13 | 14 | 15))
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// Whether the outbox could be written last time it was, shared by every clone.
#[derive(Debug, Default)]
struct Health {
    failing: AtomicBool,
    write_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// What the outbox last knew about its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteHealth {
    /// The last write failed (nothing has been written since).
    pub failing: bool,
    /// Writes that failed since start-up.
    pub write_failures: u64,
    /// Why the last failed write failed.
    pub last_error: Option<String>,
}

/// Free space below which `/healthz` says the outbox cannot be relied on (room for the largest
/// delivery, [`crate::routes::MAX_BODY`]). SQLite may still fit a small write into space its
/// journal already holds, so a tiny probe alone would call a full disk writable.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1024 * 1024;

/// The outbox file.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
    health: Arc<Health>,
    /// The folder holding the file (none for an in-memory database).
    dir: Option<PathBuf>,
    min_free_bytes: u64,
}

/// Whether the outbox can take writes now, as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Why it cannot, if it cannot.
    pub unready: Option<String>,
    /// Free space on the outbox's filesystem, when known.
    pub free_bytes: Option<u64>,
    pub min_free_bytes: u64,
}

/// The file behind a `sqlite:` URL or a plain path.
fn file_of(path: &str) -> Option<PathBuf> {
    let file = path.strip_prefix("sqlite://").or_else(|| path.strip_prefix("sqlite:")).unwrap_or(path);
    let file = file.split('?').next().unwrap_or(file);
    (!file.is_empty() && !file.starts_with(':')).then(|| PathBuf::from(file))
}

#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// A write transaction on a pooled connection of its own, begun with `BEGIN IMMEDIATE` (the write
/// lock from the start: a refund's payment lookup followed by a write never meets "database is
/// locked"). Only [`WriteTx::commit`] and a successful [`WriteTx::rollback`] give the connection
/// back; dropped any other way — an error, a cancelled request — the connection is closed instead,
/// which ends whatever transaction SQLite may still hold on it. BEGIN and COMMIT are sent as plain
/// statements: sqlx's own transaction depth is what went out of step with SQLite on a full disk.
struct WriteTx {
    conn: PoolConnection<Sqlite>,
    finished: bool,
}

impl WriteTx {
    async fn begin(pool: &SqlitePool) -> sqlx::Result<Self> {
        let mut tx = WriteTx { conn: pool.acquire().await?, finished: false };
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *tx.conn).await?;
        Ok(tx)
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    /// Commits; an error means nothing of this transaction was written.
    async fn commit(mut self) -> sqlx::Result<()> {
        sqlx::query("COMMIT").execute(&mut *self.conn).await?;
        self.finished = true;
        Ok(())
    }

    /// Rolls back a transaction that is refused for what it holds (not for a storage fault).
    async fn rollback(mut self) {
        if sqlx::query("ROLLBACK").execute(&mut *self.conn).await.is_ok() {
            self.finished = true;
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
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
        let dir = file_of(path).map(|f| match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        });
        Ok(Self { pool, health: Arc::default(), dir, min_free_bytes: DEFAULT_MIN_FREE_BYTES })
    }

    /// Requires `bytes` free on the outbox's filesystem for [`Outbox::readiness`].
    pub fn requiring_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free_bytes = bytes;
        self
    }

    /// Free space on the outbox's filesystem, when known.
    pub fn free_bytes(&self) -> Option<u64> {
        free_space(self.dir.as_deref()?)
    }

    /// Whether the outbox can take writes now: a one-row write committed as intake commits, and
    /// room left on its filesystem.
    pub async fn readiness(&self, now_ms: i64) -> Readiness {
        let free_bytes = self.free_bytes();
        let unready = match self.probe_write(now_ms).await {
            Err(e) => Some(format!("a test write failed: {e}")),
            Ok(()) => match free_bytes {
                Some(free) if free < self.min_free_bytes => {
                    Some(format!("{free} bytes are free on its filesystem, fewer than the {} required", self.min_free_bytes))
                }
                _ => None,
            },
        };
        Readiness { unready, free_bytes, min_free_bytes: self.min_free_bytes }
    }

    /// Records the outcome of a write, for `/healthz` and `/metrics`.
    fn note<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.health.failing.store(false, Ordering::Relaxed),
            Err(e) => {
                self.health.failing.store(true, Ordering::Relaxed);
                self.health.write_failures.fetch_add(1, Ordering::Relaxed);
                *self.health.last_error.lock().expect("health lock") = Some(e.to_string());
            }
        }
        result
    }

    /// What the outbox knows of its last writes.
    pub fn write_health(&self) -> WriteHealth {
        WriteHealth {
            failing: self.health.failing.load(Ordering::Relaxed),
            write_failures: self.health.write_failures.load(Ordering::Relaxed),
            last_error: self.health.last_error.lock().expect("health lock").clone(),
        }
    }

    /// Commits a tiny write (one row of its own) the way intake commits.
    pub async fn probe_write(&self, now_ms: i64) -> sqlx::Result<()> {
        let written = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            sqlx::query("INSERT INTO probe (id, written_at_ms) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET written_at_ms = ?1")
                .bind(now_ms)
                .execute(tx.conn())
                .await?;
            tx.commit().await
        };
        self.note(written.await)
    }

    /// Stores what a delivery means — an order (with the cart ids that may name it later), refunds
    /// and notices of `source` — atomically. Entries already present (a cart's retry) are left as
    /// they are. Returns how many are new. `Ok` only once the transaction is committed.
    pub async fn accept(&self, intake: &Intake, source: &str, now_ms: i64) -> Result<u64, AcceptError> {
        let result = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            match accept_in(tx.conn(), intake, source, now_ms).await {
                Ok(added) => Ok(tx.commit().await.map(|()| added)?),
                Err(AcceptError::UnknownPayment(refund)) => {
                    tx.rollback().await;
                    Err(AcceptError::UnknownPayment(refund))
                }
                // Dropped: its connection is closed.
                Err(e) => Err(e),
            }
        }
        .await;
        match result {
            // Refused for what it says, not for where it is written.
            Err(AcceptError::UnknownPayment(refund)) => Err(AcceptError::UnknownPayment(refund)),
            other => self.note(other),
        }
    }

    /// Stores orders (a backfill), each in its own transaction. Returns how many are new.
    pub async fn accept_order(&self, order: &CanonicalOrder, now_ms: i64) -> sqlx::Result<u64> {
        let written = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            let added = insert_order(tx.conn(), order, now_ms).await?;
            tx.commit().await.map(|()| added)
        };
        self.note(written.await)
    }

    /// Stores leads (a tool's delivery may carry several), atomically, each under `lead:{lead_id}` so
    /// a tool's redelivery is the same entry (a lead without a key is keyed by its email). Returns
    /// how many are new.
    pub async fn accept_leads(&self, leads: &[ServerLead], now_ms: i64) -> sqlx::Result<u64> {
        let written = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            let mut added = 0;
            for lead in leads {
                let msg_id = match &lead.lead_id {
                    Some(key) => format!("lead:{key}"),
                    None => format!("lead:email:{}", lead.email),
                };
                let body = serde_json::to_string(lead).expect("leads serialise");
                added += insert(tx.conn(), &msg_id, Kind::Lead, &body, now_ms).await?;
            }
            tx.commit().await.map(|()| added)
        };
        self.note(written.await)
    }

    /// Runs one statement that changes an entry, on a connection closed if it fails.
    async fn update<'q>(&self, query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>) -> sqlx::Result<()> {
        let written = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            query.execute(tx.conn()).await?;
            tx.commit().await
        };
        self.note(written.await)
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
        self.update(
            sqlx::query("UPDATE outbox SET state = 'done', done_at_ms = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1")
                .bind(id)
                .bind(now_ms),
        )
        .await
    }

    /// Try again at `next_ms`.
    pub async fn mark_retry(&self, id: i64, next_ms: i64, error: &str) -> sqlx::Result<()> {
        self.update(
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at_ms = ?2, last_error = ?3 WHERE id = ?1")
                .bind(id)
                .bind(next_ms)
                .bind(stored_reason(error)),
        )
        .await
    }

    /// The server refused it for good: kept aside with the reason.
    pub async fn mark_dead(&self, id: i64, error: &str) -> sqlx::Result<()> {
        self.update(
            sqlx::query("UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1")
                .bind(id)
                .bind(stored_reason(error)),
        )
        .await
    }

    /// Entries in `state` and of `kind` (all when `None`), newest first.
    pub async fn list(&self, state: Option<&str>, kind: Option<Kind>) -> sqlx::Result<Vec<Entry>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC")
            .bind(state)
            .bind(kind.map(Kind::as_str))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(entry_of).collect())
    }

    /// Puts dead (or given) entries back in the queue, due now. Returns how many.
    pub async fn retry(&self, id: Option<i64>, now_ms: i64) -> sqlx::Result<u64> {
        let written = async {
            let mut tx = WriteTx::begin(&self.pool).await?;
            let done = sqlx::query("UPDATE outbox SET state = 'pending', next_attempt_at_ms = ?2 WHERE state != 'done' AND (?1 IS NULL AND state = 'dead' OR id = ?1)")
                .bind(id)
                .bind(now_ms)
                .execute(tx.conn())
                .await?;
            tx.commit().await.map(|()| done.rows_affected())
        };
        self.note(written.await)
    }

    /// Counts by state: (pending, dead).
    pub async fn depth(&self) -> sqlx::Result<(i64, i64)> {
        let row = sqlx::query("SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.get(0), row.get(1)))
    }
}

/// A delivery outcome's reason as kept in `last_error`: the server's words, bounded, on one line.
fn stored_reason(reason: &str) -> String {
    reason.chars().take(500).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The statements of [`Outbox::accept`], inside its transaction.
async fn accept_in(conn: &mut SqliteConnection, intake: &Intake, source: &str, now_ms: i64) -> Result<u64, AcceptError> {
    let mut added = 0;
    if let Some(order) = intake.order.as_deref() {
        added += insert_order(conn, order, now_ms).await?;
        for cart_ref in &intake.cart_refs {
            sqlx::query("INSERT OR IGNORE INTO cart_refs (cart_ref, order_id) VALUES (?1, ?2)")
                .bind(cart_ref)
                .bind(order.order_id.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    for refund in &intake.refunds {
        let order_id = match &refund.order {
            OrderRef::Order(id) => id.clone(),
            OrderRef::CartRef(cart_ref) => {
                resolve(conn, cart_ref).await?.ok_or_else(|| AcceptError::UnknownPayment(refund.refund_id.to_string()))?
            }
        };
        let body = serde_json::to_string(&refund.to_refund(order_id)).expect("refunds serialise");
        added += insert(conn, &format!("refund:{}", refund.refund_id), Kind::Refund, &body, now_ms).await?;
    }
    for notice in &intake.notices {
        // A notice is shown whether or not its order is known here.
        let order_id = match &notice.order {
            Some(OrderRef::Order(id)) => Some(id.clone()),
            Some(OrderRef::CartRef(cart_ref)) => resolve(conn, cart_ref).await?,
            None => None,
        };
        let notice = notice.to_notice(source, order_id);
        let body = serde_json::to_string(&notice).expect("notices serialise");
        added += insert(conn, &format!("notice:{}", notice.notice_id), Kind::Notice, &body, now_ms).await?;
    }
    Ok(added)
}

/// The order a cart's own payment id names, if that order has been received.
async fn resolve(conn: &mut SqliteConnection, cart_ref: &str) -> Result<Option<OrderId>, AcceptError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT order_id FROM cart_refs WHERE cart_ref = ?1").bind(cart_ref).fetch_optional(&mut *conn).await?;
    found.map(|id| OrderId::parse(&id).map_err(|e| AcceptError::Db(sqlx::Error::Protocol(e.to_string())))).transpose()
}

async fn insert_order(conn: &mut SqliteConnection, order: &CanonicalOrder, now_ms: i64) -> sqlx::Result<u64> {
    let body = serde_json::to_string(order).expect("orders serialise");
    insert(conn, &format!("order:{}", order.order_id), Kind::Order, &body, now_ms).await
}

async fn insert(conn: &mut SqliteConnection, msg_id: &str, kind: Kind, body: &str, now_ms: i64) -> sqlx::Result<u64> {
    let done =
        sqlx::query("INSERT OR IGNORE INTO outbox (msg_id, kind, body, next_attempt_at_ms, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)")
            .bind(msg_id)
            .bind(kind.as_str())
            .bind(body)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::{self, CartNotice, CartRefund};
    use reftrack_protocol::{Attribution, Currency, Customer, Notice, Refund};

    fn at() -> time::OffsetDateTime {
        carts::from_unix(1_800_000_000).unwrap()
    }

    fn order(id: &str) -> CanonicalOrder {
        CanonicalOrder {
            order_id: OrderId::parse(id).unwrap(),
            occurred_at: at(),
            currency: Currency::parse("USD").unwrap(),
            items: vec![],
            total_minor: 9900,
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            customer: Customer::default(),
            attribution: Attribution::default(),
            source: "stripe".into(),
            renewal: false,
            subscription_id: None,
        }
    }

    async fn outbox(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(dir.path().join("outbox.db").to_str().unwrap()).await.unwrap()
    }

    fn refund_of(payment: &str) -> CartRefund {
        CartRefund::single(carts::refund_id("stripe", "re_1").unwrap(), OrderRef::CartRef(payment.into()), 3300, at())
    }

    #[tokio::test]
    async fn an_order_its_refund_and_a_notice_are_committed_together_and_a_retry_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(&dir).await;
        let notice =
            CartNotice::new("du_1:dispute_opened", "dispute_opened", "disputed", at()).about(OrderRef::CartRef("stripe:pi_1".into()));
        let intake =
            Intake::order(order("stripe:cs_1"), vec!["stripe:pi_1".into()]).with_refunds([refund_of("stripe:pi_1")]).with_notice(notice);
        assert_eq!(outbox.accept(&intake, "stripe", 0).await.unwrap(), 3);
        assert_eq!(outbox.accept(&intake, "stripe", 1).await.unwrap(), 0, "a cart's retry");
        let notices = outbox.list(None, Some(Kind::Notice)).await.unwrap();
        let stored: Notice = serde_json::from_str(&notices[0].body).unwrap();
        assert_eq!((stored.notice_id.as_str(), stored.source.as_str()), ("stripe:du_1:dispute_opened", "stripe"));
        assert_eq!(stored.order_id.unwrap().as_str(), "stripe:cs_1", "the payment was resolved to its order");
        assert_eq!(notices[0].msg_id, "notice:stripe:du_1:dispute_opened");
        let refunds = outbox.list(None, Some(Kind::Refund)).await.unwrap();
        let refund: Refund = serde_json::from_str(&refunds[0].body).unwrap();
        assert_eq!((refund.order_id.as_str(), refund.amount_minor), ("stripe:cs_1", Some(3300)));
        assert_eq!(outbox.list(Some("pending"), None).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_refund_of_an_unseen_payment_stores_nothing_and_a_notice_of_one_is_kept_without_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(&dir).await;
        let notice =
            CartNotice::new("du_2:dispute_opened", "dispute_opened", "disputed", at()).about(OrderRef::CartRef("stripe:pi_9".into()));
        let both = Intake::refund(refund_of("stripe:pi_9")).with_notice(notice.clone());
        assert!(matches!(outbox.accept(&both, "stripe", 0).await, Err(AcceptError::UnknownPayment(r)) if r == "stripe:re_1"));
        assert!(outbox.list(None, None).await.unwrap().is_empty(), "all or nothing");
        assert_eq!(outbox.accept(&Intake::notice(notice), "stripe", 0).await.unwrap(), 1);
        let stored: Notice = serde_json::from_str(&outbox.list(None, None).await.unwrap()[0].body).unwrap();
        assert!(stored.order_id.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn refunds_that_look_their_payment_up_are_stored_while_the_forwarder_writes() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(&dir).await;
        outbox.accept(&Intake::order(order("stripe:cs_1"), vec!["stripe:pi_1".into()]), "stripe", 0).await.unwrap();
        let forwarder = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                for n in 0..400 {
                    outbox.mark_retry(1, n, "busy").await.unwrap();
                }
            })
        };
        let mut stores = Vec::new();
        for n in 0..40 {
            let outbox = outbox.clone();
            stores.push(tokio::spawn(async move {
                let refund = CartRefund::single(
                    carts::refund_id("stripe", &format!("re_{n}")).unwrap(),
                    OrderRef::CartRef("stripe:pi_1".into()),
                    10,
                    at(),
                );
                outbox.accept(&Intake::refund(refund), "stripe", 0).await
            }));
        }
        for store in stores {
            assert_eq!(store.await.unwrap().unwrap(), 1);
        }
        forwarder.await.unwrap();
    }

    #[tokio::test]
    async fn entries_written_before_notices_existed_survive_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let first = dir.path().join("first-migration");
        std::fs::create_dir(&first).unwrap();
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_outbox.sql"), first.join("0001_outbox.sql")).unwrap();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display())).unwrap().create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(first.as_path()).await.unwrap().run(&pool).await.unwrap();
        sqlx::query("INSERT INTO outbox (msg_id, kind, body, state, next_attempt_at_ms, created_at_ms) VALUES ('order:o1', 'order', '{}', 'dead', 5, 5)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let outbox = Outbox::open(path.to_str().unwrap()).await.unwrap();
        let kept = outbox.list(None, None).await.unwrap();
        assert_eq!((kept[0].msg_id.as_str(), kept[0].state.as_str()), ("order:o1", "dead"));
        let notice = CartNotice::new("x", "renewal_failed", "failed", at());
        assert_eq!(outbox.accept(&Intake::notice(notice), "paddle", 0).await.unwrap(), 1);
    }
}
