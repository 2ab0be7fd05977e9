//! What partners and the merchant see: figures, balances, fraud counts, commission structure and
//! links, gathered from storage for the Partner Center, the admin view and their CSV export.

use super::csv_text::cell;
use crate::domain::fraud::Reason;
use crate::domain::ledger::Balance;
use crate::domain::period::Period;
use crate::store::{DayFigures, DbError, FigureRow, Figures, Link, LinkFigures, ProductOverride, ProductSold, Program, SourceCount, Store};
use reftrack_protocol::{Email, LinkCode, PartnerCode, ProgramCode, SubId};
use serde::Serialize;
use std::collections::BTreeMap;

/// A partner's stats: totals, by link and SubID, by day, by product, and fraud counts.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub partner: PartnerCode,
    #[serde(flatten)]
    pub total: Figures,
    pub by_link: Vec<ByKey>,
    pub by_sub_id: Vec<ByKey>,
    /// Per UTC day (days since 1970-01-01), only days with activity.
    pub daily: Vec<DayFigures>,
    pub products: Vec<ProductSold>,
    pub fraud: BTreeMap<String, i64>,
    /// Opt-ins by where they came from (`browser`, `api`, `zoom`, `typeform`…).
    pub opt_ins_by_source: Vec<SourceCount>,
}

/// Figures for one link or one SubID (`null` where the credit had none).
#[derive(Debug, Serialize)]
pub struct ByKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Option<LinkCode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_id: Option<Option<SubId>>,
    #[serde(flatten)]
    pub figures: Figures,
}

fn add(into: &mut Figures, f: &Figures) {
    into.hits += f.hits;
    into.opt_ins += f.opt_ins;
    into.orders += f.orders;
    into.unverified_conversions += f.unverified_conversions;
    into.revenue_minor += f.revenue_minor;
    into.commission_minor += f.commission_minor;
    into.clawback_minor += f.clawback_minor;
}

/// Sums rows into a total and per-link / per-SubID breakdowns.
pub fn summarise(partner: PartnerCode, rows: &[FigureRow]) -> Stats {
    let mut total = Figures::default();
    let mut by_link: BTreeMap<Option<LinkCode>, Figures> = BTreeMap::new();
    let mut by_sub: BTreeMap<Option<SubId>, Figures> = BTreeMap::new();
    for row in rows {
        add(&mut total, &row.figures);
        add(by_link.entry(row.link.clone()).or_default(), &row.figures);
        add(by_sub.entry(row.sub_id.clone()).or_default(), &row.figures);
    }
    Stats {
        partner,
        total,
        by_link: by_link.into_iter().map(|(link, figures)| ByKey { link: Some(link), sub_id: None, figures }).collect(),
        by_sub_id: by_sub.into_iter().map(|(sub, figures)| ByKey { link: None, sub_id: Some(sub), figures }).collect(),
        daily: Vec::new(),
        products: Vec::new(),
        fraud: BTreeMap::new(),
        opt_ins_by_source: Vec::new(),
    }
}

/// A partner's opt-ins by source over the period.
pub async fn opt_ins_by_source(store: &Store, partner: &str, period: Period) -> Result<Vec<SourceCount>, DbError> {
    Ok(store.opt_ins_by_source(Some(partner), period.from_ms, period.to_ms).await?.into_iter().map(|(_, c)| c).collect())
}

/// Opt-ins by source, summed over `rows` (the merchant's total).
pub fn total_by_source(rows: &[PartnerRow]) -> Vec<SourceCount> {
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for c in rows.iter().flat_map(|r| &r.opt_ins_by_source) {
        *totals.entry(c.source.as_str()).or_default() += c.opt_ins;
    }
    totals.into_iter().map(|(source, opt_ins)| SourceCount { source: source.to_owned(), opt_ins }).collect()
}

/// Fraud signals by reason, every reason present (zero when none).
pub async fn fraud_counts(store: &Store, partner: Option<&str>, period: Period) -> Result<BTreeMap<String, i64>, DbError> {
    let mut counts = every_reason();
    for (reason, n) in store.fraud_counts(partner, period.from_ms, period.to_ms).await? {
        counts.insert(reason, n);
    }
    Ok(counts)
}

/// A partner's balances now, per currency.
pub async fn balances(store: &Store, partner: &str, now_ms: i64) -> Result<Vec<Balance>, DbError> {
    Ok(store.balances(Some(partner), now_ms).await?.into_iter().map(|(_, b)| b).collect())
}

