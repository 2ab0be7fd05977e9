//! What the snippet remembers about a visitor's click, and how it decides which click to keep.
//!
//! Stored as `1.<click>.<partner>.<sub_id>.<expires_at_secs>` (every part URL- and cookie-safe,
//! empty when unknown) so one cookie value and one localStorage entry carry it all.

use alloc::borrow::ToOwned;
use alloc::string::String;
use reftrack_protocol::text::split_byte;
use reftrack_protocol::{ClickId, PartnerCode, SubId};

/// A remembered referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub click: Option<ClickId>,
    pub partner: Option<PartnerCode>,
    pub sub_id: Option<SubId>,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Record {
    /// A record from URL parameters, if they carry a valid click or partner. Invalid values are ignored.
    pub fn from_params(click: Option<&str>, partner: Option<&str>, sub_id: Option<&str>, now: u64, window_days: u32) -> Option<Record> {
        let click = click.and_then(|c| ClickId::parse(c).ok());
        let partner = partner.and_then(|p| PartnerCode::parse(p).ok());
        if click.is_none() && partner.is_none() {
            return None;
        }
        let sub_id = sub_id.and_then(|s| SubId::parse(s).ok());
        Some(Record { click, partner, sub_id, expires_at: now + u64::from(window_days) * 86_400 })
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        let mut out = String::from("1.");
        out.push_str(self.click.as_ref().map_or("", |c| c.as_str()));
        out.push('.');
        out.push_str(self.partner.as_ref().map_or("", |p| p.as_str()));
        out.push('.');
        out.push_str(self.sub_id.as_ref().map_or("", |s| s.as_str()));
        out.push('.');
        push_u64(&mut out, self.expires_at);
        out
    }

    /// Reads the stored form; anything malformed is `None`.
    pub fn decode(raw: &str) -> Option<Record> {
        let mut parts = split_byte(raw.trim_ascii(), b'.');
        if parts.next()? != "1" {
            return None;
        }
        let opt = |s: &str| if s.is_empty() { None } else { Some(s.to_owned()) };
        let click = match opt(parts.next()?) {
            Some(c) => Some(ClickId::parse(&c).ok()?),
            None => None,
        };
        let partner = match opt(parts.next()?) {
            Some(p) => Some(PartnerCode::parse(&p).ok()?),
            None => None,
        };
        let sub_id = match opt(parts.next()?) {
            Some(s) => Some(SubId::parse(&s).ok()?),
            None => None,
        };
        let expires_at = parts.next()?.parse().ok()?;
        if parts.next().is_some() || (click.is_none() && partner.is_none()) {
            return None;
        }
        Some(Record { click, partner, sub_id, expires_at })
    }

    /// Whether it still counts at `now` (unix seconds).
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }

    /// Fills what this record lacks from a lookup of the same click.
    pub fn merge_lookup(&mut self, partner: Option<PartnerCode>, sub_id: Option<SubId>, expires_at: Option<u64>) {
        if self.partner.is_none() {
            self.partner = partner;
        }
        if self.sub_id.is_none() {
            self.sub_id = sub_id;
        }
        if let Some(e) = expires_at {
            self.expires_at = e;
        }
    }
}

/// Which click wins when a visitor arrives through several partners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Last,
    First,
}

/// Which record to keep when a visitor arrives with `incoming` and already has `existing`.
pub fn choose(existing: Option<Record>, incoming: Option<Record>, model: Model, now: u64) -> Option<Record> {
    let existing = existing.filter(|r| r.is_live(now));
    match (existing, incoming) {
        (Some(old), Some(new)) if old.click.is_some() && old.click == new.click => {
            // The same click again (a reload): keep what we learned about it.
            let mut kept = old;
            kept.merge_lookup(new.partner, new.sub_id, None);
            Some(kept)
        }
        (Some(old), Some(_)) if model == Model::First => Some(old),
        (_, Some(new)) => Some(new),
        (old, None) => old,
    }
}

/// The stored form of an optional record (`""` for none).
pub fn encode_or_empty(record: Option<Record>) -> String {
    record.map(|r| r.encode()).unwrap_or_default()
}

/// Appends a number without pulling in `core::fmt` (which costs kilobytes in the wasm).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    for slot in digits.iter_mut() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for &d in digits.iter().take(len).rev() {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const OTHER: &str = "BBBBBBBBBBBBBBBBBBBBBB";

    fn rec(click: &str, partner: &str) -> Record {
        Record::from_params(Some(click), Some(partner), None, 1_000, 30).unwrap()
    }

    #[test]
    fn a_record_round_trips_through_its_stored_form() {
        let r = Record::from_params(Some(CLICK), Some("jane"), Some("yt"), 1_000, 30).unwrap();
        assert_eq!(r.encode(), format!("1.{CLICK}.jane.yt.{}", 1_000 + 30 * 86_400));
        assert_eq!(Record::decode(&r.encode()), Some(r));
        let partner_only = Record::from_params(None, Some("jane"), None, 0, 1).unwrap();
        assert_eq!(Record::decode(&partner_only.encode()), Some(partner_only));
    }

    #[test]
    fn invalid_parameters_are_ignored_never_stored() {
        assert_eq!(Record::from_params(Some("short"), Some("ja ne"), None, 0, 30), None);
        let r = Record::from_params(Some(CLICK), Some("<script>"), Some("bad sid"), 0, 30).unwrap();
        assert_eq!((r.partner, r.sub_id), (None, None));
    }

    #[test]
    fn tampered_or_foreign_stored_values_are_refused() {
        for raw in [
            "",
            "2.x.y.z.1",
            "1.short.jane..5",
            "1..ja ne..5",
            "1...",
            "1..",
            "1...5",
            "1.AAAAAAAAAAAAAAAAAAAAAA.jane..5.extra",
            "1.AAAAAAAAAAAAAAAAAAAAAA.jane..soon",
        ] {
            assert_eq!(Record::decode(raw), None, "{raw}");
        }
    }

    #[test]
    fn the_last_click_replaces_and_the_first_click_keeps() {
        let old = rec(CLICK, "jane");
        let new = rec(OTHER, "john");
        assert_eq!(choose(Some(old.clone()), Some(new.clone()), Model::Last, 10), Some(new.clone()));
        assert_eq!(choose(Some(old.clone()), Some(new.clone()), Model::First, 10), Some(old.clone()));
        // An expired first click gives way.
        assert_eq!(choose(Some(old.clone()), Some(new.clone()), Model::First, old.expires_at), Some(new));
        assert_eq!(choose(Some(old.clone()), None, Model::Last, 10), Some(old));
    }

    #[test]
    fn a_reload_with_the_same_click_keeps_what_was_learned() {
        let mut known = rec(CLICK, "jane");
        known.sub_id = SubId::parse("yt").ok();
        let bare = Record::from_params(Some(CLICK), None, None, 500, 30).unwrap();
        assert_eq!(choose(Some(known.clone()), Some(bare), Model::Last, 10), Some(known));
    }

    #[test]
    fn numbers_are_written_without_fmt() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, 18_446_744_073_709_551_615);
        assert_eq!(s, "0 18446744073709551615");
    }
}
