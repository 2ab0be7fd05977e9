//! Browser conversions, which anyone can forge: what one may earn on its own, and when it may
//! stand as a signed order's click.
//!
//! A conversion earns on its own only under a program that pays on the pixel alone
//! (`pixel_commission`), only for a click still inside its window, and only up to a cap: the
//! risk of that setting is bounded by the cap. Otherwise only a signed order earns, and a pixel is
//! evidence for that order's click only when it is plausible for it ([`plausible_for`]).

use super::attribution::CLOCK_SKEW_MS;
use super::commission::{apply_bps, Rate};
use super::ledger::{Booking, Kind};
use super::plan::{ProgramFact, TouchFact};
use super::split::Role;
use reftrack_protocol::{CanonicalOrder, ClickId, Currency};

const DAY_MS: i64 = 86_400_000;

/// A conversion as stored: what the browser claimed, and whether another click claimed it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub click_id: Option<ClickId>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub at_ms: i64,
    /// Two different clicks reported this order.
    pub conflicting: bool,
}

/// The click a pixel claim lends a signed order that carries none: only a claim made after the
/// order happened (a pixel fired for an order id before it existed is someone guessing ids), for
/// the same amount and currency, that no other click contests.
pub fn plausible_for(order: &CanonicalOrder, claim: &Claim) -> Option<ClickId> {
    let occurred_at_ms = super::period::to_ms(order.occurred_at);
    let plausible = !claim.conflicting
        && claim.currency == order.currency
        && claim.amount_minor == order.total_minor
        && claim.at_ms >= occurred_at_ms - CLOCK_SKEW_MS;
    plausible.then(|| claim.click_id.clone()).flatten()
}

/// The commission booked on a conversion of `amount_minor` seen at `at_ms` for `click`, under a
/// pixel-paying program, for a live click and an amount at most `max_amount_minor`.
pub fn pixel_credit(
    click: &TouchFact,
    program: Option<&ProgramFact>,
    amount_minor: i64,
    at_ms: i64,
    max_amount_minor: i64,
) -> Option<Booking> {
    let program = program.filter(|p| p.pixel_commission)?;
    if at_ms > click.expires_at_ms || amount_minor > max_amount_minor {
        return None;
    }
    let amount = match program.terms.sale.default {
        Rate::Flat(flat) => flat,
        Rate::Bps(bps) => apply_bps(amount_minor, bps),
    };
    Some(Booking {
        partner: click.partner.clone(),
        kind: Kind::Earned,
        role: Role::Sale,
        program: Some(program.terms.code.clone()),
        amount_minor: amount,
        link: click.link.clone(),
        sub_id: click.sub_id.clone(),
        available_at_ms: at_ms.saturating_add(program.hold_days.saturating_mul(DAY_MS)),
        reason: None,
        reverses_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commission::Terms;
    use crate::domain::split::{ProgramTerms, Recurring};
    use reftrack_protocol::{LinkCode, PartnerCode, ProgramCode, SubId};

    fn click() -> TouchFact {
        TouchFact {
            partner: PartnerCode::parse("jane").unwrap(),
            click_id: None,
            link: Some(LinkCode::parse("offer").unwrap()),
            sub_id: Some(SubId::parse("yt").unwrap()),
            program: None,
            at_ms: 0,
            expires_at_ms: 40 * DAY_MS,
        }
    }

    fn program(pixel_commission: bool, default: Rate) -> ProgramFact {
        let terms = ProgramTerms {
            code: ProgramCode::parse("pixel").unwrap(),
            sale: Terms { default, products: Default::default() },
            lead: None,
            tier_bps: [0, 0],
            recurring: Recurring::Every,
        };
        ProgramFact { terms, hold_days: 30, pixel_commission }
    }

    const CAP: i64 = 50_000;

    #[test]
    fn only_a_pixel_commission_program_earns_on_a_conversion_alone() {
        let credit = pixel_credit(&click(), Some(&program(true, Rate::Bps(3000))), 10_000, 0, CAP).unwrap();
        assert_eq!((credit.partner.as_str(), credit.amount_minor, credit.sub_id.unwrap().as_str()), ("jane", 3000, "yt"));
        assert_eq!(credit.available_at_ms, 30 * DAY_MS, "pending for the program's refund window");
        assert_eq!(pixel_credit(&click(), Some(&program(true, Rate::Flat(500))), 10_000, 0, CAP).unwrap().amount_minor, 500);
        assert!(pixel_credit(&click(), Some(&program(false, Rate::Bps(3000))), 10_000, 0, CAP).is_none());
        assert!(pixel_credit(&click(), None, 10_000, 0, CAP).is_none());
    }

    #[test]
    fn a_pixel_earns_nothing_above_the_cap_or_after_its_click_expired() {
        let p = program(true, Rate::Bps(3000));
        assert!(pixel_credit(&click(), Some(&p), CAP + 1, 0, CAP).is_none(), "a forged huge amount earns nothing");
        assert!(pixel_credit(&click(), Some(&p), 100, 41 * DAY_MS, CAP).is_none(), "an expired click earns nothing");
        assert!(pixel_credit(&click(), Some(&p), CAP, 40 * DAY_MS, CAP).is_some());
    }

    #[test]
    fn a_pixel_lends_its_click_only_when_it_came_after_the_order_for_the_same_amount_and_uncontested() {
        let order: CanonicalOrder = serde_json::from_str(
            r#"{"order_id":"woocommerce:727","occurred_at":"1970-01-11T00:00:00Z","currency":"USD","total_minor":9900,"source":"woocommerce"}"#,
        )
        .unwrap();
        let at = super::super::period::to_ms(order.occurred_at);
        let claim = Claim {
            click_id: Some(ClickId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap()),
            amount_minor: 9900,
            currency: Currency::parse("USD").unwrap(),
            at_ms: at + 1_000,
            conflicting: false,
        };
        assert!(plausible_for(&order, &claim).is_some());
        assert!(plausible_for(&order, &Claim { at_ms: at - DAY_MS, ..claim.clone() }).is_none(), "pre-registered before the order");
        assert!(plausible_for(&order, &Claim { amount_minor: 100, ..claim.clone() }).is_none(), "another amount");
        assert!(plausible_for(&order, &Claim { currency: Currency::parse("EUR").unwrap(), ..claim.clone() }).is_none());
        assert!(plausible_for(&order, &Claim { conflicting: true, ..claim }).is_none(), "two clicks claimed it");
    }
}
