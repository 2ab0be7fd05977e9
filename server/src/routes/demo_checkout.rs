//! `POST /v1/demo/checkout`, only under `reftrack demo`: stands in for a third-party cart and its
//! connector, recording the demo checkout's order the way a signed order would be. In production
//! the cart's own webhook reaches `reftrack-connector`, which forwards a signed order instead.

use super::error::ApiError;
use super::extract::{body_hash, parse_json, RawBody};
use super::state::AppState;
use axum::extract::State;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, Email, LineItem, OrderId};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct DemoPayment {
    email: Email,
    #[serde(default)]
    click_id: Option<String>,
}

/// Records the demo course's purchase and answers the session id the confirmation page reports.
pub async fn demo_checkout(State(state): State<AppState>, RawBody(body): RawBody<4096>) -> Result<Json<Value>, ApiError> {
    let payment: DemoPayment = parse_json(&body)?;
    let mut bytes = [0u8; 9];
    rand::thread_rng().fill_bytes(&mut bytes);
    let session = format!("cs_demo_{}", URL_SAFE_NO_PAD.encode(bytes));
    let order = CanonicalOrder {
        order_id: OrderId::parse(&format!("demo:{session}")).map_err(|e| ApiError::Internal(e.into()))?,
        occurred_at: state.clock.now(),
        currency: Currency::parse("USD").map_err(|e| ApiError::Internal(e.into()))?,
        items: vec![LineItem { sku: "course".into(), name: "The Demo Course".into(), quantity: 1, unit_price_minor: 9900 }],
        total_minor: 9900,
        discount_minor: 0,
        shipping_minor: 0,
        tax_minor: 0,
        customer: Customer { email: Some(payment.email) },
        attribution: Attribution { click_id: payment.click_id.and_then(|c| ClickId::parse(&c).ok()), partner: None, sub_id: None },
        source: "demo".into(),
        renewal: false,
        subscription_id: None,
    };
    let signed_body = serde_json::to_vec(&order).map_err(|e| ApiError::Internal(e.into()))?;
    let answer = state.intake.credit_order(order, body_hash(&signed_body)).await?;
    Ok(Json(json!({ "session": session, "answer": serde_json::from_str::<Value>(&answer).unwrap_or(Value::Null) })))
}
