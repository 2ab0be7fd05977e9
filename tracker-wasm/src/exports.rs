//! The functions `www/loader.js` calls. Strings in, strings out: a record is its stored form
//! (`""` for none), times are unix seconds as JS numbers. Each is a thin wrapper over plain Rust.

use crate::checkout::{is_checkout_host, params_for, parse_domains};
use crate::config::{endpoint_of, window_days};
use crate::events::{self, ConversionInput};
use crate::record::{choose, encode_or_empty as stored_form, push_u64, Model, Record};
use alloc::string::String;
use reftrack_protocol::names::{CLICK_PARAM, STRIPE_REFERENCE_PARAM};
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

/// The tracking endpoint of a script URL (keeps a base path such as `/_rt`).
#[wasm_bindgen]
pub fn endpoint(script_src: &str) -> String {
    endpoint_of(script_src)
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

/// What to ask the server: `/v1/lookup?click=…` for a click without a known partner (any origin
/// may ask about a click it holds), `/v1/lookup` (credentialed, the tracking domain's cookie) when
/// nothing is stored, `""` when the record is complete.
#[wasm_bindgen]
pub fn lookup_path(record: &str, now: f64) -> String {
    match live(record, now) {
        None => String::from("/v1/lookup"),
        Some(r) if r.partner.is_some() => String::new(),
        Some(r) => match r.click {
            Some(c) => ["/v1/lookup?click=", c.as_str()].concat(),
            None => String::new(),
        },
    }
}

/// `{"partner","subId","clickId","expiresAt"}` (expiresAt in unix seconds) or `null`.
#[wasm_bindgen]
pub fn affiliate(record: &str, now: f64) -> String {
    let Some(r) = live(record, now) else { return String::from("null") };
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
    field("partner", r.partner.as_ref().map(|p| p.as_str()));
    field("subId", r.sub_id.as_ref().map(|s| s.as_str()));
    field("clickId", r.click.as_ref().map(|c| c.as_str()));
    out.push_str("\"expiresAt\":");
    push_u64(&mut out, r.expires_at);
    out.push('}');
    out
}

/// Seconds the record has left (0 when none): the cookie's Max-Age.
#[wasm_bindgen]
pub fn expires_in(record: &str, now: f64) -> f64 {
    live(record, now).map_or(0.0, |r| (r.expires_at - secs(now)) as f64)
}

/// The live click id, or `""`.
#[wasm_bindgen]
pub fn click(record: &str, now: f64) -> String {
    live(record, now).and_then(|r| r.click).map(String::from).unwrap_or_default()
}

/// The value for a hidden field named `wanted` (`rt_click`/`click`, `sub_id`/`sid`, else the partner).
#[wasm_bindgen]
pub fn field(record: &str, wanted: &str, now: f64) -> String {
    let Some(r) = live(record, now) else { return String::new() };
    let value = match wanted {
        "rt_click" | "click" | "click_id" => r.click.map(String::from),
        "sub_id" | "sid" => r.sub_id.map(String::from),
        _ => r.partner.map(String::from),
    };
    value.unwrap_or_default()
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

/// Whether the page and the tracking endpoint share a site (then the server refreshes its cookie).
#[wasm_bindgen]
pub fn same_site(page_host: &str, endpoint_host: &str, cookie_domain: &str) -> bool {
    crate::checkout::same_site(page_host, endpoint_host, non_empty(cookie_domain))
}

/// The lead event's JSON, or `""` when there is nothing to report.
#[wasm_bindgen]
pub fn lead_event(record: &str, email: &str, page: &str, now: f64) -> String {
    events::lead(live(record, now).as_ref(), email, page, secs(now)).unwrap_or_default()
}

/// The conversion event's JSON; `""` if invalid, `"sent"` if this browser already reported it.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn conversion_event(record: &str, order_id: &str, amount_minor: f64, amount: f64, currency: &str, sent: &str, now: f64) -> String {
    let input = ConversionInput { order_id, amount_minor, amount, currency };
    match events::conversion(live(record, now).as_ref(), &input, sent, secs(now)) {
        Ok(json) => json,
        Err(events::NotSent::AlreadySent) => String::from("sent"),
        Err(events::NotSent::Invalid) => String::new(),
    }
}

/// The list of reported orders with `order_id` added.
#[wasm_bindgen]
pub fn remember_order(sent: &str, order_id: &str) -> String {
    events::remember(sent, order_id)
}
