//! Counters exposed at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Process-wide counters. Cheap to bump on hot paths (relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub clicks: AtomicU64,
    pub bot_hits: AtomicU64,
    pub uncredited_hits: AtomicU64,
    pub events: AtomicU64,
    pub orders: AtomicU64,
    pub refunds: AtomicU64,
    pub leads: AtomicU64,
    pub batch_writes: AtomicU64,
    pub order_groups: AtomicU64,
    pub batch_failures: AtomicU64,
    pub rows_refused: AtomicU64,
    pub clicks_lost: AtomicU64,
    pub webhook_attempts: AtomicU64,
    pub webhook_deliveries: AtomicU64,
    pub webhook_retries: AtomicU64,
    pub webhook_failed_attempts: AtomicU64,
    pub webhook_given_up: AtomicU64,
    pub webhook_endpoints_disabled: AtomicU64,
    rejects: Mutex<BTreeMap<&'static str, u64>>,
    /// When storage last refused a write, in ms since the process started (0: never).
    last_storage_failure_ms: AtomicU64,
}

/// The process's start, for the operational timings above (not business time: that is the
/// application's `Clock`).
static STARTED: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);

impl Metrics {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes that storage refused a write just now.
    pub fn storage_failed(&self) {
        let since_start = STARTED.elapsed().as_millis() as u64;
        self.last_storage_failure_ms.store(since_start.max(1), Ordering::Relaxed);
    }

    /// Whether storage refused a write within the last `within`.
    pub fn storage_failed_within(&self, within: std::time::Duration) -> bool {
        let at = self.last_storage_failure_ms.load(Ordering::Relaxed);
        at > 0 && (STARTED.elapsed().as_millis() as u64).saturating_sub(at) < within.as_millis() as u64
    }

    /// Counts a refused request by its reason code.
    pub fn reject(&self, reason: &'static str) {
        *self.rejects.lock().expect("metrics lock").entry(reason).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("reftrack_requests_total", "HTTP requests received", &self.requests),
            ("reftrack_clicks_total", "Tracking-link clicks credited", &self.clicks),
            ("reftrack_bot_hits_total", "Tracking-link hits by bots, redirected but not counted", &self.bot_hits),
            ("reftrack_uncredited_hits_total", "Tracking-link hits redirected without credit", &self.uncredited_hits),
            ("reftrack_events_total", "Browser events accepted", &self.events),
            ("reftrack_orders_total", "Signed orders recorded", &self.orders),
            ("reftrack_refunds_total", "Signed refunds recorded", &self.refunds),
            ("reftrack_leads_total", "Signed server-side leads recorded", &self.leads),
            ("reftrack_batch_writes_total", "Group-commit batches written", &self.batch_writes),
            ("reftrack_order_groups_total", "Transactions committing a group of signed orders", &self.order_groups),
            ("reftrack_batch_failures_total", "Group-commit batches refused because storage was unavailable", &self.batch_failures),
            ("reftrack_rows_refused_total", "Single writes the database refused, split out of their batch", &self.rows_refused),
            ("reftrack_clicks_lost_total", "Clicks redirected without credit because they could not be stored", &self.clicks_lost),
            ("reftrack_webhook_attempts_total", "Webhook and postback delivery attempts made by this server", &self.webhook_attempts),
            ("reftrack_webhook_deliveries_total", "Webhook and postback deliveries answered 2xx", &self.webhook_deliveries),
            ("reftrack_webhook_retries_total", "Delivery attempts after a delivery's first", &self.webhook_retries),
            ("reftrack_webhook_failures_total", "Delivery attempts that failed (error, timeout or non-2xx)", &self.webhook_failed_attempts),
            ("reftrack_webhook_given_up_total", "Deliveries that failed every attempt of the retry schedule", &self.webhook_given_up),
            (
                "reftrack_webhook_endpoints_disabled_total",
                "Endpoints this server disabled after 5 days of failures",
                &self.webhook_endpoints_disabled,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP reftrack_rejects_total Requests refused, by reason\n# TYPE reftrack_rejects_total counter");
        for (reason, count) in self.rejects.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "reftrack_rejects_total{{reason=\"{reason}\"}} {count}");
        }
        out
    }
}
