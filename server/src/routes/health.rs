//! `/healthz`, `/metrics`, `/` and the JSON 404.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Readiness: the process answers, its database takes a write (checked at most once a second, so
/// probes cost nothing under load), and no write was refused for lack of storage in the last few
/// seconds (a nearly full disk still takes a one-row probe, not an order). 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now_ms();
    let recent = state.health.lock().unwrap_or_else(|p| p.into_inner()).filter(|(at, _)| now - at < 1_000);
    let writable = match recent {
        Some((_, ok)) => ok,
        None => {
            let ok = match state.store.probe_write(now).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "health: the database does not take a write");
                    false
                }
            };
            *state.health.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, ok));
            ok
        }
    };
    if !writable || state.metrics.storage_failed_within(std::time::Duration::from_secs(10)) {
        return Err(ApiError::reject(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the database does not take writes now",
        ));
    }
    Ok(Json(json!({ "status": "ok" })))
}

/// Prometheus text format, for the bearer of `REFTRACK_METRICS_TOKEN` only.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let Some(token) = &state.settings.metrics_token else {
        return Err(ApiError::not_found("metrics_off", "metrics are off: set REFTRACK_METRICS_TOKEN and send it as a bearer token"));
    };
    let given = super::auth::bearer(&headers).unwrap_or_default();
    let equal: bool = Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(token.as_bytes())).into();
    if !equal {
        return Err(ApiError::unauthorized("missing_metrics_token", "send Authorization: Bearer <REFTRACK_METRICS_TOKEN>"));
    }
    let mut text = state.metrics.render();
    // The outbox is shared by every server: these are read from the database, not counted here.
    let (depth, disabled) = (state.store.outbox_depth().await?, state.store.disabled_endpoints().await?);
    text.push_str(&format!(
        "# HELP reftrack_outbox_depth Webhook and postback deliveries waiting to be sent\n# TYPE reftrack_outbox_depth gauge\nreftrack_outbox_depth {depth}\n\
         # HELP reftrack_webhook_endpoints_disabled Endpoints disabled now after failing for 5 days\n# TYPE reftrack_webhook_endpoints_disabled gauge\nreftrack_webhook_endpoints_disabled {disabled}\n"
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// A short page saying what this is.
pub async fn index(State(state): State<AppState>) -> Html<String> {
    let base = &state.settings.base_path;
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>reftrack</title><body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\">\
         <h1>reftrack</h1><p>Affiliate and referral tracking on this domain.</p>\
         <ul><li><a href=\"{base}/demo/\">Demo pages</a></li><li><a href=\"{base}/healthz\">Health</a></li>\
         </ul></body>"
    ))
}

/// Anything else.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no route for {}", uri.path()))
}
