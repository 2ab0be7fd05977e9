//! What `www/loader.js` calls: one function, [`call`], over one shared buffer, [`io`]. The loader
//! writes an operation's arguments there, calls `call(op, len)`, and reads the answer's `len` bytes
//! back from the same place. Which operations exist, their arguments and their answers are the
//! contract ([`crate::contract`]); the functions here are its handlers, one per operation.
//!
//! Why not a wasm-bindgen function per operation with `&str` arguments: each such function costs
//! a JS wrapper and the allocator that marshals strings (with its failure path, which drags in
//! `core::fmt`); together that was a quarter of the snippet. With one numeric call there is no
//! allocator at all, and no wasm-bindgen JS glue either: the loader instantiates the module itself.

use crate::checkout::{decoration_for, same_site};
use crate::config::{endpoint_of, window_days};
use crate::contract::{args, run, Op};
use crate::events::{self, ConversionInput, NotSent};
use crate::out::{parse_u64, Out, CAPACITY};
use crate::record::{choose, encode_or_empty, Model, Record};
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};
use reftrack_protocol::check;
use reftrack_protocol::text::find_byte;
use wasm_bindgen::prelude::*;

/// The buffer shared with the loader. Atomics make a mutable static without `unsafe`; on
/// single-threaded wasm they are plain loads and stores.
static IO: [AtomicU8; CAPACITY] = [const { AtomicU8::new(0) }; CAPACITY];

/// Where the loader writes arguments and reads answers (an address in the wasm memory).
#[wasm_bindgen]
pub fn io() -> u32 {
    IO.as_ptr() as usize as u32
}

/// Runs operation `op` on the `len` bytes of arguments in [`io`]; the answer's length, written there.
#[wasm_bindgen]
pub fn call(op: u32, len: u32) -> u32 {
    let mut input = [0u8; CAPACITY];
    for (d, s) in input.iter_mut().zip(IO.iter()).take(len as usize) {
        *d = s.load(Relaxed);
    }
    let mut out = Out::default();
    let args = input.get(..len as usize).and_then(|b| core::str::from_utf8(b).ok());
    if let (Some(args), Some(op)) = (args, Op::from_number(op)) {
        run(op, args, &mut out);
    }
    let answer = out.as_bytes();
    for (d, s) in IO.iter().zip(answer) {
        d.store(*s, Relaxed);
    }
    answer.len() as u32
}

fn secs(raw: &str) -> u64 {
    parse_u64(raw).unwrap_or(0)
}

fn live<'a>(record: &'a str, now: u64) -> Option<Record<'a>> {
    Record::decode(record).filter(|r| r.is_live(now))
}

/// The tracking endpoint of the script's URL (keeping a base path such as `/_rt`), and `1` when
/// the page shares a site with it (there the server's own cookie can be refreshed and read).
pub fn setup(a: args::Setup<'_>, out: &mut Out) {
    let endpoint = endpoint_of(a.script_src);
    let host = find_byte(endpoint, b':').and_then(|i| endpoint.get(i + 3..)).unwrap_or_default();
    let host = host.get(..host.bytes().position(|b| b == b'/' || b == b':').unwrap_or(host.len())).unwrap_or_default();
    let domain = (!a.cookie_domain.is_empty()).then_some(a.cookie_domain);
    out.push(if same_site(a.page_host, host, domain) { "1" } else { "" });
    out.sep();
    out.push(endpoint);
}

/// What is stored (cookie first, then localStorage) against what the URL brings (invalid values
/// are ignored): the record to keep, or nothing. `first` is `1` for first-click attribution.
pub fn capture(a: args::Capture<'_>, out: &mut Out) {
    let now = secs(a.now);
    let stored = live(a.cookie, now).or_else(|| live(a.local, now));
    let window = window_days(parse_u64(a.window_days).map_or(0, |w| w.min(u64::from(u32::MAX)) as u32));
    let incoming = Record::from_params(a.click, a.partner, a.sub_id, now, window);
    let model = if a.first == "1" { Model::First } else { Model::Last };
    encode_or_empty(choose(stored, incoming, model, now), out);
}

