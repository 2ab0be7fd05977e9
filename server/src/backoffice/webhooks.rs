//! The merchant's webhooks and the partners' postbacks: adding them (the target checked against
//! the server's own networks, the events against what each may receive), listing them with
//! their state, deleting them, their delivery log, redelivery and a test-send.

use super::admin::{invalid, AdminError};
use crate::delivery::Guard;
use crate::domain::outgoing::{self, EventType, Macros};
use crate::store::{DbError, Delivery, Endpoint, NewEndpoint, Store};
use reftrack_protocol::signature::Secret;
use serde::{Deserialize, Serialize};

/// Most postbacks one partner may hold.
pub const POSTBACKS_PER_PARTNER: i64 = 5;

/// Most deliveries a log shows.
pub const LOG_LIMIT: i64 = 200;

/// A webhook as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    pub events: Vec<String>,
}

/// A postback as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostbackInput {
    pub url: String,
    #[serde(default = "get")]
    pub method: String,
    pub events: Vec<String>,
}

fn get() -> String {
    "GET".into()
}

/// An endpoint as shown: its state and, when disabled, why.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub events: Vec<String>,
    /// `enabled` or `disabled`.
    pub state: &'static str,
    pub disabled_reason: Option<String>,
    pub disabled_at_ms: Option<i64>,
    /// Since when every attempt has failed (none: the last one succeeded).
    pub failing_since_ms: Option<i64>,
    pub created_at_ms: i64,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            id: e.id,
            method: (e.kind == "postback").then_some(e.method),
            url: e.url,
            events: e.events,
            state: if e.disabled_at_ms.is_some() { "disabled" } else { "enabled" },
            disabled_reason: e.disabled_reason,
            disabled_at_ms: e.disabled_at_ms,
            failing_since_ms: e.failing_since_ms,
            created_at_ms: e.created_at_ms,
        }
    }
}

/// A new webhook and its signing secret (shown this once).
#[derive(Debug, Clone, Serialize)]
pub struct NewWebhook {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

fn parse_events(raw: &[String], allowed: &[EventType]) -> Result<Vec<EventType>, AdminError> {
    if raw.is_empty() {
        return Err(invalid("events", "name at least one event"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for name in raw {
        let known = EventType::parse(name.trim()).filter(|t| allowed.contains(t));
        let Some(t) = known else {
            let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
            return Err(invalid("events", format!("{name:?} is not one of {}", names.join(", "))));
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort();
    Ok(out)
}

/// Adds a merchant webhook with a new `whsec_` secret.
pub async fn add_webhook(store: &Store, guard: &Guard, input: WebhookInput, now_ms: i64) -> Result<NewWebhook, AdminError> {
    let url = guard.check(input.url.trim()).await.map_err(|m| invalid("url", m))?;
    let events = parse_events(&input.events, &EventType::SUBSCRIBABLE)?;
    let secret = {
        use rand::RngCore;
        let mut key = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut key);
        Secret::from_bytes(&key).to_whsec()
    };
    let endpoint = store
        .add_endpoint(
            &NewEndpoint {
                kind: "webhook",
                partner: None,
                url: url.as_str(),
                method: "POST",
                events: &events,
                secret: Some(&secret),
                limit_per_partner: None,
            },
            now_ms,
        )
        .await?;
    Ok(NewWebhook { endpoint: endpoint.into(), secret })
}

/// Adds a partner's postback: a URL template with `{macro}`s in its path and query only.
pub async fn add_postback(
    store: &Store,
    guard: &Guard,
    partner: &str,
    input: PostbackInput,
    now_ms: i64,
) -> Result<EndpointView, AdminError> {
    let template = input.url.trim();
    outgoing::template_macros(template).map_err(|m| invalid("url", m))?;
    let authority = template.split_once("://").map_or(template, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains(['{', '}']) {
        return Err(invalid("url", "macros may be used in the path and the query only, not in the host"));
    }
    // The host is checked as it will be reached; the macros' values cannot change it.
    guard.check(&outgoing::fill(template, &Macros::default())).await.map_err(|m| invalid("url", m))?;
    let method = match input.method.to_ascii_uppercase().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        _ => return Err(invalid("method", "must be GET or POST")),
    };
    let events = parse_events(&input.events, &EventType::FOR_PARTNERS)?;
    let added = store
        .add_endpoint(
            &NewEndpoint {
                kind: "postback",
                partner: Some(partner),
                url: template,
                method,
                events: &events,
                secret: None,
                limit_per_partner: Some(POSTBACKS_PER_PARTNER),
            },
            now_ms,
        )
        .await;
    match added {
        Ok(e) => Ok(e.into()),
        Err(DbError::Conflict(message)) => Err(AdminError::Conflict { code: "too_many_postbacks", message }),
        Err(DbError::NotFound(_)) => Err(AdminError::Missing(format!("partner {partner}"))),
        Err(e) => Err(e.into()),
    }
}

/// The merchant's webhooks.
pub async fn webhooks(store: &Store) -> Result<Vec<EndpointView>, AdminError> {
    Ok(store.endpoints("webhook", None).await?.into_iter().map(Into::into).collect())
}

/// A partner's postbacks.
pub async fn postbacks(store: &Store, partner: &str) -> Result<Vec<EndpointView>, AdminError> {
    Ok(store.endpoints("postback", Some(partner)).await?.into_iter().map(Into::into).collect())
}

/// The endpoint `id` if it is a webhook (`partner` `None`) or that partner's postback.
async fn owned(store: &Store, id: i64, partner: Option<&str>) -> Result<Endpoint, AdminError> {
    let found = store.endpoint(id).await?.filter(|e| match partner {
        None => e.kind == "webhook",
        Some(p) => e.kind == "postback" && e.partner.as_deref() == Some(p),
    });
    found.ok_or_else(|| AdminError::Missing(format!("{} {id}", if partner.is_some() { "postback" } else { "webhook" })))
}

/// Deletes a webhook (`partner` `None`) or one of the partner's postbacks.
pub async fn delete(store: &Store, id: i64, partner: Option<&str>, now_ms: i64) -> Result<(), AdminError> {
    owned(store, id, partner).await?;
    Ok(store.delete_endpoint(id, now_ms).await?)
}

/// A webhook's delivery log, newest first.
pub async fn deliveries(store: &Store, id: i64) -> Result<Vec<Delivery>, AdminError> {
    owned(store, id, None).await?;
    Ok(store.deliveries(id, LOG_LIMIT).await?)
}

/// Sends a delivery's event to the webhook again (the same event id). Answers the new delivery.
pub async fn redeliver(store: &Store, id: i64, delivery: i64, now_ms: i64) -> Result<i64, AdminError> {
    owned(store, id, None).await?;
    match store.redeliver(id, delivery, now_ms).await {
        Err(DbError::NotFound(_)) => Err(AdminError::Missing(format!("delivery {delivery} of webhook {id}"))),
        other => Ok(other?),
    }
}

/// Queues a `webhook.test` event to the webhook. Answers (event id, delivery id).
pub async fn test_send(store: &Store, id: i64, now_ms: i64) -> Result<(String, i64), AdminError> {
    owned(store, id, None).await?;
    Ok(store.test_send(id, now_ms).await?)
}
