//! A tracking-link hit: where it goes, whether it counts, and the click it records.
//!
//! What a hit resolves to (link, partner, program window) is cached for a few seconds: the
//! configuration changes rarely, while every click would otherwise read it five times. Every click
//! is still recorded; only these reads are cached. Admin changes clear the cache on this server;
//! other servers sharing the database see them within the TTL.

use super::{Intake, IntakeError};
use crate::domain::fraud::{Reason, Signal};
use crate::domain::{bots, click_id};
use crate::metrics::Metrics;
use crate::store::{BatchWrite, Click, DbError, Store};
use reftrack_protocol::names::{CLICK_PARAM, DEFAULT_WINDOW_DAYS, MAX_WINDOW_DAYS};
use reftrack_protocol::{ClickId, LinkCode, PartnerCode, ProgramCode, SubId};
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
    Credited { destination: String, link: LinkCode, partner: PartnerCode, program: Option<ProgramCode>, window_days: i64 },
}

/// The `aff` parameter of a hit, as far as it matters: missing, a valid code, or invalid (every
/// invalid value is one key, so whatever a visitor types cannot grow the cache).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Aff {
    Missing,
    Valid(PartnerCode),
    Invalid,
}

/// A hit's cache key: a valid link code and the `aff` parameter.
type RouteKey = (LinkCode, Aff);

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
    async fn resolve(&self, store: &Store, link: &str, aff: Option<&str>) -> Result<Arc<Route>, DbError> {
        let Ok(link) = LinkCode::parse(link) else { return Ok(Arc::new(Route::Unknown)) };
        let aff = match aff {
            None => Aff::Missing,
            Some(raw) => PartnerCode::parse(raw).map_or(Aff::Invalid, Aff::Valid),
        };
        let key = (link, aff);
        if let Some((at, route)) = self.entries.lock().expect("routes lock").get(&key) {
            if at.elapsed() < TTL {
                return Ok(route.clone());
            }
        }
        let route = Arc::new(resolve(store, &key.0, &key.1).await?);
        let mut entries = self.entries.lock().expect("routes lock");
        if entries.len() >= CAPACITY {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), route.clone()));
        Ok(route)
    }
}

async fn resolve(store: &Store, code: &LinkCode, aff: &Aff) -> Result<Route, DbError> {
    let Some(link) = store.link(code.as_str()).await? else { return Ok(Route::Unknown) };
    let destination = link.destination.clone();
    let uncredited = |reason| Ok(Route::Uncredited { destination: destination.clone(), reason });
    let partner_code = match (aff, &link.partner) {
        (Aff::Valid(code), _) => code.clone(),
        (Aff::Invalid, _) => return uncredited("invalid_partner_code"),
        (Aff::Missing, Some(owner)) => owner.clone(),
        (Aff::Missing, None) => return uncredited("missing_partner"),
    };
    if link.partner.as_ref().is_some_and(|owner| *owner != partner_code) {
        return uncredited("partner_not_allowed_on_link");
    }
    let Some(partner) = store.partner(partner_code.as_str()).await? else { return uncredited("unknown_partner") };
    if !partner.active {
        return uncredited("partner_deactivated");
    }
    if !link.programs.is_empty() && !link.programs.iter().any(|p| partner.programs.contains(p)) {
        return uncredited("partner_not_allowed_on_link");
    }
    // The partner may earn under several programs: the click lasts as long as the longest window
    // among them (ties to the first code), and the order picks the best-paying one when it comes.
    let eligible: Vec<&ProgramCode> = if link.programs.is_empty() {
        partner.programs.iter().collect()
    } else {
        link.programs.iter().filter(|p| partner.programs.contains(p)).collect()
    };
    let mut program = None;
    let mut window_days = i64::from(DEFAULT_WINDOW_DAYS);
    for code in eligible {
        if let Some(p) = store.program(code.as_str()).await? {
            if program.is_none() || p.window_days > window_days {
                window_days = p.window_days;
                program = Some(p.code);
            }
        }
    }
    let window_days = window_days.clamp(1, i64::from(MAX_WINDOW_DAYS));
    Ok(Route::Credited { destination, link: link.code, partner: partner.code, program, window_days })
}

