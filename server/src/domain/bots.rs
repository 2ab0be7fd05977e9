//! Who is a person: a tracking-link hit counts only when a person's browser made it.
//!
//! Crawlers and link-preview fetchers are recognised by the `isbot` pattern list (word-aware
//! patterns maintained against a corpus of real browsers, so `CUBOT` phones and the DuckDuckGo
//! browser count while `DuckDuckBot` does not), plus what a user agent cannot show: HEAD requests,
//! no user agent at all, and browsers prefetching a link rather than a person following it.

use std::sync::LazyLock;

/// Fetchers the list does not know yet (each seen in a corpus line that failed).
const MORE_BOTS: &[&str] = &["facebookcatalog"];

static BOTS: LazyLock<isbot::Bots> = LazyLock::new(|| {
    let mut bots = isbot::Bots::default();
    bots.append(MORE_BOTS);
    bots
});

/// Longest user agent we classify; anything longer is not a browser's.
const MAX_USER_AGENT: usize = 1024;

/// True when a tracking-link hit should redirect but not count: HEAD requests, a prefetch, no
/// user agent, or a known crawler or preview fetcher.
pub fn is_bot(method_is_head: bool, prefetch: bool, user_agent: Option<&str>) -> bool {
    if method_is_head || prefetch {
        return true;
    }
    match user_agent.map(str::trim).filter(|ua| !ua.is_empty()) {
        None => true,
        Some(ua) if ua.len() > MAX_USER_AGENT => true,
        Some(ua) => BOTS.is_bot(ua),
    }
}

/// Loads the regular expression now, so the first click does not pay for it.
pub fn warm_up() {
    LazyLock::force(&BOTS);
}

#[cfg(test)]
mod tests {
    use super::is_bot;

    fn corpus(text: &'static str) -> impl Iterator<Item = &'static str> {
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    #[test]
    fn every_real_browser_of_the_corpus_counts_as_a_person() {
        let people: Vec<&str> = corpus(include_str!("../../tests/fixtures/people.txt")).collect();
        assert!(people.len() >= 30);
        let wrong: Vec<&&str> = people.iter().filter(|ua| is_bot(false, false, Some(ua))).collect();
        assert!(wrong.is_empty(), "people taken for bots: {wrong:#?}");
    }

    #[test]
    fn every_crawler_and_preview_fetcher_of_the_corpus_is_a_bot() {
        let bots: Vec<&str> = corpus(include_str!("../../tests/fixtures/bots.txt")).collect();
        assert!(bots.len() >= 25);
        let wrong: Vec<&&str> = bots.iter().filter(|ua| !is_bot(false, false, Some(ua))).collect();
        assert!(wrong.is_empty(), "bots taken for people: {wrong:#?}");
    }

    #[test]
    fn head_requests_prefetches_and_missing_user_agents_are_not_people() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert!(!is_bot(false, false, Some(chrome)));
        assert!(is_bot(true, false, Some(chrome)));
        assert!(is_bot(false, true, Some(chrome)));
        assert!(is_bot(false, false, None));
        assert!(is_bot(false, false, Some("  ")));
        assert!(is_bot(false, false, Some(&"Mozilla/5.0 ".repeat(200))));
    }
}
