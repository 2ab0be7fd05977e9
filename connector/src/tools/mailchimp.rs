//! Mailchimp audience webhooks: form-encoded, unsigned, so the merchant puts a secret token in
//! the URL (`?token=…`). Mailchimp checks the URL with a GET when the webhook is saved, answered
//! 200. Opt-ins are `type=subscribe`: `data[email]`, names in `data[merges][FNAME]` and
//! `[LNAME]`, the click in the audience's merge field `RT_CLICK` (`data[merges][RT_CLICK]`,
//! filled by a hidden field of the signup form). The key is the audience and member ids.

use super::fields::{self, Draft, Fields};
use super::{token, AuthError, Delivery, Intake, PayloadError, Settings, Tool};

/// The merge tag carrying the click.
pub const CLICK_MERGE: &str = "RT_CLICK";

/// Mailchimp's registration in the list of tools.
pub static TOOL: Tool = Tool { name: "mailchimp", secret_env: "MAILCHIMP_WEBHOOK_SECRET", verify, parse, answers_get: true };

fn verify(delivery: &Delivery<'_>, secret: &str, settings: &Settings, _now: i64) -> Result<(), AuthError> {
    token::verify(delivery, secret, &settings.token_header)
}

fn parse(delivery: &Delivery<'_>, _: &str, _: &Settings) -> Result<Intake, PayloadError> {
    let fields = Fields::parse(delivery)?;
    if matches!(fields, Fields::Json(_)) {
        return Err(PayloadError::Invalid("Mailchimp posts form-encoded webhooks; this body is JSON".into()));
    }
    let kind = fields.get("type").ok_or_else(|| PayloadError::Invalid("not a Mailchimp webhook: there is no type".into()))?;
    if kind != "subscribe" {
        return Ok(Intake::Ignored(format!("Mailchimp event {kind:?} is not a subscribe")));
    }
    let key = match (fields.get("data[list_id]"), fields.get("data[id]")) {
        (Some(list), Some(member)) => format!("{list}:{member}"),
        (None, Some(member)) => member,
        _ => String::new(),
    };
    let lead = Draft {
        key,
        email: Some(fields::email(fields.get("data[email]").as_deref(), "the Mailchimp subscribe")?),
        name: fields::name(&[fields.get("data[merges][FNAME]").as_deref(), fields.get("data[merges][LNAME]").as_deref()]),
        click: fields::click(fields.get(&format!("data[merges][{CLICK_MERGE}]")).as_deref()),
        occurred_at: fields::plain_time(fields.get("fired_at").as_deref()),
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
        include_str!("../../tests/fixtures/tools/mailchimp_subscribe.txt").trim().replace("{{CLICK}}", click)
    }

    fn run(body: &str) -> Result<Intake, PayloadError> {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        parse(&Delivery { headers: &h, query: None, body: body.as_bytes() }, "t", &Settings::default())
    }

    #[test]
    fn the_url_token_is_required() {
        let h = HeaderMap::new();
        let at = |query| verify(&Delivery { headers: &h, query, body: b"" }, "mc-token", &Settings::default(), 0);
        at(Some("token=mc-token")).unwrap();
        assert_eq!(at(Some("token=other")), Err(AuthError::BadToken));
        assert!(matches!(at(None), Err(AuthError::NoToken(_))));
    }

    #[test]
    fn a_subscribe_is_a_lead_with_the_click_from_the_rt_click_merge_field() {
        let Intake::Leads(leads) = run(&fixture("AAAAAAAAAAAAAAAAAAAAAA")).unwrap() else { panic!() };
        let lead = &leads[0];
        assert_eq!(lead.email.as_str(), "api@mailchimp.com");
        assert_eq!(lead.name.as_deref(), Some("Mailchimp API"));
        assert_eq!(lead.click_id.as_ref().unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(lead.lead_id.as_deref(), Some("mailchimp:a6b5da1054:8a25ff1d98"));
        assert_eq!(lead.occurred_at.unwrap().unix_timestamp(), 1_238_103_357);
    }

    #[test]
    fn an_empty_merge_field_is_no_click_and_other_events_are_ignored() {
        let Intake::Leads(leads) = run(&fixture("")).unwrap() else { panic!() };
        assert_eq!(leads[0].click_id, None);
        assert!(matches!(run(&fixture("").replace("type=subscribe", "type=unsubscribe")).unwrap(), Intake::Ignored(_)));
        assert!(matches!(run("fired_at=2009-03-26+21%3A35%3A57"), Err(PayloadError::Invalid(_))));
        assert!(matches!(run("type=subscribe&data[email]="), Err(PayloadError::NoEmail(_))));
        assert!(matches!(run(r#"{"type":"subscribe"}"#), Err(PayloadError::Invalid(_))));
    }
}
