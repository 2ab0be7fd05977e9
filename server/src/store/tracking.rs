//! What the batch writer commits — clicks, browser leads, conversions, fraud signals — and the
//! reads of clicks, contacts and conversions that crediting needs.

use super::rollups::{self, Daily, Deltas};
use super::rows::{flag, parsed, parsed_opt, placeholders, rows_per_statement};
use super::{BatchWrite, Click, DbError, NewConversion, NewLead, Reading, Store, Tx, PIXEL_LEDGER_PREFIX};
use crate::domain::fraud::{Reason, Signal};
use crate::domain::pixel::Claim;
use crate::domain::plan::TouchFact;
use reftrack_protocol::{Email, PartnerCode};
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

impl FromRow<'_, AnyRow> for Click {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Click {
            id: parsed(r, "id")?,
            link: parsed(r, "link_code")?,
            partner: parsed(r, "partner_code")?,
            sub_id: parsed_opt(r, "sub_id")?,
            program: parsed_opt(r, "program_code")?,
            at_ms: r.try_get("at_ms")?,
            expires_at_ms: r.try_get("expires_at_ms")?,
            ip_hash: r.try_get("ip_hash")?,
        })
    }
}

/// A `contacts` row: the partner who first brought an email.
impl Reading<'_> {
    pub async fn click(&mut self, id: &str) -> Result<Option<Click>, DbError> {
        click(&mut *self.conn, id).await
    }

    /// The partner who first brought this email, if any.
    pub async fn contact_lead(&mut self, email: &Email) -> Result<Option<TouchFact>, DbError> {
        contact_lead(&mut *self.conn, email).await
    }

    /// What the conversion pixel claimed for this order (by its full or its source-less id).
    pub async fn conversion_claim(&mut self, order_id: &str) -> Result<Option<Claim>, DbError> {
        let row = sqlx::query(
            "SELECT click_id, amount_minor, currency, at_ms, conflicting FROM conversions WHERE order_id IN ($1, $2)
             ORDER BY order_id = $1 DESC LIMIT 1",
        )
        .bind(order_id)
        .bind(unprefixed(order_id))
        .fetch_optional(&mut *self.conn)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Claim {
            click_id: parsed_opt(&r, "click_id")?,
            amount_minor: r.try_get("amount_minor")?,
            currency: parsed(&r, "currency")?,
            at_ms: r.try_get("at_ms")?,
            conflicting: flag(&r, "conflicting")?,
        }))
    }
}

async fn click<'e>(on: impl sqlx::Executor<'e, Database = sqlx::Any>, id: &str) -> Result<Option<Click>, DbError> {
    Ok(sqlx::query_as("SELECT * FROM clicks WHERE id = $1").bind(id).fetch_optional(on).await?)
}

async fn contact_lead<'e>(on: impl sqlx::Executor<'e, Database = sqlx::Any>, email: &Email) -> Result<Option<TouchFact>, DbError> {
    let row = sqlx::query("SELECT * FROM contacts WHERE email = $1").bind(email.as_str()).fetch_optional(on).await?;
    Ok(row.as_ref().map(contact_of).transpose()?)
}

fn contact_of(r: &AnyRow) -> Result<TouchFact, sqlx::Error> {
    Ok(TouchFact {
        partner: parsed(r, "partner_code")?,
        click_id: parsed_opt(r, "click_id")?,
        link: parsed_opt(r, "link_code")?,
        sub_id: parsed_opt(r, "sub_id")?,
        program: parsed_opt(r, "program_code")?,
        at_ms: r.try_get("at_ms")?,
        expires_at_ms: r.try_get("expires_at_ms")?,
    })
}

/// The id without its `source:` prefix, so a pixel that saw `cs_1` matches the order `stripe:cs_1`.
pub(super) fn unprefixed(order_id: &str) -> &str {
    order_id.split_once(':').map_or(order_id, |(_, rest)| rest)
}

