//! Managing programs, partners, links and keys: one set of checks for the CLI and the HTTP API.
//! Input arrives as plain text (what a form or a flag holds) and becomes a record only once every
//! field is valid; a refusal names the field.

use crate::domain::split::Recurring;
use crate::store::{DbError, KeyGrant, Link, Partner, ProductOverride, Program, Store};
use reftrack_protocol::names::MAX_WINDOW_DAYS;
use reftrack_protocol::{Email, LinkCode, PartnerCode, ProgramCode, MAX_AMOUNT_MINOR};
use serde::Deserialize;

/// Why an admin change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0} does not exist")]
    Missing(String),
    /// What an input field names does not exist.
    #[error("{field}: {what} does not exist")]
    Unknown { field: &'static str, what: String },
    /// What an input field names is taken.
    #[error("{field}: {what} already exists")]
    Taken { field: &'static str, what: String },
    /// The change contradicts what was recorded (a paid commission, a decided application).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The public sign-up page is closed.
    #[error("the merchant does not take applications here")]
    Closed,
    /// Too many attempts from one visitor.
    #[error("too many attempts; try again in an hour")]
    RateLimited,
    #[error(transparent)]
    Db(#[from] DbError),
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid { field, message: message.into() }
}

pub(super) fn conflict(field: &'static str, what: String) -> impl FnOnce(DbError) -> AdminError {
    move |e| match e {
        DbError::Conflict(_) => AdminError::Taken { field, what },
        other => AdminError::Db(other),
    }
}

/// A program's terms as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub rate_bps: i64,
    #[serde(default)]
    pub flat_minor: Option<i64>,
    pub window_days: i64,
    #[serde(default)]
    pub pixel_commission: bool,
    #[serde(default)]
    pub lead_rate_bps: Option<i64>,
    #[serde(default)]
    pub lead_flat_minor: Option<i64>,
    #[serde(default)]
    pub tier2_bps: i64,
    #[serde(default)]
    pub tier3_bps: i64,
    #[serde(default = "every")]
    pub recurring: String,
    #[serde(default = "thirty")]
    pub hold_days: i64,
}

impl From<Program> for ProgramInput {
    fn from(p: Program) -> Self {
        ProgramInput {
            code: p.code.to_string(),
            name: p.name,
            rate_bps: p.rate_bps,
            flat_minor: p.flat_minor,
            window_days: p.window_days,
            pixel_commission: p.pixel_commission,
            lead_rate_bps: p.lead_rate_bps,
            lead_flat_minor: p.lead_flat_minor,
            tier2_bps: p.tier2_bps,
            tier3_bps: p.tier3_bps,
            recurring: p.recurring.to_string(),
            hold_days: p.hold_days,
        }
    }
}

fn every() -> String {
    "every".into()
}

fn thirty() -> i64 {
    30
}

/// A partner as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    pub code: String,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
}

/// A tracking link as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub destination: String,
    #[serde(default)]
    pub partner: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
}

pub(super) fn bps(field: &'static str, value: i64) -> Result<i64, AdminError> {
    if (0..=10_000).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, "must be 0–10000 (100 % = 10000)"))
    }
}

pub(super) fn amount(field: &'static str, value: Option<i64>) -> Result<Option<i64>, AdminError> {
    match value {
        Some(v) if !(0..=MAX_AMOUNT_MINOR).contains(&v) => Err(invalid(field, "must be 0–10^12 minor units")),
        other => Ok(other),
    }
}

pub(super) fn program_code(field: &'static str, raw: &str) -> Result<ProgramCode, AdminError> {
    ProgramCode::parse(raw.trim()).map_err(|e| invalid(field, e.to_string()))
}

pub(super) fn partner_code(field: &'static str, raw: &str) -> Result<PartnerCode, AdminError> {
    PartnerCode::parse(raw.trim()).map_err(|e| invalid(field, e.to_string()))
}

/// Checks a destination: an absolute http(s) URL with a host and no credentials.
pub fn parse_destination(raw: &str) -> Result<String, AdminError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid("destination", format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("destination", "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("destination", "must not carry credentials"));
    }
    Ok(url.into())
}

pub(super) fn name(field: &'static str, raw: &str, fallback: &str) -> Result<String, AdminError> {
    let name = raw.trim();
    reftrack_protocol::check_text(field, name, 200).map_err(|e| invalid(field, e.to_string()))?;
    Ok(if name.is_empty() { fallback.to_owned() } else { name.to_owned() })
}

