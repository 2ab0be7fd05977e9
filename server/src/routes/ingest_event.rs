//! `POST /v1/events` (beacons) and `GET /v1/pixel.gif` (no-JS fallback): answered at once, written
//! by the batch writer. Browser conversions are unverified until a signed order confirms them.

use super::error::ApiError;
use super::extract::{any_click_cookie, client_ip, parse_json, RawBody};
use super::state::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use reftrack_protocol::{BrowserEvent, ClickId, Conversion, Currency, OrderId};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

const MAX_EVENT_BYTES: usize = 8 * 1024;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Accepts one event as JSON, whatever the content type (`sendBeacon` sends `text/plain`).
pub async fn ingest_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_EVENT_BYTES>,
) -> Result<impl IntoResponse, ApiError> {
    let event: BrowserEvent = parse_json(&body)?;
    event.validate().map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    match event {
        BrowserEvent::Lead(lead) => state.intake.browser_lead(lead, any_click_cookie(&headers)).await?,
        BrowserEvent::Conversion(c) => {
            let ip = client_ip(&state.settings, &headers, peer);
            state.intake.browser_conversion(c, any_click_cookie(&headers), &ip).await?
        }
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": true }))))
}

/// Query of the conversion pixel.
#[derive(Debug, Deserialize)]
pub struct PixelQuery {
    order_id: Option<String>,
    amount_minor: Option<String>,
    currency: Option<String>,
    click_id: Option<String>,
}

/// The conversion pixel for pages without JavaScript.
pub async fn pixel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PixelQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let invalid = |field: &str, why: String| ApiError::bad_request("invalid_event", format!("{field}: {why}"));
    let order_id = OrderId::parse(q.order_id.as_deref().unwrap_or_default()).map_err(|e| invalid("order_id", e.to_string()))?;
    let amount_minor: i64 = q
        .amount_minor
        .as_deref()
        .unwrap_or_default()
        .parse()
        .ok()
        .filter(|a| *a >= 0)
        .ok_or_else(|| invalid("amount_minor", "must be a non-negative integer of minor units".into()))?;
    let currency = Currency::parse(q.currency.as_deref().unwrap_or_default()).map_err(|e| invalid("currency", e.to_string()))?;
    let click_id = match q.click_id.as_deref().filter(|c| !c.is_empty()) {
        Some(raw) => Some(ClickId::parse(raw).map_err(|e| invalid("click_id", e.to_string()))?),
        None => None,
    };
    let conversion = Conversion { order_id, amount_minor, currency, click_id };
    conversion.validate().map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    let ip = client_ip(&state.settings, &headers, peer);
    state.intake.browser_conversion(conversion, any_click_cookie(&headers), &ip).await?;
    Ok(([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL))
}
