//! Promotional resources: banners (an uploaded image kept in the database, or a linked one) and
//! copy, per program, each pointing at one tracking link.

use super::rows::parsed;
use super::{DbError, Store};
use reftrack_protocol::{LinkCode, ProgramCode};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

/// A resource to store, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResource {
    pub program: ProgramCode,
    /// `banner` or `text`.
    pub kind: String,
    pub title: String,
    pub link: LinkCode,
    /// The copy (for text; `{link}` marks where the partner's URL goes).
    pub body: String,
    pub alt: String,
    /// A banner hosted elsewhere.
    pub image_url: Option<String>,
    /// An uploaded banner and its media type (told from its bytes).
    pub image: Option<(Vec<u8>, String)>,
}

/// A resource as listed (its image's bytes are served apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: i64,
    pub program: ProgramCode,
    pub kind: String,
    pub title: String,
    pub link: LinkCode,
    pub body: String,
    pub alt: String,
    pub image_url: Option<String>,
    /// Whether an uploaded image is stored (served at `/v1/resources/{id}/image`).
    pub uploaded: bool,
    pub content_type: Option<String>,
    pub created_at_ms: i64,
}

impl FromRow<'_, AnyRow> for Resource {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Resource {
            id: r.try_get("id")?,
            program: parsed(r, "program_code")?,
            kind: r.try_get("kind")?,
            title: r.try_get("title")?,
            link: parsed(r, "link_code")?,
            body: r.try_get("body")?,
            alt: r.try_get("alt")?,
            image_url: r.try_get("image_url")?,
            uploaded: r.try_get::<i64, _>("uploaded")? != 0,
            content_type: r.try_get("content_type")?,
            created_at_ms: r.try_get("created_at_ms")?,
        })
    }
}

const COLUMNS: &str = "id, program_code, kind, title, link_code, body, alt, image_url, content_type, created_at_ms,
                       CAST(CASE WHEN image IS NULL THEN 0 ELSE 1 END AS BIGINT) AS uploaded";

impl Store {
    /// Stores a resource; answers it.
    pub async fn add_resource(&self, r: &NewResource, now_ms: i64) -> Result<Resource, DbError> {
        let (image, content_type) = match &r.image {
            Some((bytes, kind)) => (Some(bytes.clone()), Some(kind.as_str())),
            None => (None, None),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resources (program_code, kind, title, link_code, body, alt, image_url, image, content_type, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(r.program.as_str())
        .bind(&r.kind)
        .bind(&r.title)
        .bind(r.link.as_str())
        .bind(&r.body)
        .bind(&r.alt)
        .bind(r.image_url.as_deref())
        .bind(image)
        .bind(content_type)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        self.resource(id).await?.ok_or(DbError::NotFound("resource"))
    }

    /// One resource.
    pub async fn resource(&self, id: i64) -> Result<Option<Resource>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM resources WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Every resource, by program then age.
    pub async fn resources(&self) -> Result<Vec<Resource>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM resources ORDER BY program_code, id")).fetch_all(&self.pool).await?)
    }

    /// An uploaded image and its media type.
    pub async fn resource_image(&self, id: i64) -> Result<Option<(Vec<u8>, String)>, DbError> {
        let row = sqlx::query("SELECT image, content_type FROM resources WHERE id = $1 AND image IS NOT NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some((r.try_get("image")?, r.try_get("content_type")?)))
    }

    /// Removes a resource (partners' pages that embed its image lose it).
    pub async fn delete_resource(&self, id: i64) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM resources WHERE id = $1").bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound("resource"));
        }
        Ok(())
    }
}
