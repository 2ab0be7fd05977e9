//! The PostgreSQL backend, for several stateless servers sharing one database. The same shape as
//! the SQLite backend; where the engines differ: `$n` placeholders, `ON CONFLICT`, `RETURNING`,
//! sums cast back from NUMERIC, row locks where two servers could race, and one multi-row insert
//! per batch of clicks. Migrations take sqlx's advisory lock, so servers may start at once.

use super::*;
use crate::domain::fraud::Reason;
use crate::domain::split::Role;
use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use std::time::Duration;

/// PostgreSQL storage.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and applies migrations (serialised across servers by an advisory lock).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.context("applying PostgreSQL migrations")?;
        Ok(Self { pool })
    }
}

fn program_of(row: &PgRow) -> Program {
    Program {
        code: row.get("code"),
        name: row.get("name"),
        rate_bps: row.get("rate_bps"),
        flat_minor: row.get("flat_minor"),
        window_days: row.get("window_days"),
        pixel_commission: row.get("pixel_commission"),
        lead_rate_bps: row.get("lead_rate_bps"),
        lead_flat_minor: row.get("lead_flat_minor"),
        tier2_bps: row.get("tier2_bps"),
        tier3_bps: row.get("tier3_bps"),
        recurring: row.get("recurring"),
        hold_days: row.get("hold_days"),
    }
}

fn click_of(row: &PgRow) -> Click {
    Click {
        id: row.get("id"),
        link: row.get("link_code"),
        partner: row.get("partner_code"),
        sub_id: row.get("sub_id"),
        program: row.get("program_code"),
        at_ms: row.get("at_ms"),
        expires_at_ms: row.get("expires_at_ms"),
        ip_hash: row.get("ip_hash"),
        user_agent: row.get("user_agent"),
    }
}

fn unprefixed(order_id: &str) -> &str {
    order_id.split_once(':').map_or(order_id, |(_, rest)| rest)
}

async fn names(pool: &PgPool, sql: &'static str, key: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(sql).bind(key).fetch_all(pool).await?)
}

