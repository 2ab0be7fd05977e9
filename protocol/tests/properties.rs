//! Properties of every parser and check of the wire contract, over generated input: parsing never
//! panics, `validate` lets nothing out of range through, what validates serialises and parses back
//! to itself, and the Standard Webhooks verifier accepts exactly the messages it signed.
//!
//! Each property runs `PROPTEST_CASES` cases (64 when unset, so `cargo xtask test` stays quick);
//! `PROPTEST_CASES=20000 cargo test -p reftrack-protocol --test properties` digs deeper.

use proptest::prelude::*;
use proptest::test_runner::Config;
use reftrack_protocol::signature::{Secret, Verifier, VerifyError};
use reftrack_protocol::{
    check, Attribution, BrowserEvent, CanonicalOrder, ClickId, Currency, Customer, Email, LineItem, Notice, OrderId, PartnerCode, Refund,
    RefundId, RefundKind, ServerLead, SubId, MAX_AMOUNT_MINOR, MAX_QUANTITY,
};
use serde_json::Value;
use time::OffsetDateTime;

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c
}

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the types read, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "order_id", "occurred_at", "currency", "items", "total_minor", "discount_minor", "shipping_minor", "tax_minor",
            "customer", "attribution", "source", "renewal", "subscription_id", "sku", "name", "quantity", "unit_price_minor",
            "email", "click_id", "partner", "sub_id", "refund_id", "amount_minor", "refunded_total_minor", "kind", "notice_id",
            "message", "lead_id", "type", "page", "lead", "conversion",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ]
}

/// Text that is often valid for some field and often not: codes, ids, times, controls, unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,70}",
        "[ -~]{0,140}",
        ".{0,20}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
        prop::sample::select(vec!["USD", "usd", "JPY", "KWD", "ABC", "", " ", "\u{0}", "a@b.co", "A@B.CO ", "api", "stripe"])
            .prop_map(str::to_owned),
    ]
}

/// A time anywhere the `time` crate can represent, at any whole-minute offset.
fn any_time() -> impl Strategy<Value = OffsetDateTime> {
    (-377_705_116_800i64..=253_402_300_799, -1439i32..=1439).prop_map(|(secs, minutes)| {
        let utc = OffsetDateTime::from_unix_timestamp(secs).unwrap();
        let offset = time::UtcOffset::from_whole_seconds(minutes * 60).unwrap();
        utc.checked_to_offset(offset).unwrap_or(utc)
    })
}

/// Amounts near every boundary that matters.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..10_000,
        Just(MAX_AMOUNT_MINOR),
        Just(MAX_AMOUNT_MINOR + 1),
        -10_000i64..0,
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX)
    ]
}

fn order() -> impl Strategy<Value = CanonicalOrder> {
    let item = (text(), text(), prop_oneof![1i64..5, any::<i64>(), Just(MAX_QUANTITY), Just(MAX_QUANTITY + 1)], amount())
        .prop_map(|(sku, name, quantity, unit_price_minor)| LineItem { sku, name, quantity, unit_price_minor });
    (
        (text(), any_time(), text(), prop::collection::vec(item, 0..4)),
        (amount(), prop_oneof![Just(0i64), amount()], prop_oneof![Just(0i64), amount()], prop_oneof![Just(0i64), amount()]),
        (text(), text(), text(), text(), text()),
        (any::<bool>(), prop::option::of(text()), any::<bool>()),
    )
        .prop_filter_map("an order id and a currency", |(a, b, c, d)| {
            let (id, occurred_at, currency, items) = a;
            let (total, discount, shipping, tax) = b;
            let (email, click, partner, sub_id, source) = c;
            let (renewal, subscription_id, fit) = d;
            let lines: Option<i64> = items.iter().try_fold(0i64, |s, i| s.checked_add(i.quantity.checked_mul(i.unit_price_minor)?));
            // Half the orders have a total that adds up, so validation is exercised past the sum.
            let total = match (fit, lines) {
                (true, Some(l)) if !items.is_empty() => {
                    l.checked_sub(discount).and_then(|t| t.checked_add(shipping)).and_then(|t| t.checked_add(tax)).unwrap_or(total)
                }
                _ => total,
            };
            Some(CanonicalOrder {
                order_id: OrderId::parse(&id).ok()?,
                occurred_at,
                currency: Currency::parse(&currency).ok()?,
                items,
                total_minor: total,
                discount_minor: discount,
                shipping_minor: shipping,
                tax_minor: tax,
                customer: Customer { email: Email::parse(&email).ok() },
                attribution: Attribution {
                    click_id: ClickId::parse(&click).ok(),
                    partner: PartnerCode::parse(&partner).ok(),
                    sub_id: SubId::parse(&sub_id).ok(),
                },
                source,
                renewal,
                subscription_id,
            })
        })
}

