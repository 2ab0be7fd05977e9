//! The public sign-up page's endpoints — `GET /v1/partner-applications` (whether it is open) and
//! `POST /v1/partner-applications` (rate-limited per visitor, no captcha service: a hidden field
//! catches bots) — and the merchant's decisions: `GET /v1/admin/partner-applications`,
//! `POST /v1/admin/partner-applications/{id}/approve|decline`.

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::client_ip;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::admin::AdminError;
use crate::backoffice::applications::{self, ApplicationInput, ApprovalInput, DeclineInput};
use crate::backoffice::edits;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;
use std::net::SocketAddr;

/// `/partner/apply` → `/partner/apply/` (the page's folder; the files service alone would
/// redirect to a path without `/partner`).
pub async fn page(State(state): State<AppState>) -> axum::response::Redirect {
    axum::response::Redirect::permanent(&format!("{}/partner/apply/", state.settings.base_path))
}

/// Whether the sign-up page takes applications.
pub async fn status(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({ "open": edits::settings(&state.store).await?.applications_open })))
}

/// Takes an application from the sign-up page.
pub async fn apply(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawBody(body): RawBody<8192>,
) -> Result<impl IntoResponse, ApiError> {
    let input: ApplicationInput = parse_json(&body)?;
    let visitor = hex::encode(&sha2::Sha256::digest(client_ip(&state.settings, &headers, peer).as_bytes())[..8]);
    if !state.applications.lock().expect("applications limit").allow(&visitor, state.clock.now_ms()) {
        return Err(AdminError::RateLimited.into());
    }
    applications::apply(&state.store, input, state.clock.now_ms()).await?;
    // A bot's application is answered the same, and dropped.
    Ok((StatusCode::CREATED, Json(json!({ "status": "received" }))))
}

/// Which applications to list.
#[derive(Debug, Deserialize)]
pub struct ApplicationQuery {
    status: Option<String>,
}

/// Applications (`?status=pending|approved|declined|all`; pending first by default).
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ApplicationQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "applications": applications::list(&state.store, q.status.as_deref()).await? })))
}

/// Approves an application: adds the partner and answers their personal link.
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawBody(body): RawBody<8192>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: ApprovalInput = parse_json(&body)?;
    let approved = applications::approve(&state.store, id, input, &state.base_url(), state.clock.now_ms()).await?;
    state.intake.forget_routes();
    Ok((StatusCode::CREATED, Json(approved)))
}

/// Declines an application.
pub async fn decline(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: DeclineInput = if body.is_empty() { DeclineInput::default() } else { parse_json(&body)? };
    Ok(Json(applications::decline(&state.store, id, input, state.clock.now_ms()).await?))
}
