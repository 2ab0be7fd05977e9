//! Pure business rules: attribution, commission and its split, crediting an order as one plan,
//! refunds, ledger balances and the merchant's corrections, fraud signals, bot detection, click
//! IDs, rate limits and uploaded images. No I/O here: every function
//! takes what it needs and returns a decision.

pub mod attribution;
pub mod bots;
pub mod click_id;
pub mod commission;
pub mod correction;
pub mod fraud;
pub mod image;
pub mod ledger;
pub mod limit;
pub mod outgoing;
pub mod period;
pub mod pixel;
pub mod plan;
pub mod refund;
pub mod split;

#[cfg(test)]
mod readme_example {
    //! The README's worked example of programs, tiers, refunds and payouts, end to end over the
    //! domain rules.

    use super::commission::{clawback, Rate, Terms};
    use super::ledger::{balances, plan_payouts, Entry, Kind};
    use super::split::{shares, Parties, ProgramTerms, Recurring};
    use reftrack_protocol::{CanonicalOrder, Currency, LineItem, OrderId, PartnerCode, ProgramCode};
    use std::collections::HashMap;
    use time::macros::datetime;

    const DAY: i64 = 86_400_000;

    #[test]
    fn kim_sells_jane_earns_tier_two_john_earns_the_lead_share_then_refunds_and_payouts() {
        let standard = ProgramTerms {
            code: ProgramCode::parse("standard").unwrap(),
            sale: Terms { default: Rate::Bps(3000), products: HashMap::new() },
            lead: Some(Rate::Bps(500)),
            tier_bps: [1000, 0],
            recurring: Recurring::Every,
        };
        let order = CanonicalOrder {
            order_id: OrderId::parse("api:1").unwrap(),
            occurred_at: datetime!(2026-11-01 10:00 UTC),
            currency: Currency::parse("USD").unwrap(),
            items: vec![LineItem { sku: "course".into(), name: String::new(), quantity: 1, unit_price_minor: 9900 }],
            total_minor: 9900,
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            customer: Default::default(),
            attribution: Default::default(),
            source: "api".into(),
            renewal: false,
            subscription_id: None,
        };
        let [kim, jane, john] = ["kim", "jane", "john"].map(|c| PartnerCode::parse(c).unwrap());
        let usd = Currency::parse("USD").unwrap();
        let parties =
            Parties { sale: Some((&kim, &standard)), ancestors: vec![&jane], lead: Some((&john, &standard)), ..Parties::default() };
        let earned = shares(&order, &parties);
        let amounts: Vec<(&str, i64)> = earned.iter().map(|s| (s.partner.as_str(), s.amount_minor)).collect();
        assert_eq!(amounts, [("kim", 2970), ("jane", 990), ("john", 495)]);

        let approved_at = 30 * DAY; // 1 December, relative to the order
        let mut ledger: Vec<Entry> = Vec::new();
        let push = |ledger: &mut Vec<Entry>, partner: &PartnerCode, kind, amount| {
            let id = ledger.len() as i64 + 1;
            ledger.push(Entry {
                id,
                partner: partner.clone(),
                kind,
                amount_minor: amount,
                currency: usd,
                available_at_ms: approved_at,
                payout_id: None,
            });
        };
        for s in &earned {
            push(&mut ledger, &s.partner, Kind::Earned, s.amount_minor);
        }
        // 10 November: a third refunded.
        for s in &earned {
            push(&mut ledger, &s.partner, Kind::Clawback, -clawback(s.amount_minor, 9900, 0, 3300, 0));
        }
        assert_eq!(ledger[3..].iter().map(|e| e.amount_minor).collect::<Vec<_>>(), [-990, -330, -165]);
        assert!(plan_payouts(&ledger, 300, 9 * DAY).is_empty(), "still pending on 10 November");

        // 2 December: the payout run.
        let plans = plan_payouts(&ledger, 300, 31 * DAY);
        let paid: Vec<(&str, i64)> = plans.iter().map(|p| (p.partner.as_str(), p.amount_minor)).collect();
        assert_eq!(paid, [("jane", 660), ("john", 330), ("kim", 1980)]);
        for (n, plan) in plans.iter().enumerate() {
            for e in ledger.iter_mut().filter(|e| plan.entry_ids.contains(&e.id)) {
                e.payout_id = Some(n as i64 + 1);
            }
            let id = ledger.len() as i64 + 1;
            ledger.push(Entry {
                id,
                partner: plan.partner.clone(),
                kind: Kind::Payout,
                amount_minor: -plan.amount_minor,
                currency: usd,
                available_at_ms: 31 * DAY,
                payout_id: Some(n as i64 + 1),
            });
        }

        // 5 December: the rest refunded; Kim's clawback of paid commission is a negative balance.
        push(&mut ledger, &kim, Kind::Clawback, -clawback(2970, 9900, 3300, 6600, 990));
        let mut kims: Vec<Entry> = ledger.iter().filter(|e| e.partner == kim).cloned().collect();
        assert_eq!(balances(&kims, 34 * DAY)[0].balance_minor, -1980);
        // Her next $50.00, once approved, pays out 30.20.
        kims.push(Entry {
            id: 99,
            partner: kim.clone(),
            kind: Kind::Earned,
            amount_minor: 5000,
            currency: usd,
            available_at_ms: 70 * DAY,
            payout_id: None,
        });
        assert!(plan_payouts(&kims, 300, 60 * DAY).is_empty());
        assert_eq!(plan_payouts(&kims, 300, 70 * DAY)[0].amount_minor, 3020);
    }
}
