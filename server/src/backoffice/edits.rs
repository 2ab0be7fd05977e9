//! Editing what the merchant set up: a program's terms, a partner (deactivating them included), a
//! link, a product override; partners' personal links; the settings kept in the database. Only
//! the fields given change; the result is checked as a whole, as when it was added. Commissions
//! already booked keep the terms they were booked under (new terms apply to new orders).

use super::admin::{self, invalid, name, parse_destination, partner_code, programs_exist, AdminError, ProgramInput};
use crate::store::{DbError, KeyGrant, Link, Partner, Program, Store, TokenRecord};
use reftrack_protocol::{Email, PartnerCode};
use serde::{Deserialize, Deserializer, Serialize};

/// `Some(None)` for a field given as `null`, `Some(Some(v))` for a value, `None` when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a program's terms (`null` clears an optional amount).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramChanges {
    pub name: Option<String>,
    pub rate_bps: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub flat_minor: Option<Option<i64>>,
    pub window_days: Option<i64>,
    pub pixel_commission: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub lead_rate_bps: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub lead_flat_minor: Option<Option<i64>>,
    pub tier2_bps: Option<i64>,
    pub tier3_bps: Option<i64>,
    pub recurring: Option<String>,
    pub hold_days: Option<i64>,
    /// Refused with a message: a program's code is in every partner's and link's record.
    pub code: Option<String>,
}

/// Changes a program's terms.
pub async fn edit_program(store: &Store, code: &str, c: ProgramChanges) -> Result<Program, AdminError> {
    let p = store.program(code).await?.ok_or_else(|| AdminError::Missing(format!("program {code}")))?;
    if c.code.as_deref().is_some_and(|new| new != p.code.as_str()) {
        return Err(invalid("code", "a program's code cannot change (partners, links and commissions name it): add a new program"));
    }
    let input = ProgramInput {
        code: p.code.to_string(),
        name: c.name.unwrap_or(p.name),
        rate_bps: c.rate_bps.unwrap_or(p.rate_bps),
        flat_minor: c.flat_minor.unwrap_or(p.flat_minor),
        window_days: c.window_days.unwrap_or(p.window_days),
        pixel_commission: c.pixel_commission.unwrap_or(p.pixel_commission),
        lead_rate_bps: c.lead_rate_bps.unwrap_or(p.lead_rate_bps),
        lead_flat_minor: c.lead_flat_minor.unwrap_or(p.lead_flat_minor),
        tier2_bps: c.tier2_bps.unwrap_or(p.tier2_bps),
        tier3_bps: c.tier3_bps.unwrap_or(p.tier3_bps),
        recurring: c.recurring.unwrap_or_else(|| p.recurring.to_string()),
        hold_days: c.hold_days.unwrap_or(p.hold_days),
    };
    let checked = admin::program_of(input)?;
    store.update_program(&checked).await?;
    Ok(checked)
}

/// Removes a product's override from a program.
pub async fn delete_product(store: &Store, program: &str, sku: &str) -> Result<(), AdminError> {
    match store.delete_product_override(program, sku).await {
        Err(DbError::NotFound(_)) => Err(AdminError::Missing(format!("product {sku:?} in program {program}"))),
        other => Ok(other?),
    }
}

/// Changes to a partner (`"parent": null` clears the parent; `"active": false` deactivates).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<Option<String>>,
    pub programs: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Refused with a message: a partner's code is in every link they shared.
    pub code: Option<String>,
}

/// Changes a partner. A deactivated partner's links stop crediting; their history stays.
pub async fn edit_partner(store: &Store, code: &str, c: PartnerChanges, now_ms: i64) -> Result<Partner, AdminError> {
    let p = store.partner(code).await?.ok_or_else(|| AdminError::Missing(format!("partner {code}")))?;
    if c.code.as_deref().is_some_and(|new| new != p.code.as_str()) {
        return Err(invalid("code", "a partner's code cannot change (it is in every link they shared): add a new partner"));
    }
    let name = match c.name {
        Some(raw) => {
            let name = name("name", &raw, "")?;
            if name.is_empty() {
                return Err(invalid("name", "is empty"));
            }
            name
        }
        None => p.name,
    };
    let email = match c.email {
        Some(raw) => Email::parse(&raw).map_err(|e| invalid("email", e.to_string()))?,
        None => p.email,
    };
    let parent = match c.parent {
        None => p.parent,
        Some(raw) => match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(checked_parent(store, &p.code, partner_code("parent", raw)?).await?),
        },
    };
    let programs = match c.programs {
        Some(raw) => programs_exist(store, &raw).await?,
        None => p.programs,
    };
    let partner = Partner { code: p.code, name, email, parent, programs, active: c.active.unwrap_or(p.active) };
    store.update_partner(&partner, now_ms).await?;
    Ok(store.partner(code).await?.unwrap_or(partner))
}

