//! Tools that sign nothing (Mailchimp, ActiveCampaign, WebinarJam, generic forms) prove themselves
//! with a secret token the merchant puts in the webhook URL (`?token=…`) or, where the tool lets
//! them set headers, in `Authorization: Bearer …` or a header of their choice. Every token given is
//! compared in constant time (over SHA-256 digests, so not even the length leaks).

use super::{AuthError, Delivery};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The query parameter carrying the token.
pub const PARAM: &str = "token";
/// The header that may carry the token unless configured otherwise.
pub const DEFAULT_HEADER: &str = "x-reftrack-token";

fn same(given: &str, secret: &str) -> bool {
    Sha256::digest(given.trim().as_bytes()).ct_eq(&Sha256::digest(secret.as_bytes())).into()
}

/// Accepts the delivery if any token it carries (query, bearer, `header`) is `secret`.
pub fn verify(delivery: &Delivery<'_>, secret: &str, header: &str) -> Result<(), AuthError> {
    let mut given = Vec::new();
    given.extend(delivery.query_param(PARAM));
    if let Some(auth) = delivery.header("authorization") {
        let bearer = auth.trim().split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t);
        given.extend(bearer.map(str::to_owned));
    }
    given.extend(delivery.header(header).map(str::to_owned));
    if given.is_empty() {
        return Err(AuthError::NoToken(header.to_owned()));
    }
    // Every candidate is compared, so the time taken does not say which one matched.
    let matched = given.iter().fold(false, |found, t| same(t, secret) | found);
    if matched {
        Ok(())
    } else {
        Err(AuthError::BadToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn check(query: Option<&str>, headers: &[(&'static str, &str)]) -> Result<(), AuthError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        verify(&Delivery { headers: &map, query, body: b"" }, "s3cret-token", DEFAULT_HEADER)
    }

    #[test]
    fn the_token_is_accepted_from_the_url_a_bearer_or_the_header() {
        check(Some("token=s3cret-token"), &[]).unwrap();
        check(Some("a=1&token=s3cret%2Dtoken"), &[]).unwrap();
        check(None, &[("authorization", "Bearer s3cret-token")]).unwrap();
        check(None, &[("x-reftrack-token", "s3cret-token")]).unwrap();
    }

    #[test]
    fn a_missing_or_wrong_token_is_refused() {
        assert!(matches!(check(None, &[]), Err(AuthError::NoToken(_))));
        assert_eq!(check(Some("token=guess"), &[]), Err(AuthError::BadToken));
        assert_eq!(check(Some("token="), &[]), Err(AuthError::BadToken));
        assert_eq!(check(None, &[("authorization", "Basic s3cret-token")]), Err(AuthError::NoToken(DEFAULT_HEADER.into())));
        assert_eq!(check(Some("token=s3cret-tok"), &[]), Err(AuthError::BadToken), "a prefix is not the token");
    }
}
