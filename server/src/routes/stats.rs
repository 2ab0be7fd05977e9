//! `GET /v1/partners/{code}/stats`: a partner's figures, in total, by link and SubID, by day, by
//! product, opt-ins by source, and the fraud signals counted against them.

use super::auth::require_partner_or_admin;
use super::error::ApiError;
use super::state::AppState;
use crate::backoffice::report::{self, summarise, Stats};
use crate::domain::period::parse_period;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

/// Date range of the report.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Answers the partner's figures; the admin key or that partner's own token.
pub async fn partner_stats(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<StatsQuery>,
    headers: HeaderMap,
) -> Result<Json<Stats>, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    let Some(partner) = state.store.partner(&code).await? else {
        return Err(ApiError::not_found("unknown_partner", format!("no partner {code:?}")));
    };
    let period = parse_period(q.from.as_deref(), q.to.as_deref()).map_err(|m| ApiError::bad_request("invalid_period", m))?;
    // Clicks and events may still be queued: report what has been acknowledged.
    state.intake.flush().await;
    let rows = state.store.figures(&code, period.from_ms, period.to_ms).await?;
    let mut stats = summarise(partner.code, &rows);
    stats.daily = state.store.daily_figures(&code, period.from_ms, period.to_ms).await?;
    stats.products = state.store.products_sold(&code, period.from_ms, period.to_ms).await?;
    stats.fraud = report::fraud_counts(&state.store, Some(&code), period).await?;
    stats.opt_ins_by_source = report::opt_ins_by_source(&state.store, &code, period).await?;
    Ok(Json(stats))
}
