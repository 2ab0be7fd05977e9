//! `POST /webhooks/{name}` for carts and for tools (handed to [`crate::tools::receive`]), `HEAD`
//! (which carts use to check the URL), `GET /healthz`,
//! `GET /metrics`. A webhook is answered 2xx only once what it carries is committed to the outbox;
//! a delivery that fails its cart's authentication is a 401 and stores nothing.

use crate::carts::{self, Cart, Delivery, Intake, PayloadError};
use crate::configuration::CartSecrets;
use crate::metrics::Metrics;
use crate::outbox::{AcceptError, Outbox};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

/// Largest webhook body accepted (Shopify orders with many lines are the largest).
pub const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub outbox: Outbox,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
    /// Each configured cart's secret and settings (carts without one are refused).
    pub carts: Arc<CartSecrets>,
    /// Webinar, form and scheduling tools' secrets and settings.
    pub tools: Arc<crate::tools::Settings>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": code, "message": message.into() }))).into_response()
}

fn unknown(name: &str) -> Response {
    let names: Vec<&str> = carts::CARTS.iter().map(|c| c.name()).chain(crate::tools::TOOLS.iter().map(|t| t.name)).collect();
    error(
        StatusCode::NOT_FOUND,
        "unknown_cart",
        format!("nothing is called {name:?} here: use /webhooks/ followed by one of {}", names.join(", ")),
    )
}

/// Receives one webhook delivery.
pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(cart) = carts::find(&name) {
        return receive_cart(&state, cart, &headers, query.as_deref().unwrap_or_default(), body).await;
    }
    // Webinar, form and scheduling tools bring opt-ins, not orders: they have their own intake.
    if let Some(tool) = crate::tools::find(&name) {
        return crate::tools::receive::receive(&state, tool, query.as_deref(), &headers, body).await;
    }
    unknown(&name)
}

/// `HEAD /webhooks/{name}`: carts that check a URL before saving it (ThriveCart) get a 200.
pub async fn probe(Path(name): Path<String>) -> StatusCode {
    if carts::find(&name).is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn receive_cart(
    state: &AppState,
    cart: &dyn Cart,
    headers: &HeaderMap,
    query: &str,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let name = cart.name();
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.reject(name, "payload_too_large");
            return error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body is larger than {MAX_BODY} bytes"));
        }
        Err(r) => return error(StatusCode::BAD_REQUEST, "unreadable_body", r.body_text()),
    };
    let delivery = Delivery { headers, query, body: &body, now: time::OffsetDateTime::now_utc().unix_timestamp() };
    // A URL check (WooCommerce's creation ping, ThriveCart's test post) carries nothing to store.
    if cart.is_probe(&delivery) {
        return (StatusCode::OK, Json(json!({ "status": "ping" }))).into_response();
    }
    let Some(config) = state.carts.get(name) else {
        state.metrics.reject(name, "cart_not_configured");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "cart_not_configured",
            format!("{} is not set: webhooks of this cart are refused, never accepted unauthenticated", cart.secret_env()),
        );
    };
    if let Err(e) = cart.authenticate(&delivery, config) {
        state.metrics.reject(name, e.code());
        return error(StatusCode::UNAUTHORIZED, e.code(), e.to_string());
    }
    let intake = match cart.parse(&delivery, config).and_then(|i| i.validate(name).map(|()| i)) {
        Ok(i) => i,
        Err(e) => {
            state.metrics.reject(name, "invalid_payload");
            let message = match e {
                PayloadError::Json(e) => format!("malformed payload: {e}"),
                PayloadError::Invalid(why) => why,
            };
            return error(StatusCode::BAD_REQUEST, "invalid_payload", message);
        }
    };
    store(state, name, intake).await
}

/// Commits what a delivery means and answers: 200 once it is in the outbox, 200 "ignored" when it
/// carries nothing we track, 503 with `Retry-After` when a refund's payment has not arrived yet.
pub async fn store(state: &AppState, source: &str, mut intake: Intake) -> Response {
    let nothing = intake.order.is_none() && intake.refunds.is_empty() && intake.notices.is_empty();
    if nothing {
        let why = intake.ignored.unwrap_or_else(|| "nothing to forward".into());
        Metrics::bump(&state.metrics.ignored);
        tracing::info!(cart = source, reason = %why, "webhook acknowledged, nothing to forward");
        return (StatusCode::OK, Json(json!({ "status": "ignored", "reason": why }))).into_response();
    }
    loop {
        match state.outbox.accept(&intake, source, crate::now_ms()).await {
            Ok(added) => {
                state.metrics.accepted.fetch_add(added, std::sync::atomic::Ordering::Relaxed);
                for notice in &intake.notices {
                    state.metrics.notice(source, notice.kind);
                    tracing::warn!(cart = source, kind = notice.kind, key = %notice.key, "money event forwarded as a notice");
                }
                state.wake.notify_one();
                return (StatusCode::OK, Json(json!({ "status": "accepted", "new": added }))).into_response();
            }
            Err(AcceptError::UnknownPayment(refund)) => {
                // Events arrive out of order: the cart retries, and by then the order is here. A
                // refund still unmatched long after it happened becomes a notice instead.
                if intake.unmatched_refund_as_notice(&refund, time::OffsetDateTime::now_utc()) {
                    continue;
                }
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "order_not_seen_yet",
                    format!("refund {refund}: its order has not arrived yet; retry later"),
                );
                r.headers_mut().insert(header::RETRY_AFTER, "60".parse().expect("static"));
                return r;
            }
            Err(AcceptError::Db(e)) => {
                tracing::error!(error = %e, "writing to the outbox failed");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the webhook could not be stored; retry");
            }
        }
    }
}

/// Liveness, with the outbox readable.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.outbox.depth().await {
        Ok((pending, dead)) => Json(json!({ "status": "ok", "pending": pending, "dead": dead })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "outbox_unavailable", e.to_string()),
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (pending, dead) = state.outbox.depth().await.unwrap_or((-1, -1));
    let text = state.metrics.render(pending, dead, &state.carts.status());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
