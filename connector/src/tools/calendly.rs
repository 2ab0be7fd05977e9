//! Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(signing key, "{t}.{body}")>`,
//! with a timestamp tolerance (Calendly's own example: 3 minutes). Opt-ins are `invitee.created`
//! (a reschedule's new booking, which names its `old_invitee`, is not a new opt-in); the click
//! rides `payload.tracking.utm_content`, which Calendly fills from the booking link's
//! `utm_content` parameter; the key is the invitee's uuid (the last part of `payload.uri`).
//!
//! Calendly deletes a subscription that answers 410, so nothing here is ever answered with it.

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::TimestampedHex;
use serde::Deserialize;

/// The signature header.
pub const HEADER: &str = "calendly-webhook-signature";
/// The booking link's parameter that carries the click into `tracking.utm_content`.
pub const CLICK_PARAM: &str = "utm_content";

const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ',', ts_key: "t", sig_key: "v1", joiner: b"." };

/// Calendly's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "calendly", secret_env: "CALENDLY_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, now: i64) -> Result<(), AuthError> {
    Ok(SCHEME.verify(delivery.header(HEADER), delivery.body, secret, now, settings.calendly_tolerance)?)
}

/// The `Calendly-Webhook-Signature` value Calendly would send.
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    SCHEME.sign(secret, ts, body)
}

#[derive(Deserialize)]
struct Event {
    event: String,
    payload: Option<Invitee>,
}

#[derive(Deserialize)]
struct Invitee {
    uri: String,
    email: Option<String>,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    created_at: Option<String>,
    old_invitee: Option<String>,
    tracking: Option<Tracking>,
}

#[derive(Deserialize)]
struct Tracking {
    utm_content: Option<String>,
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(delivery.body)?;
    if event.event != "invitee.created" {
        return Ok(Intake::Ignored(format!("Calendly event {:?} is not a booking", event.event)));
    }
    let invitee = event.payload.ok_or_else(|| PayloadError::Invalid("invitee.created without a payload".into()))?;
    if fields::blank(invitee.old_invitee.as_deref()).is_some() {
        return Ok(Intake::Ignored("a rescheduled booking is not a new opt-in".into()));
    }
    let uuid = invitee.uri.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    if uuid.trim().is_empty() {
        return Err(PayloadError::Invalid("the invitee has no uri".into()));
    }
    let name = match fields::name(&[invitee.name.as_deref()]) {
        Some(full) => Some(full),
        None => fields::name(&[invitee.first_name.as_deref(), invitee.last_name.as_deref()]),
    };
    let lead = Draft {
        key: uuid.to_owned(),
        email: Some(fields::email(invitee.email.as_deref(), "the Calendly invitee")?),
        name,
        click: fields::click(invitee.tracking.as_ref().and_then(|t| t.utm_content.as_deref())),
        occurred_at: fields::rfc3339(invitee.created_at.as_deref()),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::signatures::AuthError as SignatureError;
    use axum::http::HeaderMap;

    const KEY: &str = "calendly-signing-key";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/calendly_invitee_created.json").replace("{{CLICK}}", click)
    }

    fn check(value: Option<&str>, body: &[u8], now: i64) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(HEADER, v.parse().unwrap());
        }
        verify(&Delivery { headers: &h, query: None, body }, KEY, &Settings::default(), now)
    }

    fn run(body: &str) -> Result<Intake, PayloadError> {
        parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, KEY, &Settings::default())
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"calendly-signing-key", b'1795165200.{"event":"invitee.created"}', sha256).hexdigest()
        let body = br#"{"event":"invitee.created"}"#;
        let header = "t=1795165200,v1=222ae5381bc69aa60b33b8c98477d74dc8fadb69109b108234aa79b7151c5d11";
        check(Some(header), body, 1_795_165_200).unwrap();
        assert_eq!(sign(KEY, 1_795_165_200, body), header);
    }

    #[test]
    fn forged_stale_and_missing_signatures_are_refused() {
        let body = br#"{"event":"invitee.created"}"#;
        assert_eq!(check(Some(&sign("guess", 1_000, body)), body, 1_000), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some(&sign(KEY, 1_000, body)), body, 1_181), Err(SignatureError::Stale(180).into()));
        assert_eq!(check(Some("v1=abc"), body, 1_000), Err(SignatureError::Malformed(HEADER).into()));
        assert_eq!(check(None, body, 1_000), Err(SignatureError::Missing(HEADER).into()));
        check(Some(&sign(KEY, 1_000, body)), body, 1_180).unwrap();
    }

    #[test]
    fn a_booking_becomes_a_lead_with_the_click_from_utm_content() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "john.doe@example.com");
        assert_eq!(lead.name.as_deref(), Some("John Doe"));
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("calendly:b40b3c4c-ae96-4fd9-a8cb-64d7acfdf45c"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_712_265_040);
    }

    #[test]
    fn no_utm_content_is_no_click_and_reschedules_and_cancellations_are_not_new_opt_ins() {
        let Intake::Leads(leads) = run(&fixture("").replace("\"utm_content\": \"\"", "\"utm_content\": null")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        let rescheduled = fixture("")
            .replace("\"old_invitee\": null", "\"old_invitee\": \"https://api.calendly.com/scheduled_events/e02bc017/invitees/0a1b2c3d\"");
        assert!(matches!(run(&rescheduled).unwrap(), Intake::Ignored(_)));
        let canceled = fixture("").replace("\"event\": \"invitee.created\"", "\"event\": \"invitee.canceled\"");
        assert!(matches!(run(&canceled).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run(&fixture("").replace("john.doe@example.com", "")), Err(PayloadError::NoEmail(_))));
    }
}
