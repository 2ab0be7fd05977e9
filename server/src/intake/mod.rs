//! Intake: the use cases that take in what the world reports — tracking-link hits, browser events,
//! signed orders, refunds, leads and notices. Each reads every fact it needs once, hands them to
//! one pure decision in [`domain`](crate::domain), and writes once (directly, or through the
//! batch writer for the hot paths). Nothing here speaks HTTP: errors are [`IntakeError`], which
//! the routes map to status codes in one place.

pub mod events;
pub mod leads;
pub mod links;
pub mod notices;
pub mod orders;
pub mod refunds;

use crate::clock::Clock;
use crate::domain::attribution::Model;
use crate::domain::fraud::FloodGuard;
use crate::metrics::Metrics;
use crate::store::{Click, DbError, Reading, Store, StoredAnswer};
use crate::writer::{BatchWriter, OrderWriter};
use std::sync::Arc;

/// How long the flood guard's windows are.
const FLOOD_WINDOW_MS: i64 = 3_600_000;

/// The intake use cases and what they share. Cloning it is cheap.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    writer: BatchWriter,
    /// Signed orders, committed in groups.
    orders: OrderWriter,
    clock: Clock,
    metrics: Arc<Metrics>,
    attribution: Model,
    /// Tracking-link routes, cached for a few seconds.
    routes: Arc<links::Routes>,
    /// Click counts per IP and link, for the click-flood check.
    flood: Arc<FloodGuard>,
    /// The key of visitors' IP hashes (with the day, so a hash never identifies an address for long).
    ip_key: Arc<[u8; 32]>,
    /// The largest conversion a pixel-paying program pays on without a signed order.
    pixel_max_minor: i64,
}

/// The intake's own settings.
#[derive(Debug, Clone, Copy)]
pub struct IntakeSettings {
    pub attribution: Model,
    /// Clicks per IP per link per hour before the rest count as a flood (0: no limit).
    pub click_flood_limit: u32,
    /// The largest conversion a pixel-paying program pays on without a signed order.
    pub pixel_commission_max_minor: i64,
}

/// Why an intake refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("this {what} id was already recorded with a different body; ids must not be reused")]
    IdConflict { what: &'static str },
    #[error("no order {0} to refund")]
    UnknownOrder(String),
    #[error("no partner {0}")]
    UnknownPartner(String),
    #[error("a refund of order {0} is larger than the order's total")]
    RefundExceedsOrder(String),
    #[error(transparent)]
    Storage(#[from] DbError),
    #[error(transparent)]
    Write(#[from] crate::writer::WriteFailed),
}

impl IntakeError {
    /// The machine-readable code of a refusal.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::IdConflict { .. } => "id_conflict",
            IntakeError::UnknownOrder(_) => "unknown_order",
            IntakeError::UnknownPartner(_) => "unknown_partner",
            IntakeError::RefundExceedsOrder(_) => "refund_exceeds_order",
            IntakeError::Storage(_) | IntakeError::Write(_) => "internal",
        }
    }
}

impl Intake {
    /// The intake over `store`, writing hot-path records through `writer`.
    pub async fn new(
        store: Store,
        writer: BatchWriter,
        orders: OrderWriter,
        clock: Clock,
        metrics: Arc<Metrics>,
        settings: IntakeSettings,
    ) -> Result<Self, DbError> {
        let flood = FloodGuard::new(settings.click_flood_limit, FLOOD_WINDOW_MS);
        let secret = store.server_secret("ip_hash_key").await?;
        let mut ip_key = [0u8; 32];
        hex::decode_to_slice(&secret, &mut ip_key)
            .map_err(|e| DbError::Other(anyhow::anyhow!("the stored ip_hash_key is not 32 hex bytes: {e}")))?;
        Ok(Intake {
            store,
            writer,
            orders,
            clock,
            metrics,
            attribution: settings.attribution,
            routes: Default::default(),
            flood: Arc::new(flood),
            ip_key: Arc::new(ip_key),
            pixel_max_minor: settings.pixel_commission_max_minor,
        })
    }

    /// A visitor's IP as stored and counted: a keyed hash of the address and the day (UTC), so it
    /// tells visitors apart for the flood check and fraud signals without keeping an address that
    /// could be recovered (as an unsalted hash of the 4 billion IPv4 addresses could).
    pub fn visitor_hash(&self, ip: &str) -> String {
        use hmac::Mac;
        let day = self.clock.now_ms().div_euclid(86_400_000);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.ip_key.as_slice()).expect("HMAC takes any key");
        mac.update(&day.to_be_bytes());
        mac.update(ip.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Forgets cached link routes (after an admin change on this server).
    pub fn forget_routes(&self) {
        self.routes.clear();
    }

    /// Waits until everything queued for the batch writer is committed.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    /// A recorded click, whatever its age. A click made moments ago may still be in the writer's
    /// queue, so a miss waits for the queue once before answering "unknown".
    pub async fn recorded_click(&self, id: &str) -> Result<Option<Click>, DbError> {
        if let Some(click) = self.store.click(id).await? {
            return Ok(Some(click));
        }
        // No connection is held while waiting: lookups of unknown ids come from anyone.
        self.writer.flush().await;
        self.store.click(id).await
    }

    /// [`recorded_click`](Self::recorded_click) among a signed order's other reads, on their
    /// connection (held through the wait on a miss: signed orders are few and authenticated).
    pub async fn recorded_click_in(&self, reads: &mut Reading<'_>, id: &str) -> Result<Option<Click>, DbError> {
        if let Some(click) = reads.click(id).await? {
            return Ok(Some(click));
        }
        self.writer.flush().await;
        reads.click(id).await
    }

    /// The partner who first brought `email`, looking into the writer's queue once on a miss (an
    /// opt-in the browser reported a moment ago).
    pub async fn recorded_contact(&self, email: &reftrack_protocol::Email) -> Result<Option<crate::domain::plan::TouchFact>, DbError> {
        if let Some(contact) = self.store.contact_lead(email).await? {
            return Ok(Some(contact));
        }
        self.writer.flush().await;
        self.store.contact_lead(email).await
    }

    /// A recorded click that has not expired.
    pub async fn live_click(&self, id: &str) -> Result<Option<Click>, DbError> {
        let now = self.clock.now_ms();
        Ok(self.recorded_click(id).await?.filter(|c| c.expires_at_ms > now))
    }
}

/// The answer to an id we already have: the same body gets the same answer, another body is a conflict.
fn replay(existing: StoredAnswer, body_hash: &str, what: &'static str) -> Result<String, IntakeError> {
    if existing.body_hash == body_hash {
        Ok(existing.response_json)
    } else {
        Err(IntakeError::IdConflict { what })
    }
}
