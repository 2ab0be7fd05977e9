//! The merchant's view: `GET /v1/admin/report` (every partner's figures, balances and fraud
//! counts, as JSON or `?format=csv`) and payouts (`GET /v1/admin/payouts/preview`,
//! `POST /v1/admin/payouts`, the runs' history `GET /v1/admin/payouts` and one run again,
//! `GET /v1/admin/payouts/{run_id}[?format=csv]`). Admin key only.

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::payouts::{self, PayoutLine};
use crate::backoffice::report;
use crate::domain::period::parse_period;
use crate::store::DbError;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Query of the admin views.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    min_balance: Option<String>,
}

fn wants_csv(q: &ReportQuery) -> Result<bool, ApiError> {
    match q.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::bad_request("invalid_format", format!("format must be json or csv, not {other:?}"))),
    }
}

fn csv_response(name: &str, status: StatusCode, body: Result<String, csv::Error>) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::Internal(e.into()))?;
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((status, [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

/// Every partner with the period's figures, balances and fraud counts.
pub async fn report(State(state): State<AppState>, Query(q): Query<ReportQuery>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&state, &headers).await?;
    let csv = wants_csv(&q)?;
    let period = parse_period(q.from.as_deref(), q.to.as_deref()).map_err(|m| ApiError::bad_request("invalid_period", m))?;
    state.intake.flush().await;
    let rows = report::partner_rows(&state.store, period, state.clock.now_ms()).await?;
    if csv {
        return csv_response("partners.csv", StatusCode::OK, report::partner_rows_csv(&rows));
    }
    let totals = report::fraud_counts(&state.store, None, period).await?;
    let sources = report::total_by_source(&rows);
    Ok(Json(serde_json::json!({ "partners": rows, "fraud": totals, "opt_ins_by_source": sources })).into_response())
}

fn min_balance(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(0),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|m| *m >= 0)
            .ok_or_else(|| ApiError::bad_request("invalid_min_balance", "min_balance must be a whole number of minor units ≥ 0")),
    }
}

fn payout_answer(lines: Vec<PayoutLine>, csv: bool, status: StatusCode) -> Result<Response, ApiError> {
    if csv {
        return csv_response("payouts.csv", status, payouts::to_csv(&lines));
    }
    Ok((status, Json(serde_json::json!({ "payouts": lines }))).into_response())
}

/// What a payout run would pay now (`?min_balance=`, minor units); nothing is marked.
pub async fn preview_payouts(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers).await?;
    let csv = wants_csv(&q)?;
    let lines = payouts::preview(&state.store, min_balance(q.min_balance.as_deref())?, state.clock.now_ms()).await?;
    payout_answer(lines, csv, StatusCode::OK)
}

/// The body of a payout run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutRun {
    #[serde(default)]
    min_balance_minor: i64,
}

/// Books the payouts due now and marks their entries paid; answers the lines (or their CSV).
pub async fn create_payouts(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
    RawBody(body): RawBody<1024>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers).await?;
    let csv = wants_csv(&q)?;
    let run: PayoutRun = if body.is_empty() { PayoutRun { min_balance_minor: 0 } } else { parse_json(&body)? };
    if run.min_balance_minor < 0 {
        return Err(ApiError::bad_request("invalid_min_balance", "min_balance_minor must be ≥ 0"));
    }
    match payouts::create(&state.store, run.min_balance_minor, state.clock.now_ms()).await {
        Ok(lines) => payout_answer(lines, csv, StatusCode::CREATED),
        Err(DbError::Conflict(m)) => Err(ApiError::conflict("payout_in_progress", format!("{m}; run it again"))),
        Err(e) => Err(e.into()),
    }
}

/// Every payout run, newest first.
pub async fn payout_history(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&state, &headers).await?;
    Ok(Json(serde_json::json!({ "runs": payouts::history(&state.store).await? })).into_response())
}

/// One payout run again, as JSON or the CSV it wrote (`?format=csv`).
pub async fn payout_run(
    State(state): State<AppState>,
    Path(run_id): Path<i64>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers).await?;
    let csv = wants_csv(&q)?;
    let Some(run) = payouts::run(&state.store, run_id).await? else {
        return Err(ApiError::not_found("unknown_payout_run", format!("no payout run {run_id}")));
    };
    if csv {
        return csv_response(&format!("payouts-{run_id}.csv"), StatusCode::OK, payouts::to_csv(&run.lines));
    }
    Ok(Json(run).into_response())
}
