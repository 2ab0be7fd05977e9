//! Byte-level helpers for ASCII separators. Same results as `str::split(char)` and friends, but
//! without core's char searchers, whose panic paths keep formatting code alive in the wasm snippet.
//! Cutting a valid string at an ASCII byte always gives valid strings, so `get` never fails here.

/// Splits at every `sep` byte (like `s.split(sep as char)`).
pub fn split_byte(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    split_where(s, move |b| b == sep)
}

/// Splits at every byte for which `is_sep` holds (ASCII separators only).
pub fn split_where(s: &str, is_sep: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    core::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(&is_sep) {
            Some(i) => {
                rest = current.get(i + 1..);
                current.get(..i)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Splits at the first `sep` byte.
pub fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// The first position of `b`.
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|x| x == b)
}

/// The last position of `b`.
pub fn rfind_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().rposition(|x| x == b)
}

/// `s` without leading and trailing `b` bytes.
pub fn trim_byte(s: &str, b: u8) -> &str {
    let start = s.bytes().position(|x| x != b).unwrap_or(s.len());
    let end = s.bytes().rposition(|x| x != b).map_or(start, |i| i + 1);
    s.get(start..end.max(start)).unwrap_or_default()
}

/// `s` without trailing `b` bytes.
pub fn trim_end_byte(s: &str, b: u8) -> &str {
    let end = s.bytes().rposition(|x| x != b).map_or(0, |i| i + 1);
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn byte_helpers_agree_with_the_str_methods() {
        for s in ["", ".", "a.b..c.", "1.AAAA.jane..5", "no-dots", "é.x"] {
            assert_eq!(split_byte(s, b'.').collect::<Vec<_>>(), s.split('.').collect::<Vec<_>>(), "{s:?}");
            assert_eq!(split_where(s, |b| b == b'.' || b == b'b').collect::<Vec<_>>(), s.split(['.', 'b']).collect::<Vec<_>>());
            assert_eq!(split_once_byte(s, b'.'), s.split_once('.'));
            assert_eq!(find_byte(s, b'.'), s.find('.'));
            assert_eq!(rfind_byte(s, b'.'), s.rfind('.'));
            assert_eq!(trim_byte(s, b'.'), s.trim_matches('.'));
            assert_eq!(trim_end_byte(s, b'.'), s.trim_end_matches('.'));
        }
    }
}
