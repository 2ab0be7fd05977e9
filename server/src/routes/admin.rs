//! `/v1/admin/*`: programs, partners, links and partner tokens (admin key only).

use super::{parse_json, RawBody};
use crate::admin::{self, AdminError};
use crate::auth::require_admin;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::{KeyGrant, Link, Partner, ProductOverride, Program};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => ApiError::bad_request("invalid_input", m),
            AdminError::Exists(m) => ApiError::conflict("already_exists", format!("{m} already exists")),
            AdminError::Missing(m) => ApiError::not_found("not_found", format!("{m} does not exist")),
            AdminError::Db(e) => e.into(),
        }
    }
}

/// Lists programs.
pub async fn list_programs(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(state.store.programs().await?))
}

/// Adds a program.
pub async fn add_program(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let p: Program = parse_json(&body)?;
    let created = admin::add_program(state.store.as_ref(), p).await?;
    state.routes.clear();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Sets a product override within a program.
pub async fn set_product(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let o: ProductOverride = parse_json(&body)?;
    let created = admin::set_product(state.store.as_ref(), &code, o).await?;
    state.routes.clear();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists partners.
pub async fn list_partners(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(state.store.partners().await?))
}

/// Adds a partner.
pub async fn add_partner(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let p: Partner = parse_json(&body)?;
    let created = admin::add_partner(state.store.as_ref(), p).await?;
    state.routes.clear();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Issues a personal token for a partner (shown once).
pub async fn issue_partner_token(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let (id, token) = admin::issue_key(state.store.as_ref(), KeyGrant::Partner(code.clone())).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "partner": code, "token": token }))))
}

/// Revokes an admin key or partner token by id: it stops working at once.
pub async fn revoke_key(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    match state.store.revoke_key(id, crate::now_ms()).await {
        Ok(()) => Ok(Json(json!({ "revoked": id }))),
        Err(crate::store::DbError::NotFound(_)) => Err(ApiError::not_found("unknown_key", format!("no active key {id}"))),
        Err(e) => Err(e.into()),
    }
}

/// Lists links.
pub async fn list_links(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(state.store.links().await?))
}

/// Adds a link.
pub async fn add_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let l: Link = parse_json(&body)?;
    let created = admin::add_link(state.store.as_ref(), l).await?;
    state.routes.clear();
    Ok((StatusCode::CREATED, Json(created)))
}
