//! The merchant's corrections of commissions (voids, early approvals) and balances
//! (adjustments), each booked as new ledger entries through [`insert_entries`](super::ledger::insert_entries).

use super::rollups::Deltas;
use super::{DbError, LedgerRecord, Store};
use crate::domain::correction::{commissions, Commission};
use crate::domain::ledger::{Booking, Kind};
use reftrack_protocol::Currency;

/// How a correction of one commission ended.
#[derive(Debug, Clone)]
pub enum Corrected<E> {
    /// Booked: the commission as it stands now.
    Booked(Commission),
    /// The entry is not a commission's earned entry (a clawback, payout, adjustment…).
    NotACommission,
    /// The decision refused it; nothing was written.
    Refused(E),
}

impl Store {
    /// Corrects the commission `entry_id` belongs to: `decide` plans the entries from the
    /// commission as read in this transaction (its order's row locked as refunds lock it, and
    /// the entry's own row), so two corrections or a refund at once never cancel twice.
    /// `NotFound` if there is no such entry.
    pub async fn correct_commission<E>(
        &self,
        entry_id: i64,
        now_ms: i64,
        decide: impl FnOnce(&Commission) -> Result<Vec<Booking>, E>,
    ) -> Result<Corrected<E>, DbError> {
        let mut tx = self.write().await?;
        let lock = self.dialect.for_update();
        let entry: LedgerRecord = sqlx::query_as(&format!("SELECT * FROM ledger WHERE id = $1{lock}"))
            .bind(entry_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(DbError::NotFound("ledger entry"))?;
        if entry.kind != Kind::Earned {
            tx.rollback().await?;
            return Ok(Corrected::NotACommission);
        }
        sqlx::query(&format!("SELECT order_id FROM orders WHERE order_id = $1{lock}"))
            .bind(&entry.order_id)
            .fetch_optional(tx.conn())
            .await?;
        let entries: Vec<LedgerRecord> = sqlx::query_as("SELECT * FROM ledger WHERE order_id = $1 AND partner_code = $2 ORDER BY id")
            .bind(&entry.order_id)
            .bind(entry.partner.as_str())
            .fetch_all(tx.conn())
            .await?;
        let found = commission_of(&entries, &entry);
        let Some(commission) = found else {
            tx.rollback().await?;
            return Ok(Corrected::NotACommission);
        };
        let bookings = match decide(&commission) {
            Ok(b) => b,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Corrected::Refused(refusal));
            }
        };
        let mut deltas = Deltas::default();
        let origin = super::events::Origin { now_ms, ..Default::default() };
        let entries = super::ledger::Entries {
            order_id: &entry.order_id,
            refund_id: None,
            currency: &entry.currency,
            at_ms: now_ms,
            bookings: &bookings,
            origin: Some(origin),
        };
        super::ledger::insert_entries(&mut tx, &mut deltas, &[entries]).await?;
        deltas.apply(&mut tx).await?;
        let after: Vec<LedgerRecord> = sqlx::query_as("SELECT * FROM ledger WHERE order_id = $1 AND partner_code = $2 ORDER BY id")
            .bind(&entry.order_id)
            .bind(entry.partner.as_str())
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(commission_of(&after, &entry).map_or(Corrected::NotACommission, Corrected::Booked))
    }

    /// Books a bonus or correction for a partner; answers the entry.
    pub async fn book_adjustment(&self, booking: &Booking, currency: &Currency, now_ms: i64) -> Result<LedgerRecord, DbError> {
        let label = format!("adjustment:{now_ms}");
        let mut tx = self.write().await?;
        let mut deltas = Deltas::default();
        let entries = super::ledger::Entries {
            order_id: &label,
            refund_id: None,
            currency,
            at_ms: now_ms,
            bookings: std::slice::from_ref(booking),
            origin: None,
        };
        super::ledger::insert_entries(&mut tx, &mut deltas, &[entries]).await?;
        deltas.apply(&mut tx).await?;
        let entry = sqlx::query_as("SELECT * FROM ledger WHERE partner_code = $1 AND order_id = $2 ORDER BY id DESC LIMIT 1")
            .bind(booking.partner.as_str())
            .bind(&label)
            .fetch_one(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// One ledger entry.
    pub async fn ledger_entry(&self, id: i64) -> Result<Option<LedgerRecord>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM ledger WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }
}

/// The commission among `entries` that `entry` belongs to.
fn commission_of(entries: &[LedgerRecord], entry: &LedgerRecord) -> Option<Commission> {
    let facts: Vec<_> = entries.iter().map(LedgerRecord::commission_entry).collect();
    commissions(&facts).into_iter().find(|c| {
        c.entry_id == entry.id || (c.role == entry.role && c.program == entry.program && c.link == entry.link && c.sub_id == entry.sub_id)
    })
}
