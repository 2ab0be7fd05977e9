//! What a refund (or a lost dispute) claws back from an order's commissions.
//!
//! Carts report refunds two ways: one refund at a time (`refund.created`) or the order's refunded
//! total so far (`charge.refunded`, order updates). The same money may arrive both ways, twice, or
//! out of order, so the order's refunded amount is taken as the larger of the individual refunds'
//! sum and the highest total reported, plus lost disputes (which no refund total includes),
//! capped at the order total. Each commission is clawed back pro rata to that amount (see
//! [`commission::clawback`](super::commission::clawback)), so whatever the order of deliveries the
//! clawed-back total is the refunded share.

use super::commission;
use super::ledger::{Booking, Kind};
use super::split::Role;
use reftrack_protocol::{LinkCode, PartnerCode, ProgramCode, Refund, RefundKind, SubId};

/// What the order's earlier refunds add up to, by how they were reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refunded {
    /// Σ individual refunds.
    pub singles_minor: i64,
    /// The highest refunded total a cart reported.
    pub highest_total_minor: i64,
    /// Σ lost disputes.
    pub disputes_minor: i64,
}

impl Refunded {
    /// The order's refunded amount, at most `total_minor`.
    pub fn amount(&self, total_minor: i64) -> i64 {
        self.singles_minor.max(self.highest_total_minor).saturating_add(self.disputes_minor).min(total_minor)
    }

    /// With one more refund.
    pub fn with(mut self, refund: &Refund) -> Self {
        match (refund.kind, refund.amount_minor, refund.refunded_total_minor) {
            (RefundKind::Dispute, Some(a), _) => self.disputes_minor = self.disputes_minor.saturating_add(a),
            (RefundKind::Refund, Some(a), _) => self.singles_minor = self.singles_minor.saturating_add(a),
            (_, None, Some(t)) => self.highest_total_minor = self.highest_total_minor.max(t),
            (_, None, None) => {}
        }
        self
    }
}

/// One partner's commission on the order (per role and link/SubID), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub partner: PartnerCode,
    pub role: Role,
    pub program: Option<ProgramCode>,
    /// When the commission becomes payable; its clawbacks share it, so they net before a payout.
    pub available_at_ms: i64,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub earned_minor: i64,
    pub clawed_minor: i64,
}

/// What a refund needs to know about its order, read in the refund's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFacts {
    pub total_minor: i64,
    /// The order's other refunds.
    pub refunded: Refunded,
    pub earnings: Vec<Earning>,
}

/// Why a refund is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("the refund is larger than the order's total")]
    ExceedsOrder,
}

/// The clawbacks of one refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    pub bookings: Vec<Booking>,
    pub clawback_minor: i64,
    /// The order's refunded amount after this refund.
    pub refunded_minor: i64,
}