/// The checked program.
pub fn program_of(p: ProgramInput) -> Result<Program, AdminError> {
    let code = program_code("code", &p.code)?;
    if p.lead_flat_minor.is_some() && p.lead_rate_bps.is_some() {
        return Err(invalid("lead_flat_minor", "give the lead share as lead_rate_bps or lead_flat_minor, not both"));
    }
    if !(1..=i64::from(MAX_WINDOW_DAYS)).contains(&p.window_days) {
        return Err(invalid("window_days", format!("must be 1–{MAX_WINDOW_DAYS} (browsers cap cookies at 400 days)")));
    }
    if !(0..=365).contains(&p.hold_days) {
        return Err(invalid("hold_days", "the refund window must be 0–365 days"));
    }
    Ok(Program {
        name: name("name", &p.name, code.as_str())?,
        rate_bps: bps("rate_bps", p.rate_bps)?,
        flat_minor: amount("flat_minor", p.flat_minor)?,
        window_days: p.window_days,
        pixel_commission: p.pixel_commission,
        lead_rate_bps: p.lead_rate_bps.map(|v| bps("lead_rate_bps", v)).transpose()?,
        lead_flat_minor: amount("lead_flat_minor", p.lead_flat_minor)?,
        tier2_bps: bps("tier2_bps", p.tier2_bps)?,
        tier3_bps: bps("tier3_bps", p.tier3_bps)?,
        recurring: p.recurring.trim().parse::<Recurring>().map_err(|e| invalid("recurring", e))?,
        hold_days: p.hold_days,
        code,
    })
}

pub(super) async fn programs_exist(store: &Store, raw: &[String]) -> Result<Vec<ProgramCode>, AdminError> {
    let mut codes = Vec::with_capacity(raw.len());
    for p in raw {
        let code = program_code("programs", p)?;
        if store.program(code.as_str()).await?.is_none() {
            return Err(AdminError::Unknown { field: "programs", what: format!("program {code}") });
        }
        codes.push(code);
    }
    codes.sort();
    codes.dedup();
    Ok(codes)
}

/// Adds a program after checking its terms.
pub async fn add_program(store: &Store, input: ProgramInput, now_ms: i64) -> Result<Program, AdminError> {
    let p = program_of(input)?;
    store.add_program(&p, now_ms).await.map_err(conflict("code", format!("program {}", p.code)))?;
    Ok(p)
}

/// A product override as given: its rate or flat amount, and its owner and their share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub sku: String,
    #[serde(default)]
    pub rate_bps: Option<i64>,
    #[serde(default)]
    pub flat_minor: Option<i64>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub owner_bps: Option<i64>,
}

impl From<ProductOverride> for ProductInput {
    fn from(o: ProductOverride) -> Self {
        ProductInput {
            sku: o.sku,
            rate_bps: o.rate_bps,
            flat_minor: o.flat_minor,
            owner: o.owner.map(String::from),
            owner_bps: o.owner_bps,
        }
    }
}

/// Checks a product override, the owner included (who must exist).
pub(super) async fn product_of(store: &Store, o: ProductInput) -> Result<ProductOverride, AdminError> {
    let sku = o.sku.trim().to_owned();
    if sku.is_empty() || sku.len() > 128 || sku.chars().any(char::is_control) {
        return Err(invalid("sku", "must be 1–128 printable characters"));
    }
    let (owner, owner_bps) = match (o.owner.as_deref().map(str::trim).filter(|s| !s.is_empty()), o.owner_bps) {
        (None, None) => (None, None),
        (Some(raw), Some(share)) => {
            let code = partner_code("owner", raw)?;
            if !(1..=10_000).contains(&share) {
                return Err(invalid("owner_bps", "the owner's share must be 1–10000 (100 % = 10000)"));
            }
            if store.partner(code.as_str()).await?.is_none() {
                return Err(AdminError::Unknown { field: "owner", what: format!("partner {code}") });
            }
            (Some(code), Some(share))
        }
        (Some(_), None) => return Err(invalid("owner_bps", "give the owner's share (1–10000) with the owner")),
        (None, Some(_)) => return Err(invalid("owner", "name the owner partner with their share")),
    };
    match (o.rate_bps, o.flat_minor) {
        (Some(rate), None) => {
            bps("rate_bps", rate)?;
        }
        (None, Some(flat)) => {
            amount("flat_minor", Some(flat))?;
        }
        // A product may name only its owner and earn the program's rate for the referrer.
        (None, None) if owner.is_some() => {}
        _ => return Err(invalid("rate_bps", "give either rate_bps (0–10000) or flat_minor (≥ 0)")),
    }
    Ok(ProductOverride { sku, rate_bps: o.rate_bps, flat_minor: o.flat_minor, owner, owner_bps })
}

