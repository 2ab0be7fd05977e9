//! Rollups: the reports' figures kept per partner and UTC day, updated in the same transaction as
//! the rows they count, so a report reads a few hundred rows instead of millions of clicks. Every
//! write path adds its delta here; [`Store::rebuild_rollups`] recomputes them all from the raw
//! rows, which stay the truth.

use super::{DbError, Store, Tx};
use crate::domain::ledger::Kind;
use reftrack_protocol::CanonicalOrder;
use std::collections::BTreeMap;

pub(super) const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of unix milliseconds.
pub(super) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Where a figure is counted: partner, day, link and SubID ('' for none).
pub(super) type DailyKey = (String, i64, String, String);

/// What to add to one `rollup_daily` row (negative to take away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Daily {
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
    pub unverified: i64,
    pub revenue_minor: i64,
    pub commission_minor: i64,
    pub clawback_minor: i64,
}

impl Daily {
    fn add(&mut self, d: &Daily) {
        self.hits += d.hits;
        self.opt_ins += d.opt_ins;
        self.orders += d.orders;
        self.unverified += d.unverified;
        self.revenue_minor += d.revenue_minor;
        self.commission_minor += d.commission_minor;
        self.clawback_minor += d.clawback_minor;
    }
}

/// The key of a figure: partner, the day of `at_ms`, link and SubID.
pub(super) fn key(partner: &str, at_ms: i64, link: Option<&str>, sub_id: Option<&str>) -> DailyKey {
    (partner.to_owned(), day_of(at_ms), link.unwrap_or_default().to_owned(), sub_id.unwrap_or_default().to_owned())
}

/// Where a product's sales are counted: partner, day, SKU and currency.
pub(super) type ProductKey = (String, i64, String, String);

/// A product's name and what to add to its quantity and revenue.
#[derive(Debug, Clone, Default)]
struct Sold {
    name: String,
    quantity: i64,
    revenue_minor: i64,
}

/// Deltas gathered over a transaction and written once per row at its end.
#[derive(Debug, Default)]
pub(super) struct Deltas {
    daily: BTreeMap<DailyKey, Daily>,
    /// (partner, currency) → (earned, clawed back, reversed, adjusted, paid, balance).
    balances: BTreeMap<(String, String), [i64; 6]>,
    products: BTreeMap<ProductKey, Sold>,
    /// The outgoing events of the same changes, written in the same transaction.
    pub events: super::events::Events,
}

impl Deltas {
    pub fn daily(&mut self, key: DailyKey, delta: Daily) {
        self.daily.entry(key).or_default().add(&delta);
    }

    /// A ledger entry of `amount_minor` booked (or, with a negative sign, taken away).
    pub fn ledger(&mut self, partner: &str, currency: &str, kind: Kind, amount_minor: i64, key: DailyKey) {
        let balance = self.balances.entry((partner.to_owned(), currency.to_owned())).or_default();
        balance[5] += amount_minor;
        match kind {
            Kind::Earned => {
                balance[0] += amount_minor;
                self.daily(key, Daily { commission_minor: amount_minor, ..Daily::default() });
            }
            Kind::Clawback => {
                balance[1] -= amount_minor;
                self.daily(key, Daily { clawback_minor: -amount_minor, ..Daily::default() });
            }
            // A voided or moved commission is no longer earned: the day's commission nets it out.
            Kind::Void | Kind::Move => {
                balance[2] -= amount_minor;
                self.daily(key, Daily { commission_minor: amount_minor, ..Daily::default() });
            }
            Kind::Adjustment => balance[3] += amount_minor,
            Kind::Payout => balance[4] -= amount_minor,
            // An approval pair moves money from pending to approved and adds up to nothing.
            Kind::Approval => {}
        }
    }

    /// An order's sale figures — its count and revenue on its partner's link and SubID, and its
    /// products (an order without lines as one blank product) — counted once (`sign` 1) or taken
    /// back (`sign` -1, when the order is moved to another partner).
    pub fn sale(&mut self, partner: &str, link: Option<&str>, sub_id: Option<&str>, order: &CanonicalOrder, sign: i64) {
        let at_ms = crate::domain::period::to_ms(order.occurred_at);
        let (day, currency) = (day_of(at_ms), order.currency.to_string());
        self.daily(key(partner, at_ms, link, sub_id), Daily { orders: sign, revenue_minor: sign * order.total_minor, ..Daily::default() });
        for item in &order.items {
            let revenue = item.quantity.saturating_mul(item.unit_price_minor);
            self.product((partner.to_owned(), day, item.sku.clone(), currency.clone()), &item.name, sign * item.quantity, sign * revenue);
        }
        if order.items.is_empty() {
            self.product((partner.to_owned(), day, String::new(), currency), "", sign, sign * order.total_minor);
        }
    }

