//! Orders as the merchant looks them up — a searchable list, one order with its lines, refunds,
//! ledger entries and credit history — and crediting an order by hand (or moving it), decided on
//! the order as read inside its own transaction, with the order's row locked as refunds lock it.

use super::rollups::Deltas;
use super::rows::{parsed, parsed_opt};
use super::{DbError, LedgerRecord, Store};
use crate::domain::ledger::Booking;
use crate::domain::outgoing::{self, OrderFacts};
use crate::domain::period::from_ms;
use crate::domain::refund::Refunded;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, LineItem, LinkCode, PartnerCode, ProgramCode, SubId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One order in the merchant's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    pub order_id: String,
    pub occurred_at_ms: i64,
    pub source: String,
    pub currency: Currency,
    pub total_minor: i64,
    pub email: Option<String>,
    /// `attributed` or `unattributed`.
    pub status: String,
    pub partner: Option<PartnerCode>,
    /// How it was credited: `click`, `lead`, `named`, `subscription`, or `manual` (by hand).
    pub credited_by: Option<String>,
    /// Why it was not: `no_touch`, `outside_window`, `self_referral`.
    pub reason: Option<String>,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub program: Option<ProgramCode>,
    /// The sale partner's commission as credited.
    pub commission_minor: i64,
    /// Every share still held on the order (earned less clawed back, voided or moved).
    pub commissions_minor: i64,
    pub refunded_minor: i64,
    pub renewal: bool,
    pub subscription_id: Option<String>,
}

/// What the list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// `attributed` or `unattributed`.
    pub status: Option<String>,
    pub partner: Option<String>,
    /// Part of the order id or the buyer's email, any case.
    pub q: Option<String>,
    pub limit: i64,
}

/// A hand-made change of an order's credit, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditChange {
    pub id: i64,
    pub from_partner: Option<PartnerCode>,
    pub from_link: Option<LinkCode>,
    pub from_sub_id: Option<SubId>,
    pub from_click_id: Option<ClickId>,
    pub from_status: String,
    pub partner: PartnerCode,
    pub reason: String,
    pub at_ms: i64,
}

/// A refund of an order, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRow {
    pub refund_id: String,
    /// `refund` or `dispute`.
    pub kind: String,
    pub amount_minor: i64,
    /// For a cart that reports the order's refunded total so far.
    pub refunded_total_minor: Option<i64>,
    pub occurred_at_ms: i64,
}

/// One order with everything recorded about it.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub row: OrderRow,
    /// The order as crediting reads it, rebuilt from what was stored.
    pub order: CanonicalOrder,
    pub click_id: Option<ClickId>,
    pub refunded: Refunded,
    pub refunds: Vec<RefundRow>,
    pub entries: Vec<LedgerRecord>,
    pub credits: Vec<CreditChange>,
}

/// The new credit of an order, decided by the back office.
#[derive(Debug, Clone)]
pub struct NewCredit {
    pub partner: PartnerCode,
    pub program: Option<ProgramCode>,
    pub commission_minor: i64,
    pub reason: String,
    /// The entries cancelling the old shares and earning the new ones.
    pub bookings: Vec<Booking>,
}

const ORDER_COLUMNS: &str = "o.order_id, o.occurred_at_ms, o.source, o.currency, o.total_minor, o.email, o.status, o.partner_code,
    o.reason, o.link_code, o.sub_id, o.program_code, o.commission_minor, o.renewal, o.subscription_id, o.response_json, o.click_id,
    (SELECT COUNT(*) FROM order_credits c WHERE c.order_id = o.order_id) AS credits,
    CAST((SELECT COALESCE(SUM(l.amount_minor), 0) FROM ledger l
          WHERE l.order_id = o.order_id AND l.kind IN ('earned', 'clawback', 'void', 'move')) AS BIGINT) AS held,
    CAST((SELECT COALESCE(SUM(CASE WHEN r.kind = 'refund' THEN r.amount_minor END), 0) FROM refunds r WHERE r.order_id = o.order_id) AS BIGINT) AS singles,
    CAST((SELECT COALESCE(MAX(r.refunded_total_minor), 0) FROM refunds r WHERE r.order_id = o.order_id) AS BIGINT) AS highest,
    CAST((SELECT COALESCE(SUM(CASE WHEN r.kind = 'dispute' THEN r.amount_minor END), 0) FROM refunds r WHERE r.order_id = o.order_id) AS BIGINT) AS disputes";

fn refunded_of(r: &AnyRow) -> Result<Refunded, sqlx::Error> {
    Ok(Refunded {
        singles_minor: r.try_get("singles")?,
        highest_total_minor: r.try_get("highest")?,
        disputes_minor: r.try_get("disputes")?,
    })
}