/// The record completed with a lookup's answer, or made from it when there was none (the
/// tracking domain's own cookie knew the click when this site's storage had lost it).
pub fn merge_lookup(a: args::MergeLookup<'_>, out: &mut Out) {
    let now = secs(a.now);
    if !check::partner_code(a.partner) {
        out.push(a.record);
        return;
    }
    let sub_id = check::sub_id(a.sub_id).then_some(a.sub_id);
    let expires_at = Some(secs(a.expires_at)).filter(|e| *e > now);
    let merged = match live(a.record, now) {
        Some(mut r) => {
            r.merge_lookup(Some(a.partner), sub_id, expires_at);
            r
        }
        None => Record {
            click: check::click_id(a.click).then_some(a.click),
            partner: Some(a.partner),
            sub_id,
            expires_at: expires_at.unwrap_or(now + 86_400),
        },
    };
    merged.encode(out);
}

/// What the live record says (empty fields and zeros when there is none), and `lookup`: what to
/// ask the server, if anything. `/v1/lookup?click=…` for a click without a known partner (any
/// origin may ask about a click it holds); `/v1/lookup` (credentialed: the tracking domain's own
/// HttpOnly cookie, which outlives script storage in Safari) when nothing is stored on a page of
/// the tracking domain's site and this tab has not already found nothing (`searched`); else empty.
pub fn view(a: args::View<'_>, out: &mut Out) {
    let now = secs(a.now);
    let r = live(a.record, now);
    match r {
        None if a.same_site == "1" && a.searched.is_empty() => out.push("/v1/lookup"),
        Some(Record { partner: None, click: Some(c), .. }) => {
            out.push("/v1/lookup?click=");
            out.push(c);
        }
        _ => {}
    }
    for value in [r.and_then(|r| r.partner), r.and_then(|r| r.sub_id), r.and_then(|r| r.click)] {
        out.sep();
        out.push(value.unwrap_or_default());
    }
    let (at, left) = r.map_or((0, 0), |r| (r.expires_at, r.expires_at - now));
    out.sep();
    out.u64(at);
    out.sep();
    out.u64(left);
}

/// The query and fragment parameters (each space-separated) a URL to `host` + `path` carries the
/// click in: a known tool's or cart's own, `rt_click` for the merchant's checkout `domains`
/// (`*`: any host), else none.
pub fn decoration(a: args::Decoration<'_>, out: &mut Out) {
    let rule = decoration_for(a.host, a.path, a.domains);
    let (query, hash) = rule.map_or((&[][..], &[][..]), |r| (r.query, r.hash));
    for (i, list) in [query, hash].into_iter().enumerate() {
        if i > 0 {
            out.sep();
        }
        for (j, key) in list.iter().enumerate() {
            if j > 0 {
                out.push(" ");
            }
            out.push(key);
        }
    }
}

/// The lead event's JSON, or nothing when there is neither a valid email nor a live click.
pub fn lead_event(a: args::LeadEvent<'_>, out: &mut Out) {
    let now = secs(a.now);
    events::lead(live(a.record, now).as_ref(), a.email, a.page, now, out);
}

