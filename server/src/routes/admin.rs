//! `/v1/admin/*`: programs, partners, links, partner tokens and notices (admin key only).

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::admin::{self, LinkInput, PartnerInput, ProgramInput};
use crate::store::{DbError, KeyGrant, ProductOverride};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use reftrack_protocol::PartnerCode;
use serde_json::json;

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
    let input: ProgramInput = parse_json(&body)?;
    let created = admin::add_program(&state.store, input, state.clock.now_ms()).await?;
    state.intake.forget_routes();
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
    let created = admin::set_product(&state.store, &code, o).await?;
    state.intake.forget_routes();
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
    let input: PartnerInput = parse_json(&body)?;
    let created = admin::add_partner(&state.store, input, state.clock.now_ms()).await?;
    state.intake.forget_routes();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Issues a personal token for a partner (shown once).
pub async fn issue_partner_token(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let partner = PartnerCode::parse(&code).map_err(|_| ApiError::not_found("not_found", format!("partner {code} does not exist")))?;
    let (id, token) = admin::issue_key(&state.store, KeyGrant::Partner(partner), state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "partner": code, "token": token }))))
}

/// Revokes an admin key or partner token by id: it stops working at once.
pub async fn revoke_key(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    match state.store.revoke_key(id, state.clock.now_ms()).await {
        Ok(()) => Ok(Json(json!({ "revoked": id }))),
        Err(DbError::NotFound(_)) => Err(ApiError::not_found("unknown_key", format!("no active key {id}"))),
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
    let input: LinkInput = parse_json(&body)?;
    let created = admin::add_link(&state.store, input, state.clock.now_ms()).await?;
    state.intake.forget_routes();
    Ok((StatusCode::CREATED, Json(created)))
}

/// The newest notices: money events the connector could not apply.
pub async fn list_notices(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "notices": state.store.notices(500).await? })))
}
