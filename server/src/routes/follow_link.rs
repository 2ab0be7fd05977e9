//! `GET /go/{link}`: the tracking link. Records the click, sets the cookie, redirects.

use super::error::{ApiError, RejectReason};
use super::extract::{click_set_cookies, wants_html, CookieFrom};
use super::state::AppState;
use crate::intake::links::{Hit, Visitor};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use reftrack_protocol::names::{PARTNER_PARAM, SUB_ID_PARAM};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Follows a tracking link. The destination comes only from the link's configuration.
pub async fn follow_link(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ip = client_ip(&state.settings, &headers, peer);
    let visitor = Visitor {
        ip: &ip,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        head: method == Method::HEAD,
        prefetch: is_prefetch(&headers),
    };
    let aff = params.get(PARTNER_PARAM).map(String::as_str);
    let sid = params.get(SUB_ID_PARAM).map(String::as_str);
    Ok(match state.intake.follow(&code, aff, sid, visitor).await? {
        Hit::Unknown => unknown_link(&headers, &code),
        Hit::Redirect { destination } => redirect(&destination, Vec::new()),
        Hit::Click { location, click_id, window_secs } => {
            let mut response = redirect(&location, click_set_cookies(&state.settings, CookieFrom::TrackingLink, &click_id, window_secs));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    })
}

/// Whether the browser is fetching the link ahead of a possible visit (Chrome's speculation
/// rules, `<link rel=prefetch>`, Safari's and Firefox's previews), not a person following it.
fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose", "x-purpose", "x-moz"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .any(|v| v.to_ascii_lowercase().contains("prefetch") || v.eq_ignore_ascii_case("preview"))
}

/// The visitor's IP: the last value of the configured proxy header (what the nearest proxy saw;
/// earlier values are the client's to forge), else the connection's address.
pub(super) fn client_ip(settings: &crate::configuration::Settings, headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = settings.client_ip_header.as_deref().and_then(|name| headers.get_all(name).iter().next_back());
    let last = forwarded.and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()).map(str::trim).filter(|v| !v.is_empty());
    match last {
        Some(ip) => ip.chars().take(64).collect(),
        None => peer.ip().to_string(),
    }
}

fn redirect(location: &str, cookies: Vec<String>) -> Response {
    let mut response = (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response();
    for cookie in cookies.into_iter().filter_map(|c| c.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn unknown_link(headers: &HeaderMap, code: &str) -> Response {
    if wants_html(headers) {
        let page = "<!doctype html><meta charset=utf-8><title>Link not found</title>\
                    <body style=\"font-family:system-ui;max-width:32rem;margin:4rem auto\">\
                    <h1>This link does not exist</h1><p>The tracking link you followed is unknown or was removed. \
                    Check the address with whoever shared it.</p></body>";
        let mut response = (StatusCode::NOT_FOUND, Html(page)).into_response();
        response.extensions_mut().insert(RejectReason("unknown_link"));
        return response;
    }
    let shown: String = code.chars().take(64).collect();
    ApiError::not_found("unknown_link", format!("no tracking link {shown:?}")).into_response()
}
