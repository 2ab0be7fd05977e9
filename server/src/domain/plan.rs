//! Crediting one order, as one decision: given everything storage knows about the order's possible
//! partners ([`OrderFacts`]), who is credited and why, under which program, who earns what, and
//! what to book ([`OrderPlan`]). The intake reads the facts once, calls [`plan_order`], and writes
//! the plan once.

use super::attribution::{self, Credit, Facts, Model, NoCredit, Touch};
use super::fraud::{Reason, Signal};
use super::ledger::{Booking, Kind};
use super::period::to_ms;
use super::split::{self, Parties, ProductOwner, ProgramTerms, Recurring, Role, Share};
use reftrack_protocol::{CanonicalOrder, ClickId, Email, LinkCode, OrderId, PartnerCode, ProgramCode, SubId};
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;
/// Refund window of a program we cannot read (it was removed): the default.
const DEFAULT_HOLD_DAYS: i64 = 30;

/// A partner's touch as stored: a click, the contact's lead record, or a subscription's first payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchFact {
    pub partner: PartnerCode,
    pub click_id: Option<ClickId>,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    /// The program recorded with the touch (the click's longest-window program).
    pub program: Option<ProgramCode>,
    pub at_ms: i64,
    pub expires_at_ms: i64,
}

/// What crediting needs of a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerFact {
    pub email: Email,
    pub parent: Option<PartnerCode>,
    /// Sorted by code.
    pub programs: Vec<ProgramCode>,
}

/// What crediting needs of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramFact {
    pub terms: ProgramTerms,
    /// The refund window: commissions stay pending this many days after the order.
    pub hold_days: i64,
    /// Whether a browser conversion earns on its own (without a signed order).
    pub pixel_commission: bool,
}

/// An earlier or later payment of the order's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: OrderId,
    pub occurred_at_ms: i64,
    pub renewal: bool,
    /// The partner it was credited to, if any.
    pub credited: Option<TouchFact>,
}

/// A product override naming an owner: `partner` earns `bps` of every `sku` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerFact {
    pub program: ProgramCode,
    pub sku: String,
    pub partner: PartnerCode,
    pub bps: i64,
}

/// Everything storage knows that can decide an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFacts {
    /// The order's own click, or failing that the click its confirmation page's pixel saw.
    pub click: Option<TouchFact>,
    /// The partner who first brought the buyer's email.
    pub lead: Option<TouchFact>,
    /// For a renewal: the subscription's other payments.
    pub payments: Vec<Payment>,
    /// Every partner the touches name, and their parents and grandparents.
    pub partners: HashMap<PartnerCode, PartnerFact>,
    /// The programs a link is limited to (absent or empty: open to every program).
    pub link_programs: HashMap<LinkCode, Vec<ProgramCode>>,
    /// Every program any of those partners or touches may earn under (and the owners' programs).
    pub programs: HashMap<ProgramCode, ProgramFact>,
    /// The owners the programs name for the order's products (any program, any of its SKUs).
    pub owners: Vec<OwnerFact>,
}

impl OrderFacts {
    /// The partners whose facts crediting reads: the touches' partners, then (second pass) their
    /// parents. Intake uses it to know what to load.
    pub fn touch_partners<'a>(&'a self, order: &'a CanonicalOrder) -> impl Iterator<Item = &'a PartnerCode> {
        self.click
            .iter()
            .chain(&self.lead)
            .chain(self.payments.iter().filter_map(|p| p.credited.as_ref()))
            .map(|t| &t.partner)
            .chain(&order.attribution.partner)
            .chain(self.owners.iter().map(|o| &o.partner))
    }
}

/// The decision on one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlan {
    pub credit: Credit,
    /// The program the sale partner earns under.
    pub program: Option<ProgramCode>,
    /// Who earns what, sale first.
    pub shares: Vec<Share>,
    /// The ledger entries of those shares.
    pub bookings: Vec<Booking>,
    /// Set when the buyer becomes the credited partner's contact (their lead partner from now on).
    pub new_contact: Option<TouchFact>,
    /// A fraud signal the order raises (self-referral).
    pub fraud: Option<Signal>,
    /// For a renewal, which one (1 = the first after the first payment).
    pub renewal: Option<u32>,
}

