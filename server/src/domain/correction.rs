//! The merchant's corrections of money, each decided here and booked as new ledger entries (the
//! ledger is append-only, balances stay derived):
//!
//! - **Void** a commission that was not paid: one `void` entry of minus what remains of it (earned
//!   less clawed back less already reversed), in the commission's state (pending with it, or
//!   approved), so the two net to zero before any payout.
//! - **Approve early** a pending commission: an `approval` pair, minus what remains while pending
//!   and the same amount payable now. Nothing is earned twice; a later refund claws back as from
//!   an approved commission.
//! - **Move** an order to another partner (or credit an unattributed one): the order's new shares
//!   are compared with its commissions; each commission the new credit does not keep is cancelled
//!   by a `move` entry of what remains of it, and each new share is earned, less the share of
//!   what was already refunded (a clawback), so later refunds claw back pro rata from the new
//!   partners only. A commission the merchant voided stays voided.
//! - **Adjust** a balance: one `adjustment` (a bonus or a correction), payable at once.
//!
//! Every entry carries the merchant's reason; voids, moves and approvals name the commission's
//! first earned entry (`reverses_id`).

use super::commission::clawback;
use super::ledger::{Booking, Kind};
use super::split::Role;
use reftrack_protocol::{Currency, LinkCode, PartnerCode, ProgramCode, SubId, MAX_AMOUNT_MINOR};

/// One ledger entry as corrections read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionEntry {
    pub id: i64,
    pub order_id: String,
    pub partner: PartnerCode,
    pub kind: Kind,
    pub role: Role,
    pub program: Option<ProgramCode>,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub available_at_ms: i64,
    pub paid: bool,
}

/// One commission: a partner's share of an order (per role, program, link and SubID) with
/// everything booked against it since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Commission {
    /// Its first earned entry: what voids, moves and approvals name.
    pub entry_id: i64,
    pub order_id: String,
    pub partner: PartnerCode,
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    pub program: Option<ProgramCode>,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub currency: Currency,
    pub earned_minor: i64,
    pub clawed_back_minor: i64,
    /// Voided or moved to another partner.
    pub reversed_minor: i64,
    /// Whether the merchant voided it.
    pub voided: bool,
    /// When it is (or became) payable: the end of the refund window, or its early approval.
    pub available_at_ms: i64,
    /// Whether any of its entries was paid.
    pub paid: bool,
}

fn role_name<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

/// Where a commission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Paid,
    Voided,
    /// Nothing remains: refunded, or moved to another partner.
    Closed,
}

impl Commission {
    /// What remains of it: earned, less clawed back, less reversed.
    pub fn remaining_minor(&self) -> i64 {
        self.earned_minor - self.clawed_back_minor - self.reversed_minor
    }

    /// Where it stands at `now_ms`.
    pub fn state(&self, now_ms: i64) -> State {
        match (self.paid, self.voided, self.remaining_minor() > 0) {
            (true, _, _) => State::Paid,
            (false, true, _) => State::Voided,
            (false, false, false) => State::Closed,
            (false, false, true) if self.available_at_ms > now_ms => State::Pending,
            (false, false, true) => State::Approved,
        }
    }

    fn key(&self) -> (&PartnerCode, Role, Option<&ProgramCode>, Option<&LinkCode>, Option<&SubId>) {
        (&self.partner, self.role, self.program.as_ref(), self.link.as_ref(), self.sub_id.as_ref())
    }

    /// An entry correcting this commission.
    fn correction(&self, kind: Kind, amount_minor: i64, available_at_ms: i64, reason: &str) -> Booking {
        Booking {
            partner: self.partner.clone(),
            kind,
            role: self.role,
            program: self.program.clone(),
            amount_minor,
            link: self.link.clone(),
            sub_id: self.sub_id.clone(),
            available_at_ms,
            reason: Some(reason.to_owned()),
            reverses_id: Some(self.entry_id),
        }
    }
}

fn booking_key(b: &Booking) -> (&PartnerCode, Role, Option<&ProgramCode>, Option<&LinkCode>, Option<&SubId>) {
    (&b.partner, b.role, b.program.as_ref(), b.link.as_ref(), b.sub_id.as_ref())
}

