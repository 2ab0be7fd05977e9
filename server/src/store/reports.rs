//! The figures partners and the merchant see: hits, opt-ins, orders, revenue, commission and
//! clawbacks over a period, by link and SubID, by UTC day and by product; balances; fraud signals.
//!
//! Whole UTC days of a period are read from the rollups; the part of a day at either end of a
//! period that does not start or end at midnight (UTC) is read from the raw rows, so any period
//! is exact and a report costs a few hundred rows however many clicks there are.

use super::rollups::DAY_MS;
use super::rows::{parsed, parsed_opt};
use super::{DayFigures, DbError, FigureRow, Figures, ProductSold, Store};
use crate::domain::ledger::Balance;
use reftrack_protocol::{Currency, LinkCode, PartnerCode, SubId};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// A period cut into whole UTC days (from the rollups) and the partial days at its ends (raw).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cut {
    /// `[first, end)` in days since 1970-01-01, when the period holds whole days.
    days: Option<(i64, i64)>,
    /// Spans of unix milliseconds to read raw.
    raw: Vec<(i64, i64)>,
}

/// Cuts `[from_ms, to_ms)`; `i64::MIN` and `i64::MAX` are open ends.
fn cut(from_ms: i64, to_ms: i64) -> Cut {
    let first = if from_ms == i64::MIN { i64::MIN } else { from_ms.div_euclid(DAY_MS) + i64::from(from_ms.rem_euclid(DAY_MS) != 0) };
    let end = if to_ms == i64::MAX { i64::MAX } else { to_ms.div_euclid(DAY_MS) };
    if first >= end {
        return Cut { days: None, raw: vec![(from_ms, to_ms)] };
    }
    let mut raw = Vec::new();
    if first != i64::MIN && first * DAY_MS > from_ms {
        raw.push((from_ms, first * DAY_MS));
    }
    if end != i64::MAX && end * DAY_MS < to_ms {
        raw.push((end * DAY_MS, to_ms));
    }
    Cut { days: Some((first, end)), raw }
}

fn add(into: &mut Figures, f: &Figures) {
    into.hits += f.hits;
    into.opt_ins += f.opt_ins;
    into.orders += f.orders;
    into.unverified_conversions += f.unverified_conversions;
    into.revenue_minor += f.revenue_minor;
    into.commission_minor += f.commission_minor;
    into.clawback_minor += f.clawback_minor;
}

fn figures_of(r: &AnyRow) -> Result<Figures, sqlx::Error> {
    Ok(Figures {
        hits: r.try_get("hits")?,
        opt_ins: r.try_get("opt_ins")?,
        orders: r.try_get("orders")?,
        unverified_conversions: r.try_get("unverified")?,
        revenue_minor: r.try_get("revenue")?,
        commission_minor: r.try_get("commission")?,
        clawback_minor: r.try_get("clawback")?,
    })
}

/// A rollup's '' (none) or a code.
fn code_or_none<T: std::str::FromStr>(r: &AnyRow, column: &str) -> Result<Option<T>, sqlx::Error>
where
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = r.try_get(column)?;
    match raw.as_deref() {
        None | Some("") => Ok(None),
        Some(_) => parsed_opt(r, column),
    }
}

const ROLLUP_FIGURES: &str =
    "CAST(SUM(hits) AS BIGINT) AS hits, CAST(SUM(opt_ins) AS BIGINT) AS opt_ins, CAST(SUM(orders) AS BIGINT) AS orders,
     CAST(SUM(unverified) AS BIGINT) AS unverified, CAST(SUM(revenue_minor) AS BIGINT) AS revenue,
     CAST(SUM(commission_minor) AS BIGINT) AS commission, CAST(SUM(clawback_minor) AS BIGINT) AS clawback";

impl Store {
    /// A partner's figures of the period, per link and SubID.
    pub async fn figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<FigureRow>, DbError> {
        let cut = cut(from_ms, to_ms);
        let mut merged: BTreeMap<(Option<LinkCode>, Option<SubId>), Figures> = BTreeMap::new();
        if let Some((first, end)) = cut.days {
            let sql = format!(
                "SELECT link_code, sub_id, {ROLLUP_FIGURES} FROM rollup_daily WHERE partner_code = $1 AND day >= $2 AND day < $3
                 GROUP BY link_code, sub_id"
            );
            for r in sqlx::query(&sql).bind(partner).bind(first).bind(end).fetch_all(&self.pool).await? {
                let key = (code_or_none(&r, "link_code")?, code_or_none(&r, "sub_id")?);
                add(merged.entry(key).or_default(), &figures_of(&r)?);
            }
        }
        for (from, to) in cut.raw {
            for row in self.raw_figures(partner, from, to).await? {
                add(merged.entry((row.link, row.sub_id)).or_default(), &row.figures);
            }
        }
        Ok(merged.into_iter().map(|((link, sub_id), figures)| FigureRow { link, sub_id, figures }).collect())
    }