/// Most contacts one click may claim through browser opt-ins (a family sharing a computer, a
/// typo corrected), so a partner cannot make themselves everyone's lead partner with one click.
const MAX_CONTACTS_PER_BROWSER_CLICK: i64 = 3;

impl Store {
    /// Writes clicks, browser leads, conversions and fraud signals in one transaction (group commit).
    pub async fn write_batch(&self, writes: &[BatchWrite]) -> Result<(), DbError> {
        let mut tx = self.write_batched().await?;
        let mut deltas = Deltas::default();
        let clicks: Vec<&Click> = writes.iter().filter_map(|w| if let BatchWrite::Click(c) = w { Some(c) } else { None }).collect();
        for chunk in clicks.chunks(rows_per_statement(8)) {
            let sql = format!(
                "INSERT INTO clicks (id, link_code, partner_code, sub_id, program_code, at_ms, expires_at_ms, ip_hash)
                 VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
                placeholders(tx.dialect(), chunk.len(), 8)
            );
            let mut insert = sqlx::query(&sql);
            for c in chunk {
                insert = insert
                    .bind(c.id.as_str())
                    .bind(c.link.as_str())
                    .bind(c.partner.as_str())
                    .bind(c.sub_id.as_ref().map(|s| s.as_str()))
                    .bind(c.program.as_ref().map(|p| p.as_str()))
                    .bind(c.at_ms)
                    .bind(c.expires_at_ms)
                    .bind(c.ip_hash.as_deref());
            }
            // Only clicks inserted now are counted (a retried batch finds its clicks there already).
            let inserted: std::collections::HashSet<String> =
                insert.fetch_all(tx.conn()).await?.iter().map(|r| r.get::<String, _>(0)).collect();
            for c in chunk.iter().filter(|c| inserted.contains(c.id.as_str())) {
                let key = rollups::key(c.partner.as_str(), c.at_ms, Some(c.link.as_str()), c.sub_id.as_ref().map(|s| s.as_str()));
                deltas.daily(key, Daily { hits: 1, ..Daily::default() });
            }
        }
        for write in writes {
            match write {
                BatchWrite::Click(_) => {}
                BatchWrite::Lead(lead) => insert_lead(&mut tx, &mut deltas, lead).await?,
                BatchWrite::Conversion(c) => insert_conversion(&mut tx, &mut deltas, c).await?,
                BatchWrite::Fraud(signal) => insert_fraud(&mut tx, signal).await?,
            }
        }
        deltas.apply(&mut tx).await?;
        tx.commit().await
    }

    pub async fn click(&self, id: &str) -> Result<Option<Click>, DbError> {
        click(&self.pool, id).await
    }

    /// The partner who first brought this email, if any.
    pub async fn contact_lead(&self, email: &Email) -> Result<Option<TouchFact>, DbError> {
        contact_lead(&self.pool, email).await
    }

    /// A secret the servers share, made at random the first time it is asked for.
    pub async fn server_secret(&self, name: &str) -> Result<String, DbError> {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(hex::encode(bytes))
            .execute(tx.conn())
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(tx.conn()).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Records a fraud signal on its own.
    pub async fn record_fraud(&self, signal: &Signal) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        insert_fraud(&mut tx, signal).await?;
        tx.commit().await
    }
}

