//! `POST /v1/leads`: a signed server-side opt-in. It counts as an opt-in for the partner.

use super::{ingest_order::json_answer, parse_json, RawBody};
use crate::auth::verify_signed;
use crate::crediting;
use crate::error::ApiError;
use crate::startup::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reftrack_protocol::signature::HEADER_ID;
use reftrack_protocol::ServerLead;

/// Records the opt-in once per message id.
pub async fn ingest_lead(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody<16384>) -> Result<Response, ApiError> {
    verify_signed(&state, &headers, &body)?;
    let lead: ServerLead = parse_json(&body)?;
    let msg_id = headers.get(HEADER_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let answer = crediting::record_lead(&state, msg_id, lead, super::body_hash(&body)).await?;
    Ok(json_answer(answer))
}
