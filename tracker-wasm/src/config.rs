//! The snippet's settings, read from its `<script data-…>` attributes.

use reftrack_protocol::text::{find_byte, rfind_byte};

/// The tracking window in days from `data-window-days`: 1–400, else the default 30.
pub fn window_days(raw: u32) -> u32 {
    if (1..=reftrack_protocol::names::MAX_WINDOW_DAYS).contains(&raw) {
        raw
    } else {
        reftrack_protocol::names::DEFAULT_WINDOW_DAYS
    }
}

/// `https://t.example.com/_rt/reftrack.js?v=2` → `https://t.example.com/_rt`.
pub fn endpoint_of(src: &str) -> &str {
    let end = src.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(src.len());
    let without_query = src.get(..end).unwrap_or(src);
    // The path starts after "scheme://host".
    let host_start = find_byte(without_query, b':').map_or(0, |i| i + 3);
    let folder = match rfind_byte(without_query, b'/') {
        Some(i) if i >= host_start => without_query.get(..i),
        _ => None,
    };
    folder.unwrap_or(without_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_script_folder_keeping_a_base_path() {
        assert_eq!(endpoint_of("https://t.example.com/reftrack.js"), "https://t.example.com");
        assert_eq!(endpoint_of("https://www.example.com/_rt/reftrack.js?v=3"), "https://www.example.com/_rt");
        assert_eq!(endpoint_of("https://t.example.com"), "https://t.example.com");
    }

    #[test]
    fn the_window_is_clamped_to_what_browsers_keep() {
        assert_eq!(window_days(90), 90);
        assert_eq!(window_days(0), 30);
        assert_eq!(window_days(9999), 30);
    }
}
