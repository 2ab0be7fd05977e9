//! The tools' HTTP edge, reached through `/webhooks/{tool}`: the tool's own authentication, its
//! payload, then the outbox. Every refusal is a JSON `{error, message}` with a precise status: 503
//! when the tool has no secret configured (never accepted unauthenticated), 401 for a forged,
//! stale or missing signature or token, 400/422 for a payload we cannot use, 413 when too large.
//! 2xx only once the leads are committed (a tool's retry of the same opt-in is the same entry).
//! Nothing secret, and no email, is logged.

use super::{Delivery, Intake, Tool};
use crate::metrics::Metrics;
use crate::routes::{AppState, MAX_BODY};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

fn refuse(metrics: &Metrics, tool: &Tool, status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    metrics.lead_reject(tool.name, code);
    (status, Json(json!({ "error": code, "message": message.into() }))).into_response()
}

fn not_configured(metrics: &Metrics, tool: &Tool) -> Response {
    refuse(
        metrics,
        tool,
        StatusCode::SERVICE_UNAVAILABLE,
        "tool_not_configured",
        format!("{} is not set: {} webhooks are refused, never accepted unauthenticated", tool.secret_env, tool.name),
    )
}

/// Receives one delivery of `tool`.
pub async fn receive(
    state: &AppState,
    tool: &'static Tool,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let metrics = &state.metrics;
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!("the body is larger than {MAX_BODY} bytes");
            return refuse(metrics, tool, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message);
        }
        Err(r) => return refuse(metrics, tool, StatusCode::BAD_REQUEST, "unreadable_body", r.body_text()),
    };
    let Some(secret) = state.tools.secret(tool) else {
        return not_configured(metrics, tool);
    };
    let delivery = Delivery { headers, query, body: &body };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = (tool.verify)(&delivery, secret, &state.tools, now) {
        return refuse(metrics, tool, StatusCode::UNAUTHORIZED, e.code(), e.to_string());
    }
    let intake = match (tool.parse)(&delivery, secret, &state.tools) {
        Ok(intake) => intake,
        Err(e) => {
            let status = if e.code() == "no_email" { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
            return refuse(metrics, tool, status, e.code(), e.to_string());
        }
    };
    match intake {
        Intake::Reply(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Intake::Ignored(why) => {
            metrics.lead(tool.name, "ignored", 1);
            tracing::info!(tool = tool.name, reason = %why, "delivery acknowledged, no opt-in to forward");
            (StatusCode::OK, Json(json!({ "status": "ignored", "reason": why }))).into_response()
        }
        Intake::Leads(leads) => store(state, tool, leads, Vec::new()).await,
        Intake::Batch { leads, skipped } => store(state, tool, leads, skipped).await,
    }
}

/// Commits the delivery's leads, answering with what was left out, if anything. A delivery none
/// of whose opt-in events could be read at all is a 400 (nothing stored), with the same report.
async fn store(state: &AppState, tool: &'static Tool, leads: Vec<reftrack_protocol::ServerLead>, skipped: Vec<super::Skipped>) -> Response {
    let metrics = &state.metrics;
    for s in &skipped {
        metrics.lead_reject(tool.name, s.error);
    }
    if !skipped.is_empty() {
        tracing::warn!(tool = tool.name, skipped = skipped.len(), kept = leads.len(), "events of a delivery were left out");
    }
    if leads.is_empty() {
        let message = format!("none of the delivery's {} opt-in events could be read; nothing was stored", skipped.len());
        let body = json!({ "error": "invalid_payload", "message": message, "skipped": skipped });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    match state.outbox.accept_leads(&leads, crate::now_ms()).await {
        Ok(added) => {
            metrics.lead(tool.name, "accepted", added);
            state.wake.notify_one();
            let mut body = json!({ "status": "accepted", "leads": leads.len(), "new": added });
            if !skipped.is_empty() {
                body["skipped"] = json!(skipped);
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => {
            metrics.lead_reject(tool.name, if crate::outbox::is_unavailable(&e) { "outbox_unavailable" } else { "internal" });
            crate::routes::storage_failed(&e, "delivery")
        }
    }
}

/// `GET /webhooks/{name}`: a tool that checks its URL that way (Mailchimp) is answered 200 once it
/// is configured; it stores nothing. Anything else only takes POST.
pub async fn check_url(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match super::find(&name) {
        Some(tool) if tool.answers_get => {
            if state.tools.secret(tool).is_none() {
                return not_configured(&state.metrics, tool);
            }
            (StatusCode::OK, Json(json!({ "status": "ok", "tool": tool.name }))).into_response()
        }
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(json!({ "error": "method_not_allowed", "message": format!("/webhooks/{name} takes POST") })),
        )
            .into_response(),
    }
}
