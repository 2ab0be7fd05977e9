/// Substrings of user agents that belong to crawlers and link-preview fetchers, not people.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "facebookcatalog",
    "embedly",
    "whatsapp",
    "telegram",
    "skypeuripreview",
    "bitlybot",
    "headlesschrome",
    "lighthouse",
    "pingdom",
    "python-requests",
    "go-http-client",
    "curl/",
    "wget/",
    "httpclient",
    "okhttp",
    "scrapy",
    "ahrefs",
    "semrush",
    "yandex",
    "baidu",
    "duckduckgo",
    "applebot",
    "google-read-aloud",
    "mediapartners",
];

/// True when a tracking-link hit should redirect but not count: HEAD requests, no user agent, or a
/// known crawler or preview fetcher.
pub fn is_bot(method_is_head: bool, user_agent: Option<&str>) -> bool {
    if method_is_head {
        return true;
    }
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return true;
    };
    let ua = ua.to_ascii_lowercase();
    BOT_MARKERS.iter().any(|m| ua.contains(m))
}

#[cfg(test)]
mod tests {
    use super::is_bot;

    #[test]
    fn people_are_counted_and_crawlers_are_not() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert!(!is_bot(false, Some(chrome)));
        assert!(is_bot(true, Some(chrome)));
        assert!(is_bot(false, None));
        assert!(is_bot(false, Some("  ")));
        assert!(is_bot(false, Some("Mozilla/5.0 (compatible; Googlebot/2.1)")));
        assert!(is_bot(false, Some("facebookexternalhit/1.1")));
        assert!(is_bot(false, Some("Slackbot-LinkExpanding 1.0")));
        assert!(is_bot(false, Some("curl/8.5.0")));
    }
}
