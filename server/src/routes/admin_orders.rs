//! The merchant's orders and commissions: `GET /v1/admin/orders` (searchable) and
//! `GET /v1/admin/orders/{order_id}`, crediting an order by hand or moving it
//! (`POST /v1/admin/orders/{order_id}/credit`), the commissions list, voiding or approving one
//! early (`POST /v1/admin/ledger/{entry_id}/void|approve`), and adjusting a partner's balance
//! (`POST /v1/admin/partners/{code}/adjustments`). Admin key only.

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::corrections::{self, AdjustmentInput, CommissionQuery, ReasonInput};
use crate::backoffice::orders::{self, CreditInput, OrderQuery};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// Orders, newest first (`?status=attributed|unattributed&partner=&q=&limit=`).
pub async fn list_orders(
    State(state): State<AppState>,
    Query(q): Query<OrderQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "orders": orders::list(&state.store, q).await? })))
}

/// One order: how it was credited (or why not), its lines, commissions, refunds, ledger entries
/// and the hand-made changes of its credit.
pub async fn order(State(state): State<AppState>, Path(order_id): Path<String>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(orders::detail(&state.store, &order_id, state.clock.now_ms()).await?))
}

/// Credits an order by hand to a partner, or moves it to another one, with a reason.
pub async fn credit_order(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: CreditInput = parse_json(&body)?;
    Ok(Json(orders::credit(&state.store, &order_id, input, state.clock.now_ms()).await?))
}

/// Commissions, newest first (`?partner=&state=pending|approved|paid|voided|closed`).
pub async fn list_commissions(
    State(state): State<AppState>,
    Query(q): Query<CommissionQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(json!({ "commissions": corrections::list(&state.store, q, state.clock.now_ms()).await? })))
}

/// Voids what remains of an unpaid commission, with a reason.
pub async fn void_entry(
    State(state): State<AppState>,
    Path(entry_id): Path<i64>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: ReasonInput = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(corrections::void(&state.store, entry_id, input, state.clock.now_ms()).await?)))
}

/// Approves a pending commission now, with a reason.
pub async fn approve_entry(
    State(state): State<AppState>,
    Path(entry_id): Path<i64>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: ReasonInput = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(corrections::approve(&state.store, entry_id, input, state.clock.now_ms()).await?)))
}

/// Books a bonus or correction of a partner's balance, with a reason.
pub async fn adjust(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody<4096>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: AdjustmentInput = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(corrections::adjust(&state.store, &code, input, state.clock.now_ms()).await?)))
}
