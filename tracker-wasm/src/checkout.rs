//! Which links go to a checkout, and what they must carry.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use reftrack_protocol::names::{CLICK_PARAM, STRIPE_REFERENCE_PARAM};
use reftrack_protocol::text::{rfind_byte, split_where, trim_byte, trim_end_byte};

/// True when `host` is one of `domains` or a subdomain of one.
pub fn is_checkout_host(host: &str, domains: &[String]) -> bool {
    let host = trim_end_byte(host, b'.').to_ascii_lowercase();
    domains.iter().any(|d| host == *d || host.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.') && rest.len() > 1))
}

/// The domains of a `data-checkout-domains` attribute: comma- or space-separated, lower-cased.
pub fn parse_domains(raw: &str) -> Vec<String> {
    split_where(raw, |b| b == b',' || b.is_ascii_whitespace())
        .map(|d| trim_byte(d, b'.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// The query parameters a checkout link gets: always `rt_click`; Stripe Payment Links also
/// `client_reference_id`, which Stripe copies onto the checkout session.
pub fn params_for(host: &str) -> &'static [&'static str] {
    if host.eq_ignore_ascii_case("buy.stripe.com") {
        &[CLICK_PARAM, STRIPE_REFERENCE_PARAM]
    } else {
        &[CLICK_PARAM]
    }
}

/// Whether two hosts share a site, by their last two labels (or `cookie_domain` when given).
/// A public-suffix list would be exact (`co.uk`); merchants with such domains set `data-domain`.
pub fn same_site(a: &str, b: &str, cookie_domain: Option<&str>) -> bool {
    if let Some(d) = cookie_domain {
        return is_checkout_host(a, &[d.to_owned()]) && is_checkout_host(b, &[d.to_owned()]);
    }
    fn site(h: &str) -> &str {
        let h = trim_end_byte(h, b'.');
        // The last two labels: everything after the second-to-last dot.
        let last = rfind_byte(h, b'.').unwrap_or(0);
        h.get(..last).and_then(|head| rfind_byte(head, b'.')).and_then(|i| h.get(i + 1..)).unwrap_or(h)
    }
    !a.is_empty() && site(a).eq_ignore_ascii_case(site(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::vec;

    fn domains() -> Vec<String> {
        vec!["buy.stripe.com".into(), "example.thrivecart.com".into()]
    }

    #[test]
    fn checkout_hosts_match_exactly_or_as_subdomains() {
        assert!(is_checkout_host("buy.stripe.com", &domains()));
        assert!(is_checkout_host("BUY.stripe.com.", &domains()));
        assert!(is_checkout_host("eu.example.thrivecart.com", &domains()));
        assert!(!is_checkout_host("notbuy.stripe.com", &domains()));
        assert!(!is_checkout_host("stripe.com", &domains()));
        assert!(!is_checkout_host("buy.stripe.com.evil.test", &domains()));
    }

    #[test]
    fn the_attribute_lists_domains_by_comma_or_space() {
        assert_eq!(
            parse_domains("buy.stripe.com, .Example.thrivecart.com  x.test"),
            vec!["buy.stripe.com", "example.thrivecart.com", "x.test"]
        );
        assert!(parse_domains(" , ").is_empty());
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
