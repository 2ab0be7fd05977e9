//! What the tools' parsers share: reading JSON or form-encoded payloads by field name, and turning
//! what a tool calls a registration into one valid [`ServerLead`]. Empty strings, which tools post
//! for unfilled fields, are missing values here, never errors.

use super::{Delivery, PayloadError};
use reftrack_protocol::{ClickId, Email, PartnerCode, ServerLead, SubId};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Longest name kept (the protocol's bound).
const MAX_NAME: usize = 256;
/// Longest tool id used as is in a lead key; longer or odd ones are hashed.
const MAX_KEY: usize = 150;

/// `raw` trimmed, or `None` when blank.
pub(crate) fn blank(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// A JSON value as text: strings as they are, numbers printed (ids arrive as either).
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => blank(Some(s)).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A payload whose fields are read by name: a JSON object (dotted paths reach into nested
/// objects) or a form-encoded body (keys as sent, `data[merges][FNAME]`).
#[derive(Debug, Clone)]
pub(crate) enum Fields {
    Json(Value),
    Form(Vec<(String, String)>),
}

impl Fields {
    /// JSON when the content type says so or the body is an object; form-encoded otherwise.
    pub(crate) fn parse(delivery: &Delivery<'_>) -> Result<Self, PayloadError> {
        let json_type = delivery.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        let looks_json = delivery.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if json_type || looks_json {
            let value: Value = serde_json::from_slice(delivery.body)?;
            if !value.is_object() {
                return Err(PayloadError::Invalid("the JSON body must be an object".into()));
            }
            return Ok(Fields::Json(value));
        }
        if std::str::from_utf8(delivery.body).is_err() {
            return Err(PayloadError::Invalid("the form-encoded body is not UTF-8".into()));
        }
        Ok(Fields::Form(url::form_urlencoded::parse(delivery.body).into_owned().collect()))
    }

    /// The non-blank value of `name`: an exact key first, then (JSON) a dotted path, then a key
    /// that differs only in letter case.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match self {
            Fields::Json(value) => {
                let object = value.as_object()?;
                if let Some(found) = text(object.get(name)) {
                    return Some(found);
                }
                if name.contains('.') {
                    let mut at = value;
                    for part in name.split('.') {
                        at = at.get(part)?;
                    }
                    return text(Some(at));
                }
                object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| text(Some(v)))
            }
            Fields::Form(pairs) => {
                let exact = pairs.iter().find(|(k, _)| k == name);
                let found = exact.or_else(|| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
                found.and_then(|(_, v)| blank(Some(v))).map(str::to_owned)
            }
        }
    }
}

/// A tool's own id as a lead key part: used as is when short visible ASCII, else hashed, so the
/// same registration always gives the same key.
pub(crate) fn key_part(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.is_empty() && raw.len() <= MAX_KEY && raw.bytes().all(|b| b.is_ascii_graphic()) {
        raw.to_owned()
    } else {
        format!("h-{}", &hex::encode(Sha256::digest(raw.as_bytes()))[..32])
    }
}

/// A key derived from the email, for tools that send no id of the registration.
pub(crate) fn email_key(email: &Email) -> String {
    format!("e-{}", &hex::encode(Sha256::digest(email.as_str().as_bytes()))[..32])
}

/// The email, or why there is none.
pub(crate) fn email(raw: Option<&str>, what: &str) -> Result<Email, PayloadError> {
    let raw = blank(raw).ok_or_else(|| PayloadError::NoEmail(format!("{what} has no email: there is no opt-in to count")))?;
    Email::parse(raw).map_err(|e| PayloadError::NoEmail(format!("{what}: the email is not usable ({e})")))
}

/// A name fit to store: control characters dropped, at most 256 bytes, blank is none.
pub(crate) fn name(parts: &[Option<&str>]) -> Option<String> {
    let joined = parts.iter().filter_map(|p| blank(*p)).collect::<Vec<_>>().join(" ");
    let mut clean: String = joined.chars().filter(|c| !c.is_control()).collect();
    if clean.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        clean.truncate(end);
    }
    blank(Some(&clean)).map(str::to_owned)
}

/// A click id from a tool's field. Blank is none; so is one that cannot be ours (a visitor may
/// type anything into a field): the opt-in still counts, joined by email on the server.
pub(crate) fn click(raw: Option<&str>) -> Option<ClickId> {
    blank(raw).and_then(|c| ClickId::parse(c).ok())
}

/// An RFC 3339 time, if readable (tools' times are informative: the server uses "now" without one).
pub(crate) fn rfc3339(raw: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(blank(raw)?, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
}

/// `YYYY-MM-DD HH:MM:SS` read as UTC (Mailchimp's `fired_at`, ActiveCampaign's `date_time`), or RFC 3339.
pub(crate) fn plain_time(raw: Option<&str>) -> Option<OffsetDateTime> {
    let raw = blank(raw)?;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(raw, format).map(|t| t.assume_utc()).ok().or_else(|| rfc3339(Some(raw)))
}

/// One opt-in as a tool reports it, before validation.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    /// The tool's own id of this registration (unprefixed).
    pub key: String,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub click: Option<ClickId>,
    pub partner: Option<String>,
    pub sub_id: Option<String>,
    pub occurred_at: Option<OffsetDateTime>,
}

