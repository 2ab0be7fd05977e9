//! What a partner in a program (saved or not yet) earns on a sample order, by the real rules
//! ([`split::shares`]): the partner who made the sale, their parent (tier 2) and grandparent
//! (tier 3), a lead partner who brought the buyer, and the products' owners. The admin page
//! shows it while the merchant types; nothing is saved.

use super::admin::{self, invalid, product_of, AdminError, ProductInput, ProgramInput};
use crate::domain::split::{self, Parties, ProductOwner};
use crate::store::Store;
use reftrack_protocol::{CanonicalOrder, Currency, LineItem, OrderId, PartnerCode, MAX_AMOUNT_MINOR, MAX_QUANTITY};
use serde::{Deserialize, Serialize};

/// The program as typed, its product overrides, and the sample order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub program: ProgramInput,
    #[serde(default)]
    pub products: Vec<ProductInput>,
    pub sample: Sample,
}

/// A sample order of one product.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    #[serde(default = "usd")]
    pub currency: String,
    /// The product sold (its override applies, if any).
    #[serde(default)]
    pub sku: String,
    #[serde(default = "one")]
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// 0 for a first payment, N for the Nth renewal.
    #[serde(default)]
    pub renewal: u32,
}

fn usd() -> String {
    "USD".into()
}

fn one() -> i64 {
    1
}

/// One share of the sample order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewShare {
    /// `partner` (who made the sale), `parent`, `grandparent`, `lead` (who brought the buyer
    /// earlier), or the owner's partner code.
    pub who: String,
    pub role: &'static str,
    pub amount_minor: i64,
}

/// What everyone earns on the sample order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub currency: Currency,
    pub total_minor: i64,
    pub shares: Vec<PreviewShare>,
}

const PARTNER: &str = "_partner";
const PARENT: &str = "_parent";
const GRANDPARENT: &str = "_grandparent";
const LEAD: &str = "_lead";

/// Checks the program and overrides as they would be saved, then splits the sample order.
pub async fn preview(store: &Store, input: PreviewInput) -> Result<Preview, AdminError> {
    let mut program = input.program;
    if program.code.trim().is_empty() {
        program.code = "preview".into();
    }
    let program = admin::program_of(program)?;
    let mut overrides = Vec::with_capacity(input.products.len());
    for o in input.products {
        overrides.push(product_of(store, o).await?);
    }
    let s = input.sample;
    let currency = Currency::parse(s.currency.trim()).map_err(|e| invalid("currency", e.to_string()))?;
    if !(1..=MAX_QUANTITY).contains(&s.quantity) {
        return Err(invalid("quantity", format!("must be 1–{MAX_QUANTITY}")));
    }
    if !(0..=MAX_AMOUNT_MINOR).contains(&s.unit_price_minor) {
        return Err(invalid("unit_price_minor", "must be 0–10^12 minor units"));
    }
    let total_minor = s
        .unit_price_minor
        .checked_mul(s.quantity)
        .filter(|t| *t <= MAX_AMOUNT_MINOR)
        .ok_or_else(|| invalid("quantity", "the order is too large"))?;
    let order = CanonicalOrder {
        order_id: OrderId::parse("preview").expect("a valid id"),
        occurred_at: time::OffsetDateTime::UNIX_EPOCH,
        currency,
        items: vec![LineItem {
            sku: s.sku.trim().to_owned(),
            name: String::new(),
            quantity: s.quantity,
            unit_price_minor: s.unit_price_minor,
        }],
        total_minor,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        customer: Default::default(),
        attribution: Default::default(),
        source: "preview".into(),
        renewal: s.renewal > 0,
        subscription_id: None,
    };
    let terms = program.fact(&overrides).terms;
    let owners: Vec<ProductOwner> = overrides
        .iter()
        .filter_map(|o| {
            Some(ProductOwner {
                sku: o.sku.clone(),
                partner: o.owner.clone()?,
                bps: o.owner_bps?,
                program: program.code.clone(),
                recurring: program.recurring,
            })
        })
        .collect();
    let code = |raw: &str| PartnerCode::parse(raw).expect("a valid code");
    let (partner, parent, grandparent, lead) = (code(PARTNER), code(PARENT), code(GRANDPARENT), code(LEAD));
    let parties = Parties {
        sale: Some((&partner, &terms)),
        ancestors: vec![&parent, &grandparent],
        lead: Some((&lead, &terms)),
        buyers: Vec::new(),
        renewal: (s.renewal > 0).then_some(s.renewal),
        owners: owners.iter().collect(),
    };
    let shares = split::shares(&order, &parties)
        .into_iter()
        .map(|share| PreviewShare {
            who: match share.partner.as_str() {
                PARTNER => "partner".to_owned(),
                PARENT => "parent".to_owned(),
                GRANDPARENT => "grandparent".to_owned(),
                LEAD => "lead".to_owned(),
                owner => owner.to_owned(),
            },
            role: share.role.as_str(),
            amount_minor: share.amount_minor,
        })
        .collect();
    Ok(Preview { currency, total_minor, shares })
}
