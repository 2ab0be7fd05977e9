//! Which URLs go to a checkout or a tool, and where each must carry the click.

use reftrack_protocol::names::{
    CALENDLY_CLICK_PARAM, CLICK_PARAM, LEMON_SQUEEZY_CUSTOM_PARAM, POLAR_REFERENCE_PARAM, STRIPE_REFERENCE_PARAM,
    THRIVECART_PASSTHROUGH_PARAM,
};
use reftrack_protocol::text::{rfind_byte, split_where, trim_byte, trim_end_byte};

/// True when `host` is `domain` or a subdomain of it, ignoring case and outer dots.
fn within(host: &str, domain: &str) -> bool {
    let host = trim_end_byte(host, b'.');
    let domain = trim_byte(domain, b'.');
    let Some((head, tail)) = host.as_bytes().split_at_checked(host.len().wrapping_sub(domain.len())) else { return false };
    if domain.is_empty() {
        return false;
    }
    tail.eq_ignore_ascii_case(domain.as_bytes()) && (head.is_empty() || (head.len() > 1 && head.last() == Some(&b'.')))
}

/// True when `host` is one of the `domains` of a `data-checkout-domains` attribute (comma- or
/// space-separated) or a subdomain of one.
pub fn is_checkout_host(host: &str, domains: &str) -> bool {
    split_where(domains, |b| b == b',' || b.is_ascii_whitespace()).any(|d| within(host, d))
}

/// How a URL to one tool or cart carries the click so that it comes back with the opt-in or the
/// order: under which query parameters, and under which parameters of its fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The host, or any subdomain of it.
    pub host: &'static str,
    /// Text the path must contain (empty: any path).
    pub path: &'static str,
    pub query: &'static [&'static str],
    pub hash: &'static [&'static str],
}

const fn query(host: &'static str, path: &'static str, query: &'static [&'static str]) -> Rule {
    Rule { host, path, query, hash: &[] }
}

/// The tools and carts the snippet knows, with no configuration: their links, forms and iframes
/// carry the click where each returns it. `rt_click` rides along on carts too, so a snippet on the
/// checkout page (where the cart allows scripts) captures it.
pub const RULES: &[Rule] = &[
    // Stripe Payment Links copy `client_reference_id` into the checkout session.
    query("buy.stripe.com", "", &[CLICK_PARAM, STRIPE_REFERENCE_PARAM]),
    // Lemon Squeezy: `checkout[custom][…]` comes back as the webhook's `meta.custom_data`.
    query("lemonsqueezy.com", "/checkout/", &[CLICK_PARAM, LEMON_SQUEEZY_CUSTOM_PARAM]),
    // Gumroad: the product URL's query comes back in the ping's `url_params`.
    query("gumroad.com", "", &[CLICK_PARAM]),
    query("gum.co", "", &[CLICK_PARAM]),
    // Polar checkout links store `reference_id` (and utm_*) in the checkout's metadata.
    query("buy.polar.sh", "", &[CLICK_PARAM, POLAR_REFERENCE_PARAM]),
    // ThriveCart: pass-through variables `passthrough[…]` come back with the order.
    query("thrivecart.com", "", &[CLICK_PARAM, THRIVECART_PASSTHROUGH_PARAM]),
    query("samcart.com", "", &[CLICK_PARAM]),
    // Typeform hidden fields ride in the form URL's fragment.
    Rule { host: "typeform.com", path: "/to/", query: &[], hash: &[CLICK_PARAM] },
    // Tally hidden fields are read from the query.
    query("tally.so", "", &[CLICK_PARAM]),
    // Calendly returns utm_* in the invitee's `tracking`.
    query("calendly.com", "", &[CALENDLY_CLICK_PARAM]),
    // Zoom and WebinarJam registration pages keep their query.
    query("zoom.us", "/register", &[CLICK_PARAM]),
    query("webinarjam.com", "", &[CLICK_PARAM]),
];

/// The first rule for a URL to `host` with `path`.
pub fn rule_for(host: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| within(host, r.host) && contains(path, r.path))
}

fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.as_bytes().windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The plain decoration of the merchant's own `data-checkout-domains`: the click as `rt_click`.
pub const PLAIN: Rule = query("", "", &[CLICK_PARAM]);

/// How a URL to `host` + `path` carries the click: a known tool's or cart's rule, else `rt_click`
/// for the merchant's checkout `domains` (`*`: any host, for `reftrack.decorate(url)`), else none.
pub fn decoration_for(host: &str, path: &str, domains: &str) -> Option<&'static Rule> {
    if host.is_empty() {
        return None;
    }
    rule_for(host, path).or((domains == "*" || is_checkout_host(host, domains)).then_some(&PLAIN))
}