impl OrderPlan {
    /// The credited touch, if any.
    pub fn touch(&self) -> Option<&Touch> {
        self.credit.touch()
    }

    /// What the sale partner earns.
    pub fn commission_minor(&self) -> i64 {
        self.shares.iter().filter(|s| s.role == Role::Sale).map(|s| s.amount_minor).sum()
    }

    /// Why an unattributed order earned nobody.
    pub fn reason(&self) -> Option<NoCredit> {
        match self.credit {
            Credit::Unattributed(r) => Some(r),
            _ => None,
        }
    }
}

/// Decides who is credited for `order` and what everyone earns.
pub fn plan_order(order: &CanonicalOrder, facts: &OrderFacts, model: Model) -> OrderPlan {
    let occurred_at_ms = to_ms(order.occurred_at);
    let (renewal, first_payment) = subscription(order, &facts.payments);
    let named = order.attribution.partner.as_ref().map(|partner| TouchFact {
        partner: partner.clone(),
        click_id: None,
        link: None,
        sub_id: order.attribution.sub_id.clone(),
        program: None,
        at_ms: occurred_at_ms,
        expires_at_ms: occurred_at_ms,
    });
    let attribution_facts = Facts {
        occurred_at_ms,
        customer_email: order.customer.email.clone(),
        clicks: facts.click.iter().filter_map(|t| touch(facts, t)).collect(),
        lead: facts.lead.as_ref().and_then(|t| touch(facts, t)),
        named_partner: named.as_ref().and_then(|t| touch(facts, t)),
        // A renewal belongs to its subscription's partner whatever the windows.
        subscription: first_payment.map(|t| TouchFact { expires_at_ms: i64::MAX, ..t.clone() }).and_then(|t| touch(facts, &t)),
    };
    let credit = attribution::attribute(&attribution_facts, model);
    let fraud = match &credit {
        Credit::Unattributed(NoCredit::SelfReferral) => {
            let referrer = self_referrer(&attribution_facts);
            Some(Signal {
                reason: Reason::SelfReferral,
                partner: referrer.map(|t| t.partner.clone()),
                link: referrer.and_then(|t| t.link.clone()),
                order_id: Some(order.order_id.to_string()),
                at_ms: occurred_at_ms,
                source_key: order.order_id.to_string(),
            })
        }
        _ => None,
    };
    // A buyer credited through a click becomes that partner's contact, if nobody brought them first.
    let new_contact = match (&order.customer.email, &credit) {
        (Some(_), Credit::Click(t)) => Some(TouchFact {
            partner: t.partner.clone(),
            click_id: t.click_id.clone(),
            link: t.link.clone(),
            sub_id: t.sub_id.clone(),
            program: t.program.clone(),
            at_ms: t.at_ms,
            expires_at_ms: t.expires_at_ms,
        }),
        _ => None,
    };
    let mut plan = plan_credit(order, facts, credit, attribution_facts.lead.as_ref(), renewal);
    plan.new_contact = new_contact;
    plan.fraud = fraud;
    plan
}

/// Why an order cannot be credited by hand to a partner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualCreditRefusal {
    #[error("no partner {0}")]
    UnknownPartner(PartnerCode),
    #[error("the buyer's email is partner {0}'s: a partner never earns on their own purchase")]
    SelfReferral(PartnerCode),
}

/// Credits `order` by hand to `partner` (an unattributed order, or one moved from another
/// partner): the partner earns the sale terms of their best-paying program on it, their parents
/// the tiers, the contact's lead partner the lead share (as for an order naming its partner), and
/// product owners their shares, exactly as if the order had arrived credited to them.
pub fn plan_manual_credit(order: &CanonicalOrder, facts: &OrderFacts, partner: &PartnerCode) -> Result<OrderPlan, ManualCreditRefusal> {
    let fact = facts.partners.get(partner).ok_or_else(|| ManualCreditRefusal::UnknownPartner(partner.clone()))?;
    if order.customer.email.as_ref() == Some(&fact.email) {
        return Err(ManualCreditRefusal::SelfReferral(partner.clone()));
    }
    let occurred_at_ms = to_ms(order.occurred_at);
    let own = Touch {
        partner: partner.clone(),
        partner_email: Some(fact.email.clone()),
        click_id: None,
        link: None,
        sub_id: None,
        program: fact.programs.first().cloned(),
        at_ms: occurred_at_ms,
        expires_at_ms: occurred_at_ms,
    };
    let lead = facts.lead.as_ref().and_then(|t| touch(facts, t));
    let (renewal, _) = subscription(order, &facts.payments);
    Ok(plan_credit(order, facts, Credit::Manual(own), lead.as_ref(), renewal))
}