/// Who followed the link, as far as the request tells.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    /// The visitor's IP (from the connection or the configured proxy header).
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    /// A HEAD request (link checkers, not people).
    pub head: bool,
    /// The browser is prefetching the link, not a person following it.
    pub prefetch: bool,
}

/// What to answer a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    /// No such link.
    Unknown,
    /// Go to the destination; nothing is credited.
    Redirect { destination: String },
    /// A counted click: go to `location` (the destination carrying the click id) and keep the click
    /// for `window_secs`.
    Click { location: String, click_id: ClickId, window_secs: i64 },
}

impl Intake {
    /// Follows a tracking link. The destination comes only from the link's configuration.
    pub async fn follow(&self, link: &str, aff: Option<&str>, sid: Option<&str>, visitor: Visitor<'_>) -> Result<Hit, IntakeError> {
        let route = self.routes.resolve(&self.store, link, aff).await?;
        let (destination, link, partner, program, window_days) = match route.as_ref() {
            Route::Unknown => return Ok(Hit::Unknown),
            Route::Uncredited { destination, .. } | Route::Credited { destination, .. }
                if bots::is_bot(visitor.head, visitor.prefetch, visitor.user_agent) =>
            {
                Metrics::bump(&self.metrics.bot_hits);
                return Ok(Hit::Redirect { destination: destination.clone() });
            }
            Route::Uncredited { destination, reason } => {
                Metrics::bump(&self.metrics.uncredited_hits);
                self.metrics.reject(reason);
                return Ok(Hit::Redirect { destination: destination.clone() });
            }
            Route::Credited { destination, link, partner, program, window_days } => (destination, link, partner, program, *window_days),
        };
        let window_secs = window_days * 86_400;
        let now = self.clock.now_ms();
        let ip_hash = self.visitor_hash(visitor.ip);
        if !self.flood.allow(&ip_hash, link.as_str(), now) {
            // Still a working link for the visitor, but neither a hit nor a click anyone can earn on;
            // one signal per visitor and window, however many clicks they make.
            self.metrics.reject(Reason::ClickFlood.as_str());
            let window = now.div_euclid(super::FLOOD_WINDOW_MS);
            let signal = Signal {
                reason: Reason::ClickFlood,
                partner: Some(partner.clone()),
                link: Some(link.clone()),
                order_id: None,
                at_ms: now,
                source_key: format!("{ip_hash}:{window}"),
            };
            if let Err(e) = self.writer.write(BatchWrite::Fraud(signal)).await {
                tracing::warn!(error = %e, "a click-flood signal could not be stored");
            }
            return Ok(Hit::Redirect { destination: destination.clone() });
        }
        let id = click_id::mint(now);
        let click = Click {
            id: id.clone(),
            link: link.clone(),
            partner: partner.clone(),
            sub_id: sid.and_then(|s| SubId::parse(s).ok()),
            program: program.clone(),
            at_ms: now,
            expires_at_ms: now + window_secs * 1000,
            ip_hash: Some(ip_hash),
        };
        // The 302 (and with it the cookie) is the acknowledgement: only a committed click gets it.
        // A click that cannot be stored still takes the visitor where they were going.
        if let Err(e) = self.writer.write(BatchWrite::Click(click)).await {
            Metrics::bump(&self.metrics.clicks_lost);
            tracing::error!(error = %e, "a click could not be stored; the visitor is redirected without it");
            return Ok(Hit::Redirect { destination: destination.clone() });
        }
        Metrics::bump(&self.metrics.clicks);
        Ok(Hit::Click { location: with_click(destination, id.as_str()), click_id: id, window_secs })
    }
}

/// The destination with `rt_click` appended, keeping its own query and fragment.
fn with_click(destination: &str, click: &str) -> String {
    match url::Url::parse(destination) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair(CLICK_PARAM, click);
            url.into()
        }
        Err(_) => destination.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_click;

    #[test]
    fn the_click_is_appended_keeping_query_and_fragment() {
        assert_eq!(
            with_click("https://www.example.com/offer?utm=x#buy", "CLICK"),
            "https://www.example.com/offer?utm=x&rt_click=CLICK#buy"
        );
        assert_eq!(with_click("https://www.example.com", "C"), "https://www.example.com/?rt_click=C");
    }
}