fn order_row(r: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    let total_minor: i64 = r.try_get("total_minor")?;
    let manual = r.try_get::<i64, _>("credits")? > 0;
    // How the order arrived credited is in its stored answer; a hand-made credit replaces it.
    let answered: Option<String> = serde_json::from_str::<serde_json::Value>(&r.try_get::<String, _>("response_json")?)
        .ok()
        .and_then(|v| v["credited_by"].as_str().map(str::to_owned));
    Ok(OrderRow {
        order_id: r.try_get("order_id")?,
        occurred_at_ms: r.try_get("occurred_at_ms")?,
        source: r.try_get("source")?,
        currency: parsed(r, "currency")?,
        total_minor,
        email: r.try_get("email")?,
        status: r.try_get("status")?,
        partner: parsed_opt(r, "partner_code")?,
        credited_by: if manual { Some("manual".into()) } else { answered },
        reason: r.try_get("reason")?,
        link: parsed_opt(r, "link_code")?,
        sub_id: parsed_opt(r, "sub_id")?,
        program: parsed_opt(r, "program_code")?,
        commission_minor: r.try_get("commission_minor")?,
        commissions_minor: r.try_get("held")?,
        refunded_minor: refunded_of(r)?.amount(total_minor),
        renewal: super::rows::flag(r, "renewal")?,
        subscription_id: r.try_get("subscription_id")?,
    })
}

/// `%text%` for LIKE, with the pattern characters in `text` escaped.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Orders, newest first, filtered.
    pub async fn list_orders(&self, f: &OrderFilter) -> Result<Vec<OrderRow>, DbError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o
             WHERE (CAST($1 AS TEXT) IS NULL OR o.status = $1)
               AND (CAST($2 AS TEXT) IS NULL OR o.partner_code = $2)
               AND (CAST($3 AS TEXT) IS NULL OR LOWER(o.order_id) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(o.email, '')) LIKE $3 ESCAPE '\\')
             ORDER BY o.occurred_at_ms DESC, o.order_id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(f.status.as_deref())
            .bind(f.partner.as_deref())
            .bind(f.q.as_deref().map(contains_pattern))
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(order_row).collect::<Result<_, _>>()?)
    }

    /// One order with its lines, refunds, ledger entries and credit history.
    pub async fn stored_order(&self, order_id: &str) -> Result<Option<StoredOrder>, DbError> {
        let mut conn = self.pool.acquire().await?;
        read_order(&mut conn, order_id).await
    }

    /// Credits an order by hand (or moves it): `decide` plans the new credit from the order as
    /// read in this transaction, with its row locked, so a refund or another move of the same
    /// order waits; its bookings, the order's new credit and the history row are written
    /// together. `NotFound` if the order is unknown; `decide`'s refusal writes nothing.
    pub async fn recredit_order<E>(
        &self,
        order_id: &str,
        now_ms: i64,
        decide: impl FnOnce(&StoredOrder) -> Result<NewCredit, E>,
    ) -> Result<Result<StoredOrder, E>, DbError> {
        let mut tx = self.write().await?;
        sqlx::query(&format!("SELECT order_id FROM orders WHERE order_id = $1{}", self.dialect.for_update()))
            .bind(order_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(DbError::NotFound("order"))?;
        let stored = read_order(tx.conn(), order_id).await?.ok_or(DbError::NotFound("order"))?;
        let credit = match decide(&stored) {
            Ok(credit) => credit,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Err(refusal));
            }
        };
        sqlx::query(
            "INSERT INTO order_credits (order_id, from_partner_code, from_link_code, from_sub_id, from_click_id, from_status,
                                        partner_code, reason, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(order_id)
        .bind(stored.row.partner.as_ref().map(|p| p.as_str()))
        .bind(stored.row.link.as_ref().map(|l| l.as_str()))
        .bind(stored.row.sub_id.as_ref().map(|s| s.as_str()))
        .bind(stored.click_id.as_ref().map(|c| c.as_str()))
        .bind(&stored.row.status)
        .bind(credit.partner.as_str())
        .bind(&credit.reason)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        super::orders::update_credit(&mut tx, order_id, &credit.partner, credit.program.as_ref(), credit.commission_minor).await?;
        let mut deltas = Deltas::default();
        move_order_figures(&mut deltas, &stored, &credit.partner);
        let facts = OrderFacts {
            order_id,
            occurred_at_ms: stored.row.occurred_at_ms,
            currency: stored.row.currency.as_str(),
            total_minor: stored.row.total_minor,
            email: stored.row.email.as_deref(),
            partner: Some(credit.partner.as_str()),
            program: credit.program.as_ref().map(|p| p.as_str()),
            commission_minor: credit.commission_minor,
            reason: Some(&credit.reason),
            ..OrderFacts::default()
        };
        deltas.events.push(outgoing::order_event(&facts, now_ms));
        let origin = super::events::Origin { now_ms, order_total_minor: Some(stored.row.total_minor), click_id: None };
        let entries = super::ledger::Entries {
            order_id,
            refund_id: None,
            currency: &stored.row.currency,
            at_ms: now_ms,
            bookings: &credit.bookings,
            origin: Some(origin),
        };
        super::ledger::insert_entries(&mut tx, &mut deltas, &[entries]).await?;
        deltas.apply(&mut tx).await?;
        let after = read_order(tx.conn(), order_id).await?.ok_or(DbError::NotFound("order"))?;
        tx.commit().await?;
        Ok(Ok(after))
    }
}