/// One row of the merchant's partner report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartnerRow {
    pub partner: PartnerCode,
    pub name: String,
    pub email: Email,
    pub parent: Option<PartnerCode>,
    #[serde(flatten)]
    pub figures: Figures,
    pub balances: Vec<Balance>,
    pub fraud: BTreeMap<String, i64>,
    pub opt_ins_by_source: Vec<SourceCount>,
    pub active: bool,
}

/// Every partner with the figures of the period, balances now and fraud counts: a few grouped
/// queries, however many partners there are.
pub async fn partner_rows(store: &Store, period: Period, now_ms: i64) -> Result<Vec<PartnerRow>, DbError> {
    let mut figures = store.figures_by_partner(period.from_ms, period.to_ms).await?;
    let mut balances: BTreeMap<PartnerCode, Vec<Balance>> = BTreeMap::new();
    for (partner, b) in store.balances(None, now_ms).await? {
        balances.entry(partner).or_default().push(b);
    }
    let mut sources: BTreeMap<PartnerCode, Vec<SourceCount>> = BTreeMap::new();
    for (partner, count) in store.opt_ins_by_source(None, period.from_ms, period.to_ms).await? {
        sources.entry(partner).or_default().push(count);
    }
    let mut fraud: BTreeMap<PartnerCode, BTreeMap<String, i64>> = BTreeMap::new();
    for (partner, reason, n) in store.fraud_counts_by_partner(period.from_ms, period.to_ms).await? {
        fraud.entry(partner).or_insert_with(every_reason).insert(reason, n);
    }
    Ok(store
        .partners()
        .await?
        .into_iter()
        .map(|p| PartnerRow {
            figures: figures.remove(&p.code).unwrap_or_default(),
            balances: balances.remove(&p.code).unwrap_or_default(),
            fraud: fraud.remove(&p.code).unwrap_or_else(every_reason),
            opt_ins_by_source: sources.remove(&p.code).unwrap_or_default(),
            active: p.active,
            partner: p.code,
            name: p.name,
            email: p.email,
            parent: p.parent,
        })
        .collect())
}

/// Every fraud reason at zero.
fn every_reason() -> BTreeMap<String, i64> {
    Reason::ALL.iter().map(|r| (r.as_str().to_owned(), 0)).collect()
}

/// A link with its figures over a period.
#[derive(Debug, Clone, Serialize)]
pub struct LinkRow {
    #[serde(flatten)]
    pub link: Link,
    #[serde(flatten)]
    pub figures: LinkFigures,
}

/// Every link with its hits, opt-ins and orders over the period.
pub async fn link_rows(store: &Store, period: Period) -> Result<Vec<LinkRow>, DbError> {
    let mut figures = store.link_figures(period.from_ms, period.to_ms).await?;
    Ok(store
        .links()
        .await?
        .into_iter()
        .map(|link| {
            let found = figures.iter().position(|(code, _)| *code == link.code).map(|i| figures.swap_remove(i).1);
            LinkRow { link, figures: found.unwrap_or_default() }
        })
        .collect())
}

/// The partner report as CSV: one line per partner and currency of their balance (one line with
/// empty balance columns for a partner without ledger entries).
pub fn partner_rows_csv(rows: &[PartnerRow]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "partner",
        "name",
        "email",
        "parent",
        "hits",
        "opt_ins",
        "orders",
        "revenue_minor",
        "commission_minor",
        "clawback_minor",
        "currency",
        "pending",
        "approved",
        "paid",
        "balance",
    ]
    .map(String::from)
    .to_vec();
    header.extend(Reason::ALL.iter().map(|r| r.as_str().to_owned()));
    out.write_record(&header)?;
    for r in rows {
        // A partner without ledger entries still gets a line, with empty balance columns.
        let balances: Vec<Option<&Balance>> = if r.balances.is_empty() { vec![None] } else { r.balances.iter().map(Some).collect() };
        for b in balances {
            let major = |minor: fn(&Balance) -> i64| b.map(|b| b.currency.format_major(minor(b))).unwrap_or_default();
            let f = &r.figures;
            let mut record = vec![
                r.partner.to_string(),
                cell(&r.name).into_owned(),
                cell(r.email.as_str()).into_owned(),
                r.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                f.hits.to_string(),
                f.opt_ins.to_string(),
                f.orders.to_string(),
                f.revenue_minor.to_string(),
                f.commission_minor.to_string(),
                f.clawback_minor.to_string(),
                b.map(|b| b.currency.to_string()).unwrap_or_default(),
                major(|b| b.pending_minor),
                major(|b| b.approved_minor),
                major(|b| b.paid_minor),
                major(|b| b.balance_minor),
            ];
            record.extend(Reason::ALL.iter().map(|reason| r.fraud.get(reason.as_str()).copied().unwrap_or(0).to_string()));
            out.write_record(&record)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A program as a partner sees it: its terms and product overrides.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProgramView {
    #[serde(flatten)]
    pub program: Program,
    pub products: Vec<ProductOverride>,
}

/// A link the partner may share, with the URL to share.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkView {
    pub code: LinkCode,
    pub name: String,
    pub destination: String,
    pub url: String,
}

/// Who the partner is, what they earn and the links they may use.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Profile {
    pub partner: PartnerCode,
    pub name: String,
    pub email: Email,
    pub parent: Option<PartnerCode>,
    pub programs: Vec<ProgramView>,
    pub links: Vec<LinkView>,
}

