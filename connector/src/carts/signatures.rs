//! How carts prove a delivery is theirs, exactly as each documents it: HMAC signatures (hex or
//! base64, with or without a timestamp), Standard Webhooks, HTTP Basic auth, or — for carts that
//! cannot sign — a secret token in the URL or in the body. Every comparison is constant-time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reftrack_protocol::signature::{Verifier, VerifyError, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was refused. `code` is answered to the cart and counted in metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signature's timestamp is outside the {0} s tolerance")]
    Stale(i64),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the {0} is missing: use the URL with its token, as the README shows")]
    MissingToken(&'static str),
    #[error("the {0} does not match the configured secret")]
    BadToken(&'static str),
    #[error("the delivery is for another account ({0} differs from the configured one)")]
    WrongAccount(&'static str),
    #[error("the Authorization header with the configured user and password is missing")]
    MissingCredentials,
    #[error("the Authorization header's user or password does not match the configured ones")]
    BadCredentials,
}

impl AuthError {
    /// Machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing(_) => "missing_signature",
            AuthError::Malformed(_) => "malformed_signature",
            AuthError::Stale(_) => "stale_timestamp",
            AuthError::Mismatch => "bad_signature",
            AuthError::MissingToken(_) => "missing_token",
            AuthError::BadToken(_) => "bad_token",
            AuthError::WrongAccount(_) => "wrong_account",
            AuthError::MissingCredentials => "missing_credentials",
            AuthError::BadCredentials => "bad_credentials",
        }
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA256 of `parts`, base64 (Shopify, WooCommerce).
pub fn base64_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    STANDARD.encode(mac(key, parts).finalize().into_bytes())
}

/// HMAC-SHA256 of `parts`, lower-case hex (Stripe, Paddle, Lemon Squeezy).
pub fn hex_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(mac(key, parts).finalize().into_bytes())
}

/// Checks a base64 signature in constant time.
pub fn verify_base64(key: &[u8], parts: &[&[u8]], signature: &str, header: &'static str) -> Result<(), AuthError> {
    let given = STANDARD.decode(signature.trim()).map_err(|_| AuthError::Malformed(header))?;
    mac(key, parts).verify_slice(&given).map_err(|_| AuthError::Mismatch)
}

/// Checks a hex signature in constant time.
pub fn verify_hex(key: &[u8], parts: &[&[u8]], signature: &str, header: &'static str) -> Result<(), AuthError> {
    let given = hex::decode(signature.trim()).map_err(|_| AuthError::Malformed(header))?;
    mac(key, parts).verify_slice(&given).map_err(|_| AuthError::Mismatch)
}

/// True when any of the hex signatures matches, compared in constant time.
pub fn any_hex_matches<'a>(key: &[u8], parts: &[&[u8]], mut signatures: impl Iterator<Item = &'a str>) -> bool {
    signatures.any(|s| hex::decode(s.trim()).is_ok_and(|given| mac(key, parts).verify_slice(&given).is_ok()))
}

/// Checks `|now - ts| <= tolerance`.
pub fn check_age(ts: i64, now: i64, tolerance: i64) -> Result<(), AuthError> {
    if now.abs_diff(ts) > tolerance.unsigned_abs() {
        Err(AuthError::Stale(tolerance))
    } else {
        Ok(())
    }
}

/// Whether `given` equals `secret`, in time independent of where they differ. Both are hashed
/// first, so their lengths do not show either.
pub fn same_secret(given: &str, secret: &str) -> bool {
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(secret.as_bytes()));
    bool::from(a.as_slice().ct_eq(b.as_slice())) && !secret.is_empty()
}

/// Checks a secret token carried by the delivery (`?token=` in the URL, a body field).
pub fn check_token(given: Option<&str>, secret: &str, what: &'static str) -> Result<(), AuthError> {
    match given.map(str::trim).filter(|t| !t.is_empty()) {
        None => Err(AuthError::MissingToken(what)),
        Some(t) if same_secret(t, secret) => Ok(()),
        Some(_) => Err(AuthError::BadToken(what)),
    }
}

/// Checks `Authorization: Basic <base64 user:password>` against `user_password` (`user:password`).
pub fn check_basic_auth(authorization: Option<&str>, user_password: &str) -> Result<(), AuthError> {
    let value = authorization.ok_or(AuthError::MissingCredentials)?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or(AuthError::MissingCredentials)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::MissingCredentials);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| AuthError::BadCredentials)?;
    let given = String::from_utf8(decoded).map_err(|_| AuthError::BadCredentials)?;
    if same_secret(&given, user_password) {
        Ok(())
    } else {
        Err(AuthError::BadCredentials)
    }
}

