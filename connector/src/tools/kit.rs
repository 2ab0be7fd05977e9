//! Kit (ConvertKit) v4 webhook endpoints: `X-Kit-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "{t}.{body}")>`, one `v1` per valid secret while a secret rotates, with a timestamp tolerance
//! (Kit suggests 5 minutes). A delivery carries 1–100 events of one type in `events`; opt-ins are
//! `subscriber.created`, `subscriber.activated` and `subscriber.subscribed_to_form`, each one lead
//! keyed by the subscriber's id (so a subscriber created, then activated, is one opt-in). The click
//! is the subscriber's custom field `rt_click` (`data.subscriber.fields.rt_click`).

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Skipped, Tool};
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

/// The delivery; each event is read on its own, so one malformed event costs only itself.
#[derive(Deserialize)]
struct Envelope {
    events: Vec<serde_json::Value>,
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
    let mut skipped = Vec::new();
    for (index, raw) in envelope.events.into_iter().enumerate() {
        let event: Event = match serde_json::from_value(raw) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(Skipped { index, error: "invalid_event", message: format!("malformed event: {e}") });
                continue;
            }
        };
        if !OPT_INS.contains(&event.kind.as_str()) {
            continue;
        }
        match opt_in(event) {
            Ok(lead) => leads.push(lead),
            Err(PayloadError::NoEmail(why)) => skipped.push(Skipped { index, error: "no_email", message: why }),
            Err(e) => skipped.push(Skipped { index, error: "invalid_event", message: e.to_string() }),
        }
    }
    let malformed = skipped.iter().filter(|s| s.error == "invalid_event").count();
    if leads.is_empty() && malformed == 0 {
        return Ok(Intake::Ignored("no opt-in in this delivery".into()));
    }
    Ok(Intake::Batch { leads, skipped })
}

/// One opt-in event as a lead.
fn opt_in(event: Event) -> Result<reftrack_protocol::ServerLead, PayloadError> {
    let subscriber =
        event.data.subscriber.ok_or_else(|| PayloadError::Invalid(format!("a {} event without its subscriber", event.kind)))?;
    let id = fields::text(Some(&subscriber.id)).ok_or_else(|| PayloadError::Invalid("a subscriber without an id".into()))?;
    let email = fields::email(subscriber.email_address.as_deref(), "the Kit subscriber")?;
    Draft {
        key: id,
        email: Some(email),
        name: fields::name(&[subscriber.first_name.as_deref()]),
        click: fields::click(fields::text(subscriber.fields.get(CLICK_FIELD)).as_deref()),
        occurred_at: fields::rfc3339(event.created.as_deref()).or_else(|| fields::rfc3339(subscriber.created_at.as_deref())),
        ..Draft::default()
    }
    .into_lead(TOOL.name)
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
            Intake::Batch { leads, skipped } if skipped.is_empty() => leads,
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
        assert!(matches!(run(hundred), Ok(Intake::Batch { leads, .. }) if leads.len() == 100));
        let unsubscribed = fixture("").replace("subscriber.activated", "subscriber.unsubscribed");
        assert!(matches!(run(unsubscribed).unwrap(), Intake::Ignored(_)));
        let one_bad = fixture("").replace("ada@example.com", "not-an-address");
        assert!(matches!(run(one_bad), Ok(Intake::Batch { leads, skipped }) if leads.len() == 1 && skipped[0].error == "no_email"));
        let no_address = fixture("").replace("ada@example.com", "x").replace("grace@example.com", "y");
        assert!(matches!(run(no_address), Ok(Intake::Ignored(_))), "no usable address is no opt-in, not a malformed delivery");
    }

    #[test]
    fn one_malformed_event_among_a_hundred_costs_that_event_only() {
        let event = |n: usize| {
            format!(r#"{{"type":"subscriber.created","data":{{"subscriber":{{"id":{n},"email_address":"s{n}@example.com"}}}}}}"#)
        };
        let mut events: Vec<String> = (0..100).map(event).collect();
        // A subscriber whose fields are not an object, one whose id is missing, an event without a type.
        events[17] =
            r#"{"type":"subscriber.created","data":{"subscriber":{"id":17,"email_address":"s17@example.com","fields":[1,2]}}}"#.into();
        events[42] = r#"{"type":"subscriber.created","data":{"subscriber":{"email_address":"s42@example.com"}}}"#.into();
        events[99] = r#"{"data":{}}"#.into();
        let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
        let Ok(Intake::Batch { leads, skipped }) =
            parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default())
        else {
            panic!("a delivery with good events is taken");
        };
        assert_eq!(leads.len(), 97);
        assert_eq!(
            skipped.iter().map(|s| (s.index, s.error)).collect::<Vec<_>>(),
            [(17, "invalid_event"), (42, "invalid_event"), (99, "invalid_event")]
        );
        assert!(leads.iter().all(|l| l.lead_id.as_deref() != Some("kit:17")));
    }
}
