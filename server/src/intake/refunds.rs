//! A signed refund (or lost dispute): clawbacks decided by [`plan_refund`] on the order as read in
//! the refund's own transaction. Idempotent on the refund id.

use super::{replay, Intake, IntakeError};
use crate::domain::refund::plan_refund;
use crate::metrics::Metrics;
use crate::store::{DbError, RefundDecision, RefundOutcome};
use reftrack_protocol::Refund;
use serde::Serialize;

/// The answer to a refund, stored with it.
#[derive(Debug, Serialize)]
struct Answer<'a> {
    refund_id: &'a str,
    order_id: &'a str,
    status: &'static str,
    clawback_minor: i64,
    /// The order's refunded amount after this refund.
    refunded_minor: i64,
    currency: &'a str,
}

impl Intake {
    /// Records a refund once per refund id.
    pub async fn record_refund(&self, refund: Refund, body_hash: String) -> Result<String, IntakeError> {
        let decide = |facts: &_, currency: reftrack_protocol::Currency| {
            let plan = plan_refund(&refund, facts)?;
            let answer = Answer {
                refund_id: refund.refund_id.as_str(),
                order_id: refund.order_id.as_str(),
                status: "recorded",
                clawback_minor: plan.clawback_minor,
                refunded_minor: plan.refunded_minor,
                currency: currency.as_str(),
            };
            Ok(RefundDecision { bookings: plan.bookings, response_json: serde_json::to_string(&answer).expect("answers serialise") })
        };
        match self.store.record_refund(&refund, &body_hash, self.clock.now_ms(), decide).await {
            Ok(RefundOutcome::Recorded(recorded)) => {
                if recorded.fresh {
                    Metrics::bump(&self.metrics.refunds);
                }
                replay(recorded.answer, &body_hash, "refund")
            }
            Ok(RefundOutcome::Refused(_)) => Err(IntakeError::RefundExceedsOrder(refund.order_id.to_string())),
            Err(DbError::NotFound(_)) => Err(IntakeError::UnknownOrder(refund.order_id.to_string())),
            Err(e) => Err(e.into()),
        }
    }
}
