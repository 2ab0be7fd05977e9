//! What handlers read from a request: a bounded raw body, JSON, cookies.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use reftrack_protocol::names::{CLICK_COOKIE, CROSS_SITE_CLICK_COOKIE};
use reftrack_protocol::ClickId;
use std::net::SocketAddr;

/// The raw request body, at most `LIMIT` bytes; more is a 413 with a JSON body.
pub struct RawBody<const LIMIT: usize>(pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > LIMIT) {
            return Err(ApiError::too_large(LIMIT));
        }
        match axum::body::to_bytes(req.into_body(), LIMIT).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(e) => {
                let too_long = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                    || e.to_string().contains("length limit");
                if too_long {
                    Err(ApiError::too_large(LIMIT))
                } else {
                    Err(ApiError::bad_request("unreadable_body", format!("the body could not be read: {e}")))
                }
            }
        }
    }
}

/// Parses a JSON body into `T`, mapping serde's message into a 400.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))
}

/// The value of one cookie, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The click ID from the first-party `rt_click` cookie, if present and well-formed.
pub fn click_cookie(headers: &HeaderMap) -> Option<ClickId> {
    cookie(headers, CLICK_COOKIE).and_then(|v| ClickId::parse(v).ok())
}

/// The click ID from either click cookie: the first-party one, else the cross-site one (which a
/// browser sends only where it keeps third-party cookies). Only the credentialed lookup reads it.
pub fn any_click_cookie(headers: &HeaderMap) -> Option<ClickId> {
    click_cookie(headers).or_else(|| cookie(headers, CROSS_SITE_CLICK_COOKIE).and_then(|v| ClickId::parse(v).ok()))
}

/// Where a click cookie would be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieFrom {
    /// The tracking link's redirect: before the visitor could consent to anything.
    TrackingLink,
    /// `/v1/touch`, which the snippet calls only where storing is allowed.
    Touch,
}

/// The `Set-Cookie` values for a click, set by the server (HttpOnly) for `max_age_secs`: the
/// first-party `SameSite=Lax` cookie and, under https, its `SameSite=None` twin. None when the
/// merchant runs cookieless (`--cookies off`), or on the tracking link under `--cookies consent`.
pub fn click_set_cookies(settings: &crate::configuration::Settings, from: CookieFrom, click: &ClickId, max_age_secs: i64) -> Vec<String> {
    use crate::configuration::Cookies;
    match (settings.cookies, from) {
        (Cookies::Off, _) | (Cookies::AfterConsent, CookieFrom::TrackingLink) => return Vec::new(),
        (Cookies::On, _) | (Cookies::AfterConsent, CookieFrom::Touch) => {}
    }
    let mut attributes = format!("Max-Age={}; Path=/; HttpOnly", max_age_secs.max(0));
    if let Some(domain) = &settings.cookie_domain {
        attributes.push_str("; Domain=");
        attributes.push_str(domain);
    }
    let mut cookies = Vec::with_capacity(2);
    if settings.secure_cookies() {
        cookies.push(format!("{CLICK_COOKIE}={click}; {attributes}; SameSite=Lax; Secure"));
        cookies.push(format!("{CROSS_SITE_CLICK_COOKIE}={click}; {attributes}; SameSite=None; Secure"));
    } else {
        cookies.push(format!("{CLICK_COOKIE}={click}; {attributes}; SameSite=Lax"));
    }
    cookies
}

/// The visitor's IP: the last value of the configured proxy header (what the nearest proxy saw;
/// earlier values are the client's to forge), else the connection's address.
pub fn client_ip(settings: &crate::configuration::Settings, headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = settings.client_ip_header.as_deref().and_then(|name| headers.get_all(name).iter().next_back());
    let last = forwarded.and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()).map(str::trim).filter(|v| !v.is_empty());
    match last {
        Some(ip) => ip.chars().take(64).collect(),
        None => peer.ip().to_string(),
    }
}

/// True when the client asked for a web page rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The SHA-256 of a body, hex: how idempotent endpoints tell "the same" from "different".
pub fn body_hash(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}