async fn insert_lead(tx: &mut Transaction<'_, Postgres>, lead: &NewLead) -> Result<(), DbError> {
    let click = match &lead.click_id {
        Some(id) => sqlx::query("SELECT * FROM clicks WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?.as_ref().map(click_of),
        None => None,
    };
    let (partner, link, sub_id, program, window_ms) = match &click {
        Some(c) => (Some(c.partner.clone()), Some(c.link.clone()), c.sub_id.clone(), c.program.clone(), c.expires_at_ms - c.at_ms),
        None => (lead.partner.clone(), None, lead.sub_id.clone(), None, lead.window_ms),
    };
    let contact_key = lead.email.clone().or_else(|| lead.click_id.clone()).unwrap_or_default();
    sqlx::query(
        "INSERT INTO leads (partner_key, contact_key, partner_code, click_id, link_code, sub_id, email, page, source, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (partner_key, contact_key) DO NOTHING",
    )
    .bind(partner.clone().unwrap_or_default())
    .bind(contact_key)
    .bind(&partner)
    .bind(&lead.click_id)
    .bind(&link)
    .bind(&sub_id)
    .bind(&lead.email)
    .bind(&lead.page)
    .bind(lead.source)
    .bind(lead.at_ms)
    .execute(&mut **tx)
    .await?;
    if let (Some(email), Some(partner)) = (&lead.email, &partner) {
        insert_contact(
            tx,
            email,
            &StoredTouch {
                partner: partner.clone(),
                click_id: lead.click_id.clone(),
                link,
                sub_id,
                program,
                at_ms: lead.at_ms,
                expires_at_ms: lead.at_ms.saturating_add(window_ms),
            },
        )
        .await?;
    }
    Ok(())
}

async fn insert_contact(tx: &mut Transaction<'_, Postgres>, email: &str, c: &StoredTouch) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO contacts (email, partner_code, click_id, link_code, sub_id, program_code, at_ms, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING",
    )
    .bind(email)
    .bind(&c.partner)
    .bind(&c.click_id)
    .bind(&c.link)
    .bind(&c.sub_id)
    .bind(&c.program)
    .bind(c.at_ms)
    .bind(c.expires_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_ledger(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    refund_id: Option<&str>,
    currency: &str,
    at_ms: i64,
    entries: &[LedgerEntry],
) -> Result<(), DbError> {
    for e in entries {
        sqlx::query(
            "INSERT INTO ledger (partner_code, order_id, refund_id, kind, amount_minor, currency, link_code, sub_id, at_ms,
                                 role, program_code, available_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&e.partner)
        .bind(order_id)
        .bind(refund_id)
        .bind(e.kind.as_str())
        .bind(e.amount_minor)
        .bind(currency)
        .bind(&e.link)
        .bind(&e.sub_id)
        .bind(at_ms)
        .bind(e.role.as_str())
        .bind(&e.program)
        .bind(e.available_at_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_fraud(tx: &mut Transaction<'_, Postgres>, e: &FraudEvent) -> Result<(), DbError> {
    sqlx::query("INSERT INTO fraud_events (reason, partner_code, link_code, order_id, at_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(e.reason)
        .bind(&e.partner)
        .bind(&e.link)
        .bind(&e.order_id)
        .bind(e.at_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn ledger_record_of(r: &PgRow) -> LedgerRecord {
    LedgerRecord {
        id: r.get("id"),
        partner: r.get("partner_code"),
        order_id: r.get("order_id"),
        refund_id: r.get("refund_id"),
        kind: r.get("kind"),
        role: r.get("role"),
        program: r.get("program_code"),
        amount_minor: r.get("amount_minor"),
        currency: r.get("currency"),
        link: r.get("link_code"),
        sub_id: r.get("sub_id"),
        at_ms: r.get("at_ms"),
        available_at_ms: r.get("available_at_ms"),
        payout_id: r.get("payout_id"),
    }
}

/// Rows of a report query over one partner and a period (`partner`, `from_ms`, `to_ms` bound in that order).
async fn period_rows(pool: &PgPool, sql: &'static str, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<PgRow>, DbError> {
    Ok(sqlx::query(sql).bind(partner).bind(from_ms).bind(to_ms).fetch_all(pool).await?)
}

/// The programs a partner or link belongs to, one row each (`sql` binds the owner, then the program).
async fn insert_programs(tx: &mut Transaction<'_, Postgres>, sql: &'static str, owner: &str, programs: &[String]) -> Result<(), DbError> {
    for program in programs {
        sqlx::query(sql).bind(owner).bind(program).execute(&mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn add_program(&self, p: &Program, now_ms: i64) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO programs (code, name, rate_bps, flat_minor, window_days, pixel_commission, created_at_ms,
                                   lead_rate_bps, lead_flat_minor, tier2_bps, tier3_bps, recurring, hold_days)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&p.code)
        .bind(&p.name)
        .bind(p.rate_bps)
        .bind(p.flat_minor)
        .bind(p.window_days)
        .bind(p.pixel_commission)
        .bind(now_ms)
        .bind(p.lead_rate_bps)
        .bind(p.lead_flat_minor)
        .bind(p.tier2_bps)
        .bind(p.tier3_bps)
        .bind(&p.recurring)
        .bind(p.hold_days)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_product_override(&self, program: &str, o: &ProductOverride) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO program_products (program_code, sku, rate_bps, flat_minor) VALUES ($1, $2, $3, $4)
             ON CONFLICT (program_code, sku) DO UPDATE SET rate_bps = EXCLUDED.rate_bps, flat_minor = EXCLUDED.flat_minor",
        )
        .bind(program)
        .bind(&o.sku)
        .bind(o.rate_bps)
        .bind(o.flat_minor)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn program(&self, code: &str) -> Result<Option<Program>, DbError> {
        let row = sqlx::query("SELECT * FROM programs WHERE code = $1").bind(code).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(program_of))
    }

    async fn product_overrides(&self, program: &str) -> Result<Vec<ProductOverride>, DbError> {
        let rows = sqlx::query("SELECT sku, rate_bps, flat_minor FROM program_products WHERE program_code = $1 ORDER BY sku")
            .bind(program)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProductOverride { sku: r.get("sku"), rate_bps: r.get("rate_bps"), flat_minor: r.get("flat_minor") })
            .collect())
    }

    async fn programs(&self) -> Result<Vec<Program>, DbError> {
        let rows = sqlx::query("SELECT * FROM programs ORDER BY code").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(program_of).collect())
    }

    async fn add_partner(&self, p: &Partner, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO partners (code, name, email, parent_code, created_at_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&p.code)
            .bind(&p.name)
            .bind(&p.email)
            .bind(&p.parent)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        insert_programs(&mut tx, "INSERT INTO partner_programs (partner_code, program_code) VALUES ($1, $2)", &p.code, &p.programs).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn partner(&self, code: &str) -> Result<Option<Partner>, DbError> {
        let Some(row) = sqlx::query("SELECT * FROM partners WHERE code = $1").bind(code).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let programs =
            names(&self.pool, "SELECT program_code FROM partner_programs WHERE partner_code = $1 ORDER BY program_code", code).await?;
        Ok(Some(Partner {
            code: row.get("code"),
            name: row.get("name"),
            email: row.get("email"),
            parent: row.get("parent_code"),
            programs,
        }))
    }

    async fn partners(&self) -> Result<Vec<Partner>, DbError> {
        let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM partners ORDER BY code").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            out.extend(self.partner(&code).await?);
        }
        Ok(out)
    }

    async fn add_link(&self, l: &Link, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO links (code, name, destination, partner_code, created_at_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&l.code)
            .bind(&l.name)
            .bind(&l.destination)
            .bind(&l.partner)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        insert_programs(&mut tx, "INSERT INTO link_programs (link_code, program_code) VALUES ($1, $2)", &l.code, &l.programs).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn link(&self, code: &str) -> Result<Option<Link>, DbError> {
        let Some(row) = sqlx::query("SELECT * FROM links WHERE code = $1").bind(code).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let programs = names(&self.pool, "SELECT program_code FROM link_programs WHERE link_code = $1 ORDER BY program_code", code).await?;
        Ok(Some(Link {
            code: row.get("code"),
            name: row.get("name"),
            destination: row.get("destination"),
            partner: row.get("partner_code"),
            programs,
        }))
    }

    async fn links(&self) -> Result<Vec<Link>, DbError> {
        let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM links ORDER BY code").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            out.extend(self.link(&code).await?);
        }
        Ok(out)
    }

    async fn write_batch(&self, writes: &[BatchWrite]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        // Clicks, the bulk of every batch, go in as one multi-row insert.
        let clicks: Vec<&Click> = writes.iter().filter_map(|w| if let BatchWrite::Click(c) = w { Some(c) } else { None }).collect();
        if !clicks.is_empty() {
            let col = |f: fn(&Click) -> Option<String>| clicks.iter().map(|c| f(c)).collect::<Vec<Option<String>>>();
            sqlx::query(
                "INSERT INTO clicks (id, link_code, partner_code, sub_id, program_code, at_ms, expires_at_ms, ip_hash, user_agent)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(col(|c| Some(c.id.clone())))
            .bind(col(|c| Some(c.link.clone())))
            .bind(col(|c| Some(c.partner.clone())))
            .bind(col(|c| c.sub_id.clone()))
            .bind(col(|c| c.program.clone()))
            .bind(clicks.iter().map(|c| c.at_ms).collect::<Vec<i64>>())
            .bind(clicks.iter().map(|c| c.expires_at_ms).collect::<Vec<i64>>())
            .bind(col(|c| c.ip_hash.clone()))
            .bind(col(|c| c.user_agent.clone()))
            .execute(&mut *tx)
            .await?;
        }
        for write in writes {
            match write {
                BatchWrite::Click(_) => {}
                BatchWrite::Lead(lead) => insert_lead(&mut tx, lead).await?,
                BatchWrite::Conversion(c) => {
                    let inserted = sqlx::query(
                        "INSERT INTO conversions (order_id, amount_minor, currency, click_id, partner_code, link_code, sub_id, at_ms, verified_order_id)
                         SELECT $1, $2, $3, $4, c.partner_code, c.link_code, c.sub_id, $5,
                                (SELECT o.order_id FROM orders o WHERE o.order_id = $1 OR o.bare_id = $1 ORDER BY o.order_id = $1 DESC LIMIT 1)
                         FROM (SELECT 1) AS one LEFT JOIN clicks c ON c.id = $4
                         ON CONFLICT (order_id) DO NOTHING",
                    )
                    .bind(&c.order_id)
                    .bind(c.amount_minor)
                    .bind(&c.currency)
                    .bind(&c.click_id)
                    .bind(c.at_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let stored = sqlx::query("SELECT partner_code, link_code, verified_order_id FROM conversions WHERE order_id = $1")
                        .bind(&c.order_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let (partner, link, verified): (Option<String>, Option<String>, Option<String>) =
                        (stored.get(0), stored.get(1), stored.get(2));
                    let fraud = match (inserted, &partner) {
                        (false, _) => Some(Reason::DuplicateOrderId),
                        (true, None) => Some(Reason::PixelWithoutClick),
                        (true, Some(_)) => None,
                    };
                    if let Some(reason) = fraud {
                        let event =
                            FraudEvent { reason: reason.as_str(), partner, link, order_id: Some(c.order_id.clone()), at_ms: c.at_ms };
                        insert_fraud(&mut tx, &event).await?;
                    }
                    // Pixel-only programs earn on a new conversion that no signed order confirmed yet.
                    if let (true, None, Some(credit)) = (inserted, verified, &c.pixel_credit) {
                        let ledger_id = [PIXEL_LEDGER_PREFIX, c.order_id.as_str()].concat();
                        insert_ledger(&mut tx, &ledger_id, None, &c.currency, c.at_ms, std::slice::from_ref(credit.as_ref())).await?;
                    }
                }
                BatchWrite::Fraud(event) => insert_fraud(&mut tx, event).await?,
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn click(&self, id: &str) -> Result<Option<Click>, DbError> {
        let row = sqlx::query("SELECT * FROM clicks WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(click_of))
    }

    async fn contact_lead(&self, email: &str) -> Result<Option<StoredTouch>, DbError> {
        let row = sqlx::query("SELECT * FROM contacts WHERE email = $1").bind(email).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| StoredTouch {
            partner: r.get("partner_code"),
            click_id: r.get("click_id"),
            link: r.get("link_code"),
            sub_id: r.get("sub_id"),
            program: r.get("program_code"),
            at_ms: r.get("at_ms"),
            expires_at_ms: r.get("expires_at_ms"),
        }))
    }

    async fn conversion_for_order(&self, order_id: &str) -> Result<Option<NewConversion>, DbError> {
        let row = sqlx::query("SELECT * FROM conversions WHERE order_id IN ($1, $2) ORDER BY order_id = $1 DESC LIMIT 1")
            .bind(order_id)
            .bind(unprefixed(order_id))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| NewConversion {
            order_id: r.get("order_id"),
            amount_minor: r.get("amount_minor"),
            currency: r.get("currency"),
            click_id: r.get("click_id"),
            at_ms: r.get("at_ms"),
            pixel_credit: None,
        }))
    }

    async fn record_signed_lead(&self, msg_id: &str, lead: &NewLead, answer: &StoredAnswer) -> Result<Recorded, DbError> {
        let mut tx = self.pool.begin().await?;
        let claimed =
            sqlx::query("INSERT INTO signed_leads (msg_id, body_hash, response_json) VALUES ($1, $2, $3) ON CONFLICT (msg_id) DO NOTHING")
                .bind(msg_id)
                .bind(&answer.body_hash)
                .bind(&answer.response_json)
                .execute(&mut *tx)
                .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            let row = sqlx::query("SELECT body_hash, response_json FROM signed_leads WHERE msg_id = $1")
                .bind(msg_id)
                .fetch_one(&self.pool)
                .await?;
            return Ok(Recorded { answer: StoredAnswer { body_hash: row.get(0), response_json: row.get(1) }, fresh: false });
        }
        insert_lead(&mut tx, lead).await?;
        tx.commit().await?;
        Ok(Recorded { answer: answer.clone(), fresh: true })
    }

    async fn order_answer(&self, order_id: &str) -> Result<Option<StoredAnswer>, DbError> {
        let row = sqlx::query("SELECT body_hash, response_json FROM orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| StoredAnswer { body_hash: r.get(0), response_json: r.get(1) }))
    }

    async fn insert_order(&self, o: &NewOrder) -> Result<(), DbError> {
        let order = &o.order;
        let order_id = order.order_id.as_str();
        let currency = order.currency.as_str();
        let mut tx = self.pool.begin().await?;
        // Two servers receiving the same order race here: the unique key lets exactly one win.
        sqlx::query(
            "INSERT INTO orders (order_id, body_hash, source, occurred_at_ms, currency, total_minor, email, click_id, partner_code,
                                 link_code, sub_id, status, commission_minor, response_json, received_at_ms, bare_id,
                                 subscription_id, renewal, program_code, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(order_id)
        .bind(&o.body_hash)
        .bind(&order.source)
        .bind(o.occurred_at_ms)
        .bind(currency)
        .bind(order.total_minor)
        .bind(order.customer.email.as_ref().map(|e| e.as_str()))
        .bind(&o.click_id)
        .bind(&o.partner)
        .bind(&o.link)
        .bind(&o.sub_id)
        .bind(o.status)
        .bind(o.commission_minor)
        .bind(&o.response_json)
        .bind(o.received_at_ms)
        .bind(unprefixed(order_id))
        .bind(&order.subscription_id)
        .bind(order.renewal)
        .bind(&o.program)
        .bind(&o.reason)
        .execute(&mut *tx)
        .await?;
        if let Some(event) = &o.fraud {
            insert_fraud(&mut tx, event).await?;
        }
        for (line, item) in order.items.iter().enumerate() {
            sqlx::query("INSERT INTO order_items (order_id, line, sku, name, quantity, unit_price_minor) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(order_id)
                .bind(line as i64)
                .bind(&item.sku)
                .bind(&item.name)
                .bind(item.quantity)
                .bind(item.unit_price_minor)
                .execute(&mut *tx)
                .await?;
        }
        // The signed order supersedes any commission booked on its pixel conversion.
        sqlx::query("DELETE FROM ledger WHERE refund_id IS NULL AND order_id IN ($1, $2)")
            .bind([PIXEL_LEDGER_PREFIX, order_id].concat())
            .bind([PIXEL_LEDGER_PREFIX, unprefixed(order_id)].concat())
            .execute(&mut *tx)
            .await?;
        insert_ledger(&mut tx, order_id, None, currency, o.occurred_at_ms, &o.ledger).await?;
        if let Some((email, c)) = &o.new_contact {
            insert_contact(&mut tx, email, c).await?;
        }
        sqlx::query("UPDATE conversions SET verified_order_id = $1 WHERE order_id IN ($1, $2)")
            .bind(order_id)
            .bind(unprefixed(order_id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_refund(
        &self,
        refund: &reftrack_protocol::Refund,
        body_hash: &str,
        plan: &(dyn for<'f> Fn(&'f OrderForRefund) -> RefundPlan + Send + Sync),
    ) -> Result<Recorded, DbError> {
        let refund_id = refund.refund_id.as_str();
        let order_id = refund.order_id.as_str();
        let occurred_at_ms = crate::domain::period::to_ms(refund.occurred_at);
        let mut tx = self.pool.begin().await?;
        // Refunds of one order are serialised (across servers) by locking the order's row first.
        let Some(order) = sqlx::query("SELECT total_minor, currency FROM orders WHERE order_id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(DbError::NotFound("order"));
        };
        let claimed = sqlx::query(
            "INSERT INTO refunds (refund_id, order_id, amount_minor, body_hash, occurred_at_ms, response_json) VALUES ($1, $2, $3, $4, $5, '')
             ON CONFLICT (refund_id) DO NOTHING",
        )
        .bind(refund_id)
        .bind(order_id)
        .bind(refund.amount_minor.unwrap_or(0))
        .bind(body_hash)
        .bind(occurred_at_ms)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            let row = sqlx::query("SELECT body_hash, response_json FROM refunds WHERE refund_id = $1")
                .bind(refund_id)
                .fetch_one(&self.pool)
                .await?;
            return Ok(Recorded { answer: StoredAnswer { body_hash: row.get(0), response_json: row.get(1) }, fresh: false });
        }
        let refunded_minor: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(amount_minor), 0)::BIGINT FROM refunds WHERE order_id = $1 AND refund_id <> $2")
                .bind(order_id)
                .bind(refund_id)
                .fetch_one(&mut *tx)
                .await?;
        let earnings = sqlx::query(
            "SELECT partner_code, link_code, sub_id, role, program_code, MIN(available_at_ms) AS available_at_ms,
                    COALESCE(SUM(CASE WHEN kind = 'earned' THEN amount_minor END), 0)::BIGINT AS earned,
                    COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0)::BIGINT AS clawed
             FROM ledger WHERE order_id = $1 AND kind IN ('earned', 'clawback')
             GROUP BY partner_code, link_code, sub_id, role, program_code ORDER BY partner_code, role",
        )
        .bind(order_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Earning {
            partner: r.get("partner_code"),
            role: Role::parse(r.get("role")).unwrap_or(Role::Sale),
            program: r.get("program_code"),
            available_at_ms: r.get("available_at_ms"),
            link: r.get("link_code"),
            sub_id: r.get("sub_id"),
            earned_minor: r.get("earned"),
            clawed_minor: r.get("clawed"),
        })
        .collect();
        let currency: String = order.get("currency");
        let facts = OrderForRefund { total_minor: order.get("total_minor"), currency: currency.clone(), refunded_minor, earnings };
        let planned = plan(&facts);
        insert_ledger(&mut tx, order_id, Some(refund_id), &currency, occurred_at_ms, &planned.ledger).await?;
        sqlx::query("UPDATE refunds SET response_json = $1 WHERE refund_id = $2")
            .bind(&planned.response_json)
            .bind(refund_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Recorded { answer: StoredAnswer { body_hash: body_hash.to_owned(), response_json: planned.response_json }, fresh: true })
    }

    async fn figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<FigureRow>, DbError> {
        let rows = period_rows(
            &self.pool,
            "SELECT link_code, sub_id, SUM(hits)::BIGINT AS hits, SUM(opt_ins)::BIGINT AS opt_ins, SUM(orders)::BIGINT AS orders,
                    SUM(unverified)::BIGINT AS unverified, SUM(revenue)::BIGINT AS revenue, SUM(commission)::BIGINT AS commission,
                    SUM(clawback)::BIGINT AS clawback
             FROM (
               SELECT link_code, sub_id, COUNT(*) AS hits, 0 AS opt_ins, 0 AS orders, 0 AS unverified, 0::BIGINT AS revenue,
                      0::BIGINT AS commission, 0::BIGINT AS clawback
                 FROM clicks WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
               UNION ALL
               SELECT link_code, sub_id, 0, COUNT(*), 0, 0, 0, 0, 0
                 FROM leads WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
               UNION ALL
               SELECT link_code, sub_id, 0, 0, COUNT(*), 0, SUM(total_minor), 0, 0
                 FROM orders WHERE partner_code = $1 AND occurred_at_ms >= $2 AND occurred_at_ms < $3 GROUP BY link_code, sub_id
               UNION ALL
               SELECT link_code, sub_id, 0, 0, 0, COUNT(*), 0, 0, 0
                 FROM conversions WHERE partner_code = $1 AND verified_order_id IS NULL AND at_ms >= $2 AND at_ms < $3
                 GROUP BY link_code, sub_id
               UNION ALL
               SELECT link_code, sub_id, 0, 0, 0, 0, 0,
                      COALESCE(SUM(CASE WHEN kind = 'earned' THEN amount_minor END), 0),
                      COALESCE(SUM(CASE WHEN kind = 'clawback' THEN -amount_minor END), 0)
                 FROM ledger WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY link_code, sub_id
             ) AS figures GROUP BY link_code, sub_id ORDER BY link_code NULLS FIRST, sub_id NULLS FIRST",
            partner,
            from_ms,
            to_ms,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| FigureRow {
                link: r.get("link_code"),
                sub_id: r.get("sub_id"),
                figures: Figures {
                    hits: r.get("hits"),
                    opt_ins: r.get("opt_ins"),
                    orders: r.get("orders"),
                    unverified_conversions: r.get("unverified"),
                    revenue_minor: r.get("revenue"),
                    commission_minor: r.get("commission"),
                    clawback_minor: r.get("clawback"),
                },
            })
            .collect())
    }

    async fn daily_figures(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<DayFigures>, DbError> {
        let rows = period_rows(
            &self.pool,
            "SELECT day, SUM(hits)::BIGINT AS hits, SUM(opt_ins)::BIGINT AS opt_ins, SUM(orders)::BIGINT AS orders,
                    SUM(commission)::BIGINT AS commission
             FROM (
               SELECT at_ms / 86400000 AS day, COUNT(*) AS hits, 0::BIGINT AS opt_ins, 0::BIGINT AS orders, 0::BIGINT AS commission
                 FROM clicks WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
               UNION ALL
               SELECT at_ms / 86400000, 0, COUNT(*), 0, 0 FROM leads WHERE partner_code = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
               UNION ALL
               SELECT occurred_at_ms / 86400000, 0, 0, COUNT(*), 0
                 FROM orders WHERE partner_code = $1 AND occurred_at_ms >= $2 AND occurred_at_ms < $3 GROUP BY 1
               UNION ALL
               SELECT at_ms / 86400000, 0, 0, 0, SUM(amount_minor)::BIGINT
                 FROM ledger WHERE partner_code = $1 AND kind = 'earned' AND at_ms >= $2 AND at_ms < $3 GROUP BY 1
             ) AS daily GROUP BY day ORDER BY day",
            partner,
            from_ms,
            to_ms,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| DayFigures {
                day: r.get("day"),
                hits: r.get("hits"),
                opt_ins: r.get("opt_ins"),
                orders: r.get("orders"),
                commission_minor: r.get("commission"),
            })
            .collect())
    }

    async fn products_sold(&self, partner: &str, from_ms: i64, to_ms: i64) -> Result<Vec<ProductSold>, DbError> {
        let rows = period_rows(
            &self.pool,
            "SELECT sku, name, currency, quantity, revenue FROM (
               SELECT i.sku, MAX(i.name) AS name, o.currency, SUM(i.quantity)::BIGINT AS quantity,
                      SUM(i.quantity * i.unit_price_minor)::BIGINT AS revenue
                 FROM orders o JOIN order_items i ON i.order_id = o.order_id
                 WHERE o.partner_code = $1 AND o.occurred_at_ms >= $2 AND o.occurred_at_ms < $3 GROUP BY i.sku, o.currency
               UNION ALL
               SELECT '', '', o.currency, COUNT(*), SUM(o.total_minor)::BIGINT
                 FROM orders o WHERE o.partner_code = $1 AND o.occurred_at_ms >= $2 AND o.occurred_at_ms < $3
                   AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id) GROUP BY o.currency
             ) AS sold ORDER BY revenue DESC, sku",
            partner,
            from_ms,
            to_ms,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| ProductSold {
                sku: r.get("sku"),
                name: r.get("name"),
                currency: r.get("currency"),
                quantity: r.get("quantity"),
                revenue_minor: r.get("revenue"),
            })
            .collect())
    }

    async fn fraud_counts(&self, partner: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT reason, COUNT(*) FROM fraud_events WHERE ($1::TEXT IS NULL OR partner_code = $1) AND at_ms >= $2 AND at_ms < $3
             GROUP BY reason ORDER BY reason",
        )
        .bind(partner)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn record_fraud(&self, event: &FraudEvent) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        insert_fraud(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn subscription_orders(&self, subscription_id: &str) -> Result<Vec<SubscriptionOrder>, DbError> {
        let rows = sqlx::query(
            "SELECT order_id, occurred_at_ms, renewal, partner_code, click_id, link_code, sub_id, program_code
             FROM orders WHERE subscription_id = $1 ORDER BY occurred_at_ms, order_id",
        )
        .bind(subscription_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SubscriptionOrder {
                order_id: r.get("order_id"),
                occurred_at_ms: r.get("occurred_at_ms"),
                renewal: r.get("renewal"),
                partner: r.get("partner_code"),
                click_id: r.get("click_id"),
                link: r.get("link_code"),
                sub_id: r.get("sub_id"),
                program: r.get("program_code"),
            })
            .collect())
    }

    async fn ledger_entries(&self, partner: Option<&str>) -> Result<Vec<LedgerRecord>, DbError> {
        let rows = sqlx::query("SELECT * FROM ledger WHERE ($1::TEXT IS NULL OR partner_code = $1) ORDER BY at_ms, id")
            .bind(partner)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(ledger_record_of).collect())
    }

    async fn create_payouts(&self, plans: &[crate::domain::ledger::PayoutPlan], now_ms: i64) -> Result<Vec<Payout>, DbError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(plans.len());
        for plan in plans {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payouts (partner_code, currency, amount_minor, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&plan.partner)
            .bind(&plan.currency)
            .bind(plan.amount_minor)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            // Two payout runs on two servers: the row locks of this update make the second one see
            // the entries paid, mark fewer rows, and give up.
            let marked = sqlx::query("UPDATE ledger SET payout_id = $1 WHERE payout_id IS NULL AND id = ANY($2)")
                .bind(id)
                .bind(&plan.entry_ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if marked != plan.entry_ids.len() as u64 {
                return Err(DbError::Conflict(format!("entries of {} were paid by another payout run", plan.partner)));
            }
            sqlx::query(
                "INSERT INTO ledger (partner_code, order_id, kind, amount_minor, currency, at_ms, role, available_at_ms, payout_id)
                 VALUES ($1, $2, 'payout', $3, $4, $5, 'payout', $5, $6)",
            )
            .bind(&plan.partner)
            .bind(format!("payout:{id}"))
            .bind(-plan.amount_minor)
            .bind(&plan.currency)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            out.push(Payout {
                id,
                partner: plan.partner.clone(),
                currency: plan.currency.clone(),
                amount_minor: plan.amount_minor,
                created_at_ms: now_ms,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn add_key(&self, grant: &KeyGrant, key_hash: &str, now_ms: i64) -> Result<i64, DbError> {
        let (kind, partner) = match grant {
            KeyGrant::Admin => ("admin", None),
            KeyGrant::Partner(code) => ("partner", Some(code.as_str())),
        };
        let id =
            sqlx::query_scalar("INSERT INTO api_keys (kind, partner_code, key_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(kind)
                .bind(partner)
                .bind(key_hash)
                .bind(now_ms)
                .fetch_one(&self.pool)
                .await?;
        Ok(id)
    }

    async fn key_grant(&self, key_hash: &str) -> Result<Option<KeyGrant>, DbError> {
        let row = sqlx::query("SELECT kind, partner_code FROM api_keys WHERE key_hash = $1 AND revoked_at_ms IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| match (r.get::<String, _>(0).as_str(), r.get::<Option<String>, _>(1)) {
            ("partner", Some(code)) => KeyGrant::Partner(code),
            _ => KeyGrant::Admin,
        }))
    }

    async fn revoke_key(&self, id: i64, now_ms: i64) -> Result<(), DbError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("key"));
        }
        Ok(())
    }
}
