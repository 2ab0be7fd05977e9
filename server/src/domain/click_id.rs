//! Click ids that sort by time, so the clicks table's primary-key index grows at its end: a
//! batch of clicks dirties a few index pages instead of one page per click (random ids scattered
//! each batch over the whole index, and each dirty page is another 4 KiB in the WAL).

use base64::alphabet::Alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use rand::RngCore;
use reftrack_protocol::ClickId;

/// The 64 URL-safe characters in ASCII order: encoded ids compare as their bytes do.
const SORTED: &str = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &match Alphabet::new(SORTED) {
        Ok(a) => a,
        Err(_) => panic!("the sorted alphabet is 64 distinct printable characters"),
    },
    GeneralPurposeConfig::new().with_encode_padding(false),
);

/// Mints a click id at `now_ms`: the time in milliseconds (48 bits), then 80 random bits, in 22
/// URL-safe characters. The random part alone makes an id unguessable; the time only orders them.
pub fn mint(now_ms: i64) -> ClickId {
    ClickId::parse(&ENGINE.encode(time_ordered(now_ms))).expect("22 URL-safe characters are a valid click id")
}

/// 128 bits that sort by time: `now_ms` (48 bits, big-endian), then 80 random bits. The outgoing
/// events' ids are made of them too, for the same reason as clicks'.
pub fn time_ordered(now_ms: i64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&now_ms.clamp(0, (1 << 48) - 1).to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut bytes[6..]);
    bytes
}

#[cfg(test)]
mod tests {
    use super::mint;

    #[test]
    fn minted_click_ids_are_valid_and_distinct() {
        let a = mint(1_700_000_000_000);
        let b = mint(1_700_000_000_000);
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn later_click_ids_sort_after_earlier_ones() {
        let mut at = 1_700_000_000_000_i64;
        let mut previous = mint(at);
        for step in [1, 7, 999, 86_400_000, 1, 3] {
            at += step;
            let next = mint(at);
            assert!(next.as_str() > previous.as_str(), "{next:?} after {previous:?}");
            previous = next;
        }
    }
}
