//! Storage behind one narrow interface; SQL lives only in the backend modules.
//!
//! The backend is chosen from the database URL at start-up. Handlers and domain code see only
//! [`Store`] and the plain records below.

mod postgres;
mod sqlite;

use async_trait::async_trait;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
use std::sync::Arc;

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

/// A commission program.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Program {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub rate_bps: i64,
    pub flat_minor: Option<i64>,
    pub window_days: i64,
    #[serde(default)]
    pub pixel_commission: bool,
}

/// A per-product rate or flat amount within a program.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductOverride {
    pub sku: String,
    pub rate_bps: Option<i64>,
    pub flat_minor: Option<i64>,
}

/// A partner (affiliate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partner {
    pub code: String,
    pub name: String,
    pub email: String,
    pub parent: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
}

/// A tracking link; its destination comes only from here, never from a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub destination: String,
    pub partner: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
}

/// One counted click on a tracking link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub id: String,
    pub link: String,
    pub partner: String,
    pub sub_id: Option<String>,
    pub program: Option<String>,
    pub at_ms: i64,
    pub expires_at_ms: i64,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
}

/// An opt-in to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    pub click_id: Option<String>,
    /// Used when there is no click (a server-side lead naming its partner).
    pub partner: Option<String>,
    pub sub_id: Option<String>,
    pub email: Option<String>,
    pub page: String,
    pub source: &'static str,
    pub at_ms: i64,
    /// Window of a lead without a click, for the contact's lead-partner record.
    pub window_ms: i64,
}

/// A conversion from the pixel or the snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversion {
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub click_id: Option<String>,
    pub at_ms: i64,
    /// Commission booked on the conversion itself, for programs that pay on the pixel alone.
    pub pixel_credit: Option<LedgerEntry>,
}

/// Ledger entries booked on an unverified conversion carry this prefix before the order id; the
/// signed order, when it arrives, replaces them with its own.
pub const PIXEL_LEDGER_PREFIX: &str = "pixel:";

/// A write the batch writer groups with others into one transaction.
#[derive(Debug, Clone)]
pub enum BatchWrite {
    Click(Click),
    Lead(NewLead),
    Conversion(NewConversion),
}

/// A partner's touch as stored: a click, or the contact's lead partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTouch {
    pub partner: String,
    pub click_id: Option<String>,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub program: Option<String>,
    pub at_ms: i64,
    pub expires_at_ms: i64,
}

impl From<Click> for StoredTouch {
    fn from(c: Click) -> Self {
        Self {
            partner: c.partner,
            click_id: Some(c.id),
            link: Some(c.link),
            sub_id: c.sub_id,
            program: c.program,
            at_ms: c.at_ms,
            expires_at_ms: c.expires_at_ms,
        }
    }
}

/// An answer stored with an idempotent write, returned again on a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub body_hash: String,
    pub response_json: String,
}

/// The outcome of an idempotent write: the answer, and whether this call recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub answer: StoredAnswer,
    /// False when the id was already recorded (a replay or a reuse).
    pub fresh: bool,
}

/// One ledger movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub partner: String,
    pub kind: &'static str,
    pub amount_minor: i64,
    pub link: Option<String>,
    pub sub_id: Option<String>,
}

/// An order to store, with its decision already made.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order: reftrack_protocol::CanonicalOrder,
    pub body_hash: String,
    pub occurred_at_ms: i64,
    pub received_at_ms: i64,
    pub click_id: Option<String>,
    pub partner: Option<String>,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub status: &'static str,
    pub commission_minor: i64,
    pub response_json: String,
    pub ledger: Vec<LedgerEntry>,
    /// Set when this order makes the buyer a new contact of the credited partner.
    pub new_contact: Option<(String, StoredTouch)>,
}

/// What a refund needs to know about its order, read in the refund's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderForRefund {
    pub total_minor: i64,
    pub currency: String,
    pub refunded_minor: i64,
    /// Per partner (and link/SubID): earned and already clawed back.
    pub earnings: Vec<Earning>,
}

