//! Any other cart, or a merchant's own code: the canonical order (or refund) itself, signed with
//! the same Standard Webhooks scheme the connector uses towards the server.

use super::{CartRefund, Intake, OrderRef, PayloadError};
use reftrack_protocol::{CanonicalOrder, Refund};

/// Reads a canonical order, or a refund (a body with `refund_id`).
pub fn parse(body: &[u8]) -> Result<Intake, PayloadError> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    if value.get("refund_id").is_some() {
        let refund: Refund = serde_json::from_value(value)?;
        refund.validate()?;
        return Ok(Intake::refunds(vec![CartRefund {
            refund_id: refund.refund_id,
            order: OrderRef::Order(refund.order_id),
            amount_minor: refund.amount_minor.unwrap_or(0),
            occurred_at: refund.occurred_at,
        }]));
    }
    let order: CanonicalOrder = serde_json::from_value(value)?;
    order.validate()?;
    Ok(Intake::order(order, vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canonical_order_or_refund_is_taken_as_is() {
        let order = br#"{"order_id":"shop:1","occurred_at":"2026-11-20T10:00:00Z","currency":"EUR","total_minor":500,"source":"api"}"#;
        assert_eq!(parse(order).unwrap().order.unwrap().order_id.as_str(), "shop:1");
        let refund = br#"{"order_id":"shop:1","refund_id":"r1","amount_minor":100,"occurred_at":"2026-11-21T10:00:00Z"}"#;
        assert_eq!(parse(refund).unwrap().refunds[0].amount_minor, 100);
        assert!(parse(br#"{"order_id":"shop:1"}"#).is_err());
        assert!(parse(br#"{"order_id":"shop:1","occurred_at":"2026-11-20T10:00:00Z","currency":"EUR","total_minor":-5,"source":"api"}"#)
            .is_err());
    }
}
