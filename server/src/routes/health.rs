//! `/healthz`, `/metrics`, `/` and the JSON 404.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde_json::json;

/// Liveness: the process answers and its database reads.
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// A short page saying what this is.
pub async fn index(State(state): State<AppState>) -> Html<String> {
    let base = &state.settings.base_path;
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>reftrack</title><body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\">\
         <h1>reftrack</h1><p>Affiliate and referral tracking on this domain.</p>\
         <ul><li><a href=\"{base}/demo/\">Demo pages</a></li><li><a href=\"{base}/healthz\">Health</a></li>\
         <li><a href=\"{base}/metrics\">Metrics</a></li></ul></body>"
    ))
}

/// Anything else.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no route for {}", uri.path()))
}
