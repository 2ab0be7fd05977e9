//! The Partner Center's data: `GET /v1/me`, `GET /v1/partners/{code}/profile`, `/ledger` and `/chart.svg`.
//! Each answers the admin key or that partner's own token, never another partner's.

use super::auth::{grant, require_partner_or_admin};
use super::error::ApiError;
use super::state::AppState;
use super::stats::StatsQuery;
use crate::backoffice::{chart, report};
use crate::domain::period::{parse_period, Period};
use crate::store::{KeyGrant, LedgerRecord};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

const DAY_MS: i64 = 86_400_000;
/// Most ledger entries listed (balances always cover all of them).
const MAX_ENTRIES: usize = 500;

/// Passes the admin key and the partner's own token, for a partner that exists.
async fn authorised(state: &AppState, headers: &HeaderMap, code: &str) -> Result<reftrack_protocol::PartnerCode, ApiError> {
    require_partner_or_admin(state, headers, code).await?;
    match state.store.partner(code).await? {
        Some(p) => Ok(p.code),
        None => Err(ApiError::not_found("unknown_partner", format!("no partner {code:?}"))),
    }
}

/// Who the partner is, their commission structure and the links they may share.
pub async fn profile(State(state): State<AppState>, Path(code): Path<String>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    authorised(&state, &headers, &code).await?;
    let profile = report::profile(&state.store, &code, &state.base_url()).await?;
    profile.map(Json).ok_or_else(|| ApiError::not_found("unknown_partner", format!("no partner {code:?}")))
}

/// The ledger answer: balances per currency and the newest entries.
#[derive(Debug, Serialize)]
pub struct LedgerView {
    pub partner: reftrack_protocol::PartnerCode,
    pub balances: Vec<crate::domain::ledger::Balance>,
    pub entries: Vec<LedgerRecord>,
}

/// The partner's balances and ledger entries, newest first.
pub async fn ledger(State(state): State<AppState>, Path(code): Path<String>, headers: HeaderMap) -> Result<Json<LedgerView>, ApiError> {
    let partner = authorised(&state, &headers, &code).await?;
    let balances = report::balances(&state.store, &code, state.clock.now_ms()).await?;
    let entries = state.store.recent_ledger_entries(&code, MAX_ENTRIES as i64).await?;
    Ok(Json(LedgerView { partner, balances, entries }))
}

/// Hits, opt-ins and orders per day as SVG, for `from`–`to` (default: the last 30 days).
pub async fn chart(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<StatsQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorised(&state, &headers, &code).await?;
    let given = parse_period(q.from.as_deref(), q.to.as_deref()).map_err(|m| ApiError::bad_request("invalid_period", m))?;
    let to_ms = if q.to.is_some() { given.to_ms } else { (state.clock.now_ms() / DAY_MS + 1) * DAY_MS };
    let from_ms = if q.from.is_some() { given.from_ms } else { to_ms - 30 * DAY_MS };
    if to_ms - from_ms > chart::MAX_DAYS * DAY_MS {
        return Err(ApiError::bad_request("invalid_period", format!("the chart covers at most {} days", chart::MAX_DAYS)));
    }
    let period = Period { from_ms, to_ms };
    state.intake.flush().await;
    let days = state.store.daily_figures(&code, period.from_ms, period.to_ms).await?;
    let svg = chart::daily_svg(&days, period.from_ms.div_euclid(DAY_MS), (period.to_ms - 1).div_euclid(DAY_MS));
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], svg))
}

/// Who a key belongs to, so the Partner Center can start from a token alone.
pub async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    match grant(&state, &headers).await? {
        Some(KeyGrant::Partner(code)) => Ok(Json(serde_json::json!({ "kind": "partner", "partner": code }))),
        Some(KeyGrant::Admin) => Ok(Json(serde_json::json!({ "kind": "admin" }))),
        None => Err(ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <admin key or partner token>")),
    }
}
