//! Payout runs: what is due, booking it, and the CSV a merchant uploads to a payout provider.

use super::csv_text::cell;
use crate::domain::ledger::{self, PayoutPlan};
use crate::store::{DbError, Store};
use reftrack_protocol::{Currency, PartnerCode};
use std::collections::HashMap;

/// One line of a payout run, with what a payout provider needs to pay it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PayoutLine {
    /// Set once the payout is booked.
    pub payout_id: Option<i64>,
    pub partner: PartnerCode,
    pub name: String,
    pub email: String,
    pub currency: Currency,
    pub amount_minor: i64,
    /// The amount in major units, as written to the CSV (`29.70`).
    pub amount: String,
    pub entries: usize,
}

async fn plans(store: &Store, min_balance_minor: i64, now_ms: i64) -> Result<Vec<PayoutPlan>, DbError> {
    let entries: Vec<ledger::Entry> = store.unpaid_entries().await?.iter().map(|r| r.entry()).collect();
    Ok(ledger::plan_payouts(&entries, min_balance_minor, now_ms))
}

async fn lines(store: &Store, plans: &[PayoutPlan], ids: &[Option<i64>]) -> Result<Vec<PayoutLine>, DbError> {
    let partners: HashMap<PartnerCode, (String, String)> =
        store.partners().await?.into_iter().map(|p| (p.code, (p.name, p.email.to_string()))).collect();
    Ok(plans
        .iter()
        .zip(ids)
        .map(|(plan, id)| {
            let (name, email) = partners.get(&plan.partner).cloned().unwrap_or_default();
            let amount = plan.currency.format_major(plan.amount_minor);
            PayoutLine {
                payout_id: *id,
                partner: plan.partner.clone(),
                name,
                email,
                currency: plan.currency,
                amount_minor: plan.amount_minor,
                amount,
                entries: plan.entry_ids.len(),
            }
        })
        .collect())
}

/// What a payout run would pay now; nothing is marked.
pub async fn preview(store: &Store, min_balance_minor: i64, now_ms: i64) -> Result<Vec<PayoutLine>, DbError> {
    let plans = plans(store, min_balance_minor, now_ms).await?;
    lines(store, &plans, &vec![None; plans.len()]).await
}

/// Books the payouts due now and marks their entries paid, in one transaction.
pub async fn create(store: &Store, min_balance_minor: i64, now_ms: i64) -> Result<Vec<PayoutLine>, DbError> {
    let plans = plans(store, min_balance_minor, now_ms).await?;
    let booked = store.create_payouts(&plans, now_ms).await?;
    let ids: Vec<Option<i64>> = booked.iter().map(|p| Some(p.id)).collect();
    lines(store, &plans, &ids).await
}

/// One payout run as booked: every payout made at once, with its lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PayoutRun {
    /// The run's id: when it was booked (unix milliseconds), which all its payouts share.
    pub run_id: i64,
    pub lines: Vec<PayoutLine>,
    /// What the run paid, per currency.
    pub totals: Vec<(Currency, i64)>,
}

/// Every payout run, newest first.
pub async fn history(store: &Store) -> Result<Vec<PayoutRun>, DbError> {
    let partners: HashMap<PartnerCode, (String, String)> =
        store.partners().await?.into_iter().map(|p| (p.code, (p.name, p.email.to_string()))).collect();
    let mut runs: Vec<PayoutRun> = Vec::new();
    for p in store.payout_records().await? {
        let (name, email) = partners.get(&p.partner).cloned().unwrap_or_default();
        let line = PayoutLine {
            payout_id: Some(p.id),
            amount: p.currency.format_major(p.amount_minor),
            partner: p.partner,
            name,
            email,
            currency: p.currency,
            amount_minor: p.amount_minor,
            entries: usize::try_from(p.entries).unwrap_or_default(),
        };
        match runs.last_mut().filter(|r| r.run_id == p.created_at_ms) {
            Some(run) => run.lines.push(line),
            None => runs.push(PayoutRun { run_id: p.created_at_ms, lines: vec![line], totals: Vec::new() }),
        }
    }
    for run in &mut runs {
        let mut totals: Vec<(Currency, i64)> = Vec::new();
        for l in &run.lines {
            match totals.iter_mut().find(|(c, _)| *c == l.currency) {
                Some((_, sum)) => *sum += l.amount_minor,
                None => totals.push((l.currency, l.amount_minor)),
            }
        }
        totals.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        run.totals = totals;
    }
    Ok(runs)
}

/// One payout run, to download its CSV again.
pub async fn run(store: &Store, run_id: i64) -> Result<Option<PayoutRun>, DbError> {
    Ok(history(store).await?.into_iter().find(|r| r.run_id == run_id))
}

/// The CSV a payout provider takes: partner code, name, email, amount, currency (and our payout id).
pub fn to_csv(lines: &[PayoutLine]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["partner", "name", "email", "amount", "currency", "payout_id"])?;
    for l in lines {
        let id = l.payout_id.map(|id| id.to_string()).unwrap_or_default();
        out.write_record([l.partner.as_str(), &cell(&l.name), &cell(&l.email), &l.amount, l.currency.as_str(), &id])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_named_like_a_formula_is_written_as_text() {
        let line = PayoutLine {
            payout_id: Some(1),
            partner: PartnerCode::parse("eve").unwrap(),
            name: "=HYPERLINK(\"http://evil.example\",\"pay\")".into(),
            email: "@eve@partners.example".into(),
            currency: Currency::parse("USD").unwrap(),
            amount_minor: 100,
            amount: "1.00".into(),
            entries: 1,
        };
        let csv = to_csv(&[line]).unwrap();
        assert!(csv.contains("\"'=HYPERLINK("), "{csv}");
        assert!(csv.contains(",'@eve@partners.example,"), "{csv}");
    }

    #[test]
    fn the_csv_quotes_what_needs_quoting() {
        let line = PayoutLine {
            payout_id: Some(3),
            partner: PartnerCode::parse("jane").unwrap(),
            name: "Jane \"JP\" Partner, Esq.".into(),
            email: "jane@partners.example".into(),
            currency: Currency::parse("USD").unwrap(),
            amount_minor: 2970,
            amount: "29.70".into(),
            entries: 1,
        };
        assert_eq!(
            to_csv(&[line]).unwrap(),
            "partner,name,email,amount,currency,payout_id\njane,\"Jane \"\"JP\"\" Partner, Esq.\",jane@partners.example,29.70,USD,3\n"
        );
    }
}
