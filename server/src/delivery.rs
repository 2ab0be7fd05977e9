//! The delivery task: sends the outbox's due deliveries — merchant webhooks signed with Standard
//! Webhooks, partner postbacks with their macros filled — retries failures on the schedule, and
//! records every attempt. Several servers on one PostgreSQL share the work: each delivery is
//! leased to one of them at a time.
//!
//! Every target is checked against the server's own networks (SSRF): the URL's literal address,
//! or every address its host name resolves to, through a resolver the HTTP client connects with,
//! so the address checked is the address reached (no DNS-rebinding gap). No proxy, no redirects,
//! a timeout per request and a small cap on the response body read.

use crate::clock::Clock;
use crate::configuration::DeliverySettings;
use crate::domain::outgoing::{self, Macros};
use crate::metrics::Metrics;
use crate::store::{Attempt, DueDelivery, EndpointAfter, Store};
use reftrack_protocol::signature::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// How often the outbox is read for due deliveries: "immediately" means within this.
const POLL: Duration = Duration::from_millis(200);
/// Deliveries in flight at once per server.
const IN_FLIGHT: usize = 16;
/// The most of a response body read (and then dropped): a receiver cannot make us hold more.
const BODY_LIMIT: usize = 4 * 1024;
/// How long a finished shutdown waits for deliveries in flight (the rest are leased, and sent
/// again by whichever server takes them once their lease runs out).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Checks targets (when they are saved and when they are reached).
#[derive(Debug, Clone)]
pub struct Guard {
    allow_private: bool,
    allow_http: bool,
}

impl Guard {
    pub fn new(settings: &DeliverySettings) -> Self {
        Self { allow_private: settings.allow_private, allow_http: settings.allow_http }
    }

    /// The URL if its form is acceptable and every address it reaches may be reached; else why not.
    pub async fn check(&self, raw: &str) -> Result<url::Url, String> {
        let url = self.check_literal(raw)?;
        // `domain()` is `None` for a literal address, checked above.
        if let Some(host) = url.domain().filter(|_| !self.allow_private) {
            checked_addresses(host, false).await?;
        }
        Ok(url)
    }

    /// The form and, for a literal address, the address. At send time this is all that is left
    /// to check: host names are checked by the client's resolver, which literal addresses skip.
    fn check_literal(&self, raw: &str) -> Result<url::Url, String> {
        let url = outgoing::check_target(raw, self.allow_http)?;
        match outgoing::literal_address(&url).and_then(|ip| outgoing::forbidden_address(ip).map(|why| (ip, why))) {
            Some((ip, why)) if !self.allow_private => {
                Err(format!("{ip} is a {why} address; deliveries may not reach the server's own network"))
            }
            _ => Ok(url),
        }
    }
}

/// Every address `host` resolves to, or why it may not be reached: one forbidden address
/// refuses the host (a name pointing partly at the server's network is not a merchant's).
async fn checked_addresses(host: &str, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("{host} does not resolve ({e})"))?.collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if !allow_private {
        if let Some((ip, why)) = addrs.iter().find_map(|a| outgoing::forbidden_address(a.ip()).map(|why| (a.ip(), why))) {
            return Err(format!("{host} resolves to {ip}, a {why} address; deliveries may not reach the server's own network"));
        }
    }
    Ok(addrs)
}

/// The HTTP client's resolver: the checked addresses are the ones connected to.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs =
                checked_addresses(&host, allow_private).await.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The running delivery task.
pub struct Deliverer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What one attempt came to.
struct Sent {
    status: Option<i64>,
    error: Option<String>,
    retry_after_ms: Option<i64>,
}

