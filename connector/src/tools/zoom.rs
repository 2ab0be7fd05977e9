//! Zoom: `x-zm-signature: v0=<hex HMAC-SHA256(secret, "v0:{x-zm-request-timestamp}:{body}")>`
//! keyed with the app's Secret Token. Opt-ins are `webinar.registration_created` (and
//! `meeting.registration_created`), the registrant in `payload.object.registrant`. The click
//! comes from a registration custom question titled `rt_click`, or from `rt_click` in the
//! registrant's join or tracking URL; a tracking source named `aff:<partner>` names the partner.
//!
//! Zoom validates the endpoint (and again every 72 h) with `endpoint.url_validation`, expecting
//! `{"plainToken", "encryptedToken": hex HMAC-SHA256(secret, plainToken)}` within 3 s. The
//! challenge is signed like any event and is answered only once its signature verifies: an
//! unsigned answer would let anyone have us compute HMACs of their choice with the secret, which
//! is exactly what a forged event signature is.

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::{any_hex_matches, check_age, hex_hmac, AuthError as SignatureError};
use serde::Deserialize;
use serde_json::json;

/// The signature header.
pub const HEADER_SIGNATURE: &str = "x-zm-signature";
/// The timestamp header (unix seconds).
pub const HEADER_TIMESTAMP: &str = "x-zm-request-timestamp";
/// The custom question that carries the click.
pub const CLICK_QUESTION: &str = "rt_click";
/// Longest `plainToken` answered (Zoom's are 22 characters).
const MAX_PLAIN_TOKEN: usize = 256;

/// Zoom's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "zoom", secret_env: "ZOOM_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, now: i64) -> Result<(), AuthError> {
    let signature = delivery.header(HEADER_SIGNATURE).ok_or(SignatureError::Missing(HEADER_SIGNATURE))?;
    let ts_text = delivery.header(HEADER_TIMESTAMP).ok_or(SignatureError::Missing(HEADER_TIMESTAMP))?.trim();
    let ts: i64 = ts_text.parse().map_err(|_| SignatureError::Malformed(HEADER_TIMESTAMP))?;
    let hex = signature.trim().strip_prefix("v0=").ok_or(SignatureError::Malformed(HEADER_SIGNATURE))?;
    check_age(ts, now, settings.zoom_tolerance)?;
    // The timestamp is signed as Zoom sent it, byte for byte.
    if any_hex_matches(secret.as_bytes(), &[b"v0:", ts_text.as_bytes(), b":", delivery.body], std::iter::once(hex)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch.into())
    }
}

/// The `(x-zm-request-timestamp, x-zm-signature)` pair Zoom would send (for tests and replays).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> (String, String) {
    let ts = ts.to_string();
    let sig = hex_hmac(secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", body]);
    (ts, format!("v0={sig}"))
}

/// The answer to a URL validation: hex HMAC-SHA256 of `plain_token` keyed with the secret.
pub fn encrypted_token(secret: &str, plain_token: &str) -> String {
    hex_hmac(secret.as_bytes(), &[plain_token.as_bytes()])
}

#[derive(Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    event_ts: Option<i64>,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct Registration {
    object: RegistrationObject,
}

#[derive(Deserialize)]
struct RegistrationObject {
    registrant: Registrant,
}

#[derive(Deserialize)]
struct Registrant {
    id: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default)]
    custom_questions: Vec<CustomQuestion>,
    join_url: Option<String>,
    tracking_source: Option<TrackingSource>,
}

