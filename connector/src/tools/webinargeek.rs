//! WebinarGeek: `Signature: <hex HMAC-SHA256(secret, body)>`, sent when the webhook has a secret
//! (required here), no timestamp; the `ID` header is the event's unique id.
//!
//! WebinarGeek documents its headers but not its payload's field names, so the subscription is
//! read tolerantly: the object under `subscription` (or `subscriber`, `registration`, …), else the
//! first object in the body (at most four levels down) with an `email`, is the subscriber; its `id` is the key (else the `ID` header); a field `rt_click` in it or in a
//! nested object or `{name|label|key, value}` list (extra fields) is the click. Events named as
//! unsubscriptions or cancellations are not opt-ins.

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::{any_hex_matches, hex_hmac, AuthError as SignatureError};
use serde_json::{Map, Value};

/// The signature header.
pub const HEADER: &str = "signature";
/// The header with the event's unique id.
pub const ID_HEADER: &str = "id";
/// The extra field carrying the click.
pub const CLICK_FIELD: &str = "rt_click";
const MAX_DEPTH: usize = 4;

/// WebinarGeek's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "webinargeek", secret_env: "WEBINARGEEK_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, _: &Settings, _now: i64) -> Result<(), AuthError> {
    let signature = delivery.header(HEADER).ok_or(SignatureError::Missing(HEADER))?;
    if hex::decode(signature.trim()).is_err() {
        return Err(SignatureError::Malformed(HEADER).into());
    }
    if any_hex_matches(secret.as_bytes(), &[delivery.body], std::iter::once(signature)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch.into())
    }
}

/// The `Signature` value WebinarGeek would send.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex_hmac(secret.as_bytes(), &[body])
}

/// Where a subscriber is most likely found, looked at before anything else (a webinar's host may
/// have an email too).
const SUBSCRIBER_KEYS: &[&str] = &["subscription", "subscriber", "registration", "registrant", "viewer", "attendee", "data", "entity"];

/// The subscriber: under a likely key, else the first object, breadth first, with a string `email`.
fn subscriber(root: &Value) -> Option<&Map<String, Value>> {
    let has_email = |o: &Map<String, Value>| o.get("email").is_some_and(Value::is_string);
    if let Some(found) = SUBSCRIBER_KEYS.iter().filter_map(|k| root.get(*k).and_then(Value::as_object)).find(|o| has_email(o)) {
        return Some(found);
    }
    let mut level = vec![root];
    for _ in 0..=MAX_DEPTH {
        let mut next = Vec::new();
        for value in level {
            match value {
                Value::Object(o) if has_email(o) => return Some(o),
                Value::Object(o) => next.extend(o.values()),
                Value::Array(a) => next.extend(a.iter()),
                _ => {}
            }
        }
        level = next;
    }
    None
}

/// A field named `name` in `object`, in a nested object, or in a `{name|label|key|title, value}` list.
fn field(object: &Map<String, Value>, name: &str, depth: usize) -> Option<String> {
    if let Some(found) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| fields::text(Some(v))) {
        return Some(found);
    }
    if depth == 0 {
        return None;
    }
    object.values().find_map(|v| match v {
        Value::Object(inner) => field(inner, name, depth - 1),
        Value::Array(items) => items.iter().filter_map(Value::as_object).find_map(|item| {
            let named = ["name", "label", "key", "title"]
                .iter()
                .any(|k| item.get(*k).and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(name)));
            if named {
                fields::text(item.get("value"))
            } else {
                field(item, name, depth - 1)
            }
        }),
        _ => None,
    })
}

fn first(object: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| fields::text(object.get(*n)))
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let body: Value = serde_json::from_slice(delivery.body)?;
    let Some(root) = body.as_object() else {
        return Err(PayloadError::Invalid("the body must be a JSON object".into()));
    };
    if let Some(event) = first(root, &["event", "type", "trigger", "action"]) {
        let event = event.to_ascii_lowercase();
        if ["unsub", "cancel", "delet", "unregist"].iter().any(|w| event.contains(w)) {
            return Ok(Intake::Ignored(format!("WebinarGeek event {event:?} is not an opt-in")));
        }
    }
    let subscriber = subscriber(&body).ok_or_else(|| PayloadError::NoEmail("the WebinarGeek delivery has no subscriber email".into()))?;
    let email = fields::email(subscriber.get("email").and_then(Value::as_str), "the WebinarGeek subscriber")?;
    let key =
        fields::text(subscriber.get("id")).or_else(|| fields::blank(delivery.header(ID_HEADER)).map(str::to_owned)).unwrap_or_default();
    let lead = Draft {
        key,
        email: Some(email),
        name: fields::name(&[
            first(subscriber, &["firstname", "first_name", "name"]).as_deref(),
            first(subscriber, &["surname", "lastname", "last_name"]).as_deref(),
        ]),
        click: fields::click(field(subscriber, CLICK_FIELD, 2).as_deref()),
        occurred_at: fields::rfc3339(first(subscriber, &["created_at", "subscribed_at"]).as_deref()),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    const SECRET: &str = "webinargeek-secret";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/webinargeek_subscription.json").replace("{{CLICK}}", click)
    }

    fn check(value: Option<&str>, body: &[u8]) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(HEADER, v.parse().unwrap());
        }
        verify(&Delivery { headers: &h, query: None, body }, SECRET, &Settings::default(), 0)
    }

    fn run(body: &str) -> Result<Intake, PayloadError> {
        parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default())
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: hmac.new(b"webinargeek-secret", b'{"event":"subscription_created"}', sha256).hexdigest()
        let body = br#"{"event":"subscription_created"}"#;
        check(Some("a6197dc7973be154095fc28273166299a1c4ad844ebcb02132306882ec21e8b0"), body).unwrap();
        assert_eq!(sign(SECRET, body), "a6197dc7973be154095fc28273166299a1c4ad844ebcb02132306882ec21e8b0");
    }

    #[test]
    fn forged_malformed_and_missing_signatures_are_refused() {
        let body = br#"{"event":"subscription_created"}"#;
        assert_eq!(check(Some(&sign("guess", body)), body), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some("xyz"), body), Err(SignatureError::Malformed(HEADER).into()));
        assert_eq!(check(None, body), Err(SignatureError::Missing(HEADER).into()));
    }

    #[test]
    fn a_subscription_becomes_a_lead_with_the_extra_field_click() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "sam@example.com");
        assert_eq!(lead.name.as_deref(), Some("Sam de Vries"));
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("webinargeek:55501234"));
    }

    #[test]
    fn an_empty_click_is_no_click_and_cancellations_are_not_opt_ins() {
        let Intake::Leads(leads) = run(&fixture("")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        let cancelled = fixture("").replace("\"subscription_created\"", "\"subscription_cancelled\"");
        assert!(matches!(run(&cancelled).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run(r#"{"event":"subscription_created","webinar":{"id":1}}"#), Err(PayloadError::NoEmail(_))));
        assert!(matches!(run("[]"), Err(PayloadError::Invalid(_))));
    }

    #[test]
    fn extra_fields_may_also_be_a_list_of_named_values() {
        let listed = r#"{"subscription":{"id":7,"email":"sam@example.com",
            "extra_fields":[{"name":"Company","value":"Acme"},{"name":"rt_click","value":"AAAAAAAAAAAAAAAAAAAAAA"}]}}"#;
        let Intake::Leads(leads) = run(listed).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(leads[0].lead_id.as_deref(), Some("webinargeek:7"));
    }
}
