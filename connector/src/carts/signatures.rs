//! The signature schemes carts use, exactly as each documents them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a cart's signature was refused. `code` is answered to the cart and counted in metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signature's timestamp is outside the {0} s tolerance")]
    Stale(i64),
    #[error("the signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// Machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "missing_signature",
            SignatureError::Malformed(_) => "malformed_signature",
            SignatureError::Stale(_) => "stale_timestamp",
            SignatureError::Mismatch => "bad_signature",
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

/// HMAC-SHA256 of `parts`, lower-case hex (Stripe, Paddle).
pub fn hex_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(mac(key, parts).finalize().into_bytes())
}

/// Checks a base64 signature in constant time.
pub fn verify_base64(key: &[u8], parts: &[&[u8]], signature: &str, header: &'static str) -> Result<(), SignatureError> {
    let given = STANDARD.decode(signature.trim()).map_err(|_| SignatureError::Malformed(header))?;
    mac(key, parts).verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

/// True when any of the hex signatures matches, compared in constant time.
pub fn any_hex_matches<'a>(key: &[u8], parts: &[&[u8]], mut signatures: impl Iterator<Item = &'a str>) -> bool {
    signatures.any(|s| hex::decode(s.trim()).is_ok_and(|given| mac(key, parts).verify_slice(&given).is_ok()))
}

/// Checks `|now - ts| <= tolerance`.
pub fn check_age(ts: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    if (now - ts).abs() > tolerance {
        Err(SignatureError::Stale(tolerance))
    } else {
        Ok(())
    }
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
    pub fn verify(&self, value: Option<&str>, body: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
        let value = value.ok_or(SignatureError::Missing(self.header))?;
        let mut ts = None;
        let mut signatures = Vec::new();
        for part in value.split(self.part_sep) {
            match part.trim().split_once('=') {
                Some((k, v)) if k == self.ts_key => ts = v.parse::<i64>().ok(),
                Some((k, v)) if k == self.sig_key => signatures.push(v),
                _ => {}
            }
        }
        let ts = ts.ok_or(SignatureError::Malformed(self.header))?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed(self.header));
        }
        check_age(ts, now, tolerance)?;
        let ts = ts.to_string();
        if any_hex_matches(secret.as_bytes(), &[ts.as_bytes(), self.joiner, body], signatures.into_iter()) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// The header value the cart would send.
    pub fn sign(&self, secret: &str, ts: i64, body: &[u8]) -> String {
        let ts_text = ts.to_string();
        let sig = hex_hmac(secret.as_bytes(), &[ts_text.as_bytes(), self.joiner, body]);
        format!("{}={ts}{}{}={sig}", self.ts_key, self.part_sep, self.sig_key)
    }
}
