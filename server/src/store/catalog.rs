//! Programs and their product overrides, partners, links, and API keys.

use super::rows::{first_column, flag, parsed, parsed_opt};
use super::{DbError, KeyGrant, Link, Partner, ProductOverride, Program, Store, Tx};
use crate::domain::outgoing::EventType;
use reftrack_protocol::ProgramCode;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

impl FromRow<'_, AnyRow> for Program {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Program {
            code: parsed(r, "code")?,
            name: r.try_get("name")?,
            rate_bps: r.try_get("rate_bps")?,
            flat_minor: r.try_get("flat_minor")?,
            window_days: r.try_get("window_days")?,
            pixel_commission: flag(r, "pixel_commission")?,
            lead_rate_bps: r.try_get("lead_rate_bps")?,
            lead_flat_minor: r.try_get("lead_flat_minor")?,
            tier2_bps: r.try_get("tier2_bps")?,
            tier3_bps: r.try_get("tier3_bps")?,
            recurring: parsed(r, "recurring")?,
            hold_days: r.try_get("hold_days")?,
        })
    }
}

impl FromRow<'_, AnyRow> for ProductOverride {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ProductOverride {
            sku: r.try_get("sku")?,
            rate_bps: r.try_get("rate_bps")?,
            flat_minor: r.try_get("flat_minor")?,
            owner: parsed_opt(r, "owner_code")?,
            owner_bps: r.try_get("owner_bps")?,
        })
    }
}

/// The programs a partner or link belongs to, one row each (`sql` binds the owner, then the program).
pub(super) async fn insert_programs(tx: &mut Tx, sql: &'static str, owner: &str, programs: &[impl AsRef<str>]) -> Result<(), DbError> {
    for program in programs {
        sqlx::query(sql).bind(owner).bind(program.as_ref()).execute(tx.conn()).await?;
    }
    Ok(())
}

