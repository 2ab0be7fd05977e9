//! Properties of every cart's and tool's authentication and payload parser, over generated input:
//! random bytes, random JSON, the real fixtures truncated, byte-mutated and with a field replaced
//! by any JSON value. Whatever arrives: nothing panics; a forged, unsigned or altered delivery
//! never authenticates while an honest one does; and whatever parses and validates is stored as
//! the outbox stores it (serialised) without a panic, within the protocol's bounds.
//!
//! Each property runs `PROPTEST_CASES` cases (64 when unset, so `cargo xtask test` stays quick);
//! `PROPTEST_CASES=5000 cargo test -p reftrack-connector --test properties` digs deeper.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::Config;
use reftrack_connector::carts::signatures::{base64_hmac, check_basic_auth, verify_standard, TimestampedHex};
use reftrack_connector::carts::{self, lemonsqueezy, paddle, polar, stripe, Cart, CartConfig, Delivery, CARTS};
use reftrack_connector::configuration::CartSecrets;
use reftrack_connector::tools::{self, calendly, kit, tally, typeform, webinargeek, zoom, Settings, Tool, TOOLS};
use reftrack_protocol::signature::{Secret, Verifier};
use reftrack_protocol::OrderId;
use serde_json::Value;
use std::collections::HashMap;

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c
}

const NOW: i64 = 1_800_000_000;
const TOKEN: &str = "url-token-1f9e2d-long-enough";
const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";

fn secret_of(cart: &str) -> &'static str {
    match cart {
        "stripe" => "whsec_stripe_test_secret",
        "polar" => "polar_whs_3kFq8sZ2mWc7Ty1vRb9Xp0aLe5Nd4Jh6",
        "generic" => "whsec_Z2VuZXJpYy1tZXJjaGFudC1zZWNyZXQ=",
        "chargebee" => "reftrack:pa55:word",
        "thrivecart" => "TCSECRETWORD42",
        "gumroad" | "samcart" => TOKEN,
        _ => "a-cart-signing-secret",
    }
}

fn cart_secrets() -> CartSecrets {
    let mut env: HashMap<String, String> = CARTS.iter().map(|c| (c.secret_env().to_owned(), secret_of(c.name()).to_owned())).collect();
    env.insert("GUMROAD_SELLER_ID".into(), "seller==".into());
    CartSecrets::from_env(|k| env.get(k).cloned()).unwrap()
}

