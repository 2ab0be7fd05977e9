//! Managing programs, partners, links and keys: one set of checks for the CLI and the HTTP API.

use crate::domain::split::Recurring;
use crate::store::{DbError, KeyGrant, Link, Partner, ProductOverride, Program, Store};
use reftrack_protocol::names::MAX_WINDOW_DAYS;
use reftrack_protocol::{Email, LinkCode, PartnerCode};

/// Why an admin change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} does not exist")]
    Missing(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn code(what: &str, raw: &str) -> Result<String, AdminError> {
    // Programs share the partner code charset.
    PartnerCode::parse(raw).map(String::from).map_err(|e| AdminError::Invalid(format!("{what}: {e}")))
}

/// Checks a destination: an absolute http(s) URL with a host and no credentials.
pub fn parse_destination(raw: &str) -> Result<String, AdminError> {
    let url = url::Url::parse(raw).map_err(|e| AdminError::Invalid(format!("destination {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(AdminError::Invalid("destination must be an http(s) URL with a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AdminError::Invalid("destination must not carry credentials".into()));
    }
    Ok(url.into())
}

async fn programs_exist(store: &dyn Store, programs: &[String]) -> Result<(), AdminError> {
    for p in programs {
        if store.program(p).await?.is_none() {
            return Err(AdminError::Missing(format!("program {p}")));
        }
    }
    Ok(())
}

fn conflict(what: String) -> impl FnOnce(DbError) -> AdminError {
    move |e| match e {
        DbError::Conflict(_) => AdminError::Exists(what),
        other => AdminError::Db(other),
    }
}

/// Adds a program after checking its terms.
pub async fn add_program(store: &dyn Store, mut p: Program) -> Result<Program, AdminError> {
    p.code = code("program code", &p.code)?;
    if p.name.trim().is_empty() {
        p.name = p.code.clone();
    }
    if !(0..=10_000).contains(&p.rate_bps) {
        return Err(AdminError::Invalid("rate_bps must be 0–10000 (100 % = 10000)".into()));
    }
    if p.flat_minor.is_some_and(|f| f < 0) {
        return Err(AdminError::Invalid("flat_minor must not be negative".into()));
    }
    if !(1..=i64::from(MAX_WINDOW_DAYS)).contains(&p.window_days) {
        return Err(AdminError::Invalid(format!("window_days must be 1–{MAX_WINDOW_DAYS} (browsers cap cookies at 400 days)")));
    }
    for (name, bps) in [("lead_rate_bps", p.lead_rate_bps.unwrap_or(0)), ("tier2_bps", p.tier2_bps), ("tier3_bps", p.tier3_bps)] {
        if !(0..=10_000).contains(&bps) {
            return Err(AdminError::Invalid(format!("{name} must be 0–10000 (100 % = 10000)")));
        }
    }
    if p.lead_flat_minor.is_some_and(|f| f < 0) {
        return Err(AdminError::Invalid("lead_flat_minor must not be negative".into()));
    }
    if p.lead_flat_minor.is_some() && p.lead_rate_bps.is_some() {
        return Err(AdminError::Invalid("give the lead share as lead_rate_bps or lead_flat_minor, not both".into()));
    }
    p.recurring = p.recurring.parse::<Recurring>().map_err(AdminError::Invalid)?.to_string();
    if !(0..=365).contains(&p.hold_days) {
        return Err(AdminError::Invalid("hold_days (the refund window) must be 0–365".into()));
    }
    store.add_program(&p, crate::now_ms()).await.map_err(conflict(format!("program {}", p.code)))?;
    Ok(p)
}

/// Sets a product's rate or flat amount within a program.
pub async fn set_product(store: &dyn Store, program: &str, o: ProductOverride) -> Result<ProductOverride, AdminError> {
    if store.program(program).await?.is_none() {
        return Err(AdminError::Missing(format!("program {program}")));
    }
    if o.sku.is_empty() || o.sku.len() > 128 {
        return Err(AdminError::Invalid("sku must be 1–128 characters".into()));
    }
    match (o.rate_bps, o.flat_minor) {
        (Some(bps), None) if (0..=10_000).contains(&bps) => {}
        (None, Some(flat)) if flat >= 0 => {}
        _ => return Err(AdminError::Invalid("give either rate_bps (0–10000) or flat_minor (≥ 0)".into())),
    }
    store.set_product_override(program, &o).await?;
    Ok(o)
}

/// Adds a partner.
pub async fn add_partner(store: &dyn Store, mut p: Partner) -> Result<Partner, AdminError> {
    p.code = code("partner code", &p.code)?;
    p.email = Email::parse(&p.email).map_err(|e| AdminError::Invalid(e.to_string()))?.into();
    if p.name.trim().is_empty() {
        return Err(AdminError::Invalid("name is empty".into()));
    }
    if let Some(parent) = &p.parent {
        if store.partner(parent).await?.is_none() {
            return Err(AdminError::Missing(format!("parent partner {parent}")));
        }
    }
    programs_exist(store, &p.programs).await?;
    store.add_partner(&p, crate::now_ms()).await.map_err(conflict(format!("partner {}", p.code)))?;
    Ok(p)
}

/// Adds a tracking link.
pub async fn add_link(store: &dyn Store, mut l: Link) -> Result<Link, AdminError> {
    l.code = LinkCode::parse(&l.code).map_err(|e| AdminError::Invalid(e.to_string()))?.into();
    l.destination = parse_destination(&l.destination)?;
    if l.name.trim().is_empty() {
        l.name = l.code.clone();
    }
    if let Some(partner) = &l.partner {
        if store.partner(partner).await?.is_none() {
            return Err(AdminError::Missing(format!("partner {partner}")));
        }
    }
    programs_exist(store, &l.programs).await?;
    store.add_link(&l, crate::now_ms()).await.map_err(conflict(format!("link {}", l.code)))?;
    Ok(l)
}

/// Issues a key; only its hash is stored, so the returned text is the only copy.
pub async fn issue_key(store: &dyn Store, grant: KeyGrant) -> Result<(i64, String), AdminError> {
    let prefix = match &grant {
        KeyGrant::Admin => "rtadm",
        KeyGrant::Partner(code) => {
            if store.partner(code).await?.is_none() {
                return Err(AdminError::Missing(format!("partner {code}")));
            }
            "rtpt"
        }
    };
    let key = crate::auth::new_key(prefix);
    let id = store.add_key(&grant, &crate::auth::hash_key(&key), crate::now_ms()).await?;
    Ok((id, key))
}

#[cfg(test)]
mod tests {
    use super::parse_destination;

    #[test]
    fn destinations_must_be_plain_http_urls() {
        assert!(parse_destination("https://www.example.com/offer?x=1").is_ok());
        assert!(parse_destination("javascript:alert(1)").is_err());
        assert!(parse_destination("//evil.example").is_err());
        assert!(parse_destination("https://user:pw@www.example.com").is_err());
        assert!(parse_destination("ftp://example.com").is_err());
    }
}
