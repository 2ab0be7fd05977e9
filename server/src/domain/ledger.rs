//! Balances and payouts, derived from ledger entries alone (nothing else is stored).
//!
//! An earned entry is **pending** until its program's refund window has passed after the order
//! (`available_at_ms`), then **approved**. A clawback takes the state of the commission it claws
//! back: against a pending commission it is pending too, so the two approve together; against a
//! commission already paid it is approved at once and nets against the next payout, or leaves a
//! negative balance. A payout pays every approved, unpaid entry of one partner in one currency
//! and books a negative `payout` entry of the same total.
//!
//! The merchant's corrections are entries too, never edits: a `void` or a `move` cancels what
//! remains of a commission (voided, or the order credited to another partner), in the
//! commission's state; an `approval` pair approves a pending commission early (−amount while
//! pending, +amount payable now); an `adjustment` (a bonus or correction) is payable at once.
//! `balance = earned − clawed back − reversed + adjusted − paid = pending + approved`.

use super::split::Role;
use reftrack_protocol::{Currency, LinkCode, PartnerCode, ProgramCode, SubId};
use std::collections::BTreeMap;

/// Kinds of ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Earned,
    Clawback,
    Payout,
    /// Cancels what remains of a commission the merchant voided.
    Void,
    /// Cancels what remains of a commission because its order was credited to another partner.
    Move,
    /// Half of an early approval: the pending amount taken out, or the same amount payable now.
    Approval,
    /// A bonus or correction the merchant booked.
    Adjustment,
}

impl Kind {
    /// Every kind, as stored.
    pub const ALL: [Kind; 7] = [Kind::Earned, Kind::Clawback, Kind::Payout, Kind::Void, Kind::Move, Kind::Approval, Kind::Adjustment];

    /// Whether the entry cancels (part of) a commission: a void or a move.
    pub fn is_reversal(self) -> bool {
        matches!(self, Kind::Void | Kind::Move)
    }
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Earned => "earned",
            Kind::Clawback => "clawback",
            Kind::Payout => "payout",
            Kind::Void => "void",
            Kind::Move => "move",
            Kind::Approval => "approval",
            Kind::Adjustment => "adjustment",
        }
    }

    /// Reads the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::parse(s).ok_or_else(|| format!("unknown ledger entry kind {s:?}"))
    }
}

/// One movement to book on an order (or refund): decided by the domain, written by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub partner: PartnerCode,
    pub kind: Kind,
    /// Why the partner earns.
    pub role: Role,
    pub program: Option<ProgramCode>,
    pub amount_minor: i64,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    /// When the entry becomes payable (the end of the refund window).
    pub available_at_ms: i64,
    /// Why the merchant booked it (voids, moves, approvals, adjustments, hand-made credits).
    pub reason: Option<String>,
    /// The entry it corrects.
    pub reverses_id: Option<i64>,
}

/// One ledger entry, as balances need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub partner: PartnerCode,
    pub kind: Kind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub available_at_ms: i64,
    /// The payout that paid this entry (a payout entry carries its own).
    pub payout_id: Option<i64>,
}

impl Entry {
    fn payable(&self, now_ms: i64) -> bool {
        self.kind != Kind::Payout && self.payout_id.is_none() && self.available_at_ms <= now_ms
    }
}

/// A partner's money in one currency.
/// `balance = pending + approved = earned − clawed_back − reversed + adjusted − paid`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    pub currency: Currency,
    pub earned_minor: i64,
    pub clawed_back_minor: i64,
    /// Commissions voided or moved to another partner.
    pub reversed_minor: i64,
    /// Bonuses and corrections (negative when they take money back).
    pub adjusted_minor: i64,
    pub paid_minor: i64,
    pub pending_minor: i64,
    pub approved_minor: i64,
    pub balance_minor: i64,
}

impl Balance {
    /// A zero balance in `currency`.
    pub fn new(currency: Currency) -> Self {
        Balance {
            currency,
            earned_minor: 0,
            clawed_back_minor: 0,
            reversed_minor: 0,
            adjusted_minor: 0,
            paid_minor: 0,
            pending_minor: 0,
            approved_minor: 0,
            balance_minor: 0,
        }
    }
}

/// Balances per currency (alphabetical) of the given entries at `now_ms`.
pub fn balances<'a>(entries: impl IntoIterator<Item = &'a Entry>, now_ms: i64) -> Vec<Balance> {
    let mut by_currency: BTreeMap<&str, Balance> = BTreeMap::new();
    for e in entries {
        let b = by_currency.entry(e.currency.as_str()).or_insert_with(|| Balance::new(e.currency));
        match e.kind {
            Kind::Earned => b.earned_minor += e.amount_minor,
            Kind::Clawback => b.clawed_back_minor -= e.amount_minor,
            Kind::Payout => b.paid_minor -= e.amount_minor,
            Kind::Void | Kind::Move => b.reversed_minor -= e.amount_minor,
            Kind::Adjustment => b.adjusted_minor += e.amount_minor,
            // An approval pair moves money from pending to approved and adds up to nothing.
            Kind::Approval => {}
        }
        if e.kind != Kind::Payout && e.payout_id.is_none() {
            if e.available_at_ms <= now_ms {
                b.approved_minor += e.amount_minor;
            } else {
                b.pending_minor += e.amount_minor;
            }
        }
        b.balance_minor += e.amount_minor;
    }
    by_currency.into_values().collect()
}

