//! Counters at `/metrics` (Prometheus text format).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    pub forwarded: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub ignored: AtomicU64,
    rejects: Mutex<BTreeMap<String, u64>>,
    notices: Mutex<BTreeMap<String, u64>>,
    /// Tools' leads by tool and outcome (`accepted`, `ignored`, `forwarded`).
    leads: Mutex<BTreeMap<String, u64>>,
    /// Tools' deliveries refused, by tool and reason.
    lead_rejects: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Adds one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused webhook by cart and reason.
    pub fn reject(&self, cart: &str, reason: &str) {
        *self.rejects.lock().expect("metrics lock").entry(format!("cart=\"{cart}\",reason=\"{reason}\"")).or_default() += 1;
    }

    /// Counts a notice (money received that could not be applied) by cart and kind.
    pub fn notice(&self, cart: &str, kind: &str) {
        *self.notices.lock().expect("metrics lock").entry(format!("cart=\"{cart}\",kind=\"{kind}\"")).or_default() += 1;
    }

    /// Counts `n` of a tool's leads with `outcome`.
    pub fn lead(&self, tool: &str, outcome: &str, n: u64) {
        *self.leads.lock().expect("metrics lock").entry(format!("tool=\"{tool}\",outcome=\"{outcome}\"")).or_default() += n;
    }

    /// Counts a tool's refused delivery by reason.
    pub fn lead_reject(&self, tool: &str, reason: &str) {
        *self.lead_rejects.lock().expect("metrics lock").entry(format!("tool=\"{tool}\",reason=\"{reason}\"")).or_default() += 1;
    }

    /// The exposition, with the outbox depth read at the time of the scrape and which of the
    /// carts are configured.
    pub fn render(&self, pending: i64, dead: i64, carts: &[(&str, bool)]) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            ("reftrack_connector_accepted_total", "Orders, refunds and notices accepted into the outbox", &self.accepted),
            ("reftrack_connector_forwarded_total", "Entries the server accepted", &self.forwarded),
            ("reftrack_connector_retried_total", "Delivery attempts that will be retried", &self.retried),
            ("reftrack_connector_dead_lettered_total", "Entries the server refused for good", &self.dead_lettered),
            ("reftrack_connector_ignored_total", "Webhooks acknowledged without an order or refund", &self.ignored),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP reftrack_connector_outbox_depth Entries waiting in the outbox, by state\n# TYPE reftrack_connector_outbox_depth gauge"
        );
        let _ = writeln!(
            out,
            "reftrack_connector_outbox_depth{{state=\"pending\"}} {pending}\nreftrack_connector_outbox_depth{{state=\"dead\"}} {dead}"
        );
        let _ = writeln!(out, "# HELP reftrack_connector_rejects_total Webhooks refused\n# TYPE reftrack_connector_rejects_total counter");
        for (labels, n) in self.rejects.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "reftrack_connector_rejects_total{{{labels}}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP reftrack_connector_notices_total Money events received that could not be applied, forwarded as notices\n# TYPE reftrack_connector_notices_total counter"
        );
        for (labels, n) in self.notices.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "reftrack_connector_notices_total{{{labels}}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP reftrack_connector_cart_configured Whether a cart has its secret\n# TYPE reftrack_connector_cart_configured gauge"
        );
        for (cart, configured) in carts {
            let _ = writeln!(out, "reftrack_connector_cart_configured{{cart=\"{cart}\"}} {}", u8::from(*configured));
        }
        let _ = writeln!(
            out,
            "# HELP reftrack_connector_leads_total Opt-ins from webinar, form and scheduling tools, by tool and outcome\n# TYPE reftrack_connector_leads_total counter"
        );
        for (labels, n) in self.leads.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "reftrack_connector_leads_total{{{labels}}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP reftrack_connector_lead_rejects_total Tools' deliveries refused, by tool and reason\n# TYPE reftrack_connector_lead_rejects_total counter"
        );
        for (labels, n) in self.lead_rejects.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "reftrack_connector_lead_rejects_total{{{labels}}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_counted_by_cart_and_kind_and_every_cart_shows_whether_it_is_configured() {
        let m = Metrics::default();
        m.notice("stripe", "dispute_opened");
        m.notice("stripe", "dispute_opened");
        m.notice("gumroad", "refund_amount_unknown");
        let text = m.render(0, 0, &[("stripe", true), ("polar", false)]);
        assert!(text.contains("reftrack_connector_notices_total{cart=\"stripe\",kind=\"dispute_opened\"} 2"), "{text}");
        assert!(text.contains("reftrack_connector_notices_total{cart=\"gumroad\",kind=\"refund_amount_unknown\"} 1"));
        assert!(text.contains("reftrack_connector_cart_configured{cart=\"polar\"} 0"));
    }
}
