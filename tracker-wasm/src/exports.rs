//! What `www/loader.js` calls: one function, [`call`], over one shared buffer, [`io`]. The loader
//! writes the operation's arguments there as UTF-8 separated by U+001F, calls `call(op, len)`,
//! and reads the answer's `len` bytes back from the same place. Numbers cross as decimal text, a
//! record as its stored form (`""` for none), times as unix seconds.
//!
//! Why not a wasm-bindgen function per operation with `&str` arguments: each such function costs
//! a JS wrapper and the allocator that marshals strings (with its failure path, which drags in
//! `core::fmt`); together that was a quarter of the snippet. With one numeric call there is no
//! allocator at all.

use crate::checkout::{is_checkout_host, params_for, same_site};
use crate::config::{endpoint_of, window_days};
use crate::events::{self, ConversionInput, NotSent};
use crate::out::{parse_u64, Out, CAPACITY};
use crate::record::{choose, encode_or_empty, Model, Record};
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};
use reftrack_protocol::check;
use reftrack_protocol::names::{CLICK_PARAM, STRIPE_REFERENCE_PARAM};
use reftrack_protocol::text::{find_byte, split_byte};
use wasm_bindgen::prelude::*;

/// The buffer shared with the loader. Atomics make a mutable static without `unsafe`; on
/// single-threaded wasm they are plain loads and stores.
static IO: [AtomicU8; CAPACITY] = [const { AtomicU8::new(0) }; CAPACITY];

/// The operations, numbered as the loader's `OPS` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Setup = 0,
    Capture = 1,
    MergeLookup = 2,
    View = 3,
    CheckoutParams = 4,
    LeadEvent = 5,
    ConversionEvent = 6,
}