    pub fn product(&mut self, key: ProductKey, name: &str, quantity: i64, revenue_minor: i64) {
        let sold = self.products.entry(key).or_insert_with(|| Sold { name: name.to_owned(), ..Sold::default() });
        sold.quantity += quantity;
        sold.revenue_minor += revenue_minor;
    }

    /// Writes every gathered delta, and the events, in `tx`.
    pub async fn apply(self, tx: &mut Tx) -> Result<(), DbError> {
        self.events.apply(tx).await?;
        for ((partner, day, link, sub_id), d) in self.daily {
            sqlx::query(
                "INSERT INTO rollup_daily (partner_code, day, link_code, sub_id, hits, opt_ins, orders, unverified, revenue_minor,
                                           commission_minor, clawback_minor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (partner_code, day, link_code, sub_id) DO UPDATE SET
                    hits = rollup_daily.hits + excluded.hits, opt_ins = rollup_daily.opt_ins + excluded.opt_ins,
                    orders = rollup_daily.orders + excluded.orders, unverified = rollup_daily.unverified + excluded.unverified,
                    revenue_minor = rollup_daily.revenue_minor + excluded.revenue_minor,
                    commission_minor = rollup_daily.commission_minor + excluded.commission_minor,
                    clawback_minor = rollup_daily.clawback_minor + excluded.clawback_minor",
            )
            .bind(partner)
            .bind(day)
            .bind(link)
            .bind(sub_id)
            .bind(d.hits)
            .bind(d.opt_ins)
            .bind(d.orders)
            .bind(d.unverified)
            .bind(d.revenue_minor)
            .bind(d.commission_minor)
            .bind(d.clawback_minor)
            .execute(tx.conn())
            .await?;
        }
        for ((partner, currency), [earned, clawed, reversed, adjusted, paid, balance]) in self.balances {
            sqlx::query(
                "INSERT INTO rollup_balances (partner_code, currency, earned_minor, clawed_back_minor, reversed_minor, adjusted_minor,
                                              paid_minor, balance_minor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (partner_code, currency) DO UPDATE SET
                    earned_minor = rollup_balances.earned_minor + excluded.earned_minor,
                    clawed_back_minor = rollup_balances.clawed_back_minor + excluded.clawed_back_minor,
                    reversed_minor = rollup_balances.reversed_minor + excluded.reversed_minor,
                    adjusted_minor = rollup_balances.adjusted_minor + excluded.adjusted_minor,
                    paid_minor = rollup_balances.paid_minor + excluded.paid_minor,
                    balance_minor = rollup_balances.balance_minor + excluded.balance_minor",
            )
            .bind(partner)
            .bind(currency)
            .bind(earned)
            .bind(clawed)
            .bind(reversed)
            .bind(adjusted)
            .bind(paid)
            .bind(balance)
            .execute(tx.conn())
            .await?;
        }
        for ((partner, day, sku, currency), Sold { name, quantity, revenue_minor: revenue }) in self.products {
            sqlx::query(
                "INSERT INTO rollup_products (partner_code, day, sku, currency, name, quantity, revenue_minor) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (partner_code, day, sku, currency) DO UPDATE SET
                    name = CASE WHEN excluded.name > rollup_products.name THEN excluded.name ELSE rollup_products.name END,
                    quantity = rollup_products.quantity + excluded.quantity,
                    revenue_minor = rollup_products.revenue_minor + excluded.revenue_minor",
            )
            .bind(partner)
            .bind(day)
            .bind(sku)
            .bind(currency)
            .bind(name)
            .bind(quantity)
            .bind(revenue)
            .execute(tx.conn())
            .await?;
        }
        Ok(())
    }
}

