//! Who earns what on one credited order: the sale partner, the lead partner, and the sale
//! partner's parents (tiers 2 and 3), each under the terms of a program.
//!
//! Rules, with their rounding:
//! - The **sale partner** (whose click, contact or subscription credited the order) earns the sale
//!   terms of the program chosen for the order ([`choose_program`]), computed per line as in
//!   [`commission`](super::commission).
//! - The **lead partner** (who first brought the buyer's email) earns, when someone else made the
//!   sale, the lead share of *their own* program: a rate of the order total or a flat amount per
//!   order. When the lead partner made the sale too, they earn the sale terms only, once.
//! - The sale partner's **parent** earns the program's tier-2 rate of the order total, and the
//!   parent's parent the tier-3 rate. Each tier is `total × bps / 10 000` rounded once, half away
//!   from zero. A parent never earns on their own purchase, and a partner appears at most once.
//! - A product's **owner** earns the owner's share of every line of that product, whoever
//!   referred the buyer (also on unattributed orders), beside everyone else's shares: per line
//!   `line × bps / 10 000` rounded half away from zero, summed into one share per owner. An owner
//!   never earns on their own purchase.
//! - A **renewal** earns (for everyone) only when the program's recurring rule says so.

use super::commission::{apply_bps, commission, Rate, Terms};
use reftrack_protocol::{CanonicalOrder, PartnerCode, ProgramCode};
use std::fmt;

/// Which renewals of a subscription earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recurring {
    /// Every renewal earns.
    #[default]
    Every,
    /// The first N renewals earn (the first payment always does).
    First(u32),
    /// Only the first payment earns.
    None,
}

impl Recurring {
    /// Whether the `n`th renewal (1 = the first renewal after the first payment) earns.
    pub fn earns(self, n: u32) -> bool {
        match self {
            Recurring::Every => true,
            Recurring::First(limit) => n <= limit,
            Recurring::None => false,
        }
    }
}

impl std::str::FromStr for Recurring {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "every" => Ok(Recurring::Every),
            "none" => Ok(Recurring::None),
            other => other
                .strip_prefix("first:")
                .and_then(|n| n.parse::<u32>().ok())
                .map(Recurring::First)
                .ok_or_else(|| format!("recurring must be every, none or first:N, not {other:?}")),
        }
    }
}

impl fmt::Display for Recurring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recurring::Every => f.write_str("every"),
            Recurring::First(n) => write!(f, "first:{n}"),
            Recurring::None => f.write_str("none"),
        }
    }
}

impl serde::Serialize for Recurring {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Recurring {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything a program pays, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramTerms {
    pub code: ProgramCode,
    /// What the sale partner earns.
    pub sale: Terms,
    /// What a lead partner earns when another partner made the sale (`None`: nothing).
    pub lead: Option<Rate>,
    /// Tier-2 and tier-3 rates of the order total, in basis points (0: no tier).
    pub tier_bps: [i64; 2],
    pub recurring: Recurring,
}

/// Picks the program an order is paid under when the partner may earn under several (the link's
/// programs the partner belongs to, or all of the partner's programs for an unrestricted link):
/// the one paying the sale partner most on this order; a tie goes to the first code in
/// alphabetical order, so the choice never depends on storage order.
pub fn choose_program<'a>(order: &CanonicalOrder, candidates: &'a [ProgramTerms]) -> Option<&'a ProgramTerms> {
    candidates.iter().max_by(|a, b| commission(order, &a.sale).cmp(&commission(order, &b.sale)).then_with(|| b.code.cmp(&a.code)))
}

/// Why a partner earns on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Sale,
    Lead,
    Tier2,
    Tier3,
    /// The owner of a product sold in the order.
    Owner,
    /// A payout entry's own role (it is nobody's share).
    Payout,
    /// A bonus or correction the merchant booked (it is nobody's share of an order).
    Adjustment,
}

impl Role {
    /// Reads the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Role::Sale, Role::Lead, Role::Tier2, Role::Tier3, Role::Owner, Role::Payout, Role::Adjustment]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// The name stored in the ledger and shown in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sale => "sale",
            Role::Lead => "lead",
            Role::Tier2 => "tier2",
            Role::Tier3 => "tier3",
            Role::Owner => "owner",
            Role::Payout => "payout",
            Role::Adjustment => "adjustment",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::parse(s).ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// One partner's share of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub partner: PartnerCode,
    pub role: Role,
    pub program: ProgramCode,
    pub amount_minor: i64,
}

/// A product's owner: earns `bps` of every line of `sku`, under `program`'s recurring rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOwner {
    pub sku: String,
    pub partner: PartnerCode,
    pub bps: i64,
    /// The program whose product override names the owner.
    pub program: ProgramCode,
    pub recurring: Recurring,
}

