use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use reftrack_protocol::ClickId;

/// Mints a click ID of 128 random bits, URL-safe base64 (22 characters).
pub fn mint() -> ClickId {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    ClickId::parse(&URL_SAFE_NO_PAD.encode(bytes)).expect("22 URL-safe characters are a valid click id")
}

#[cfg(test)]
mod tests {
    #[test]
    fn minted_click_ids_are_valid_and_distinct() {
        let a = super::mint();
        let b = super::mint();
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, b);
    }
}