/// A parent for `code` that exists and is not `code` nor below it (parents never loop).
async fn checked_parent(store: &Store, code: &PartnerCode, parent: PartnerCode) -> Result<PartnerCode, AdminError> {
    let mut next = Some(parent.clone());
    let mut depth = 0;
    while let Some(at) = next {
        if at == *code {
            return Err(invalid("parent", format!("{parent} is {code} or below them: parents cannot loop")));
        }
        let Some(found) = store.partner(at.as_str()).await? else {
            return Err(AdminError::Unknown { field: "parent", what: format!("parent partner {at}") });
        };
        depth += 1;
        next = found.parent.filter(|_| depth < 64);
    }
    Ok(parent)
}

/// Changes to a link (`"partner": null` opens it to every partner; `"programs": []` to every program).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkChanges {
    pub name: Option<String>,
    pub destination: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub partner: Option<Option<String>>,
    pub programs: Option<Vec<String>>,
    /// Refused with a message: a link's code is in every URL partners shared.
    pub code: Option<String>,
}

/// Changes a link; its code stays, so every URL partners shared keeps working.
pub async fn edit_link(store: &Store, code: &str, c: LinkChanges) -> Result<Link, AdminError> {
    let l = store.link(code).await?.ok_or_else(|| AdminError::Missing(format!("link {code}")))?;
    if c.code.as_deref().is_some_and(|new| new != l.code.as_str()) {
        return Err(invalid("code", "a link's code cannot change (it is in every URL partners shared): add a new link"));
    }
    let name = match c.name {
        Some(raw) => name("name", &raw, l.code.as_str())?,
        None => l.name,
    };
    let destination = match c.destination {
        Some(raw) => parse_destination(&raw)?,
        None => l.destination,
    };
    let partner = match c.partner {
        None => l.partner,
        Some(raw) => match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => {
                let partner = partner_code("partner", raw)?;
                if store.partner(partner.as_str()).await?.is_none() {
                    return Err(AdminError::Unknown { field: "partner", what: format!("partner {partner}") });
                }
                Some(partner)
            }
        },
    };
    let programs = match c.programs {
        Some(raw) => programs_exist(store, &raw).await?,
        None => l.programs,
    };
    let link = Link { code: l.code, name, destination, partner, programs };
    store.update_link(&link).await?;
    Ok(link)
}

/// A partner's new personal Partner Center link.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalLink {
    pub id: i64,
    pub partner: PartnerCode,
    /// Shown once: only its hash is stored.
    pub token: String,
    /// `https://track.example.com/partner/#token=…`
    pub url: String,
}

/// The Partner Center address for a token; `base` is the tracking domain with its base path.
pub fn personal_url(base: &str, token: &str) -> String {
    format!("{}/partner/#token={token}", base.trim_end_matches('/'))
}

/// Makes a personal Partner Center link for a partner (revoke it with its id).
pub async fn issue_personal_link(store: &Store, code: &str, base: &str, now_ms: i64) -> Result<PersonalLink, AdminError> {
    let partner = PartnerCode::parse(code).map_err(|_| AdminError::Missing(format!("partner {code}")))?;
    let (id, token) = admin::issue_key(store, KeyGrant::Partner(partner.clone()), now_ms).await?;
    Ok(PersonalLink { id, url: personal_url(base, &token), partner, token })
}

/// A partner's personal links that still work (their secrets are not kept).
pub async fn personal_links(store: &Store, code: &str) -> Result<Vec<TokenRecord>, AdminError> {
    if store.partner(code).await?.is_none() {
        return Err(AdminError::Missing(format!("partner {code}")));
    }
    Ok(store.partner_tokens(code).await?)
}

/// The settings the merchant changes in the admin page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Whether the public sign-up page (`/partner/apply/`) takes applications.
    #[serde(default)]
    pub applications_open: bool,
}

const APPLICATIONS_OPEN: &str = "applications_open";

/// The settings now.
pub async fn settings(store: &Store) -> Result<Settings, DbError> {
    Ok(Settings { applications_open: store.setting(APPLICATIONS_OPEN).await?.as_deref() == Some("true") })
}

/// Changes the settings.
pub async fn set_settings(store: &Store, s: Settings) -> Result<Settings, DbError> {
    store.set_setting(APPLICATIONS_OPEN, if s.applications_open { "true" } else { "false" }).await?;
    settings(store).await
}