/// The parties of a credited order.
#[derive(Debug, Clone, Default)]
pub struct Parties<'a> {
    /// The credited partner and the program chosen for the order.
    pub sale: Option<(&'a PartnerCode, &'a ProgramTerms)>,
    /// The sale partner's parent, then the parent's parent.
    pub ancestors: Vec<&'a PartnerCode>,
    /// The contact's lead partner and their own program.
    pub lead: Option<(&'a PartnerCode, &'a ProgramTerms)>,
    /// Partners who are the buyer: they never earn on this order.
    pub buyers: Vec<&'a PartnerCode>,
    /// For a renewal, which one (1 = first renewal); `None` for a first payment.
    pub renewal: Option<u32>,
    /// The owners of the order's products (at most one per SKU).
    pub owners: Vec<&'a ProductOwner>,
}

/// Each partner's share of an order, sale first, product owners last. Zero shares are left out.
pub fn shares(order: &CanonicalOrder, parties: &Parties<'_>) -> Vec<Share> {
    let mut out: Vec<Share> = Vec::new();
    let eligible = |partner: &PartnerCode, out: &[Share]| !parties.buyers.contains(&partner) && out.iter().all(|s| s.partner != *partner);
    let earns = |program: &ProgramTerms| parties.renewal.is_none_or(|n| program.recurring.earns(n));
    let push = |out: &mut Vec<Share>, partner: &PartnerCode, role, program: &ProgramTerms, amount_minor: i64| {
        if amount_minor != 0 {
            out.push(Share { partner: partner.clone(), role, program: program.code.clone(), amount_minor });
        }
    };
    if let Some((partner, program)) = parties.sale.filter(|(p, program)| eligible(p, &out) && earns(program)) {
        push(&mut out, partner, Role::Sale, program, commission(order, &program.sale));
        let tiers = parties.ancestors.iter().zip([Role::Tier2, Role::Tier3]).zip(program.tier_bps);
        for ((ancestor, role), bps) in tiers {
            if bps > 0 && *ancestor != partner && eligible(ancestor, &out) {
                push(&mut out, ancestor, role, program, apply_bps(order.total_minor, bps));
            }
        }
    }
    let sale_partner = parties.sale.map(|(p, _)| p);
    if let Some((partner, program)) = parties.lead.filter(|(p, program)| Some(*p) != sale_partner && eligible(p, &out) && earns(program)) {
        let amount = match program.lead {
            Some(Rate::Bps(bps)) => apply_bps(order.total_minor, bps),
            Some(Rate::Flat(flat)) => flat,
            None => 0,
        };
        push(&mut out, partner, Role::Lead, program, amount);
    }
    out.extend(owner_shares(order, parties));
    out
}

/// The product owners' shares: per line of an owned product, whoever referred the buyer; one
/// share per owner (in the order their products first appear).
fn owner_shares(order: &CanonicalOrder, parties: &Parties<'_>) -> Vec<Share> {
    let mut owed: Vec<Share> = Vec::new();
    for (item, line_amount) in order.items.iter().zip(order.net_line_amounts()) {
        let Some(owner) = parties.owners.iter().find(|o| o.sku == item.sku) else { continue };
        let earns = parties.renewal.is_none_or(|n| owner.recurring.earns(n));
        if !earns || parties.buyers.contains(&&owner.partner) {
            continue;
        }
        let amount = apply_bps(line_amount, owner.bps);
        match owed.iter_mut().find(|s| s.partner == owner.partner) {
            Some(share) => share.amount_minor = share.amount_minor.saturating_add(amount),
            None => {
                owed.push(Share { partner: owner.partner.clone(), role: Role::Owner, program: owner.program.clone(), amount_minor: amount })
            }
        }
    }
    owed.retain(|s| s.amount_minor != 0);
    owed
}

#[cfg(test)]
mod tests {
    use super::*;
    use reftrack_protocol::{Currency, LineItem, OrderId};
    use std::collections::HashMap;
    use time::macros::datetime;

    fn order(total: i64) -> CanonicalOrder {
        CanonicalOrder {
            order_id: OrderId::parse("api:1").unwrap(),
            occurred_at: datetime!(2026-11-01 10:00 UTC),
            currency: Currency::parse("USD").unwrap(),
            total_minor: total,
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            items: vec![LineItem { sku: "course".into(), name: String::new(), quantity: 1, unit_price_minor: total }],
            customer: Default::default(),
            attribution: Default::default(),
            source: "api".into(),
            renewal: false,
            subscription_id: None,
        }
    }

