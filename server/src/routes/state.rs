//! What every handler can reach. It lives beside the routes and imports nothing above them.

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::domain::limit::RateLimit;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::store::Store;
use std::sync::{Arc, Mutex};

/// The application state shared by the handlers. Cloning it is cheap.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    /// The intake use cases (tracking links, events, orders, refunds, leads, notices).
    pub intake: Intake,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// When the health probe last wrote, and whether it could.
    pub health: Arc<std::sync::Mutex<Option<(i64, bool)>>>,
    /// Applications on the public sign-up page, per visitor.
    pub applications: Arc<Mutex<RateLimit>>,
    /// Checks webhook and postback targets against the server's own networks.
    pub guard: crate::delivery::Guard,
}

/// Applications one visitor may send per hour (refused ones count: they cost us too).
pub const APPLICATIONS_PER_HOUR: usize = 10;

impl AppState {
    /// The tracking domain with its base path, where links and pages are reached.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.settings.public_url.as_str().trim_end_matches('/'), self.settings.base_path)
    }

    /// The limit on sign-up applications.
    pub fn application_limit() -> Arc<Mutex<RateLimit>> {
        Arc::new(Mutex::new(RateLimit::new(APPLICATIONS_PER_HOUR, 3_600_000)))
    }
}
