//! What a browser conversion earns on its own: only under a program that pays on the pixel alone
//! (`pixel_commission`); otherwise only a signed order earns.

use super::commission::{apply_bps, Rate};
use super::ledger::{Booking, Kind};
use super::plan::{ProgramFact, TouchFact};
use super::split::Role;

const DAY_MS: i64 = 86_400_000;

/// The commission booked on a conversion of `amount_minor` seen at `at_ms` for `click`.
pub fn pixel_credit(click: &TouchFact, program: Option<&ProgramFact>, amount_minor: i64, at_ms: i64) -> Option<Booking> {
    let program = program.filter(|p| p.pixel_commission)?;
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
            expires_at_ms: 1,
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

    #[test]
    fn only_a_pixel_commission_program_earns_on_a_conversion_alone() {
        let credit = pixel_credit(&click(), Some(&program(true, Rate::Bps(3000))), 10_000, 0).unwrap();
        assert_eq!((credit.partner.as_str(), credit.amount_minor, credit.sub_id.unwrap().as_str()), ("jane", 3000, "yt"));
        assert_eq!(credit.available_at_ms, 30 * DAY_MS, "pending for the program's refund window");
        assert_eq!(pixel_credit(&click(), Some(&program(true, Rate::Flat(500))), 10_000, 0).unwrap().amount_minor, 500);
        assert!(pixel_credit(&click(), Some(&program(false, Rate::Bps(3000))), 10_000, 0).is_none());
        assert!(pixel_credit(&click(), None, 10_000, 0).is_none());
    }
}
