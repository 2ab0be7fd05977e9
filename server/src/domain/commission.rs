//! How much a credited partner earns on an order, and how much a refund claws back.
//!
//! Rounding: every percentage is computed per order line in integer minor units as
//! `amount × bps / 10 000`, rounded half away from zero (so 0.5 cent becomes 1 cent).
//! Clawbacks are pro rata of the refunded share of the order total and are computed on the
//! cumulative refunded amount, so several partial refunds never claw back more (or less) than
//! one refund of the same total would.

use reftrack_protocol::CanonicalOrder;
use std::collections::HashMap;

/// How a program (or a product within it) pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// A share of the amount, in basis points (1 % = 100).
    Bps(i64),
    /// A fixed amount in minor units (per unit for a product override, per order for a program).
    Flat(i64),
}

/// The commission terms that apply to one partner on one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub default: Rate,
    pub products: HashMap<String, Rate>,
}

/// `amount × bps / 10 000`, rounded half away from zero.
pub fn apply_bps(amount_minor: i64, bps: i64) -> i64 {
    let product = i128::from(amount_minor) * i128::from(bps);
    let half = if product >= 0 { 5_000 } else { -5_000 };
    ((product + half) / 10_000) as i64
}

/// Commission on an order. Lines with a product override earn that override (a flat override is
/// per unit). Other lines earn the program's rate; a flat program rate is paid once per order if
/// any line falls to it. An order without lines earns the default on its total. Rates apply to
/// what was paid for each line: its amount less its share of the order's discount (shipping and
/// tax earn nothing).
pub fn commission(order: &CanonicalOrder, terms: &Terms) -> i64 {
    if order.items.is_empty() {
        return match terms.default {
            Rate::Bps(bps) => apply_bps(order.total_minor, bps),
            Rate::Flat(flat) => clamp_amount(i128::from(flat)),
        };
    }
    // Summed wide: flat amounts per unit times quantities can exceed 64 bits before the cap.
    let mut total = 0i128;
    let mut any_default_line = false;
    for (item, line_amount) in order.items.iter().zip(order.net_line_amounts()) {
        match terms.products.get(&item.sku) {
            Some(Rate::Bps(bps)) => total += i128::from(apply_bps(line_amount, *bps)),
            Some(Rate::Flat(flat)) => total += i128::from(*flat) * i128::from(item.quantity),
            None => {
                any_default_line = true;
                if let Rate::Bps(bps) = terms.default {
                    total += i128::from(apply_bps(line_amount, bps));
                }
            }
        }
    }
    if let (true, Rate::Flat(flat)) = (any_default_line, terms.default) {
        total += i128::from(flat);
    }
    clamp_amount(total)
}

/// An amount within what the ledger holds (0 to 10^12 minor units): commissions are never
/// negative and never beyond what any amount may be.
fn clamp_amount(amount: i128) -> i64 {
    amount.clamp(0, i128::from(reftrack_protocol::MAX_AMOUNT_MINOR)) as i64
}