/// One opt-in per partner and contact; the contact's lead partner if nobody brought them first.
pub(super) async fn insert_lead(tx: &mut Tx, deltas: &mut Deltas, lead: &NewLead) -> Result<(), DbError> {
    let click: Option<Click> = match &lead.click_id {
        Some(id) => sqlx::query_as("SELECT * FROM clicks WHERE id = $1").bind(id.as_str()).fetch_optional(tx.conn()).await?,
        None => None,
    };
    let touch = match &click {
        Some(c) => Some(c.touch()),
        None => lead.partner.clone().map(|partner| TouchFact {
            partner,
            click_id: None,
            link: None,
            sub_id: lead.sub_id.clone(),
            program: None,
            at_ms: lead.at_ms,
            expires_at_ms: lead.at_ms.saturating_add(lead.window_ms),
        }),
    };
    let contact_key = match (&lead.email, &lead.click_id) {
        (Some(email), _) => email.as_str(),
        (None, Some(click)) => click.as_str(),
        (None, None) => "",
    };
    let partner = touch.as_ref().map(|t| t.partner.as_str());
    let inserted = sqlx::query(
        "INSERT INTO leads (partner_key, contact_key, partner_code, click_id, link_code, sub_id, email, page, source, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (partner_key, contact_key) DO NOTHING",
    )
    .bind(partner.unwrap_or_default())
    .bind(contact_key)
    .bind(partner)
    .bind(lead.click_id.as_ref().map(|c| c.as_str()))
    .bind(touch.as_ref().and_then(|t| t.link.as_ref()).map(|l| l.as_str()))
    .bind(touch.as_ref().and_then(|t| t.sub_id.as_ref()).map(|s| s.as_str()))
    .bind(lead.email.as_ref().map(|e| e.as_str()))
    .bind(&lead.page)
    .bind(&lead.source)
    .bind(lead.at_ms)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if let (true, Some(t)) = (inserted, &touch) {
        let key = rollups::key(t.partner.as_str(), lead.at_ms, t.link.as_ref().map(|l| l.as_str()), t.sub_id.as_ref().map(|s| s.as_str()));
        deltas.daily(key, Daily { opt_ins: 1, ..Daily::default() });
    }
    if inserted {
        deltas.events.push(crate::domain::outgoing::lead_event(
            partner,
            lead.click_id.as_ref().map(|c| c.as_str()),
            touch.as_ref().and_then(|t| t.sub_id.as_ref()).map(|s| s.as_str()),
            lead.email.as_ref().map(|e| e.as_str()),
            &lead.source,
            lead.at_ms,
        ));
    }
    let bound_by_click: i64 = match (&lead.click_id, lead.binds_contact) {
        (Some(id), true) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE click_id = $1").bind(id.as_str()).fetch_one(tx.conn()).await?
        }
        _ => 0,
    };
    let may_bind = lead.binds_contact && (lead.source != "browser" || bound_by_click < MAX_CONTACTS_PER_BROWSER_CLICK);
    if let (Some(email), Some(touch), true) = (&lead.email, &touch, may_bind) {
        // A click's lead lasts as long as the click's window, from the opt-in.
        let window_ms = if click.is_some() { touch.expires_at_ms - touch.at_ms } else { lead.window_ms };
        let contact = TouchFact { at_ms: lead.at_ms, expires_at_ms: lead.at_ms.saturating_add(window_ms), ..touch.clone() };
        insert_contacts(tx, &[(email, &contact)]).await?;
    }
    Ok(())
}

/// Makes each touch its email's lead partner unless someone brought the email first, in one
/// multi-row insert. (An email twice in `contacts` is for the caller to avoid.)
pub(super) async fn insert_contacts(tx: &mut Tx, contacts: &[(&Email, &TouchFact)]) -> Result<(), DbError> {
    for chunk in contacts.chunks(rows_per_statement(8)) {
        let sql = format!(
            "INSERT INTO contacts (email, partner_code, click_id, link_code, sub_id, program_code, at_ms, expires_at_ms)
             VALUES {} ON CONFLICT (email) DO NOTHING",
            placeholders(tx.dialect(), chunk.len(), 8)
        );
        let mut insert = sqlx::query(&sql);
        for (email, t) in chunk {
            insert = insert
                .bind(email.as_str())
                .bind(t.partner.as_str())
                .bind(t.click_id.as_ref().map(|c| c.as_str()))
                .bind(t.link.as_ref().map(|l| l.as_str()))
                .bind(t.sub_id.as_ref().map(|s| s.as_str()))
                .bind(t.program.as_ref().map(|p| p.as_str()))
                .bind(t.at_ms)
                .bind(t.expires_at_ms);
        }
        insert.execute(tx.conn()).await?;
    }
    Ok(())
}

