//! The library API for merchants who write their own integration: build a canonical order and
//! `Client::forward` it, signed, with a few quick retries. (The connector's webhooks go through
//! the durable outbox instead.)

use crate::forwarder::{classify, Backoff, Outcome};
use crate::outbox::Kind;
use reftrack_protocol::signature::Secret;
use reftrack_protocol::{CanonicalOrder, Refund};
use std::time::Duration;

/// Why a forward failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the order is invalid: {0}")]
    Invalid(#[from] reftrack_protocol::ParseError),
    #[error("the server refused it: {0}")]
    Refused(String),
    #[error("the server could not be reached after {attempts} attempts: {last}")]
    Unreachable { attempts: u32, last: String },
}

/// A signed client of the reftrack server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    backend: String,
    secret: Secret,
    attempts: u32,
}

impl Client {
    /// A client of the server at `backend` signing with `secret`.
    pub fn new(backend: impl Into<String>, secret: Secret) -> Self {
        Self { http: reqwest::Client::new(), backend: backend.into(), secret, attempts: 4 }
    }

    /// Sends an order; returns the server's answer (who was credited, how much).
    pub async fn forward(&self, order: &CanonicalOrder) -> Result<serde_json::Value, ClientError> {
        order.validate()?;
        let body = serde_json::to_string(order).expect("orders serialise");
        self.send(Kind::Order, &format!("order:{}", order.order_id), body).await
    }

    /// Sends a refund.
    pub async fn refund(&self, refund: &Refund) -> Result<serde_json::Value, ClientError> {
        refund.validate()?;
        let body = serde_json::to_string(refund).expect("refunds serialise");
        self.send(Kind::Refund, &format!("refund:{}", refund.refund_id), body).await
    }

    async fn send(&self, kind: Kind, msg_id: &str, body: String) -> Result<serde_json::Value, ClientError> {
        let backoff = Backoff { min: Duration::from_millis(250), max: Duration::from_secs(5) };
        let mut last = String::new();
        for attempt in 0..self.attempts {
            let ts = time::OffsetDateTime::now_utc().unix_timestamp();
            let mut request = self.http.post(format!("{}{}", self.backend.trim_end_matches('/'), kind.path())).body(body.clone());
            for (name, value) in self.secret.headers(msg_id, ts, body.as_bytes()) {
                request = request.header(name, value);
            }
            let (outcome, text) = match request.send().await {
                Ok(r) => {
                    let status = r.status();
                    let retry_after = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let text = r.text().await.unwrap_or_default();
                    (classify(kind, status, retry_after.as_deref(), &text), text)
                }
                Err(e) => (Outcome::Retry { reason: format!("network: {e}"), not_before: None }, String::new()),
            };
            match outcome {
                Outcome::Done => return Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)),
                Outcome::Dead(reason) => return Err(ClientError::Refused(reason)),
                Outcome::Retry { reason, not_before } => {
                    last = reason;
                    if attempt + 1 < self.attempts {
                        tokio::time::sleep(backoff.delay(attempt).max(not_before.unwrap_or_default())).await;
                    }
                }
            }
        }
        Err(ClientError::Unreachable { attempts: self.attempts, last })
    }
}