/// The commissions among `entries` (any order's, any partner's), oldest first. Payouts and
/// adjustments are nobody's commission and are left out, as are groups with nothing earned.
pub fn commissions(entries: &[CommissionEntry]) -> Vec<Commission> {
    let mut out: Vec<Commission> = Vec::new();
    let mut sorted: Vec<&CommissionEntry> = entries.iter().filter(|e| !matches!(e.kind, Kind::Payout | Kind::Adjustment)).collect();
    sorted.sort_by_key(|e| e.id);
    for e in sorted.iter().filter(|e| e.kind == Kind::Earned) {
        if !out.iter().any(|c| same_commission(c, e)) {
            out.push(Commission {
                entry_id: e.id,
                order_id: e.order_id.clone(),
                partner: e.partner.clone(),
                role: e.role,
                program: e.program.clone(),
                link: e.link.clone(),
                sub_id: e.sub_id.clone(),
                currency: e.currency,
                earned_minor: 0,
                clawed_back_minor: 0,
                reversed_minor: 0,
                voided: false,
                available_at_ms: i64::MAX,
                paid: false,
            });
        }
    }
    for e in sorted {
        let Some(c) = out.iter_mut().find(|c| same_commission(c, e)) else { continue };
        match e.kind {
            Kind::Earned => c.earned_minor += e.amount_minor,
            Kind::Clawback => c.clawed_back_minor -= e.amount_minor,
            Kind::Void | Kind::Move => c.reversed_minor -= e.amount_minor,
            Kind::Approval | Kind::Payout | Kind::Adjustment => {}
        }
        c.voided |= e.kind == Kind::Void;
        c.paid |= e.paid;
        // An early approval's payable half brings the commission forward.
        if e.kind != Kind::Approval || e.amount_minor > 0 {
            c.available_at_ms = c.available_at_ms.min(e.available_at_ms);
        }
    }
    out
}

fn same_commission(c: &Commission, e: &CommissionEntry) -> bool {
    c.order_id == e.order_id
        && c.partner == e.partner
        && c.role == e.role
        && c.program == e.program
        && c.link == e.link
        && c.sub_id == e.sub_id
}

/// Why a correction was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionRefusal {
    #[error("this commission was already paid: book an adjustment to take money back")]
    Paid,
    #[error("nothing is left of this commission (it was refunded, voided or moved)")]
    NothingLeft,
    #[error("this commission is already approved")]
    AlreadyApproved,
    #[error("an adjustment must be a non-zero amount of at most 10^12 minor units either way")]
    BadAmount,
}

/// The entry voiding what remains of an unpaid commission.
pub fn plan_void(c: &Commission, reason: &str) -> Result<Booking, CorrectionRefusal> {
    if c.paid {
        return Err(CorrectionRefusal::Paid);
    }
    if c.voided || c.remaining_minor() <= 0 {
        return Err(CorrectionRefusal::NothingLeft);
    }
    Ok(c.correction(Kind::Void, -c.remaining_minor(), c.available_at_ms, reason))
}

/// The pair of entries approving a pending commission now.
pub fn plan_early_approval(c: &Commission, reason: &str, now_ms: i64) -> Result<[Booking; 2], CorrectionRefusal> {
    if c.paid {
        return Err(CorrectionRefusal::Paid);
    }
    if c.voided || c.remaining_minor() <= 0 {
        return Err(CorrectionRefusal::NothingLeft);
    }
    if c.available_at_ms <= now_ms {
        return Err(CorrectionRefusal::AlreadyApproved);
    }
    let amount = c.remaining_minor();
    Ok([c.correction(Kind::Approval, -amount, c.available_at_ms, reason), c.correction(Kind::Approval, amount, now_ms, reason)])
}

/// A bonus (positive) or correction (negative) for a partner, payable at once.
pub fn plan_adjustment(partner: &PartnerCode, amount_minor: i64, reason: &str, now_ms: i64) -> Result<Booking, CorrectionRefusal> {
    if amount_minor == 0 || amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs() {
        return Err(CorrectionRefusal::BadAmount);
    }
    Ok(Booking {
        partner: partner.clone(),
        kind: Kind::Adjustment,
        role: Role::Adjustment,
        program: None,
        amount_minor,
        link: None,
        sub_id: None,
        available_at_ms: now_ms,
        reason: Some(reason.to_owned()),
        reverses_id: None,
    })
}