    /// Every partner's figures of the period, in total.
    pub async fn figures_by_partner(&self, from_ms: i64, to_ms: i64) -> Result<BTreeMap<PartnerCode, Figures>, DbError> {
        let cut = cut(from_ms, to_ms);
        let mut out: BTreeMap<PartnerCode, Figures> = BTreeMap::new();
        if let Some((first, end)) = cut.days {
            let sql = format!("SELECT partner_code, {ROLLUP_FIGURES} FROM rollup_daily WHERE day >= $1 AND day < $2 GROUP BY partner_code");
            for r in sqlx::query(&sql).bind(first).bind(end).fetch_all(&self.pool).await? {
                add(out.entry(parsed(&r, "partner_code")?).or_default(), &figures_of(&r)?);
            }
        }
        // Partial days are rare in reports (dates are whole days): read them partner by partner.
        if !cut.raw.is_empty() {
            let partners: Vec<String> = sqlx::query_scalar("SELECT code FROM partners").fetch_all(&self.pool).await?;
            for partner in partners {
                for &(from, to) in &cut.raw {
                    for row in self.raw_figures(&partner, from, to).await? {
                        add(
                            out.entry(partner.parse().map_err(|e| DbError::Other(anyhow::anyhow!("partner code {partner:?}: {e}")))?)
                                .or_default(),
                            &row.figures,
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    /// Hits, opt-ins, orders and commission per UTC day.
    pub async fn daily_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<DayFigures>, DbError> {
        let cut = cut(from_ms, to_ms);
        let mut days: BTreeMap<i64, DayFigures> = BTreeMap::new();
        let mut merge = |d: DayFigures| {
            let into = days.entry(d.day).or_insert_with(|| DayFigures { day: d.day, ..DayFigures::default() });
            into.hits += d.hits;
            into.opt_ins += d.opt_ins;
            into.orders += d.orders;
            into.commission_minor += d.commission_minor;
        };
        if let Some((first, end)) = cut.days {
            let rows = sqlx::query(
                "SELECT day, CAST(SUM(hits) AS BIGINT) AS hits, CAST(SUM(opt_ins) AS BIGINT) AS opt_ins, CAST(SUM(orders) AS BIGINT) AS orders,
                        CAST(SUM(commission_minor) AS BIGINT) AS commission
                 FROM rollup_daily WHERE partner_code = $1 AND day >= $2 AND day < $3 GROUP BY day",
            )
            .bind(partner)
            .bind(first)
            .bind(end)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                merge(DayFigures {
                    day: r.try_get("day")?,
                    hits: r.try_get("hits")?,
                    opt_ins: r.try_get("opt_ins")?,
                    orders: r.try_get("orders")?,
                    commission_minor: r.try_get("commission")?,
                });
            }
        }
        for (from, to) in cut.raw {
            for d in self.raw_daily_figures(partner, from, to).await? {
                merge(d);
            }
        }
        // Days whose figures add up to nothing (a rollup row emptied by a correction) are left out.
        Ok(days.into_values().filter(|d| d.hits != 0 || d.opt_ins != 0 || d.orders != 0 || d.commission_minor != 0).collect())
    }

    /// Products in the orders credited to the partner (orders without lines as one blank product).
    pub async fn products_sold(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ProductSold>, DbError> {
        let cut = cut(from_ms, to_ms);
        let mut sold: BTreeMap<(String, Currency), ProductSold> = BTreeMap::new();
        let mut merge = |p: ProductSold| {
            let into =
                sold.entry((p.sku.clone(), p.currency)).or_insert_with(|| ProductSold { quantity: 0, revenue_minor: 0, ..p.clone() });
            into.name = into.name.clone().max(p.name);
            into.quantity += p.quantity;
            into.revenue_minor += p.revenue_minor;
        };
        if let Some((first, end)) = cut.days {
            let rows = sqlx::query(
                "SELECT sku, MAX(name) AS name, currency, CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(revenue_minor) AS BIGINT) AS revenue
                 FROM rollup_products WHERE partner_code = $1 AND day >= $2 AND day < $3 GROUP BY sku, currency",
            )
            .bind(partner)
            .bind(first)
            .bind(end)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                merge(ProductSold {
                    sku: r.try_get("sku")?,
                    name: r.try_get("name")?,
                    currency: parsed(&r, "currency")?,
                    quantity: r.try_get("quantity")?,
                    revenue_minor: r.try_get("revenue")?,
                });
            }
        }
        for (from, to) in cut.raw {
            for p in self.raw_products_sold(partner, from, to).await? {
                merge(p);
            }
        }
        let mut out: Vec<ProductSold> = sold.into_values().filter(|p| p.quantity != 0 || p.revenue_minor != 0).collect();
        out.sort_by(|a, b| b.revenue_minor.cmp(&a.revenue_minor).then_with(|| a.sku.cmp(&b.sku)));
        Ok(out)
    }

    /// Balances now, per partner and currency (of one partner, or everyone's): the totals from the
    /// rollup, pending and approved from the entries not yet paid.
    pub async fn balances(&self, partner: Option<&str>, now_ms: i64) -> Result<Vec<(PartnerCode, Balance)>, DbError> {
        let totals = sqlx::query(
            "SELECT partner_code, currency, earned_minor, clawed_back_minor, reversed_minor, adjusted_minor, paid_minor, balance_minor
             FROM rollup_balances
             WHERE (CAST($1 AS TEXT) IS NULL OR partner_code = $1) ORDER BY partner_code, currency",
        )
        .bind(partner)
        .fetch_all(&self.pool)
        .await?;
        let unpaid = sqlx::query(
            "SELECT partner_code, currency,
                    CAST(COALESCE(SUM(CASE WHEN available_at_ms > $2 THEN amount_minor END), 0) AS BIGINT) AS pending,
                    CAST(COALESCE(SUM(CASE WHEN available_at_ms <= $2 THEN amount_minor END), 0) AS BIGINT) AS approved
             FROM ledger WHERE payout_id IS NULL AND kind <> 'payout' AND (CAST($1 AS TEXT) IS NULL OR partner_code = $1)
             GROUP BY partner_code, currency",
        )
        .bind(partner)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out: BTreeMap<(PartnerCode, String), Balance> = BTreeMap::new();
        for r in &totals {
            let currency: Currency = parsed(r, "currency")?;
            let b = out.entry((parsed(r, "partner_code")?, currency.to_string())).or_insert_with(|| Balance::new(currency));
            b.earned_minor = r.try_get("earned_minor")?;
            b.clawed_back_minor = r.try_get("clawed_back_minor")?;
            b.reversed_minor = r.try_get("reversed_minor")?;
            b.adjusted_minor = r.try_get("adjusted_minor")?;
            b.paid_minor = r.try_get("paid_minor")?;
            b.balance_minor = r.try_get("balance_minor")?;
        }
        for r in &unpaid {
            let currency: Currency = parsed(r, "currency")?;
            let b = out.entry((parsed(r, "partner_code")?, currency.to_string())).or_insert_with(|| Balance::new(currency));
            b.pending_minor = r.try_get("pending")?;
            b.approved_minor = r.try_get("approved")?;
        }
        Ok(out.into_iter().map(|((partner, _), b)| (partner, b)).collect())
    }

    /// Fraud signals by partner and reason over the period (signals concerning no partner left out).
    pub async fn fraud_counts_by_partner(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(PartnerCode, String, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT partner_code, reason, COUNT(*) AS n FROM fraud_events WHERE partner_code IS NOT NULL AND at_ms >= $1 AND at_ms < $2
             GROUP BY partner_code, reason",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((parsed(r, "partner_code")?, r.try_get("reason")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }
}

impl Store {
    /// Rows of a report query over one partner and a period (`partner`, `from_ms`, `to_ms` bound as `$1`–`$3`).
    async fn period_rows(&self, sql: &'static str, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<AnyRow>, DbError> {
        Ok(sqlx::query(sql).bind(partner).bind(from_ms).bind(to_ms).fetch_all(&self.pool).await?)
    }

    /// A partner's figures of the period, per link and SubID, from the raw rows.
    async fn raw_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<FigureRow>, DbError> {
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

    /// Hits, opt-ins, orders and commission per UTC day, from the raw rows.
    async fn raw_daily_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<DayFigures>, DbError> {
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

    /// Products in the orders credited to the partner (orders without lines as one blank product),
    /// from the raw rows.
    async fn raw_products_sold(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ProductSold>, DbError> {
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

#[cfg(test)]
mod tests {
    use super::{cut, Cut, DAY_MS};

    #[test]
    fn a_period_is_cut_into_whole_days_and_raw_ends() {
        assert_eq!(cut(i64::MIN, i64::MAX), Cut { days: Some((i64::MIN, i64::MAX)), raw: vec![] });
        assert_eq!(cut(10 * DAY_MS, 12 * DAY_MS), Cut { days: Some((10, 12)), raw: vec![] });
        let (from, to) = (10 * DAY_MS + 5, 12 * DAY_MS + 7);
        assert_eq!(cut(from, to), Cut { days: Some((11, 12)), raw: vec![(from, 11 * DAY_MS), (12 * DAY_MS, to)] });
        // Inside one day: all raw.
        assert_eq!(cut(10 * DAY_MS + 5, 10 * DAY_MS + 9), Cut { days: None, raw: vec![(10 * DAY_MS + 5, 10 * DAY_MS + 9)] });
        assert_eq!(cut(-DAY_MS - 1, 0), Cut { days: Some((-1, 0)), raw: vec![(-DAY_MS - 1, -DAY_MS)] });
    }
}
