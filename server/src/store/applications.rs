//! Applications from the public sign-up page, and the merchant's decision on each: approving one
//! adds the partner and their first personal token in one transaction.

use super::rows::parsed_opt;
use super::{DbError, Partner, Store};
use reftrack_protocol::PartnerCode;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

/// An application as given on the sign-up page, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub email: String,
    pub name: String,
    pub website: String,
    pub notes: String,
}

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Application {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub website: String,
    pub notes: String,
    /// `pending`, `approved` or `declined`.
    pub status: String,
    /// The partner it became, once approved.
    pub partner: Option<PartnerCode>,
    pub decision_note: String,
    pub created_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

impl FromRow<'_, AnyRow> for Application {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Application {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            website: r.try_get("website")?,
            notes: r.try_get("notes")?,
            status: r.try_get("status")?,
            partner: parsed_opt(r, "partner_code")?,
            decision_note: r.try_get("decision_note")?,
            created_at_ms: r.try_get("created_at_ms")?,
            decided_at_ms: r.try_get("decided_at_ms")?,
        })
    }
}

impl Store {
    /// Records an application. `Conflict` if the email has one pending already.
    pub async fn add_application(&self, a: &NewApplication, now_ms: i64) -> Result<Application, DbError> {
        let mut tx = self.write().await?;
        let pending: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM partner_applications WHERE email = $1 AND status = 'pending'{}",
            self.dialect.for_update()
        ))
        .bind(&a.email)
        .fetch_optional(tx.conn())
        .await?;
        if pending.is_some() {
            tx.rollback().await?;
            return Err(DbError::Conflict("an application with this email is already waiting".into()));
        }
        let created: Application = sqlx::query_as(
            "INSERT INTO partner_applications (email, name, website, notes, status, created_at_ms)
             VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING *",
        )
        .bind(&a.email)
        .bind(&a.name)
        .bind(&a.website)
        .bind(&a.notes)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Applications with this status (`None`: all), newest first.
    pub async fn applications(&self, status: Option<&str>) -> Result<Vec<Application>, DbError> {
        Ok(sqlx::query_as(
            "SELECT * FROM partner_applications WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) ORDER BY created_at_ms DESC, id DESC LIMIT 500",
        )
        .bind(status)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One application.
    pub async fn application(&self, id: i64) -> Result<Option<Application>, DbError> {
        Ok(sqlx::query_as("SELECT * FROM partner_applications WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Approves a pending application: adds `partner`, their personal token (its hash) and marks
    /// the application approved, together. `NotFound` if no such application, `Conflict` if it
    /// was decided already or the partner's code is taken. Answers the token's id.
    pub async fn approve_application(&self, id: i64, partner: &Partner, token_hash: &str, now_ms: i64) -> Result<i64, DbError> {
        let mut tx = self.write().await?;
        let status: String =
            sqlx::query_scalar(&format!("SELECT status FROM partner_applications WHERE id = $1{}", self.dialect.for_update()))
                .bind(id)
                .fetch_optional(tx.conn())
                .await?
                .ok_or(DbError::NotFound("application"))?;
        if status != "pending" {
            tx.rollback().await?;
            return Err(DbError::Conflict(format!("application {id} was already {status}")));
        }
        super::catalog::insert_partner(&mut tx, partner, now_ms).await?;
        let mut events = super::events::Events::default();
        events.push(super::catalog::partner_event(crate::domain::outgoing::EventType::PartnerApproved, partner, now_ms));
        events.apply(&mut tx).await?;
        let token_id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (kind, partner_code, key_hash, created_at_ms) VALUES ('partner', $1, $2, $3) RETURNING id",
        )
        .bind(partner.code.as_str())
        .bind(token_hash)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        sqlx::query("UPDATE partner_applications SET status = 'approved', partner_code = $2, decided_at_ms = $3 WHERE id = $1")
            .bind(id)
            .bind(partner.code.as_str())
            .bind(now_ms)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(token_id)
    }

    /// Declines a pending application. `NotFound` if no such application, `Conflict` if decided.
    pub async fn decline_application(&self, id: i64, note: &str, now_ms: i64) -> Result<(), DbError> {
        let done = sqlx::query(
            "UPDATE partner_applications SET status = 'declined', decision_note = $2, decided_at_ms = $3 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(note)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return match self.application(id).await? {
                Some(a) => Err(DbError::Conflict(format!("application {id} was already {}", a.status))),
                None => Err(DbError::NotFound("application")),
            };
        }
        Ok(())
    }
}
