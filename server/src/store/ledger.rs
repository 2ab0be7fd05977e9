//! The ledger, the only record of money: entries booked with orders and refunds, read for
//! balances, and payout runs that mark entries paid.

use super::events::Origin;
use super::rollups::{self, Deltas};
use super::rows::{parsed, parsed_opt, placeholders, rows_per_statement};
use super::{DbError, LedgerRecord, Payout, Store, Tx};
use crate::domain::ledger::{Booking, PayoutPlan};
use crate::domain::outgoing::{self, EntryFacts};
use reftrack_protocol::Currency;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

impl FromRow<'_, AnyRow> for LedgerRecord {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(LedgerRecord {
            id: r.try_get("id")?,
            partner: parsed(r, "partner_code")?,
            order_id: r.try_get("order_id")?,
            refund_id: r.try_get("refund_id")?,
            kind: parsed(r, "kind")?,
            role: parsed(r, "role")?,
            program: parsed_opt(r, "program_code")?,
            amount_minor: r.try_get("amount_minor")?,
            currency: parsed(r, "currency")?,
            link: parsed_opt(r, "link_code")?,
            sub_id: parsed_opt(r, "sub_id")?,
            at_ms: r.try_get("at_ms")?,
            available_at_ms: r.try_get("available_at_ms")?,
            payout_id: r.try_get("payout_id")?,
            reason: r.try_get("reason")?,
            reverses_id: r.try_get("reverses_id")?,
        })
    }
}

/// The entries of one order (or refund, or correction), with the columns they share.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entries<'a> {
    pub order_id: &'a str,
    pub refund_id: Option<&'a str>,
    pub currency: &'a Currency,
    pub at_ms: i64,
    pub bookings: &'a [Booking],
    /// Where they come from, for their events (`None`: no events, as for a pixel's provisional
    /// commission, which the signed order replaces).
    pub origin: Option<Origin<'a>>,
}

/// Books entries — of orders, their refunds, or the merchant's corrections — counting them into
/// `deltas`: every ledger write goes through here, the entries of a group of orders in one
/// multi-row insert. With an `origin`, each entry that changes a commission also gets its event,
/// in the same transaction.
pub(super) async fn insert_entries(tx: &mut Tx, deltas: &mut Deltas, sets: &[Entries<'_>]) -> Result<(), DbError> {
    let rows: Vec<(&Entries, &Booking)> = sets.iter().flat_map(|set| set.bookings.iter().map(move |b| (set, b))).collect();
    for chunk in rows.chunks(rows_per_statement(14)) {
        let sql = format!(
            "INSERT INTO ledger (partner_code, order_id, refund_id, kind, amount_minor, currency, link_code, sub_id, at_ms,
                                 role, program_code, available_at_ms, reason, reverses_id)
             VALUES {} RETURNING id, order_id, partner_code",
            placeholders(tx.dialect(), chunk.len(), 14)
        );
        let mut insert = sqlx::query(&sql);
        for (set, e) in chunk {
            insert = insert
                .bind(e.partner.as_str())
                .bind(set.order_id)
                .bind(set.refund_id)
                .bind(e.kind.as_str())
                .bind(e.amount_minor)
                .bind(set.currency.as_str())
                .bind(e.link.as_ref().map(|l| l.as_str()))
                .bind(e.sub_id.as_ref().map(|s| s.as_str()))
                .bind(set.at_ms)
                .bind(e.role.as_str())
                .bind(e.program.as_ref().map(|p| p.as_str()))
                .bind(e.available_at_ms)
                .bind(e.reason.as_deref())
                .bind(e.reverses_id);
        }
        // Ids are given in the order of the rows (SQLite's next rowid, PostgreSQL's sequence
        // row by row); RETURNING's own order is not promised, so the ids are sorted and each
        // checked against the row it is taken for.
        let mut inserted: Vec<(i64, String, String)> = insert
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("order_id")?, r.try_get("partner_code")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        inserted.sort_unstable_by_key(|(id, _, _)| *id);
        if inserted.len() != chunk.len() {
            return Err(DbError::Other(anyhow::anyhow!("{} ledger entries inserted, {} returned", chunk.len(), inserted.len())));
        }
        for ((set, e), (entry_id, order_id, partner)) in chunk.iter().zip(inserted) {
            if order_id != set.order_id || partner != e.partner.as_str() {
                return Err(DbError::Other(anyhow::anyhow!("ledger entry {entry_id} is not the row it was inserted for")));
            }
            let key =
                rollups::key(e.partner.as_str(), set.at_ms, e.link.as_ref().map(|l| l.as_str()), e.sub_id.as_ref().map(|s| s.as_str()));
            deltas.ledger(e.partner.as_str(), set.currency.as_str(), e.kind, e.amount_minor, key);
            let Some(origin) = &set.origin else { continue };
            let facts = EntryFacts {
                entry_id,
                kind: e.kind.as_str(),
                order_id: set.order_id,
                refund_id: set.refund_id,
                partner: e.partner.as_str(),
                role: e.role.as_str(),
                program: e.program.as_ref().map(|p| p.as_str()),
                amount_minor: e.amount_minor,
                currency: set.currency.as_str(),
                link: e.link.as_ref().map(|l| l.as_str()),
                sub_id: e.sub_id.as_ref().map(|s| s.as_str()),
                available_at_ms: e.available_at_ms,
                reason: e.reason.as_deref(),
                reverses_id: e.reverses_id,
                order_total_minor: origin.order_total_minor,
                click_id: origin.click_id,
            };
            if let Some(event) = outgoing::entry_event(&facts, origin.now_ms) {
                deltas.events.push(event);
            }
        }
    }
    Ok(())
}