fn fixtures(prefix: &str, dir: &str) -> Vec<String> {
    let dir = format!("{}/tests/fixtures{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file() && e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read_to_string(e.path()).unwrap().replace("{{CLICK}}", CLICK))
        .collect();
    found.sort();
    found
}

/// Any JSON value, nested a few levels, with the field names carts use among others.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        // Times at the edges of what RFC 3339 and unix seconds can say.
        prop::sample::select(vec![-377_705_116_800i64, -62_167_219_201, 0, 253_402_300_799, 253_402_300_800]).prop_map(Value::from),
        prop::sample::select(vec!["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59", "9999-12-31 23:59:59", "2026-02-30T10:00:00Z"])
            .prop_map(Value::from),
        prop_oneof![".{0,12}", "[0-9]{1,20}(\\.[0-9]{0,4})?", Just("".to_owned()), Just("\u{0}".to_owned())].prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path to a value inside `v`.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(k.clone());
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(i.to_string());
                paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn replace_at(v: &mut Value, path: &[String], with: Value) {
    let mut at = v;
    for part in path {
        let next = match at {
            Value::Object(m) => m.get_mut(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
    *at = with;
}

/// How a body is made from the fixtures: as it is, truncated, bytes changed, a field replaced,
/// a form field replaced, or bytes and JSON from nowhere.
fn body_from(fixtures: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let n = fixtures.len().max(1);
    let fx = move |i: usize| fixtures.get(i % n).cloned().unwrap_or_default();
    let (a, b, c, d, e) = (fx.clone(), fx.clone(), fx.clone(), fx.clone(), fx);
    prop_oneof![
        (any::<usize>()).prop_map(move |i| a(i).into_bytes()),
        (any::<usize>(), any::<usize>()).prop_map(move |(i, cut)| {
            let f = b(i).into_bytes();
            let cut = cut % (f.len() + 1);
            f[..cut].to_vec()
        }),
        (any::<usize>(), prop::collection::vec((any::<usize>(), any::<u8>()), 1..6)).prop_map(move |(i, edits)| {
            let mut f = c(i).into_bytes();
            for (at, byte) in edits {
                if !f.is_empty() {
                    let at = at % f.len();
                    f[at] = byte;
                }
            }
            f
        }),
        (any::<usize>(), any::<usize>(), json()).prop_map(move |(i, which, with)| {
            let raw = d(i);
            match serde_json::from_str::<Value>(&raw) {
                Ok(mut v) => {
                    let mut all = Vec::new();
                    paths(&v, &mut Vec::new(), &mut all);
                    let path = all[which % all.len()].clone();
                    replace_at(&mut v, &path, with);
                    serde_json::to_vec(&v).unwrap()
                }
                // A form body: one field's value replaced by anything.
                Err(_) => {
                    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
                    if !pairs.is_empty() {
                        let at = which % pairs.len();
                        pairs[at].1 = with.to_string();
                    }
                    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
                }
            }
        }),
        (any::<usize>(), "[a-z_\\[\\]]{1,12}", ".{0,40}").prop_map(move |(i, k, v)| {
            let mut f = e(i);
            f.push_str(&format!("&{}={}", k, v));
            f.into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]
}

fn header(map: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        map.insert(n, v);
    }
}

/// The headers and query an honest delivery of `body` to `cart` carries (the secret is in the body
/// for ThriveCart: it is added there).
fn honest_cart(cart: &str, topic: &str, body: &mut Vec<u8>) -> (HeaderMap, String) {
    let secret = secret_of(cart);
    let mut h = HeaderMap::new();
    let mut query = String::new();
    match cart {
        "stripe" => header(&mut h, stripe::HEADER, &stripe::sign(secret, NOW, body)),
        "shopify" => {
            header(&mut h, "x-shopify-hmac-sha256", &base64_hmac(secret.as_bytes(), &[body]));
            header(&mut h, "x-shopify-topic", topic);
        }
        "woocommerce" => {
            header(&mut h, "x-wc-webhook-signature", &base64_hmac(secret.as_bytes(), &[body]));
            header(&mut h, "x-wc-webhook-topic", topic);
        }
        "paddle" => header(&mut h, paddle::HEADER, &paddle::sign(secret, NOW, body)),
        "lemonsqueezy" => header(&mut h, lemonsqueezy::HEADER, &lemonsqueezy::sign(secret, body)),
        "polar" => {
            for (k, v) in polar::headers(secret, "msg_1", NOW, body) {
                header(&mut h, k, &v);
            }
        }
        "generic" => {
            for (k, v) in Secret::parse(secret).unwrap().headers("msg_1", NOW, body) {
                header(&mut h, k, &v);
            }
        }
        "chargebee" => header(&mut h, "authorization", &format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(secret))),
        "thrivecart" => body.extend_from_slice(format!("&thrivecart_secret={secret}").as_bytes()),
        "gumroad" | "samcart" => query = format!("token={TOKEN}"),
        _ => {}
    }
    (h, query)
}

/// What the outbox does with an intake: serialise each of its messages.
fn store_like_the_outbox(intake: &carts::Intake, source: &str) -> Result<(), TestCaseError> {
    if let Some(order) = &intake.order {
        prop_assert!(order.validate().is_ok());
        serde_json::to_string(order.as_ref()).map_err(|e| TestCaseError::fail(format!("order: {e}")))?;
    }
    for refund in &intake.refunds {
        let refund = refund.to_refund(OrderId::parse("o").unwrap());
        prop_assert!(refund.validate().is_ok());
        serde_json::to_string(&refund).map_err(|e| TestCaseError::fail(format!("refund: {e}")))?;
    }
    for notice in &intake.notices {
        let notice = notice.to_notice(source, None);
        prop_assert!(notice.validate().is_ok(), "{:?}", notice.validate());
        serde_json::to_string(&notice).map_err(|e| TestCaseError::fail(format!("notice: {e}")))?;
    }
    for cart_ref in &intake.cart_refs {
        prop_assert!(!cart_ref.is_empty() && cart_ref.len() <= 200 && cart_ref.bytes().all(|b| b.is_ascii_graphic()), "{:?}", cart_ref);
    }
    Ok(())
}

fn cart_case(cart: &dyn Cart) -> impl Strategy<Value = (Vec<u8>, String, usize)> {
    let topics: Vec<&'static str> = match cart.name() {
        "shopify" => vec!["orders/create", "orders/paid", "orders/updated", "refunds/create", "disputes/create", "app/uninstalled"],
        "woocommerce" => vec!["order.created", "order.updated", "product.created"],
        _ => vec![""],
    };
    (body_from(fixtures(cart.name(), "")), prop::sample::select(topics).prop_map(str::to_owned), any::<usize>())
}

fn run_cart(cart: &dyn Cart, secrets: &CartSecrets, mut body: Vec<u8>, topic: &str, bit: usize) -> Result<(), TestCaseError> {
    let config: &CartConfig = secrets.get(cart.name()).unwrap();
    let (headers, query) = honest_cart(cart.name(), topic, &mut body);
    let delivery = Delivery { headers: &headers, query: &query, body: &body, now: NOW };
    let _ = cart.is_probe(&delivery);
    let authentic = cart.authenticate(&delivery, config);
    // ThriveCart's secret rides in the body, which a mutation may have made unreadable.
    if cart.name() != "thrivecart" && cart.name() != "gumroad" {
        prop_assert!(authentic.is_ok(), "{}: an honest delivery authenticates: {:?}", cart.name(), authentic);
    }
    if let Ok(intake) = cart.parse(&delivery, config) {
        if intake.validate(cart.name()).is_ok() {
            store_like_the_outbox(&intake, cart.name())?;
        }
    }
    // The same proof with one bit of the body changed proves nothing (token carts prove nothing
    // about the body, by design: only their token is checked).
    if !body.is_empty() && !matches!(cart.name(), "gumroad" | "samcart" | "chargebee" | "thrivecart") {
        let mut altered = body.clone();
        let at = bit % (altered.len() * 8);
        altered[at / 8] ^= 1 << (at % 8);
        let forged = Delivery { headers: &headers, query: &query, body: &altered, now: NOW };
        prop_assert!(cart.authenticate(&forged, config).is_err(), "{}: an altered body still authenticated", cart.name());
    }
    // No proof at all never authenticates (ThriveCart's proof is the secret word in its body).
    if cart.name() == "thrivecart" {
        return Ok(());
    }
    let bare = HeaderMap::new();
    let unsigned = Delivery { headers: &bare, query: "", body: &body, now: NOW };
    prop_assert!(cart.authenticate(&unsigned, config).is_err(), "{}: an unsigned delivery authenticated", cart.name());
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_carts_parser_survives_any_body_and_stores_only_what_validates(case in (0..CARTS.len()).prop_flat_map(|i| (Just(i), cart_case(CARTS[i])))) {
        let (i, (body, topic, bit)) = case;
        run_cart(CARTS[i], &cart_secrets(), body, &topic, bit)?;
    }

    #[test]
    fn forged_cart_deliveries_never_authenticate(
        i in 0..CARTS.len(), body in body_from(fixtures("", "")),
        names in prop::collection::vec(prop::sample::select(vec![
            "stripe-signature", "paddle-signature", "x-signature", "x-shopify-hmac-sha256", "x-wc-webhook-signature", "webhook-id",
            "webhook-timestamp", "webhook-signature", "authorization", "x-shopify-topic",
        ]), 0..5),
        values in prop::collection::vec(prop_oneof![
            "t=[0-9]{10},v1=[0-9a-f]{64}", "ts=[0-9]{10};h1=[0-9a-f]{64}", "v1,[A-Za-z0-9+/]{43}=", "[A-Za-z0-9+/]{43}=", "[0-9a-f]{64}",
            "Basic [A-Za-z0-9+/=]{8,40}", "[ -~]{0,60}", Just("1800000000".to_owned()),
        ], 5),
        query in prop_oneof![Just(String::new()), "token=[ -~]{0,30}"],
    ) {
        let secrets = cart_secrets();
        let cart = CARTS[i];
        let mut headers = HeaderMap::new();
        for (name, value) in names.iter().zip(values) {
            header(&mut headers, name, &value);
        }
        let delivery = Delivery { headers: &headers, query: &query, body: &body, now: NOW };
        // ThriveCart's proof is its secret word in the body: its own fixture holds it.
        prop_assume!(!(cart.name() == "thrivecart" && String::from_utf8_lossy(&body).contains(secret_of("thrivecart"))));
        prop_assert!(cart.authenticate(&delivery, secrets.get(cart.name()).unwrap()).is_err(), "{} accepted a forgery", cart.name());
    }

    #[test]
    fn signature_header_parsers_survive_any_header(value in prop_oneof!["[ -~]{0,120}", ".{0,60}", "(t|ts|v1|h1)=[-0-9a-f]{0,70}([,;](t|ts|v1|h1)=[-0-9a-f]{0,70}){0,4}"], body in prop::collection::vec(any::<u8>(), 0..64), now in any::<i64>(), tolerance in any::<i64>()) {
        for (sep, ts, sig) in [(',', "t", "v1"), (';', "ts", "h1")] {
            let scheme = TimestampedHex { header: "x", part_sep: sep, ts_key: ts, sig_key: sig, joiner: b"." };
            prop_assert!(scheme.verify(Some(&value), &body, "secret", now, tolerance).is_err());
        }
        let _ = check_basic_auth(Some(&value), "user:password");
        let mut headers = HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            header(&mut headers, name, &value);
        }
        let verifier = Verifier::new(vec![Secret::from_bytes(b"0123456789abcdef")]);
        prop_assert!(verify_standard(&verifier, &headers, &body, now).is_err());
    }

    #[test]
    fn a_timestamped_signature_verifies_within_its_tolerance_and_not_beyond(ts in 0i64..4_000_000_000, tolerance in 0i64..10_000, body in prop::collection::vec(any::<u8>(), 0..64), late in any::<bool>()) {
        let scheme = TimestampedHex { header: "x", part_sep: ',', ts_key: "t", sig_key: "v1", joiner: b"." };
        let signed = scheme.sign("secret", ts, &body);
        let edge = if late { ts + tolerance } else { ts - tolerance };
        prop_assert!(scheme.verify(Some(&signed), &body, "secret", edge, tolerance).is_ok());
        let beyond = if late { edge + 1 } else { edge - 1 };
        prop_assert!(scheme.verify(Some(&signed), &body, "secret", beyond, tolerance).is_err());
        prop_assert!(scheme.verify(Some(&signed), &body, "another secret", ts, tolerance).is_err());
    }
}

fn tool_secret(tool: &Tool) -> &'static str {
    match tool.name {
        "webinarjam" | "mailchimp" | "activecampaign" | "form" => TOKEN,
        _ => "a-tool-signing-secret",
    }
}

/// The headers and query of an honest delivery of `body` from `tool`.
fn honest_tool(tool: &Tool, body: &[u8]) -> (HeaderMap, Option<String>) {
    let secret = tool_secret(tool);
    let mut h = HeaderMap::new();
    let mut query = None;
    match tool.name {
        "zoom" => {
            let (ts, sig) = zoom::sign(secret, NOW, body);
            header(&mut h, zoom::HEADER_TIMESTAMP, &ts);
            header(&mut h, zoom::HEADER_SIGNATURE, &sig);
        }
        "typeform" => header(&mut h, typeform::HEADER, &typeform::sign(secret, body)),
        "calendly" => header(&mut h, calendly::HEADER, &calendly::sign(secret, NOW, body)),
        "kit" => header(&mut h, kit::HEADER, &kit::sign(&[secret], NOW, body)),
        "tally" => header(&mut h, tally::HEADER, &tally::sign(secret, body)),
        "webinargeek" => header(&mut h, webinargeek::HEADER, &webinargeek::sign(secret, body)),
        _ => query = Some(format!("token={TOKEN}")),
    }
    (h, query)
}

fn tool_settings() -> Settings {
    Settings::with_secrets(TOOLS.iter().map(|t| (*t, tool_secret(t))))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_tools_parser_survives_any_body_and_its_leads_validate(
        case in (0..TOOLS.len()).prop_flat_map(|i| (Just(i), body_from(fixtures(TOOLS[i].name, "/tools")), any::<usize>())),
    ) {
        let (i, body, bit) = case;
        let tool = TOOLS[i];
        let settings = tool_settings();
        let secret = tool_secret(tool);
        let (headers, query) = honest_tool(tool, &body);
        let delivery = tools::Delivery { headers: &headers, query: query.as_deref(), body: &body };
        let verified = (tool.verify)(&delivery, secret, &settings, NOW);
        prop_assert!(verified.is_ok(), "{}: an honest delivery verifies: {:?}", tool.name, verified);
        let leads = match (tool.parse)(&delivery, secret, &settings) {
            Ok(tools::Intake::Leads(leads)) | Ok(tools::Intake::Batch { leads, .. }) => Some(leads),
            _ => None,
        };
        if let Some(leads) = leads {
            for lead in leads {
                prop_assert!(lead.validate().is_ok(), "{}: {:?}", tool.name, lead.validate());
                prop_assert!(lead.lead_id.as_deref().is_some_and(|k| k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic())));
                serde_json::to_string(&lead).map_err(|e| TestCaseError::fail(format!("{}: {e}", tool.name)))?;
            }
        }
        if query.is_none() && !body.is_empty() {
            let mut altered = body.clone();
            let at = bit % (altered.len() * 8);
            altered[at / 8] ^= 1 << (at % 8);
            let forged = tools::Delivery { headers: &headers, query: None, body: &altered };
            prop_assert!((tool.verify)(&forged, secret, &settings, NOW).is_err(), "{}: an altered body still verified", tool.name);
        }
        let bare = HeaderMap::new();
        let unsigned = tools::Delivery { headers: &bare, query: None, body: &body };
        prop_assert!((tool.verify)(&unsigned, secret, &settings, NOW).is_err(), "{}: an unsigned delivery verified", tool.name);
    }

    #[test]
    fn forged_tool_deliveries_never_verify(
        i in 0..TOOLS.len(), body in prop::collection::vec(any::<u8>(), 0..120),
        value in prop_oneof!["[ -~]{0,90}", "t=[0-9]{10},v1=[0-9a-f]{64}", "sha256=[A-Za-z0-9+/]{43}=", "v0=[0-9a-f]{64}", "Bearer [ -~]{0,30}"],
        query in prop::option::of("token=[ -~]{0,30}"),
    ) {
        let tool = TOOLS[i];
        let mut headers = HeaderMap::new();
        for name in [kit::HEADER, typeform::HEADER, calendly::HEADER, tally::HEADER, webinargeek::HEADER, zoom::HEADER_SIGNATURE, "authorization", "x-reftrack-token"] {
            header(&mut headers, name, &value);
        }
        header(&mut headers, zoom::HEADER_TIMESTAMP, &NOW.to_string());
        let delivery = tools::Delivery { headers: &headers, query: query.as_deref(), body: &body };
        prop_assert!((tool.verify)(&delivery, tool_secret(tool), &tool_settings(), NOW).is_err(), "{} accepted a forgery", tool.name);
    }
}