/// Checks Standard Webhooks headers with `verifier` (Polar, the generic intake).
pub fn verify_standard(verifier: &Verifier, headers: &axum::http::HeaderMap, body: &[u8], now: i64) -> Result<(), AuthError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verifier.verify_at(get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE), body, now).map_err(|e| match e {
        VerifyError::MissingHeader(h) => AuthError::Missing(h),
        VerifyError::TooOld(t) | VerifyError::TooNew(t) => AuthError::Stale(t),
        VerifyError::NoMatch => AuthError::Mismatch,
        VerifyError::BadId => AuthError::Malformed(HEADER_ID),
        VerifyError::BadTimestamp => AuthError::Malformed(HEADER_TIMESTAMP),
    })
}

/// The shape Stripe and Paddle share: a header of `ts_key=<unix>` and one or more `sig_key=<hex>`
/// parts separated by `part_sep`, signing `"{ts}{joiner}{body}"`; any signature may match.
pub struct TimestampedHex {
    pub header: &'static str,
    pub part_sep: char,
    pub ts_key: &'static str,
    pub sig_key: &'static str,
    pub joiner: &'static [u8],
}

impl TimestampedHex {
    /// Verifies `value` (the header's content) for `body` at `now` (unix seconds).
    pub fn verify(&self, value: Option<&str>, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), AuthError> {
        let value = value.ok_or(AuthError::Missing(self.header))?;
        let mut ts = None;
        let mut signatures = Vec::new();
        for part in value.split(self.part_sep) {
            match part.trim().split_once('=') {
                Some((k, v)) if k == self.ts_key => ts = v.parse::<i64>().ok(),
                Some((k, v)) if k == self.sig_key => signatures.push(v),
                _ => {}
            }
        }
        let ts = ts.ok_or(AuthError::Malformed(self.header))?;
        if signatures.is_empty() {
            return Err(AuthError::Malformed(self.header));
        }
        check_age(ts, now, tolerance)?;
        let ts = ts.to_string();
        if any_hex_matches(secret.as_bytes(), &[ts.as_bytes(), self.joiner, body], signatures.into_iter()) {
            Ok(())
        } else {
            Err(AuthError::Mismatch)
        }
    }

    /// The header value the cart would send.
    pub fn sign(&self, secret: &str, ts: i64, body: &[u8]) -> String {
        let ts_text = ts.to_string();
        let sig = hex_hmac(secret.as_bytes(), &[ts_text.as_bytes(), self.joiner, body]);
        format!("{}={ts}{}{}={sig}", self.ts_key, self.part_sep, self.sig_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_compared_whole_and_an_empty_secret_never_matches() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-toke", "s3cret-token"));
        assert!(!same_secret("s3cret-token-and-more", "s3cret-token"));
        assert!(!same_secret("", ""));
        assert_eq!(check_token(None, "t", "token"), Err(AuthError::MissingToken("token")));
        assert_eq!(check_token(Some("  "), "t", "token"), Err(AuthError::MissingToken("token")));
        assert_eq!(check_token(Some("x"), "t", "token"), Err(AuthError::BadToken("token")));
        check_token(Some("t"), "t", "token").unwrap();
    }

    #[test]
    fn basic_auth_must_carry_exactly_the_configured_user_and_password() {
        // base64("reftrack:pa55:word") — a colon in the password is part of the password.
        check_basic_auth(Some("Basic cmVmdHJhY2s6cGE1NTp3b3Jk"), "reftrack:pa55:word").unwrap();
        check_basic_auth(Some("basic cmVmdHJhY2s6cGE1NTp3b3Jk"), "reftrack:pa55:word").unwrap();
        assert_eq!(check_basic_auth(Some("Basic cmVmdHJhY2s6cGE1NQ=="), "reftrack:pa55:word"), Err(AuthError::BadCredentials));
        assert_eq!(check_basic_auth(Some("Basic !!!"), "reftrack:pa55:word"), Err(AuthError::BadCredentials));
        assert_eq!(check_basic_auth(Some("Bearer cmVmdHJhY2s6cGE1NTp3b3Jk"), "reftrack:pa55:word"), Err(AuthError::MissingCredentials));
        assert_eq!(check_basic_auth(None, "reftrack:pa55:word"), Err(AuthError::MissingCredentials));
    }

    #[test]
    fn a_timestamp_is_stale_in_either_direction() {
        check_age(1_000, 1_300, 300).unwrap();
        check_age(1_300, 1_000, 300).unwrap();
        assert_eq!(check_age(1_000, 1_301, 300), Err(AuthError::Stale(300)));
        assert_eq!(check_age(1_301, 1_000, 300), Err(AuthError::Stale(300)));
        assert_eq!(check_age(i64::MIN, i64::MAX, 300), Err(AuthError::Stale(300)));
    }
}
