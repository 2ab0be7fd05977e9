//! The call contract between the core and `www/loader.js`, written once: [`CONTRACT`].
//!
//! An operation is a number (its position here), named arguments and named answer fields. Both
//! cross the shared buffer as UTF-8 text fields separated by [`SEP`]: numbers as decimal text, a
//! record as its stored form, a flag as `1` or empty, a missing value as empty. There is one
//! answer encoding: the fields, in order, always all of them.
//!
//! The loader never spells an operation's number or the order of its arguments: `cargo xtask
//! snippet` reads this table (it links this crate natively) and writes it into the bundle, where
//! the loader turns each entry into `core.<name>({argument: value, …})` returning `{field: value,
//! …}`. The build fails when `loader.js` calls an operation this table lacks, passes other
//! argument names than it declares, or leaves one unused (`xtask/src/snippet.rs`). On this side,
//! [`run`] hands each handler in `exports` a struct of its arguments by name ([`args`]), and a test
//! checks every handler answers exactly its declared fields.

use crate::out::Out;
use reftrack_protocol::text::split_byte;

/// Separates arguments, and answer fields (U+001F, which the loader strips from every value).
pub const SEP: u8 = 0x1f;

/// One operation as the loader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub answer: &'static [&'static str],
}

macro_rules! contract {
    ($($(#[$doc:meta])* $variant:ident $name:ident { $($arg:ident),* } -> [$($field:ident),*];)*) => {
        /// The operations, numbered by their position in [`CONTRACT`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Op {
            $($(#[$doc])* $variant,)*
        }

        impl Op {
            /// Every operation, in number order.
            pub const ALL: &'static [Op] = &[$(Op::$variant),*];
        }

        /// Every operation's name, arguments and answer fields, in number order.
        pub const CONTRACT: &[Spec] =
            &[$(Spec { name: stringify!($name), args: &[$(stringify!($arg)),*], answer: &[$(stringify!($field)),*] }),*];

        /// Each operation's arguments, by name.
        pub mod args {
            $(
                #[doc = concat!("The arguments of `", stringify!($name), "`.")]
                #[derive(Debug, Clone, Copy, Default)]
                pub struct $variant<'a> {
                    $(pub $arg: &'a str,)*
                }
            )*
        }

        /// Runs `op` on its separated arguments (missing ones are empty) with its handler in `exports`.
        pub fn run(op: Op, input: &str, out: &mut Out) {
            let mut parts = split_byte(input, SEP);
            match op {
                $(Op::$variant => {
                    let a = args::$variant { $($arg: parts.next().unwrap_or_default(),)* };
                    crate::exports::$name(a, out)
                })*
            }
        }
    };
}

contract! {
    /// Where the tracking server is, and whether the page shares its site.
    Setup setup { script_src, page_host, cookie_domain } -> [same_site, endpoint];
    /// The record to keep after a page view: what is stored against what the address brings.
    Capture capture { cookie, local, click, partner, sub_id, first, window_days, now } -> [record];
    /// The record completed with (or made from) the server's lookup answer.
    MergeLookup merge_lookup { record, click, partner, sub_id, expires_at, now } -> [record];
    /// What the record says, and what to ask the server, if anything.
    View view { record, now, same_site, searched } -> [lookup, partner, sub_id, click, expires_at, expires_in];
    /// The parameters a URL to `host` + `path` must carry the click in: its query, its fragment.
    Decoration decoration { host, path, domains } -> [query, hash];
    /// The lead event for an opt-in.
    LeadEvent lead_event { record, email, page, now } -> [body];
    /// The conversion event, unless invalid or already reported by this browser.
    ConversionEvent conversion_event { record, order_id, amount_minor, amount, currency, sent, now } -> [outcome, sent, body];
}

impl Op {
    /// The operation numbered `n`.
    pub fn from_number(n: u32) -> Option<Op> {
        Op::ALL.get(n as usize).copied()
    }

    /// Its entry in the contract (tests only: indexing would keep a panic path in the wasm).
    #[cfg(test)]
    pub fn spec(self) -> &'static Spec {
        &CONTRACT[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn answer(op: Op, args: &[&str]) -> String {
        let mut out = Out::default();
        run(op, &args.join("\u{1f}"), &mut out);
        out.as_str().into()
    }

    #[test]
    fn every_operation_answers_exactly_its_declared_fields_whatever_it_is_given() {
        let click = "AAAAAAAAAAAAAAAAAAAAAA";
        let record = "1.AAAAAAAAAAAAAAAAAAAAAA.jane..99999999999";
        let inputs: [&[&str]; 4] = [
            &[],
            &["x"; 8],
            &[record, click, "jane", "yt", "1763629200", "1763629200", "usd", "1763629200"],
            &[record, "cs_1", "9900", "", "USD", "", "1763629200"],
        ];
        for op in Op::ALL {
            for input in inputs {
                let fields = answer(*op, input).split('\u{1f}').count();
                assert_eq!(fields, op.spec().answer.len(), "{op:?} on {input:?}");
            }
        }
    }

    #[test]
    fn operations_are_numbered_by_their_place_and_named_once() {
        for (n, op) in Op::ALL.iter().enumerate() {
            assert_eq!(Op::from_number(n as u32), Some(*op));
            assert_eq!(*op as usize, n);
        }
        assert_eq!(Op::from_number(Op::ALL.len() as u32), None);
        let mut names: Vec<&str> = CONTRACT.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONTRACT.len());
    }
}
