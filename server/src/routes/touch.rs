//! `POST /v1/touch`: re-sets the click cookie from the server, HttpOnly, for the rest of its
//! window. Safari caps cookies written by scripts at 7 days; server-set ones last the full window.
//! Under `--cookies consent` this is where the cookie is first set, once the visitor consented.

use super::error::ApiError;
use super::extract::{click_cookie, click_set_cookies, parse_json, CookieFrom, RawBody};
use super::state::AppState;
use crate::domain::period::rfc3339_of_ms;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use reftrack_protocol::ClickId;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct TouchBody {
    click_id: Option<ClickId>,
}

/// Refreshes the server-set cookie for a known, unexpired click.
pub async fn touch(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody<1024>) -> Result<Response, ApiError> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) { None } else { parse_json::<TouchBody>(&body)?.click_id };
    let id = from_body
        .or_else(|| click_cookie(&headers))
        .ok_or_else(|| ApiError::bad_request("missing_click_id", "send {\"click_id\": …} or the rt_click cookie"))?;
    // An unknown or expired click has nothing to refresh: no content and no cookie, rather than an
    // error the browser would log on the merchant's page.
    let Some(click) = state.intake.live_click(id.as_str()).await? else {
        return Ok((StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response());
    };
    let max_age = (click.expires_at_ms - state.clock.now_ms()) / 1000;
    let mut response =
        Json(json!({ "click_id": click.id, "partner": click.partner, "expires_at": rfc3339_of_ms(click.expires_at_ms) })).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in click_set_cookies(&state.settings, CookieFrom::Touch, &id, max_age).into_iter().filter_map(|c| c.parse().ok()) {
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