/// The order's sale figures taken from the partner it was credited to, if any, and given to `to`
/// (without a link or SubID: a credit by hand has none).
fn move_order_figures(deltas: &mut Deltas, stored: &StoredOrder, to: &PartnerCode) {
    if let Some(from) = &stored.row.partner {
        let (link, sub_id) = (stored.row.link.as_ref().map(|l| l.as_str()), stored.row.sub_id.as_ref().map(|s| s.as_str()));
        deltas.sale(from.as_str(), link, sub_id, &stored.order, -1);
    }
    deltas.sale(to.as_str(), None, None, &stored.order, 1);
}

async fn read_order(conn: &mut sqlx::AnyConnection, order_id: &str) -> Result<Option<StoredOrder>, DbError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders o WHERE o.order_id = $1");
    let Some(r) = sqlx::query(&sql).bind(order_id).fetch_optional(&mut *conn).await? else { return Ok(None) };
    let row = order_row(&r)?;
    let refunded = refunded_of(&r)?;
    let click_id = parsed_opt(&r, "click_id")?;
    let items = sqlx::query("SELECT sku, name, quantity, unit_price_minor FROM order_items WHERE order_id = $1 ORDER BY line")
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|i| {
            Ok(LineItem {
                sku: i.try_get("sku")?,
                name: i.try_get("name")?,
                quantity: i.try_get("quantity")?,
                unit_price_minor: i.try_get("unit_price_minor")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let refunds = sqlx::query(
        "SELECT refund_id, kind, amount_minor, refunded_total_minor, occurred_at_ms FROM refunds WHERE order_id = $1 ORDER BY occurred_at_ms, refund_id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(RefundRow {
            refund_id: r.try_get("refund_id")?,
            kind: r.try_get("kind")?,
            amount_minor: r.try_get("amount_minor")?,
            refunded_total_minor: r.try_get("refunded_total_minor")?,
            occurred_at_ms: r.try_get("occurred_at_ms")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let entries: Vec<LedgerRecord> =
        sqlx::query_as("SELECT * FROM ledger WHERE order_id = $1 ORDER BY id").bind(order_id).fetch_all(&mut *conn).await?;
    let credits = sqlx::query("SELECT * FROM order_credits WHERE order_id = $1 ORDER BY id")
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|c| {
            Ok(CreditChange {
                id: c.try_get("id")?,
                from_partner: parsed_opt(c, "from_partner_code")?,
                from_link: parsed_opt(c, "from_link_code")?,
                from_sub_id: parsed_opt(c, "from_sub_id")?,
                from_click_id: parsed_opt(c, "from_click_id")?,
                from_status: c.try_get("from_status")?,
                partner: parsed(c, "partner_code")?,
                reason: c.try_get("reason")?,
                at_ms: c.try_get("at_ms")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Discount, shipping and tax are not stored apart: lines worth more than the total were
    // discounted by the difference, which is what per-line commission needs (shipping and tax
    // earn nothing, so they need not be told apart).
    let lines: i64 = items.iter().map(|i| i.unit_price_minor.saturating_mul(i.quantity)).sum();
    let order = CanonicalOrder {
        order_id: parsed(&r, "order_id")?,
        occurred_at: from_ms(row.occurred_at_ms),
        currency: row.currency,
        items,
        total_minor: row.total_minor,
        discount_minor: (lines - row.total_minor).max(0),
        shipping_minor: 0,
        tax_minor: 0,
        customer: Customer { email: parsed_opt(&r, "email")? },
        attribution: Attribution::default(),
        source: row.source.clone(),
        renewal: row.renewal,
        subscription_id: row.subscription_id.clone(),
    };
    Ok(Some(StoredOrder { row, order, click_id, refunded, refunds, entries, credits }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn searched_text_matches_itself_only() {
        assert_eq!(super::contains_pattern("Stripe:CS_1%"), "%stripe:cs\\_1\\%%");
    }
}