/// A stored touch as attribution reads it (`None` for a partner storage does not know).
fn touch(facts: &OrderFacts, t: &TouchFact) -> Option<Touch> {
    let partner = facts.partners.get(&t.partner)?;
    Some(Touch {
        partner: t.partner.clone(),
        partner_email: Some(partner.email.clone()),
        click_id: t.click_id.clone(),
        link: t.link.clone(),
        sub_id: t.sub_id.clone(),
        program: t.program.clone().or_else(|| partner.programs.first().cloned()),
        at_ms: t.at_ms,
        expires_at_ms: t.expires_at_ms,
    })
}

/// Who earns what once the credit is decided: the program, the shares and their bookings.
fn plan_credit(order: &CanonicalOrder, facts: &OrderFacts, credit: Credit, lead: Option<&Touch>, renewal: Option<u32>) -> OrderPlan {
    let occurred_at_ms = to_ms(order.occurred_at);
    let program_of = |code: &ProgramCode| facts.programs.get(code);
    let sale = credit.touch().and_then(|t| {
        let chosen = match (&credit, &t.program) {
            (Credit::Subscription(_), Some(code)) => program_of(code).map(|p| &p.terms),
            _ => {
                let candidates: Vec<ProgramTerms> =
                    eligible_programs(facts, t).iter().filter_map(&program_of).map(|p| p.terms.clone()).collect();
                split::choose_program(order, &candidates).and_then(|chosen| program_of(&chosen.code)).map(|p| &p.terms)
            }
        };
        chosen.map(|terms| (&t.partner, terms))
    });
    let ancestors = credit.touch().map(|t| ancestors(facts, &t.partner)).unwrap_or_default();
    let lead = match (lead, &credit) {
        (Some(l), Credit::Click(_) | Credit::Named(_) | Credit::Subscription(_) | Credit::Manual(_)) if l.covers(occurred_at_ms) => {
            l.program.as_ref().and_then(&program_of).map(|p| (&l.partner, &p.terms))
        }
        _ => None,
    };
    let owners = product_owners(order, facts, sale.map(|(_, terms)| &terms.code));
    let buyers: Vec<&PartnerCode> = match &order.customer.email {
        Some(email) => ancestors
            .iter()
            .copied()
            .chain(lead.map(|(p, _)| p))
            .chain(owners.iter().map(|o| &o.partner))
            .filter(|code| facts.partners.get(*code).is_some_and(|p| p.email == *email))
            .collect(),
        None => Vec::new(),
    };
    let parties = Parties { sale, ancestors: ancestors.clone(), lead, buyers, renewal, owners: owners.iter().collect() };
    let shares = split::shares(order, &parties);

    let sale_touch = credit.touch();
    let bookings = shares
        .iter()
        .map(|s| {
            // Tier, lead and owner shares are reported under the order's link only for the sale partner.
            let own = s.role == Role::Sale;
            let hold_days = program_of(&s.program).map_or(DEFAULT_HOLD_DAYS, |p| p.hold_days);
            Booking {
                partner: s.partner.clone(),
                kind: Kind::Earned,
                role: s.role,
                program: Some(s.program.clone()),
                amount_minor: s.amount_minor,
                link: sale_touch.and_then(|t| t.link.clone()).filter(|_| own),
                sub_id: sale_touch.and_then(|t| t.sub_id.clone()).filter(|_| own),
                available_at_ms: occurred_at_ms.saturating_add(hold_days.saturating_mul(DAY_MS)),
                reason: None,
                reverses_id: None,
            }
        })
        .collect();
    let program = sale.map(|(_, terms)| terms.code.clone());
    OrderPlan { credit, program, shares, bookings, new_contact: None, fraud: None, renewal }
}

