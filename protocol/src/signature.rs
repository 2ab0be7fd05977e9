//! The Standard Webhooks signature scheme, used on everything signed that reaches the server.
//!
//! Signed content is `"{webhook-id}.{webhook-timestamp}.{raw body}"`, HMAC-SHA256, standard padded
//! base64, sent as `webhook-signature: v1,<sig>` (several space-separated, so secrets can rotate).
//! The clock is a parameter so verification is testable; the caller passes "now".

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Header carrying the message ID (stable across retries of one message).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the unix timestamp (seconds) of this attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying one or more `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far the timestamp may be from now, in either direction.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
const SECRET_PREFIX: &str = "whsec_";
const MAX_ID_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// A signing secret (`whsec_<base64>`). Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Why a secret string could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("a signing secret must start with whsec_")]
    MissingPrefix,
    #[error("the part after whsec_ is not valid base64")]
    NotBase64,
    #[error("the signing secret is shorter than 16 bytes")]
    TooShort,
}

impl Secret {
    /// Parses `whsec_<base64>`; the key is the decoded part after the prefix.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let encoded = raw.trim().strip_prefix(SECRET_PREFIX).ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if key.len() < 16 {
            return Err(SecretError::TooShort);
        }
        Ok(Self { key })
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// The `whsec_…` form, for configuration files.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `webhook-signature` value for one attempt: `v1,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(msg_id, timestamp, body)))
    }

    /// The three headers to send with `body`.
    pub fn headers(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        [(HEADER_ID, msg_id.to_owned()), (HEADER_TIMESTAMP, timestamp.to_string()), (HEADER_SIGNATURE, self.sign(msg_id, timestamp, body))]
    }
}

/// Why a signed request was refused. The `code` is what the server sends back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-id header is empty or longer than 256 characters")]
    BadId,
    #[error("the webhook-timestamp header is not a unix time in seconds")]
    BadTimestamp,
    #[error("the webhook-timestamp is more than {0} s in the past")]
    TooOld(i64),
    #[error("the webhook-timestamp is more than {0} s in the future")]
    TooNew(i64),
    #[error("no v1 signature matches the body with any active secret")]
    NoMatch,
}

impl VerifyError {
    /// A machine-readable code for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_signature_header",
            VerifyError::BadId => "bad_webhook_id",
            VerifyError::BadTimestamp => "bad_timestamp",
            VerifyError::TooOld(_) | VerifyError::TooNew(_) => "stale_timestamp",
            VerifyError::NoMatch => "bad_signature",
        }
    }
}

/// Checks signed messages against every active secret.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance_secs: i64,
}

