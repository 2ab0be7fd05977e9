//! What every handler can reach. It lives beside the routes and imports nothing above them.

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::store::Store;
use std::sync::Arc;

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
}
