//! `GET /v1/partners/{code}/stats`: a partner's figures, in total, by link and SubID, by day, by
//! product, and the fraud signals counted against them.

use crate::auth::require_partner_or_admin;
use crate::domain::period::parse_period;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::{DayFigures, FigureRow, Figures, ProductSold};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Date range of the report.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The report.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub partner: String,
    #[serde(flatten)]
    pub total: Figures,
    pub by_link: Vec<ByKey>,
    pub by_sub_id: Vec<ByKey>,
    /// Per UTC day (days since 1970-01-01), only days with activity.
    pub daily: Vec<DayFigures>,
    pub products: Vec<ProductSold>,
    pub fraud: BTreeMap<String, i64>,
}

/// Figures for one link or one SubID (`null` where the credit had none).
#[derive(Debug, Serialize)]
pub struct ByKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_id: Option<Option<String>>,
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
pub fn summarise(partner: String, rows: &[FigureRow]) -> Stats {
    let mut total = Figures::default();
    let mut by_link: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    let mut by_sub: BTreeMap<Option<String>, Figures> = BTreeMap::new();
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
    }
}

/// Answers the partner's figures; the admin key or that partner's own token.
pub async fn partner_stats(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<StatsQuery>,
    headers: HeaderMap,
) -> Result<Json<Stats>, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    if state.store.partner(&code).await?.is_none() {
        return Err(ApiError::not_found("unknown_partner", format!("no partner {code:?}")));
    }
    let period = parse_period(q.from.as_deref(), q.to.as_deref()).map_err(|m| ApiError::bad_request("invalid_period", m))?;
    // Clicks and events may still be queued: report what has been acknowledged.
    state.writer.flush().await;
    let rows = state.store.figures(&code, period.from_ms, period.to_ms).await?;
    let mut stats = summarise(code.clone(), &rows);
    stats.daily = state.store.daily_figures(&code, period.from_ms, period.to_ms).await?;
    stats.products = state.store.products_sold(&code, period.from_ms, period.to_ms).await?;
    stats.fraud = crate::report::fraud_counts(state.store.as_ref(), Some(&code), period).await?;
    Ok(Json(stats))
}
