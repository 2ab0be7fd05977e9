//! Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`. Opt-ins are
//! `form_response` events (partial responses are not): the email is the first answer of type
//! `email`, the click the hidden field `rt_click` (`form_response.hidden.rt_click`, filled from
//! the form's URL or embed), the key the response's `token`.
//!
//! Typeform disables a webhook at once on 404 or 410, so nothing here is ever answered with either.

use super::fields::{self, Draft};
use super::{AuthError, Delivery, Intake, PayloadError, Settings, Tool};
use crate::carts::signatures::{base64_hmac, verify_base64, AuthError as SignatureError};
use serde::Deserialize;
use std::collections::HashMap;

/// The signature header.
pub const HEADER: &str = "typeform-signature";
/// The hidden field carrying the click (Typeform hidden fields are lower case).
pub const CLICK_FIELD: &str = "rt_click";

/// Typeform's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "typeform", secret_env: "TYPEFORM_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, _: &Settings, _now: i64) -> Result<(), AuthError> {
    let value = delivery.header(HEADER).ok_or(SignatureError::Missing(HEADER))?;
    let signature = value.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed(HEADER))?;
    Ok(verify_base64(secret.as_bytes(), &[delivery.body], signature, HEADER)?)
}

/// The `Typeform-Signature` value Typeform would send.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", base64_hmac(secret.as_bytes(), &[body]))
}

#[derive(Deserialize)]
struct Event {
    event_type: String,
    form_response: Option<FormResponse>,
}

#[derive(Deserialize)]
struct FormResponse {
    token: String,
    submitted_at: Option<String>,
    #[serde(default)]
    hidden: HashMap<String, serde_json::Value>,
    #[serde(default)]
    answers: Vec<Answer>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "type")]
    kind: String,
    email: Option<String>,
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let event: Event = serde_json::from_slice(delivery.body)?;
    if event.event_type != "form_response" {
        return Ok(Intake::Ignored(format!("Typeform event {:?} is not a submitted response", event.event_type)));
    }
    let response = event.form_response.ok_or_else(|| PayloadError::Invalid("a form_response event without form_response".into()))?;
    if response.token.trim().is_empty() {
        return Err(PayloadError::Invalid("the response has no token".into()));
    }
    let email = response.answers.iter().find(|a| a.kind == "email").and_then(|a| a.email.as_deref());
    let hidden = |name: &str| fields::text(response.hidden.get(name));
    let lead = Draft {
        email: Some(fields::email(email, "the Typeform response")?),
        click: fields::click(hidden(CLICK_FIELD).as_deref()),
        occurred_at: fields::rfc3339(response.submitted_at.as_deref()),
        key: response.token,
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    const SECRET: &str = "typeform-webhook-secret";

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/typeform_form_response.json").replace("{{CLICK}}", click)
    }

    fn check(signature: Option<&str>, body: &[u8]) -> Result<(), AuthError> {
        let mut h = HeaderMap::new();
        if let Some(s) = signature {
            h.insert(HEADER, s.parse().unwrap());
        }
        verify(&Delivery { headers: &h, query: None, body }, SECRET, &Settings::default(), 0)
    }

    fn run(body: &str) -> Result<Intake, PayloadError> {
        parse(&Delivery { headers: &HeaderMap::new(), query: None, body: body.as_bytes() }, SECRET, &Settings::default())
    }

    #[test]
    fn a_known_answer_computed_independently_verifies() {
        // Python: "sha256=" + base64(hmac.new(b"typeform-webhook-secret", b'{"event_id":"LtWXD3crgy"}', sha256).digest())
        let body = br#"{"event_id":"LtWXD3crgy"}"#;
        check(Some("sha256=6KYaJXzzlkmlIALkIB7Oh9IlEHvwco5H24FcKdhbaU8="), body).unwrap();
        assert_eq!(sign(SECRET, body), "sha256=6KYaJXzzlkmlIALkIB7Oh9IlEHvwco5H24FcKdhbaU8=");
    }

    #[test]
    fn forged_unprefixed_and_missing_signatures_are_refused() {
        let body = br#"{"event_id":"LtWXD3crgy"}"#;
        let forged = format!("sha256={}", base64_hmac(b"guess", &[body]));
        assert_eq!(check(Some(&forged), body), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some(&sign(SECRET, body)), b"{}"), Err(SignatureError::Mismatch.into()));
        assert_eq!(check(Some(sign(SECRET, body).trim_start_matches("sha256=")), body), Err(SignatureError::Malformed(HEADER).into()));
        assert_eq!(check(Some("sha256=%%%"), body), Err(SignatureError::Malformed(HEADER).into()));
        assert_eq!(check(None, body), Err(SignatureError::Missing(HEADER).into()));
    }

    #[test]
    fn a_response_becomes_a_lead_with_its_email_answer_and_the_hidden_click() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "laura@example.com");
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("typeform:a3a12ec67a1365927098a606107fac15"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_516_299_422);
    }

    #[test]
    fn an_empty_hidden_click_is_no_click_and_partial_or_emailless_responses_are_not_leads() {
        let Intake::Leads(leads) = run(&fixture("")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        let partial = fixture("").replace("\"event_type\": \"form_response\"", "\"event_type\": \"form_response_partial\"");
        assert!(matches!(run(&partial).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run(&fixture("").replace("laura@example.com", "")), Err(PayloadError::NoEmail(_))));
        assert!(matches!(run(r#"{"event_type":"form_response"}"#), Err(PayloadError::Invalid(_))));
    }
}
