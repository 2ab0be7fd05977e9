//! Webinar, form and scheduling tools: one module per tool, each saying how the tool
//! authenticates its webhooks (`verify`) and how its payload becomes opt-ins (`parse`), pure
//! (headers and bytes in, values out) and unit-tested. [`TOOLS`] is the registration list; the
//! HTTP edge is [`receive`]. A lead carries the tool as its `source` and the tool's own id of the
//! registration as its key (`zoom:<registrant id>`), so a redelivery is one opt-in.

pub mod activecampaign;
pub mod calendly;
mod fields;
pub mod form;
pub mod kit;
pub mod mailchimp;
pub mod receive;
pub mod tally;
pub mod token;
pub mod typeform;
pub mod webinargeek;
pub mod webinarjam;
pub mod zoom;

use crate::carts::signatures::AuthError as SignatureError;
use axum::http::HeaderMap;
use clap::Args;
use reftrack_protocol::ServerLead;
use std::collections::HashMap;
use std::fmt;

/// One tool the connector accepts webhooks from.
pub struct Tool {
    /// Its name in routes (`/webhooks/{name}`), lead keys, the lead's `source` and metrics.
    pub name: &'static str,
    /// The environment variable holding its secret (signing secret or URL token).
    pub secret_env: &'static str,
    /// Checks the delivery's authentication against the secret at `now` (unix seconds).
    pub verify: fn(&Delivery<'_>, &str, &Settings, i64) -> Result<(), AuthError>,
    /// Reads an authenticated delivery (the secret is given for challenges that need it).
    pub parse: fn(&Delivery<'_>, &str, &Settings) -> Result<Intake, PayloadError>,
    /// Whether a GET on its URL is answered 200 (Mailchimp validates the URL that way).
    pub answers_get: bool,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every tool, in the order the README lists them.
pub static TOOLS: &[&Tool] = &[
    &zoom::TOOL,
    &typeform::TOOL,
    &calendly::TOOL,
    &kit::TOOL,
    &tally::TOOL,
    &webinargeek::TOOL,
    &webinarjam::TOOL,
    &mailchimp::TOOL,
    &activecampaign::TOOL,
    &form::TOOL,
];

/// The tool served at `/webhooks/{name}`, if `name` is one.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().copied().find(|t| t.name == name)
}

/// One webhook delivery as received: headers, the raw query string and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

impl<'a> Delivery<'a> {
    /// A header's value, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A parameter of the URL's query string.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// One event of a multi-event delivery that was left out, and why (answered in the delivery's
/// report, counted, logged without its email).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Its position in the delivery's list (from 0).
    pub index: usize,
    /// `invalid_event` (malformed: the tool's retry cannot fix it) or `no_email`.
    pub error: &'static str,
    pub message: String,
}

/// What a delivery means.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Opt-ins to store and forward.
    Leads(Vec<ServerLead>),
    /// A delivery of many events (Kit's 1–100): the opt-ins of the usable ones, and what was
    /// left out. One bad event costs that event only: the others are stored and the delivery is
    /// answered 2xx with the report, because the tool retries a delivery whole, and a bad event
    /// never becomes good by retrying — a 4xx or 5xx would cost all its neighbours.
    Batch { leads: Vec<ServerLead>, skipped: Vec<Skipped> },
    /// Nothing to store (an event we do not count); acknowledged so the tool stops retrying.
    Ignored(String),
    /// A challenge the tool expects answered with this body (Zoom's URL validation).
    Reply(serde_json::Value),
}

/// Why a delivery's authentication was refused (answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("no token: put ?token=… in the webhook URL, or send it as Authorization: Bearer … or in the {0} header")]
    NoToken(String),
    #[error("the token does not match")]
    BadToken,
}

impl AuthError {
    /// Machine-readable reason, answered and counted.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Signature(e) => e.code(),
            AuthError::NoToken(_) => "missing_token",
            AuthError::BadToken => "bad_token",
        }
    }
}

/// Why an authenticated payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    /// There is no usable email, so there is no opt-in to count.
    #[error("{0}")]
    NoEmail(String),
    #[error("a delivery may carry at most {0} events")]
    TooMany(usize),
}

impl PayloadError {
    /// Machine-readable reason, answered and counted.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::Json(_) | PayloadError::Invalid(_) => "invalid_payload",
            PayloadError::NoEmail(_) => "no_email",
            PayloadError::TooMany(_) => "too_many_events",
        }
    }
}

