//! What a tracking-link hit resolves to, cached for a few seconds: the configuration (link,
//! partner, program window) changes rarely, while every click would otherwise read it five times.
//! Every click is still recorded; only these reads are cached. Admin changes clear the cache here;
//! other servers sharing the database see them within the TTL.

use crate::error::ApiError;
use crate::store::Store;
use reftrack_protocol::names::{DEFAULT_WINDOW_DAYS, MAX_WINDOW_DAYS};
use reftrack_protocol::{LinkCode, PartnerCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a resolved route is reused.
pub const TTL: Duration = Duration::from_secs(5);
/// Most routes kept (the `aff` parameter is the visitor's to choose, so the cache is bounded).
const CAPACITY: usize = 10_000;

/// Where a hit goes and whom it credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No such link.
    Unknown,
    /// Redirect without credit, for this reason (a metrics label).
    Uncredited { destination: String, reason: &'static str },
    /// Redirect and credit the partner under the program, for `window_days`.
    Credited { destination: String, link: String, partner: String, program: Option<String>, window_days: i64 },
}

/// A hit's cache key: the link code and the `aff` parameter as given.
type RouteKey = (String, Option<String>);

/// The cache of routes by `(link, aff)`, each with the time it was resolved.
#[derive(Debug, Default)]
pub struct Routes {
    entries: Mutex<HashMap<RouteKey, (Instant, Arc<Route>)>>,
}

impl Routes {
    /// Forgets everything (after an admin change).
    pub fn clear(&self) {
        self.entries.lock().expect("routes lock").clear();
    }

    /// The route for a hit on `link` with `aff`, from the cache or the store.
    pub async fn resolve(&self, store: &dyn Store, link: &str, aff: Option<&str>) -> Result<Arc<Route>, ApiError> {
        let key = (link.to_owned(), aff.map(str::to_owned));
        if let Some((at, route)) = self.entries.lock().expect("routes lock").get(&key) {
            if at.elapsed() < TTL {
                return Ok(route.clone());
            }
        }
        let route = Arc::new(resolve(store, link, aff).await?);
        let mut entries = self.entries.lock().expect("routes lock");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), route.clone()));
        Ok(route)
    }
}

async fn resolve(store: &dyn Store, code: &str, aff: Option<&str>) -> Result<Route, ApiError> {
    let Ok(code) = LinkCode::parse(code) else { return Ok(Route::Unknown) };
    let Some(link) = store.link(code.as_str()).await? else { return Ok(Route::Unknown) };
    let destination = link.destination.clone();
    let uncredited = |reason| Ok(Route::Uncredited { destination: destination.clone(), reason });
    let partner_code = match (aff, &link.partner) {
        (Some(raw), _) => match PartnerCode::parse(raw) {
            Ok(code) => code.to_string(),
            Err(_) => return uncredited("invalid_partner_code"),
        },
        (None, Some(owner)) => owner.clone(),
        (None, None) => return uncredited("missing_partner"),
    };
    if link.partner.as_ref().is_some_and(|owner| *owner != partner_code) {
        return uncredited("partner_not_allowed_on_link");
    }
    let Some(partner) = store.partner(&partner_code).await? else { return uncredited("unknown_partner") };
    if !link.programs.is_empty() && !link.programs.iter().any(|p| partner.programs.contains(p)) {
        return uncredited("partner_not_allowed_on_link");
    }
    // The partner may earn under several programs: the click lasts as long as the longest window
    // among them (ties to the first code), and the order picks the best-paying one when it comes.
    let eligible: Vec<&String> = if link.programs.is_empty() {
        partner.programs.iter().collect()
    } else {
        link.programs.iter().filter(|p| partner.programs.contains(p)).collect()
    };
    let mut program = None;
    let mut window_days = i64::from(DEFAULT_WINDOW_DAYS);
    for code in eligible {
        if let Some(p) = store.program(code).await? {
            if program.is_none() || p.window_days > window_days {
                window_days = p.window_days;
                program = Some(p.code);
            }
        }
    }
    let window_days = window_days.clamp(1, i64::from(MAX_WINDOW_DAYS));
    Ok(Route::Credited { destination, link: link.code, partner: partner.code, program, window_days })
}