fn printable(s: &str, max: usize) -> bool {
    s.len() <= max && !s.chars().any(char::is_control)
}

fn label(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn in_range(a: i64) -> bool {
    (0..=MAX_AMOUNT_MINOR).contains(&a)
}

/// What RFC 3339 can write: a four-digit year in the value's own offset.
fn writable(t: &OffsetDateTime) -> bool {
    (0..=9999).contains(&t.year())
}

/// `value` serialised and parsed back.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).expect("a validated value serialises")).expect("and parses back")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_json_never_panics_any_parser_or_validator(value in json()) {
        if let Ok(o) = serde_json::from_value::<CanonicalOrder>(value.clone()) { let _ = o.validate(); let _ = o.net_line_amounts(); }
        if let Ok(r) = serde_json::from_value::<Refund>(value.clone()) { let _ = r.validate(); }
        if let Ok(l) = serde_json::from_value::<ServerLead>(value.clone()) { let _ = l.validate(); }
        if let Ok(n) = serde_json::from_value::<Notice>(value.clone()) { let _ = n.validate(); }
        if let Ok(e) = serde_json::from_value::<BrowserEvent>(value) { let _ = e.validate(); }
    }

    #[test]
    fn random_bytes_never_panic_the_parsers(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_slice::<CanonicalOrder>(&bytes);
        let _ = serde_json::from_slice::<Refund>(&bytes);
        let _ = serde_json::from_slice::<ServerLead>(&bytes);
        let _ = serde_json::from_slice::<Notice>(&bytes);
        let _ = serde_json::from_slice::<BrowserEvent>(&bytes);
    }

    #[test]
    fn a_valid_order_is_in_range_and_round_trips(order in order()) {
        if order.validate().is_ok() {
            prop_assert!(label(&order.source) && order.currency.is_iso4217() && writable(&order.occurred_at));
            prop_assert!(in_range(order.total_minor) && in_range(order.discount_minor) && in_range(order.shipping_minor) && in_range(order.tax_minor));
            prop_assert!(order.items.len() <= 500);
            prop_assert!(order.subscription_id.as_deref().is_none_or(|s| printable(s, 128)) && (!order.renewal || order.subscription_id.is_some()));
            let mut lines: i128 = 0;
            for i in &order.items {
                prop_assert!(!i.sku.is_empty() && printable(&i.sku, 128) && printable(&i.name, 512));
                prop_assert!((1..=MAX_QUANTITY).contains(&i.quantity) && in_range(i.unit_price_minor));
                lines += i128::from(i.quantity) * i128::from(i.unit_price_minor);
            }
            if order.items.is_empty() {
                prop_assert_eq!(order.discount_minor, 0);
            } else {
                prop_assert!(lines <= i128::from(MAX_AMOUNT_MINOR));
                let expected = lines - i128::from(order.discount_minor) + i128::from(order.shipping_minor) + i128::from(order.tax_minor);
                prop_assert_eq!(expected, i128::from(order.total_minor));
                let net = order.net_line_amounts();
                prop_assert_eq!(net.iter().map(|n| i128::from(*n)).sum::<i128>(), lines - i128::from(order.discount_minor.min(lines as i64)));
            }
            let back = round_trip(&order);
            prop_assert!(back.validate().is_ok());
            // A blank optional text is read back as missing, by design.
            let mut expected = order.clone();
            expected.subscription_id = expected.subscription_id.filter(|s| !s.trim().is_empty());
            prop_assert_eq!(back, expected);
        }
    }

    #[test]
    fn a_valid_refund_has_one_positive_amount_in_range_and_round_trips(
        amount in prop::option::of(amount()), total in prop::option::of(amount()), dispute in any::<bool>(), at in any_time(),
    ) {
        let mut refund = Refund::single(OrderId::parse("o").unwrap(), RefundId::parse("r").unwrap(), 1, at);
        refund.amount_minor = amount;
        refund.refunded_total_minor = total;
        refund.kind = if dispute { RefundKind::Dispute } else { RefundKind::Refund };
        if refund.validate().is_ok() {
            prop_assert!(writable(&refund.occurred_at));
            match (refund.amount_minor, refund.refunded_total_minor) {
                (Some(a), None) => prop_assert!(a > 0 && in_range(a)),
                (None, Some(t)) => prop_assert!(in_range(t) && !dispute),
                other => prop_assert!(false, "two amounts or none: {:?}", other),
            }
            prop_assert_eq!(round_trip(&refund), refund);
        }
    }

    #[test]
    fn a_valid_lead_has_printable_bounded_texts_and_round_trips(
        email in "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}", name in prop::option::of(text()), source in prop::option::of(text()),
        lead_id in prop::option::of(text()), at in prop::option::of(any_time()),
    ) {
        let lead = ServerLead {
            email: Email::parse(&email).unwrap(), name, click_id: None, partner: None, sub_id: None, occurred_at: at, source, lead_id,
        };
        if lead.validate().is_ok() {
            prop_assert!(lead.name.as_deref().is_none_or(|n| printable(n, 256)));
            prop_assert!(lead.source.as_deref().is_none_or(label));
            prop_assert!(lead.lead_id.as_deref().is_none_or(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())));
            prop_assert!(lead.occurred_at.as_ref().is_none_or(writable));
            let back = round_trip(&lead);
            prop_assert!(back.validate().is_ok());
            prop_assert_eq!(back.email, lead.email);
        }
    }

    #[test]
    fn a_valid_notice_has_bounded_texts_and_round_trips(
        notice_id in text(), source in text(), kind in text(), message in text(), amount in prop::option::of(amount()),
        currency in prop::option::of(text()), at in any_time(),
    ) {
        let notice = Notice {
            notice_id, source, kind, order_id: None, amount_minor: amount, currency: currency.and_then(|c| Currency::parse(&c).ok()), message,
            occurred_at: at,
        };
        if notice.validate().is_ok() {
            prop_assert!(label(&notice.source) && label(&notice.kind) && printable(&notice.message, 1000) && writable(&notice.occurred_at));
            prop_assert!(notice.amount_minor.is_none_or(in_range) && notice.currency.is_none_or(|c| c.is_iso4217()));
            prop_assert_eq!(round_trip(&notice), notice);
        }
    }

    #[test]
    fn a_valid_browser_event_is_in_range_and_round_trips(
        conversion in any::<bool>(), id in text(), amount in amount(), currency in text(), click in text(), email in text(), page in text(),
    ) {
        let value = if conversion {
            serde_json::json!({"type": "conversion", "order_id": id, "amount_minor": amount, "currency": currency, "click_id": click})
        } else {
            serde_json::json!({"type": "lead", "email": email, "click_id": click, "page": page})
        };
        if let Ok(event) = serde_json::from_value::<BrowserEvent>(value) {
            if event.validate().is_ok() {
                match &event {
                    BrowserEvent::Conversion(c) => prop_assert!(in_range(c.amount_minor) && c.currency.is_iso4217()),
                    BrowserEvent::Lead(l) => prop_assert!(printable(&l.page, 2048) && (l.email.is_some() || l.click_id.is_some())),
                }
                prop_assert_eq!(round_trip(&event), event);
            }
        }
    }

    #[test]
    fn identifiers_parse_only_within_their_rules_and_the_borrowed_checks_agree(raw in text()) {
        let code = |s: &str, min: usize| (min..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        prop_assert_eq!(PartnerCode::parse(&raw).is_ok(), code(&raw, 1));
        prop_assert_eq!(SubId::parse(&raw).is_ok(), code(&raw, 1));
        prop_assert_eq!(ClickId::parse(&raw).is_ok(), code(&raw, 22));
        let visible = (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        prop_assert_eq!(OrderId::parse(&raw).is_ok(), visible);
        prop_assert_eq!(RefundId::parse(&raw).is_ok(), visible);
        prop_assert_eq!(check::partner_code(&raw), PartnerCode::parse(&raw).is_ok());
        prop_assert_eq!(check::sub_id(&raw), SubId::parse(&raw).is_ok());
        prop_assert_eq!(check::click_id(&raw), ClickId::parse(&raw).is_ok());
        prop_assert_eq!(check::order_id(&raw), OrderId::parse(&raw).is_ok());
        match Email::parse(&raw) {
            Ok(e) => {
                let s = e.as_str();
                prop_assert!(s.len() <= 254 && s.matches('@').count() == 1 && !s.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()));
                prop_assert_eq!(s, s.to_ascii_lowercase());
                let borrowed = check::email(&raw).map(str::to_ascii_lowercase);
                prop_assert_eq!(borrowed.as_deref(), Some(s));
                prop_assert_eq!(Email::parse(s).unwrap(), e.clone());
            }
            Err(_) => prop_assert_eq!(check::email(&raw), None),
        }
    }

    #[test]
    fn minor_units_survive_printing_and_reading_back(code in prop::sample::select(vec!["USD", "JPY", "KWD", "EUR", "BHD", "CLP"]), minor in any::<i64>()) {
        let currency = Currency::parse(code).unwrap();
        let printed = currency.format_major(minor);
        let limit = 10i128.pow(15 + currency.exponent());
        match currency.parse_major(&printed) {
            Ok(back) => prop_assert_eq!(back, minor),
            // Only amounts of more than 15 whole digits are refused.
            Err(_) => prop_assert!(i128::from(minor).abs() >= limit, "{} refused as {}", minor, printed),
        }
        if i128::from(minor).abs() < limit {
            prop_assert!(currency.parse_major(&printed).is_ok());
        }
    }

    #[test]
    fn any_text_read_as_an_amount_is_exact_and_bounded(code in prop::sample::select(vec!["USD", "JPY", "KWD"]), raw in prop_oneof!["-?[0-9]{0,20}(\\.[0-9]{0,5})?", ".{0,24}"]) {
        let currency = Currency::parse(code).unwrap();
        if let Ok(minor) = currency.parse_major(&raw) {
            prop_assert!(i128::from(minor).abs() < 10i128.pow(15 + currency.exponent()));
            prop_assert_eq!(currency.parse_major(&currency.format_major(minor)), Ok(minor));
            // Exact: the text and the minor units name the same number.
            let trimmed = raw.trim();
            let (neg, digits) = trimmed.strip_prefix('-').map_or((false, trimmed), |d| (true, d));
            let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
            let frac = frac.trim_end_matches('0');
            let scaled = format!("{whole}{frac:0<width$}", width = currency.exponent() as usize);
            let value: i128 = scaled.trim_start_matches('0').parse().unwrap_or(0);
            prop_assert_eq!(i128::from(minor), if neg { -value } else { value });
        }
    }
}

