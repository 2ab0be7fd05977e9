//! ActiveCampaign: form-encoded, unsigned webhooks, so the merchant puts a secret token in the URL
//! (`?token=…`). Opt-ins are `type=subscribe`: `contact[email]`, `contact[first_name]`,
//! `contact[last_name]`, the click in the custom field whose personalization tag is `RT_CLICK`
//! (`contact[fields][rt_click]`), the key the contact's id. ActiveCampaign does not retry a
//! failed delivery, so it is answered only once the lead is committed, and never refused for
//! something a retry could fix.

use super::fields::{self, Draft, Fields};
use super::{token, AuthError, Delivery, Intake, PayloadError, Settings, Tool};

/// The custom field (personalization tag, lower case as posted) carrying the click.
pub const CLICK_FIELD: &str = "rt_click";

/// ActiveCampaign's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "activecampaign", secret_env: "ACTIVECAMPAIGN_WEBHOOK_SECRET", verify, parse, answers_get: false };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, _now: i64) -> Result<(), AuthError> {
    token::verify(delivery, secret, &settings.token_header)
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let fields = Fields::parse(delivery)?;
    if matches!(fields, Fields::Json(_)) {
        return Err(PayloadError::Invalid("ActiveCampaign posts form-encoded webhooks; this body is JSON".into()));
    }
    let kind = fields.get("type").ok_or_else(|| PayloadError::Invalid("not an ActiveCampaign webhook: there is no type".into()))?;
    if kind != "subscribe" {
        return Ok(Intake::Ignored(format!("ActiveCampaign event {kind:?} is not a subscribe")));
    }
    let lead = Draft {
        key: fields.get("contact[id]").unwrap_or_default(),
        email: Some(fields::email(fields.get("contact[email]").as_deref(), "the ActiveCampaign contact")?),
        name: fields::name(&[fields.get("contact[first_name]").as_deref(), fields.get("contact[last_name]").as_deref()]),
        click: fields::click(fields.get(&format!("contact[fields][{CLICK_FIELD}]")).as_deref()),
        occurred_at: fields::plain_time(fields.get("date_time").as_deref()),
        ..Draft::default()
    }
    .into_lead(TOOL.name)?;
    Ok(Intake::Leads(vec![lead]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn fixture(click: &str) -> String {
        include_str!("../../tests/fixtures/tools/activecampaign_subscribe.txt").trim().replace("{{CLICK}}", click)
    }

    fn run(body: &str) -> Result<Intake, PayloadError> {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        parse(&Delivery { headers: &h, query: None, body: body.as_bytes() }, "t", &Settings::default())
    }

    #[test]
    fn the_url_token_is_required() {
        let h = HeaderMap::new();
        let at = |query| verify(&Delivery { headers: &h, query, body: b"" }, "ac-token", &Settings::default(), 0);
        at(Some("token=ac-token")).unwrap();
        assert_eq!(at(Some("token=ac-token-2")), Err(AuthError::BadToken));
        assert!(matches!(at(Some("other=1")), Err(AuthError::NoToken(_))));
    }

    #[test]
    fn a_subscribe_is_a_lead_with_the_click_from_the_rt_click_custom_field() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "noah@example.com");
        assert_eq!(lead.name.as_deref(), Some("Noah Smith"));
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("activecampaign:1043"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_795_165_200);
    }

    #[test]
    fn an_empty_custom_field_is_no_click_and_other_events_are_ignored() {
        let Intake::Leads(leads) = run(&fixture("")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        assert!(matches!(run(&fixture("").replace("type=subscribe", "type=unsubscribe")).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run("type=subscribe&contact%5Bemail%5D="), Err(PayloadError::NoEmail(_))));
    }
}
