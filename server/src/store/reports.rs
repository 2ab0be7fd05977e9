//! The figures partners and the merchant see: hits, opt-ins, orders, revenue, commission and
//! clawbacks over a period, by link and SubID, by UTC day and by product, and fraud signals.

use super::rows::{parsed, parsed_opt};
use super::{DayFigures, DbError, FigureRow, Figures, ProductSold, Store};
use sqlx::any::AnyRow;
use sqlx::Row;

impl Store {
    /// Rows of a report query over one partner and a period (`partner`, `from_ms`, `to_ms` bound as `$1`–`$3`).
    async fn period_rows(&self, sql: &'static str, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<AnyRow>, DbError> {
        Ok(sqlx::query(sql).bind(partner).bind(from_ms).bind(to_ms).fetch_all(&self.pool).await?)
    }

    /// A partner's figures of the period, per link and SubID.
    pub async fn figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<FigureRow>, DbError> {
        let rows = self
            .period_rows(
                "SELECT link_code, sub_id, CAST(SUM(hits) AS BIGINT) AS hits, CAST(SUM(opt_ins) AS BIGINT) AS opt_ins,
                        CAST(SUM(orders) AS BIGINT) AS orders, CAST(SUM(unverified) AS BIGINT) AS unverified,
                        CAST(SUM(revenue) AS BIGINT) AS revenue, CAST(SUM(commission) AS BIGINT) AS commission,
                        CAST(SUM(clawback) AS BIGINT) AS clawback
                 FROM (
                   SELECT link_code, sub_id, COUNT(*) AS hits, CAST(0 AS BIGINT) AS opt_ins, CAST(0 AS BIGINT) AS orders,
                          CAST(0 AS BIGINT) AS unverified, CAST(0 AS BIGINT) AS revenue, CAST(0 AS BIGINT) AS commission,
                          CAST(0 AS BIGINT) AS clawback
                     FROM clicks WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
                   UNION ALL
                   SELECT link_code, sub_id, 0, COUNT(*), 0, 0, 0, 0, 0
                     FROM leads WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
                   UNION ALL
                   SELECT link_code, sub_id, 0, 0, COUNT(*), 0, CAST(SUM(total_minor) AS BIGINT), 0, 0
                     FROM orders WHERE partner_code = $1 AND occurred_at_ms >= $2 AND occurred_at_ms < $3 GROUP BY link_code, sub_id
                   UNION ALL
                   SELECT link_code, sub_id, 0, 0, 0, COUNT(*), 0, 0, 0
                     FROM conversions WHERE partner_code = $1 AND verified_order_id IS NULL AND at_ms >= $2 AND at_ms < $3
                     GROUP BY link_code, sub_id
                   UNION ALL
                   SELECT link_code, sub_id, 0, 0, 0, 0, 0,
                          CAST(COALESCE(SUM(CASE WHEN kind IN ('earned', 'void', 'move') THEN amount_minor END), 0) AS BIGINT),
                          CAST(COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0) AS BIGINT)
                     FROM ledger WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
                 ) AS figures GROUP BY link_code, sub_id ORDER BY link_code NULLS FIRST, sub_id NULLS FIRST",
                partner,
                from_ms,
                to_ms,
            )
            .await?;
        let row = |r: &AnyRow| -> Result<FigureRow, sqlx::Error> {
            Ok(FigureRow {
                link: parsed_opt(r, "link_code")?,
                sub_id: parsed_opt(r, "sub_id")?,
                figures: Figures {
                    hits: r.try_get("hits")?,
                    opt_ins: r.try_get("opt_ins")?,
                    orders: r.try_get("orders")?,
                    unverified_conversions: r.try_get("unverified")?,
                    revenue_minor: r.try_get("revenue")?,
                    commission_minor: r.try_get("commission")?,
                    clawback_minor: r.try_get("clawback")?,
                },
            })
        };
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Hits, opt-ins, orders and commission per UTC day.
    pub async fn daily_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<DayFigures>, DbError> {
        let rows = self
            .period_rows(
                "SELECT day, CAST(SUM(hits) AS BIGINT) AS hits, CAST(SUM(opt_ins) AS BIGINT) AS opt_ins,
                        CAST(SUM(orders) AS BIGINT) AS orders, CAST(SUM(commission) AS BIGINT) AS commission
                 FROM (
                   SELECT at_ms / 86400000 AS day, COUNT(*) AS hits, CAST(0 AS BIGINT) AS opt_ins, CAST(0 AS BIGINT) AS orders,
                          CAST(0 AS BIGINT) AS commission
                     FROM clicks WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
                   UNION ALL
                   SELECT at_ms / 86400000, 0, COUNT(*), 0, 0 FROM leads WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
                   UNION ALL
                   SELECT occurred_at_ms / 86400000, 0, 0, COUNT(*), 0
                     FROM orders WHERE partner_code = $1 AND occurred_at_ms >= $2 AND occurred_at_ms < $3 GROUP BY 1
                   UNION ALL
                   SELECT at_ms / 86400000, 0, 0, 0, CAST(SUM(amount_minor) AS BIGINT)
                     FROM ledger WHERE partner_code = $1 AND kind IN ('earned', 'void', 'move') AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
                 ) AS daily GROUP BY day ORDER BY day",
                partner,
                from_ms,
                to_ms,
            )
            .await?;
        let row = |r: &AnyRow| -> Result<DayFigures, sqlx::Error> {
            Ok(DayFigures {
                day: r.try_get("day")?,
                hits: r.try_get("hits")?,
                opt_ins: r.try_get("opt_ins")?,
                orders: r.try_get("orders")?,
                commission_minor: r.try_get("commission")?,
            })
        };
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Products in the orders credited to the partner (orders without lines as one blank product).
    pub async fn products_sold(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ProductSold>, DbError> {
        let rows = self
            .period_rows(
                "SELECT sku, name, currency, quantity, revenue FROM (
                   SELECT i.sku, MAX(i.name) AS name, o.currency, CAST(SUM(i.quantity) AS BIGINT) AS quantity,
                          CAST(SUM(i.quantity * i.unit_price_minor) AS BIGINT) AS revenue
                     FROM orders o JOIN order_items i ON i.order_id = o.order_id
                     WHERE o.partner_code = $1 AND o.occurred_at_ms >= $2 AND o.occurred_at_ms < $3 GROUP BY i.sku, o.currency
                   UNION ALL
                   SELECT '', '', o.currency, COUNT(*), CAST(SUM(o.total_minor) AS BIGINT)
                     FROM orders o WHERE o.partner_code = $1 AND o.occurred_at_ms >= $2 AND o.occurred_at_ms < $3
                       AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id) GROUP BY o.currency
                 ) AS sold ORDER BY revenue DESC, sku",
                partner,
                from_ms,
                to_ms,
            )
            .await?;
        let row = |r: &AnyRow| -> Result<ProductSold, sqlx::Error> {
            Ok(ProductSold {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                currency: parsed(r, "currency")?,
                quantity: r.try_get("quantity")?,
                revenue_minor: r.try_get("revenue")?,
            })
        };
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Fraud signals by reason, for one partner or (with `None`) everyone.
    pub async fn fraud_counts(&self, partner: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT reason, COUNT(*) AS n FROM fraud_events
             WHERE (CAST($1 AS TEXT) IS NULL OR partner_code = $1) AND at_ms >= $2 AND at_ms < $3
             GROUP BY reason ORDER BY reason",
        )
        .bind(partner)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| Ok((r.try_get("reason")?, r.try_get("n")?))).collect::<Result<_, sqlx::Error>>()?)
    }
}