/// Sets a product's rate or flat amount within a program, and its owner.
pub async fn set_product(store: &Store, program: &str, o: ProductInput) -> Result<ProductOverride, AdminError> {
    if store.program(program).await?.is_none() {
        return Err(AdminError::Missing(format!("program {program}")));
    }
    let o = product_of(store, o).await?;
    store.set_product_override(program, &o).await?;
    Ok(o)
}

/// The checked partner (its parent and programs must exist).
pub(super) async fn partner_of(store: &Store, p: PartnerInput) -> Result<Partner, AdminError> {
    let code = partner_code("code", &p.code)?;
    let email = Email::parse(&p.email).map_err(|e| invalid("email", e.to_string()))?;
    let name = name("name", &p.name, "")?;
    if name.is_empty() {
        return Err(invalid("name", "is empty"));
    }
    let parent = match p.parent.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let parent = partner_code("parent", raw)?;
            if parent == code {
                return Err(invalid("parent", "a partner cannot be their own parent"));
            }
            if store.partner(parent.as_str()).await?.is_none() {
                return Err(AdminError::Unknown { field: "parent", what: format!("parent partner {parent}") });
            }
            Some(parent)
        }
        None => None,
    };
    let programs = programs_exist(store, &p.programs).await?;
    Ok(Partner { code, name, email, parent, programs, active: true })
}

/// Adds a partner.
pub async fn add_partner(store: &Store, p: PartnerInput, now_ms: i64) -> Result<Partner, AdminError> {
    let partner = partner_of(store, p).await?;
    store.add_partner(&partner, now_ms).await.map_err(conflict("code", format!("partner {}", partner.code)))?;
    Ok(partner)
}

/// Adds a tracking link.
pub async fn add_link(store: &Store, l: LinkInput, now_ms: i64) -> Result<Link, AdminError> {
    let code = LinkCode::parse(l.code.trim()).map_err(|e| invalid("code", e.to_string()))?;
    let destination = parse_destination(&l.destination)?;
    let partner = match l.partner.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let partner = partner_code("partner", raw)?;
            if store.partner(partner.as_str()).await?.is_none() {
                return Err(AdminError::Unknown { field: "partner", what: format!("partner {partner}") });
            }
            Some(partner)
        }
        None => None,
    };
    let programs = programs_exist(store, &l.programs).await?;
    let link = Link { name: name("name", &l.name, code.as_str())?, code, destination, partner, programs };
    store.add_link(&link, now_ms).await.map_err(conflict("code", format!("link {}", link.code)))?;
    Ok(link)
}

/// Issues a key; only its hash is stored, so the returned text is the only copy.
pub async fn issue_key(store: &Store, grant: KeyGrant, now_ms: i64) -> Result<(i64, String), AdminError> {
    let prefix = match &grant {
        KeyGrant::Admin => "rtadm",
        KeyGrant::Partner(code) => {
            if store.partner(code.as_str()).await?.is_none() {
                return Err(AdminError::Missing(format!("partner {code}")));
            }
            "rtpt"
        }
    };
    let key = super::keys::new_key(prefix);
    let id = store.add_key(&grant, &super::keys::hash_key(&key), now_ms).await?;
    Ok((id, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_be_plain_http_urls() {
        assert!(parse_destination("https://www.example.com/offer?x=1").is_ok());
        assert!(parse_destination("javascript:alert(1)").is_err());
        assert!(parse_destination("//evil.example").is_err());
        assert!(parse_destination("https://user:pw@www.example.com").is_err());
        assert!(parse_destination("ftp://example.com").is_err());
    }

    #[test]
    fn a_refused_program_names_the_field() {
        let input = |rate_bps, window_days| ProgramInput {
            code: "p".into(),
            name: String::new(),
            rate_bps,
            flat_minor: None,
            window_days,
            pixel_commission: false,
            lead_rate_bps: None,
            lead_flat_minor: None,
            tier2_bps: 0,
            tier3_bps: 0,
            recurring: "every".into(),
            hold_days: 30,
        };
        assert!(matches!(program_of(input(20_000, 30)), Err(AdminError::Invalid { field: "rate_bps", .. })));
        assert!(matches!(program_of(input(100, 500)), Err(AdminError::Invalid { field: "window_days", .. })));
        let ok = program_of(input(3000, 30)).unwrap();
        assert_eq!((ok.name.as_str(), ok.rate_bps), ("p", 3000));
    }
}
