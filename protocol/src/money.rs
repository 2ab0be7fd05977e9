//! Money: integer minor units plus an ISO 4217 currency, never floats.

use crate::ParseError;
use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Builds a currency from a code such as `USD`; lower case is accepted and upper-cased,
    /// because carts (Stripe) send `usd`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim_matches(|c: char| c.is_ascii_whitespace()).as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()]))
            }
            _ => Err(ParseError::Invalid { what: "currency", why: "it must be three letters (ISO 4217)" }),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Built from ASCII letters only, so this never falls back.
        core::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in integer minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("US1").is_err());
        assert!(Currency::parse("EURO").is_err());
    }
}