/// A browser conversion: recorded once per order id (a second one is a duplicate), verified at once
/// when its signed order is already here, and earning on its own only under a pixel-paying program.
async fn insert_conversion(tx: &mut Tx, deltas: &mut Deltas, c: &NewConversion) -> Result<(), DbError> {
    let order_id = c.order_id.as_str();
    let inserted = sqlx::query(
        "INSERT INTO conversions (order_id, amount_minor, currency, click_id, partner_code, link_code, sub_id, at_ms, verified_order_id)
         SELECT $1, $2, $3, $4, c.partner_code, c.link_code, c.sub_id, $5,
                (SELECT o.order_id FROM orders o WHERE o.order_id = $1 OR o.bare_id = $1 ORDER BY o.order_id = $1 DESC LIMIT 1)
         FROM (SELECT 1) AS one LEFT JOIN clicks c ON c.id = $4
         WHERE TRUE
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(c.amount_minor)
    .bind(c.currency.as_str())
    .bind(c.click_id.as_ref().map(|c| c.as_str()))
    .bind(c.at_ms)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    let stored = sqlx::query("SELECT click_id, partner_code, link_code, sub_id, verified_order_id FROM conversions WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(tx.conn())
        .await?;
    let partner = parsed_opt(&stored, "partner_code")?;
    let verified: Option<String> = stored.try_get("verified_order_id")?;
    let first_click: Option<String> = stored.try_get("click_id")?;
    if let (true, Some(partner), None) = (inserted, &partner, &verified) {
        let (link, sub_id): (Option<String>, Option<String>) = (stored.try_get("link_code")?, stored.try_get("sub_id")?);
        let key = rollups::key(PartnerCode::as_str(partner), c.at_ms, link.as_deref(), sub_id.as_deref());
        deltas.daily(key, Daily { unverified: 1, ..Daily::default() });
    }
    // Another click claiming an order already claimed: neither claim stands.
    let contested = !inserted && c.click_id.as_ref().is_some_and(|new| first_click.as_deref().is_some_and(|first| first != new.as_str()));
    if contested {
        sqlx::query("UPDATE conversions SET conflicting = TRUE WHERE order_id = $1").bind(order_id).execute(tx.conn()).await?;
    }
    let reason = match (inserted, &partner, contested) {
        (false, _, true) => Some(Reason::ConflictingClaims),
        (false, _, false) => Some(Reason::DuplicateOrderId),
        (true, None, _) => Some(Reason::PixelWithoutClick),
        (true, Some(_), _) => None,
    };
    if let Some(reason) = reason {
        let signal = Signal {
            reason,
            partner,
            link: parsed_opt(&stored, "link_code")?,
            order_id: Some(order_id.to_owned()),
            at_ms: c.at_ms,
            source_key: c.source_key.clone(),
        };
        insert_fraud(tx, &signal).await?;
    }
    // Pixel-only programs earn on a new conversion that no signed order confirmed yet.
    if let (true, None, Some(credit)) = (inserted, verified, &c.pixel_credit) {
        let ledger_id = [PIXEL_LEDGER_PREFIX, order_id].concat();
        // No events: the pixel's provisional commission is replaced by its signed order's.
        let entries = super::ledger::Entries {
            order_id: &ledger_id,
            refund_id: None,
            currency: &c.currency,
            at_ms: c.at_ms,
            bookings: std::slice::from_ref(credit.as_ref()),
            origin: None,
        };
        super::ledger::insert_entries(tx, deltas, &[entries]).await?;
    }
    Ok(())
}

pub(super) async fn insert_fraud(tx: &mut Tx, e: &Signal) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO fraud_events (reason, partner_code, link_code, order_id, at_ms, source_key) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING",
    )
    .bind(e.reason.as_str())
    .bind(e.partner.as_ref().map(|p| p.as_str()))
    .bind(e.link.as_ref().map(|l| l.as_str()))
    .bind(e.order_id.as_deref())
    .bind(e.at_ms)
    .bind(&e.source_key)
    .execute(tx.conn())
    .await?;
    Ok(())
}
