//! The records storage reads and writes. Codes and ids are the protocol's newtypes, so a value
//! read back is as valid as one that arrived; only free text (names, destinations) is a `String`.

use crate::domain::commission::{Rate, Terms};
use crate::domain::correction;
use crate::domain::fraud::Signal;
use crate::domain::ledger::{self, Kind};
use crate::domain::plan::{OrderPlan, PartnerFact, ProgramFact, TouchFact};
use crate::domain::split::{ProgramTerms, Recurring, Role};
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::{CanonicalOrder, ClickId, Currency, Email, LinkCode, OrderId, PartnerCode, ProgramCode, SubId};
use serde::{Deserialize, Serialize};

/// A commission program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub code: ProgramCode,
    #[serde(default)]
    pub name: String,
    pub rate_bps: i64,
    #[serde(default)]
    pub flat_minor: Option<i64>,
    pub window_days: i64,
    #[serde(default)]
    pub pixel_commission: bool,
    /// What a lead partner earns when another partner makes the sale: a rate of the total…
    #[serde(default)]
    pub lead_rate_bps: Option<i64>,
    /// …or a flat amount per order.
    #[serde(default)]
    pub lead_flat_minor: Option<i64>,
    /// The parent's share of the order total (tier 2), in basis points.
    #[serde(default)]
    pub tier2_bps: i64,
    /// The grandparent's share (tier 3), in basis points.
    #[serde(default)]
    pub tier3_bps: i64,
    /// Which renewals earn: `every`, `none` or `first:N`.
    #[serde(default)]
    pub recurring: Recurring,
    /// The refund window: commissions stay pending this many days after the order.
    #[serde(default = "default_hold")]
    pub hold_days: i64,
}

fn default_window() -> i64 {
    i64::from(DEFAULT_WINDOW_DAYS)
}

fn default_hold() -> i64 {
    30
}

impl Program {
    /// A program with default terms.
    pub fn new(code: ProgramCode) -> Self {
        Program {
            name: code.to_string(),
            code,
            rate_bps: 0,
            flat_minor: None,
            window_days: default_window(),
            pixel_commission: false,
            lead_rate_bps: None,
            lead_flat_minor: None,
            tier2_bps: 0,
            tier3_bps: 0,
            recurring: Recurring::Every,
            hold_days: default_hold(),
        }
    }

    /// The program and its product overrides as commission rules read them.
    pub fn fact(&self, overrides: &[ProductOverride]) -> ProgramFact {
        let default = match self.flat_minor {
            Some(flat) => Rate::Flat(flat),
            None => Rate::Bps(self.rate_bps),
        };
        let products = overrides.iter().filter_map(|o| Some((o.sku.clone(), o.rate()?))).collect();
        let lead = match (self.lead_flat_minor, self.lead_rate_bps) {
            (Some(flat), _) => Some(Rate::Flat(flat)),
            (None, Some(bps)) => Some(Rate::Bps(bps)),
            (None, None) => None,
        };
        let terms = ProgramTerms {
            code: self.code.clone(),
            sale: Terms { default, products },
            lead,
            tier_bps: [self.tier2_bps, self.tier3_bps],
            recurring: self.recurring,
        };
        ProgramFact { terms, hold_days: self.hold_days, pixel_commission: self.pixel_commission }
    }
}

/// A per-product rate or flat amount within a program, and the product's owner, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOverride {
    pub sku: String,
    #[serde(default)]
    pub rate_bps: Option<i64>,
    #[serde(default)]
    pub flat_minor: Option<i64>,
    /// The partner who owns the product: they earn `owner_bps` of its lines on every sale.
    #[serde(default)]
    pub owner: Option<PartnerCode>,
    #[serde(default)]
    pub owner_bps: Option<i64>,
}

impl ProductOverride {
    /// The rate it sets (a flat amount wins over a rate).
    pub fn rate(&self) -> Option<Rate> {
        match (self.flat_minor, self.rate_bps) {
            (Some(flat), _) => Some(Rate::Flat(flat)),
            (None, Some(bps)) => Some(Rate::Bps(bps)),
            (None, None) => None,
        }
    }
}

/// A partner (affiliate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub code: PartnerCode,
    pub name: String,
    pub email: Email,
    #[serde(default)]
    pub parent: Option<PartnerCode>,
    /// Sorted by code.
    #[serde(default)]
    pub programs: Vec<ProgramCode>,
    /// A deactivated partner's links stop crediting; their history stays.
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

impl Partner {
    /// What crediting reads of the partner.
    pub fn fact(&self) -> PartnerFact {
        PartnerFact { email: self.email.clone(), parent: self.parent.clone(), programs: self.programs.clone() }
    }
}

/// A tracking link; its destination comes only from here, never from a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub code: LinkCode,
    #[serde(default)]
    pub name: String,
    pub destination: String,
    #[serde(default)]
    pub partner: Option<PartnerCode>,
    /// Sorted by code; empty: open to every program.
    #[serde(default)]
    pub programs: Vec<ProgramCode>,
}

/// One counted click on a tracking link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub id: ClickId,
    pub link: LinkCode,
    pub partner: PartnerCode,
    pub sub_id: Option<SubId>,
    pub program: Option<ProgramCode>,
    pub at_ms: i64,
    pub expires_at_ms: i64,
    pub ip_hash: Option<String>,
}

