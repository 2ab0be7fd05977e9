//! Storage: all SQL lives here, written once for both engines.
//!
//! The backend is chosen from the database URL at start-up (`sqlite://FILE` or `postgres://…`)
//! and reached through sqlx's `Any` driver, so each query is one text with `$n` placeholders
//! that both engines take. Where they really differ — how a write transaction takes its lock,
//! row locks — [`Dialect`] says so. Each engine keeps its own `migrations/` folder (column types
//! differ), numbered alike; a test checks that both produce the same tables and columns.
//!
//! Files by area: `catalog` (programs, partners, links, keys), `tracking` (the batch writer's
//! clicks, leads, conversions, fraud signals), `orders`, `refunds`, `ledger` (entries, payouts),
//! `reports` (figures), `notices`; and the merchant's back office: `catalog_edits` (editing the
//! catalog, settings, tokens, per-link and per-source figures, payout runs), `orders_admin`
//! (order search and hand-made credits), `corrections` (voids, early approvals, adjustments),
//! `applications`, `resources`.

mod applications;
mod catalog;
mod catalog_edits;
mod catalog_facts;
mod corrections;
mod events;
mod ledger;
mod notices;
mod orders;
mod orders_admin;
mod records;
mod refunds;
mod reports;
mod resources;
mod rollups;
mod rows;
mod tracking;

pub use applications::{Application, NewApplication};
pub use catalog_edits::{LinkFigures, PayoutRecord, SourceCount, TokenRecord};
pub use catalog_facts::CatalogReader;
pub use corrections::Corrected;
pub use events::{Attempt, Delivery, DueDelivery, Endpoint, EndpointAfter, NewEndpoint};
pub use notices::NoticeRecord;
pub use orders_admin::{CreditChange, NewCredit, OrderFilter, OrderRow, RefundRow, StoredOrder};
pub use records::*;
pub use refunds::{RefundDecision, RefundOutcome};
pub use resources::{NewResource, Resource};

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Executor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What can go wrong in storage, as the layers above need to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Storage cannot write now — the disk is full, the database is unreachable or busy beyond
    /// its timeout — whatever was asked: a retry later may succeed.
    #[error("storage is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl DbError {
    /// Whether the failure is storage-wide rather than about this request.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// SQLite's primary result codes that mean "storage cannot write now": BUSY, LOCKED, NOMEM,
/// READONLY, IOERR, FULL, CANTOPEN.
const SQLITE_UNAVAILABLE: [i64; 7] = [5, 6, 7, 8, 10, 13, 14];

/// Whether a database error is storage-wide: SQLite's codes above; PostgreSQL's classes 08
/// (connection), 53 (insufficient resources: disk full, out of memory), 57P (shutting down),
/// 58 (system error).
fn storage_wide(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    match code.parse::<i64>() {
        // SQLite reports extended codes; the primary code is the low byte.
        Ok(n) => SQLITE_UNAVAILABLE.contains(&(n & 0xff)),
        Err(_) => code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code.starts_with("58"),
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => return DbError::Conflict(db.message().to_owned()),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => return DbError::NotFound("a referenced record"),
            sqlx::Error::Database(db) if storage_wide(db.as_ref()) => {
                return DbError::Unavailable(anyhow::Error::new(e).context("database"));
            }
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                return DbError::Unavailable(anyhow::Error::new(e).context("database"));
            }
            _ => {}
        }
        DbError::Other(anyhow::Error::new(e).context("database"))
    }
}

/// The two engines, where their SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Starts a write transaction. SQLite takes the write lock at once (a deferred transaction
    /// that reads, then writes, fails when another writer committed in between).
    fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Locks the rows a read returns until the transaction ends (SQLite's write transaction
    /// already excludes every other writer).
    fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The batch writer's own connection. On SQLite it commits with `synchronous = NORMAL`: a
    /// committed batch survives a crash of the process (the WAL is written before the commit
    /// returns) but not a power cut until the next fsync — the next signed order's commit, or a
    /// checkpoint — which is what lets clicks be answered only once committed at the speed of
    /// the HTTP path. Orders, refunds and everything else commit with `FULL`.
    batch_pool: AnyPool,
    /// The order writer's own connection (`synchronous = FULL` on SQLite), so a group of signed
    /// orders never waits for a connection behind the requests reading their facts.
    order_pool: AnyPool,
    /// Set by a checkpoint that found the WAL too long; the next writer between two of its
    /// transactions starts the WAL over ([`Store::restart_wal_if_due`]).
    wal_restart_due: Arc<AtomicBool>,
    /// The catalog facts crediting read at the catalog's current version.
    catalog: catalog_facts::CatalogMemory,
    dialect: Dialect,
}

