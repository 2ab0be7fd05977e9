//! Delivers outbox entries to the server: signed (Standard Webhooks, the message id stable per
//! order so the server recognises a retry), in parallel up to a bound so one slow order never
//! blocks the others, retried with capped exponential backoff and full jitter, honouring
//! `Retry-After`. Only the server's acceptance takes an entry out of the queue.
//!
//! When an outcome cannot be written (the disk is full), it is kept in memory and written again
//! until it can be: an entry the server accepted is not sent again meanwhile, and one to retry
//! waits for its time. Only if the process stops before the disk recovers is such an entry sent
//! once more after the restart, with the same message id, which the server recognises.

use crate::metrics::Metrics;
use crate::outbox::{Entry, Kind, Outbox};
use backon::BackoffBuilder;
use rand::Rng;
use reftrack_protocol::signature::Secret;
use reqwest::StatusCode;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How retries are spaced.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `attempt + 1`: uniform in `[0, min × 2^attempt]` (capped at `max`).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = backon::ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(attempt as usize)
            .unwrap_or(self.max);
        let ms = ceiling.as_millis() as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
    }
}

/// What the server's answer means for an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded (2xx), or already recorded (409).
    Done,
    /// Try again, not before this delay (from `Retry-After`) if given.
    Retry { reason: String, not_before: Option<Duration> },
    /// Refused for good (4xx other than 408/409/429): a dead letter.
    Dead(String),
}

/// Classifies an HTTP answer. A refund's 404 (its order not delivered yet) is retried, and so is a
/// notice's (a server older than this connector has no `/v1/notices` yet: notices wait for it).
pub fn classify(kind: Kind, status: StatusCode, retry_after: Option<&str>, body: &str) -> Outcome {
    let reason = format!("{} {}", status.as_u16(), body.chars().take(300).collect::<String>());
    if status.is_success() || status == StatusCode::CONFLICT {
        return Outcome::Done;
    }
    let not_before = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
    let retryable = status.is_server_error()
        || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS)
        || (matches!(kind, Kind::Refund | Kind::Notice) && status == StatusCode::NOT_FOUND);
    if retryable {
        Outcome::Retry { reason, not_before }
    } else {
        Outcome::Dead(reason)
    }
}

/// An outcome to write back to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Done { at_ms: i64 },
    Retry { next_ms: i64, reason: String },
    Dead { reason: String },
}

impl Mark {
    /// Until when an entry whose mark is not written yet must not be sent (`None`: not at all).
    fn hold_until(&self) -> Option<i64> {
        match self {
            Mark::Retry { next_ms, .. } => Some(*next_ms),
            Mark::Done { .. } | Mark::Dead { .. } => None,
        }
    }
}

/// How often outcomes that could not be written are tried again.
const REWRITE_EVERY: Duration = Duration::from_secs(1);

/// The delivery loop's settings.
#[derive(Clone)]
pub struct Forwarder {
    pub outbox: Outbox,
    pub http: reqwest::Client,
    pub backend: String,
    pub secret: Secret,
    pub concurrency: usize,
    pub backoff: Backoff,
    pub metrics: Arc<Metrics>,
    /// Woken when an intake adds entries.
    pub wake: Arc<Notify>,
}