/// `outcome` is `send` (then `sent` is the updated list of reported orders and `body` the event's
/// JSON), `sent` (this browser already reported the order) or `invalid`.
pub fn conversion_event(a: args::ConversionEvent<'_>, out: &mut Out) {
    let now = secs(a.now);
    let input = ConversionInput { order_id: a.order_id, amount_minor: a.amount_minor, amount: a.amount, currency: a.currency };
    out.push("send");
    out.sep();
    events::remember(a.sent, a.order_id, out);
    out.sep();
    let refused = match events::conversion(live(a.record, now).as_ref(), &input, a.sent, now, out) {
        Ok(()) => return,
        Err(NotSent::AlreadySent) => "sent",
        Err(NotSent::Invalid) => "invalid",
    };
    out.reset();
    out.push(refused);
    out.sep();
    out.sep();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const NOW: &str = "1763629200";

    fn ask(op: Op, args: &[&str]) -> String {
        let mut out = Out::default();
        run(op, &args.join("\u{1f}"), &mut out);
        out.as_str().replace('\u{1f}', "|")
    }

    #[test]
    fn the_buffer_round_trip_runs_an_operation() {
        let args = ["https://t.example.com/_rt/reftrack.js", "www.example.com", ""].join("\u{1f}");
        for (slot, b) in IO.iter().zip(args.as_bytes()) {
            slot.store(*b, Relaxed);
        }
        let len = call(Op::Setup as u32, args.len() as u32) as usize;
        let answer: std::vec::Vec<u8> = IO.iter().take(len).map(|b| b.load(Relaxed)).collect();
        assert_eq!(answer, b"1\x1fhttps://t.example.com/_rt");
        assert_eq!(call(99, 0), 0, "an unknown operation answers nothing");
    }

    #[test]
    fn a_capture_is_viewed_with_its_lookup_path_until_the_partner_is_known() {
        let record = ask(Op::Capture, &["", "", CLICK, "", "yt", "", "30", NOW]);
        assert_eq!(record, format!("1.{CLICK}..yt.{}", 1_763_629_200 + 30 * 86_400));
        let view = ask(Op::View, &[&record, NOW, "1", ""]);
        assert_eq!(view, format!("/v1/lookup?click={CLICK}||yt|{CLICK}|1766221200|2592000"));
        let merged = ask(Op::MergeLookup, &[&record, CLICK, "jane", "", "1766221200", NOW]);
        assert_eq!(ask(Op::View, &[&merged, NOW, "1", ""]), format!("|jane|yt|{CLICK}|1766221200|2592000"));
    }

    #[test]
    fn with_nothing_stored_the_tracking_sites_pages_ask_its_cookie_once_per_tab_and_others_never() {
        assert_eq!(ask(Op::View, &["", NOW, "1", ""]), "/v1/lookup||||0|0", "same site, not yet searched");
        assert_eq!(ask(Op::View, &["", NOW, "1", "1"]), "||||0|0", "this tab already found nothing");
        assert_eq!(ask(Op::View, &["", NOW, "", ""]), "||||0|0", "a third-party page cannot read the cookie");
    }

    #[test]
    fn the_tracking_domains_cookie_rebuilds_a_lost_record() {
        let rebuilt = ask(Op::MergeLookup, &["", CLICK, "jane", "yt", "1766221200", NOW]);
        assert_eq!(rebuilt, format!("1.{CLICK}.jane.yt.1766221200"));
        assert_eq!(ask(Op::MergeLookup, &["", CLICK, "<x>", "", "1766221200", NOW]), "", "an invalid answer makes nothing");
    }

    #[test]
    fn a_conversion_answers_the_new_memory_and_the_event_once() {
        let answer = ask(Op::ConversionEvent, &["", "cs_1", "", "99.00", "usd", "", NOW]);
        assert_eq!(answer, "send|cs_1|{\"type\":\"conversion\",\"order_id\":\"cs_1\",\"amount_minor\":9900,\"currency\":\"USD\"}");
        assert_eq!(ask(Op::ConversionEvent, &["", "cs_1", "9900", "", "USD", "cs_1", NOW]), "sent||");
        assert_eq!(ask(Op::ConversionEvent, &["", "cs 1", "9900", "", "USD", "", NOW]), "invalid||");
    }

    #[test]
    fn links_get_the_click_where_their_tool_or_cart_returns_it() {
        assert_eq!(ask(Op::Decoration, &["buy.stripe.com", "/x", ""]), "rt_click client_reference_id|");
        assert_eq!(ask(Op::Decoration, &["form.typeform.com", "/to/abc", ""]), "|rt_click");
        assert_eq!(ask(Op::Decoration, &["pay.example.com", "/", "*"]), "rt_click|");
        assert_eq!(ask(Op::Decoration, &["evil.test", "/", "buy.stripe.com"]), "|");
    }
}

/// The core compiled to wasm32 and run in headless Chromium by wasm-bindgen-test (`cargo xtask
/// test` runs it): the operations through the shared buffer, exactly as the loader calls them.
/// The browser I/O around them (cookies, storage, consent, fields, beacons) is tested with the
/// real loader over WebDriver in `tests/tests/snippet.rs` and `tests/tests/survival.rs`.
#[cfg(all(test, target_arch = "wasm32"))]
mod in_browser {
    use super::*;
    use std::format;
    use std::string::String;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const OTHER: &str = "BBBBBBBBBBBBBBBBBBBBBB";
    const NOW: &str = "1763629200";

