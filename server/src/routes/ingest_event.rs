//! `POST /v1/events` (beacons) and `GET /v1/pixel.gif` (no-JS fallback): answered at once, written
//! by the batch writer. Browser conversions are unverified until a signed order confirms them.

use super::{click_cookie, parse_json, RawBody};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::startup::AppState;
use crate::store::{BatchWrite, NewConversion, NewLead};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::{BrowserEvent, ClickId, Conversion, Currency, OrderId};
use serde::Deserialize;
use serde_json::json;

const MAX_EVENT_BYTES: usize = 8 * 1024;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Accepts one event as JSON, whatever the content type (`sendBeacon` sends `text/plain`).
pub async fn ingest_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_EVENT_BYTES>,
) -> Result<impl IntoResponse, ApiError> {
    let event: BrowserEvent = parse_json(&body)?;
    event.validate().map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    let now = crate::now_ms();
    let write = match event {
        BrowserEvent::Lead(lead) => BatchWrite::Lead(NewLead {
            click_id: lead.click_id.or_else(|| click_cookie(&headers)).map(String::from),
            partner: None,
            sub_id: None,
            email: lead.email.map(String::from),
            page: lead.page,
            source: "browser",
            at_ms: now,
            window_ms: i64::from(DEFAULT_WINDOW_DAYS) * 86_400_000,
        }),
        BrowserEvent::Conversion(c) => conversion_write(c, &headers, now),
    };
    state.writer.write(write).await;
    Metrics::bump(&state.metrics.events);
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": true }))))
}

/// The write for a browser conversion; the batch writer resolves any pixel-only commission.
fn conversion_write(c: Conversion, headers: &HeaderMap, now: i64) -> BatchWrite {
    BatchWrite::Conversion(NewConversion {
        order_id: c.order_id.into(),
        amount_minor: c.amount_minor,
        currency: c.currency.to_string(),
        click_id: c.click_id.or_else(|| click_cookie(headers)).map(String::from),
        at_ms: now,
        pixel_credit: None,
    })
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
pub async fn pixel(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PixelQuery>) -> Result<impl IntoResponse, ApiError> {
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
    let write = conversion_write(Conversion { order_id, amount_minor, currency, click_id }, &headers, crate::now_ms());
    state.writer.write(write).await;
    Metrics::bump(&state.metrics.events);
    Ok(([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL))
}
