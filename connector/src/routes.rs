//! `POST /webhooks/{cart}` (and `/webhooks/{tool}`, handed to [`crate::tools::receive`]),
//! `GET /healthz`, `GET /metrics`. A webhook is answered 2xx only once what it carries is
//! committed to the outbox; a bad signature is a 401 and stores nothing.

use crate::carts::signatures::SignatureError;
use crate::carts::{generic, paddle, shopify, stripe, woocommerce, Cart, Intake, PayloadError};
use crate::metrics::Metrics;
use crate::outbox::{AcceptError, Outbox};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use reftrack_protocol::signature::{Verifier, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use serde_json::json;
use std::collections::HashMap;
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
    /// Each configured cart's secret (carts without one are refused).
    pub secrets: Arc<HashMap<Cart, String>>,
    pub generic: Option<Verifier>,
    pub stripe_tolerance: i64,
    pub paddle_tolerance: i64,
    /// Webinar, form and scheduling tools' secrets and settings.
    pub tools: Arc<crate::tools::Settings>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": code, "message": message.into() }))).into_response()
}

/// Receives one cart webhook.
pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Webinar, form and scheduling tools bring opt-ins, not orders: they have their own intake.
    if let Some(tool) = crate::tools::find(&name) {
        return crate::tools::receive::receive(&state, tool, query.as_deref(), &headers, body).await;
    }
    let Some(cart) = Cart::from_route(&name) else {
        return error(StatusCode::NOT_FOUND, "unknown_cart", "use /webhooks/stripe, shopify, woocommerce, paddle or generic");
    };
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.reject(cart.name(), "payload_too_large");
            return error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body is larger than {MAX_BODY} bytes"));
        }
        Err(r) => return error(StatusCode::BAD_REQUEST, "unreadable_body", r.body_text()),
    };
    // WooCommerce's creation ping is unsigned and carries nothing: answer 200, store nothing.
    if cart == Cart::WooCommerce && woocommerce::is_ping(&body) {
        return (StatusCode::OK, Json(json!({ "status": "ping" }))).into_response();
    }
    let Some(secret) = state.secrets.get(&cart) else {
        state.metrics.reject(cart.name(), "cart_not_configured");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "cart_not_configured",
            format!("{} is not set: webhooks of this cart are refused, never accepted unsigned", cart.secret_env()),
        );
    };
    if let Err(e) = verify(&state, cart, secret, &headers, &body) {
        state.metrics.reject(cart.name(), e.code());
        return error(StatusCode::UNAUTHORIZED, e.code(), e.to_string());
    }
    let topic = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let parsed: Result<Intake, PayloadError> = match cart {
        Cart::Stripe => stripe::parse(&body),
        Cart::Shopify => shopify::parse(&topic(shopify::TOPIC), &body),
        Cart::WooCommerce => woocommerce::parse(&topic(woocommerce::TOPIC), &body),
        Cart::Paddle => paddle::parse(&body),
        Cart::Generic => generic::parse(&body),
    };
    let intake = match parsed {
        Ok(i) => i,
        Err(e) => {
            state.metrics.reject(cart.name(), "invalid_payload");
            return error(StatusCode::BAD_REQUEST, "invalid_payload", e.to_string());
        }
    };
    if let Some(why) = &intake.ignored {
        Metrics::bump(&state.metrics.ignored);
        tracing::info!(cart = cart.name(), reason = %why, "webhook acknowledged, nothing to forward");
        return (StatusCode::OK, Json(json!({ "status": "ignored", "reason": why }))).into_response();
    }
    match state.outbox.accept(intake.order.as_deref(), &intake.cart_refs, &intake.refunds, crate::now_ms()).await {
        Ok(added) => {
            state.metrics.accepted.fetch_add(added, std::sync::atomic::Ordering::Relaxed);
            state.wake.notify_one();
            (StatusCode::OK, Json(json!({ "status": "accepted", "new": added }))).into_response()
        }
        Err(AcceptError::UnknownPayment(refund)) => {
            // Events can arrive out of order: the cart retries, and by then the order is here.
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "order_not_seen_yet",
                format!("refund {refund}: its order has not arrived yet; retry later"),
            );
            r.headers_mut().insert(header::RETRY_AFTER, "60".parse().expect("static"));
            r
        }
        Err(AcceptError::Db(e)) => {
            tracing::error!(error = %e, "writing to the outbox failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the webhook could not be stored; retry")
        }
    }
}

fn verify(state: &AppState, cart: Cart, secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match cart {
        Cart::Stripe => stripe::verify(headers, body, secret, now, state.stripe_tolerance),
        Cart::Shopify => shopify::verify(headers, body, secret),
        Cart::WooCommerce => woocommerce::verify(headers, body, secret),
        Cart::Paddle => paddle::verify(headers, body, secret, now, state.paddle_tolerance),
        Cart::Generic => {
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let verifier = state.generic.as_ref().ok_or(SignatureError::Mismatch)?;
            verifier.verify_at(get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE), body, now).map_err(|e| match e {
                reftrack_protocol::signature::VerifyError::MissingHeader(h) => SignatureError::Missing(h),
                reftrack_protocol::signature::VerifyError::TooOld(t) | reftrack_protocol::signature::VerifyError::TooNew(t) => {
                    SignatureError::Stale(t)
                }
                reftrack_protocol::signature::VerifyError::NoMatch => SignatureError::Mismatch,
                _ => SignatureError::Malformed(HEADER_SIGNATURE),
            })
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(pending, dead)).into_response()
}
