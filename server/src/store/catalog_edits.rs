//! Editing what the merchant set up — programs, product overrides, partners (and deactivating
//! them), links — and the back office's own reads: partners' tokens, settings, product owners,
//! each link's figures, opt-ins by source, payout runs.

use super::catalog::insert_programs;
use super::rows::parsed;
use super::{DbError, Link, Partner, Program, Store};
use reftrack_protocol::{Currency, LinkCode, PartnerCode};
use serde::Serialize;
use sqlx::Row;

/// A personal token of a partner (its secret is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: i64,
    pub created_at_ms: i64,
}

/// A link's hits, opt-ins and orders over a period (all partners).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkFigures {
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
}

/// Opt-ins from one source (`browser`, `api`, `zoom`, `typeform`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub source: String,
    pub opt_ins: i64,
}

/// One payout as booked, with how many entries it paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutRecord {
    pub id: i64,
    pub partner: PartnerCode,
    pub currency: Currency,
    pub amount_minor: i64,
    pub created_at_ms: i64,
    pub entries: i64,
}

impl Store {
    /// Replaces a program's terms (its code stays).
    pub async fn update_program(&self, p: &Program) -> Result<(), DbError> {
        let done = sqlx::query(
            "UPDATE programs SET name = $2, rate_bps = $3, flat_minor = $4, window_days = $5, pixel_commission = $6, lead_rate_bps = $7,
                                 lead_flat_minor = $8, tier2_bps = $9, tier3_bps = $10, recurring = $11, hold_days = $12
             WHERE code = $1",
        )
        .bind(p.code.as_str())
        .bind(&p.name)
        .bind(p.rate_bps)
        .bind(p.flat_minor)
        .bind(p.window_days)
        .bind(p.pixel_commission)
        .bind(p.lead_rate_bps)
        .bind(p.lead_flat_minor)
        .bind(p.tier2_bps)
        .bind(p.tier3_bps)
        .bind(p.recurring.to_string())
        .bind(p.hold_days)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("program"));
        }
        Ok(())
    }

    /// Removes a product's override from a program (its lines earn the program's rate again).
    pub async fn delete_product_override(&self, program: &str, sku: &str) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM program_products WHERE program_code = $1 AND sku = $2")
            .bind(program)
            .bind(sku)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("product override"));
        }
        Ok(())
    }

    /// Replaces a partner's name, email, parent, programs and whether they are active.
    pub async fn update_partner(&self, p: &Partner, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE partners SET name = $2, email = $3, parent_code = $4,
                    deactivated_at_ms = CASE WHEN $5 THEN NULL ELSE COALESCE(deactivated_at_ms, $6) END
             WHERE code = $1",
        )
        .bind(p.code.as_str())
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(p.parent.as_ref().map(|c| c.as_str()))
        .bind(p.active)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("partner"));
        }
        sqlx::query("DELETE FROM partner_programs WHERE partner_code = $1").bind(p.code.as_str()).execute(tx.conn()).await?;
        insert_programs(&mut tx, "INSERT INTO partner_programs (partner_code, program_code) VALUES ($1, $2)", p.code.as_str(), &p.programs)
            .await?;
        tx.commit().await
    }

    /// Replaces a link's name, destination, partner and programs (its code stays).
    pub async fn update_link(&self, l: &Link) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE links SET name = $2, destination = $3, partner_code = $4 WHERE code = $1")
            .bind(l.code.as_str())
            .bind(&l.name)
            .bind(&l.destination)
            .bind(l.partner.as_ref().map(|c| c.as_str()))
            .execute(tx.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("link"));
        }
        sqlx::query("DELETE FROM link_programs WHERE link_code = $1").bind(l.code.as_str()).execute(tx.conn()).await?;
        insert_programs(&mut tx, "INSERT INTO link_programs (link_code, program_code) VALUES ($1, $2)", l.code.as_str(), &l.programs)
            .await?;
        tx.commit().await
    }

    /// A partner's tokens that still work, oldest first.
    pub async fn partner_tokens(&self, partner: &str) -> Result<Vec<TokenRecord>, DbError> {
        let rows = sqlx::query(
            "SELECT id, created_at_ms FROM api_keys WHERE kind = 'partner' AND partner_code = $1 AND revoked_at_ms IS NULL ORDER BY id",
        )
        .bind(partner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok(TokenRecord { id: r.try_get("id")?, created_at_ms: r.try_get("created_at_ms")? }))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Sets a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), DbError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every link's hits, opt-ins and orders over `[from_ms, to_ms)`, whoever shared it.
    pub async fn link_figures(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(LinkCode, LinkFigures)>, DbError> {
        let rows = sqlx::query(
            "SELECT link_code, CAST(SUM(hits) AS BIGINT) AS hits, CAST(SUM(opt_ins) AS BIGINT) AS opt_ins, CAST(SUM(orders) AS BIGINT) AS orders
             FROM (
               SELECT link_code, COUNT(*) AS hits, CAST(0 AS BIGINT) AS opt_ins, CAST(0 AS BIGINT) AS orders
                 FROM clicks WHERE at_ms >= $1 AND at_ms < $2 GROUP BY link_code
               UNION ALL
               SELECT link_code, 0, COUNT(*), 0 FROM leads WHERE link_code IS NOT NULL AND at_ms >= $1 AND at_ms < $2 GROUP BY link_code
               UNION ALL
               SELECT link_code, 0, 0, COUNT(*) FROM orders
                 WHERE link_code IS NOT NULL AND occurred_at_ms >= $1 AND occurred_at_ms < $2 GROUP BY link_code
             ) AS figures GROUP BY link_code ORDER BY link_code",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let figures = LinkFigures { hits: r.try_get("hits")?, opt_ins: r.try_get("opt_ins")?, orders: r.try_get("orders")? };
                Ok((parsed(r, "link_code")?, figures))
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Opt-ins by source over `[from_ms, to_ms)`, per partner (`None`: every partner's, by partner).
    pub async fn opt_ins_by_source(
        &self,
        partner: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(PartnerCode, SourceCount)>, DbError> {
        let rows = sqlx::query(
            "SELECT partner_code, source, COUNT(*) AS n FROM leads
             WHERE partner_code IS NOT NULL AND (CAST($1 AS TEXT) IS NULL OR partner_code = $1) AND at_ms >= $2 AND at_ms < $3
             GROUP BY partner_code, source ORDER BY partner_code, source",
        )
        .bind(partner)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((parsed(r, "partner_code")?, SourceCount { source: r.try_get("source")?, opt_ins: r.try_get("n")? })))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Every payout booked, newest run first.
    pub async fn payout_records(&self) -> Result<Vec<PayoutRecord>, DbError> {
        let rows = sqlx::query(
            "SELECT p.id, p.partner_code, p.currency, p.amount_minor, p.created_at_ms,
                    (SELECT COUNT(*) FROM ledger l WHERE l.payout_id = p.id AND l.kind <> 'payout') AS entries
             FROM payouts p ORDER BY p.created_at_ms DESC, p.partner_code, p.currency",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(PayoutRecord {
                    id: r.try_get("id")?,
                    partner: parsed(r, "partner_code")?,
                    currency: parsed(r, "currency")?,
                    amount_minor: r.try_get("amount_minor")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                    entries: r.try_get("entries")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