/// The owner of each product in the order: the one the order's program names for it, else the
/// one named by the first program (by code) that names one.
fn product_owners(order: &CanonicalOrder, facts: &OrderFacts, program: Option<&ProgramCode>) -> Vec<ProductOwner> {
    let mut out: Vec<ProductOwner> = Vec::new();
    for item in &order.items {
        if out.iter().any(|o| o.sku == item.sku) {
            continue;
        }
        let named = facts.owners.iter().filter(|o| o.sku == item.sku && facts.partners.contains_key(&o.partner));
        let chosen = named.clone().find(|o| Some(&o.program) == program).or_else(|| named.min_by(|a, b| a.program.cmp(&b.program)));
        if let Some(o) = chosen {
            let recurring = facts.programs.get(&o.program).map_or(Recurring::Every, |p| p.terms.recurring);
            out.push(ProductOwner { sku: o.sku.clone(), partner: o.partner.clone(), bps: o.bps, program: o.program.clone(), recurring });
        }
    }
    out
}

/// For a renewal: which renewal this is (1 = the first after the first payment), and the touch
/// of the subscription's first credited payment before it.
fn subscription<'a>(order: &CanonicalOrder, payments: &'a [Payment]) -> (Option<u32>, Option<&'a TouchFact>) {
    if !order.renewal {
        return (None, None);
    }
    let here = (to_ms(order.occurred_at), order.order_id.as_str());
    let mut earlier: Vec<&Payment> = payments.iter().filter(|p| (p.occurred_at_ms, p.order_id.as_str()) < here).collect();
    earlier.sort_by_key(|p| (p.occurred_at_ms, p.order_id.as_str()));
    let renewal = 1 + earlier.iter().filter(|p| p.renewal).count() as u32;
    (Some(renewal), earlier.iter().find_map(|p| p.credited.as_ref()))
}

/// The programs a touch's partner may earn under on this order: the link's programs the partner
/// belongs to when the link is limited to programs, else all of the partner's programs; the
/// program recorded with the touch when neither says anything.
fn eligible_programs(facts: &OrderFacts, t: &Touch) -> Vec<ProgramCode> {
    let own = facts.partners.get(&t.partner).map(|p| p.programs.clone()).unwrap_or_default();
    let limited = t.link.as_ref().and_then(|l| facts.link_programs.get(l)).cloned().unwrap_or_default();
    let mut eligible: Vec<ProgramCode> = if limited.is_empty() { own } else { limited.into_iter().filter(|p| own.contains(p)).collect() };
    if eligible.is_empty() {
        eligible.extend(t.program.clone());
    }
    eligible
}

/// The partner's parent and grandparent (a partner appears once even if the chain loops).
fn ancestors<'a>(facts: &'a OrderFacts, partner: &PartnerCode) -> Vec<&'a PartnerCode> {
    let mut out: Vec<&PartnerCode> = Vec::new();
    let mut next = facts.partners.get(partner).and_then(|p| p.parent.as_ref());
    while let Some(code) = next.filter(|_| out.len() < 2) {
        out.push(code);
        next = facts.partners.get(code).and_then(|p| p.parent.as_ref());
    }
    out
}

