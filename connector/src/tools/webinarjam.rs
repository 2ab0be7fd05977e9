//! WebinarJam and EverWebinar: their registration webhook signs nothing; it proves itself with the
//! token the merchant sets (`?token=` in the URL, `Authorization: Bearer …`, or a header of their
//! choice). It has no field that could carry the click, so the lead goes with its email only and
//! the server credits it by joining the email to the browser opt-in (on the registration page,
//! where the snippet runs) that carried the click. The key is the registrant's id with the
//! webinar's, or the email when neither is sent. JSON and form-encoded bodies are both read.

use super::fields::{self, Draft, Fields};
use super::{token, AuthError, Delivery, Intake, PayloadError, Settings, Tool};

/// WebinarJam's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "webinarjam", secret_env: "WEBINARJAM_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, _now: i64) -> Result<(), AuthError> {
    token::verify(delivery, secret, &settings.token_header)
}

fn first(fields: &Fields, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| fields.get(n))
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let fields = Fields::parse(delivery)?;
    if let Some(event) = first(&fields, &["event", "type", "action", "trigger"]) {
        if !event.to_ascii_lowercase().contains("regist") {
            return Ok(Intake::Ignored(format!("WebinarJam event {event:?} is not a registration")));
        }
    }
    let email = first(&fields, &["email", "user.email", "registrant.email", "attendee.email", "data.email"]);
    let registrant = first(&fields, &["user_id", "registrant_id", "attendee_id", "id", "user.id", "registrant.id"]);
    let webinar = first(&fields, &["webinar_id", "webinar.id", "webinar_hash"]);
    let key = match (webinar, registrant) {
        (Some(w), Some(r)) => format!("{w}:{r}"),
        (None, Some(r)) => r,
        _ => String::new(),
    };
    let lead = Draft {
        key,
        email: Some(fields::email(email.as_deref(), "the WebinarJam registration")?),
        name: fields::name(&[
            first(&fields, &["first_name", "user.first_name", "registrant.first_name", "name"]).as_deref(),
            first(&fields, &["last_name", "user.last_name", "registrant.last_name"]).as_deref(),
        ]),
        click: fields::click(fields.get(reftrack_protocol::names::CLICK_PARAM).as_deref()),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn run(content_type: &str, body: &str) -> Result<Intake, PayloadError> {
        let mut h = HeaderMap::new();
        h.insert("content-type", content_type.parse().unwrap());
        parse(&Delivery { headers: &h, query: None, body: body.as_bytes() }, "t", &Settings::default())
    }

    fn lead(content_type: &str, body: &str) -> reftrack_protocol::ServerLead {
        match run(content_type, body).unwrap() {
            Intake::Leads(mut l) => l.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_token_the_merchant_set_is_required() {
        let mut h = HeaderMap::new();
        h.insert("x-reftrack-token", "wj-token".parse().unwrap());
        verify(&Delivery { headers: &h, query: None, body: b"" }, "wj-token", &Settings::default(), 0).unwrap();
        let none = HeaderMap::new();
        assert!(matches!(
            verify(&Delivery { headers: &none, query: None, body: b"" }, "wj-token", &Settings::default(), 0),
            Err(AuthError::NoToken(_))
        ));
        let custom = Settings { token_header: "x-webinarjam-key".into(), ..Settings::default() };
        let mut h = HeaderMap::new();
        h.insert("x-webinarjam-key", "wj-token".parse().unwrap());
        verify(&Delivery { headers: &h, query: None, body: b"" }, "wj-token", &custom, 0).unwrap();
    }

    #[test]
    fn a_registration_is_a_lead_with_its_email_and_no_click() {
        let body = include_str!("../../tests/fixtures/tools/webinarjam_registration.json");
        let lead = lead("application/json", body);
        assert_eq!(lead.email.as_str(), "maria@example.com");
        assert_eq!(lead.name.as_deref(), Some("Maria Lopez"));
        assert_eq!(lead.click_id, None);
        assert_eq!(lead.lead_id.as_deref(), Some("webinarjam:88:41823"));
        assert_eq!(lead.source.as_deref(), Some("webinarjam"));
    }

    #[test]
    fn a_form_encoded_registration_without_ids_is_keyed_by_its_email() {
        let lead = lead("application/x-www-form-urlencoded", "first_name=Maria&last_name=&email=Maria%40Example.com&phone=");
        assert_eq!(lead.email.as_str(), "maria@example.com");
        assert!(lead.lead_id.as_deref().unwrap().starts_with("webinarjam:e-"));
        let again = super::tests::lead("application/x-www-form-urlencoded", "email=maria%40example.com");
        assert_eq!(again.lead_id, lead.lead_id, "the same email is the same opt-in");
    }

    #[test]
    fn other_events_and_registrations_without_email_are_told_apart() {
        assert!(matches!(run("application/json", r#"{"event":"attended","email":"a@b.co"}"#).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run("application/json", r#"{"event":"registration","email":""}"#), Err(PayloadError::NoEmail(_))));
    }
}
