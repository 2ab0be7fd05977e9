//! Who may call what: Standard Webhooks signatures on intake, bearer keys on admin and stats.

use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::KeyGrant;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
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
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    state
        .settings
        .verifier
        .verify_at(get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE), body, now)
        .map_err(|e| ApiError::unauthorized(e.code(), e.to_string()))
}

/// A fresh random key (32 bytes, URL-safe) with a prefix saying what it is for.
pub fn new_key(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Keys are stored as their SHA-256 only.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
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
        Some(KeyGrant::Partner(own)) if own == code => Ok(()),
        Some(KeyGrant::Partner(_)) => Err(ApiError::forbidden("a partner can only see their own figures")),
        None => Err(ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <admin key or partner token>")),
    }
}