    /// Writes the arguments into the buffer, calls, reads the answer's fields: what the loader does.
    fn ask(op: Op, args: &[&str]) -> String {
        let joined = args.join("\u{1f}");
        let start = io() as usize;
        assert_eq!(start, IO.as_ptr() as usize);
        for (slot, b) in IO.iter().zip(joined.as_bytes()) {
            slot.store(*b, Relaxed);
        }
        let len = call(op as u32, joined.len() as u32) as usize;
        String::from_utf8(IO.iter().take(len).map(|b| b.load(Relaxed)).collect()).unwrap().replace('\u{1f}', "|")
    }

    #[wasm_bindgen_test]
    fn the_last_click_replaces_the_stored_one_and_first_click_mode_keeps_it() {
        let jane = ask(Op::Capture, &["", "", CLICK, "jane", "", "", "30", NOW]);
        let last = ask(Op::Capture, &[&jane, "", OTHER, "john", "", "", "30", NOW]);
        assert!(last.starts_with(&format!("1.{OTHER}.john.")), "{last}");
        let first = ask(Op::Capture, &[&jane, "", OTHER, "john", "", "1", "30", NOW]);
        assert_eq!(first, jane);
    }

    #[wasm_bindgen_test]
    fn invalid_values_from_the_address_are_ignored_and_tampered_records_refused() {
        assert_eq!(ask(Op::Capture, &["", "", "short", "<script>", "x y", "", "30", NOW]), "");
        assert_eq!(ask(Op::Capture, &["1..ja ne..99999999999", "", "", "", "", "", "30", NOW]), "");
        let kept = ask(Op::Capture, &["", "", CLICK, "<script>", "bad sid", "", "30", NOW]);
        assert!(kept.starts_with(&format!("1.{CLICK}...")), "{kept}");
    }

    #[wasm_bindgen_test]
    fn a_reloaded_confirmation_page_reports_its_conversion_once() {
        let record = ask(Op::Capture, &["", "", CLICK, "jane", "", "", "30", NOW]);
        let first = ask(Op::ConversionEvent, &[&record, "cs_1", "", "99.00", "usd", "", NOW]);
        let mut fields = first.split('|');
        assert_eq!(fields.next(), Some("send"));
        let sent = fields.next().unwrap();
        assert_eq!(
            fields.next().unwrap(),
            format!(r#"{{"type":"conversion","order_id":"cs_1","amount_minor":9900,"currency":"USD","click_id":"{CLICK}"}}"#)
        );
        assert_eq!(ask(Op::ConversionEvent, &[&record, "cs_1", "", "99.00", "usd", sent, NOW]), "sent||");
    }

    #[wasm_bindgen_test]
    fn checkout_links_are_decorated_and_others_left_alone() {
        let domains = "buy.stripe.com,pay.example.com";
        assert_eq!(ask(Op::Decoration, &["buy.stripe.com", "/x", domains]), "rt_click client_reference_id|");
        assert_eq!(ask(Op::Decoration, &["eu.pay.example.com", "/", domains]), "rt_click|");
        assert_eq!(ask(Op::Decoration, &["pay.example.com.evil.test", "/", domains]), "|");
        assert_eq!(ask(Op::Decoration, &["acme.typeform.com", "/to/x", ""]), "|rt_click");
    }

    #[wasm_bindgen_test]
    fn a_lead_event_carries_the_email_and_the_live_click() {
        let record = ask(Op::Capture, &["", "", CLICK, "jane", "", "", "30", NOW]);
        let lead = ask(Op::LeadEvent, &[&record, " Fan@Example.com ", "https://webinar-tool.test/join", NOW]);
        assert_eq!(
            lead,
            format!(r#"{{"type":"lead","page":"https://webinar-tool.test/join","email":"fan@example.com","click_id":"{CLICK}"}}"#)
        );
        assert_eq!(ask(Op::LeadEvent, &["", "not an email", "/", NOW]), "");
    }

    #[wasm_bindgen_test]
    fn an_argument_list_longer_than_the_buffer_answers_nothing() {
        // The loader never passes one (it checks the encoded length), but the core must not trap.
        assert_eq!(call(Op::View as u32, (CAPACITY + 10) as u32), 0);
    }
}