/// One payout to make: a partner, a currency, the amount and the entries it pays.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PayoutPlan {
    pub partner: PartnerCode,
    pub currency: Currency,
    pub amount_minor: i64,
    pub entry_ids: Vec<i64>,
}

/// The payouts due at `now_ms`: per partner and currency, the approved unpaid entries when they
/// add up to at least `min_balance_minor` (and to more than zero). Sorted by partner, currency.
pub fn plan_payouts(entries: &[Entry], min_balance_minor: i64, now_ms: i64) -> Vec<PayoutPlan> {
    let mut due: BTreeMap<(&str, &str), PayoutPlan> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.payable(now_ms)) {
        let plan = due.entry((e.partner.as_str(), e.currency.as_str())).or_insert_with(|| PayoutPlan {
            partner: e.partner.clone(),
            currency: e.currency,
            amount_minor: 0,
            entry_ids: Vec::new(),
        });
        plan.amount_minor += e.amount_minor;
        plan.entry_ids.push(e.id);
    }
    due.into_values().filter(|p| p.amount_minor > 0 && p.amount_minor >= min_balance_minor).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn entry(id: i64, partner: &str, kind: Kind, amount: i64, available_at: i64) -> Entry {
        Entry {
            id,
            partner: PartnerCode::parse(partner).unwrap(),
            kind,
            amount_minor: amount,
            currency: Currency::parse("USD").unwrap(),
            available_at_ms: available_at,
            payout_id: None,
        }
    }

    #[test]
    fn a_commission_is_pending_until_its_refund_window_passes() {
        let e = [entry(1, "jane", Kind::Earned, 2970, 30 * DAY)];
        let before = &balances(&e, 29 * DAY)[0];
        assert_eq!((before.pending_minor, before.approved_minor, before.balance_minor), (2970, 0, 2970));
        let after = &balances(&e, 30 * DAY)[0];
        assert_eq!((after.pending_minor, after.approved_minor, after.balance_minor), (0, 2970, 2970));
    }

    #[test]
    fn a_payout_pays_approved_entries_at_or_above_the_minimum() {
        let e = [
            entry(1, "jane", Kind::Earned, 2970, DAY),
            entry(2, "jane", Kind::Earned, 1000, 40 * DAY), // still pending at day 30
            entry(3, "john", Kind::Earned, 400, DAY),
        ];
        let plans = plan_payouts(&e, 500, 30 * DAY);
        let expected = PayoutPlan {
            partner: PartnerCode::parse("jane").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            amount_minor: 2970,
            entry_ids: vec![1],
        };
        assert_eq!(plans, [expected]);
        assert_eq!(plan_payouts(&e, 0, 30 * DAY).len(), 2);
    }

    #[test]
    fn a_partial_refund_nets_against_the_commission_before_payout() {
        // 29.70 earned, a third refunded (9.90 clawed back) while pending: 19.80 is paid.
        let e = [entry(1, "jane", Kind::Earned, 2970, DAY), entry(2, "jane", Kind::Clawback, -990, DAY)];
        let plans = plan_payouts(&e, 0, 2 * DAY);
        assert_eq!((plans[0].amount_minor, plans[0].entry_ids.clone()), (1980, vec![1, 2]));
    }

    #[test]
    fn a_clawback_of_paid_commission_is_carried_as_a_negative_balance() {
        let mut e = vec![entry(1, "jane", Kind::Earned, 2970, DAY), entry(2, "jane", Kind::Payout, -2970, 2 * DAY)];
        e[0].payout_id = Some(7);
        e[1].payout_id = Some(7);
        e.push(entry(3, "jane", Kind::Clawback, -2970, DAY)); // refunded after the payout
        let b = &balances(&e, 3 * DAY)[0];
        assert_eq!(
            (b.earned_minor, b.paid_minor, b.clawed_back_minor, b.approved_minor, b.balance_minor),
            (2970, 2970, 2970, -2970, -2970)
        );
        assert!(plan_payouts(&e, 0, 3 * DAY).is_empty(), "a negative balance is not paid");
        // The next commission first repays the debt: 50.00 earned → 20.30 paid.
        e.push(entry(4, "jane", Kind::Earned, 5000, 3 * DAY));
        assert_eq!(plan_payouts(&e, 0, 3 * DAY)[0].amount_minor, 2030);
    }

    #[test]
    fn balances_are_kept_per_currency() {
        let mut eur = entry(2, "jane", Kind::Earned, 100, 0);
        eur.currency = Currency::parse("EUR").unwrap();
        let e = [entry(1, "jane", Kind::Earned, 2970, 0), eur];
        let b = balances(&e, DAY);
        assert_eq!(b.iter().map(|b| (b.currency.as_str(), b.balance_minor)).collect::<Vec<_>>(), [("EUR", 100), ("USD", 2970)]);
        assert_eq!(plan_payouts(&e, 0, DAY).len(), 2);
    }
}
