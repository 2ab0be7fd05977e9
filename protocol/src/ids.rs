//! Identifiers that arrive from URLs, cookies, carts and operators.

use crate::ParseError;
use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

const CODE_CHARS: &str = "A-Z a-z 0-9 _ -";

fn check_code(what: &'static str, raw: &str, min: usize, max: usize) -> Result<(), ParseError> {
    if raw.is_empty() {
        return Err(ParseError::Empty { what });
    }
    if raw.len() > max {
        return Err(ParseError::TooLong { what, max });
    }
    if raw.len() < min {
        return Err(ParseError::TooShort { what, min });
    }
    if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ParseError::BadCharacter { what, allowed: CODE_CHARS });
    }
    Ok(())
}

fn parse_code(what: &'static str, raw: &str, min: usize, max: usize) -> Result<String, ParseError> {
    check_code(what, raw, min, max).map(|()| raw.to_owned())
}

/// The same rules as the types' `parse`, on borrowed text: for the snippet, which validates what
/// it reads without allocating.
pub mod check {
    /// Whether `raw` is a valid [`PartnerCode`](super::PartnerCode).
    pub fn partner_code(raw: &str) -> bool {
        super::check_code("partner code", raw, 1, 64).is_ok()
    }

    /// Whether `raw` is a valid [`SubId`](super::SubId).
    pub fn sub_id(raw: &str) -> bool {
        super::check_code("sub id", raw, 1, 64).is_ok()
    }

    /// Whether `raw` is a valid [`ClickId`](super::ClickId).
    pub fn click_id(raw: &str) -> bool {
        super::check_code("click id", raw, 22, 64).is_ok()
    }

    /// Whether `raw` is a valid [`OrderId`](super::OrderId).
    pub fn order_id(raw: &str) -> bool {
        super::check_visible("order id", raw, 128).is_ok()
    }

    /// The trimmed address if `raw` is a valid [`Email`](super::Email) (which is its lower case).
    pub fn email(raw: &str) -> Option<&str> {
        let trimmed = raw.trim_ascii();
        super::check_email(trimmed).is_ok().then_some(trimmed)
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Builds the value if `raw` is valid.
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                let f: fn(&str) -> Result<String, ParseError> = $parse;
                f(raw).map(Self)
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(raw: String) -> Result<Self, ParseError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl core::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(raw: &str) -> Result<Self, ParseError> {
                Self::parse(raw)
            }
        }
    };
}

string_newtype!(
    /// A partner's public code, as in `?aff=jane`: 1–64 of `[A-Za-z0-9_-]`.
    PartnerCode,
    |raw| parse_code("partner code", raw, 1, 64)
);
string_newtype!(
    /// A commission program's code, as in `standard`: 1–64 of `[A-Za-z0-9_-]`.
    ProgramCode,
    |raw| parse_code("program code", raw, 1, 64)
);
string_newtype!(
    /// A partner's own sub-tracking label, as in `?sid=newsletter`: 1–64 of `[A-Za-z0-9_-]`.
    SubId,
    |raw| parse_code("sub id", raw, 1, 64)
);
string_newtype!(
    /// A tracking link's code, the `{link}` in `/go/{link}`: 1–64 of `[A-Za-z0-9_-]`.
    LinkCode,
    |raw| parse_code("link code", raw, 1, 64)
);
string_newtype!(
    /// The opaque ID of one recorded click: URL-safe, 22–64 characters (ours: a 48-bit millisecond time, so ids sort by time, then 80 random bits).
    ClickId,
    |raw| parse_code("click id", raw, 22, 64)
);
string_newtype!(
    /// An order's ID, prefixed by its source on the server (`stripe:cs_…`): 1–128 visible ASCII characters.
    OrderId,
    |raw| parse_visible("order id", raw, 128)
);
string_newtype!(
    /// A refund's ID within its source: 1–128 visible ASCII characters.
    RefundId,
    |raw| parse_visible("refund id", raw, 128)
);
string_newtype!(
    /// An email address, trimmed and lower-cased so the same person is one contact.
    Email,
    parse_email
);

fn check_visible(what: &'static str, raw: &str, max: usize) -> Result<(), ParseError> {
    if raw.is_empty() {
        return Err(ParseError::Empty { what });
    }
    if raw.len() > max {
        return Err(ParseError::TooLong { what, max });
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
        return Err(ParseError::BadCharacter { what, allowed: "visible ASCII except quotes and backslash" });
    }
    Ok(())
}

