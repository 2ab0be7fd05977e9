//! The outbox of outgoing events: events written by the transaction of the change that caused
//! them (through [`Events`], carried in the rollups' `Deltas` and applied with them), each fanned
//! out then to one delivery per subscribed endpoint; the endpoints (merchant webhooks, partner
//! postbacks); deliveries claimed by one server at a time with a lease taken by a conditional
//! UPDATE (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and the outcome of each attempt.

use super::rows::{placeholders, push_param, rows_per_statement};
use super::{DbError, Store, Tx};
use crate::domain::outgoing::{self, Draft, EventType};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Events gathered over a transaction, written with it.
#[derive(Debug, Default)]
pub(super) struct Events {
    drafts: Vec<Draft>,
}

/// Where ledger entries come from, for their events (an `Entries` of the ledger without one
/// gets none).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Origin<'a> {
    pub now_ms: i64,
    pub order_total_minor: Option<i64>,
    pub click_id: Option<&'a str>,
}

/// A new event id: `evt_` and 128 bits in hex, the event's time first then 80 random bits, so
/// the events' primary-key index grows at its end (random ids put each event of a group of
/// orders on a page of its own, one more 4 KiB in the WAL).
fn new_event_id(at_ms: i64) -> String {
    format!("evt_{}", hex::encode(crate::domain::click_id::time_ordered(at_ms)))
}

impl Events {
    pub fn push(&mut self, draft: Draft) {
        self.drafts.push(draft);
    }

    /// Writes each event and one pending delivery per endpoint subscribed to it now (a
    /// partner's postbacks only for events naming that partner), and answers the events' ids in
    /// the order they were pushed.
    ///
    /// A group's events are written by one multi-row insert and fanned out by one more, so a
    /// group of orders costs two statements for all its events, not two for each.
    pub async fn apply(self, tx: &mut Tx) -> Result<Vec<String>, DbError> {
        let mut written = Vec::with_capacity(self.drafts.len());
        for chunk in self.drafts.chunks(rows_per_statement(6)) {
            let ids: Vec<String> = chunk.iter().map(|d| new_event_id(d.at_ms)).collect();
            let sql = format!(
                "INSERT INTO events (id, type, partner_code, created_at_ms, payload, macros) VALUES {}",
                placeholders(tx.dialect(), chunk.len(), 6)
            );
            let mut insert = sqlx::query(&sql);
            for (id, d) in ids.iter().zip(chunk) {
                insert = insert
                    .bind(id)
                    .bind(d.kind.as_str())
                    .bind(d.partner.as_deref())
                    .bind(d.at_ms)
                    .bind(outgoing::envelope(id, d.kind, d.at_ms, &d.data))
                    .bind(d.macros.as_ref().map(|m| m.to_json().to_string()));
            }
            insert.execute(tx.conn()).await?;
            // A test event goes to the one endpoint it tests (`test_send`), never fanned out.
            let fanned: Vec<&String> = ids.iter().zip(chunk).filter(|(_, d)| d.kind != EventType::WebhookTest).map(|(id, _)| id).collect();
            if !fanned.is_empty() {
                fan_out(tx, &fanned).await?;
            }
            written.extend(ids);
        }
        Ok(written)
    }
}

/// One pending delivery per endpoint subscribed now to each of these events.
async fn fan_out(tx: &mut Tx, fanned: &[&String]) -> Result<(), DbError> {
    // `(VALUES …)` names its columns column1, column2 on both engines; the position keeps
    // the deliveries in the order their events happened.
    let mut positions = String::with_capacity(fanned.len() * 12);
    for i in 0..fanned.len() {
        if i > 0 {
            positions.push_str(", ");
        }
        positions.push('(');
        push_param(&mut positions, tx.dialect(), i + 1);
        positions.push_str(&format!(", {i})"));
    }
    let sql = format!(
        "INSERT INTO deliveries (event_id, endpoint_id, state, attempts, next_attempt_at_ms, created_at_ms)
                 SELECT e.id, ep.id, 'pending', 0, e.created_at_ms, e.created_at_ms
                 FROM (VALUES {}) AS wanted
                 JOIN events e ON e.id = wanted.column1
                 JOIN event_endpoints ep ON ep.deleted_at_ms IS NULL AND ep.disabled_at_ms IS NULL
                      AND ep.events LIKE '%,' || e.type || ',%'
                      AND (ep.kind = 'webhook' OR (ep.kind = 'postback' AND ep.partner_code = e.partner_code))
                 ORDER BY wanted.column2, ep.id",
        positions
    );
    let mut insert = sqlx::query(&sql);
    for id in fanned {
        insert = insert.bind(*id);
    }
    insert.execute(tx.conn()).await?;
    Ok(())
}

