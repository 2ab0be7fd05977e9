//! Form-encoded webhooks (Gumroad, ThriveCart) nest values with PHP-style brackets
//! (`customer[email]=…`, `order[charges][0][amount]=…`, `url_params[rt_click]=…`). They are read
//! into the same JSON shape a JSON delivery of the same cart has, so one mapping serves both.

use super::PayloadError;
use serde_json::{Map, Value};

/// Most fields one form may carry.
pub const MAX_FIELDS: usize = 5_000;
/// Deepest nesting one key may have.
pub const MAX_DEPTH: usize = 8;

/// Reads `a=1&b[c]=2&b[d][0]=3` into `{"a":"1","b":{"c":"2","d":{"0":"3"}}}`. Later duplicates
/// win; a key that is both a value and a group (`a=1&a[b]=2`) is refused as malformed.
pub fn to_json(body: &[u8]) -> Result<Value, PayloadError> {
    let mut root = Map::new();
    for (count, (key, value)) in url::form_urlencoded::parse(body).enumerate() {
        if count >= MAX_FIELDS {
            return Err(PayloadError::Invalid(format!("the form has more than {MAX_FIELDS} fields")));
        }
        let path = split_key(&key)?;
        insert(&mut root, &path, value.into_owned(), &key)?;
    }
    Ok(Value::Object(root))
}

fn split_key(key: &str) -> Result<Vec<String>, PayloadError> {
    let malformed = || PayloadError::Invalid(format!("form field {key:?} is malformed"));
    let (head, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(malformed());
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(malformed)?;
        let end = inner.find(']').ok_or_else(malformed)?;
        // `a[]` (an appended item) is not something the carts we read send.
        if end == 0 {
            return Err(malformed());
        }
        path.push(inner[..end].to_owned());
        rest = &inner[end + 1..];
        if path.len() > MAX_DEPTH {
            return Err(PayloadError::Invalid(format!("form field {key:?} is nested deeper than {MAX_DEPTH}")));
        }
    }
    Ok(path)
}

fn insert(map: &mut Map<String, Value>, path: &[String], value: String, key: &str) -> Result<(), PayloadError> {
    let conflict = || PayloadError::Invalid(format!("form field {key:?} is both a value and a group"));
    let (first, rest) = path.split_first().expect("a key has at least one part");
    if rest.is_empty() {
        if map.get(first).is_some_and(Value::is_object) {
            return Err(conflict());
        }
        map.insert(first.clone(), Value::String(value));
        return Ok(());
    }
    let entry = map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
    match entry {
        Value::Object(inner) => insert(inner, rest, value, key),
        _ => Err(conflict()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bracketed_keys_become_nested_objects() {
        let body = b"event=order.success&customer%5Bemail%5D=a%40b.co&order%5Bcharges%5D%5B0%5D%5Bamount%5D=4900&url_params[rt_click]=X";
        assert_eq!(
            to_json(body).unwrap(),
            json!({"event":"order.success","customer":{"email":"a@b.co"},"order":{"charges":{"0":{"amount":"4900"}}},"url_params":{"rt_click":"X"}})
        );
    }

    #[test]
    fn malformed_conflicting_and_oversized_forms_are_refused() {
        for body in [&b"a[b=1"[..], b"[a]=1", b"a[]=1", b"a=1&a[b]=2", b"a[b]=2&a=1", b"a[b]c=1"] {
            assert!(to_json(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        let deep = format!("a{}=1", "[b]".repeat(MAX_DEPTH));
        assert!(to_json(deep.as_bytes()).is_err());
        let many = (0..=MAX_FIELDS).map(|i| format!("f{i}=1")).collect::<Vec<_>>().join("&");
        assert!(to_json(many.as_bytes()).is_err());
    }
}