#[derive(Deserialize)]
struct CustomQuestion {
    title: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct TrackingSource {
    source_name: Option<String>,
    tracking_url: Option<String>,
}

/// The partner a tracking source names: `aff:jane` (or `aff=jane`), as the merchant names each
/// partner's source in Zoom's "Source tracking".
pub fn partner_of_source(source_name: &str) -> Option<&str> {
    let name = source_name.trim();
    let prefix = name.get(..4)?;
    if prefix.eq_ignore_ascii_case("aff:") || prefix.eq_ignore_ascii_case("aff=") {
        fields::blank(Some(&name[4..]))
    } else {
        None
    }
}

fn parse(delivery: &Delivery<'_>, secret: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(delivery.body)?;
    match event.event.as_str() {
        "endpoint.url_validation" => {
            let plain = event.payload.get("plainToken").and_then(|v| v.as_str()).unwrap_or_default();
            if plain.is_empty() || plain.len() > MAX_PLAIN_TOKEN {
                return Err(PayloadError::Invalid("endpoint.url_validation needs a payload.plainToken of 1–256 characters".into()));
            }
            Ok(Intake::Reply(json!({ "plainToken": plain, "encryptedToken": encrypted_token(secret, plain) })))
        }
        "webinar.registration_created" | "meeting.registration_created" => {
            let registration: Registration = serde_json::from_value(event.payload)?;
            Ok(Intake::Leads(vec![lead(registration.object.registrant, event.event_ts)?]))
        }
        other => Ok(Intake::Ignored(format!("Zoom event {other:?} is not an opt-in"))),
    }
}

fn lead(r: Registrant, event_ts: Option<i64>) -> Result<reftrack_protocol::ServerLead, PayloadError> {
    if r.id.trim().is_empty() {
        return Err(PayloadError::Invalid("the registrant has no id".into()));
    }
    let question = r.custom_questions.iter().find(|q| q.title.trim().eq_ignore_ascii_case(CLICK_QUESTION));
    let source = r.tracking_source.as_ref();
    let click = fields::click(question.and_then(|q| q.value.as_deref()))
        .or_else(|| r.join_url.as_deref().and_then(crate::carts::click_in_url))
        .or_else(|| source.and_then(|s| s.tracking_url.as_deref()).and_then(crate::carts::click_in_url));
    let partner = source.and_then(|s| s.source_name.as_deref()).and_then(partner_of_source).map(str::to_owned);
    Draft {
        key: r.id,
        email: Some(fields::email(r.email.as_deref(), "the Zoom registrant")?),
        name: fields::name(&[r.first_name.as_deref(), r.last_name.as_deref()]),
        click,
        partner,
        occurred_at: event_ts.and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()),
        ..Draft::default()
    }
    .into_lead(TOOL.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    const SECRET: &str = "zoom-secret-token";
    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/zoom_webinar_registration_created.json").replace("{{CLICK}}", click)
    }

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_TIMESTAMP, ts.parse().unwrap());
        h.insert(HEADER_SIGNATURE, sig.parse().unwrap());
        h
    }

    fn check(h: &HeaderMap, body: &[u8], now: i64) -> Result<(), AuthError> {
        verify(&Delivery { headers: h, query: None, body }, SECRET, &Settings::default(), now)
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: "v0=" + hmac.new(b"zoom-secret-token", b'v0:1795165200:{"event":"meeting.started"}', sha256).hexdigest()
        let body = br#"{"event":"meeting.started"}"#;
        let h = headers("1795165200", "v0=bd416592e29cfecc830f561d8f13ea73dd3d37b321f92da1434f2ef58905458a");
        check(&h, body, 1_795_165_200).unwrap();
        assert_eq!(sign(SECRET, 1_795_165_200, body).1, "v0=bd416592e29cfecc830f561d8f13ea73dd3d37b321f92da1434f2ef58905458a");
    }

    #[test]
    fn forged_stale_and_missing_signatures_are_refused() {
        let body = br#"{"event":"meeting.started"}"#;
        let (ts, sig) = sign(SECRET, 1_000, body);
        check(&headers(&ts, &sig), body, 1_000).unwrap();
        let (_, forged) = sign("another-secret", 1_000, body);
        assert_eq!(check(&headers(&ts, &forged), body, 1_000), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(&headers(&ts, &sig), br#"{"event":"x"}"#, 1_000), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(&headers(&ts, &sig), body, 1_301), Err(SignatureError::Stale(300).into()));
        assert_eq!(check(&headers(&ts, &sig), body, 699), Err(SignatureError::Stale(300).into()));
        assert_eq!(
            check(&headers(&ts, sig.trim_start_matches("v0=")), body, 1_000),
            Err(SignatureError::Malformed(HEADER_SIGNATURE).into())
        );
        assert_eq!(check(&HeaderMap::new(), body, 1_000), Err(SignatureError::Missing(HEADER_SIGNATURE).into()));
        let mut no_ts = HeaderMap::new();
        no_ts.insert(HEADER_SIGNATURE, sig.parse().unwrap());
        assert_eq!(check(&no_ts, body, 1_000), Err(SignatureError::Missing(HEADER_TIMESTAMP).into()));
    }

    #[test]
    fn the_url_validation_is_answered_with_the_hmac_of_the_plain_token() {
        // Python: hmac.new(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", sha256).hexdigest()
        let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        let answer = parse(&Delivery { headers: &HeaderMap::new(), query: None, body }, SECRET, &Settings::default()).unwrap();
        assert_eq!(
            answer,
            Intake::Reply(json!({
                "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                "encryptedToken": "d9e0d764a78494688ba3f2d5c0ed4ca311394b4834d959759213424d2df961e3"
            }))
        );
        let empty = br#"{"payload":{"plainToken":""},"event":"endpoint.url_validation"}"#;
        assert!(parse(&Delivery { headers: &HeaderMap::new(), query: None, body: empty }, SECRET, &Settings::default()).is_err());
    }

    fn leads(body: &str) -> Vec<reftrack_protocol::ServerLead> {
        match parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default()).unwrap() {
            Intake::Leads(leads) => leads,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_registration_becomes_a_lead_with_the_click_from_the_rt_click_question() {
        let lead = &leads(&fixture(CLICK))[0];
        assert_eq!(lead.email.as_str(), "jill.chill@example.com");
        assert_eq!(lead.name.as_deref(), Some("Jill Chill"));
        assert_eq!(lead.click_id.as_ref().map(|c| c.as_str()), Some(CLICK));
        assert_eq!(lead.lead_id.as_deref(), Some("zoom:iFxeBPYun6SAiWUzBcEkX"));
        assert_eq!(lead.source.as_deref(), Some("zoom"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_626_473_951);
        assert_eq!(lead.partner, None, "the fixture's tracking source does not name a partner");
    }

    #[test]
    fn an_unanswered_click_question_is_no_click_and_a_tracking_source_can_name_the_partner() {
        let lead = &leads(&fixture(""))[0];
        assert_eq!(lead.click_id, None);
        let named = fixture("").replace("\"source_name\": \"Newsletter\"", "\"source_name\": \"aff:jane\"");
        assert_eq!(leads(&named)[0].partner.as_ref().map(|p| p.as_str()), Some("jane"));
        assert_eq!(partner_of_source("AFF=john"), Some("john"));
        assert_eq!(partner_of_source("Facebook"), None);
        assert_eq!(partner_of_source("aff:"), None);
    }

    #[test]
    fn other_events_are_ignored_and_a_registrant_without_email_or_id_is_refused() {
        let other = parse(
            &Delivery { headers: &HeaderMap::new(), query: None, body: br#"{"event":"webinar.started","payload":{}}"# },
            SECRET,
            &Settings::default(),
        )
        .unwrap();
        assert!(matches!(other, Intake::Ignored(_)));
        let run = |body: String| {
            parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default())
        };
        assert!(matches!(run(fixture(CLICK).replace("jill.chill@example.com", "")), Err(PayloadError::NoEmail(_))));
        assert!(matches!(run(fixture(CLICK).replace("iFxeBPYun6SAiWUzBcEkX", " ")), Err(PayloadError::Invalid(_))));
        assert!(matches!(run("{\"event\":".into()), Err(PayloadError::Json(_))));
    }
}
