//! Signed orders (with their lines, ledger entries and new contact, in one transaction), the
//! earlier payments of a subscription, and signed leads.

use super::events::Origin;
use super::rollups::{self, Daily, Deltas};
use super::rows::{flag, parsed, parsed_opt};
use super::tracking::{insert_contact, insert_fraud, insert_lead, unprefixed};
use super::{DbError, NewLead, NewOrder, OrderAnswer, Recorded, Store, StoredAnswer, PIXEL_LEDGER_PREFIX};
use crate::domain::outgoing::{self, OrderFacts};
use crate::domain::plan::{Payment, TouchFact};
use reftrack_protocol::{PartnerCode, ProgramCode};
use sqlx::Row;

/// Changes a stored order's credit to `partner` (a hand-made credit or a move), in the caller's
/// transaction: with [`Store::insert_order`], the only place an order's credit is written. The
/// order's own click, link and SubID belonged to its previous credit (they are kept in its
/// credit history).
pub(super) async fn update_credit(
    tx: &mut super::Tx,
    order_id: &str,
    partner: &PartnerCode,
    program: Option<&ProgramCode>,
    commission_minor: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE orders SET partner_code = $2, program_code = $3, commission_minor = $4, status = 'attributed', reason = NULL,
                           click_id = NULL, link_code = NULL, sub_id = NULL
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(partner.as_str())
    .bind(program.map(|p| p.as_str()))
    .bind(commission_minor)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Store {
    /// The stored answer of an order, with the partner it credited.
    pub async fn order_answer(&self, order_id: &str) -> Result<Option<OrderAnswer>, DbError> {
        let row = sqlx::query("SELECT body_hash, response_json, partner_code FROM orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(OrderAnswer {
            answer: StoredAnswer { body_hash: r.try_get("body_hash")?, response_json: r.try_get("response_json")? },
            partner: parsed_opt(&r, "partner_code")?,
        }))
    }

    /// Stores an order, its lines and ledger entries atomically. `Conflict` if the id exists.
    pub async fn insert_order(&self, o: NewOrder<'_>) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        write_order(&mut tx, &o).await?;
        tx.commit().await
    }

    /// Stores several orders in one transaction (one commit, so one fsync, for all of them),
    /// each inside its own savepoint: an order that fails (a duplicate id, a refused row) is rolled
    /// back alone and its outcome says why, while the others are kept. The outer error is for the
    /// whole group — storage unavailable, or the commit itself failing — and then none is stored.
    pub async fn insert_orders(&self, orders: &[NewOrder<'_>]) -> Result<Vec<Result<(), DbError>>, DbError> {
        let mut tx = self.write().await?;
        let mut outcomes = Vec::with_capacity(orders.len());
        for o in orders {
            sqlx::query("SAVEPOINT one_order").execute(tx.conn()).await?;
            match write_order(&mut tx, o).await {
                Ok(()) => {
                    sqlx::query("RELEASE SAVEPOINT one_order").execute(tx.conn()).await?;
                    outcomes.push(Ok(()));
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT one_order").execute(tx.conn()).await?;
                    sqlx::query("RELEASE SAVEPOINT one_order").execute(tx.conn()).await?;
                    outcomes.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The payments of a subscription, oldest first.
    pub async fn subscription_payments(&self, subscription_id: &str) -> Result<Vec<Payment>, DbError> {
        let rows = sqlx::query(
            "SELECT order_id, occurred_at_ms, renewal, partner_code, click_id, link_code, sub_id, program_code
             FROM orders WHERE subscription_id = $1 ORDER BY occurred_at_ms, order_id",
        )
        .bind(subscription_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let occurred_at_ms: i64 = r.try_get("occurred_at_ms")?;
            let credited = match parsed_opt(r, "partner_code")? {
                Some(partner) => Some(TouchFact {
                    partner,
                    click_id: parsed_opt(r, "click_id")?,
                    link: parsed_opt(r, "link_code")?,
                    sub_id: parsed_opt(r, "sub_id")?,
                    program: parsed_opt(r, "program_code")?,
                    at_ms: occurred_at_ms,
                    expires_at_ms: i64::MAX,
                }),
                None => None,
            };
            out.push(Payment { order_id: parsed(r, "order_id")?, occurred_at_ms, renewal: flag(r, "renewal")?, credited });
        }
        Ok(out)
    }

    /// Records a server-side lead once per key (the tool's own lead id, else the message id); a
    /// replay gets the first answer.
    pub async fn record_signed_lead(&self, key: &str, lead: &NewLead, answer: &StoredAnswer) -> Result<Recorded, DbError> {
        let mut tx = self.write().await?;
        let claimed =
            sqlx::query("INSERT INTO signed_leads (msg_id, body_hash, response_json) VALUES ($1, $2, $3) ON CONFLICT (msg_id) DO NOTHING")
                .bind(key)
                .bind(&answer.body_hash)
                .bind(&answer.response_json)
                .execute(tx.conn())
                .await?
                .rows_affected()
                == 1;
        if !claimed {
            tx.rollback().await?;
            let row =
                sqlx::query("SELECT body_hash, response_json FROM signed_leads WHERE msg_id = $1").bind(key).fetch_one(&self.pool).await?;
            let answer = StoredAnswer { body_hash: row.try_get("body_hash")?, response_json: row.try_get("response_json")? };
            return Ok(Recorded { answer, fresh: false });
        }
        let mut deltas = Deltas::default();
        insert_lead(&mut tx, &mut deltas, lead).await?;
        deltas.apply(&mut tx).await?;
        tx.commit().await?;
        Ok(Recorded { answer: answer.clone(), fresh: true })
    }
}

/// Writes an order, its lines, ledger entries, contact, verified conversions and rollups in `tx`.
async fn write_order(tx: &mut super::Tx, o: &NewOrder<'_>) -> Result<(), DbError> {
    let order = o.order;
    let plan = o.plan;
    let order_id = order.order_id.as_str();
    let touch = plan.touch();
    sqlx::query(
        "INSERT INTO orders (order_id, body_hash, source, occurred_at_ms, currency, total_minor, email, click_id, partner_code,
                             link_code, sub_id, status, commission_minor, response_json, received_at_ms, bare_id,
                             subscription_id, renewal, program_code, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(order_id)
    .bind(o.body_hash)
    .bind(&order.source)
    .bind(crate::domain::period::to_ms(order.occurred_at))
    .bind(order.currency.as_str())
    .bind(order.total_minor)
    .bind(order.customer.email.as_ref().map(|e| e.as_str()))
    .bind(touch.and_then(|t| t.click_id.as_ref()).map(|c| c.as_str()))
    .bind(touch.map(|t| t.partner.as_str()))
    .bind(touch.and_then(|t| t.link.as_ref()).map(|l| l.as_str()))
    .bind(touch.and_then(|t| t.sub_id.as_ref()).map(|s| s.as_str()))
    .bind(if touch.is_some() { "attributed" } else { "unattributed" })
    .bind(plan.commission_minor())
    .bind(o.response_json)
    .bind(o.received_at_ms)
    .bind(unprefixed(order_id))
    .bind(order.subscription_id.as_deref())
    .bind(order.renewal)
    .bind(plan.program.as_ref().map(|p| p.as_str()))
    .bind(plan.reason().map(|r| r.as_str()))
    .execute(tx.conn())
    .await?;
    let mut deltas = Deltas::default();
    let occurred_at_ms = crate::domain::period::to_ms(order.occurred_at);
    if let Some(t) = touch {
        deltas.sale(t.partner.as_str(), t.link.as_ref().map(|l| l.as_str()), t.sub_id.as_ref().map(|s| s.as_str()), order, 1);
    }
    if let Some(signal) = &plan.fraud {
        insert_fraud(tx, signal).await?;
    }
    for (line, item) in order.items.iter().enumerate() {
        sqlx::query("INSERT INTO order_items (order_id, line, sku, name, quantity, unit_price_minor) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(order_id)
            .bind(line as i64)
            .bind(&item.sku)
            .bind(&item.name)
            .bind(item.quantity)
            .bind(item.unit_price_minor)
            .execute(tx.conn())
            .await?;
    }
    // The signed order supersedes any commission booked on its pixel conversion.
    let superseded = sqlx::query(
        "DELETE FROM ledger WHERE refund_id IS NULL AND order_id IN ($1, $2)
         RETURNING partner_code, kind, amount_minor, currency, link_code, sub_id, at_ms",
    )
    .bind([PIXEL_LEDGER_PREFIX, order_id].concat())
    .bind([PIXEL_LEDGER_PREFIX, unprefixed(order_id)].concat())
    .fetch_all(tx.conn())
    .await?;
    for r in &superseded {
        let (partner, currency): (String, String) = (r.try_get("partner_code")?, r.try_get("currency")?);
        let (link, sub_id): (Option<String>, Option<String>) = (r.try_get("link_code")?, r.try_get("sub_id")?);
        let key = rollups::key(&partner, r.try_get("at_ms")?, link.as_deref(), sub_id.as_deref());
        deltas.ledger(&partner, &currency, parsed(r, "kind")?, -r.try_get::<i64, _>("amount_minor")?, key);
    }
    // Its pixel conversions are no longer unverified.
    let confirmed = sqlx::query(
        "SELECT partner_code, link_code, sub_id, at_ms FROM conversions
         WHERE order_id IN ($1, $2) AND verified_order_id IS NULL AND partner_code IS NOT NULL",
    )
    .bind(order_id)
    .bind(unprefixed(order_id))
    .fetch_all(tx.conn())
    .await?;
    for r in &confirmed {
        let (partner, link, sub_id): (String, Option<String>, Option<String>) =
            (r.try_get("partner_code")?, r.try_get("link_code")?, r.try_get("sub_id")?);
        let key = rollups::key(&partner, r.try_get("at_ms")?, link.as_deref(), sub_id.as_deref());
        deltas.daily(key, Daily { unverified: -1, ..Daily::default() });
    }
    let order_event = OrderFacts {
        order_id,
        occurred_at_ms,
        currency: order.currency.as_str(),
        total_minor: order.total_minor,
        email: order.customer.email.as_ref().map(|e| e.as_str()),
        partner: touch.map(|t| t.partner.as_str()),
        program: plan.program.as_ref().map(|p| p.as_str()),
        click_id: touch.and_then(|t| t.click_id.as_ref()).map(|c| c.as_str()),
        link: touch.and_then(|t| t.link.as_ref()).map(|l| l.as_str()),
        sub_id: touch.and_then(|t| t.sub_id.as_ref()).map(|s| s.as_str()),
        commission_minor: plan.commission_minor(),
        reason: plan.reason().map(|r| r.as_str()),
    };
    deltas.events.push(outgoing::order_event(&order_event, o.received_at_ms));
    let origin = Origin {
        now_ms: o.received_at_ms,
        order_total_minor: Some(order.total_minor),
        click_id: touch.and_then(|t| t.click_id.as_ref()).map(|c| c.as_str()),
    };
    super::ledger::insert_bookings(tx, &mut deltas, order_id, None, &order.currency, occurred_at_ms, &plan.bookings, Some(&origin)).await?;
    if let (Some(email), Some(contact)) = (&order.customer.email, &plan.new_contact) {
        insert_contact(tx, email, contact).await?;
    }
    sqlx::query("UPDATE conversions SET verified_order_id = $1 WHERE order_id IN ($1, $2)")
        .bind(order_id)
        .bind(unprefixed(order_id))
        .execute(tx.conn())
        .await?;
    deltas.apply(tx).await
}
