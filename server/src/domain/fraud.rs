//! Fraud signals: each a reason counted in the partner's stats and the merchant's report.

use reftrack_protocol::{LinkCode, PartnerCode};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Why something was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The buyer is the partner who would have earned.
    SelfReferral,
    /// An order id sent again with a different body, or a conversion pixel fired again.
    DuplicateOrderId,
    /// Too many clicks from one IP on one link within the flood window.
    ClickFlood,
    /// A conversion pixel that names no click, or a click we never recorded.
    PixelWithoutClick,
}

impl Reason {
    /// Every reason, in report order.
    pub const ALL: [Reason; 4] = [Reason::SelfReferral, Reason::DuplicateOrderId, Reason::ClickFlood, Reason::PixelWithoutClick];

    /// Reads the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SelfReferral => "self_referral",
            Reason::DuplicateOrderId => "duplicate_order_id",
            Reason::ClickFlood => "click_flood",
            Reason::PixelWithoutClick => "pixel_without_click",
        }
    }
}

/// One flagged event, counted against a partner (when one is concerned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub reason: Reason,
    pub partner: Option<PartnerCode>,
    pub link: Option<LinkCode>,
    pub order_id: Option<String>,
    pub at_ms: i64,
}

/// Counts clicks per key (IP hash and link) in fixed windows and refuses those beyond the limit.
/// In memory and per process: with several servers each applies the limit on its own share.
#[derive(Debug)]
pub struct FloodGuard {
    limit: u32,
    window_ms: i64,
    /// Keyed by a 64-bit hash of (IP hash, link): no allocation per click.
    counts: HashMap<u64, (i64, u32)>,
    hasher: RandomState,
}

/// Most keys remembered; past this, windows that ended are forgotten first.
const MAX_KEYS: usize = 100_000;

impl FloodGuard {
    /// At most `limit` clicks per key in each `window_ms`; a limit of 0 turns the guard off.
    pub fn new(limit: u32, window_ms: i64) -> Self {
        Self { limit, window_ms, counts: HashMap::new(), hasher: RandomState::new() }
    }

    /// Counts a click; false when it is over the limit for its window.
    pub fn allow(&mut self, ip_hash: &str, link: &str, now_ms: i64) -> bool {
        if self.limit == 0 {
            return true;
        }
        if self.counts.len() >= MAX_KEYS {
            let window = self.window_ms;
            self.counts.retain(|_, (start, _)| now_ms - *start < window);
            if self.counts.len() >= MAX_KEYS {
                self.counts.clear();
            }
        }
        let slot = self.counts.entry(self.hasher.hash_one((ip_hash, link))).or_insert((now_ms, 0));
        if now_ms - slot.0 >= self.window_ms {
            *slot = (now_ms, 0);
        }
        slot.1 += 1;
        slot.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn clicks_beyond_the_limit_from_one_ip_on_one_link_are_refused_until_the_window_ends() {
        let mut guard = FloodGuard::new(3, HOUR);
        let allowed: Vec<bool> = (0..5).map(|i| guard.allow("ip1", "offer", i)).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        // Another link, another IP: counted separately.
        assert!(guard.allow("ip1", "other", 10));
        assert!(guard.allow("ip2", "offer", 10));
        // A new window starts afresh.
        assert!(guard.allow("ip1", "offer", HOUR));
    }

    #[test]
    fn a_limit_of_zero_allows_everything() {
        let mut guard = FloodGuard::new(0, HOUR);
        assert!((0..1000).all(|i| guard.allow("ip", "link", i)));
    }
}
