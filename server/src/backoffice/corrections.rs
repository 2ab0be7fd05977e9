//! Commissions for the merchant: the list by state, voiding an unpaid one or approving a pending
//! one early (each with a reason), and adjusting a partner's balance with a bonus or correction.
//! Each is new ledger entries ([`correction`](crate::domain::correction)), never an edit.

use super::admin::{invalid, AdminError};
use super::orders::{reason_of, CommissionView};
use crate::domain::correction::{self, commissions, CorrectionRefusal, State};
use crate::store::{Corrected, DbError, LedgerRecord, Store};
use reftrack_protocol::{Currency, PartnerCode};
use serde::Deserialize;

/// Which commissions to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CommissionQuery {
    pub partner: Option<String>,
    /// `pending`, `approved`, `paid`, `voided`, `closed` (none: all).
    pub state: Option<String>,
}

/// Commissions, newest first.
pub async fn list(store: &Store, q: CommissionQuery, now_ms: i64) -> Result<Vec<CommissionView>, AdminError> {
    let partner = q.partner.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = partner {
        if store.partner(p).await?.is_none() {
            return Err(AdminError::Unknown { field: "partner", what: format!("partner {p}") });
        }
    }
    let state = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some("pending") => Some(State::Pending),
        Some("approved") => Some(State::Approved),
        Some("paid") => Some(State::Paid),
        Some("voided") => Some(State::Voided),
        Some("closed") => Some(State::Closed),
        Some(other) => return Err(invalid("state", format!("must be pending, approved, paid, voided or closed, not {other:?}"))),
    };
    let entries: Vec<_> = store.ledger_entries(partner).await?.iter().map(LedgerRecord::commission_entry).collect();
    let mut out: Vec<CommissionView> =
        commissions(&entries).into_iter().map(|c| CommissionView::of(c, now_ms)).filter(|v| state.is_none_or(|s| v.state == s)).collect();
    out.reverse();
    Ok(out)
}

/// Why the merchant corrects a commission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    pub reason: String,
}

fn refused(r: CorrectionRefusal) -> AdminError {
    let code = match r {
        CorrectionRefusal::Paid => "already_paid",
        CorrectionRefusal::NothingLeft => "nothing_left",
        CorrectionRefusal::AlreadyApproved => "already_approved",
        CorrectionRefusal::BadAmount => return invalid("amount_minor", r.to_string()),
    };
    AdminError::Conflict { code, message: r.to_string() }
}

async fn correct(
    store: &Store,
    entry_id: i64,
    now_ms: i64,
    decide: impl FnOnce(&correction::Commission) -> Result<Vec<crate::domain::ledger::Booking>, CorrectionRefusal>,
) -> Result<CommissionView, AdminError> {
    match store.correct_commission(entry_id, now_ms, decide).await {
        Ok(Corrected::Booked(c)) => Ok(CommissionView::of(c, now_ms)),
        Ok(Corrected::NotACommission) => {
            Err(invalid("entry_id", format!("entry {entry_id} is not a commission: void or approve the commission's earned entry")))
        }
        Ok(Corrected::Refused(r)) => Err(refused(r)),
        Err(DbError::NotFound(_)) => Err(AdminError::Missing(format!("ledger entry {entry_id}"))),
        Err(e) => Err(e.into()),
    }
}

/// Voids what remains of an unpaid commission.
pub async fn void(store: &Store, entry_id: i64, input: ReasonInput, now_ms: i64) -> Result<CommissionView, AdminError> {
    let reason = reason_of(&input.reason)?;
    correct(store, entry_id, now_ms, |c| correction::plan_void(c, &reason).map(|b| vec![b])).await
}

/// Approves a pending commission now.
pub async fn approve(store: &Store, entry_id: i64, input: ReasonInput, now_ms: i64) -> Result<CommissionView, AdminError> {
    let reason = reason_of(&input.reason)?;
    correct(store, entry_id, now_ms, |c| correction::plan_early_approval(c, &reason, now_ms).map(Vec::from)).await
}

/// A bonus (positive) or correction (negative) of a partner's balance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
}

/// Books an adjustment of a partner's balance, payable at once.
pub async fn adjust(store: &Store, partner: &str, input: AdjustmentInput, now_ms: i64) -> Result<LedgerRecord, AdminError> {
    let code = PartnerCode::parse(partner).map_err(|_| AdminError::Missing(format!("partner {partner}")))?;
    if store.partner(code.as_str()).await?.is_none() {
        return Err(AdminError::Missing(format!("partner {partner}")));
    }
    let currency = Currency::parse(input.currency.trim()).map_err(|e| invalid("currency", e.to_string()))?;
    if !currency.is_iso4217() {
        return Err(invalid("currency", format!("{currency} is not an ISO 4217 currency")));
    }
    let reason = reason_of(&input.reason)?;
    let booking = correction::plan_adjustment(&code, input.amount_minor, &reason, now_ms).map_err(refused)?;
    Ok(store.book_adjustment(&booking, &currency, now_ms).await?)
}