impl Verifier {
    /// A verifier accepting any of `secrets`, with the default ±300 s tolerance.
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self { secrets, tolerance_secs: DEFAULT_TOLERANCE_SECS }
    }

    /// Changes the timestamp tolerance.
    pub fn with_tolerance(mut self, secs: i64) -> Self {
        self.tolerance_secs = secs;
        self
    }

    /// True when no secret is configured (every signed request will fail).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Verifies one message against the clock value `now` (unix seconds).
    pub fn verify_at(
        &self,
        msg_id: Option<&str>,
        timestamp: Option<&str>,
        signatures: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let ts = self.check_timestamp(timestamp, now)?;
        self.verify_ignoring_timestamp(msg_id, Some(&ts.to_string()), signatures, body)
    }

    fn check_timestamp(&self, timestamp: Option<&str>, now: i64) -> Result<i64, VerifyError> {
        let ts: i64 =
            timestamp.ok_or(VerifyError::MissingHeader(HEADER_TIMESTAMP))?.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
        // Widened: a timestamp header is any i64 a sender writes, and `now - ts` of two of them
        // overflows (a panic in debug builds, a wrong verdict in release ones).
        let (now_wide, ts_wide, tolerance) = (i128::from(now), i128::from(ts), i128::from(self.tolerance_secs));
        if now_wide - ts_wide > tolerance {
            return Err(VerifyError::TooOld(self.tolerance_secs));
        }
        if ts_wide - now_wide > tolerance {
            return Err(VerifyError::TooNew(self.tolerance_secs));
        }
        Ok(ts)
    }

    /// Verifies the signature only; for replaying stored messages, never for live intake.
    pub fn verify_ignoring_timestamp(
        &self,
        msg_id: Option<&str>,
        timestamp: Option<&str>,
        signatures: Option<&str>,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let msg_id = msg_id.ok_or(VerifyError::MissingHeader(HEADER_ID))?;
        if msg_id.is_empty() || msg_id.len() > MAX_ID_LEN {
            return Err(VerifyError::BadId);
        }
        let ts: i64 =
            timestamp.ok_or(VerifyError::MissingHeader(HEADER_TIMESTAMP))?.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
        let signatures = signatures.ok_or(VerifyError::MissingHeader(HEADER_SIGNATURE))?;
        let candidates: Vec<Vec<u8>> =
            signatures.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).filter_map(|b64| STANDARD.decode(b64).ok()).collect();
        for secret in &self.secrets {
            let expected = secret.mac(msg_id, ts, body);
            // Every candidate is compared in constant time; a length mismatch is simply unequal.
            if candidates.iter().any(|c| bool::from(c.as_slice().ct_eq(&expected))) {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1649367553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const EXPECTED: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn verifier() -> Verifier {
        Verifier::new(vec![Secret::parse(SECRET).unwrap()])
    }

    #[test]
    fn signing_matches_the_published_standard_webhooks_vector() {
        assert_eq!(Secret::parse(SECRET).unwrap().sign(ID, TS, BODY), EXPECTED);
    }

    #[test]
    fn the_published_vector_verifies_within_tolerance() {
        verifier().verify_at(Some(ID), Some("1649367553"), Some(EXPECTED), BODY, TS + 299).unwrap();
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused_in_both_directions() {
        let v = verifier();
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), Some(EXPECTED), BODY, TS + 301), Err(VerifyError::TooOld(300)));
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), Some(EXPECTED), BODY, TS - 301), Err(VerifyError::TooNew(300)));
    }

    #[test]
    fn a_changed_body_id_or_timestamp_breaks_the_signature() {
        let v = verifier();
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), Some(EXPECTED), b"{}", TS), Err(VerifyError::NoMatch));
        assert_eq!(v.verify_at(Some("msg_other"), Some("1649367553"), Some(EXPECTED), BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(v.verify_at(Some(ID), Some("1649367554"), Some(EXPECTED), BODY, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn a_timestamp_at_the_far_ends_of_i64_is_refused_not_overflowed() {
        // Found by the property tests: `now - ts` overflowed for these.
        let v = verifier();
        assert_eq!(v.verify_at(Some(ID), Some(&i64::MIN.to_string()), Some(EXPECTED), BODY, TS), Err(VerifyError::TooOld(300)));
        assert_eq!(v.verify_at(Some(ID), Some(&i64::MAX.to_string()), Some(EXPECTED), BODY, -TS), Err(VerifyError::TooNew(300)));
        assert_eq!(
            v.verify_at(Some(ID), Some("-4515833294706255556"), None, BODY, 4_707_538_742_148_520_252),
            Err(VerifyError::TooOld(300))
        );
    }

    #[test]
    fn missing_headers_and_partial_signatures_are_refused() {
        let v = verifier();
        assert_eq!(v.verify_at(None, Some("1649367553"), Some(EXPECTED), BODY, TS), Err(VerifyError::MissingHeader(HEADER_ID)));
        assert_eq!(v.verify_at(Some(ID), None, Some(EXPECTED), BODY, TS), Err(VerifyError::MissingHeader(HEADER_TIMESTAMP)));
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), None, BODY, TS), Err(VerifyError::MissingHeader(HEADER_SIGNATURE)));
        assert_eq!(v.verify_at(Some(ID), Some("soon"), Some(EXPECTED), BODY, TS), Err(VerifyError::BadTimestamp));
        let partial = &EXPECTED[..EXPECTED.len() - 8];
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), Some(partial), BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(v.verify_at(Some(ID), Some("1649367553"), Some("v2,abc"), BODY, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn any_of_several_signatures_and_any_of_several_secrets_is_enough() {
        let old = Secret::from_bytes(b"an old key that is long enough");
        let v = Verifier::new(vec![old.clone(), Secret::parse(SECRET).unwrap()]);
        let header = format!("v1,Zm9v {EXPECTED}");
        v.verify_at(Some(ID), Some("1649367553"), Some(&header), BODY, TS).unwrap();
        let by_old = old.sign(ID, TS, BODY);
        v.verify_at(Some(ID), Some("1649367553"), Some(&by_old), BODY, TS).unwrap();
    }

    #[test]
    fn secrets_need_the_prefix_and_base64_and_are_redacted_in_debug() {
        assert_eq!(Secret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err(), SecretError::MissingPrefix);
        assert_eq!(Secret::parse("whsec_***").unwrap_err(), SecretError::NotBase64);
        let s = Secret::parse(SECRET).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
        assert_eq!(s.to_whsec(), SECRET);
    }
}