/// A merchant webhook or a partner postback, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoint {
    pub id: i64,
    pub kind: String,
    pub partner: Option<String>,
    pub url: String,
    pub method: String,
    pub events: Vec<String>,
    #[serde(skip)]
    pub secret: Option<String>,
    pub created_at_ms: i64,
    pub failing_since_ms: Option<i64>,
    pub disabled_at_ms: Option<i64>,
    pub disabled_reason: Option<String>,
}

fn endpoint_of(r: &AnyRow) -> Result<Endpoint, sqlx::Error> {
    let events: String = r.try_get("events")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        partner: r.try_get("partner_code")?,
        url: r.try_get("url")?,
        method: r.try_get("method")?,
        events: events.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        secret: r.try_get("secret")?,
        created_at_ms: r.try_get("created_at_ms")?,
        failing_since_ms: r.try_get("failing_since_ms")?,
        disabled_at_ms: r.try_get("disabled_at_ms")?,
        disabled_reason: r.try_get("disabled_reason")?,
    })
}

/// An endpoint to add.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub kind: &'a str,
    pub partner: Option<&'a str>,
    pub url: &'a str,
    pub method: &'a str,
    pub events: &'a [EventType],
    pub secret: Option<&'a str>,
    /// Most live endpoints of this kind the partner may hold (postbacks).
    pub limit_per_partner: Option<i64>,
}

/// One delivery, for the log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_attempt_at_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// A delivery claimed for sending, with what sending needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempts: i64,
    pub endpoint_id: i64,
    pub kind: String,
    pub url: String,
    pub method: String,
    pub secret: Option<String>,
    pub payload: String,
    pub macros: Option<String>,
}

/// How an attempt ended, as the delivery task decided.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub delivery_id: i64,
    pub endpoint_id: i64,
    pub owner: &'a str,
    pub at_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    /// `Ok(())`: delivered; `Err(Some(at))`: try again then; `Err(None)`: failed for good.
    pub outcome: Result<(), Option<i64>>,
}

/// What recording an attempt changed about its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointAfter {
    Fine,
    /// Failing, not for long enough to be disabled.
    Failing,
    /// Disabled now, for this reason.
    Disabled(String),
    /// The lease had passed to another server: nothing was recorded.
    LeaseLost,
}

