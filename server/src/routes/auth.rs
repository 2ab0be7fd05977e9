//! Who may call what: Standard Webhooks signatures on intake, bearer keys on admin and stats.

use super::error::ApiError;
use super::state::AppState;
use crate::backoffice::keys::hash_key;
use crate::store::KeyGrant;
use axum::http::{header, HeaderMap};
use reftrack_protocol::signature::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Verifies a signed request against the configured secrets and the clock; 401 with the reason.
pub fn verify_signed(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if state.settings.verifier.is_empty() {
        return Err(ApiError::unauthorized(
            "signing_not_configured",
            "the server has no REFTRACK_SIGNING_SECRETS; signed intake is closed",
        ));
    }
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    state
        .settings
        .verifier
        .verify_at(get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE), body, state.clock.now_secs())
        .map_err(|e| ApiError::unauthorized(e.code(), e.to_string()))
}

/// The bearer token, whatever the case of the scheme (RFC 9110: schemes are case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim_start();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the request's bearer key grants, if anything.
pub async fn grant(state: &AppState, headers: &HeaderMap) -> Result<Option<KeyGrant>, ApiError> {
    let Some(key) = bearer(headers).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if let Some(admin) = &state.settings.admin_key {
        let equal: bool = Sha256::digest(key.as_bytes()).ct_eq(&Sha256::digest(admin.as_bytes())).into();
        if equal {
            return Ok(Some(KeyGrant::Admin));
        }
    }
    Ok(state.store.key_grant(&hash_key(key)).await?)
}

/// Passes admins only.
pub async fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match grant(state, headers).await? {
        Some(KeyGrant::Admin) => Ok(()),
        Some(KeyGrant::Partner(_)) => Err(ApiError::forbidden("a partner token cannot use admin endpoints")),
        None => Err(ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <admin key>")),
    }
}

/// Passes admins and the partner `code` itself.
pub async fn require_partner_or_admin(state: &AppState, headers: &HeaderMap, code: &str) -> Result<(), ApiError> {
    match grant(state, headers).await? {
        Some(KeyGrant::Admin) => Ok(()),
        Some(KeyGrant::Partner(own)) if own.as_str() == code => Ok(()),
        Some(KeyGrant::Partner(_)) => Err(ApiError::forbidden("a partner can only see their own figures")),
        None => Err(ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <admin key or partner token>")),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;
    use axum::http::HeaderMap;

    #[test]
    fn the_bearer_scheme_is_read_whatever_its_case() {
        for value in ["Bearer k1", "bearer k1", "BEARER  k1"] {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", value.parse().unwrap());
            assert_eq!(bearer(&headers), Some("k1"), "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic k1".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