/// Whether a partner may use a link: their own, or an open link not limited to programs they
/// are not in.
pub fn may_use(link: &Link, partner: &PartnerCode, programs: &[ProgramCode]) -> bool {
    match &link.partner {
        Some(owner) => owner == partner,
        None => link.programs.is_empty() || link.programs.iter().any(|p| programs.contains(p)),
    }
}

/// The URL a partner shares for a link: their own link as it is, an open one with `?aff=`.
pub fn link_url(links_base: &str, link: &Link, partner: &PartnerCode) -> String {
    let mut url = format!("{}/go/{}", links_base.trim_end_matches('/'), link.code);
    if link.partner.is_none() {
        url.push_str("?aff=");
        url.push_str(partner.as_str());
    }
    url
}

/// Every program with its product overrides (for the merchant).
pub async fn programs(store: &Store) -> Result<Vec<ProgramView>, DbError> {
    let mut out = Vec::new();
    for program in store.programs().await? {
        out.push(ProgramView { products: store.product_overrides(program.code.as_str()).await?, program });
    }
    Ok(out)
}

/// The partner's profile; `links_base` is the tracking domain with its base path.
pub async fn profile(store: &Store, code: &str, links_base: &str) -> Result<Option<Profile>, DbError> {
    let Some(p) = store.partner(code).await? else { return Ok(None) };
    let mut programs = Vec::new();
    for program in &p.programs {
        if let Some(found) = store.program(program.as_str()).await? {
            // Who owns a product is the owner's business: others see the product's terms only.
            let products = store
                .product_overrides(program.as_str())
                .await?
                .into_iter()
                .map(|o| if o.owner.as_ref() == Some(&p.code) { o } else { ProductOverride { owner: None, owner_bps: None, ..o } })
                .filter(|o| o.rate().is_some() || o.owner.is_some())
                .collect();
            programs.push(ProgramView { products, program: found });
        }
    }
    let links = store
        .links()
        .await?
        .into_iter()
        .filter(|l| may_use(l, &p.code, &p.programs))
        .map(|l| {
            let url = link_url(links_base, &l, &p.code);
            LinkView { code: l.code, name: l.name, destination: l.destination, url }
        })
        .collect();
    Ok(Some(Profile { partner: p.code, name: p.name, email: p.email, parent: p.parent, programs, links }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(partner: Option<&str>, programs: &[&str]) -> Link {
        Link {
            code: LinkCode::parse("l").unwrap(),
            name: String::new(),
            destination: String::new(),
            partner: partner.map(|p| PartnerCode::parse(p).unwrap()),
            programs: programs.iter().map(|p| ProgramCode::parse(p).unwrap()).collect(),
        }
    }

    #[test]
    fn a_partner_sees_their_own_links_and_open_links_of_their_programs() {
        let mine = [ProgramCode::parse("standard").unwrap()];
        let jane = PartnerCode::parse("jane").unwrap();
        assert!(may_use(&link(Some("jane"), &[]), &jane, &mine));
        assert!(!may_use(&link(Some("john"), &[]), &jane, &mine));
        assert!(may_use(&link(None, &[]), &jane, &mine));
        assert!(may_use(&link(None, &["standard", "vip"]), &jane, &mine));
        assert!(!may_use(&link(None, &["vip"]), &jane, &mine));
    }
}
