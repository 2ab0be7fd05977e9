//! Which links go to a checkout, and what they must carry.

use reftrack_protocol::names::{CLICK_PARAM, STRIPE_REFERENCE_PARAM};
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

/// The parameters a checkout link must carry: the click, and for Stripe Payment Links also
/// `client_reference_id`, which Stripe copies into the checkout session.
pub fn params_for(host: &str) -> &'static [&'static str] {
    if host.eq_ignore_ascii_case("buy.stripe.com") {
        &[CLICK_PARAM, STRIPE_REFERENCE_PARAM]
    } else {
        &[CLICK_PARAM]
    }
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
    fn stripe_payment_links_also_get_a_client_reference_id() {
        assert_eq!(params_for("buy.stripe.com"), &["rt_click", "client_reference_id"]);
        assert_eq!(params_for("checkout.cartvendor.test"), &["rt_click"]);
    }

    #[test]
    fn same_site_compares_the_registrable_part() {
        assert!(same_site("www.merchant.test", "track.merchant.test", None));
        assert!(!same_site("webinar-tool.test", "track.merchant.test", None));
        assert!(same_site("shop.example.co.uk", "track.example.co.uk", Some("example.co.uk")));
        assert!(!same_site("other.co.uk", "track.example.co.uk", Some("example.co.uk")));
    }
}
