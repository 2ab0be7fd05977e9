//! Refunds: each recorded once per refund id, its clawbacks decided on the order as read inside
//! the refund's own transaction, so concurrent refunds of one order never claw back twice.

use super::rows::parsed;
use super::{DbError, Recorded, Store, StoredAnswer};
use crate::domain::ledger::Booking;
use crate::domain::refund::{Earning, RefundFacts, RefundRefusal, Refunded};
use reftrack_protocol::{Currency, Refund};
use sqlx::Row;

/// What the intake decided for a refund: its clawbacks and its answer.
#[derive(Debug, Clone)]
pub struct RefundDecision {
    pub bookings: Vec<Booking>,
    pub response_json: String,
}

/// How recording a refund ended.
#[derive(Debug, Clone)]
pub enum RefundOutcome {
    Recorded(Recorded),
    /// The decision refused it; nothing was stored.
    Refused(RefundRefusal),
}

impl Store {
    /// Records a refund once per refund id. `decide` computes the clawbacks from the order as read
    /// in the same transaction (the order's row is locked first). On a replay of the refund id the
    /// first answer is returned and nothing is decided again. `NotFound` if the order is unknown.
    pub async fn record_refund(
        &self,
        refund: &Refund,
        body_hash: &str,
        now_ms: i64,
        decide: impl FnOnce(&RefundFacts, Currency) -> Result<RefundDecision, RefundRefusal>,
    ) -> Result<RefundOutcome, DbError> {
        let refund_id = refund.refund_id.as_str();
        let order_id = refund.order_id.as_str();
        let occurred_at_ms = crate::domain::period::to_ms(refund.occurred_at);
        let mut tx = self.write().await?;
        let order =
            sqlx::query(&format!("SELECT total_minor, currency, click_id FROM orders WHERE order_id = $1{}", self.dialect.for_update()))
                .bind(order_id)
                .fetch_optional(tx.conn())
                .await?
                .ok_or(DbError::NotFound("order"))?;
        let claimed = sqlx::query(
            "INSERT INTO refunds (refund_id, order_id, amount_minor, refunded_total_minor, kind, body_hash, occurred_at_ms, response_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '') ON CONFLICT (refund_id) DO NOTHING",
        )
        .bind(refund_id)
        .bind(order_id)
        .bind(refund.amount_minor.unwrap_or(0))
        .bind(refund.refunded_total_minor)
        .bind(refund.kind.as_str())
        .bind(body_hash)
        .bind(occurred_at_ms)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await?;
            let row = sqlx::query("SELECT body_hash, response_json FROM refunds WHERE refund_id = $1")
                .bind(refund_id)
                .fetch_one(&self.pool)
                .await?;
            let answer = StoredAnswer { body_hash: row.try_get("body_hash")?, response_json: row.try_get("response_json")? };
            return Ok(RefundOutcome::Recorded(Recorded { answer, fresh: false }));
        }
        let so_far = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_minor END), 0) AS BIGINT) AS singles,
                    CAST(COALESCE(MAX(refunded_total_minor), 0) AS BIGINT) AS highest,
                    CAST(COALESCE(SUM(CASE WHEN kind = 'dispute' THEN amount_minor END), 0) AS BIGINT) AS disputes
             FROM refunds WHERE order_id = $1 AND refund_id <> $2",
        )
        .bind(order_id)
        .bind(refund_id)
        .fetch_one(tx.conn())
        .await?;
        // What each commission still holds: earned less what voids and moves cancelled (an early
        // approval's payable half makes it payable from then on).
        let earnings = sqlx::query(
            "SELECT partner_code, link_code, sub_id, role, program_code, MIN(available_at_ms) AS available_at_ms,
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('earned', 'void', 'move') THEN amount_minor END), 0) AS BIGINT) AS earned,
                    CAST(COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0) AS BIGINT) AS clawed
             FROM ledger WHERE order_id = $1 AND kind IN ('earned', 'clawback', 'void', 'move', 'approval')
               AND NOT (kind = 'approval' AND amount_minor < 0)
             GROUP BY partner_code, link_code, sub_id, role, program_code ORDER BY partner_code, role",
        )
        .bind(order_id)
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|r| {
            Ok(Earning {
                partner: parsed(r, "partner_code")?,
                role: parsed(r, "role")?,
                program: super::rows::parsed_opt(r, "program_code")?,
                available_at_ms: r.try_get("available_at_ms")?,
                link: super::rows::parsed_opt(r, "link_code")?,
                sub_id: super::rows::parsed_opt(r, "sub_id")?,
                earned_minor: r.try_get("earned")?,
                clawed_minor: r.try_get("clawed")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let currency: Currency = parsed(&order, "currency")?;
        let facts = RefundFacts {
            total_minor: order.try_get("total_minor")?,
            refunded: Refunded {
                singles_minor: so_far.try_get("singles")?,
                highest_total_minor: so_far.try_get("highest")?,
                disputes_minor: so_far.try_get("disputes")?,
            },
            earnings,
        };
        let decision = match decide(&facts, currency) {
            Ok(d) => d,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(RefundOutcome::Refused(refusal));
            }
        };
        let mut deltas = super::rollups::Deltas::default();
        let click_id: Option<String> = order.try_get("click_id")?;
        let origin =
            super::events::Origin { now_ms, order_total_minor: Some(order.try_get("total_minor")?), click_id: click_id.as_deref() };
        let entries = super::ledger::Entries {
            order_id,
            refund_id: Some(refund_id),
            currency: &currency,
            at_ms: occurred_at_ms,
            bookings: &decision.bookings,
            origin: Some(origin),
        };
        super::ledger::insert_entries(&mut tx, &mut deltas, &[entries]).await?;
        deltas.apply(&mut tx).await?;
        sqlx::query("UPDATE refunds SET response_json = $1 WHERE refund_id = $2")
            .bind(&decision.response_json)
            .bind(refund_id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        let answer = StoredAnswer { body_hash: body_hash.to_owned(), response_json: decision.response_json };
        Ok(RefundOutcome::Recorded(Recorded { answer, fresh: true }))
    }
}
