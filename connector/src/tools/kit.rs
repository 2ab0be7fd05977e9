//! Kit (ConvertKit) v4 webhook endpoints: `X-Kit-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "{t}.{body}")>`, one `v1` per valid secret while a secret rotates, with a timestamp tolerance
//! (Kit suggests 5 minutes). A delivery carries 1–100 events of one type in `events`; opt-ins are
//! `subscriber.created`, `subscriber.activated` and `subscriber.subscribed_to_form`, each one lead
//! keyed by the subscriber's id (so a subscriber created, then activated, is one opt-in). The click
//! is the subscriber's custom field `rt_click` (`data.subscriber.fields.rt_click`).

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::TimestampedHex;
use serde::Deserialize;
use std::collections::HashMap;

/// The signature header.
pub const HEADER: &str = "x-kit-signature";
/// The subscriber custom field carrying the click.
pub const CLICK_FIELD: &str = "rt_click";
/// Most events one delivery carries.
pub const MAX_EVENTS: usize = 100;
/// The event types that are opt-ins.
pub const OPT_INS: &[&str] = &["subscriber.created", "subscriber.activated", "subscriber.subscribed_to_form"];

const SCHEME: TimestampedHex = TimestampedHex { header: HEADER, part_sep: ',', ts_key: "t", sig_key: "v1", joiner: b"." };

/// Kit's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "kit", secret_env: "KIT_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, now: i64) -> Result<(), AuthError> {
    Ok(SCHEME.verify(delivery.header(HEADER), delivery.body, secret, now, settings.kit_tolerance)?)
}

/// The `X-Kit-Signature` value Kit would send, one `v1` per secret (several while rotating).
pub fn sign(secrets: &[&str], ts: i64, body: &[u8]) -> String {
    let ts_text = ts.to_string();
    let mut value = format!("t={ts}");
    for secret in secrets {
        let sig = crate::carts::signatures::hex_hmac(secret.as_bytes(), &[ts_text.as_bytes(), b".", body]);
        value.push_str(&format!(",v1={sig}"));
    }
    value
}

#[derive(Deserialize)]
struct Envelope {
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    created: Option<String>,
    #[serde(default)]
    data: EventData,
}

#[derive(Deserialize, Default)]
struct EventData {
    subscriber: Option<Subscriber>,
}

#[derive(Deserialize)]
struct Subscriber {
    id: serde_json::Value,
    first_name: Option<String>,
    email_address: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    fields: HashMap<String, serde_json::Value>,
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let envelope: Envelope = serde_json::from_slice(delivery.body)?;
    if envelope.events.is_empty() {
        return Err(PayloadError::Invalid("the delivery carries no events".into()));
    }
    if envelope.events.len() > MAX_EVENTS {
        return Err(PayloadError::TooMany(MAX_EVENTS));
    }
    let mut leads = Vec::new();
    let mut unusable = 0;
    for event in envelope.events.into_iter().filter(|e| OPT_INS.contains(&e.kind.as_str())) {
        let subscriber =
            event.data.subscriber.ok_or_else(|| PayloadError::Invalid(format!("a {} event without its subscriber", event.kind)))?;
        let id = fields::text(Some(&subscriber.id)).ok_or_else(|| PayloadError::Invalid("a subscriber without an id".into()))?;
        // One unusable address must not cost the batch's other opt-ins (Kit would retry them all).
        let Ok(email) = fields::email(subscriber.email_address.as_deref(), "the Kit subscriber") else {
            unusable += 1;
            continue;
        };
        let lead = Draft {
            key: id,
            email: Some(email),
            name: fields::name(&[subscriber.first_name.as_deref()]),
            click: fields::click(fields::text(subscriber.fields.get(CLICK_FIELD)).as_deref()),
            occurred_at: fields::rfc3339(event.created.as_deref()).or_else(|| fields::rfc3339(subscriber.created_at.as_deref())),
            ..Draft::default()
        }
        .into_lead(TOOL.name)?;
        leads.push(lead);
    }
    if unusable > 0 {
        tracing::warn!(tool = TOOL.name, unusable, "subscribers without a usable email were skipped");
    }
    if leads.is_empty() {
        return Ok(Intake::Ignored("no opt-in in this delivery".into()));
    }
    Ok(Intake::Leads(leads))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::signatures::AuthError as SignatureError;
    use axum::http::HeaderMap;