const OPS: [Op; 7] = [Op::Setup, Op::Capture, Op::MergeLookup, Op::View, Op::CheckoutParams, Op::LeadEvent, Op::ConversionEvent];

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
    if let (Some(args), Some(op)) = (args, OPS.get(op as usize)) {
        run(*op, args, &mut out);
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

/// Runs one operation on its U+001F-separated arguments (missing ones are empty).
pub fn run(op: Op, args: &str, out: &mut Out) {
    let mut a = [""; 8];
    for (slot, arg) in a.iter_mut().zip(split_byte(args, 0x1f)) {
        *slot = arg;
    }
    match op {
        Op::Setup => setup(a[0], a[1], a[2], out),
        Op::Capture => capture(a, out),
        Op::MergeLookup => merge_lookup(a[0], a[1], a[2], a[3], secs(a[4]), secs(a[5]), out),
        Op::View => view(a[0], secs(a[1]), out),
        Op::CheckoutParams => checkout_params(a[0], a[1], out),
        Op::LeadEvent => {
            let now = secs(a[3]);
            events::lead(live(a[0], now).as_ref(), a[1], a[2], now, out);
        }
        Op::ConversionEvent => conversion_event(a, out),
    }
}

/// `script_src, page_host, cookie_domain` → the tracking endpoint of the script's URL (keeping a
/// base path such as `/_rt`), prefixed with `1` when the page shares a site with it (then the
/// server refreshes its own cookie), else `0`.
fn setup(script_src: &str, page_host: &str, cookie_domain: &str, out: &mut Out) {
    let endpoint = endpoint_of(script_src);
    let host = find_byte(endpoint, b':').and_then(|i| endpoint.get(i + 3..)).unwrap_or_default();
    let host = host.get(..host.bytes().position(|b| b == b'/' || b == b':').unwrap_or(host.len())).unwrap_or_default();
    let same = same_site(page_host, host, (!cookie_domain.is_empty()).then_some(cookie_domain));
    out.push(if same { "1" } else { "0" });
    out.push(endpoint);
}

/// `cookie, local, rt_click, aff, sid, first ("1"), window_days, now` → the record to keep after
/// a page view: what is stored (cookie first, then localStorage) against what the URL brings
/// (invalid values are ignored).
fn capture([cookie, local, click, partner, sub_id, first, window, now]: [&str; 8], out: &mut Out) {
    let now = secs(now);
    let stored = live(cookie, now).or_else(|| live(local, now));
    let window = window_days(parse_u64(window).map_or(0, |w| w.min(u64::from(u32::MAX)) as u32));
    let incoming = Record::from_params(click, partner, sub_id, now, window);
    let model = if first == "1" { Model::First } else { Model::Last };
    encode_or_empty(choose(stored, incoming, model, now), out);
}

/// The record completed with a lookup's answer (or made from it when there was none).
fn merge_lookup(record: &str, click: &str, partner: &str, sub_id: &str, expires_at: u64, now: u64, out: &mut Out) {
    if !check::partner_code(partner) {
        out.push(record);
        return;
    }
    let sub_id = check::sub_id(sub_id).then_some(sub_id);
    let expires_at = (expires_at > 0).then_some(expires_at);
    let merged = match live(record, now) {
        Some(mut r) => {
            r.merge_lookup(Some(partner), sub_id, expires_at);
            r
        }
        None => Record {
            click: check::click_id(click).then_some(click),
            partner: Some(partner),
            sub_id,
            expires_at: expires_at.unwrap_or(now + 86_400),
        },
    };
    merged.encode(out);
}

/// What the loader needs to know about the record, as JSON: `{"lookup","partner","subId",
/// "clickId","expiresAt","expiresIn"}` (nulls and 0 when there is no live record). `lookup` is what
/// to ask the server, if anything: `/v1/lookup?click=…` for a click without a known partner (any
/// origin may ask about a click it holds), `/v1/lookup` (credentialed, the tracking domain's own
/// cookie) when nothing is stored, `""` when the record is complete.
fn view(record: &str, now: u64, out: &mut Out) {
    let r = live(record, now);
    out.push("{\"lookup\":\"");
    match r {
        None => out.push("/v1/lookup"),
        Some(r) if r.partner.is_some() => {}
        Some(r) => {
            if let Some(c) = r.click {
                out.push("/v1/lookup?click=");
                out.push(c);
            }
        }
    }
    out.push("\"");
    let mut field = |key: &str, value: Option<&str>| match value {
        Some(v) => out.field(key, v),
        None => {
            out.push(",\"");
            out.push(key);
            out.push("\":null");
        }
    };
    field("partner", r.and_then(|r| r.partner));
    field("subId", r.and_then(|r| r.sub_id));
    field("clickId", r.and_then(|r| r.click));
    let (at, left) = r.map_or((0, 0), |r| (r.expires_at, r.expires_at - now));
    out.push(",\"expiresAt\":");
    out.u64(at);
    out.push(",\"expiresIn\":");
    out.u64(left);
    out.push("}");
}

/// `host, domains` → the parameters a link to `host` must carry (space-separated), or nothing when
/// `host` is not one of the checkout `domains` (`*` decorates any host: `reftrack.decorate(url)`).
fn checkout_params(host: &str, domains: &str, out: &mut Out) {
    if domains != "*" && !is_checkout_host(host, domains) {
        return;
    }
    out.push(CLICK_PARAM);
    if params_for(host).len() == 2 {
        out.push(" ");
        out.push(STRIPE_REFERENCE_PARAM);
    }
}

/// `record, order_id, amount_minor, amount, currency, sent, now` → nothing if the conversion is
/// invalid, `sent` if this browser already reported the order, else the updated list of reported
/// orders, a newline, and the event's JSON.
fn conversion_event([record, order_id, amount_minor, amount, currency, sent, now, _]: [&str; 8], out: &mut Out) {
    let now = secs(now);
    let input = ConversionInput { order_id, amount_minor, amount, currency };
    events::remember(sent, order_id, out);
    out.push("\n");
    match events::conversion(live(record, now).as_ref(), &input, sent, now, out) {
        Ok(()) => {}
        Err(NotSent::AlreadySent) => {
            out.reset();
            out.push("sent");
        }
        Err(NotSent::Invalid) => out.reset(),
    }
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
        out.as_str().into()
    }

    #[test]
    fn the_buffer_round_trip_runs_an_operation() {
        let args = ["https://t.example.com/_rt/reftrack.js", "www.example.com", ""].join("\u{1f}");
        for (slot, b) in IO.iter().zip(args.as_bytes()) {
            slot.store(*b, Relaxed);
        }
        let len = call(Op::Setup as u32, args.len() as u32) as usize;
        let answer: std::vec::Vec<u8> = IO.iter().take(len).map(|b| b.load(Relaxed)).collect();
        assert_eq!(answer, b"1https://t.example.com/_rt");
        assert_eq!(call(99, 0), 0, "an unknown operation answers nothing");
    }

    #[test]
    fn a_capture_is_viewed_with_its_lookup_path_until_the_partner_is_known() {
        let record = ask(Op::Capture, &["", "", CLICK, "", "yt", "", "30", NOW]);
        assert_eq!(record, format!("1.{CLICK}..yt.{}", 1_763_629_200 + 30 * 86_400));
        let view = ask(Op::View, &[&record, NOW]);
        assert_eq!(
            view,
            format!(
                r#"{{"lookup":"/v1/lookup?click={CLICK}","partner":null,"subId":"yt","clickId":"{CLICK}","expiresAt":1766221200,"expiresIn":2592000}}"#
            )
        );
        let merged = ask(Op::MergeLookup, &[&record, CLICK, "jane", "", "1766221200", NOW]);
        assert!(
            ask(Op::View, &[&merged, NOW]).starts_with(r#"{"lookup":"","partner":"jane","subId":"yt","clickId":"AAAAAAAAAAAAAAAAAAAAAA""#)
        );
        assert!(ask(Op::View, &["", NOW]).contains(r#""lookup":"/v1/lookup""#), "nothing stored: ask with the cookie");
    }

    #[test]
    fn a_conversion_answers_the_new_memory_and_the_event_once() {
        let answer = ask(Op::ConversionEvent, &["", "cs_1", "", "99.00", "usd", "", NOW]);
        assert_eq!(answer, "cs_1\n{\"type\":\"conversion\",\"order_id\":\"cs_1\",\"amount_minor\":9900,\"currency\":\"USD\"}");
        assert_eq!(ask(Op::ConversionEvent, &["", "cs_1", "9900", "", "USD", "cs_1", NOW]), "sent");
        assert_eq!(ask(Op::ConversionEvent, &["", "cs 1", "9900", "", "USD", "", NOW]), "");
    }

    #[test]
    fn checkout_links_get_the_click_and_stripe_payment_links_a_reference_too() {
        assert_eq!(ask(Op::CheckoutParams, &["buy.stripe.com", "buy.stripe.com"]), "rt_click client_reference_id");
        assert_eq!(ask(Op::CheckoutParams, &["pay.example.com", "*"]), "rt_click");
        assert_eq!(ask(Op::CheckoutParams, &["evil.test", "buy.stripe.com"]), "");
    }
}

/// The core compiled to wasm32 and run in headless Chromium by wasm-bindgen-test (`cargo xtask
/// test` runs it): the operations through the shared buffer, exactly as the loader calls them.
/// The browser I/O around them (cookies, storage, consent, fields, beacons) is tested with the
/// real loader over WebDriver in `tests/tests/snippet.rs`.
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

    /// Writes the arguments into the buffer, calls, reads the answer: what the loader's `bind` does.
    fn ask(op: Op, args: &[&str]) -> String {
        let joined = args.join("\u{1f}");
        let start = io() as usize;
        assert_eq!(start, IO.as_ptr() as usize);
        for (slot, b) in IO.iter().zip(joined.as_bytes()) {
            slot.store(*b, Relaxed);
        }
        let len = call(op as u32, joined.len() as u32) as usize;
        String::from_utf8(IO.iter().take(len).map(|b| b.load(Relaxed)).collect()).unwrap()
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
        let (sent, event) = first.split_once('\n').unwrap();
        assert_eq!(
            event,
            format!(r#"{{"type":"conversion","order_id":"cs_1","amount_minor":9900,"currency":"USD","click_id":"{CLICK}"}}"#)
        );
        assert_eq!(ask(Op::ConversionEvent, &[&record, "cs_1", "", "99.00", "usd", sent, NOW]), "sent");
    }

    #[wasm_bindgen_test]
    fn checkout_links_are_decorated_and_others_left_alone() {
        assert_eq!(ask(Op::CheckoutParams, &["buy.stripe.com", "buy.stripe.com,pay.example.com"]), "rt_click client_reference_id");
        assert_eq!(ask(Op::CheckoutParams, &["eu.pay.example.com", "buy.stripe.com,pay.example.com"]), "rt_click");
        assert_eq!(ask(Op::CheckoutParams, &["pay.example.com.evil.test", "pay.example.com"]), "");
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
