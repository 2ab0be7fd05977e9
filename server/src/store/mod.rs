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
mod corrections;
mod ledger;
mod notices;
mod orders;
mod orders_admin;
mod records;
mod refunds;
mod reports;
mod resources;
mod rows;
mod tracking;

pub use applications::{Application, NewApplication};
pub use catalog_edits::{LinkFigures, PayoutRecord, SourceCount, TokenRecord};
pub use corrections::Corrected;
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
use std::time::Duration;

/// What can go wrong in storage, as the layers above need to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return DbError::Conflict(db.message().to_owned());
            }
            if db.is_foreign_key_violation() {
                return DbError::NotFound("a referenced record");
            }
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
    dialect: Dialect,
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the database the URL names (`sqlite://path`, created if missing, or
    /// `postgres://…`) and applies migrations (serialised across servers on PostgreSQL).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let shown = redact(url);
        if url.starts_with("sqlite:") {
            let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // Orders must survive a power cut once acknowledged; clicks amortise this through batching.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .with_context(|| format!("opening {shown}"))?;
            SQLITE_MIGRATIONS.run(&pool).await.context("applying SQLite migrations")?;
            return Ok(Self { pool, dialect: Dialect::Sqlite });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .with_context(|| format!("connecting to {shown}"))?;
            renumber_legacy_postgres(&pool).await.context("renumbering PostgreSQL migrations")?;
            POSTGRES_MIGRATIONS.run(&pool).await.context("applying PostgreSQL migrations")?;
            return Ok(Self { pool, dialect: Dialect::Postgres });
        }
        anyhow::bail!("unsupported database URL {shown:?}: expected sqlite://FILE or postgres://…")
    }

    /// Which engine this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A write transaction.
    async fn write(&self) -> Result<Tx, DbError> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(self.dialect.begin_write()).await?;
        Ok(Tx { conn, open: true })
    }

    /// Whether the database answers a read.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A write transaction on a connection of its own. If it is dropped without a commit, or its
/// commit fails, the connection is closed rather than returned to the pool: whatever state a
/// failed commit left it in (an open transaction holding the write lock) cannot reach the next
/// request, and closing rolls back.
struct Tx {
    conn: PoolConnection<Any>,
    open: bool,
}

impl Tx {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
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

/// The URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.into()
        }
        _ => url.to_owned(),
    }
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
    use super::redact;

    #[test]
    fn passwords_never_appear_in_a_shown_url() {
        let shown = redact("postgres://reftrack:s3cret@db.internal:5432/reftrack");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal"));
        assert_eq!(redact("sqlite://reftrack.db"), "sqlite://reftrack.db");
    }
}
