//! Fraud signals: each a reason counted in the partner's stats and the merchant's report.

use reftrack_protocol::{LinkCode, PartnerCode};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;

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
    /// Two different clicks claimed the same order through the pixel: it credits neither.
    ConflictingClaims,
}

impl Reason {
    /// Every reason, in report order.
    pub const ALL: [Reason; 5] =
        [Reason::SelfReferral, Reason::DuplicateOrderId, Reason::ClickFlood, Reason::PixelWithoutClick, Reason::ConflictingClaims];

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
            Reason::ConflictingClaims => "conflicting_claims",
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
    /// Who raised it (a visitor's IP hash and window, an order, a body): the same reason, partner
    /// and order count once per source, so nobody can pin signals on a partner by repeating a
    /// request.
    pub source_key: String,
}

/// Counts clicks per key (IP hash and link) in fixed windows and refuses those beyond the limit.
/// In memory and per process: with several servers each applies the limit on its own share.
///
/// The counts live in a count-min sketch of fixed size (16 MiB however many visitors come), in
/// shards with a lock each so clicks rarely wait on one another. A sketch never counts a key
/// lower than its true count, so a flood is always caught; it may count a key a little higher
/// when many keys share its counters (conservative update keeps that small: at 10 M distinct
/// visitors in one hour a key is overcounted by about one).
#[derive(Debug)]
pub struct FloodGuard {
    limit: u32,
    window_ms: i64,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

const SHARDS: usize = 64;
const DEPTH: usize = 4;
/// Counters per row in one shard (a power of two).
const WIDTH: usize = 1 << 16;

#[derive(Debug)]
struct Shard {
    /// The window these counts belong to.
    window: i64,
    counts: Box<[u8]>,
}

impl FloodGuard {
    /// At most `limit` clicks per key in each `window_ms`; a limit of 0 turns the guard off.
    /// Limits above 250 are counted as 250 (the counters saturate).
    pub fn new(limit: u32, window_ms: i64) -> Self {
        let shards =
            (0..SHARDS).map(|_| Mutex::new(Shard { window: i64::MIN, counts: vec![0u8; DEPTH * WIDTH].into_boxed_slice() })).collect();
        Self { limit: limit.min(250), window_ms, hasher: RandomState::new(), shards }
    }

    /// Counts a click; false when it is over the limit for its window.
    pub fn allow(&self, ip_hash: &str, link: &str, now_ms: i64) -> bool {
        if self.limit == 0 {
            return true;
        }
        let hash = self.hasher.hash_one((ip_hash, link));
        let shard = &self.shards[(hash >> 58) as usize % SHARDS];
        let (h1, h2) = (hash as u32 as usize, ((hash >> 32) as u32 | 1) as usize);
        let slots: [usize; DEPTH] = std::array::from_fn(|row| row * WIDTH + (h1.wrapping_add(row.wrapping_mul(h2)) & (WIDTH - 1)));
        let window = now_ms.div_euclid(self.window_ms);
        let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if shard.window != window {
            shard.window = window;
            shard.counts.fill(0);
        }
        let seen = slots.iter().map(|&i| shard.counts[i]).min().unwrap_or(0);
        let count = seen.saturating_add(1);
        // Conservative update: only the counters at the minimum rise, which keeps overcounts small.
        for &i in &slots {
            if shard.counts[i] < count {
                shard.counts[i] = count;
            }
        }
        u32::from(count) <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn clicks_beyond_the_limit_from_one_ip_on_one_link_are_refused_until_the_window_ends() {
        let guard = FloodGuard::new(3, HOUR);
        let allowed: Vec<bool> = (0..5).map(|i| guard.allow("ip1", "offer", i)).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        // Another link, another IP: counted separately.
        assert!(guard.allow("ip1", "other", 10));
        assert!(guard.allow("ip2", "offer", 10));
        // A new window starts afresh.
        assert!(guard.allow("ip1", "offer", HOUR));
    }

    #[test]
    fn a_million_visitors_neither_grow_the_guard_nor_hide_a_flood() {
        let guard = FloodGuard::new(20, HOUR);
        let mut refused = 0;
        for visitor in 0..1_000_000 {
            if !guard.allow(&format!("ip{visitor}"), "offer", 5) {
                refused += 1;
            }
        }
        assert_eq!(refused, 0, "one click each is never a flood, however many visitors share the sketch");
        let flood: Vec<bool> = (0..25).map(|_| guard.allow("attacker", "offer", 6)).collect();
        assert_eq!(flood.iter().filter(|a| !**a).count(), 5, "the 21st to 25th clicks are refused");
    }

    #[test]
    fn a_limit_of_zero_allows_everything() {
        let guard = FloodGuard::new(0, HOUR);
        assert!((0..1000).all(|i| guard.allow("ip", "link", i)));
    }
}