impl Store {
    /// Adds an endpoint. `Conflict` when the partner holds `limit_per_partner` already.
    pub async fn add_endpoint(&self, e: &NewEndpoint<'_>, now_ms: i64) -> Result<Endpoint, DbError> {
        let mut tx = self.write().await?;
        if let (Some(limit), Some(partner)) = (e.limit_per_partner, e.partner) {
            // Locks the partner's row so two additions at once cannot both pass the count.
            sqlx::query(&format!("SELECT code FROM partners WHERE code = $1{}", self.dialect.for_update()))
                .bind(partner)
                .fetch_optional(tx.conn())
                .await?
                .ok_or(DbError::NotFound("partner"))?;
            let held: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM event_endpoints WHERE kind = $1 AND partner_code = $2 AND deleted_at_ms IS NULL")
                    .bind(e.kind)
                    .bind(partner)
                    .fetch_one(tx.conn())
                    .await?;
            if held >= limit {
                tx.rollback().await?;
                return Err(DbError::Conflict(format!("a partner may hold at most {limit} postbacks; delete one first")));
            }
        }
        let events = format!(",{},", e.events.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(","));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO event_endpoints (kind, partner_code, url, method, events, secret, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(e.kind)
        .bind(e.partner)
        .bind(e.url)
        .bind(e.method)
        .bind(&events)
        .bind(e.secret)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        let row = sqlx::query("SELECT * FROM event_endpoints WHERE id = $1").bind(id).fetch_one(tx.conn()).await?;
        tx.commit().await?;
        Ok(endpoint_of(&row)?)
    }

    /// The live endpoints of a kind (and partner), oldest first.
    pub async fn endpoints(&self, kind: &str, partner: Option<&str>) -> Result<Vec<Endpoint>, DbError> {
        let rows = sqlx::query(
            "SELECT * FROM event_endpoints WHERE kind = $1 AND deleted_at_ms IS NULL
               AND (CAST($2 AS TEXT) IS NULL OR partner_code = $2) ORDER BY id",
        )
        .bind(kind)
        .bind(partner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(endpoint_of).collect::<Result<_, _>>()?)
    }

    /// A live endpoint.
    pub async fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, DbError> {
        let row = sqlx::query("SELECT * FROM event_endpoints WHERE id = $1 AND deleted_at_ms IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(endpoint_of).transpose()?)
    }

    /// Deletes an endpoint: nothing more is sent to it (its log stays). `NotFound` if none.
    pub async fn delete_endpoint(&self, id: i64, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE event_endpoints SET deleted_at_ms = $2 WHERE id = $1 AND deleted_at_ms IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Err(DbError::NotFound("endpoint"));
        }
        sqlx::query(
            "UPDATE deliveries SET state = 'failed', last_error = 'the endpoint was deleted' WHERE endpoint_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// An endpoint's newest deliveries first.
    pub async fn deliveries(&self, endpoint_id: i64, limit: i64) -> Result<Vec<Delivery>, DbError> {
        let rows = sqlx::query(
            "SELECT d.*, e.type AS event_type FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_type: r.try_get("event_type")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at_ms: r.try_get("next_attempt_at_ms")?,
                    last_attempt_at_ms: r.try_get("last_attempt_at_ms")?,
                    last_status: r.try_get("last_status")?,
                    last_error: r.try_get("last_error")?,
                    delivered_at_ms: r.try_get("delivered_at_ms")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Sends a delivery's event to its endpoint again, as a new delivery (same event id), now;
    /// re-enables the endpoint if it was disabled. `NotFound` if the delivery is not the
    /// endpoint's. Answers the new delivery's id.
    pub async fn redeliver(&self, endpoint_id: i64, delivery_id: i64, now_ms: i64) -> Result<i64, DbError> {
        let mut tx = self.write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (event_id, endpoint_id, state, attempts, next_attempt_at_ms, created_at_ms)
             SELECT d.event_id, d.endpoint_id, 'pending', 0, $3, $3 FROM deliveries d
             JOIN event_endpoints e ON e.id = d.endpoint_id AND e.deleted_at_ms IS NULL
             WHERE d.id = $1 AND d.endpoint_id = $2 RETURNING id",
        )
        .bind(delivery_id)
        .bind(endpoint_id)
        .bind(now_ms)
        .fetch_optional(tx.conn())
        .await?;
        let Some(id) = id else {
            tx.rollback().await?;
            return Err(DbError::NotFound("delivery"));
        };
        enable(&mut tx, endpoint_id).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Queues the test event to one endpoint (re-enabling it). Answers (event id, delivery id).
    pub async fn test_send(&self, endpoint_id: i64, now_ms: i64) -> Result<(String, i64), DbError> {
        let mut tx = self.write().await?;
        let mut events = Events::default();
        events.push(outgoing::test_event(endpoint_id, now_ms));
        let event_id =
            events.apply(&mut tx).await?.pop().ok_or_else(|| DbError::Other(anyhow::anyhow!("the test event was not written")))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO deliveries (event_id, endpoint_id, state, attempts, next_attempt_at_ms, created_at_ms)
             VALUES ($1, $2, 'pending', 0, $3, $3) RETURNING id",
        )
        .bind(&event_id)
        .bind(endpoint_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        enable(&mut tx, endpoint_id).await?;
        tx.commit().await?;
        Ok((event_id, id))
    }

    /// Takes up to `limit` deliveries due at `now_ms` for `owner` until `lease_until_ms`. A
    /// delivery is held by one server at a time: the UPDATE takes only rows whose lease is free,
    /// and on PostgreSQL rows another server is taking are skipped, not waited for.
    pub async fn claim_due(&self, owner: &str, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, DbError> {
        let skip_locked = match self.dialect {
            super::Dialect::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            super::Dialect::Sqlite => "",
        };
        let claimed: Vec<i64> = sqlx::query_scalar(&format!(
            "UPDATE deliveries SET lease_owner = $1, lease_until_ms = $2
             WHERE id IN (
               SELECT d.id FROM deliveries d JOIN event_endpoints e ON e.id = d.endpoint_id
               WHERE d.state = 'pending' AND d.next_attempt_at_ms <= $3 AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= $3)
                 AND e.disabled_at_ms IS NULL AND e.deleted_at_ms IS NULL
               ORDER BY d.next_attempt_at_ms, d.id LIMIT $4{skip_locked})
             AND state = 'pending' AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
             RETURNING id"
        ))
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..claimed.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT d.id, d.event_id, d.attempts, d.endpoint_id, e.kind, e.url, e.method, e.secret, v.type AS event_type, v.payload, v.macros
             FROM deliveries d JOIN event_endpoints e ON e.id = d.endpoint_id JOIN events v ON v.id = d.event_id
             WHERE d.lease_owner = $1 AND d.id IN ({}) ORDER BY d.id",
            list.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(owner);
        for id in &claimed {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_type: r.try_get("event_type")?,
                    attempts: r.try_get("attempts")?,
                    endpoint_id: r.try_get("endpoint_id")?,
                    kind: r.try_get("kind")?,
                    url: r.try_get("url")?,
                    method: r.try_get("method")?,
                    secret: r.try_get("secret")?,
                    payload: r.try_get("payload")?,
                    macros: r.try_get("macros")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Records an attempt of a delivery this owner holds, and what it means for the endpoint:
    /// a success clears its failing state; a failure starts it, and disables the endpoint once
    /// it has failed without a success for [`DISABLE_AFTER_MS`](outgoing::DISABLE_AFTER_MS).
    pub async fn record_attempt(&self, a: &Attempt<'_>) -> Result<EndpointAfter, DbError> {
        let mut tx = self.write().await?;
        let (state, next_at, delivered_at) = match a.outcome {
            Ok(()) => ("delivered", a.at_ms, Some(a.at_ms)),
            Err(Some(at)) => ("pending", at, None),
            Err(None) => ("failed", a.at_ms, None),
        };
        let done = sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, state = $3, next_attempt_at_ms = $4, delivered_at_ms = $5,
                                   last_attempt_at_ms = $6, last_status = $7, last_error = $8, lease_owner = NULL, lease_until_ms = NULL
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(a.delivery_id)
        .bind(a.owner)
        .bind(state)
        .bind(next_at)
        .bind(delivered_at)
        .bind(a.at_ms)
        .bind(a.status)
        .bind(a.error.as_deref())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(EndpointAfter::LeaseLost);
        }
        if a.outcome.is_ok() {
            sqlx::query("UPDATE event_endpoints SET failing_since_ms = NULL WHERE id = $1").bind(a.endpoint_id).execute(tx.conn()).await?;
            tx.commit().await?;
            return Ok(EndpointAfter::Fine);
        }
        let since: Option<i64> = sqlx::query_scalar(
            "UPDATE event_endpoints SET failing_since_ms = COALESCE(failing_since_ms, $2) WHERE id = $1 RETURNING failing_since_ms",
        )
        .bind(a.endpoint_id)
        .bind(a.at_ms)
        .fetch_optional(tx.conn())
        .await?
        .flatten();
        let after = match since {
            Some(since) if a.at_ms.saturating_sub(since) >= outgoing::DISABLE_AFTER_MS => {
                let last = match (a.status, &a.error) {
                    (Some(status), _) => format!("HTTP {status}"),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "no answer".to_owned(),
                };
                let reason = format!(
                    "every delivery failed for 5 days (since {}); the last attempt: {last}. Fix the endpoint, then redeliver or test it to enable it again",
                    crate::domain::period::from_ms(since).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
                );
                sqlx::query(
                    "UPDATE event_endpoints SET disabled_at_ms = $2, disabled_reason = $3 WHERE id = $1 AND disabled_at_ms IS NULL",
                )
                .bind(a.endpoint_id)
                .bind(a.at_ms)
                .bind(&reason)
                .execute(tx.conn())
                .await?;
                EndpointAfter::Disabled(reason)
            }
            _ => EndpointAfter::Failing,
        };
        tx.commit().await?;
        Ok(after)
    }

    /// Deliveries still to be sent (the outbox's depth).
    pub async fn outbox_depth(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").fetch_one(&self.pool).await?)
    }

    /// Endpoints disabled now.
    pub async fn disabled_endpoints(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM event_endpoints WHERE disabled_at_ms IS NOT NULL AND deleted_at_ms IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }
}

async fn enable(tx: &mut Tx, endpoint_id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE event_endpoints SET disabled_at_ms = NULL, disabled_reason = NULL, failing_since_ms = NULL WHERE id = $1")
        .bind(endpoint_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