fn parse_visible(what: &'static str, raw: &str, max: usize) -> Result<String, ParseError> {
    check_visible(what, raw, max).map(|()| raw.to_owned())
}

fn parse_email(raw: &str) -> Result<String, ParseError> {
    let email = raw.trim_ascii();
    check_email(email).map(|()| email.to_ascii_lowercase())
}

/// The rules of an email address, on trimmed text (they do not depend on case).
fn check_email(email: &str) -> Result<(), ParseError> {
    const WHAT: &str = "email";
    if email.is_empty() {
        return Err(ParseError::Empty { what: WHAT });
    }
    if email.len() > 254 {
        return Err(ParseError::TooLong { what: WHAT, max: 254 });
    }
    let Some((local, domain)) = crate::text::split_once_byte(email, b'@') else {
        return Err(ParseError::Invalid { what: WHAT, why: "it has no @" });
    };
    if local.is_empty() || domain.is_empty() || crate::text::find_byte(domain, b'@').is_some() {
        return Err(ParseError::Invalid { what: WHAT, why: "it needs one @ between a name and a domain" });
    }
    if crate::text::find_byte(domain, b'.').is_none() || domain.as_bytes().first() == Some(&b'.') || domain.as_bytes().last() == Some(&b'.')
    {
        return Err(ParseError::Invalid { what: WHAT, why: "its domain has no dot" });
    }
    if email.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'<' || b == b'>') {
        return Err(ParseError::Invalid { what: WHAT, why: "it contains spaces or brackets" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_codes_accept_the_url_safe_charset_up_to_64() {
        assert!(PartnerCode::parse("jane_doe-2").is_ok());
        assert!(PartnerCode::parse(&"a".repeat(64)).is_ok());
        assert_eq!(PartnerCode::parse(&"a".repeat(65)), Err(ParseError::TooLong { what: "partner code", max: 64 }));
        assert_eq!(PartnerCode::parse(""), Err(ParseError::Empty { what: "partner code" }));
        assert!(matches!(PartnerCode::parse("jane doe"), Err(ParseError::BadCharacter { .. })));
        assert!(matches!(PartnerCode::parse("jane<script>"), Err(ParseError::BadCharacter { .. })));
    }

    #[test]
    fn click_ids_need_enough_characters_to_carry_128_bits() {
        assert!(ClickId::parse("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
        assert!(matches!(ClickId::parse("short"), Err(ParseError::TooShort { .. })));
        assert!(matches!(ClickId::parse("AAAAAAAAAAAAAAAAAAAAA/A"), Err(ParseError::BadCharacter { .. })));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Jane@Example.COM ").unwrap().as_str(), "jane@example.com");
        assert!(Email::parse("jane").is_err());
        assert!(Email::parse("jane@localhost").is_err());
        assert!(Email::parse("ja ne@example.com").is_err());
        assert!(Email::parse("@example.com").is_err());
    }

    #[test]
    fn the_borrowed_checks_follow_the_same_rules_as_parse() {
        for raw in ["jane", "ja ne", "", "AAAAAAAAAAAAAAAAAAAAAA", "short", "x\"y", &"a".repeat(65)] {
            assert_eq!(check::partner_code(raw), PartnerCode::parse(raw).is_ok(), "{raw}");
            assert_eq!(check::sub_id(raw), SubId::parse(raw).is_ok(), "{raw}");
            assert_eq!(check::click_id(raw), ClickId::parse(raw).is_ok(), "{raw}");
            assert_eq!(check::order_id(raw), OrderId::parse(raw).is_ok(), "{raw}");
        }
        assert_eq!(check::email("  Jane@Example.COM "), Some("Jane@Example.COM"));
        assert_eq!(check::email("jane@localhost"), None);
    }

    #[test]
    fn order_ids_refuse_whitespace_and_quotes() {
        assert!(OrderId::parse("stripe:cs_test_a1B2").is_ok());
        assert!(OrderId::parse("a b").is_err());
        assert!(OrderId::parse("a\"b").is_err());
        assert!(OrderId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn newtypes_reject_invalid_values_when_deserialized() {
        let ok: Result<PartnerCode, _> = serde_json::from_str("\"jane\"");
        assert!(ok.is_ok());
        let bad: Result<PartnerCode, _> = serde_json::from_str("\"ja ne\"");
        assert!(bad.is_err());
    }
}
