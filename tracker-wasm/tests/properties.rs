//! Properties of the snippet's core over generated input, natively: whatever the loader (or a
//! tampered cookie, a hostile page) hands it, no operation panics (in the browser a panic is a
//! trap), every answer has exactly its declared fields, records read back as written, amounts
//! stay exact and bounded, and the events it writes by hand are valid JSON.
//!
//! Each property runs `PROPTEST_CASES` cases (64 when unset); raise it to dig deeper.

use proptest::prelude::*;
use proptest::test_runner::Config;
use reftrack_protocol::{check, Currency};
use reftrack_tracker::contract::{run, Op, CONTRACT, SEP};
use reftrack_tracker::events::{amount_minor, conversion, lead, ConversionInput};
use reftrack_tracker::exports::call;
use reftrack_tracker::out::{Out, CAPACITY};
use reftrack_tracker::record::{choose, Model, Record};

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c
}

const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// One argument: plausible values, their edges, and anything.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(CLICK.to_owned()),
        Just(format!("1.{CLICK}.jane.yt.99999999999")),
        Just("18446744073709551615".to_owned()),
        Just("9999999999999999999".to_owned()),
        "[0-9]{1,22}",
        "-?[0-9]{0,18}(\\.[0-9]{0,4})?",
        "1\\.[A-Za-z0-9_-]{0,30}\\.[a-z]{0,8}\\.[a-z]{0,4}\\.[0-9]{0,21}",
        "[A-Za-z0-9._:/?#=&@ -]{0,60}",
        ".{0,40}",
    ]
}

fn args() -> impl Strategy<Value = String> {
    prop::collection::vec(arg(), 0..10).prop_map(|a| a.join(&(SEP as char).to_string()))
}

fn answer(op: Op, input: &str) -> String {
    let mut out = Out::default();
    run(op, input, &mut out);
    out.as_str().to_owned()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_operation_answers_its_declared_fields_whatever_its_arguments(op in 0..CONTRACT.len(), input in args()) {
        let op = Op::from_number(op as u32).unwrap();
        let answer = answer(op, &input);
        prop_assert_eq!(answer.split(SEP as char).count(), CONTRACT[op as usize].answer.len(), "{:?} on {:?}: {:?}", op, input, answer);
    }

    #[test]
    fn a_call_with_any_operation_and_length_answers_safely(op in any::<u32>(), len in prop_oneof![0u32..64, Just(CAPACITY as u32), Just(CAPACITY as u32 + 1), any::<u32>()]) {
        let answered = call(op, len);
        prop_assert!(answered as usize <= CAPACITY);
        if len as usize > CAPACITY || Op::from_number(op).is_none() {
            prop_assert_eq!(answered, 0);
        }
    }

    #[test]
    fn a_stored_record_reads_back_as_it_was_written(raw in arg()) {
        if let Some(record) = Record::decode(&raw) {
            prop_assert!(record.click.is_some() || record.partner.is_some());
            prop_assert!(record.click.is_none_or(check::click_id) && record.partner.is_none_or(check::partner_code) && record.sub_id.is_none_or(check::sub_id));
            let mut out = Out::default();
            record.encode(&mut out);
            prop_assert_eq!(Record::decode(out.as_str()), Some(record));
        }
    }

    #[test]
    fn a_record_from_the_address_is_valid_and_round_trips(click in arg(), partner in arg(), sub_id in arg(), now in any::<u64>(), window in any::<u32>()) {
        // `now` reaches the core as at most 19 digits; the window is clamped to 1–400 days.
        let now = now % 10_000_000_000_000_000_000;
        let window = reftrack_tracker::config::window_days(window);
        if let Some(record) = Record::from_params(&click, &partner, &sub_id, now, window) {
            prop_assert!(record.expires_at > now);
            let mut out = Out::default();
            record.encode(&mut out);
            prop_assert_eq!(Record::decode(out.as_str()), Some(record));
            let kept = choose(Some(record), None, Model::First, now);
            prop_assert_eq!(kept, Some(record));
        }
    }

    #[test]
    fn an_amount_is_exact_bounded_or_refused(minor in arg(), major in arg(), code in prop::sample::select(vec!["USD", "JPY", "KWD"])) {
        let currency = Currency::parse(code).unwrap();
        if let Some(amount) = amount_minor(&minor, &major, &currency) {
            prop_assert!(amount < 9_000_000_000_000_000);
            if minor.is_empty() {
                prop_assert_eq!(currency.parse_major(&major).ok(), Some(amount as i64));
            } else {
                prop_assert_eq!(minor.parse::<u64>().ok(), Some(amount));
            }
        }
    }

    #[test]
    fn the_events_written_by_hand_are_valid_json_whatever_the_page_says(
        email in arg(), page in prop_oneof![arg(), ".{0,2100}"], order_id in arg(), amount in arg(), record in arg(),
    ) {
        let record = Record::decode(&record);
        let mut out = Out::default();
        if lead(record.as_ref(), &email, &page, 0, &mut out) {
            let v: serde_json::Value = serde_json::from_str(out.as_str()).map_err(|e| TestCaseError::fail(format!("{e}: {}", out.as_str())))?;
            prop_assert_eq!(&v["type"], "lead");
            prop_assert!(v["page"].as_str().is_some_and(|p| p.len() <= 2000 && page.starts_with(p)));
        }
        let mut out = Out::default();
        let input = ConversionInput { order_id: &order_id, amount_minor: &amount, amount: "", currency: "USD" };
        if conversion(record.as_ref(), &input, "", 0, &mut out).is_ok() {
            let v: serde_json::Value = serde_json::from_str(out.as_str()).map_err(|e| TestCaseError::fail(format!("{e}: {}", out.as_str())))?;
            prop_assert_eq!(v["order_id"].as_str(), Some(order_id.as_str()));
        }
    }
}
