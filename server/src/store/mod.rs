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
    /// What a lead partner earns when another partner makes the sale: a rate of the total…
    #[serde(default)]
    pub lead_rate_bps: Option<i64>,
    /// …or a flat amount per order.
    #[serde(default)]
    pub lead_flat_minor: Option<i64>,
    /// The parent's share of the order total (tier 2), in basis points.
    #[serde(default)]
    pub tier2_bps: i64,
    /// The grandparent's share (tier 3), in basis points.
    #[serde(default)]
    pub tier3_bps: i64,
    /// Which renewals earn: `every`, `none` or `first:N`.
    #[serde(default = "every")]
    pub recurring: String,
    /// The refund window: commissions stay pending this many days after the order.
    #[serde(default = "thirty")]
    pub hold_days: i64,
}

impl Default for Program {
    fn default() -> Self {
        Self {
            code: String::new(),
            name: String::new(),
            rate_bps: 0,
            flat_minor: None,
            window_days: i64::from(reftrack_protocol::names::DEFAULT_WINDOW_DAYS),
            pixel_commission: false,
            lead_rate_bps: None,
            lead_flat_minor: None,
            tier2_bps: 0,
            tier3_bps: 0,
            recurring: every(),
            hold_days: thirty(),
        }
    }
}

fn every() -> String {
    "every".into()
}

fn thirty() -> i64 {
    30
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
    pub pixel_credit: Option<Box<LedgerEntry>>,
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
    Fraud(FraudEvent),
}

/// A fraud signal, counted in reports (see [`crate::domain::fraud::Reason`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudEvent {
    pub reason: &'static str,
    pub partner: Option<String>,
    pub link: Option<String>,
    pub order_id: Option<String>,
    pub at_ms: i64,
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

/// One ledger movement to book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub partner: String,
    pub kind: crate::domain::ledger::Kind,
    /// Why the partner earns.
    pub role: crate::domain::split::Role,
    pub program: Option<String>,
    pub amount_minor: i64,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    /// When the entry becomes payable (the end of the refund window).
    pub available_at_ms: i64,
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerRecord {
    pub id: i64,
    pub partner: String,
    pub order_id: String,
    pub refund_id: Option<String>,
    pub kind: String,
    pub role: String,
    pub program: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub at_ms: i64,
    pub available_at_ms: i64,
    pub payout_id: Option<i64>,
}

impl LedgerRecord {
    /// The entry as balance rules see it.
    pub fn entry(&self) -> crate::domain::ledger::Entry {
        crate::domain::ledger::Entry {
            id: self.id,
            partner: self.partner.clone(),
            kind: crate::domain::ledger::Kind::parse(&self.kind).unwrap_or(crate::domain::ledger::Kind::Earned),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            available_at_ms: self.available_at_ms,
            payout_id: self.payout_id,
        }
    }
}

/// An earlier payment of a subscription, for crediting its renewals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionOrder {
    pub order_id: String,
    pub occurred_at_ms: i64,
    pub renewal: bool,
    pub partner: Option<String>,
    pub click_id: Option<String>,
    pub link: Option<String>,
    pub sub_id: Option<String>,
    pub program: Option<String>,
}

/// Figures for one UTC day, for the chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayFigures {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
    pub commission_minor: i64,
}

/// Quantity and revenue of one product in a partner's credited orders.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductSold {
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub quantity: i64,
    pub revenue_minor: i64,
}

/// A payout as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Payout {
    pub id: i64,
    pub partner: String,
    pub currency: String,
    pub amount_minor: i64,
    pub created_at_ms: i64,
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
    /// The program the sale partner earned under.
    pub program: Option<String>,
    /// Why an unattributed order earned nobody.
    pub reason: Option<String>,
    /// A fraud signal the order raised (self-referral).
    pub fraud: Option<FraudEvent>,
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

/// One partner's commission on an order, per role and link/SubID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub partner: String,
    pub role: crate::domain::split::Role,
    pub program: Option<String>,
    /// When the commission becomes payable; its clawbacks share it, so they net before a payout.
    pub available_at_ms: i64,
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
    /// Hits, opt-ins, orders and commission per UTC day.
    async fn daily_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<DayFigures>, DbError>;
    /// Products in the orders credited to the partner.
    async fn products_sold(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ProductSold>, DbError>;
    /// Fraud signals by reason, for one partner or (with `None`) everyone.
    async fn fraud_counts(&self, partner: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64)>, DbError>;
    async fn record_fraud(&self, event: &FraudEvent) -> Result<(), DbError>;

    /// Earlier payments of a subscription, oldest first.
    async fn subscription_orders(&self, subscription_id: &str) -> Result<Vec<SubscriptionOrder>, DbError>;
    /// Ledger entries of one partner or (with `None`) everyone, oldest first.
    async fn ledger_entries(&self, partner: Option<&str>) -> Result<Vec<LedgerRecord>, DbError>;
    /// Books the payouts and marks their entries paid, atomically. `Conflict` if any entry was
    /// paid meanwhile (two payout runs at once), and then nothing is booked.
    async fn create_payouts(&self, plans: &[crate::domain::ledger::PayoutPlan], now_ms: i64) -> Result<Vec<Payout>, DbError>;

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