/// The tools' settings, from flags, the environment or the configuration file.
#[derive(Clone, Args)]
pub struct ToolArgs {
    /// Zoom app's Secret Token (Event Subscriptions).
    #[arg(long, env = "ZOOM_WEBHOOK_SECRET", hide_env_values = true)]
    pub zoom_secret: Option<String>,
    /// Typeform webhook secret.
    #[arg(long, env = "TYPEFORM_WEBHOOK_SECRET", hide_env_values = true)]
    pub typeform_secret: Option<String>,
    /// Calendly webhook signing key.
    #[arg(long, env = "CALENDLY_WEBHOOK_SECRET", hide_env_values = true)]
    pub calendly_secret: Option<String>,
    /// Kit webhook endpoint secret.
    #[arg(long, env = "KIT_WEBHOOK_SECRET", hide_env_values = true)]
    pub kit_secret: Option<String>,
    /// Tally webhook signing secret.
    #[arg(long, env = "TALLY_WEBHOOK_SECRET", hide_env_values = true)]
    pub tally_secret: Option<String>,
    /// WebinarGeek webhook secret.
    #[arg(long, env = "WEBINARGEEK_WEBHOOK_SECRET", hide_env_values = true)]
    pub webinargeek_secret: Option<String>,
    /// The token WebinarJam / EverWebinar sends (header, bearer or ?token=).
    #[arg(long, env = "WEBINARJAM_WEBHOOK_SECRET", hide_env_values = true)]
    pub webinarjam_secret: Option<String>,
    /// The ?token= in the Mailchimp webhook URL.
    #[arg(long, env = "MAILCHIMP_WEBHOOK_SECRET", hide_env_values = true)]
    pub mailchimp_secret: Option<String>,
    /// The ?token= in the ActiveCampaign webhook URL.
    #[arg(long, env = "ACTIVECAMPAIGN_WEBHOOK_SECRET", hide_env_values = true)]
    pub activecampaign_secret: Option<String>,
    /// The token a generic form, Zapier or Make sends (?token=, bearer or header).
    #[arg(long, env = "FORM_WEBHOOK_SECRET", hide_env_values = true)]
    pub form_secret: Option<String>,
    /// Zoom's timestamp tolerance in seconds.
    #[arg(long, env = "ZOOM_TOLERANCE_SECS", default_value_t = 300)]
    pub zoom_tolerance_secs: i64,
    /// Calendly's timestamp tolerance in seconds (Calendly's own example uses 3 minutes).
    #[arg(long, env = "CALENDLY_TOLERANCE_SECS", default_value_t = 180)]
    pub calendly_tolerance_secs: i64,
    /// Kit's timestamp tolerance in seconds (Kit suggests 5 minutes).
    #[arg(long, env = "KIT_TOLERANCE_SECS", default_value_t = 300)]
    pub kit_tolerance_secs: i64,
    /// The header that may carry the token of token-authenticated tools.
    #[arg(long, env = "TOOL_TOKEN_HEADER", default_value = token::DEFAULT_HEADER)]
    pub token_header: String,
    /// The generic form's field holding the email.
    #[arg(long, env = "FORM_EMAIL_FIELD", default_value = "email")]
    pub form_email_field: String,
    /// The generic form's field holding the click id.
    #[arg(long, env = "FORM_CLICK_FIELD", default_value = reftrack_protocol::names::CLICK_PARAM)]
    pub form_click_field: String,
    /// The generic form's field holding the name.
    #[arg(long, env = "FORM_NAME_FIELD", default_value = "name")]
    pub form_name_field: String,
    /// The generic form's field holding its own id of the submission (its idempotency key).
    #[arg(long, env = "FORM_ID_FIELD", default_value = "id")]
    pub form_id_field: String,
    /// The generic form's field naming the partner, if the merchant maps one.
    #[arg(long, env = "FORM_PARTNER_FIELD")]
    pub form_partner_field: Option<String>,
    /// The generic form's field holding the partner's SubID, if mapped.
    #[arg(long, env = "FORM_SUB_ID_FIELD")]
    pub form_sub_id_field: Option<String>,
}

impl fmt::Debug for ToolArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolArgs").field("configured", &Settings::from_args(self).configured()).finish_non_exhaustive()
    }
}