/// Reads made on one connection, taken from the pool once (an order reads four facts): each query
/// on the pool itself takes a connection and gives it back, and sqlx pings every connection given
/// back — one more round trip per query, to SQLite's connection thread or over the network to
/// PostgreSQL.
pub struct Reading<'s> {
    store: &'s Store,
    conn: PoolConnection<Any>,
}

impl Store {
    /// A connection for several reads in a row ([`Reading`]); give it back (drop it) before
    /// taking another one, or a request could wait for itself once every connection is taken.
    pub async fn reading(&self) -> Result<Reading<'_>, DbError> {
        Ok(Reading { store: self, conn: self.pool.acquire().await? })
    }
}

/// The writers that start the WAL over between their transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Batch,
    Orders,
}

/// WAL pages (4 KiB) past which the next writer between two transactions starts the WAL over
/// (16 MiB).
const RESTART_PAGES: i64 = 4_096;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the database the URL names (`sqlite://path`, created if missing, or
    /// `postgres://…`) and applies migrations (serialised across servers on PostgreSQL).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let shown = crate::configuration::redact(url);
        if url.starts_with("sqlite:") {
            let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
            // Readers hold a connection from the query until their task runs again, which under
            // load is most of the time: 8 connections held signed orders to 2,300/s, 16 let
            // them reach 3,250/s (`cargo xtask bench --only orders`); 24 and 40 gave no more.
            let pool = sqlite_pool(&url, 16, "FULL").await.with_context(|| format!("opening {shown}"))?;
            SQLITE_MIGRATIONS.run(&pool).await.context("applying SQLite migrations")?;
            let batch_pool = sqlite_pool(&url, 1, "NORMAL").await.with_context(|| format!("opening {shown}"))?;
            let order_pool = sqlite_pool(&url, 1, "FULL").await.with_context(|| format!("opening {shown}"))?;
            let store = Self {
                pool,
                batch_pool,
                order_pool,
                wal_restart_due: Arc::default(),
                catalog: Default::default(),
                dialect: Dialect::Sqlite,
            };
            store.build_rollups_once().await.context("building the report rollups")?;
            return Ok(store);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = postgres_pool(url, 16).await.with_context(|| format!("connecting to {shown}"))?;
            renumber_legacy_postgres(&pool).await.context("renumbering PostgreSQL migrations")?;
            POSTGRES_MIGRATIONS.run(&pool).await.context("applying PostgreSQL migrations")?;
            let order_pool = postgres_pool(url, 1).await.with_context(|| format!("connecting to {shown}"))?;
            let store = Self {
                batch_pool: pool.clone(),
                order_pool,
                pool,
                wal_restart_due: Arc::default(),
                catalog: Default::default(),
                dialect: Dialect::Postgres,
            };
            store.build_rollups_once().await.context("building the report rollups")?;
            return Ok(store);
        }
        anyhow::bail!("unsupported database URL {shown:?}: expected sqlite://FILE or postgres://…")
    }

    /// Which engine this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A write transaction.
    async fn write(&self) -> Result<Tx, DbError> {
        Tx::begin(&self.pool, self.dialect).await
    }

    /// A write transaction on the order writer's connection.
    async fn write_orders(&self) -> Result<Tx, DbError> {
        Tx::begin(&self.order_pool, self.dialect).await
    }

    /// A write transaction on the batch writer's connection.
    async fn write_batched(&self) -> Result<Tx, DbError> {
        Tx::begin(&self.batch_pool, self.dialect).await
    }

    /// Copies committed WAL frames into the database file without waiting for readers or
    /// writers (SQLite; nothing on PostgreSQL), so that no commit runs a checkpoint itself (one
    /// inside the batch writer's commit held clicks' answers for tens of milliseconds). Returns the
    /// pages the WAL holds. A passive checkpoint never reaches the last frame while writers keep
    /// adding to it, and only a checkpoint that does lets the WAL start from its beginning again:
    /// past [`RESTART_PAGES`] the next writer between two of its transactions does that
    /// ([`restart_wal_if_due`](Self::restart_wal_if_due)).
    pub async fn checkpoint(&self) -> Result<i64, DbError> {
        if self.dialect != Dialect::Sqlite {
            return Ok(0);
        }
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.pool).await?;
        let pages: i64 = sqlx::Row::try_get(&row, 1)?;
        if pages > RESTART_PAGES {
            self.wal_restart_due.store(true, Ordering::Relaxed);
        }
        Ok(pages)
    }

    /// When a checkpoint found the WAL too long: copies its last frames (the passive checkpoints
    /// copied the rest) and starts it over, on the calling writer's own connection, between two of
    /// its transactions: that writer is not in the way, and its next commit writes from the WAL's
    /// beginning. Whichever writer comes first does it, so a load of orders alone, or of clicks
    /// alone, keeps the WAL as small as both together.
    pub async fn restart_wal_if_due(&self, writer: Writer) -> Result<(), DbError> {
        if self.dialect != Dialect::Sqlite || !self.wal_restart_due.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let pool = match writer {
            Writer::Batch => &self.batch_pool,
            Writer::Orders => &self.order_pool,
        };
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(pool).await {
            self.wal_restart_due.store(true, Ordering::Relaxed);
            return Err(e.into());
        }
        Ok(())
    }

    /// Whether the database takes a write now: one tiny committed row (a full disk, a lost
    /// connection or a read-only file fail here as they would for an order).
    pub async fn probe_write(&self, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ('health_probe', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(now_ms.to_string())
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }
}

