//! Would-be partners apply on the public sign-up page (`/partner/apply/`, when the merchant opens
//! it): only an email is required. The merchant approves an application — choosing the partner's
//! code and programs, which hands over their personal Partner Center link — or declines it.

use super::admin::{invalid, parse_destination, partner_of, AdminError, PartnerInput};
use super::edits::{personal_url, settings};
use super::keys;
use crate::store::{Application, DbError, NewApplication, Partner, Store};
use reftrack_protocol::Email;
use serde::{Deserialize, Serialize};

/// An application as typed on the sign-up page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub notes: String,
    /// A field people never see (hidden on the page): what fills it is a bot.
    #[serde(default)]
    pub homepage: String,
}

/// Free text: at most `max` characters, line breaks allowed, no other control characters.
fn text(field: &'static str, raw: &str, max: usize, lines: bool) -> Result<String, AdminError> {
    let t = raw.trim();
    if t.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t'))) {
        return Err(invalid(field, "must be printable text"));
    }
    Ok(t.to_owned())
}

/// Takes an application. `Ok(None)` when a bot filled the hidden field: it is told it succeeded,
/// and nothing is stored.
pub async fn apply(store: &Store, input: ApplicationInput, now_ms: i64) -> Result<Option<Application>, AdminError> {
    if !settings(store).await?.applications_open {
        return Err(AdminError::Closed);
    }
    let email = Email::parse(&input.email).map_err(|e| invalid("email", e.to_string()))?;
    let name = text("name", &input.name, 200, false)?;
    let website = match input.website.trim() {
        "" => String::new(),
        raw => {
            let with_scheme = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
            parse_destination(&with_scheme).map_err(|_| invalid("website", "must be a web address such as https://example.com"))?
        }
    };
    let notes = text("notes", &input.notes, 2000, true)?;
    if !input.homepage.trim().is_empty() {
        return Ok(None);
    }
    let new = NewApplication { email: email.to_string(), name, website, notes };
    match store.add_application(&new, now_ms).await {
        Ok(a) => Ok(Some(a)),
        Err(DbError::Conflict(_)) => {
            Err(AdminError::Taken { field: "email", what: "an application from this email (the merchant will answer it)".into() })
        }
        Err(e) => Err(e.into()),
    }
}

/// Applications by status (`pending`, `approved`, `declined`; none: all).
pub async fn list(store: &Store, status: Option<&str>) -> Result<Vec<Application>, AdminError> {
    let status = status.map(str::trim).filter(|s| !s.is_empty() && *s != "all");
    if let Some(s) = status.filter(|s| !matches!(*s, "pending" | "approved" | "declined")) {
        return Err(invalid("status", format!("must be pending, approved, declined or all, not {s:?}")));
    }
    Ok(store.applications(status).await?)
}

/// The merchant's approval: the partner's code and programs (and optionally name and parent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalInput {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// An approved application: the new partner and their personal link (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct Approved {
    pub application: Application,
    pub partner: Partner,
    pub token_id: i64,
    pub token: String,
    /// The personal Partner Center link to hand over.
    pub url: String,
}

async fn pending(store: &Store, id: i64) -> Result<Application, AdminError> {
    let a = store.application(id).await?.ok_or_else(|| AdminError::Missing(format!("application {id}")))?;
    if a.status != "pending" {
        return Err(AdminError::Conflict { code: "already_decided", message: format!("application {id} was already {}", a.status) });
    }
    Ok(a)
}

/// Approves an application: adds the partner with the applicant's email and hands over their
/// personal link; `base` is the tracking domain with its base path.
pub async fn approve(store: &Store, id: i64, input: ApprovalInput, base: &str, now_ms: i64) -> Result<Approved, AdminError> {
    let a = pending(store, id).await?;
    let name =
        input.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| if a.name.is_empty() { input.code.clone() } else { a.name.clone() });
    let partner =
        partner_of(store, PartnerInput { code: input.code, name, email: a.email.clone(), parent: input.parent, programs: input.programs })
            .await?;
    if store.partner(partner.code.as_str()).await?.is_some() {
        return Err(AdminError::Taken { field: "code", what: format!("partner {}", partner.code) });
    }
    let token = keys::new_key("rtpt");
    let token_id = match store.approve_application(id, &partner, &keys::hash_key(&token), now_ms).await {
        Ok(id) => id,
        Err(DbError::Conflict(m)) => return Err(AdminError::Conflict { code: "already_decided", message: m }),
        Err(e) => return Err(e.into()),
    };
    let application = store.application(id).await?.unwrap_or(a);
    Ok(Approved { application, url: personal_url(base, &token), partner, token_id, token })
}

/// Why the merchant declines (kept for them; the applicant is not told).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineInput {
    #[serde(default)]
    pub reason: String,
}

/// Declines an application.
pub async fn decline(store: &Store, id: i64, input: DeclineInput, now_ms: i64) -> Result<Application, AdminError> {
    pending(store, id).await?;
    let note = text("reason", &input.reason, 500, false)?;
    match store.decline_application(id, &note, now_ms).await {
        Ok(()) => {}
        Err(DbError::Conflict(m)) => return Err(AdminError::Conflict { code: "already_decided", message: m }),
        Err(e) => return Err(e.into()),
    }
    store.application(id).await?.ok_or_else(|| AdminError::Missing(format!("application {id}")))
}
