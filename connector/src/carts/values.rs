//! Reading carts' loosely typed fields: a form-encoded cart sends every value as text, a JSON one
//! sends numbers, and both send `""` for a value that is not filled in — which is a missing
//! value, never an error. Money stays integer: decimal text goes through `Currency::parse_major`.

use super::PayloadError;
use reftrack_protocol::Currency;
use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

/// The text of a value: strings trimmed, numbers and booleans as written; `null`, `""` and blanks
/// are `None`.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Option<String>` from a string, number or boolean; blank is `None`.
/// Use with `#[serde(default, deserialize_with = "values::opt_text")]`.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(text))
}

/// `Option<i64>` from an integer or its text (`"4900"`); blank is `None`, a fraction an error.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    match value.as_ref().and_then(text) {
        None => Ok(None),
        Some(t) => t.parse::<i64>().map(Some).map_err(|_| D::Error::custom(format!("{t:?} is not a whole number"))),
    }
}

/// `bool` from `true`/`false`, `"true"`/`"false"`, `1`/`0`; missing or blank is `false`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    match value.as_ref().and_then(text).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(D::Error::custom(format!("{other:?} is not true or false"))),
    }
}

/// A list sent either as a JSON array or as a form's numbered keys (`charges[0]`, `charges[1]`),
/// in index order.
pub fn list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    let items: Vec<Value> = match value {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) if s.trim().is_empty() => vec![],
        Some(Value::Array(items)) => items,
        Some(Value::Object(map)) => {
            let mut numbered: Vec<(u64, Value)> = Vec::with_capacity(map.len());
            for (k, v) in map {
                let index = k.parse::<u64>().map_err(|_| D::Error::custom(format!("list key {k:?} is not a number")))?;
                numbered.push((index, v));
            }
            numbered.sort_by_key(|(i, _)| *i);
            numbered.into_iter().map(|(_, v)| v).collect()
        }
        Some(other) => return Err(D::Error::custom(format!("expected a list, found {other}"))),
    };
    items.into_iter().map(|v| serde_json::from_value(v).map_err(D::Error::custom)).collect()
}

/// Minor units from an integer field (`4900`, `"4900"`).
pub fn minor(raw: Option<i64>, what: &str) -> Result<i64, PayloadError> {
    raw.ok_or_else(|| PayloadError::Invalid(format!("{what} is missing")))
}

/// Minor units from a decimal in major units (`"49.90"`, `49.9`), exactly.
pub fn major(currency: Currency, raw: Option<&str>, what: &str) -> Result<i64, PayloadError> {
    let raw = raw.ok_or_else(|| PayloadError::Invalid(format!("{what} is missing")))?;
    currency.parse_major(raw).map_err(|e| PayloadError::Invalid(format!("{what} {raw:?}: {e}")))
}

/// Like [`major`], for optional figures: missing is 0.
pub fn major_or_zero(currency: Currency, raw: Option<&str>, what: &str) -> Result<i64, PayloadError> {
    match raw {
        None => Ok(0),
        some => major(currency, some, what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "opt_text")]
        name: Option<String>,
        #[serde(default, deserialize_with = "opt_int")]
        cents: Option<i64>,
        #[serde(default, deserialize_with = "flag")]
        refunded: bool,
        #[serde(default, deserialize_with = "list")]
        items: Vec<u32>,
    }

    fn read(json: &str) -> Fields {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn blank_values_are_missing_and_text_or_numbers_are_read_alike() {
        let f = read(r#"{"name":"  ","cents":"","refunded":""}"#);
        assert_eq!((f.name, f.cents, f.refunded), (None, None, false));
        let f = read(r#"{"name":12,"cents":"4900","refunded":"true","items":{"1":7,"0":5}}"#);
        assert_eq!((f.name.as_deref(), f.cents, f.refunded, f.items), (Some("12"), Some(4900), true, vec![5, 7]));
        let f = read(r#"{"cents":4900,"refunded":false,"items":[1,2]}"#);
        assert_eq!((f.cents, f.refunded, f.items), (Some(4900), false, vec![1, 2]));
    }

    #[test]
    fn fractions_where_cents_are_expected_and_odd_flags_are_errors() {
        assert!(serde_json::from_str::<Fields>(r#"{"cents":49.5}"#).is_err());
        assert!(serde_json::from_str::<Fields>(r#"{"cents":"49.50"}"#).is_err());
        assert!(serde_json::from_str::<Fields>(r#"{"refunded":"maybe"}"#).is_err());
        assert!(serde_json::from_str::<Fields>(r#"{"items":{"a":1}}"#).is_err());
    }

    #[test]
    fn major_units_become_exact_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(major(usd, Some("49.90"), "total").unwrap(), 4990);
        assert_eq!(major_or_zero(usd, None, "tax").unwrap(), 0);
        assert!(major(usd, Some("1.999"), "total").is_err());
        assert!(major(usd, None, "total").is_err());
    }
}
