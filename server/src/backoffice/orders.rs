//! Orders for the merchant: a searchable list with how each was credited (or why not), one order
//! with its commissions, refunds and credit history, and crediting an order by hand — an
//! unattributed one, or moving one to another partner — with a reason. The ledger records the
//! cancelled shares and the new ones ([`plan_recredit`]); nothing booked is edited.

use super::admin::{invalid, partner_code, AdminError};
use crate::domain::correction::{commissions, plan_recredit, Commission, State};
use crate::domain::plan::{plan_manual_credit, ManualCreditRefusal, OrderFacts};
use crate::store::{CreditChange, DbError, LedgerRecord, NewCredit, OrderFilter, OrderRow, RefundRow, Store, StoredOrder};
use reftrack_protocol::{CanonicalOrder, ClickId, LineItem, PartnerCode};
use serde::{Deserialize, Serialize};

/// Most orders listed at once.
pub const MAX_LISTED: i64 = 500;

/// What the order list is filtered by, as given.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderQuery {
    pub status: Option<String>,
    pub partner: Option<String>,
    pub q: Option<String>,
    pub limit: Option<i64>,
}

/// Orders, newest first.
pub async fn list(store: &Store, q: OrderQuery) -> Result<Vec<OrderRow>, AdminError> {
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let status = blank(q.status);
    if let Some(s) = status.as_deref().filter(|s| !matches!(*s, "attributed" | "unattributed")) {
        return Err(invalid("status", format!("must be attributed or unattributed, not {s:?}")));
    }
    let partner = blank(q.partner);
    if let Some(p) = &partner {
        partner_code("partner", p)?;
    }
    let text = blank(q.q);
    if text.as_ref().is_some_and(|t| t.len() > 200) {
        return Err(invalid("q", "search for at most 200 characters"));
    }
    let limit = q.limit.unwrap_or(200);
    if !(1..=MAX_LISTED).contains(&limit) {
        return Err(invalid("limit", format!("must be 1–{MAX_LISTED}")));
    }
    Ok(store.list_orders(&OrderFilter { status, partner, q: text, limit }).await?)
}

/// A commission with where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct CommissionView {
    #[serde(flatten)]
    pub commission: Commission,
    pub remaining_minor: i64,
    pub state: State,
}

impl CommissionView {
    /// The view of `c` at `now_ms`.
    pub fn of(c: Commission, now_ms: i64) -> Self {
        CommissionView { remaining_minor: c.remaining_minor(), state: c.state(now_ms), commission: c }
    }
}

/// One order with everything recorded about it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub row: OrderRow,
    pub click_id: Option<ClickId>,
    pub items: Vec<LineItem>,
    pub refunds: Vec<RefundRow>,
    pub commissions: Vec<CommissionView>,
    pub entries: Vec<LedgerRecord>,
    /// The hand-made changes of its credit, oldest first.
    pub credits: Vec<CreditChange>,
}

fn view(stored: StoredOrder, now_ms: i64) -> OrderView {
    let facts: Vec<_> = stored.entries.iter().map(LedgerRecord::commission_entry).collect();
    let commissions = commissions(&facts).into_iter().map(|c| CommissionView::of(c, now_ms)).collect();
    OrderView {
        row: stored.row,
        click_id: stored.click_id,
        items: stored.order.items,
        refunds: stored.refunds,
        commissions,
        entries: stored.entries,
        credits: stored.credits,
    }
}

/// One order.
pub async fn detail(store: &Store, order_id: &str, now_ms: i64) -> Result<OrderView, AdminError> {
    let stored = store.stored_order(order_id).await?.ok_or_else(|| AdminError::Missing(format!("order {order_id}")))?;
    Ok(view(stored, now_ms))
}

/// Whom to credit an order to, and why (the partner sees the reason in their ledger).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    pub partner: String,
    pub reason: String,
}

/// Checks the merchant's reason for a correction: 1–500 printable characters.
pub fn reason_of(raw: &str) -> Result<String, AdminError> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(invalid("reason", "say why (the partner sees it in their ledger)"));
    }
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(invalid("reason", "must be at most 500 printable characters on one line"));
    }
    Ok(reason.to_owned())
}

/// Credits an order by hand to a partner (an unattributed order, or one moved from another).
pub async fn credit(store: &Store, order_id: &str, input: CreditInput, now_ms: i64) -> Result<OrderView, AdminError> {
    let partner = partner_code("partner", &input.partner)?;
    let reason = reason_of(&input.reason)?;
    let Some(p) = store.partner(partner.as_str()).await? else {
        return Err(AdminError::Unknown { field: "partner", what: format!("partner {partner}") });
    };
    if !p.active {
        return Err(invalid("partner", format!("{partner} is deactivated: activate them first")));
    }
    let stored = store.stored_order(order_id).await?.ok_or_else(|| AdminError::Missing(format!("order {order_id}")))?;
    let facts = credit_facts(store, &stored.order, &partner).await?;
    let outcome = store
        .recredit_order(order_id, now_ms, |current| {
            if current.row.partner.as_ref() == Some(&partner) {
                return Err(invalid("partner", format!("the order is already credited to {partner}")));
            }
            let plan = plan_manual_credit(&current.order, &facts, &partner).map_err(|e| match e {
                ManualCreditRefusal::UnknownPartner(code) => AdminError::Unknown { field: "partner", what: format!("partner {code}") },
                refusal @ ManualCreditRefusal::SelfReferral(_) => invalid("partner", refusal.to_string()),
            })?;
            let held: Vec<_> = current.entries.iter().map(LedgerRecord::commission_entry).collect();
            let refunded = current.refunded.amount(current.row.total_minor);
            let bookings = plan_recredit(&commissions(&held), &plan.bookings, current.row.total_minor, refunded, &reason);
            Ok(NewCredit {
                partner: partner.clone(),
                program: plan.program.clone(),
                commission_minor: plan.commission_minor(),
                reason: reason.clone(),
                bookings,
            })
        })
        .await;
    match outcome {
        Ok(Ok(after)) => Ok(view(after, now_ms)),
        Ok(Err(refusal)) => Err(refusal),
        Err(DbError::NotFound(_)) => Err(AdminError::Missing(format!("order {order_id}"))),
        Err(e) => Err(e.into()),
    }
}

/// What crediting `order` to `partner` reads: the partner with their parents, the contact's lead
/// partner, the products' owners, the subscription's payments, and every program they may earn
/// under with its product overrides.
async fn credit_facts(store: &Store, order: &CanonicalOrder, partner: &PartnerCode) -> Result<OrderFacts, DbError> {
    let mut facts = OrderFacts::default();
    if let Some(email) = &order.customer.email {
        facts.lead = store.contact_lead(email).await?;
    }
    if let (true, Some(subscription)) = (order.renewal, &order.subscription_id) {
        facts.payments = store.subscription_payments(subscription).await?;
    }
    let catalog = store.catalog().await?;
    facts.owners = catalog.owners_of(&order.items).await?;
    let wanted: Vec<PartnerCode> = std::iter::once(partner.clone())
        .chain(facts.lead.iter().map(|t| t.partner.clone()))
        .chain(facts.owners.iter().map(|o| o.partner.clone()))
        .collect();
    catalog.partners_and_parents(wanted, &mut facts.partners).await?;
    let mut programs: Vec<_> = facts.partners.values().flat_map(|p| p.programs.iter().cloned()).collect();
    programs.extend(facts.lead.iter().filter_map(|t| t.program.clone()));
    programs.extend(facts.owners.iter().map(|o| o.program.clone()));
    catalog.programs(programs, &mut facts.programs).await?;
    Ok(facts)
}