/// A new partner and their programs, in the caller's transaction.
pub(super) async fn insert_partner(tx: &mut Tx, p: &Partner, now_ms: i64) -> Result<(), DbError> {
    sqlx::query("INSERT INTO partners (code, name, email, parent_code, created_at_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(p.code.as_str())
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(p.parent.as_ref().map(|c| c.as_str()))
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
    insert_programs(tx, "INSERT INTO partner_programs (partner_code, program_code) VALUES ($1, $2)", p.code.as_str(), &p.programs).await?;
    let mut events = super::events::Events::default();
    events.push(partner_event(EventType::PartnerCreated, p, now_ms));
    events.apply(tx).await?;
    Ok(())
}

/// A partner's `partner.created` or `partner.approved`.
pub(super) fn partner_event(kind: EventType, p: &Partner, now_ms: i64) -> crate::domain::outgoing::Draft {
    let programs: Vec<&str> = p.programs.iter().map(|c| c.as_str()).collect();
    crate::domain::outgoing::partner_event(
        kind,
        p.code.as_str(),
        &p.name,
        p.email.as_str(),
        p.parent.as_ref().map(|c| c.as_str()),
        &programs,
        now_ms,
    )
}

impl Store {
    pub async fn add_program(&self, p: &Program, now_ms: i64) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO programs (code, name, rate_bps, flat_minor, window_days, pixel_commission, created_at_ms,
                                   lead_rate_bps, lead_flat_minor, tier2_bps, tier3_bps, recurring, hold_days)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(p.code.as_str())
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
        .bind(p.recurring.to_string())
        .bind(p.hold_days)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_product_override(&self, program: &str, o: &ProductOverride) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO program_products (program_code, sku, rate_bps, flat_minor, owner_code, owner_bps) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (program_code, sku) DO UPDATE SET rate_bps = excluded.rate_bps, flat_minor = excluded.flat_minor,
                                                          owner_code = excluded.owner_code, owner_bps = excluded.owner_bps",
        )
        .bind(program)
        .bind(&o.sku)
        .bind(o.rate_bps)
        .bind(o.flat_minor)
        .bind(o.owner.as_ref().map(|p| p.as_str()))
        .bind(o.owner_bps)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn program(&self, code: &str) -> Result<Option<Program>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM programs WHERE code = $1").bind(code).fetch_optional(&self.pool).await?)
    }

    pub async fn product_overrides(&self, program: &str) -> Result<Vec<ProductOverride>, DbError> {
        Ok(sqlx::query_as(
            "SELECT sku, rate_bps, flat_minor, owner_code, owner_bps FROM program_products WHERE program_code = $1 ORDER BY sku",
        )
        .bind(program)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn programs(&self) -> Result<Vec<Program>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM programs ORDER BY code").fetch_all(&self.pool).await?)
    }

    pub async fn add_partner(&self, p: &Partner, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        insert_partner(&mut tx, p, now_ms).await?;
        tx.commit().await
    }

    pub async fn partner(&self, code: &str) -> Result<Option<Partner>, DbError> {
        let Some(row) = sqlx::query("SELECT * FROM partners WHERE code = $1").bind(code).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let programs = sqlx::query("SELECT program_code FROM partner_programs WHERE partner_code = $1 ORDER BY program_code")
            .bind(code)
            .fetch_all(&self.pool)
            .await?;
        Ok(Some(Partner {
            code: parsed(&row, "code")?,
            name: row.try_get("name")?,
            email: parsed(&row, "email")?,
            parent: parsed_opt(&row, "parent_code")?,
            programs: first_column(&programs)?,
            active: row.try_get::<Option<i64>, _>("deactivated_at_ms")?.is_none(),
        }))
    }

    pub async fn partners(&self) -> Result<Vec<Partner>, DbError> {
        let rows = sqlx::query("SELECT * FROM partners ORDER BY code").fetch_all(&self.pool).await?;
        let mut programs: std::collections::HashMap<String, Vec<ProgramCode>> = std::collections::HashMap::new();
        for r in sqlx::query("SELECT partner_code, program_code FROM partner_programs ORDER BY program_code").fetch_all(&self.pool).await? {
            programs.entry(r.try_get("partner_code")?).or_default().push(parsed(&r, "program_code")?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let code: String = row.try_get("code")?;
            out.push(Partner {
                programs: programs.remove(&code).unwrap_or_default(),
                code: parsed(row, "code")?,
                name: row.try_get("name")?,
                email: parsed(row, "email")?,
                parent: parsed_opt(row, "parent_code")?,
                active: row.try_get::<Option<i64>, _>("deactivated_at_ms")?.is_none(),
            });
        }
        Ok(out)
    }

    pub async fn add_link(&self, l: &Link, now_ms: i64) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO links (code, name, destination, partner_code, created_at_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(l.code.as_str())
            .bind(&l.name)
            .bind(&l.destination)
            .bind(l.partner.as_ref().map(|c| c.as_str()))
            .bind(now_ms)
            .execute(tx.conn())
            .await?;
        insert_programs(&mut tx, "INSERT INTO link_programs (link_code, program_code) VALUES ($1, $2)", l.code.as_str(), &l.programs)
            .await?;
        tx.commit().await
    }

    pub async fn link(&self, code: &str) -> Result<Option<Link>, DbError> {
        let Some(row) = sqlx::query("SELECT * FROM links WHERE code = $1").bind(code).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let programs = sqlx::query("SELECT program_code FROM link_programs WHERE link_code = $1 ORDER BY program_code")
            .bind(code)
            .fetch_all(&self.pool)
            .await?;
        Ok(Some(Link {
            code: parsed(&row, "code")?,
            name: row.try_get("name")?,
            destination: row.try_get("destination")?,
            partner: parsed_opt(&row, "partner_code")?,
            programs: first_column(&programs)?,
        }))
    }

    pub async fn links(&self) -> Result<Vec<Link>, DbError> {
        let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM links ORDER BY code").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            out.extend(self.link(&code).await?);
        }
        Ok(out)
    }

    pub async fn add_key(&self, grant: &KeyGrant, key_hash: &str, now_ms: i64) -> Result<i64, DbError> {
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

    pub async fn key_grant(&self, key_hash: &str) -> Result<Option<KeyGrant>, DbError> {
        let row = sqlx::query("SELECT kind, partner_code FROM api_keys WHERE key_hash = $1 AND revoked_at_ms IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        Ok(match (kind.as_str(), parsed_opt(&row, "partner_code")?) {
            ("admin", _) => Some(KeyGrant::Admin),
            ("partner", Some(code)) => Some(KeyGrant::Partner(code)),
            _ => None,
        })
    }

    pub async fn revoke_key(&self, id: i64, now_ms: i64) -> Result<(), DbError> {
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