    /// A partner code that lives as long as the test (so parties can borrow it inline).
    fn code(raw: &str) -> &'static PartnerCode {
        Box::leak(Box::new(PartnerCode::parse(raw).unwrap()))
    }

    fn program(code: &str, sale: Rate) -> ProgramTerms {
        ProgramTerms {
            code: ProgramCode::parse(code).unwrap(),
            sale: Terms { default: sale, products: HashMap::new() },
            lead: None,
            tier_bps: [0, 0],
            recurring: Recurring::Every,
        }
    }

    fn amounts(shares: &[Share]) -> Vec<(&str, &str, i64)> {
        shares.iter().map(|s| (s.partner.as_str(), s.role.as_str(), s.amount_minor)).collect()
    }

    #[test]
    fn the_best_paying_program_wins_and_a_tie_goes_to_the_first_code() {
        let rate = program("rate", Rate::Bps(3000));
        let flat = program("flat", Rate::Flat(2500));
        let both = [rate.clone(), flat.clone()];
        // 30 % of 99.00 = 29.70 beats 25.00; 30 % of 50.00 = 15.00 loses to 25.00.
        assert_eq!(choose_program(&order(9900), &both).unwrap().code.as_str(), "rate");
        assert_eq!(choose_program(&order(5000), &both).unwrap().code.as_str(), "flat");
        let twin = program("alpha", Rate::Bps(3000));
        assert_eq!(choose_program(&order(9900), &[rate, twin]).unwrap().code.as_str(), "alpha");
        assert!(choose_program(&order(9900), &[]).is_none());
    }

    #[test]
    fn lead_and_sale_partners_each_earn_under_their_own_program() {
        let sale = program("sales", Rate::Bps(3000));
        let mut leads = program("leads", Rate::Bps(1000));
        leads.lead = Some(Rate::Bps(500));
        let parties = Parties { sale: Some((code("john"), &sale)), lead: Some((code("jane"), &leads)), ..Parties::default() };
        // John: 30 % of 99.00 = 29.70. Jane: her program's 5 % lead share = 4.95.
        assert_eq!(amounts(&shares(&order(9900), &parties)), [("john", "sale", 2970), ("jane", "lead", 495)]);
        // A flat lead share is paid once per order.
        leads.lead = Some(Rate::Flat(1000));
        let parties = Parties { sale: Some((code("john"), &sale)), lead: Some((code("jane"), &leads)), ..Parties::default() };
        assert_eq!(amounts(&shares(&order(9900), &parties))[1], ("jane", "lead", 1000));
    }

    #[test]
    fn a_lead_partner_who_made_the_sale_earns_once() {
        let mut p = program("p", Rate::Bps(3000));
        p.lead = Some(Rate::Bps(500));
        let parties = Parties { sale: Some((code("jane"), &p)), lead: Some((code("jane"), &p)), ..Parties::default() };
        assert_eq!(amounts(&shares(&order(9900), &parties)), [("jane", "sale", 2970)]);
    }

    #[test]
    fn a_program_without_a_lead_share_pays_the_lead_partner_nothing() {
        let p = program("p", Rate::Bps(3000));
        let parties = Parties { sale: Some((code("john"), &p)), lead: Some((code("jane"), &p)), ..Parties::default() };
        assert_eq!(amounts(&shares(&order(9900), &parties)), [("john", "sale", 2970)]);
    }

    #[test]
    fn parents_earn_tier_two_and_three_on_the_order_total() {
        let mut p = program("p", Rate::Bps(3000));
        p.tier_bps = [1000, 250];
        let parties = Parties { sale: Some((code("kid"), &p)), ancestors: vec![code("mum"), code("gran")], ..Parties::default() };
        // 10 % of 99.99 = 9.999 → 10.00; 2.5 % of 99.99 = 2.49975 → 2.50; 30 % = 29.997 → 30.00.
        assert_eq!(amounts(&shares(&order(9999), &parties)), [("kid", "sale", 3000), ("mum", "tier2", 1000), ("gran", "tier3", 250)]);
        // Without a tier-3 rate the grandparent earns nothing.
        p.tier_bps = [1000, 0];
        let parties = Parties { sale: Some((code("kid"), &p)), ancestors: vec![code("mum"), code("gran")], ..Parties::default() };
        assert_eq!(amounts(&shares(&order(9999), &parties)).len(), 2);
    }

    #[test]
    fn a_parent_buying_through_their_child_earns_nothing_and_cycles_pay_once() {
        let mut p = program("p", Rate::Bps(3000));
        p.tier_bps = [1000, 500];
        let parties = Parties {
            sale: Some((code("kid"), &p)),
            ancestors: vec![code("mum"), code("gran")],
            buyers: vec![code("mum")],
            ..Parties::default()
        };
        assert_eq!(amounts(&shares(&order(10000), &parties)), [("kid", "sale", 3000), ("gran", "tier3", 500)]);
        // A parent chain that loops back to the seller pays nobody twice.
        let parties = Parties { sale: Some((code("kid"), &p)), ancestors: vec![code("mum"), code("kid")], ..Parties::default() };
        assert_eq!(amounts(&shares(&order(10000), &parties)), [("kid", "sale", 3000), ("mum", "tier2", 1000)]);
    }

    #[test]
    fn renewals_earn_by_the_programs_recurring_rule() {
        let mut p = program("p", Rate::Bps(2000));
        let renewal = |n| Parties { sale: Some((code("jane"), &p)), renewal: Some(n), ..Parties::default() };
        assert_eq!(shares(&order(1000), &renewal(12)).len(), 1);
        p.recurring = Recurring::First(2);
        let renewal = |n| Parties { sale: Some((code("jane"), &p)), renewal: Some(n), ..Parties::default() };
        assert_eq!((shares(&order(1000), &renewal(2)).len(), shares(&order(1000), &renewal(3)).len()), (1, 0));
        p.recurring = Recurring::None;
        let first = Parties { sale: Some((code("jane"), &p)), ..Parties::default() };
        let renewal = Parties { sale: Some((code("jane"), &p)), renewal: Some(1), ..Parties::default() };
        assert_eq!((shares(&order(1000), &first).len(), shares(&order(1000), &renewal).len()), (1, 0));
    }

    fn owner(sku: &str, partner: &str, bps: i64) -> ProductOwner {
        ProductOwner {
            sku: sku.into(),
            partner: PartnerCode::parse(partner).unwrap(),
            bps,
            program: ProgramCode::parse("p").unwrap(),
            recurring: Recurring::Every,
        }
    }

    #[test]
    fn a_products_owner_earns_on_its_lines_beside_the_referrer_and_on_unattributed_orders() {
        let p = program("p", Rate::Bps(3000));
        let ebook = owner("course", "author", 1000);
        let mut o = order(9900);
        o.items.push(LineItem { sku: "other".into(), name: String::new(), quantity: 1, unit_price_minor: 100 });
        o.total_minor = 10_000;
        let parties = Parties { sale: Some((code("jane"), &p)), owners: vec![&ebook], ..Parties::default() };
        // Jane: 30 % of 100.00 = 30.00. The author: 10 % of the course line (99.00) = 9.90.
        assert_eq!(amounts(&shares(&o, &parties)), [("jane", "sale", 3000), ("author", "owner", 990)]);
        // Nobody referred the buyer: the owner still earns.
        let parties = Parties { owners: vec![&ebook], ..Parties::default() };
        assert_eq!(amounts(&shares(&o, &parties)), [("author", "owner", 990)]);
        // The referrer who owns the product earns both; an owner buying it earns nothing.
        let theirs = owner("course", "jane", 1000);
        let parties = Parties { sale: Some((code("jane"), &p)), owners: vec![&theirs], ..Parties::default() };
        assert_eq!(amounts(&shares(&o, &parties)), [("jane", "sale", 3000), ("jane", "owner", 990)]);
        let parties = Parties { owners: vec![&ebook], buyers: vec![code("author")], ..Parties::default() };
        assert!(shares(&o, &parties).is_empty());
    }

    #[test]
    fn an_owner_of_several_lines_gets_one_share_rounded_per_line() {
        let mut o = order(0);
        o.items = vec![
            LineItem { sku: "a".into(), name: String::new(), quantity: 1, unit_price_minor: 15 },
            LineItem { sku: "b".into(), name: String::new(), quantity: 1, unit_price_minor: 15 },
        ];
        o.total_minor = 30;
        let (a, b) = (owner("a", "author", 1000), owner("b", "author", 1000));
        // 10 % of 0.15 = 1.5 → 2 cents per line: 4, not round(3.0) = 3.
        let parties = Parties { owners: vec![&a, &b], ..Parties::default() };
        assert_eq!(amounts(&shares(&o, &parties)), [("author", "owner", 4)]);
    }

    #[test]
    fn roles_read_and_print_the_same() {
        for role in [Role::Sale, Role::Lead, Role::Tier2, Role::Tier3, Role::Owner, Role::Payout, Role::Adjustment] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("tier4"), None);
    }

    #[test]
    fn recurring_rules_read_and_print_the_same() {
        for text in ["every", "none", "first:3"] {
            assert_eq!(text.parse::<Recurring>().unwrap().to_string(), text);
        }
        assert!("first:x".parse::<Recurring>().is_err());
        assert!("sometimes".parse::<Recurring>().is_err());
    }
}
