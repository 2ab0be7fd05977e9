//! Signed orders (with their lines, ledger entries and new contact, in one transaction), the
//! earlier payments of a subscription, and signed leads.

use super::events::Origin;
use super::ledger::{insert_entries, Entries};
use super::rollups::{self, Daily, Deltas};
use super::rows::{flag, parsed, parsed_opt, placeholders, rows_per_statement};
use super::tracking::{insert_contacts, insert_fraud, insert_lead, unprefixed};
use super::{DbError, NewLead, NewOrder, OrderAnswer, Reading, Recorded, Store, StoredAnswer, PIXEL_LEDGER_PREFIX};
use crate::domain::outgoing::{self, OrderFacts};
use crate::domain::plan::{Payment, TouchFact};
use reftrack_protocol::{PartnerCode, ProgramCode};
use sqlx::Row;
use std::collections::HashSet;

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
        order_answer(&self.pool, order_id).await
    }

    /// Stores an order, its lines and ledger entries atomically. `Conflict` if the id exists.
    pub async fn insert_order(&self, o: NewOrder<'_>) -> Result<(), DbError> {
        let mut tx = self.write_orders().await?;
        write_order(&mut tx, &o).await?;
        tx.commit().await
    }

    /// Stores several orders in one transaction (one commit, so one fsync, for all of them). An
    /// order whose id is stored already is refused alone (`Conflict`) and the others are kept.
    /// The group is first written together, each table in as few statements as it takes; should
    /// that fail (a row refused), it is written again with each order in a savepoint of its own,
    /// so the order at fault is rolled back alone and its outcome says why. The outer error is
    /// for the whole group — storage unavailable, or the commit itself failing — and then none is
    /// stored.
    pub async fn insert_orders(&self, orders: &[NewOrder<'_>]) -> Result<Vec<Result<(), DbError>>, DbError> {
        if orders.len() > 1 {
            match self.insert_orders_together(orders).await {
                Err(e) if !e.is_unavailable() => {
                    tracing::warn!(error = ?e, size = orders.len(), "a group of orders failed together; writing each on its own")
                }
                done => return done,
            }
        }
        self.insert_orders_apart(orders).await
    }

    async fn insert_orders_together(&self, orders: &[NewOrder<'_>]) -> Result<Vec<Result<(), DbError>>, DbError> {
        let mut tx = self.write_orders().await?;
        let stored = stored_order_ids(&mut tx, orders).await?;
        let mut taken: HashSet<&str> = HashSet::with_capacity(orders.len());
        let mut fresh = Vec::with_capacity(orders.len());
        let outcomes = orders
            .iter()
            .map(|o| {
                let id = o.order.order_id.as_str();
                if stored.contains(id) || !taken.insert(id) {
                    return Err(DbError::Conflict(format!("order {id} is stored already")));
                }
                fresh.push(o);
                Ok(())
            })
            .collect();
        insert_order_rows(&mut tx, &fresh).await?;
        let pixels = pixel_claimed(&mut tx, &fresh).await?;
        let mut deltas = Deltas::default();
        let mut entries = Vec::with_capacity(fresh.len());
        for o in &fresh {
            let claimed = pixels.contains(o.order.order_id.as_str()) || pixels.contains(unprefixed(o.order.order_id.as_str()));
            entries.push(write_order_effects(&mut tx, &mut deltas, o, claimed).await?);
        }
        insert_entries(&mut tx, &mut deltas, &entries).await?;
        insert_order_contacts(&mut tx, &fresh).await?;
        deltas.apply(&mut tx).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Each order in its own savepoint: a refused order is rolled back alone.
    async fn insert_orders_apart(&self, orders: &[NewOrder<'_>]) -> Result<Vec<Result<(), DbError>>, DbError> {
        let mut tx = self.write_orders().await?;
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
        subscription_payments(&self.pool, subscription_id).await
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

impl Reading<'_> {
    /// The stored answer of an order, with the partner it credited.
    pub async fn order_answer(&mut self, order_id: &str) -> Result<Option<OrderAnswer>, DbError> {
        order_answer(&mut *self.conn, order_id).await
    }

    /// The payments of a subscription, oldest first.
    pub async fn subscription_payments(&mut self, subscription_id: &str) -> Result<Vec<Payment>, DbError> {
        subscription_payments(&mut *self.conn, subscription_id).await
    }
}

async fn order_answer<'e>(on: impl sqlx::Executor<'e, Database = sqlx::Any>, order_id: &str) -> Result<Option<OrderAnswer>, DbError> {
    let row = sqlx::query("SELECT body_hash, response_json, partner_code FROM orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(on)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(OrderAnswer {
        answer: StoredAnswer { body_hash: r.try_get("body_hash")?, response_json: r.try_get("response_json")? },
        partner: parsed_opt(&r, "partner_code")?,
    }))
}

/// The payments of a subscription, oldest first.
async fn subscription_payments<'e>(
    on: impl sqlx::Executor<'e, Database = sqlx::Any>,
    subscription_id: &str,
) -> Result<Vec<Payment>, DbError> {
    let rows = sqlx::query(
        "SELECT order_id, occurred_at_ms, renewal, partner_code, click_id, link_code, sub_id, program_code
         FROM orders WHERE subscription_id = $1 ORDER BY occurred_at_ms, order_id",
    )
    .bind(subscription_id)
    .fetch_all(on)
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

/// Writes an order, its lines, ledger entries, contact, verified conversions and rollups in `tx`.
async fn write_order(tx: &mut super::Tx, o: &NewOrder<'_>) -> Result<(), DbError> {
    insert_order_rows(tx, &[o]).await?;
    let mut deltas = Deltas::default();
    let entries = write_order_effects(tx, &mut deltas, o, true).await?;
    insert_entries(tx, &mut deltas, &[entries]).await?;
    insert_order_contacts(tx, &[o]).await?;
    deltas.apply(tx).await
}

/// The ids of these orders that are stored already.
async fn stored_order_ids(tx: &mut super::Tx, orders: &[NewOrder<'_>]) -> Result<HashSet<String>, DbError> {
    let mut stored = HashSet::new();
    for chunk in orders.chunks(rows_per_statement(1)) {
        let sql = format!("SELECT order_id FROM orders WHERE order_id IN {}", placeholders(tx.dialect(), 1, chunk.len()));
        let mut query = sqlx::query_scalar(&sql);
        for o in chunk {
            query = query.bind(o.order.order_id.as_str());
        }
        stored.extend(query.fetch_all(tx.conn()).await?);
    }
    Ok(stored)
}

/// Which of these orders' ids (full or source-less) a conversion pixel claimed: only those have
/// a pixel's commission to replace and conversions to verify.
async fn pixel_claimed(tx: &mut super::Tx, orders: &[&NewOrder<'_>]) -> Result<HashSet<String>, DbError> {
    let mut claimed = HashSet::new();
    for chunk in orders.chunks(rows_per_statement(2)) {
        let sql = format!("SELECT order_id FROM conversions WHERE order_id IN {}", placeholders(tx.dialect(), 1, chunk.len() * 2));
        let mut query = sqlx::query_scalar(&sql);
        for o in chunk {
            let id = o.order.order_id.as_str();
            query = query.bind(id).bind(unprefixed(id));
        }
        claimed.extend(query.fetch_all(tx.conn()).await?);
    }
    Ok(claimed)
}

/// The orders' rows and their lines, in one multi-row insert each.
async fn insert_order_rows(tx: &mut super::Tx, orders: &[&NewOrder<'_>]) -> Result<(), DbError> {
    for chunk in orders.chunks(rows_per_statement(20)) {
        let sql = format!(
            "INSERT INTO orders (order_id, body_hash, source, occurred_at_ms, currency, total_minor, email, click_id, partner_code,
                                 link_code, sub_id, status, commission_minor, response_json, received_at_ms, bare_id,
                                 subscription_id, renewal, program_code, reason)
             VALUES {}",
            placeholders(tx.dialect(), chunk.len(), 20)
        );
        let mut insert = sqlx::query(&sql);
        for o in chunk {
            let (order, plan) = (o.order, o.plan);
            let touch = plan.touch();
            insert = insert
                .bind(order.order_id.as_str())
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
                .bind(unprefixed(order.order_id.as_str()))
                .bind(order.subscription_id.as_deref())
                .bind(order.renewal)
                .bind(plan.program.as_ref().map(|p| p.as_str()))
                .bind(plan.reason().map(|r| r.as_str()));
        }
        insert.execute(tx.conn()).await?;
    }
    let lines: Vec<(&str, usize, &reftrack_protocol::LineItem)> =
        orders.iter().flat_map(|o| o.order.items.iter().enumerate().map(|(line, item)| (o.order.order_id.as_str(), line, item))).collect();
    for chunk in lines.chunks(rows_per_statement(6)) {
        let sql = format!(
            "INSERT INTO order_items (order_id, line, sku, name, quantity, unit_price_minor) VALUES {}",
            placeholders(tx.dialect(), chunk.len(), 6)
        );
        let mut insert = sqlx::query(&sql);
        for (order_id, line, item) in chunk {
            insert =
                insert.bind(*order_id).bind(*line as i64).bind(&item.sku).bind(&item.name).bind(item.quantity).bind(item.unit_price_minor);
        }
        insert.execute(tx.conn()).await?;
    }
    Ok(())
}

/// The new contacts these orders bring, in one multi-row insert: the first order of an email wins,
/// as it would alone, and an email known already keeps its partner.
async fn insert_order_contacts(tx: &mut super::Tx, orders: &[&NewOrder<'_>]) -> Result<(), DbError> {
    let mut emails = HashSet::new();
    let contacts: Vec<_> = orders
        .iter()
        .filter_map(|o| o.order.customer.email.as_ref().zip(o.plan.new_contact.as_ref()))
        .filter(|(email, _)| emails.insert(email.as_str()))
        .collect();
    insert_contacts(tx, &contacts).await
}

/// What a stored order changes besides its own rows: its fraud signal, the pixel's commission it
/// replaces and the conversions it verifies (when `pixel_claimed`), and its figures and event
/// into `deltas`. Returns its ledger entries, for the caller to book with its neighbours'.
async fn write_order_effects<'a>(
    tx: &mut super::Tx,
    deltas: &mut Deltas,
    o: &NewOrder<'a>,
    pixel_claimed: bool,
) -> Result<Entries<'a>, DbError> {
    let order = o.order;
    let plan = o.plan;
    let order_id = order.order_id.as_str();
    let touch = plan.touch();
    let occurred_at_ms = crate::domain::period::to_ms(order.occurred_at);
    if let Some(t) = touch {
        deltas.sale(t.partner.as_str(), t.link.as_ref().map(|l| l.as_str()), t.sub_id.as_ref().map(|s| s.as_str()), order, 1);
    }
    if let Some(signal) = &plan.fraud {
        insert_fraud(tx, signal).await?;
    }
    if pixel_claimed {
        replace_pixel_claims(tx, deltas, order_id).await?;
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
    Ok(Entries {
        order_id,
        refund_id: None,
        currency: &order.currency,
        at_ms: occurred_at_ms,
        bookings: &plan.bookings,
        origin: Some(origin),
    })
}

/// The signed order supersedes any commission booked on its pixel conversion, and its
/// conversions are no longer unverified.
async fn replace_pixel_claims(tx: &mut super::Tx, deltas: &mut Deltas, order_id: &str) -> Result<(), DbError> {
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
    sqlx::query("UPDATE conversions SET verified_order_id = $1 WHERE order_id IN ($1, $2)")
        .bind(order_id)
        .bind(unprefixed(order_id))
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{DbError, NewOrder, Store};
    use crate::domain::attribution::Model;
    use crate::domain::plan::{plan_order, OrderFacts, OrderPlan};
    use reftrack_protocol::CanonicalOrder;

    fn order(id: &str) -> (CanonicalOrder, OrderPlan) {
        let order: CanonicalOrder = serde_json::from_value(serde_json::json!({
            "order_id": id, "occurred_at": "2026-11-30T12:00:00Z", "currency": "USD", "total_minor": 9900,
            "items": [{"sku": "course", "name": "The Course", "quantity": 1, "unit_price_minor": 9900}],
            "customer": {"email": format!("{}@buyers.example", id.replace(':', "."))}, "source": "api"
        }))
        .unwrap();
        let plan = plan_order(&order, &OrderFacts::default(), Model::default());
        (order, plan)
    }

    fn new<'a>((order, plan): &'a (CanonicalOrder, OrderPlan)) -> NewOrder<'a> {
        NewOrder { order, plan, body_hash: "hash", received_at_ms: 1_780_000_000_000, response_json: "{}" }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        (dir, store)
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&store.pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_group_stores_each_new_order_once_and_refuses_only_the_ids_stored_before_or_twice() {
        let (_dir, store) = store().await;
        let stored = order("api:stored");
        store.insert_order(new(&stored)).await.unwrap();
        let orders = [order("api:a"), order("api:b"), order("api:a"), stored, order("api:c")];
        let group: Vec<NewOrder> = orders.iter().map(new).collect();
        let outcomes = store.insert_orders(&group).await.unwrap();
        let refused: Vec<bool> = outcomes.iter().map(|o| matches!(o, Err(DbError::Conflict(_)))).collect();
        assert_eq!(refused, [false, false, true, true, false], "{outcomes:?}");
        assert!(outcomes.iter().all(|o| o.is_ok() || matches!(o, Err(DbError::Conflict(_)))));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM orders").await, 4);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM order_items").await, 4, "one line per order, none twice");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM events WHERE type = 'order.unattributed'").await, 4, "one event per stored order");
    }

    #[tokio::test]
    async fn an_order_the_database_refuses_costs_only_itself_in_a_group() {
        let (_dir, store) = store().await;
        // A real refusal by the database, for one order of the group.
        sqlx::query(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON orders WHEN NEW.order_id = 'api:bad'
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let orders = [order("api:1"), order("api:bad"), order("api:2")];
        let group: Vec<NewOrder> = orders.iter().map(new).collect();
        let outcomes = store.insert_orders(&group).await.unwrap();
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        assert!(outcomes[1].is_err(), "{outcomes:?}");
        let ids: Vec<String> = sqlx::query_scalar("SELECT order_id FROM orders ORDER BY order_id").fetch_all(&store.pool).await.unwrap();
        assert_eq!(ids, ["api:1", "api:2"]);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM order_items").await, 2);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM contacts").await, 0, "unattributed orders bring no lead partner");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 2, "no event for the refused order");
    }
}