/// Which fields of a generic form's payload mean what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormMapping {
    pub email: String,
    pub click: String,
    pub name: String,
    pub id: String,
    pub partner: Option<String>,
    pub sub_id: Option<String>,
}

impl Default for FormMapping {
    fn default() -> Self {
        FormMapping {
            email: "email".into(),
            click: reftrack_protocol::names::CLICK_PARAM.into(),
            name: "name".into(),
            id: "id".into(),
            partner: None,
            sub_id: None,
        }
    }
}

/// The tools' settings as the handlers use them. `Debug` names the configured tools, never a secret.
#[derive(Clone)]
pub struct Settings {
    secrets: HashMap<&'static str, String>,
    pub zoom_tolerance: i64,
    pub calendly_tolerance: i64,
    pub kit_tolerance: i64,
    /// Lower-case header name that may carry a token.
    pub token_header: String,
    pub form: FormMapping,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings").field("configured", &self.configured()).field("form", &self.form).finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secrets: HashMap::new(),
            zoom_tolerance: 300,
            calendly_tolerance: 180,
            kit_tolerance: 300,
            token_header: token::DEFAULT_HEADER.into(),
            form: FormMapping::default(),
        }
    }
}

impl Settings {
    /// The settings from the command line and environment; empty secrets are unset.
    pub fn from_args(args: &ToolArgs) -> Self {
        let given = [
            (&zoom::TOOL, &args.zoom_secret),
            (&typeform::TOOL, &args.typeform_secret),
            (&calendly::TOOL, &args.calendly_secret),
            (&kit::TOOL, &args.kit_secret),
            (&tally::TOOL, &args.tally_secret),
            (&webinargeek::TOOL, &args.webinargeek_secret),
            (&webinarjam::TOOL, &args.webinarjam_secret),
            (&mailchimp::TOOL, &args.mailchimp_secret),
            (&activecampaign::TOOL, &args.activecampaign_secret),
            (&form::TOOL, &args.form_secret),
        ];
        let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Settings {
            secrets: given.iter().filter_map(|(tool, secret)| blank(secret).map(|s| (tool.name, s))).collect(),
            zoom_tolerance: args.zoom_tolerance_secs,
            calendly_tolerance: args.calendly_tolerance_secs,
            kit_tolerance: args.kit_tolerance_secs,
            token_header: args.token_header.trim().to_ascii_lowercase(),
            form: FormMapping {
                email: args.form_email_field.clone(),
                click: args.form_click_field.clone(),
                name: args.form_name_field.clone(),
                id: args.form_id_field.clone(),
                partner: blank(&args.form_partner_field),
                sub_id: blank(&args.form_sub_id_field),
            },
        }
    }

    /// Settings with these tools' secrets and every other value at its default (for tests).
    pub fn with_secrets<'a>(secrets: impl IntoIterator<Item = (&'static Tool, &'a str)>) -> Self {
        Settings { secrets: secrets.into_iter().map(|(t, s)| (t.name, s.to_owned())).collect(), ..Settings::default() }
    }

    /// The tool's secret, if configured.
    pub fn secret(&self, tool: &Tool) -> Option<&str> {
        self.secrets.get(tool.name).map(String::as_str)
    }

    /// The names of the tools with a secret.
    pub fn configured(&self) -> Vec<&'static str> {
        TOOLS.iter().filter(|t| self.secrets.contains_key(t.name)).map(|t| t.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_registered_once_under_its_route_name() {
        for tool in TOOLS {
            assert_eq!(find(tool.name).map(|t| t.name), Some(tool.name));
            assert!(tool.secret_env.ends_with("_WEBHOOK_SECRET"), "{}", tool.name);
        }
        let mut names: Vec<_> = TOOLS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        assert!(find("stripe").is_none(), "carts are not tools");
    }

    #[test]
    fn settings_never_show_a_secret() {
        let settings = Settings::with_secrets([(&zoom::TOOL, "zoom-secret-token")]);
        let shown = format!("{settings:?}");
        assert!(shown.contains("zoom") && !shown.contains("zoom-secret-token"), "{shown}");
        assert_eq!(settings.secret(&zoom::TOOL), Some("zoom-secret-token"));
        assert_eq!(settings.secret(&typeform::TOOL), None);
    }
}
