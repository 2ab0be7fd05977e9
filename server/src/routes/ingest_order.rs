//! `POST /v1/orders` and `POST /v1/refunds`: signed, idempotent, durable before the 2xx.

use super::auth::verify_signed;
use super::error::ApiError;
use super::extract::{body_hash, parse_json, RawBody};
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reftrack_protocol::{CanonicalOrder, Refund};

/// Largest signed body accepted.
pub const MAX_SIGNED_BYTES: usize = 256 * 1024;

/// Records a canonical order and answers who was credited and how much.
pub async fn ingest_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_SIGNED_BYTES>,
) -> Result<Response, ApiError> {
    verify_signed(&state, &headers, &body)?;
    let order: CanonicalOrder = parse_json(&body)?;
    order.validate().map_err(|e| ApiError::bad_request("invalid_order", e.to_string()))?;
    let answer = state.intake.credit_order(order, body_hash(&body)).await?;
    Ok(json_answer(answer))
}

/// Records a refund as clawbacks against the order's commissions.
pub async fn ingest_refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_SIGNED_BYTES>,
) -> Result<Response, ApiError> {
    verify_signed(&state, &headers, &body)?;
    let refund: Refund = parse_json(&body)?;
    refund.validate().map_err(|e| ApiError::bad_request("invalid_refund", e.to_string()))?;
    let answer = state.intake.record_refund(refund, body_hash(&body)).await?;
    Ok(json_answer(answer))
}

/// A stored JSON answer, sent byte for byte so a replay gets exactly the first answer.
pub fn json_answer(json: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}
