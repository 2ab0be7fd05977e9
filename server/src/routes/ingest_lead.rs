//! `POST /v1/leads`: a signed server-side opt-in. It counts as an opt-in for the partner.

use super::auth::verify_signed;
use super::error::ApiError;
use super::extract::{body_hash, parse_json, RawBody};
use super::ingest_order::json_answer;
use super::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reftrack_protocol::signature::HEADER_ID;
use reftrack_protocol::ServerLead;

/// Records the opt-in once per lead id (or message id).
pub async fn ingest_lead(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody<16384>) -> Result<Response, ApiError> {
    verify_signed(&state, &headers, &body)?;
    let lead: ServerLead = parse_json(&body)?;
    lead.validate().map_err(|e| ApiError::bad_request("invalid_lead", e.to_string()))?;
    let msg_id = headers.get(HEADER_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let answer = state.intake.record_lead(msg_id, lead, body_hash(&body)).await?;
    Ok(json_answer(answer))
}
