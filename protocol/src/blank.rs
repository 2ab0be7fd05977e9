//! Optional fields that carts and form tools send as `""` when they are not filled in: an empty
//! (or all-blank) string is a missing value, never an error.

use serde::de::{Deserialize, Deserializer, IntoDeserializer};

/// Deserializes `Option<T>` from a string, reading `null`, `""` and blanks as `None`.
///
/// Use with `#[serde(default, deserialize_with = "crate::blank::none_if_empty")]`.
pub fn none_if_empty<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let raw: Option<String> = Option::deserialize(deserializer)?;
    match raw {
        Some(s) if !s.trim().is_empty() => T::deserialize(s.into_deserializer()).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use crate::ClickId;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Form {
        #[serde(default, deserialize_with = "super::none_if_empty")]
        click_id: Option<ClickId>,
    }

    #[test]
    fn an_empty_or_blank_field_is_missing_and_a_bad_one_is_still_an_error() {
        for body in [r#"{}"#, r#"{"click_id":null}"#, r#"{"click_id":""}"#, r#"{"click_id":"  "}"#] {
            assert_eq!(serde_json::from_str::<Form>(body).unwrap().click_id, None, "{body}");
        }
        let ok: Form = serde_json::from_str(r#"{"click_id":"AAAAAAAAAAAAAAAAAAAAAA"}"#).unwrap();
        assert_eq!(ok.click_id.unwrap().as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(serde_json::from_str::<Form>(r#"{"click_id":"short"}"#).is_err());
    }
}
