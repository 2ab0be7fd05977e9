//! The one source of "now". Everything that reads the time asks the application's [`Clock`], so
//! tests can move time (hold windows, click windows, refund windows, signature tolerance) instead
//! of setting windows to zero.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// The time, in UTC. Cloning it is cheap; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock's current time in unix milliseconds.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at `now_ms` until moved.
    pub fn manual(now_ms: i64) -> Self {
        Self { manual: Some(Arc::new(AtomicI64::new(now_ms))) }
    }

    /// Now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(at) => at.load(Ordering::Relaxed),
            None => crate::domain::period::to_ms(OffsetDateTime::now_utc()),
        }
    }

    /// Now, in unix seconds (signature timestamps).
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Now, as a date-time.
    pub fn now(&self) -> OffsetDateTime {
        crate::domain::period::from_ms(self.now_ms())
    }

    /// Moves a manual clock forward by `ms` (a system clock cannot be moved: this does nothing).
    pub fn advance(&self, ms: i64) {
        if let Some(at) = &self.manual {
            at.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let clock = Clock::manual(1_000);
        let seen_by_another_part = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(86_400_000);
        assert_eq!(seen_by_another_part.now_ms(), 86_401_000);
        assert_eq!(seen_by_another_part.now_secs(), 86_401);
    }

    #[test]
    fn the_system_clock_reads_the_time() {
        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let now = Clock::system().now_secs();
        assert!((before..=before + 5).contains(&now));
    }
}
