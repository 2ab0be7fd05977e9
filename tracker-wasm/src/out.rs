//! The answer a call writes: a fixed buffer, because the snippet allocates nothing (no allocator,
//! no growth paths, no allocation-failure handler and the formatting it drags in).

/// Longest answer (and, in `exports`, longest input) in bytes.
pub const CAPACITY: usize = 8192;

/// Bytes written so far; past [`CAPACITY`] the answer is void and reads as empty.
pub struct Out {
    buf: [u8; CAPACITY],
    len: usize,
    full: bool,
}

impl Default for Out {
    fn default() -> Self {
        Self { buf: [0; CAPACITY], len: 0, full: false }
    }
}

impl Out {
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                // A zip, not copy_from_slice: no length-mismatch panic path in the wasm.
                for (d, s) in dst.iter_mut().zip(b) {
                    *d = *s;
                }
                self.len += b.len();
            }
            None => self.full = true,
        }
    }

    /// Appends text.
    pub fn push(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Ends one answer field and starts the next ([`crate::contract::SEP`]).
    pub fn sep(&mut self) {
        self.bytes(&[crate::contract::SEP]);
    }

    /// Appends a number in decimal (without `core::fmt`, which costs kilobytes in the wasm).
    pub fn u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            start -= 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.bytes(digits.get(start..).unwrap_or_default());
    }

    /// Appends `s` as a JSON string, lower-casing ASCII letters when `lower` is set.
    pub fn json_str(&mut self, s: &str, lower: bool) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.bytes(b"\"");
        for &b in s.as_bytes() {
            match b {
                b'"' | b'\\' => self.bytes(&[b'\\', b]),
                0..0x20 => self.bytes(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
                // Bytes of multi-byte characters pass through: the output stays valid UTF-8.
                _ => self.bytes(&[if lower { b.to_ascii_lowercase() } else { b }]),
            }
        }
        self.bytes(b"\"");
    }

    /// `,"key":"value"` for a JSON object being written.
    pub fn field(&mut self, key: &str, value: &str) {
        self.push(",\"");
        self.push(key);
        self.push("\":");
        self.json_str(value, false);
    }

    /// Forgets what was written.
    pub fn reset(&mut self) {
        self.len = 0;
        self.full = false;
    }

    /// What was written, or nothing if it did not fit.
    pub fn as_bytes(&self) -> &[u8] {
        if self.full {
            &[]
        } else {
            self.buf.get(..self.len).unwrap_or_default()
        }
    }

    /// What was written, as text (the writers only ever append whole UTF-8 sequences).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// A decimal number of at most 19 digits; anything else is `None`.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_without_fmt() {
        let mut out = Out::default();
        out.u64(0);
        out.push(" ");
        out.u64(18_446_744_073_709_551_615);
        assert_eq!(out.as_str(), "0 18446744073709551615");
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls_and_keep_unicode() {
        let mut out = Out::default();
        out.json_str("a\"b\\c\nd é", false);
        assert_eq!(out.as_str(), r#""a\"b\\c\u000ad é""#);
        let mut out = Out::default();
        out.json_str("Jane@Example.COM", true);
        assert_eq!(out.as_str(), "\"jane@example.com\"");
    }

    #[test]
    fn an_answer_that_does_not_fit_is_empty_not_cut() {
        let mut out = Out::default();
        out.push(&"x".repeat(CAPACITY - 1));
        out.push("yz");
        assert_eq!(out.as_bytes(), b"");
    }

    #[test]
    fn only_plain_decimal_numbers_parse() {
        assert_eq!(parse_u64("1763629200"), Some(1_763_629_200));
        for bad in ["", "-1", "1.5", "1e3", "99999999999999999999", " 1"] {
            assert_eq!(parse_u64(bad), None, "{bad}");
        }
    }
}