impl Forwarder {
    /// Delivers until `stop` resolves (in-flight sends finish; the rest stay queued).
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut in_flight: HashSet<i64> = HashSet::new();
        let mut sends: JoinSet<(i64, Option<Mark>)> = JoinSet::new();
        // Outcomes the outbox could not take yet (a full disk), by entry.
        let mut unwritten: HashMap<i64, Mark> = HashMap::new();
        let mut rewrite_at = tokio::time::Instant::now();
        loop {
            if !unwritten.is_empty() && tokio::time::Instant::now() >= rewrite_at {
                self.rewrite(&mut unwritten).await;
                rewrite_at = tokio::time::Instant::now() + REWRITE_EVERY;
            }
            let now = crate::now_ms();
            let free = self.concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                let held = unwritten.iter().filter(|(_, m)| m.hold_until().is_none_or(|t| t > now)).map(|(id, _)| *id);
                let busy: Vec<i64> = in_flight.iter().copied().chain(held).collect();
                match self.outbox.due(now, free as i64, &busy).await {
                    Ok(entries) => {
                        for entry in entries {
                            in_flight.insert(entry.id);
                            unwritten.remove(&entry.id);
                            let this = self.clone();
                            sends.spawn(async move {
                                let id = entry.id;
                                (id, this.deliver(entry).await)
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "reading the outbox failed"),
                }
            }
            let mut wait = match self.outbox.next_due_ms().await {
                Ok(Some(due)) => Duration::from_millis((due - crate::now_ms()).clamp(10, 1_000) as u64),
                _ => Duration::from_secs(1),
            };
            if !unwritten.is_empty() {
                // What is due may be held back: poll gently, not in a hot loop.
                wait = wait.max(Duration::from_millis(200));
            }
            tokio::select! {
                _ = &mut stop => break,
                Some(done) = sends.join_next(), if !sends.is_empty() => {
                    if let Ok((id, unwritten_mark)) = done {
                        in_flight.remove(&id);
                        if let Some(mark) = unwritten_mark {
                            unwritten.insert(id, mark);
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        while let Some(done) = sends.join_next().await {
            if let Ok((id, Some(mark))) = done {
                unwritten.insert(id, mark);
            }
        }
        self.rewrite(&mut unwritten).await;
        if !unwritten.is_empty() {
            tracing::error!(
                entries = unwritten.len(),
                "stopping with delivery outcomes the outbox could not take: those entries are sent once more after a restart, under the same message id"
            );
        }
    }

    /// Writes the outcomes kept in memory; those the outbox still refuses stay.
    async fn rewrite(&self, unwritten: &mut HashMap<i64, Mark>) {
        let mut written = Vec::new();
        for (id, mark) in unwritten.iter() {
            if self.outbox_record(*id, mark).await.is_ok() {
                written.push(*id);
            } else {
                // The disk is still full: the rest would fail alike.
                break;
            }
        }
        for id in written {
            unwritten.remove(&id);
        }
    }

    async fn outbox_record(&self, id: i64, mark: &Mark) -> sqlx::Result<()> {
        match mark {
            Mark::Done { at_ms } => self.outbox.mark_done(id, *at_ms).await,
            Mark::Retry { next_ms, reason } => self.outbox.mark_retry(id, *next_ms, reason).await,
            Mark::Dead { reason } => self.outbox.mark_dead(id, reason).await,
        }
    }

    /// One attempt at one entry; its outcome is written back to the outbox, or returned when the
    /// outbox could not take it.
    pub async fn deliver(&self, entry: Entry) -> Option<Mark> {
        let outcome = self.attempt(&entry).await;
        let now = crate::now_ms();
        let mark = match outcome {
            Outcome::Done => {
                Metrics::bump(&self.metrics.forwarded);
                if entry.kind == Kind::Lead {
                    // `lead:{tool}:{id}`: the tool is the key's prefix.
                    let tool = entry.msg_id.split(':').nth(1).unwrap_or("unknown");
                    self.metrics.lead(tool, "forwarded", 1);
                }
                Mark::Done { at_ms: now }
            }
            Outcome::Retry { reason, not_before } => {
                Metrics::bump(&self.metrics.retried);
                let delay = self.backoff.delay(entry.attempts as u32).max(not_before.unwrap_or_default());
                tracing::warn!(msg_id = %entry.msg_id, attempt = entry.attempts + 1, ?delay, %reason, "delivery failed; will retry");
                Mark::Retry { next_ms: now + delay.as_millis() as i64, reason }
            }
            Outcome::Dead(reason) => {
                Metrics::bump(&self.metrics.dead_lettered);
                tracing::error!(msg_id = %entry.msg_id, %reason, "the server refused this entry; kept as a dead letter");
                Mark::Dead { reason }
            }
        };
        match self.outbox_record(entry.id, &mark).await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, msg_id = %entry.msg_id, "recording a delivery outcome failed; kept in memory and written when the outbox can take it");
                Some(mark)
            }
        }
    }

    async fn attempt(&self, entry: &Entry) -> Outcome {
        // A fresh timestamp and signature per attempt; the message id never changes.
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut request = self
            .http
            .post(format!("{}{}", self.backend.trim_end_matches('/'), entry.kind.path()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(entry.body.clone());
        for (name, value) in self.secret.headers(&entry.msg_id, ts, entry.body.as_bytes()) {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body = response.text().await.unwrap_or_default();
                classify(entry.kind, status, retry_after.as_deref(), &body)
            }
            Err(e) => Outcome::Retry { reason: format!("network: {e}"), not_before: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_and_conflict_are_done_and_server_trouble_is_retried() {
        assert_eq!(classify(Kind::Order, StatusCode::OK, None, ""), Outcome::Done);
        assert_eq!(classify(Kind::Order, StatusCode::CONFLICT, None, ""), Outcome::Done);
        for status in
            [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::REQUEST_TIMEOUT, StatusCode::TOO_MANY_REQUESTS]
        {
            assert!(matches!(classify(Kind::Order, status, None, ""), Outcome::Retry { .. }), "{status}");
        }
    }

    #[test]
    fn other_client_errors_are_dead_letters_except_a_refund_waiting_for_its_order() {
        assert!(
            matches!(classify(Kind::Order, StatusCode::BAD_REQUEST, None, "invalid_order"), Outcome::Dead(r) if r.contains("invalid_order"))
        );
        assert!(matches!(classify(Kind::Order, StatusCode::UNAUTHORIZED, None, ""), Outcome::Dead(_)));
        assert!(matches!(classify(Kind::Order, StatusCode::NOT_FOUND, None, ""), Outcome::Dead(_)));
        assert!(matches!(classify(Kind::Refund, StatusCode::NOT_FOUND, None, ""), Outcome::Retry { .. }));
        assert!(matches!(classify(Kind::Notice, StatusCode::NOT_FOUND, None, ""), Outcome::Retry { .. }));
        assert!(matches!(classify(Kind::Notice, StatusCode::BAD_REQUEST, None, "invalid_notice"), Outcome::Dead(_)));
    }

    #[test]
    fn retry_after_is_honoured() {
        let outcome = classify(Kind::Order, StatusCode::SERVICE_UNAVAILABLE, Some("120"), "");
        assert_eq!(outcome, Outcome::Retry { reason: "503 ".into(), not_before: Some(Duration::from_secs(120)) });
    }

    #[test]
    fn backoff_is_full_jitter_under_a_growing_capped_ceiling() {
        let b = Backoff { min: Duration::from_millis(100), max: Duration::from_secs(2) };
        for attempt in 0..12 {
            let ceiling = (100u64 << attempt.min(5)).min(2_000);
            for _ in 0..50 {
                assert!(b.delay(attempt).as_millis() as u64 <= ceiling, "attempt {attempt}");
            }
        }
        // Full jitter reaches near zero as well as near the ceiling.
        let samples: Vec<u128> = (0..400).map(|_| b.delay(10).as_millis()).collect();
        assert!(samples.iter().any(|&d| d < 200) && samples.iter().any(|&d| d > 1_800));
    }
}