    const SECRET: &str = "kit-endpoint-secret";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/kit_subscriber_activated.json").replace("{{CLICK}}", click)
    }

    fn check(value: Option<&str>, body: &[u8], now: i64) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(HEADER, v.parse().unwrap());
        }
        verify(&Delivery { headers: &h, query: None, body }, SECRET, &Settings::default(), now)
    }

    fn leads(body: &str) -> Vec<reftrack_protocol::ServerLead> {
        match parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default()).unwrap() {
            Intake::Leads(leads) => leads,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"kit-endpoint-secret", b'1753797130.{"delivery_id":123456}', sha256).hexdigest()
        let body = br#"{"delivery_id":123456}"#;
        let header = "t=1753797130,v1=4a74d1507d3a40816a92d4d9830f963b99d787743d40c1efbc70c5e80cbbde41";
        check(Some(header), body, 1_753_797_130).unwrap();
        assert_eq!(sign(&[SECRET], 1_753_797_130, body), header);
    }

    #[test]
    fn during_a_rotation_either_secret_verifies_and_stale_or_forged_ones_do_not() {
        let body = br#"{"delivery_id":123456}"#;
        check(Some(&sign(&["the-new-secret", SECRET], 1_000, body)), body, 1_000).unwrap();
        assert_eq!(check(Some(&sign(&["the-new-secret"], 1_000, body)), body, 1_000), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some(&sign(&[SECRET], 1_000, body)), body, 1_301), Err(SignatureError::Stale(300).into()));
        assert_eq!(check(None, body, 1_000), Err(SignatureError::Missing(HEADER).into()));
    }

    #[test]
    fn each_opt_in_event_of_a_delivery_is_one_lead_with_the_custom_field_click() {
        let leads = leads(&fixture("AAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(leads.len(), 2);
        assert_eq!(leads[0].email.as_str(), "ada@example.com");
        assert_eq!(leads[0].name.as_deref(), Some("Ada"));
        assert_eq!(leads[0].click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(leads[0].lead_id.as_deref(), Some("kit:987654"));
        assert_eq!(leads[0].occurred_at.unwrap().unix_timestamp(), 1_785_335_530);
        assert_eq!((leads[1].lead_id.as_deref(), leads[1].click_id.as_ref()), (Some("kit:987655"), None), "an empty field is no click");
    }

    #[test]
    fn empty_oversized_and_non_opt_in_deliveries_are_told_apart() {
        let run = |body: String| {
            parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default())
        };
        assert!(matches!(run(r#"{"delivery_id":1,"events":[]}"#.into()), Err(PayloadError::Invalid(_))));
        let event = r#"{"id":"e","type":"subscriber.created","data":{"subscriber":{"id":1,"email_address":"a@b.co"}}}"#;
        let many = format!(r#"{{"events":[{}]}}"#, vec![event; 101].join(","));
        assert!(matches!(run(many), Err(PayloadError::TooMany(100))));
        let hundred = format!(r#"{{"events":[{}]}}"#, vec![event; 100].join(","));
        assert!(matches!(run(hundred), Ok(Intake::Leads(l)) if l.len() == 100));
        let unsubscribed = fixture("").replace("subscriber.activated", "subscriber.unsubscribed");
        assert!(matches!(run(unsubscribed).unwrap(), Intake::Ignored(_)));
        let one_bad = fixture("").replace("ada@example.com", "not-an-address");
        assert!(matches!(run(one_bad), Ok(Intake::Leads(l)) if l.len() == 1));
    }
}
