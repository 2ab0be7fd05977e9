//! The functions `www/loader.js` calls. Strings in, strings out: a record is its stored form
//! (`""` for none), times are unix seconds as JS numbers. Each is a thin wrapper over plain Rust.

use crate::checkout::{is_checkout_host, params_for, parse_domains};
use crate::config::{endpoint_of, window_days};
use crate::events::{self, ConversionInput};
use crate::record::{choose, encode_or_empty as stored_form, push_u64, Model, Record};
use alloc::string::String;
use reftrack_protocol::names::{CLICK_PARAM, STRIPE_REFERENCE_PARAM};
use reftrack_protocol::text::find_byte;
use reftrack_protocol::{ClickId, PartnerCode, SubId};
use wasm_bindgen::prelude::*;

fn secs(now: f64) -> u64 {
    if now > 0.0 {
        now as u64
    } else {
        0
    }
}

fn live(record: &str, now: f64) -> Option<Record> {
    Record::decode(record).filter(|r| r.is_live(secs(now)))
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The tracking endpoint of the script's URL (keeping a base path such as `/_rt`), prefixed with
/// `1` when the page shares a site with it (then the server refreshes its own cookie), else `0`.
#[wasm_bindgen]
pub fn setup(script_src: &str, page_host: &str, cookie_domain: &str) -> String {
    let endpoint = endpoint_of(script_src);
    // After "scheme://": a char search and a checked slice keep string-searcher and panic code out.
    let host = find_byte(&endpoint, b':').and_then(|i| endpoint.get(i + 3..)).unwrap_or_default();
    let host = host.get(..host.bytes().position(|b| b == b'/' || b == b':').unwrap_or(host.len())).unwrap_or_default();
    let same = crate::checkout::same_site(page_host, host, non_empty(cookie_domain));
    [if same { "1" } else { "0" }, endpoint.as_str()].concat()
}

/// The record to keep after a page view: what is stored (cookie first, then localStorage) against
/// what the URL brings (`rt_click`, `aff`, `sid`; invalid values are ignored).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)] // One flat call from JS beats an object the wasm must parse.
pub fn capture(cookie: &str, local: &str, click: &str, partner: &str, sub_id: &str, first_click: bool, window: u32, now: f64) -> String {
    let now = secs(now);
    let stored = Record::decode(cookie).filter(|r| r.is_live(now)).or_else(|| Record::decode(local).filter(|r| r.is_live(now)));
    let incoming = Record::from_params(non_empty(click), non_empty(partner), non_empty(sub_id), now, window_days(window));
    let model = if first_click { Model::First } else { Model::Last };
    stored_form(choose(stored, incoming, model, now))
}

/// The record completed with a lookup's answer (or made from it when there was none).
#[wasm_bindgen]
pub fn merge_lookup(record: &str, click: &str, partner: &str, sub_id: &str, expires_at: f64, now: f64) -> String {
    let Ok(partner) = PartnerCode::parse(partner) else { return String::from(record) };
    let sub_id = SubId::parse(sub_id).ok();
    let expires_at = (expires_at > 0.0).then_some(expires_at as u64);
    match live(record, now) {
        Some(mut r) => {
            r.merge_lookup(Some(partner), sub_id, expires_at);
            stored_form(Some(r))
        }
        None => stored_form(Some(Record {
            click: ClickId::parse(click).ok(),
            partner: Some(partner),
            sub_id,
            expires_at: expires_at.unwrap_or(secs(now) + 86_400),
        })),
    }
}

/// What the loader needs to know about the record, as JSON: `{"partner","subId","clickId",
/// "expiresAt","expiresIn","lookup"}` (nulls and 0 when there is no live record). `lookup` is what
/// to ask the server, if anything: `/v1/lookup?click=…` for a click without a known partner (any
/// origin may ask about a click it holds), `/v1/lookup` (credentialed, the tracking domain's own
/// cookie) when nothing is stored, `""` when the record is complete.
#[wasm_bindgen]
pub fn view(record: &str, now: f64) -> String {
    let r = live(record, now);
    let lookup = match &r {
        None => String::from("/v1/lookup"),
        Some(r) if r.partner.is_some() => String::new(),
        Some(r) => r.click.as_ref().map(|c| ["/v1/lookup?click=", c.as_str()].concat()).unwrap_or_default(),
    };
    let mut out = String::from("{");
    let mut field = |key: &str, value: Option<&str>| {
        events::push_json_str(&mut out, key);
        out.push(':');
        match value {
            Some(v) => events::push_json_str(&mut out, v),
            None => out.push_str("null"),
        }
        out.push(',');
    };
    field("partner", r.as_ref().and_then(|r| r.partner.as_ref()).map(|p| p.as_str()));
    field("subId", r.as_ref().and_then(|r| r.sub_id.as_ref()).map(|s| s.as_str()));
    field("clickId", r.as_ref().and_then(|r| r.click.as_ref()).map(|c| c.as_str()));
    field("lookup", Some(&lookup));
    let (at, left) = r.as_ref().map_or((0, 0), |r| (r.expires_at, r.expires_at - secs(now)));
    out.push_str("\"expiresAt\":");
    push_u64(&mut out, at);
    out.push_str(",\"expiresIn\":");
    push_u64(&mut out, left);
    out.push('}');
    out
}

/// The parameters a link to `host` must carry (space-separated), or `""` when `host` is not one of
/// the checkout `domains` (`*` decorates any host: `reftrack.decorate(url)`).
#[wasm_bindgen]
pub fn checkout_params(host: &str, domains: &str) -> String {
    if domains != "*" && !is_checkout_host(host, &parse_domains(domains)) {
        return String::new();
    }
    match params_for(host) {
        [_, _] => [CLICK_PARAM, " ", STRIPE_REFERENCE_PARAM].concat(),
        _ => String::from(CLICK_PARAM),
    }
}

/// The lead event's JSON, or `""` when there is nothing to report.
#[wasm_bindgen]
pub fn lead_event(record: &str, email: &str, page: &str, now: f64) -> String {
    events::lead(live(record, now).as_ref(), email, page, secs(now)).unwrap_or_default()
}

/// `""` if the conversion is invalid, `"sent"` if this browser already reported the order, else
/// the updated list of reported orders, a newline, and the event's JSON.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn conversion_event(record: &str, order_id: &str, amount_minor: f64, amount: f64, currency: &str, sent: &str, now: f64) -> String {
    let input = ConversionInput { order_id, amount_minor, amount, currency };
    match events::conversion(live(record, now).as_ref(), &input, sent, secs(now)) {
        Ok(json) => [events::remember(sent, order_id).as_str(), "\n", json.as_str()].concat(),
        Err(events::NotSent::AlreadySent) => String::from("sent"),
        Err(events::NotSent::Invalid) => String::new(),
    }
}