/// One partner's commission on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub partner: String,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub earned_minor: i64,
    pub clawed_minor: i64,
}

/// A refund to store, with what the domain computed from [`OrderForRefund`].
#[derive(Debug, Clone)]
pub struct RefundPlan {
    pub ledger: Vec<LedgerEntry>,
    pub response_json: String,
}

/// One row of figures, for a partner in total or per link / SubID.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
    pub unverified_conversions: i64,
    pub revenue_minor: i64,
    pub commission_minor: i64,
    pub clawback_minor: i64,
}

/// Figures grouped by link and SubID; the caller sums them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FigureRow {
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub figures: Figures,
}

/// What an API key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyGrant {
    Admin,
    Partner(String),
}

/// The storage interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn add_program(&self, program: &Program, now_ms: i64) -> Result<(), DbError>;
    async fn set_product_override(&self, program: &str, product: &ProductOverride) -> Result<(), DbError>;
    async fn program(&self, code: &str) -> Result<Option<Program>, DbError>;
    async fn product_overrides(&self, program: &str) -> Result<Vec<ProductOverride>, DbError>;
    async fn programs(&self) -> Result<Vec<Program>, DbError>;
    async fn add_partner(&self, partner: &Partner, now_ms: i64) -> Result<(), DbError>;
    async fn partner(&self, code: &str) -> Result<Option<Partner>, DbError>;
    async fn partners(&self) -> Result<Vec<Partner>, DbError>;
    async fn add_link(&self, link: &Link, now_ms: i64) -> Result<(), DbError>;
    async fn link(&self, code: &str) -> Result<Option<Link>, DbError>;
    async fn links(&self) -> Result<Vec<Link>, DbError>;

    /// Writes clicks, browser leads and conversions in one transaction (group commit).
    async fn write_batch(&self, writes: &[BatchWrite]) -> Result<(), DbError>;
    async fn click(&self, id: &str) -> Result<Option<Click>, DbError>;
    async fn contact_lead(&self, email: &str) -> Result<Option<StoredTouch>, DbError>;
    /// A conversion seen by the pixel for this order (by its full or its source-less id).
    async fn conversion_for_order(&self, order_id: &str) -> Result<Option<NewConversion>, DbError>;

    /// Records a server-side lead once per message id; a replay gets the first answer.
    async fn record_signed_lead(&self, msg_id: &str, lead: &NewLead, answer: &StoredAnswer) -> Result<Recorded, DbError>;
    async fn order_answer(&self, order_id: &str) -> Result<Option<StoredAnswer>, DbError>;
    /// Stores an order, its lines and ledger entries atomically. `Conflict` if the id exists.
    async fn insert_order(&self, order: &NewOrder) -> Result<(), DbError>;
    /// Stores a refund atomically; `plan` computes the clawbacks from the order as read in the
    /// same transaction. Returns the stored answer (the first one, on a replay of the refund id).
    async fn record_refund(
        &self,
        refund: &reftrack_protocol::Refund,
        body_hash: &str,
        plan: &(dyn for<'f> Fn(&'f OrderForRefund) -> RefundPlan + Send + Sync),
    ) -> Result<Recorded, DbError>;

    async fn figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<FigureRow>, DbError>;

    async fn add_key(&self, grant: &KeyGrant, key_hash: &str, now_ms: i64) -> Result<i64, DbError>;
    async fn key_grant(&self, key_hash: &str) -> Result<Option<KeyGrant>, DbError>;
    async fn revoke_key(&self, id: i64, now_ms: i64) -> Result<(), DbError>;
}

/// Opens the store the URL names (`sqlite://path` or `postgres://…`), applying migrations.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::connect(url).await?));
    }
    anyhow::bail!("unsupported database URL {url:?}: expected sqlite://FILE or postgres://…")
}