impl Sent {
    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What the task shares with each delivery it sends.
struct Context {
    store: Store,
    clock: Clock,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    guard: Guard,
    owner: String,
}

impl Deliverer {
    /// Starts the task (it idles if `settings.enabled` is false).
    pub fn spawn(store: Store, clock: Clock, metrics: Arc<Metrics>, settings: &DeliverySettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .dns_resolver(Arc::new(CheckedResolver { allow_private: settings.allow_private }))
            .user_agent(concat!("reftrack/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let owner = {
            use rand::RngCore;
            let mut bytes = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        };
        // A lease outlasts a request (its timeout bounds it) and the recording of its outcome by a
        // wide margin, so a live server never loses one mid-send; a dead server's deliveries are
        // taken over by the others once it runs out.
        let timeout_ms = i64::try_from(settings.timeout.as_millis()).unwrap_or(60_000);
        let lease_ms = timeout_ms.saturating_mul(2).saturating_add(10_000);
        let context = Arc::new(Context { store, clock, metrics, client, guard: Guard::new(settings), owner });
        let (stop, mut stopped) = watch::channel(false);
        let enabled = settings.enabled;
        let task = tokio::spawn(async move {
            if !enabled {
                let _ = stopped.changed().await;
                return;
            }
            let permits = Arc::new(Semaphore::new(IN_FLIGHT));
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(POLL) => {}
                }
                let free = permits.available_permits();
                if free == 0 {
                    continue;
                }
                let now = context.clock.now_ms();
                let due = match context.store.claim_due(&context.owner, now, now.saturating_add(lease_ms), free as i64).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the outbox failed; trying again shortly");
                        continue;
                    }
                };
                for d in due {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let context = context.clone();
                    tokio::spawn(async move {
                        context.deliver(d).await;
                        drop(permit);
                    });
                }
            }
            let _ = tokio::time::timeout(STOP_GRACE, permits.acquire_many(IN_FLIGHT as u32)).await;
        });
        Ok(Self { stop, task })
    }

    /// Stops taking deliveries and waits a little for those in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Context {
    /// Sends one claimed delivery and records the attempt.
    async fn deliver(&self, d: DueDelivery) {
        let sent = self.send(&d).await;
        let at_ms = self.clock.now_ms();
        let attempts = u32::try_from(d.attempts).unwrap_or(u32::MAX).saturating_add(1);
        let outcome = if sent.delivered() { Ok(()) } else { Err(outgoing::next_attempt_at(attempts, at_ms, sent.retry_after_ms)) };
        Metrics::bump(&self.metrics.webhook_attempts);
        if attempts > 1 {
            Metrics::bump(&self.metrics.webhook_retries);
        }
        match &outcome {
            Ok(()) => Metrics::bump(&self.metrics.webhook_deliveries),
            Err(next) => {
                Metrics::bump(&self.metrics.webhook_failed_attempts);
                if next.is_none() {
                    Metrics::bump(&self.metrics.webhook_given_up);
                }
                // The endpoint's id, not its URL: a postback URL may hold the partner's own token.
                tracing::info!(endpoint = d.endpoint_id, delivery = d.id, status = ?sent.status, error = ?sent.error, attempts, "delivery failed");
            }
        }
        let attempt = Attempt {
            delivery_id: d.id,
            endpoint_id: d.endpoint_id,
            owner: &self.owner,
            at_ms,
            status: sent.status,
            error: sent.error,
            outcome,
        };
        match self.store.record_attempt(&attempt).await {
            Ok(EndpointAfter::Disabled(_)) => {
                Metrics::bump(&self.metrics.webhook_endpoints_disabled);
                tracing::warn!(endpoint = d.endpoint_id, "endpoint disabled after failing for 5 days");
            }
            Ok(_) => {}
            // Unrecorded, the lease runs out and the delivery is sent again: at least once.
            Err(e) => tracing::warn!(error = %e, delivery = d.id, "recording a delivery attempt failed"),
        }
    }

    /// One HTTP attempt.
    async fn send(&self, d: &DueDelivery) -> Sent {
        let failed = |error: String| Sent { status: None, error: Some(error), retry_after_ms: None };
        let request = if d.kind == "postback" {
            let macros = d.macros.as_deref().and_then(|m| serde_json::from_str(m).ok()).map(|v| Macros::from_json(&v)).unwrap_or_default();
            let url = outgoing::fill(&d.url, &macros);
            if let Err(why) = self.guard.check_literal(&url) {
                return failed(why);
            }
            if d.method == "GET" {
                self.client.get(url)
            } else {
                self.client.post(url).json(&macros.to_json())
            }
        } else {
            if let Err(why) = self.guard.check_literal(&d.url) {
                return failed(why);
            }
            let Some(secret) = d.secret.as_deref().and_then(|s| Secret::parse(s).ok()) else {
                return failed("the endpoint has no usable secret".into());
            };
            let mut request = self.client.post(&d.url).header("content-type", "application/json").body(d.payload.clone());
            for (name, value) in secret.headers(&d.event_id, self.clock.now_secs(), d.payload.as_bytes()) {
                request = request.header(name, value);
            }
            request
        };
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = i64::from(response.status().as_u16());
        let retry_after_ms = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|secs| secs.saturating_mul(1000));
        let mut read = 0usize;
        while read < BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        let error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
        Sent { status: Some(status), error, retry_after_ms }
    }
}

/// A short, secret-free description of a failed request (no URL: it may carry a token).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = e.source();
    let mut deepest = None;
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    match deepest {
        Some(c) => format!("{kind}: {c}"),
        None => kind.to_owned(),
    }
}