/// A write transaction on a connection of its own. If it is dropped without a commit, or its
/// commit fails, the connection is closed rather than returned to the pool: whatever state a
/// failed commit left it in (an open transaction holding the write lock) cannot reach the next
/// request, and closing rolls back.
struct Tx {
    conn: PoolConnection<Any>,
    open: bool,
    dialect: Dialect,
}

impl Tx {
    async fn begin(pool: &AnyPool, dialect: Dialect) -> Result<Self, DbError> {
        let mut conn = pool.acquire().await?;
        if let Err(e) = conn.execute(dialect.begin_write()).await {
            conn.close_on_drop();
            return Err(e.into());
        }
        Ok(Tx { conn, open: true, dialect })
    }

    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn commit(mut self) -> Result<(), DbError> {
        self.conn.execute("COMMIT").await?;
        self.open = false;
        Ok(())
    }

    async fn rollback(mut self) -> Result<(), DbError> {
        self.conn.execute("ROLLBACK").await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

/// A pool of SQLite connections committing with `synchronous` = `sync`. None checkpoints inside
/// its own commits: [`Store::checkpoint`] does, beside them (the server runs it every 100 ms; a
/// command-line run checkpoints when it closes the database).
async fn sqlite_pool(url: &str, connections: u32, sync: &'static str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(connections)
        // A ping before each use is one more round trip to the connection's thread for every
        // query, and a local file has no connection to lose.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA wal_autocheckpoint = 0; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"
                );
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// A pool of PostgreSQL connections.
async fn postgres_pool(url: &str, connections: u32) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new().max_connections(connections).acquire_timeout(Duration::from_secs(10)).connect(url).await
}

/// Until migrations were numbered alike, PostgreSQL's `0002` was SQLite's `0003` (programs, tiers,
/// payouts, fraud). A database migrated then has that migration recorded as version 2: record it
/// as version 3, its number now, so the no-op version 2 runs and nothing is applied twice.
async fn renumber_legacy_postgres(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let recorded: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
    if recorded {
        sqlx::query("UPDATE _sqlx_migrations SET version = 3 WHERE version = 2 AND description = 'programs tiers payouts fraud'")
            .execute(pool)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::configuration::redact;

    #[test]
    fn passwords_never_appear_in_a_shown_url() {
        let shown = redact("postgres://reftrack:s3cret@db.internal:5432/reftrack");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal"));
        assert_eq!(redact("sqlite://reftrack.db"), "sqlite://reftrack.db");
    }
}
