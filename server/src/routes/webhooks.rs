//! The merchant's webhooks (`/v1/admin/webhooks…`) and a partner's postbacks
//! (`/v1/partners/{code}/postbacks…`).

use super::auth::{require_admin, require_partner_or_admin};
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::webhooks::{self, PostbackInput, WebhookInput};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// An id from the path, or a 404 in JSON.
fn id(raw: &str, what: &'static str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("not_found", format!("{what} {raw:?} does not exist")))
}

/// Adds a webhook: 201 with its `whsec_` secret, shown this once.
pub async fn add_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<8192>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: WebhookInput = parse_json(&body)?;
    let created = webhooks::add_webhook(&state.store, &state.guard, input, state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The webhooks with their state.
pub async fn list_webhooks(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "webhooks": webhooks::webhooks(&state.store).await? })))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    webhooks::delete(&state.store, id(&raw, "webhook")?, None, state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's delivery log, newest first.
pub async fn list_deliveries(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "deliveries": webhooks::deliveries(&state.store, id(&raw, "webhook")?).await? })))
}

/// Sends a delivery's event again (same event id): 202.
pub async fn redeliver(
    State(state): State<AppState>,
    Path((raw, delivery)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let new = webhooks::redeliver(&state.store, id(&raw, "webhook")?, id(&delivery, "delivery")?, state.clock.now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivery_id": new }))))
}

/// Queues a `webhook.test` event to the webhook: 202.
pub async fn test_webhook(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let (event_id, delivery_id) = webhooks::test_send(&state.store, id(&raw, "webhook")?, state.clock.now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "event_id": event_id, "delivery_id": delivery_id }))))
}

/// Adds a postback for the partner (their own token or the admin key): 201.
pub async fn add_postback(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<8192>,
) -> Result<impl IntoResponse, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    let input: PostbackInput = parse_json(&body)?;
    let created = webhooks::add_postback(&state.store, &state.guard, &code, input, state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list_postbacks(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    Ok(Json(json!({ "postbacks": webhooks::postbacks(&state.store, &code).await? })))
}

pub async fn delete_postback(
    State(state): State<AppState>,
    Path((code, raw)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    webhooks::delete(&state.store, id(&raw, "postback")?, Some(&code), state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