impl Store {
    /// Ledger entries of one partner or (with `None`) everyone, oldest first.
    pub async fn ledger_entries(&self, partner: Option<&str>) -> Result<Vec<LedgerRecord>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM ledger WHERE (CAST($1 AS TEXT) IS NULL OR partner_code = $1) ORDER BY at_ms, id")
            .bind(partner)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A partner's newest `limit` entries, newest first.
    pub async fn recent_ledger_entries(&self, partner: &str, limit: i64) -> Result<Vec<LedgerRecord>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM ledger WHERE partner_code = $1 ORDER BY at_ms DESC, id DESC LIMIT $2")
            .bind(partner)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The entries not paid yet (what a payout run may pay), oldest first.
    pub async fn unpaid_entries(&self) -> Result<Vec<LedgerRecord>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM ledger WHERE payout_id IS NULL AND kind <> 'payout' ORDER BY at_ms, id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Books the payouts and marks their entries paid, atomically. `Conflict` if any entry was
    /// paid meanwhile (two payout runs at once), and then nothing is booked.
    pub async fn create_payouts(&self, plans: &[PayoutPlan], now_ms: i64) -> Result<Vec<Payout>, DbError> {
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(plans.len());
        for plan in plans {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payouts (partner_code, currency, amount_minor, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(plan.partner.as_str())
            .bind(plan.currency.as_str())
            .bind(plan.amount_minor)
            .bind(now_ms)
            .fetch_one(tx.conn())
            .await?;
            let mut marked = 0;
            for ids in plan.entry_ids.chunks(500) {
                let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!("UPDATE ledger SET payout_id = $1 WHERE payout_id IS NULL AND id IN ({})", list.join(", "));
                let mut update = sqlx::query(&sql).bind(id);
                for entry in ids {
                    update = update.bind(*entry);
                }
                marked += update.execute(tx.conn()).await?.rows_affected();
            }
            if marked != plan.entry_ids.len() as u64 {
                return Err(DbError::Conflict(format!("entries of {} were paid by another payout run", plan.partner)));
            }
            sqlx::query(
                "INSERT INTO ledger (partner_code, order_id, kind, amount_minor, currency, at_ms, role, available_at_ms, payout_id)
                 VALUES ($1, $2, 'payout', $3, $4, $5, 'payout', $5, $6)",
            )
            .bind(plan.partner.as_str())
            .bind(format!("payout:{id}"))
            .bind(-plan.amount_minor)
            .bind(plan.currency.as_str())
            .bind(now_ms)
            .bind(id)
            .execute(tx.conn())
            .await?;
            let mut deltas = Deltas::default();
            deltas.ledger(
                plan.partner.as_str(),
                plan.currency.as_str(),
                crate::domain::ledger::Kind::Payout,
                -plan.amount_minor,
                rollups::key("", 0, None, None),
            );
            deltas.events.push(outgoing::payout_event(id, plan.partner.as_str(), plan.currency.as_str(), plan.amount_minor, now_ms));
            deltas.apply(&mut tx).await?;
            out.push(Payout {
                id,
                partner: plan.partner.clone(),
                currency: plan.currency,
                amount_minor: plan.amount_minor,
                created_at_ms: now_ms,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