/// Whether two hosts share a site: both within the configured cookie domain, or the same last two
/// labels (enough to tell the tracking domain's own site from third-party tools).
pub fn same_site(a: &str, b: &str, cookie_domain: Option<&str>) -> bool {
    if let Some(d) = cookie_domain {
        return within(a, d) && within(b, d);
    }
    fn site(h: &str) -> &str {
        let h = trim_end_byte(h, b'.');
        let last = rfind_byte(h, b'.').unwrap_or(0);
        h.get(..last).and_then(|head| rfind_byte(head, b'.')).and_then(|i| h.get(i + 1..)).unwrap_or(h)
    }
    !a.is_empty() && site(a).eq_ignore_ascii_case(site(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAINS: &str = "buy.stripe.com, .Example.thrivecart.com  x.test";

    #[test]
    fn checkout_hosts_match_exactly_or_as_subdomains() {
        assert!(is_checkout_host("buy.stripe.com", DOMAINS));
        assert!(is_checkout_host("BUY.stripe.com.", DOMAINS));
        assert!(is_checkout_host("eu.example.thrivecart.com", DOMAINS));
        assert!(is_checkout_host("x.test", DOMAINS));
        assert!(!is_checkout_host("notbuy.stripe.com", DOMAINS));
        assert!(!is_checkout_host("stripe.com", DOMAINS));
        assert!(!is_checkout_host("buy.stripe.com.evil.test", DOMAINS));
        assert!(!is_checkout_host("buy.stripe.com", " , "));
    }

    #[test]
    fn each_known_cart_and_tool_gets_the_click_where_it_returns_it() {
        let q = |host: &str, path: &str| decoration_for(host, path, "").map(|r| (r.query, r.hash));
        assert_eq!(q("buy.stripe.com", "/test_123"), Some((&["rt_click", "client_reference_id"][..], &[][..])));
        assert_eq!(q("acme.lemonsqueezy.com", "/checkout/buy/1"), Some((&["rt_click", "checkout[custom][rt_click]"][..], &[][..])));
        assert_eq!(q("acme.lemonsqueezy.com", "/"), None, "the store front is not a checkout");
        assert_eq!(q("acme.gumroad.com", "/l/course"), Some((&["rt_click"][..], &[][..])));
        assert_eq!(q("buy.polar.sh", "/polar_cl_1"), Some((&["rt_click", "reference_id"][..], &[][..])));
        assert_eq!(q("acme.thrivecart.com", "/course/"), Some((&["rt_click", "passthrough[rt_click]"][..], &[][..])));
        assert_eq!(q("form.typeform.com", "/to/abc"), Some((&[][..], &["rt_click"][..])));
        assert_eq!(q("tally.so", "/r/abc"), Some((&["rt_click"][..], &[][..])));
        assert_eq!(q("calendly.com", "/acme/intro"), Some((&["utm_content"][..], &[][..])));
        assert_eq!(q("us06web.zoom.us", "/webinar/register/WN_1"), Some((&["rt_click"][..], &[][..])));
        assert_eq!(q("zoom.us", "/j/123"), None, "a join link is not a registration");
        assert_eq!(q("event.webinarjam.com", "/register/1/abc"), Some((&["rt_click"][..], &[][..])));
        assert_eq!(q("notstripe.com", "/"), None);
    }

    #[test]
    fn the_merchants_own_checkout_domains_get_rt_click_and_decorate_any_host() {
        assert_eq!(decoration_for("checkout.cartvendor.test", "/pay", DOMAINS), None);
        assert_eq!(decoration_for("x.test", "/pay", DOMAINS).map(|r| r.query), Some(&["rt_click"][..]));
        assert_eq!(decoration_for("tool.example", "/", "*").map(|r| r.query), Some(&["rt_click"][..]));
        assert_eq!(decoration_for("", "/", "*"), None, "no host (mailto:, javascript:) is never decorated");
    }

    #[test]
    fn same_site_compares_the_registrable_part() {
        assert!(same_site("www.merchant.test", "track.merchant.test", None));
        assert!(!same_site("webinar-tool.test", "track.merchant.test", None));
        assert!(same_site("shop.example.co.uk", "track.example.co.uk", Some("example.co.uk")));
        assert!(!same_site("other.co.uk", "track.example.co.uk", Some("example.co.uk")));
    }
}