/// Plans the clawbacks of `refund`; refuses refunds that say more was refunded than was paid.
pub fn plan_refund(refund: &Refund, facts: &RefundFacts) -> Result<RefundPlan, RefundRefusal> {
    // One refund (or reported total) above the whole order cannot be true; several that add up to
    // more are capped at the order total, so a clawback never exceeds what was earned.
    if refund.amount_minor.or(refund.refunded_total_minor).is_some_and(|a| a > facts.total_minor) {
        return Err(RefundRefusal::ExceedsOrder);
    }
    let after = facts.refunded.with(refund);
    let before_minor = facts.refunded.amount(facts.total_minor);
    let refunded_minor = after.amount(facts.total_minor);
    let mut bookings = Vec::new();
    let mut clawback_minor = 0;
    for e in &facts.earnings {
        let claw = commission::clawback(e.earned_minor, facts.total_minor, before_minor, refunded_minor - before_minor, e.clawed_minor);
        if claw > 0 {
            clawback_minor += claw;
            bookings.push(Booking {
                partner: e.partner.clone(),
                kind: Kind::Clawback,
                role: e.role,
                program: e.program.clone(),
                amount_minor: -claw,
                link: e.link.clone(),
                sub_id: e.sub_id.clone(),
                // A clawback shares its commission's state: pending with it, or payable at once if it was paid.
                available_at_ms: e.available_at_ms,
                reason: None,
                reverses_id: None,
            });
        }
    }
    Ok(RefundPlan { bookings, clawback_minor, refunded_minor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reftrack_protocol::{OrderId, RefundId};
    use time::macros::datetime;

    fn single(id: &str, amount: i64) -> Refund {
        Refund::single(OrderId::parse("o").unwrap(), RefundId::parse(id).unwrap(), amount, datetime!(2026-11-01 0:00 UTC))
    }

    fn total(id: &str, amount: i64) -> Refund {
        Refund::cumulative(OrderId::parse("o").unwrap(), RefundId::parse(id).unwrap(), amount, datetime!(2026-11-01 0:00 UTC))
    }

    fn dispute(id: &str, amount: i64) -> Refund {
        Refund { kind: RefundKind::Dispute, ..single(id, amount) }
    }

    fn earning(earned: i64) -> Earning {
        Earning {
            partner: PartnerCode::parse("jane").unwrap(),
            role: Role::Sale,
            program: None,
            available_at_ms: 0,
            link: None,
            sub_id: None,
            earned_minor: earned,
            clawed_minor: 0,
        }
    }

    /// Applies refunds in order, as the store would, returning the total clawed back.
    fn apply(refunds: &[Refund]) -> i64 {
        let mut facts = RefundFacts { total_minor: 9900, refunded: Refunded::default(), earnings: vec![earning(2970)] };
        for r in refunds {
            let plan = plan_refund(r, &facts).unwrap();
            facts.refunded = facts.refunded.with(r);
            facts.earnings[0].clawed_minor += plan.clawback_minor;
        }
        facts.earnings[0].clawed_minor
    }

    #[test]
    fn the_same_money_reported_one_by_one_and_as_a_total_is_clawed_back_once() {
        // 33.00 refunded, then 33.00 more; the cart also reports "66.00 refunded so far".
        let expected = 1980;
        assert_eq!(apply(&[single("r1", 3300), single("r2", 3300), total("t66", 6600)]), expected);
        assert_eq!(apply(&[total("t66", 6600), single("r2", 3300), single("r1", 3300)]), expected);
        assert_eq!(apply(&[single("r1", 3300), total("t33", 3300), total("t66", 6600), single("r2", 3300)]), expected);
        // A stale total after a newer one changes nothing.
        assert_eq!(apply(&[total("t66", 6600), total("t33", 3300)]), expected);
    }

    #[test]
    fn a_lost_dispute_claws_back_on_top_of_refunds() {
        assert_eq!(apply(&[total("t33", 3300), dispute("d1", 6600)]), 2970);
        assert_eq!(apply(&[dispute("d1", 9900)]), 2970);
    }

    #[test]
    fn a_refund_larger_than_the_order_is_refused_and_refunds_adding_up_to_more_are_capped() {
        let facts = RefundFacts {
            total_minor: 9900,
            refunded: Refunded { singles_minor: 9000, ..Refunded::default() },
            earnings: vec![earning(2970)],
        };
        assert_eq!(plan_refund(&single("r", 9901), &facts), Err(RefundRefusal::ExceedsOrder));
        assert_eq!(plan_refund(&total("t", 9901), &facts), Err(RefundRefusal::ExceedsOrder));
        assert_eq!(plan_refund(&single("r", i64::MAX), &facts), Err(RefundRefusal::ExceedsOrder));
        // 90.00 was refunded before (clawing back 27.00); 10.00 more takes only the last 2.70.
        let mut facts = facts;
        facts.earnings[0].clawed_minor = 2700;
        let plan = plan_refund(&single("r", 1000), &facts).unwrap();
        assert_eq!((plan.clawback_minor, plan.refunded_minor), (270, 9900));
    }

    /// One money movement as a cart may report it: a refund of its own, a refunded total, or
    /// both for the same money.
    #[derive(Debug, Clone)]
    enum Report {
        Single(i64),
        Both(i64),
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Whatever the partial refunds, and however their reports are duplicated, mixed (one by
        /// one and as totals) and shuffled, the clawed-back total is the refunded share.
        #[test]
        fn the_clawback_is_the_refunded_share_whatever_the_order_and_repetition_of_deliveries(
            earned in 1i64..100_000,
            total in 1i64..1_000_000,
            parts in proptest::collection::vec(1i64..1_000, 1..6),
            both in proptest::collection::vec(proptest::bool::ANY, 6),
            replays in proptest::collection::vec(0usize..12, 0..8),
            seed in proptest::prelude::any::<u64>(),
        ) {
            // The cart's refunds, each some share of the total, never more than the order.
            let scale = parts.iter().sum::<i64>().max(1);
            let mut amounts: Vec<i64> = parts.iter().map(|p| total * p / (scale * 2)).filter(|a| *a > 0).collect();
            if amounts.is_empty() { amounts.push(1); }
            let refunded: i64 = amounts.iter().sum();
            let reports: Vec<Report> =
                amounts.iter().zip(&both).map(|(a, b)| if *b { Report::Both(*a) } else { Report::Single(*a) }).collect();
            // The deliveries: each single refund, and after each "both" a running total too.
            let mut deliveries = Vec::new();
            let mut so_far = 0;
            for (n, report) in reports.iter().enumerate() {
                let (Report::Single(a) | Report::Both(a)) = report;
                so_far += a;
                deliveries.push(single(&format!("r{n}"), *a));
                if matches!(report, Report::Both(_)) {
                    deliveries.push(self::total(&format!("t{so_far}"), so_far));
                }
            }
            for r in &replays {
                let again = deliveries[r % deliveries.len()].clone();
                deliveries.push(again);
            }
            // Shuffle deterministically from the seed.
            let mut state = seed | 1;
            for i in (1..deliveries.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                deliveries.swap(i, (state % (i as u64 + 1)) as usize);
            }
            // Apply as the store does: a refund id seen before is a replay and changes nothing.
            let mut facts = RefundFacts { total_minor: total, refunded: Refunded::default(), earnings: vec![earning(earned)] };
            let mut seen = std::collections::HashSet::new();
            for r in &deliveries {
                if !seen.insert(r.refund_id.clone()) { continue; }
                let plan = plan_refund(r, &facts).unwrap();
                facts.refunded = facts.refunded.with(r);
                facts.earnings[0].clawed_minor += plan.clawback_minor;
            }
            let expected = ((i128::from(earned) * i128::from(refunded) * 2 + i128::from(total)) / (i128::from(total) * 2)) as i64;
            proptest::prop_assert_eq!(facts.earnings[0].clawed_minor, expected);
        }
    }
}
