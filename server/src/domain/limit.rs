//! How often one visitor may do something (apply to become a partner): at most `limit` times in
//! any window of `window_ms`, counted per key (a hash of the visitor's IP) in this process.

use std::collections::HashMap;

/// Most keys remembered; past that the oldest window is forgotten, so the map stays bounded.
const MAX_KEYS: usize = 10_000;

/// A sliding-window counter per key.
#[derive(Debug)]
pub struct RateLimit {
    limit: usize,
    window_ms: i64,
    seen: HashMap<String, Vec<i64>>,
}

impl RateLimit {
    /// At most `limit` times per `window_ms` per key.
    pub fn new(limit: usize, window_ms: i64) -> Self {
        RateLimit { limit, window_ms, seen: HashMap::new() }
    }

    /// Whether `key` may act at `now_ms`; counts the act if so.
    pub fn allow(&mut self, key: &str, now_ms: i64) -> bool {
        let window_ms = self.window_ms;
        if self.seen.len() >= MAX_KEYS && !self.seen.contains_key(key) {
            self.seen.retain(|_, times| times.iter().any(|t| now_ms - t < window_ms));
            if self.seen.len() >= MAX_KEYS {
                self.seen.clear();
            }
        }
        let times = self.seen.entry(key.to_owned()).or_default();
        times.retain(|t| now_ms - t < window_ms);
        if times.len() >= self.limit {
            return false;
        }
        times.push(now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn a_key_is_refused_past_its_limit_until_the_window_slides() {
        let mut limit = RateLimit::new(2, 1000);
        assert!(limit.allow("a", 0) && limit.allow("a", 10));
        assert!(!limit.allow("a", 500), "a third within the window");
        assert!(limit.allow("b", 500), "other keys are counted apart");
        assert!(limit.allow("a", 1000), "the first act left the window");
    }
}
