//! `GET /go/{link}`: the tracking link. Records the click, sets the cookie, redirects.

use super::{click_set_cookies, wants_html};
use crate::domain::fraud::Reason;
use crate::domain::{bots, click_id};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::routing::Route;
use crate::startup::AppState;
use crate::store::{BatchWrite, Click, FraudEvent};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use reftrack_protocol::names::{CLICK_PARAM, PARTNER_PARAM, SUB_ID_PARAM};
use reftrack_protocol::SubId;
use sha2::Digest;
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
    let aff = params.get(PARTNER_PARAM).map(String::as_str);
    let route = state.routes.resolve(state.store.as_ref(), &code, aff).await?;
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let prefetch = is_prefetch(&headers);
    let (destination, link, partner, program, window_days) = match route.as_ref() {
        Route::Unknown => return Ok(unknown_link(&headers, &code)),
        Route::Uncredited { destination, .. } | Route::Credited { destination, .. }
            if bots::is_bot(method == Method::HEAD, prefetch, user_agent) =>
        {
            Metrics::bump(&state.metrics.bot_hits);
            return Ok(redirect(destination, Vec::new()));
        }
        Route::Uncredited { destination, reason } => {
            Metrics::bump(&state.metrics.uncredited_hits);
            state.metrics.reject(reason);
            return Ok(redirect(destination, Vec::new()));
        }
        Route::Credited { destination, link, partner, program, window_days } => (destination, link, partner, program, *window_days),
    };
    let window_secs = window_days * 86_400;
    let now = crate::now_ms();
    let ip_hash = hex::encode(&sha2::Sha256::digest(client_ip(&state.settings, &headers, peer).as_bytes())[..8]);
    if !state.flood.lock().expect("flood lock").allow(&ip_hash, link, now) {
        // Still a working link for the visitor, but neither a hit nor a click anyone can earn on.
        state.metrics.reject(Reason::ClickFlood.as_str());
        let event = FraudEvent {
            reason: Reason::ClickFlood.as_str(),
            partner: Some(partner.clone()),
            link: Some(link.clone()),
            order_id: None,
            at_ms: now,
        };
        state.writer.write(BatchWrite::Fraud(event)).await;
        return Ok(redirect(destination, Vec::new()));
    }
    let id = click_id::mint();
    state
        .writer
        .write(BatchWrite::Click(Click {
            id: id.to_string(),
            link: link.clone(),
            partner: partner.clone(),
            sub_id: params.get(SUB_ID_PARAM).and_then(|s| SubId::parse(s).ok()).map(String::from),
            program: program.clone(),
            at_ms: now,
            expires_at_ms: now + window_secs * 1000,
            ip_hash: Some(ip_hash),
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
        }))
        .await;
    Metrics::bump(&state.metrics.clicks);
    let cookies = click_set_cookies(&state.settings, &id, window_secs);
    let mut response = redirect(&with_click(destination, id.as_str()), cookies);
    response.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("static header"));
    Ok(response)
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
fn client_ip(settings: &crate::configuration::Settings, headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = settings.client_ip_header.as_deref().and_then(|name| headers.get_all(name).iter().next_back());
    let last = forwarded.and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()).map(str::trim).filter(|v| !v.is_empty());
    match last {
        Some(ip) => ip.chars().take(64).collect(),
        None => peer.ip().to_string(),
    }
}

/// The destination with `rt_click` appended, keeping its own query and fragment.
fn with_click(destination: &str, click: &str) -> String {
    match url::Url::parse(destination) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair(CLICK_PARAM, click);
            url.into()
        }
        Err(_) => destination.to_owned(),
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
        response.extensions_mut().insert(crate::error::RejectReason("unknown_link"));
        return response;
    }
    let shown: String = code.chars().take(64).collect();
    ApiError::not_found("unknown_link", format!("no tracking link {shown:?}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::with_click;

    #[test]
    fn the_click_is_appended_keeping_query_and_fragment() {
        assert_eq!(
            with_click("https://www.example.com/offer?utm=x#buy", "CLICK"),
            "https://www.example.com/offer?utm=x&rt_click=CLICK#buy"
        );
        assert_eq!(with_click("https://www.example.com", "C"), "https://www.example.com/?rt_click=C");
    }
}