impl Click {
    /// The click as a partner's touch.
    pub fn touch(&self) -> TouchFact {
        TouchFact {
            partner: self.partner.clone(),
            click_id: Some(self.id.clone()),
            link: Some(self.link.clone()),
            sub_id: self.sub_id.clone(),
            program: self.program.clone(),
            at_ms: self.at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }
}

/// An opt-in to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    pub click_id: Option<ClickId>,
    /// Used when there is no click (a server-side lead naming its partner).
    pub partner: Option<PartnerCode>,
    pub sub_id: Option<SubId>,
    pub email: Option<Email>,
    pub page: String,
    /// Where it came from: `browser`, `api`, or the tool (`zoom`, `typeform`…).
    pub source: String,
    pub at_ms: i64,
    /// Window of a lead without a click, for the contact's lead-partner record.
    pub window_ms: i64,
    /// Whether this opt-in may make its partner the email's lead partner: a signed lead, or a
    /// browser opt-in whose click the request's own cookie corroborates (and then only for a few
    /// contacts per click). Otherwise it counts as an opt-in and binds nobody.
    pub binds_contact: bool,
}

/// A conversion from the pixel or the snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversion {
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub click_id: Option<ClickId>,
    pub at_ms: i64,
    /// Commission booked on the conversion itself, for programs that pay on the pixel alone.
    pub pixel_credit: Option<Box<ledger::Booking>>,
    /// Who sent it (the visitor's IP hash): a pixel refired from one place counts once.
    pub source_key: String,
}

/// Ledger entries booked on an unverified conversion carry this prefix before the order id; the
/// signed order, when it arrives, replaces them with its own.
pub const PIXEL_LEDGER_PREFIX: &str = "pixel:";

/// A write the batch writer groups with others into one transaction.
#[derive(Debug, Clone)]
pub enum BatchWrite {
    Click(Click),
    Lead(NewLead),
    Conversion(NewConversion),
    Fraud(Signal),
}

/// An answer stored with an idempotent write, returned again on a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub body_hash: String,
    pub response_json: String,
}

/// A stored order's answer, with the partner it credited (who a reused id counts against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAnswer {
    pub answer: StoredAnswer,
    pub partner: Option<PartnerCode>,
}

/// The outcome of an idempotent write: the answer, and whether this call recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub answer: StoredAnswer,
    /// False when the id was already recorded (a replay or a reuse).
    pub fresh: bool,
}

/// An order to store, with its decision already made.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    pub order: &'a CanonicalOrder,
    pub plan: &'a OrderPlan,
    pub body_hash: &'a str,
    pub received_at_ms: i64,
    /// The answer returned now and to every replay.
    pub response_json: &'a str,
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRecord {
    pub id: i64,
    pub partner: PartnerCode,
    pub order_id: String,
    pub refund_id: Option<String>,
    #[serde(serialize_with = "kind_name")]
    pub kind: Kind,
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    pub program: Option<ProgramCode>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub at_ms: i64,
    pub available_at_ms: i64,
    pub payout_id: Option<i64>,
    /// Why the merchant booked it (voids, moves, approvals, adjustments, hand-made credits).
    pub reason: Option<String>,
    /// The entry it corrects.
    pub reverses_id: Option<i64>,
}

fn kind_name<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

fn role_name<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

impl LedgerRecord {
    /// The entry as balance rules see it.
    pub fn entry(&self) -> ledger::Entry {
        ledger::Entry {
            id: self.id,
            partner: self.partner.clone(),
            kind: self.kind,
            amount_minor: self.amount_minor,
            currency: self.currency,
            available_at_ms: self.available_at_ms,
            payout_id: self.payout_id,
        }
    }

    /// The entry as the merchant's corrections see it.
    pub fn commission_entry(&self) -> correction::CommissionEntry {
        correction::CommissionEntry {
            id: self.id,
            order_id: self.order_id.clone(),
            partner: self.partner.clone(),
            kind: self.kind,
            role: self.role,
            program: self.program.clone(),
            link: self.link.clone(),
            sub_id: self.sub_id.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency,
            available_at_ms: self.available_at_ms,
            paid: self.payout_id.is_some(),
        }
    }
}

/// Figures for one UTC day, for the chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
    pub commission_minor: i64,
}

/// Quantity and revenue of one product in a partner's credited orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSold {
    pub sku: String,
    pub name: String,
    pub currency: Currency,
    pub quantity: i64,
    pub revenue_minor: i64,
}

/// A payout as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub id: i64,
    pub partner: PartnerCode,
    pub currency: Currency,
    pub amount_minor: i64,
    pub created_at_ms: i64,
}

/// One row of figures, for a partner in total or per link / SubID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub hits: i64,
    pub opt_ins: i64,
    pub orders: i64,
    pub unverified_conversions: i64,
    pub revenue_minor: i64,
    pub commission_minor: i64,
    pub clawback_minor: i64,
}

/// Figures grouped by link and SubID; the caller sums them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FigureRow {
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub figures: Figures,
}

/// What an API key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyGrant {
    Admin,
    Partner(PartnerCode),
}