impl Draft {
    /// The lead for `tool`, keyed `{tool}:{key}` (the key from the email when the tool gives none).
    pub(crate) fn into_lead(self, tool: &str) -> Result<ServerLead, PayloadError> {
        let email = self.email.ok_or_else(|| PayloadError::NoEmail(format!("the {tool} registration has no email")))?;
        let key = if self.key.trim().is_empty() { email_key(&email) } else { key_part(&self.key) };
        let lead = ServerLead {
            name: self.name,
            click_id: self.click,
            partner: blank(self.partner.as_deref()).and_then(|p| PartnerCode::parse(p).ok()),
            sub_id: blank(self.sub_id.as_deref()).and_then(|s| SubId::parse(s).ok()),
            // Informative only: one RFC 3339 cannot write is no time, not a refused opt-in.
            occurred_at: self.occurred_at.filter(|t| reftrack_protocol::check_time("occurred_at", t).is_ok()),
            source: Some(tool.to_owned()),
            lead_id: Some(format!("{tool}:{key}")),
            email,
        };
        lead.validate().map_err(|e| PayloadError::Invalid(e.to_string()))?;
        Ok(lead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn delivery<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Delivery<'a> {
        Delivery { headers, query: None, body }
    }

    #[test]
    fn form_fields_and_json_fields_are_read_by_name_and_blank_ones_are_missing() {
        let headers = HeaderMap::new();
        let form = Fields::parse(&delivery(&headers, b"type=subscribe&data[merges][RT_CLICK]=&data[email]=a%40b.co")).unwrap();
        assert_eq!(form.get("data[email]").as_deref(), Some("a@b.co"));
        assert_eq!(form.get("data[merges][RT_CLICK]"), None);
        assert_eq!(form.get("DATA[EMAIL]").as_deref(), Some("a@b.co"), "letter case is forgiven");
        let json = Fields::parse(&delivery(&headers, br#" {"contact":{"email":"a@b.co","id":42},"rt_click":""}"#)).unwrap();
        assert_eq!(json.get("contact.email").as_deref(), Some("a@b.co"));
        assert_eq!(json.get("contact.id").as_deref(), Some("42"));
        assert_eq!(json.get("rt_click"), None);
        assert!(Fields::parse(&delivery(&headers, b"{not json")).is_err());
        assert!(Fields::parse(&delivery(&headers, &[b'a', b'=', 0xff])).is_err());
    }

    #[test]
    fn keys_are_kept_when_plain_and_hashed_stably_when_not() {
        assert_eq!(key_part("ab_12-Z"), "ab_12-Z");
        let odd = key_part("a key with spaces");
        assert!(odd.starts_with("h-") && odd.len() == 34, "{odd}");
        assert_eq!(odd, key_part("a key with spaces"));
        assert_eq!(key_part(&"x".repeat(151)).len(), 34);
    }

    #[test]
    fn a_draft_becomes_a_valid_lead_and_blank_values_are_missing() {
        let draft = Draft {
            key: "r1".into(),
            email: Some(Email::parse("Jane@Example.com").unwrap()),
            name: name(&[Some("Jane"), Some(""), None]),
            click: click(Some("")),
            partner: Some(" ".into()),
            ..Draft::default()
        };
        let lead = draft.into_lead("zoom").unwrap();
        assert_eq!(lead.lead_id.as_deref(), Some("zoom:r1"));
        assert_eq!(lead.source.as_deref(), Some("zoom"));
        assert_eq!(lead.email.as_str(), "jane@example.com");
        assert_eq!((lead.name.as_deref(), lead.click_id, lead.partner), (Some("Jane"), None, None));
        let keyless = Draft { email: Some(Email::parse("jane@example.com").unwrap()), ..Draft::default() }.into_lead("form").unwrap();
        assert!(keyless.lead_id.unwrap().starts_with("form:e-"));
        assert!(matches!(Draft::default().into_lead("form"), Err(PayloadError::NoEmail(_))));
        let ancient = time::OffsetDateTime::from_unix_timestamp(-62_167_219_201).ok();
        let dated = Draft { email: Some(Email::parse("a@b.co").unwrap()), occurred_at: ancient, ..Draft::default() };
        assert_eq!(dated.into_lead("zoom").unwrap().occurred_at, None, "a time RFC 3339 cannot write costs the time, not the opt-in");
    }

    #[test]
    fn names_lose_control_characters_and_are_bounded() {
        assert_eq!(name(&[Some("Ja\u{7}ne"), Some("Doe")]).as_deref(), Some("Jane Doe"));
        assert_eq!(name(&[Some(&"é".repeat(200))]).unwrap().len(), 256);
        assert_eq!(name(&[Some(""), None]), None);
    }

    #[test]
    fn a_malformed_click_is_no_click_and_times_are_read_when_readable() {
        assert!(click(Some("not-a-click")).is_none());
        assert_eq!(click(Some(" AAAAAAAAAAAAAAAAAAAAAA ")).unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(plain_time(Some("2009-03-26 21:35:57")).unwrap().unix_timestamp(), 1_238_103_357);
        assert_eq!(rfc3339(Some("2026-11-20T10:00:00+01:00")).unwrap().unix_timestamp(), 1_795_165_200);
        assert!(rfc3339(Some("yesterday")).is_none());
        assert!(rfc3339(Some("9999-12-31T23:59:59-01:00")).is_none(), "past the year 9999 in UTC: none, not a panic");
    }
}
