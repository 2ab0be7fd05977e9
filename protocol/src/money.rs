//! Money: integer minor units plus an ISO 4217 currency, never floats.

use crate::ParseError;
use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Builds a currency from a code such as `USD`; lower case is accepted and upper-cased,
    /// because carts (Stripe) send `usd`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim_ascii().as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()]))
            }
            _ => Err(ParseError::Invalid { what: "currency", why: "it must be three letters (ISO 4217)" }),
        }
    }

    /// Whether the code is one of ISO 4217's active currencies. The snippet accepts any three
    /// letters (every byte counts there); the server and connector refuse the rest.
    #[cfg(feature = "std")]
    pub fn is_iso4217(&self) -> bool {
        ISO_4217.contains(&self.as_str())
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

impl core::str::FromStr for Currency {
    type Err = ParseError;
    fn from_str(raw: &str) -> Result<Self, ParseError> {
        Self::parse(raw)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Currency {
    /// Decimal places of the minor unit (ISO 4217): 2, except the zero- and three-decimal currencies.
    pub fn exponent(&self) -> u32 {
        // Compared as bytes: the snippet links this, and `as_str` would add UTF-8 validation.
        const ZERO: [&[u8; 3]; 17] = [
            b"BIF", b"CLP", b"DJF", b"GNF", b"ISK", b"JPY", b"KMF", b"KRW", b"PYG", b"RWF", b"UGX", b"UYI", b"VND", b"VUV", b"XAF", b"XOF",
            b"XPF",
        ];
        const THREE: [&[u8; 3]; 7] = [b"BHD", b"IQD", b"JOD", b"KWD", b"LYD", b"OMR", b"TND"];
        let code = &self.0;
        if ZERO.contains(&code) {
            0
        } else if THREE.contains(&code) {
            3
        } else {
            2
        }
    }

    /// Parses a decimal amount in major units as carts send it (`"199.00"`, `"5"`, `"-10.5"`)
    /// into exact minor units: no floating point, and more decimals than the currency has is an error.
    pub fn parse_major(&self, raw: &str) -> Result<i64, ParseError> {
        const WHAT: &str = "amount";
        let raw = raw.trim_ascii();
        let (negative, digits) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (whole, fraction) = crate::text::split_once_byte(digits, b'.').unwrap_or((digits, ""));
        let exponent = self.exponent() as usize;
        let fraction = crate::text::trim_end_byte(fraction, b'0');
        let valid = !whole.is_empty()
            && whole.len() <= 15
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(ParseError::Invalid { what: WHAT, why: "it is not a decimal number" });
        }
        if fraction.len() > exponent {
            return Err(ParseError::Invalid { what: WHAT, why: "it has more decimals than the currency" });
        }
        let mut minor: i64 = 0;
        for b in whole.bytes().chain(fraction.bytes()).chain(core::iter::repeat_n(b'0', exponent - fraction.len())) {
            minor = minor * 10 + i64::from(b - b'0');
        }
        Ok(if negative { -minor } else { minor })
    }

    /// Writes minor units as a decimal in major units (`2970` USD → `"29.70"`, `-5` → `"-0.05"`),
    /// as payout providers' CSV files expect.
    pub fn format_major(&self, minor: i64) -> String {
        let exponent = self.exponent();
        let digits = alloc::format!("{:0width$}", minor.unsigned_abs(), width = exponent as usize + 1);
        let (whole, fraction) = digits.split_at(digits.len() - exponent as usize);
        let sign = if minor < 0 { "-" } else { "" };
        if exponent == 0 {
            alloc::format!("{sign}{whole}")
        } else {
            alloc::format!("{sign}{whole}.{fraction}")
        }
    }
}

/// ISO 4217's active codes (2025), sorted.
#[cfg(feature = "std")]
const ISO_4217: [&str; 169] = [
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB",
    "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF",
    "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
    "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR",
    "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP",
    "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU",
    "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

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
    fn minor_units_print_as_major_amounts_by_currency() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            [usd.format_major(2970), usd.format_major(5), usd.format_major(-5), usd.format_major(0)],
            ["29.70", "0.05", "-0.05", "0.00"]
        );
        assert_eq!(Currency::parse("JPY").unwrap().format_major(1500), "1500");
        assert_eq!(Currency::parse("KWD").unwrap().format_major(1234), "1.234");
        for minor in [0, 1, 99, 100, 123_456, -7] {
            assert_eq!(usd.parse_major(&usd.format_major(minor)).unwrap(), minor);
        }
    }

    #[test]
    fn major_amounts_become_exact_minor_units_by_currency() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.parse_major("199.00"), Ok(19900));
        assert_eq!(usd.parse_major("0.1"), Ok(10));
        assert_eq!(usd.parse_major("5"), Ok(500));
        assert_eq!(usd.parse_major("-10.50"), Ok(-1050));
        assert_eq!(usd.parse_major("19.990"), Ok(1999));
        assert!(usd.parse_major("1.999").is_err());
        assert!(usd.parse_major("1e3").is_err());
        assert!(usd.parse_major("").is_err());
        assert!(usd.parse_major(".5").is_err());
        assert_eq!(Currency::parse("JPY").unwrap().parse_major("1500"), Ok(1500));
        assert_eq!(Currency::parse("KWD").unwrap().parse_major("1.234"), Ok(1234));
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("US1").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn only_iso_4217_codes_are_known_currencies() {
        assert!(Currency::parse("usd").unwrap().is_iso4217());
        assert!(Currency::parse("JPY").unwrap().is_iso4217());
        assert!(!Currency::parse("ABC").unwrap().is_iso4217());
        assert!(!Currency::parse("BTC").unwrap().is_iso4217());
    }
}