/// The rollups recomputed from the raw rows (the same figures the raw report queries give).
const REBUILD: &[&str] = &[
    "DELETE FROM rollup_daily",
    "DELETE FROM rollup_products",
    "DELETE FROM rollup_balances",
    "INSERT INTO rollup_daily (partner_code, day, link_code, sub_id, hits, opt_ins, orders, unverified, revenue_minor, commission_minor, clawback_minor)
     SELECT partner_code, day, link_code, sub_id, CAST(SUM(hits) AS BIGINT), CAST(SUM(opt_ins) AS BIGINT), CAST(SUM(orders) AS BIGINT),
            CAST(SUM(unverified) AS BIGINT), CAST(SUM(revenue) AS BIGINT), CAST(SUM(commission) AS BIGINT), CAST(SUM(clawback) AS BIGINT)
     FROM (
       SELECT partner_code, at_ms / 86400000 AS day, COALESCE(link_code, '') AS link_code, COALESCE(sub_id, '') AS sub_id,
              COUNT(*) AS hits, CAST(0 AS BIGINT) AS opt_ins, CAST(0 AS BIGINT) AS orders, CAST(0 AS BIGINT) AS unverified,
              CAST(0 AS BIGINT) AS revenue, CAST(0 AS BIGINT) AS commission, CAST(0 AS BIGINT) AS clawback
         FROM clicks GROUP BY 1, 2, 3, 4
       UNION ALL
       SELECT partner_code, at_ms / 86400000, COALESCE(link_code, ''), COALESCE(sub_id, ''), 0, COUNT(*), 0, 0, 0, 0, 0
         FROM leads WHERE partner_code IS NOT NULL GROUP BY 1, 2, 3, 4
       UNION ALL
       SELECT partner_code, occurred_at_ms / 86400000, COALESCE(link_code, ''), COALESCE(sub_id, ''), 0, 0, COUNT(*), 0,
              CAST(SUM(total_minor) AS BIGINT), 0, 0
         FROM orders WHERE partner_code IS NOT NULL GROUP BY 1, 2, 3, 4
       UNION ALL
       SELECT partner_code, at_ms / 86400000, COALESCE(link_code, ''), COALESCE(sub_id, ''), 0, 0, 0, COUNT(*), 0, 0, 0
         FROM conversions WHERE partner_code IS NOT NULL AND verified_order_id IS NULL GROUP BY 1, 2, 3, 4
       UNION ALL
       SELECT partner_code, at_ms / 86400000, COALESCE(link_code, ''), COALESCE(sub_id, ''), 0, 0, 0, 0, 0,
              CAST(COALESCE(SUM(CASE WHEN kind IN ('earned', 'void', 'move') THEN amount_minor END), 0) AS BIGINT),
              CAST(COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0) AS BIGINT)
         FROM ledger WHERE kind IN ('earned', 'clawback', 'void', 'move') GROUP BY 1, 2, 3, 4
     ) AS raw GROUP BY partner_code, day, link_code, sub_id",
    "INSERT INTO rollup_products (partner_code, day, sku, currency, name, quantity, revenue_minor)
     SELECT partner_code, day, sku, currency, MAX(name), CAST(SUM(quantity) AS BIGINT), CAST(SUM(revenue) AS BIGINT) FROM (
       SELECT o.partner_code, o.occurred_at_ms / 86400000 AS day, i.sku, o.currency, i.name, i.quantity,
              i.quantity * i.unit_price_minor AS revenue
         FROM orders o JOIN order_items i ON i.order_id = o.order_id WHERE o.partner_code IS NOT NULL
       UNION ALL
       SELECT o.partner_code, o.occurred_at_ms / 86400000, '', o.currency, '', 1, o.total_minor
         FROM orders o WHERE o.partner_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id)
     ) AS sold GROUP BY partner_code, day, sku, currency",
    "INSERT INTO rollup_balances (partner_code, currency, earned_minor, clawed_back_minor, reversed_minor, adjusted_minor,
                                  paid_minor, balance_minor)
     SELECT partner_code, currency,
            CAST(COALESCE(SUM(CASE WHEN kind = 'earned' THEN amount_minor END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN kind IN ('void', 'move') THEN -amount_minor END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN kind = 'adjustment' THEN amount_minor END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN kind = 'payout' THEN -amount_minor END), 0) AS BIGINT),
            CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT)
     FROM ledger GROUP BY partner_code, currency",
];

impl Store {
    /// Recomputes every rollup from the raw rows, in one transaction.
    pub async fn rebuild_rollups(&self) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        for sql in REBUILD {
            sqlx::query(sql).execute(tx.conn()).await?;
        }
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ('rollups', 'built') ON CONFLICT (name) DO NOTHING")
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Builds the rollups once, the first time this database is opened with them.
    pub(super) async fn build_rollups_once(&self) -> Result<(), DbError> {
        let built: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'rollups'").fetch_optional(&self.pool).await?;
        if built.is_none() {
            self.rebuild_rollups().await?;
        }
        Ok(())
    }
}
