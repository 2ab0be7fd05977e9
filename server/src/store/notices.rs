//! Notices: money events the connector received but could not apply, kept for the merchant.

use super::rows::parsed_opt;
use super::{DbError, Recorded, Store, StoredAnswer};
use reftrack_protocol::Notice;
use serde::Serialize;
use sqlx::Row;

/// A notice as the merchant's view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRecord {
    pub notice_id: String,
    pub source: String,
    pub kind: String,
    pub order_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<reftrack_protocol::Currency>,
    pub message: String,
    pub occurred_at_ms: i64,
    pub received_at_ms: i64,
}

impl Store {
    /// Records a notice once per notice id; a replay gets the first answer.
    pub async fn record_notice(&self, n: &Notice, body_hash: &str, response_json: &str, now_ms: i64) -> Result<Recorded, DbError> {
        let mut tx = self.write().await?;
        let fresh = sqlx::query(
            "INSERT INTO notices (notice_id, source, kind, order_id, amount_minor, currency, message, occurred_at_ms, received_at_ms, body_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (notice_id) DO NOTHING",
        )
        .bind(&n.notice_id)
        .bind(&n.source)
        .bind(&n.kind)
        .bind(n.order_id.as_ref().map(|o| o.as_str()))
        .bind(n.amount_minor)
        .bind(n.currency.as_ref().map(|c| c.as_str()))
        .bind(&n.message)
        .bind(crate::domain::period::to_ms(n.occurred_at))
        .bind(now_ms)
        .bind(body_hash)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        let stored: String =
            sqlx::query_scalar("SELECT body_hash FROM notices WHERE notice_id = $1").bind(&n.notice_id).fetch_one(&self.pool).await?;
        Ok(Recorded { answer: StoredAnswer { body_hash: stored, response_json: response_json.to_owned() }, fresh })
    }

    /// The newest notices first.
    pub async fn notices(&self, limit: i64) -> Result<Vec<NoticeRecord>, DbError> {
        let rows =
            sqlx::query("SELECT * FROM notices ORDER BY occurred_at_ms DESC, notice_id LIMIT $1").bind(limit).fetch_all(&self.pool).await?;
        let row = |r: &sqlx::any::AnyRow| -> Result<NoticeRecord, sqlx::Error> {
            Ok(NoticeRecord {
                notice_id: r.try_get("notice_id")?,
                source: r.try_get("source")?,
                kind: r.try_get("kind")?,
                order_id: r.try_get("order_id")?,
                amount_minor: r.try_get("amount_minor")?,
                currency: parsed_opt(r, "currency")?,
                message: r.try_get("message")?,
                occurred_at_ms: r.try_get("occurred_at_ms")?,
                received_at_ms: r.try_get("received_at_ms")?,
            })
        };
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }
}