/// The clawback a new refund causes for one commission: the pro-rata share of the commission for
/// all refunds so far (capped at the order total) minus what earlier refunds already clawed back.
pub fn clawback(
    commission_minor: i64,
    order_total_minor: i64,
    refunded_before_minor: i64,
    refund_minor: i64,
    clawed_before_minor: i64,
) -> i64 {
    if commission_minor <= 0 {
        return 0;
    }
    if order_total_minor <= 0 {
        // Nothing to prorate against: any refund takes the whole commission back.
        return commission_minor - clawed_before_minor;
    }
    let refunded = (refunded_before_minor + refund_minor).min(order_total_minor);
    let numerator = i128::from(commission_minor) * i128::from(refunded);
    let denominator = i128::from(order_total_minor);
    let target = ((numerator * 2 + denominator) / (denominator * 2)) as i64;
    (target - clawed_before_minor).clamp(0, commission_minor - clawed_before_minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reftrack_protocol::{Currency, LineItem, OrderId};
    use time::macros::datetime;

    fn order(lines: &[(&str, i64, i64)]) -> CanonicalOrder {
        let items: Vec<LineItem> = lines
            .iter()
            .map(|(sku, qty, price)| LineItem { sku: (*sku).into(), name: String::new(), quantity: *qty, unit_price_minor: *price })
            .collect();
        CanonicalOrder {
            order_id: OrderId::parse("api:1").unwrap(),
            occurred_at: datetime!(2026-11-01 10:00 UTC),
            currency: Currency::parse("USD").unwrap(),
            total_minor: items.iter().map(|i| i.quantity * i.unit_price_minor).sum(),
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            items,
            customer: Default::default(),
            attribution: Default::default(),
            source: "api".into(),
            renewal: false,
            subscription_id: None,
        }
    }

    fn terms(default: Rate, products: &[(&str, Rate)]) -> Terms {
        Terms { default, products: products.iter().map(|(s, r)| ((*s).to_owned(), *r)).collect() }
    }

    #[test]
    fn thirty_percent_of_a_99_dollar_course_is_29_70() {
        assert_eq!(commission(&order(&[("course", 1, 9900)]), &terms(Rate::Bps(3000), &[])), 2970);
    }

    #[test]
    fn half_a_cent_rounds_away_from_zero() {
        // 12.5 % of 1.00 = 12.5 cents → 13; of 0.99 = 12.375 → 12.
        assert_eq!(apply_bps(100, 1250), 13);
        assert_eq!(apply_bps(99, 1250), 12);
        assert_eq!(apply_bps(-100, 1250), -13);
    }

    #[test]
    fn a_product_override_beats_the_program_rate() {
        let t = terms(Rate::Bps(2000), &[("ebook", Rate::Bps(5000)), ("kit", Rate::Flat(300))]);
        // ebook 2 × 10.00 at 50 % = 10.00; kit 3 × 20.00 at 3.00 each = 9.00; course 100.00 at 20 % = 20.00.
        let o = order(&[("ebook", 2, 1000), ("kit", 3, 2000), ("course", 1, 10000)]);
        assert_eq!(commission(&o, &t), 1000 + 900 + 2000);
    }

    #[test]
    fn a_flat_program_rate_is_paid_once_per_order() {
        let t = terms(Rate::Flat(2500), &[]);
        assert_eq!(commission(&order(&[("a", 1, 100), ("b", 5, 100)]), &t), 2500);
        let only_overrides = terms(Rate::Flat(2500), &[("a", Rate::Bps(1000))]);
        assert_eq!(commission(&order(&[("a", 1, 1000)]), &only_overrides), 100);
    }

    #[test]
    fn a_rate_is_paid_on_what_each_line_cost_after_the_discount() {
        // 99.00 course with a 9.00 coupon, 5.00 shipping and 8.00 tax: 30 % of 90.00 = 27.00.
        let mut o = order(&[("course", 1, 9900)]);
        (o.discount_minor, o.shipping_minor, o.tax_minor) = (900, 500, 800);
        o.total_minor = 9900 - 900 + 500 + 800;
        o.validate().unwrap();
        assert_eq!(commission(&o, &terms(Rate::Bps(3000), &[])), 2700);
    }

    #[test]
    fn a_flat_amount_per_unit_never_overflows_and_is_capped() {
        let t = terms(Rate::Bps(0), &[("kit", Rate::Flat(reftrack_protocol::MAX_AMOUNT_MINOR))]);
        let o = order(&[("kit", 1_000_000, 1)]);
        assert_eq!(commission(&o, &t), reftrack_protocol::MAX_AMOUNT_MINOR);
    }

    #[test]
    fn an_order_without_lines_earns_on_its_total() {
        let mut o = order(&[]);
        o.total_minor = 5000;
        assert_eq!(commission(&o, &terms(Rate::Bps(1000), &[])), 500);
    }

    #[test]
    fn a_full_refund_claws_back_everything() {
        assert_eq!(clawback(2970, 9900, 0, 9900, 0), 2970);
    }

    #[test]
    fn partial_refunds_are_pro_rata_and_sum_to_the_whole() {
        // 1/3 of the order three times: 990, 990, 990 of 2970.
        let first = clawback(2970, 9900, 0, 3300, 0);
        let second = clawback(2970, 9900, 3300, 3300, first);
        let third = clawback(2970, 9900, 6600, 3300, first + second);
        assert_eq!((first, second, third), (990, 990, 990));
        // Odd splits still add up exactly: 1001 commission refunded in halves of a 3-cent order.
        let a = clawback(1001, 3, 0, 1, 0);
        let b = clawback(1001, 3, 1, 1, a);
        let c = clawback(1001, 3, 2, 1, a + b);
        assert_eq!(a + b + c, 1001);
    }

    #[test]
    fn refunding_more_than_the_order_never_claws_back_more_than_was_earned() {
        assert_eq!(clawback(500, 1000, 800, 800, 400), 100);
        assert_eq!(clawback(500, 1000, 1000, 100, 500), 0);
        assert_eq!(clawback(0, 1000, 0, 1000, 0), 0);
    }
}