/// The entries that re-credit an order: `current` are its commissions, `planned` the earned
/// bookings of its new credit (see [`plan_manual_credit`](super::plan::plan_manual_credit)),
/// `refunded_minor` how much of `total_minor` was refunded so far.
pub fn plan_recredit(current: &[Commission], planned: &[Booking], total_minor: i64, refunded_minor: i64, reason: &str) -> Vec<Booking> {
    // What a new share keeps once the order's refunds so far are taken from it.
    let kept = |b: &Booking| b.amount_minor - clawback(b.amount_minor, total_minor, 0, refunded_minor, 0);
    let mut out = Vec::new();
    for c in current {
        let unchanged = planned.iter().any(|b| booking_key(b) == c.key() && (c.voided || kept(b) == c.remaining_minor()));
        if !unchanged && c.remaining_minor() > 0 {
            out.push(c.correction(Kind::Move, -c.remaining_minor(), c.available_at_ms, reason));
        }
    }
    for b in planned {
        let unchanged = current.iter().any(|c| booking_key(b) == c.key() && (c.voided || kept(b) == c.remaining_minor()));
        if unchanged || b.amount_minor == 0 {
            continue;
        }
        out.push(Booking { reason: Some(reason.to_owned()), ..b.clone() });
        let taken = b.amount_minor - kept(b);
        if taken != 0 {
            out.push(Booking { kind: Kind::Clawback, amount_minor: -taken, reason: Some(reason.to_owned()), ..b.clone() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn code(raw: &str) -> PartnerCode {
        PartnerCode::parse(raw).unwrap()
    }

    fn entry(id: i64, partner: &str, kind: Kind, role: Role, amount: i64, available_at: i64) -> CommissionEntry {
        CommissionEntry {
            id,
            order_id: "api:1".into(),
            partner: code(partner),
            kind,
            role,
            program: Some(ProgramCode::parse("standard").unwrap()),
            link: None,
            sub_id: None,
            amount_minor: amount,
            currency: Currency::parse("USD").unwrap(),
            available_at_ms: available_at,
            paid: false,
        }
    }

    fn earned(partner: &str, role: Role, amount: i64) -> Booking {
        Booking {
            partner: code(partner),
            kind: Kind::Earned,
            role,
            program: Some(ProgramCode::parse("standard").unwrap()),
            amount_minor: amount,
            link: None,
            sub_id: None,
            available_at_ms: 30 * DAY,
            reason: None,
            reverses_id: None,
        }
    }

    fn amounts(bookings: &[Booking]) -> Vec<(&str, &str, i64)> {
        bookings.iter().map(|b| (b.partner.as_str(), b.kind.as_str(), b.amount_minor)).collect()
    }

    #[test]
    fn a_void_cancels_what_remains_of_an_unpaid_commission_in_its_state() {
        // 29.70 earned, a third refunded (9.90 clawed back): 19.80 remains, pending until day 30.
        let c = &commissions(&[
            entry(1, "jane", Kind::Earned, Role::Sale, 2970, 30 * DAY),
            entry(2, "jane", Kind::Clawback, Role::Sale, -990, 30 * DAY),
        ])[0];
        assert_eq!((c.remaining_minor(), c.state(DAY)), (1980, State::Pending));
        let void = plan_void(c, "test order").unwrap();
        assert_eq!((void.kind, void.amount_minor, void.available_at_ms, void.reverses_id), (Kind::Void, -1980, 30 * DAY, Some(1)));
        assert_eq!(void.reason.as_deref(), Some("test order"));
        // Voided, it is closed to another void; a paid one is refused.
        let mut entries =
            vec![entry(1, "jane", Kind::Earned, Role::Sale, 2970, 30 * DAY), entry(3, "jane", Kind::Void, Role::Sale, -2970, 30 * DAY)];
        let voided = &commissions(&entries)[0];
        assert_eq!((voided.state(DAY), plan_void(voided, "again")), (State::Voided, Err(CorrectionRefusal::NothingLeft)));
        entries.truncate(1);
        entries[0].paid = true;
        assert_eq!(plan_void(&commissions(&entries)[0], "late"), Err(CorrectionRefusal::Paid));
    }

    #[test]
    fn an_early_approval_moves_the_rest_from_pending_to_payable_now() {
        let e = [entry(1, "jane", Kind::Earned, Role::Sale, 2970, 30 * DAY)];
        let [out, back] = plan_early_approval(&commissions(&e)[0], "trusted", 2 * DAY).unwrap();
        assert_eq!((out.amount_minor, out.available_at_ms), (-2970, 30 * DAY));
        assert_eq!((back.amount_minor, back.available_at_ms), (2970, 2 * DAY));
        let approved: Vec<CommissionEntry> = e
            .iter()
            .cloned()
            .chain([
                entry(2, "jane", Kind::Approval, Role::Sale, -2970, 30 * DAY),
                entry(3, "jane", Kind::Approval, Role::Sale, 2970, 2 * DAY),
            ])
            .collect();
        let c = &commissions(&approved)[0];
        assert_eq!((c.earned_minor, c.available_at_ms, c.state(2 * DAY)), (2970, 2 * DAY, State::Approved));
        assert_eq!(plan_early_approval(c, "again", 2 * DAY), Err(CorrectionRefusal::AlreadyApproved));
    }

    #[test]
    fn a_move_cancels_the_old_partners_shares_and_books_the_new_ones_net_of_refunds() {
        // Jane's sale (29.70) and her parent's tier (9.90); John brought the buyer (lead 4.95).
        let current = commissions(&[
            entry(1, "jane", Kind::Earned, Role::Sale, 2970, 30 * DAY),
            entry(2, "mum", Kind::Earned, Role::Tier2, 990, 30 * DAY),
            entry(3, "john", Kind::Earned, Role::Lead, 495, 30 * DAY),
            entry(4, "jane", Kind::Clawback, Role::Sale, -990, 30 * DAY),
            entry(5, "mum", Kind::Clawback, Role::Tier2, -330, 30 * DAY),
            entry(6, "john", Kind::Clawback, Role::Lead, -165, 30 * DAY),
        ]);
        // Moved to Kim (no parent) after a third (33.00 of 99.00) was refunded: John keeps his lead share.
        let planned = [earned("kim", Role::Sale, 2970), earned("john", Role::Lead, 495)];
        let out = plan_recredit(&current, &planned, 9900, 3300, "coupon of kim");
        assert_eq!(amounts(&out), [("jane", "move", -1980), ("mum", "move", -660), ("kim", "earned", 2970), ("kim", "clawback", -990)]);
        assert!(out.iter().all(|b| b.reason.as_deref() == Some("coupon of kim")));
        assert_eq!(out[0].reverses_id, Some(1));
    }

    #[test]
    fn a_voided_share_stays_voided_when_its_order_moves() {
        let current = commissions(&[
            entry(1, "jane", Kind::Earned, Role::Sale, 2970, 30 * DAY),
            entry(2, "john", Kind::Earned, Role::Lead, 495, 30 * DAY),
            entry(3, "john", Kind::Void, Role::Lead, -495, 30 * DAY),
        ]);
        let out = plan_recredit(&current, &[earned("kim", Role::Sale, 2970), earned("john", Role::Lead, 495)], 9900, 0, "moved");
        assert_eq!(amounts(&out), [("jane", "move", -2970), ("kim", "earned", 2970)]);
    }

    #[test]
    fn adjustments_are_payable_at_once_and_never_zero() {
        let bonus = plan_adjustment(&code("jane"), 5000, "Q4 bonus", DAY).unwrap();
        assert_eq!((bonus.kind, bonus.role, bonus.available_at_ms), (Kind::Adjustment, Role::Adjustment, DAY));
        assert!(plan_adjustment(&code("jane"), -1200, "correction", DAY).is_ok());
        assert_eq!(plan_adjustment(&code("jane"), 0, "nothing", DAY), Err(CorrectionRefusal::BadAmount));
        assert_eq!(plan_adjustment(&code("jane"), i64::MIN, "overflow", DAY), Err(CorrectionRefusal::BadAmount));
    }
}
