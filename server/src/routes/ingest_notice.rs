//! `POST /v1/notices`: a signed notice of a money event the connector could not apply (a dispute
//! opened, a failed renewal…), kept for the merchant's view. Idempotent on the notice id.

use super::auth::verify_signed;
use super::error::ApiError;
use super::extract::{body_hash, parse_json, RawBody};
use super::ingest_order::json_answer;
use super::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reftrack_protocol::Notice;

/// Records the notice once per notice id.
pub async fn ingest_notice(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody<16384>) -> Result<Response, ApiError> {
    verify_signed(&state, &headers, &body)?;
    let notice: Notice = parse_json(&body)?;
    notice.validate().map_err(|e| ApiError::bad_request("invalid_notice", e.to_string()))?;
    let answer = state.intake.record_notice(notice, body_hash(&body)).await?;
    Ok(json_answer(answer))
}
