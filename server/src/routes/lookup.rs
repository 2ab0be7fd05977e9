//! `GET /v1/lookup`: who referred this visitor, for webinar and landing-page tools.

use super::error::ApiError;
use super::extract::any_click_cookie;
use super::state::AppState;
use crate::domain::period::rfc3339_of_ms;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::Json;
use reftrack_protocol::ClickId;
use serde::Deserialize;
use serde_json::json;

/// Query of the lookup.
#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    click: Option<String>,
}

/// Answers the partner behind the visitor's click, or `{"partner": null}`.
pub async fn lookup(
    State(state): State<AppState>,
    Query(q): Query<LookupQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let by_id = q.click.is_some();
    let click_id = match q.click.as_deref() {
        Some(raw) => Some(ClickId::parse(raw).map_err(|e| ApiError::bad_request("invalid_click_id", e.to_string()))?),
        None => any_click_cookie(&headers),
    };
    let click = match click_id {
        Some(id) => state.intake.live_click(id.as_str()).await?,
        None => None,
    };
    let body = match click {
        Some(c) => json!({
            "partner": c.partner,
            "sub_id": c.sub_id,
            "click_id": c.id,
            "expires_at": rfc3339_of_ms(c.expires_at_ms),
        }),
        None => json!({ "partner": null }),
    };
    let mut response = ([(header::CACHE_CONTROL, "no-store"), (header::VARY, "Origin, Cookie")], Json(body)).into_response();
    if by_id {
        // Whoever holds a click id may learn its partner: third-party tools need no configuration.
        // (For configured origins the credentialed CORS layer replaces this with their own origin.)
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    Ok(response)
}
