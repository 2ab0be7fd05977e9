//! Tally: `Tally-Signature: <base64 HMAC-SHA256(signing secret, body)>`, no timestamp. Opt-ins are
//! `FORM_RESPONSE` events; the email is the first `INPUT_EMAIL` field (or a field labelled
//! "email"), the click the hidden field labelled `rt_click` (`data.fields[]` of type
//! `HIDDEN_FIELDS`, filled from the form's URL or embed), the key the `responseId`.

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::{base64_hmac, verify_base64, AuthError as SignatureError};
use serde::Deserialize;

/// The signature header.
pub const HEADER: &str = "tally-signature";
/// The hidden field carrying the click.
pub const CLICK_FIELD: &str = "rt_click";

/// Tally's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "tally", secret_env: "TALLY_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, _: &Settings, _now: i64) -> Result<(), AuthError> {
    let signature = delivery.header(HEADER).ok_or(SignatureError::Missing(HEADER))?;
    Ok(verify_base64(secret.as_bytes(), &[delivery.body], signature, HEADER)?)
}

/// The `Tally-Signature` value Tally would send.
pub fn sign(secret: &str, body: &[u8]) -> String {
    base64_hmac(secret.as_bytes(), &[body])
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_type: String,
    created_at: Option<String>,
    data: Option<Response>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    response_id: Option<String>,
    submission_id: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    fields: Vec<Field>,
}

#[derive(Deserialize)]
struct Field {
    #[serde(default)]
    label: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: serde_json::Value,
}

impl Field {
    fn labelled(&self, label: &str) -> bool {
        self.label.as_deref().is_some_and(|l| l.trim().eq_ignore_ascii_case(label))
    }

    fn text(&self) -> Option<String> {
        fields::text(Some(&self.value))
    }
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(delivery.body)?;
    if event.event_type != "FORM_RESPONSE" {
        return Ok(Intake::Ignored(format!("Tally event {:?} is not a form response", event.event_type)));
    }
    let response = event.data.ok_or_else(|| PayloadError::Invalid("a FORM_RESPONSE event without data".into()))?;
    let key = fields::blank(response.response_id.as_deref())
        .or(fields::blank(response.submission_id.as_deref()))
        .ok_or_else(|| PayloadError::Invalid("the response has no responseId".into()))?
        .to_owned();
    let email = response
        .fields
        .iter()
        .filter(|f| f.kind == "INPUT_EMAIL")
        .chain(response.fields.iter().filter(|f| f.labelled("email")))
        .find_map(Field::text);
    let click = response.fields.iter().find(|f| f.kind == "HIDDEN_FIELDS" && f.labelled(CLICK_FIELD)).and_then(Field::text);
    let name = response.fields.iter().find(|f| f.kind == "INPUT_TEXT" && f.labelled("name")).and_then(Field::text);
    let lead = Draft {
        key,
        email: Some(fields::email(email.as_deref(), "the Tally response")?),
        name: fields::name(&[name.as_deref()]),
        click: fields::click(click.as_deref()),
        occurred_at: fields::rfc3339(response.created_at.as_deref()).or_else(|| fields::rfc3339(event.created_at.as_deref())),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    const SECRET: &str = "tally-signing-secret";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/tally_form_response.json").replace("{{CLICK}}", click)
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
        // Python: base64(hmac.new(b"tally-signing-secret", b'{"eventType":"FORM_RESPONSE"}', sha256).digest())
        let body = br#"{"eventType":"FORM_RESPONSE"}"#;
        check(Some("ejaeAuYCiqvM7/jlO/JKecLSkfv2Clygh+V0/TkVuNM="), body).unwrap();
        assert_eq!(sign(SECRET, body), "ejaeAuYCiqvM7/jlO/JKecLSkfv2Clygh+V0/TkVuNM=");
    }

    #[test]
    fn forged_and_missing_signatures_are_refused() {
        let body = br#"{"eventType":"FORM_RESPONSE"}"#;
        assert_eq!(check(Some(&sign("guess", body)), body), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some(&sign(SECRET, b"{}")), body), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some("not base64!"), body), Err(SignatureError::Malformed(HEADER).into()));
        assert_eq!(check(None, body), Err(SignatureError::Missing(HEADER).into()));
    }

    #[test]
    fn a_response_becomes_a_lead_with_its_email_field_and_hidden_click() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "alice@example.com");
        assert_eq!(lead.name.as_deref(), Some("Alice Martin"));
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("tally:2wgx4n"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_687_964_421);
    }

    #[test]
    fn an_empty_hidden_field_is_no_click_and_a_response_without_email_is_no_lead() {
        let Intake::Leads(leads) = run(&fixture("")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        assert!(matches!(run(&fixture("").replace("alice@example.com", "")), Err(PayloadError::NoEmail(_))));
        assert!(matches!(run(r#"{"eventType":"SOMETHING_ELSE"}"#).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run(r#"{"eventType":"FORM_RESPONSE","data":{"fields":[]}}"#), Err(PayloadError::Invalid(_))));
    }
}
