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

/// How long a sender is asked to wait when the outbox cannot be written.
pub const STORAGE_RETRY_AFTER_SECS: u32 = 30;

/// The answer when writing to the outbox failed: nothing was stored, so it is never a 2xx. A
/// storage fault (disk full, I/O, locked) is a 503 with `Retry-After`, since the same delivery
/// will be stored once the outbox can be written again; anything else is a 500. The cause is
/// logged here, once, and never sent.
pub fn storage_failed(e: &sqlx::Error, what: &str) -> Response {
    if crate::outbox::is_unavailable(e) {
        tracing::error!(error = %e, what, "the outbox cannot be written: answered 503, nothing stored");
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "outbox_unavailable",
            format!("the {what} could not be stored (the connector's outbox cannot be written right now); nothing was kept: retry later"),
        );
        r.headers_mut().insert(header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECS.into());
        r
    } else {
        tracing::error!(error = %e, what, "writing to the outbox failed");
        error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the {what} could not be stored; retry"))
    }
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
            Err(AcceptError::Db(e)) => return storage_failed(&e, "webhook"),
        }
    }
}

/// Readiness: 200 only when the outbox can be read and written now — a one-row write committed
/// as intake commits, and room for the largest delivery on its filesystem — so a full disk
/// answers 503 here (as every webhook then is), and its end 200 again, without a restart.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let depth = state.outbox.depth().await;
    let ready = state.outbox.readiness(crate::now_ms()).await;
    let health = state.outbox.write_health();
    let unready = match &depth {
        Err(e) => Some(format!("it cannot be read: {e}")),
        Ok(_) => ready.unready.clone(),
    };
    let (pending, dead) = depth.map_or((None, None), |(p, d)| (Some(p), Some(d)));
    let mut body = json!({
        "pending": pending,
        "dead": dead,
        "free_bytes": ready.free_bytes,
        "min_free_bytes": ready.min_free_bytes,
        "write_failures": health.write_failures,
        "last_write_failed": health.failing,
    });
    match unready {
        None => {
            body["status"] = "ok".into();
            Json(body).into_response()
        }
        Some(why) => {
            body["error"] = "outbox_unavailable".into();
            body["message"] = format!("the outbox cannot take writes ({why}): webhooks are answered 503 until it can").into();
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECS.into());
            r
        }
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (pending, dead) = state.outbox.depth().await.unwrap_or((-1, -1));
    let mut text = state.metrics.render(pending, dead, &state.carts.status());
    let health = state.outbox.write_health();
    text.push_str(&format!(
        "# HELP reftrack_connector_outbox_writable Whether the outbox's last write succeeded\n# TYPE reftrack_connector_outbox_writable gauge\nreftrack_connector_outbox_writable {}\n\
         # HELP reftrack_connector_outbox_write_failures_total Outbox writes that failed (nothing was acknowledged for them)\n# TYPE reftrack_connector_outbox_write_failures_total counter\nreftrack_connector_outbox_write_failures_total {}\n",
        u8::from(!health.failing),
        health.write_failures
    ));
    if let Some(free) = state.outbox.free_bytes() {
        text.push_str(&format!(
            "# HELP reftrack_connector_outbox_free_bytes Free space on the outbox's filesystem\n# TYPE reftrack_connector_outbox_free_bytes gauge\nreftrack_connector_outbox_free_bytes {free}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