/// A signing secret from raw key bytes (at least 16, as `Secret::parse` requires).
fn secret() -> impl Strategy<Value = Secret> {
    prop::collection::vec(any::<u8>(), 16..48).prop_map(|k| Secret::from_bytes(&k))
}

fn flip(bytes: &mut [u8], bit: usize) {
    let at = bit % (bytes.len() * 8);
    bytes[at / 8] ^= 1 << (at % 8);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_headers_and_bodies_never_panic_the_verifier(
        id in prop::option::of(".{0,300}"), ts in prop::option::of(prop_oneof![any::<i64>().prop_map(|t| t.to_string()), ".{0,24}"]),
        sig in prop::option::of(prop_oneof!["v1,[A-Za-z0-9+/=]{0,60}", ".{0,80}"]), body in prop::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(), tolerance in prop_oneof![Just(300i64), any::<i64>()],
    ) {
        let verifier = Verifier::new(vec![Secret::from_bytes(b"0123456789abcdef")]).with_tolerance(tolerance);
        let _ = verifier.verify_at(id.as_deref(), ts.as_deref(), sig.as_deref(), &body, now);
        let _ = verifier.verify_ignoring_timestamp(id.as_deref(), ts.as_deref(), sig.as_deref(), &body);
    }

    #[test]
    fn a_signature_of_the_body_verifies_and_any_bit_flipped_fails(
        secret in secret(), id in "[A-Za-z0-9_:.-]{1,64}", ts in 0i64..4_000_000_000, body in prop::collection::vec(any::<u8>(), 1..256),
        bit in any::<usize>(),
    ) {
        let verifier = Verifier::new(vec![secret.clone()]);
        let signature = secret.sign(&id, ts, &body);
        prop_assert_eq!(verifier.verify_at(Some(&id), Some(&ts.to_string()), Some(&signature), &body, ts), Ok(()));

        let mut changed = body.clone();
        flip(&mut changed, bit);
        prop_assert_eq!(verifier.verify_at(Some(&id), Some(&ts.to_string()), Some(&signature), &changed, ts), Err(VerifyError::NoMatch));

        let mut other_id = id.clone().into_bytes();
        flip(&mut other_id, bit);
        if let Ok(other_id) = String::from_utf8(other_id) {
            prop_assert!(verifier.verify_at(Some(&other_id), Some(&ts.to_string()), Some(&signature), &body, ts).is_err());
        }

        let mut other_ts = ts.to_string().into_bytes();
        flip(&mut other_ts, bit);
        let other_ts = String::from_utf8(other_ts).unwrap_or_default();
        // Whatever the flipped header reads as, it is not this signature's timestamp.
        let result = verifier.verify_ignoring_timestamp(Some(&id), Some(&other_ts), Some(&signature), &body);
        if other_ts.trim().parse::<i64>().ok() != Some(ts) {
            prop_assert!(result.is_err(), "timestamp {:?} for {}", other_ts, ts);
        }

        let mut other_sig = signature.clone().into_bytes();
        flip(&mut other_sig, bit);
        if let Ok(other_sig) = String::from_utf8(other_sig) {
            if other_sig != signature {
                prop_assert!(verifier.verify_at(Some(&id), Some(&ts.to_string()), Some(&other_sig), &body, ts).is_err());
            }
        }
    }

    #[test]
    fn the_tolerance_holds_exactly_in_both_directions(
        secret in secret(), ts in -4_000_000_000i64..4_000_000_000, tolerance in 0i64..100_000, skew in 0i64..3,
    ) {
        let verifier = Verifier::new(vec![secret.clone()]).with_tolerance(tolerance);
        let sig = secret.sign("msg_1", ts, b"{}");
        let at = |now: i64| verifier.verify_at(Some("msg_1"), Some(&ts.to_string()), Some(&sig), b"{}", now);
        prop_assert_eq!(at(ts + tolerance - skew.min(tolerance)), Ok(()));
        prop_assert_eq!(at(ts - tolerance + skew.min(tolerance)), Ok(()));
        prop_assert_eq!(at(ts + tolerance + 1 + skew), Err(VerifyError::TooOld(tolerance)));
        prop_assert_eq!(at(ts - tolerance - 1 - skew), Err(VerifyError::TooNew(tolerance)));
    }

    #[test]
    fn a_forged_signature_never_verifies(
        secret in secret(), forger in secret(), id in "[a-z0-9_]{1,20}", body in prop::collection::vec(any::<u8>(), 0..64), ts in 0i64..4_000_000_000,
    ) {
        prop_assume!(forger.to_whsec() != secret.to_whsec());
        let verifier = Verifier::new(vec![secret]);
        let forged = forger.sign(&id, ts, &body);
        prop_assert_eq!(verifier.verify_at(Some(&id), Some(&ts.to_string()), Some(&forged), &body, ts), Err(VerifyError::NoMatch));
    }
}