/// The touch whose partner is the buyer, when self-referral is why an order earned nobody.
fn self_referrer(facts: &Facts) -> Option<&Touch> {
    let buyer = facts.customer_email.as_ref()?;
    facts
        .clicks
        .iter()
        .chain(&facts.lead)
        .chain(&facts.named_partner)
        .chain(&facts.subscription)
        .find(|t| t.partner_email.as_ref() == Some(buyer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commission::{Rate, Terms};
    use crate::domain::split::Recurring;
    use reftrack_protocol::{Currency, LineItem};
    use time::macros::datetime;

    fn code(raw: &str) -> PartnerCode {
        PartnerCode::parse(raw).unwrap()
    }

    fn program(raw: &str, bps: i64) -> (ProgramCode, ProgramFact) {
        let code = ProgramCode::parse(raw).unwrap();
        let terms = ProgramTerms {
            code: code.clone(),
            sale: Terms { default: Rate::Bps(bps), products: HashMap::new() },
            lead: Some(Rate::Bps(500)),
            tier_bps: [1000, 0],
            recurring: Recurring::Every,
        };
        (code, ProgramFact { terms, hold_days: 30, pixel_commission: false })
    }

    fn partner(raw: &str, parent: Option<&str>) -> (PartnerCode, PartnerFact) {
        let fact = PartnerFact {
            email: Email::parse(&format!("{raw}@partners.example")).unwrap(),
            parent: parent.map(code),
            programs: vec![ProgramCode::parse("standard").unwrap()],
        };
        (code(raw), fact)
    }

    fn touch(raw: &str, at_ms: i64) -> TouchFact {
        TouchFact {
            partner: code(raw),
            click_id: None,
            link: Some(LinkCode::parse("offer").unwrap()),
            sub_id: Some(SubId::parse("yt").unwrap()),
            program: None,
            at_ms,
            expires_at_ms: at_ms + 30 * DAY_MS,
        }
    }

    fn order(email: &str) -> CanonicalOrder {
        CanonicalOrder {
            order_id: OrderId::parse("api:1").unwrap(),
            occurred_at: datetime!(1970-01-02 0:00 UTC),
            currency: Currency::parse("USD").unwrap(),
            items: vec![LineItem { sku: "course".into(), name: String::new(), quantity: 1, unit_price_minor: 9900 }],
            total_minor: 9900,
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            customer: reftrack_protocol::Customer { email: Some(Email::parse(email).unwrap()) },
            attribution: Default::default(),
            source: "api".into(),
            renewal: false,
            subscription_id: None,
        }
    }

    fn facts() -> OrderFacts {
        OrderFacts {
            partners: [partner("jane", None), partner("kim", Some("jane")), partner("john", None)].into_iter().collect(),
            programs: [program("standard", 3000)].into_iter().collect(),
            ..OrderFacts::default()
        }
    }

    #[test]
    fn a_click_credits_its_partner_their_parent_and_the_contacts_lead_partner() {
        let mut f = facts();
        f.click = Some(touch("kim", 0));
        f.lead = Some(touch("john", 0));
        let plan = plan_order(&order("fan@example.com"), &f, Model::LastClick);
        assert_eq!(plan.credit.by(), Some("click"));
        let shares: Vec<(&str, &str, i64)> = plan.shares.iter().map(|s| (s.partner.as_str(), s.role.as_str(), s.amount_minor)).collect();
        assert_eq!(shares, [("kim", "sale", 2970), ("jane", "tier2", 990), ("john", "lead", 495)]);
        assert_eq!(plan.commission_minor(), 2970);
        let sale = &plan.bookings[0];
        assert_eq!((sale.link.as_ref().map(|l| l.as_str()), sale.available_at_ms), (Some("offer"), DAY_MS + 30 * DAY_MS));
        assert!(plan.bookings[1].link.is_none(), "tier shares are not reported under the seller's link");
        assert_eq!(plan.new_contact.as_ref().map(|t| t.partner.as_str()), Some("kim"));
    }

    #[test]
    fn a_partner_buying_through_their_own_link_raises_a_self_referral_and_earns_nothing() {
        let mut f = facts();
        f.click = Some(touch("jane", 0));
        let plan = plan_order(&order("jane@partners.example"), &f, Model::LastClick);
        assert_eq!(plan.reason(), Some(NoCredit::SelfReferral));
        assert!(plan.shares.is_empty() && plan.bookings.is_empty());
        let fraud = plan.fraud.unwrap();
        assert_eq!((fraud.reason, fraud.partner.unwrap().as_str()), (Reason::SelfReferral, "jane"));
    }

    #[test]
    fn a_parent_who_is_the_buyer_earns_no_tier_share() {
        let mut f = facts();
        f.click = Some(touch("kim", 0));
        let plan = plan_order(&order("jane@partners.example"), &f, Model::LastClick);
        assert_eq!(plan.shares.iter().map(|s| s.partner.as_str()).collect::<Vec<_>>(), ["kim"]);
    }

    #[test]
    fn a_renewal_counts_its_earlier_renewals_and_belongs_to_the_first_payments_partner() {
        let mut f = facts();
        let mut o = order("fan@example.com");
        o.renewal = true;
        o.subscription_id = Some("sub_1".into());
        o.order_id = OrderId::parse("api:3").unwrap();
        let payment =
            |id: &str, at: i64, renewal, credited| Payment { order_id: OrderId::parse(id).unwrap(), occurred_at_ms: at, renewal, credited };
        f.payments = vec![payment("api:1", 0, false, Some(touch("kim", 0))), payment("api:2", DAY_MS / 2, true, None)];
        let plan = plan_order(&o, &f, Model::LastClick);
        assert_eq!((plan.credit.by(), plan.renewal), (Some("subscription"), Some(2)));
        assert_eq!(plan.touch().unwrap().partner.as_str(), "kim");
    }

    #[test]
    fn a_partner_unknown_to_storage_is_no_touch_at_all() {
        let mut f = facts();
        f.click = Some(touch("ghost", 0));
        assert_eq!(plan_order(&order("fan@example.com"), &f, Model::LastClick).reason(), Some(NoCredit::NoTouch));
    }

    #[test]
    fn an_order_credited_by_hand_pays_the_partner_their_parents_and_the_lead_partner() {
        let mut f = facts();
        f.lead = Some(touch("john", 0));
        let plan = plan_manual_credit(&order("fan@example.com"), &f, &code("kim")).unwrap();
        assert_eq!(plan.credit.by(), Some("manual"));
        let shares: Vec<(&str, &str, i64)> = plan.shares.iter().map(|s| (s.partner.as_str(), s.role.as_str(), s.amount_minor)).collect();
        assert_eq!(shares, [("kim", "sale", 2970), ("jane", "tier2", 990), ("john", "lead", 495)]);
        assert!(plan.bookings[0].link.is_none(), "a hand-made credit has no link");
        assert!(plan.new_contact.is_none(), "only a click makes the buyer the partner's contact");
        assert_eq!(
            plan_manual_credit(&order("kim@partners.example"), &f, &code("kim")),
            Err(ManualCreditRefusal::SelfReferral(code("kim")))
        );
        assert_eq!(
            plan_manual_credit(&order("fan@example.com"), &f, &code("ghost")),
            Err(ManualCreditRefusal::UnknownPartner(code("ghost")))
        );
    }

    #[test]
    fn a_products_owner_earns_on_unattributed_orders_under_the_first_program_naming_them() {
        let mut f = facts();
        let (vip, vip_fact) = program("vip", 1000);
        f.programs.insert(vip.clone(), vip_fact);
        f.partners.insert(code("author"), partner("author", None).1);
        let owner = |program: &ProgramCode, bps| OwnerFact { program: program.clone(), sku: "course".into(), partner: code("author"), bps };
        f.owners = vec![owner(&ProgramCode::parse("vip").unwrap(), 500), owner(&ProgramCode::parse("standard").unwrap(), 1000)];
        // Nobody referred the buyer: "standard" comes first by code, 10 % of 99.00.
        let plan = plan_order(&order("fan@example.com"), &f, Model::LastClick);
        assert_eq!(plan.reason(), Some(NoCredit::NoTouch));
        assert_eq!(
            plan.shares.iter().map(|s| (s.partner.as_str(), s.role, s.amount_minor)).collect::<Vec<_>>(),
            [("author", Role::Owner, 990)]
        );
        // Kim's click, paid under "standard" too: the same owner share beside her commission.
        f.click = Some(touch("kim", 0));
        let plan = plan_order(&order("fan@example.com"), &f, Model::LastClick);
        assert_eq!(plan.shares.last().map(|s| (s.partner.as_str(), s.role, s.amount_minor)), Some(("author", Role::Owner, 990)));
        assert_eq!(plan.commission_minor(), 2970);
        // The owner buying the product earns nothing on it.
        let plan = plan_order(&order("author@partners.example"), &f, Model::LastClick);
        assert!(plan.shares.iter().all(|s| s.role != Role::Owner));
    }
}
