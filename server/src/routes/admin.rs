//! `/v1/admin/*`: programs (and what they pay on a sample order), partners and their personal
//! links, links, settings and notices (admin key only).

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::admin::{self, LinkInput, PartnerInput, ProductInput, ProgramInput};
use crate::backoffice::edits::{self, LinkChanges, PartnerChanges, ProgramChanges, Settings};
use crate::backoffice::preview::{self, PreviewInput};
use crate::backoffice::report;
use crate::domain::period::parse_period;
use crate::store::DbError;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// Lists programs, each with its product overrides.
pub async fn list_programs(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(report::programs(&state.store).await?))
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

/// Changes a program's terms (`PATCH`: only the fields given).
pub async fn edit_program(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let changes: ProgramChanges = parse_json(&body)?;
    let program = edits::edit_program(&state.store, &code, changes).await?;
    state.intake.forget_routes();
    Ok(Json(program))
}

/// What a partner in the program as typed (saved or not) earns on a sample order.
pub async fn preview_commission(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<65536>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: PreviewInput = parse_json(&body)?;
    Ok(Json(preview::preview(&state.store, input).await?))
}

/// Sets a product override within a program: its rate or flat amount, and its owner.
pub async fn set_product(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let o: ProductInput = parse_json(&body)?;
    let created = admin::set_product(&state.store, &code, o).await?;
    state.intake.forget_routes();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Removes a product override from a program.
pub async fn delete_product(
    State(state): State<AppState>,
    Path((code, sku)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    edits::delete_product(&state.store, &code, &sku).await?;
    Ok(Json(json!({ "deleted": sku, "program": code })))
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

/// Changes a partner (`"active": false` deactivates them: their links stop crediting).
pub async fn edit_partner(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let changes: PartnerChanges = parse_json(&body)?;
    let partner = edits::edit_partner(&state.store, &code, changes, state.clock.now_ms()).await?;
    state.intake.forget_routes();
    Ok(Json(partner))
}

/// Makes a personal Partner Center link for a partner (its token is shown once).
pub async fn issue_partner_token(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let link = edits::issue_personal_link(&state.store, &code, &state.base_url(), state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// A partner's personal links that still work (revoke one with `DELETE /v1/admin/keys/{id}`).
pub async fn list_partner_tokens(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "partner": code, "tokens": edits::personal_links(&state.store, &code).await? })))
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

/// The period of a listing with figures (all time by default).
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Lists links, each with its hits, opt-ins and orders over `from`–`to`.
pub async fn list_links(
    State(state): State<AppState>,
    Query(q): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let period = parse_period(q.from.as_deref(), q.to.as_deref()).map_err(|m| ApiError::bad_request("invalid_period", m))?;
    state.intake.flush().await;
    Ok(Json(report::link_rows(&state.store, period).await?))
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

/// Changes a link (its code stays).
pub async fn edit_link(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<16384>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let changes: LinkChanges = parse_json(&body)?;
    let link = edits::edit_link(&state.store, &code, changes).await?;
    state.intake.forget_routes();
    Ok(Json(link))
}

/// The newest notices: money events the connector could not apply.
pub async fn list_notices(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "notices": state.store.notices(500).await? })))
}

/// The settings changed in the admin page.
pub async fn settings(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(edits::settings(&state.store).await?))
}

/// Changes the settings.
pub async fn set_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let settings: Settings = parse_json(&body)?;
    Ok(Json(edits::set_settings(&state.store, settings).await?))
}
