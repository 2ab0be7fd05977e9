//! Any other cart, or a merchant's own code: the canonical order (or refund) itself, signed with
//! the same Standard Webhooks scheme the connector uses towards the server (`whsec_…`).

use super::signatures::{verify_standard, AuthError};
use super::{Cart, CartConfig, CartRefund, Delivery, Intake, OrderRef, PayloadError, RefundAmount};
use reftrack_protocol::signature::{Secret, Verifier};
use reftrack_protocol::{CanonicalOrder, Refund};

/// The route name.
pub const NAME: &str = "generic";

/// Canonical orders and refunds, Standard Webhooks signed.
pub struct Generic;

impl Cart for Generic {
    fn name(&self) -> &'static str {
        NAME
    }

    fn secret_env(&self) -> &'static str {
        "GENERIC_WEBHOOK_SECRET"
    }

    fn check(&self, config: &CartConfig) -> Result<(), String> {
        Secret::parse(config.secret()).map(drop).map_err(|e| format!("GENERIC_WEBHOOK_SECRET must be a whsec_… secret: {e}"))
    }

    fn authenticate(&self, d: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError> {
        let secret = Secret::parse(config.secret()).map_err(|_| AuthError::Mismatch)?;
        verify_standard(&Verifier::new(vec![secret]), d.headers, d.body, d.now)
    }

    fn parse(&self, d: &Delivery<'_>, _config: &CartConfig) -> Result<Intake, PayloadError> {
        parse(d.body)
    }
}

/// Reads a canonical order, or a refund (a body with `refund_id`), exactly as sent.
pub fn parse(body: &[u8]) -> Result<Intake, PayloadError> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    if value.get("refund_id").is_some() {
        let refund: Refund = serde_json::from_value(value)?;
        refund.validate()?;
        let amount = match (refund.amount_minor, refund.refunded_total_minor) {
            (Some(a), _) => RefundAmount::Single(a),
            (None, Some(t)) => RefundAmount::Cumulative(t),
            (None, None) => unreachable!("validate() requires one amount"),
        };
        return Ok(Intake::refund(CartRefund {
            refund_id: refund.refund_id,
            order: OrderRef::Order(refund.order_id),
            amount,
            kind: refund.kind,
            occurred_at: refund.occurred_at,
        }));
    }
    let order: CanonicalOrder = serde_json::from_value(value)?;
    order.validate()?;
    Ok(Intake::order(order, vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reftrack_protocol::RefundKind;

    #[test]
    fn a_canonical_order_or_refund_is_taken_as_is() {
        let order = br#"{"order_id":"shop:1","occurred_at":"2026-11-20T10:00:00Z","currency":"EUR","total_minor":500,"source":"api"}"#;
        assert_eq!(parse(order).unwrap().order.unwrap().order_id.as_str(), "shop:1");
        let refund = br#"{"order_id":"shop:1","refund_id":"r1","amount_minor":100,"occurred_at":"2026-11-21T10:00:00Z"}"#;
        assert_eq!(parse(refund).unwrap().refunds[0].amount, RefundAmount::Single(100));
        let total = br#"{"order_id":"shop:1","refund_id":"r2","refunded_total_minor":300,"occurred_at":"2026-11-21T10:00:00Z"}"#;
        assert_eq!(parse(total).unwrap().refunds[0].amount, RefundAmount::Cumulative(300));
        let lost = br#"{"order_id":"shop:1","refund_id":"d1","amount_minor":500,"kind":"dispute","occurred_at":"2026-11-21T10:00:00Z"}"#;
        assert_eq!(parse(lost).unwrap().refunds[0].kind, RefundKind::Dispute);
        assert!(parse(br#"{"order_id":"shop:1"}"#).is_err());
        assert!(parse(br#"{"order_id":"shop:1","occurred_at":"2026-11-20T10:00:00Z","currency":"EUR","total_minor":-5,"source":"api"}"#)
            .is_err());
    }

    #[test]
    fn a_secret_that_is_not_a_whsec_is_refused_at_start_up() {
        assert!(Generic.check(&CartConfig::new("plain-text", [])).is_err());
        Generic.check(&CartConfig::new("whsec_Z2VuZXJpYy1tZXJjaGFudC1zZWNyZXQ=", [])).unwrap();
    }
}
