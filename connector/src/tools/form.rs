//! Any other form tool, Zapier or Make: a JSON or form-encoded body whose fields the merchant
//! maps in the configuration (`FORM_EMAIL_FIELD`, default `email`; `FORM_CLICK_FIELD`, default
//! `rt_click`; `FORM_NAME_FIELD`, `FORM_ID_FIELD`, and optionally `FORM_PARTNER_FIELD` and
//! `FORM_SUB_ID_FIELD`; dotted paths reach into nested JSON). It proves itself with a secret
//! token (`?token=`, `Authorization: Bearer …` or the token header). The key is the submission's
//! id field, or the email when there is none.

use super::fields::{self, Draft, Fields};
use super::{token, AuthError, Delivery, Intake, PayloadError, Settings, Tool};

/// The generic form's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "form", secret_env: "FORM_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, _now: i64) -> Result<(), AuthError> {
    token::verify(delivery, secret, &settings.token_header)
}

fn parse(delivery: &Delivery<'_>, _: &str, settings: &Settings) -> Result<Intake, PayloadError> {
    let map = &settings.form;
    let fields = Fields::parse(delivery)?;
    let email = fields.get(&map.email);
    let lead = Draft {
        key: fields.get(&map.id).unwrap_or_default(),
        email: Some(fields::email(email.as_deref(), &format!("the form's field {:?}", map.email))?),
        name: fields::name(&[fields.get(&map.name).as_deref()]),
        click: fields::click(fields.get(&map.click).as_deref()),
        partner: map.partner.as_deref().and_then(|f| fields.get(f)),
        sub_id: map.sub_id.as_deref().and_then(|f| fields.get(f)),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::FormMapping;
    use axum::http::HeaderMap;

    fn run(settings: &Settings, content_type: &str, body: &str) -> Result<Intake, PayloadError> {
        let mut h = HeaderMap::new();
        h.insert("content-type", content_type.parse().unwrap());
        parse(&Delivery { headers: &h, query: None, body: body.as_bytes() }, "t", settings)
    }

    fn lead(settings: &Settings, content_type: &str, body: &str) -> reftrack_protocol::ServerLead {
        match run(settings, content_type, body).unwrap() {
            Intake::Leads(mut l) => l.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_mapping_reads_email_and_rt_click_from_json_or_a_form() {
        let json = lead(&Settings::default(), "application/json", include_str!("../../tests/fixtures/tools/form_zapier.json"));
        assert_eq!(json.email.as_str(), "olivia@example.com");
        assert_eq!(json.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(json.name.as_deref(), Some("Olivia"));
        assert_eq!(json.lead_id.as_deref(), Some("form:sub_7Hq2"));
        assert_eq!(json.partner, None, "the partner is read only when the merchant maps a field");
        let form = lead(&Settings::default(), "application/x-www-form-urlencoded", "email=olivia%40example.com&rt_click=");
        assert_eq!(form.click_id, None);
        assert!(form.lead_id.unwrap().starts_with("form:e-"));
    }

    #[test]
    fn a_mapping_names_other_fields_including_nested_ones_and_the_partner() {
        let settings = Settings {
            form: FormMapping {
                email: "contact.mail".into(),
                click: "tracking.click".into(),
                name: "contact.full_name".into(),
                id: "submission".into(),
                partner: Some("ref".into()),
                sub_id: Some("sid".into()),
            },
            ..Settings::default()
        };
        let body = r#"{"submission":"s-1","ref":"jane","sid":"yt","contact":{"mail":"olivia@example.com","full_name":"Olivia P"},"tracking":{"click":""}}"#;
        let lead = lead(&settings, "application/json", body);
        assert_eq!((lead.partner.as_ref().map(|p| p.as_str()), lead.sub_id.as_ref().map(|s| s.as_str())), (Some("jane"), Some("yt")));
        assert_eq!(lead.email.as_str(), "olivia@example.com");
        assert_eq!(lead.lead_id.as_deref(), Some("form:s-1"));
        assert!(
            matches!(run(&settings, "application/json", r#"{"email":"olivia@example.com"}"#), Err(PayloadError::NoEmail(m)) if m.contains("contact.mail"))
        );
    }
}
