//! What the snippet remembers about a visitor's click, and how it decides which click to keep.
//!
//! Stored as `1.<click>.<partner>.<sub_id>.<expires_at_secs>` (every part URL- and cookie-safe,
//! empty when unknown) so one cookie value and one localStorage entry carry it all. A record
//! borrows its parts from the text it was read from: the snippet allocates nothing.

use crate::out::{parse_u64, Out};
use reftrack_protocol::check;
use reftrack_protocol::text::split_byte;

/// A remembered referral; every part is validated by the protocol's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub click: Option<&'a str>,
    pub partner: Option<&'a str>,
    pub sub_id: Option<&'a str>,
    /// Unix seconds.
    pub expires_at: u64,
}

fn valid(raw: &str, is: fn(&str) -> bool) -> Option<&str> {
    is(raw).then_some(raw)
}

impl<'a> Record<'a> {
    /// A record from URL parameters, if they carry a valid click or partner. Invalid values are ignored.
    pub fn from_params(click: &'a str, partner: &'a str, sub_id: &'a str, now: u64, window_days: u32) -> Option<Record<'a>> {
        let click = valid(click, check::click_id);
        let partner = valid(partner, check::partner_code);
        if click.is_none() && partner.is_none() {
            return None;
        }
        Some(Record { click, partner, sub_id: valid(sub_id, check::sub_id), expires_at: now + u64::from(window_days) * 86_400 })
    }

    /// Writes the stored form.
    pub fn encode(&self, out: &mut Out) {
        out.push("1.");
        out.push(self.click.unwrap_or_default());
        out.push(".");
        out.push(self.partner.unwrap_or_default());
        out.push(".");
        out.push(self.sub_id.unwrap_or_default());
        out.push(".");
        out.u64(self.expires_at);
    }

    /// Reads the stored form; anything malformed is `None`.
    pub fn decode(raw: &'a str) -> Option<Record<'a>> {
        let mut parts = split_byte(raw.trim_ascii(), b'.');
        if parts.next()? != "1" {
            return None;
        }
        // An empty part is "unknown"; a present part must be valid, or the whole record is refused.
        let part = |s: &'a str, is: fn(&str) -> bool| if s.is_empty() { Some(None) } else { valid(s, is).map(Some) };
        let click = part(parts.next()?, check::click_id)?;
        let partner = part(parts.next()?, check::partner_code)?;
        let sub_id = part(parts.next()?, check::sub_id)?;
        let expires_at = parse_u64(parts.next()?)?;
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
    pub fn merge_lookup(&mut self, partner: Option<&'a str>, sub_id: Option<&'a str>, expires_at: Option<u64>) {
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
pub fn choose<'a>(existing: Option<Record<'a>>, incoming: Option<Record<'a>>, model: Model, now: u64) -> Option<Record<'a>> {
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

/// Writes the stored form of an optional record (nothing for none).
pub fn encode_or_empty(record: Option<Record<'_>>, out: &mut Out) {
    if let Some(r) = record {
        r.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const CLICK: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const OTHER: &str = "BBBBBBBBBBBBBBBBBBBBBB";

    fn rec<'a>(click: &'a str, partner: &'a str) -> Record<'a> {
        Record::from_params(click, partner, "", 1_000, 30).unwrap()
    }

    fn encoded(r: &Record<'_>) -> String {
        let mut out = Out::default();
        r.encode(&mut out);
        out.as_str().into()
    }

    #[test]
    fn a_record_round_trips_through_its_stored_form() {
        let r = Record::from_params(CLICK, "jane", "yt", 1_000, 30).unwrap();
        let stored = encoded(&r);
        assert_eq!(stored, format!("1.{CLICK}.jane.yt.{}", 1_000 + 30 * 86_400));
        assert_eq!(Record::decode(&stored), Some(r));
        let partner_only = Record::from_params("", "jane", "", 0, 1).unwrap();
        assert_eq!(Record::decode(&encoded(&partner_only)), Some(partner_only));
    }

    #[test]
    fn invalid_parameters_are_ignored_never_stored() {
        assert_eq!(Record::from_params("short", "ja ne", "", 0, 30), None);
        let r = Record::from_params(CLICK, "<script>", "bad sid", 0, 30).unwrap();
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
        assert_eq!(choose(Some(old), Some(new), Model::Last, 10), Some(new));
        assert_eq!(choose(Some(old), Some(new), Model::First, 10), Some(old));
        // An expired first click gives way.
        assert_eq!(choose(Some(old), Some(new), Model::First, old.expires_at), Some(new));
        assert_eq!(choose(Some(old), None, Model::Last, 10), Some(old));
    }

    #[test]
    fn a_reload_with_the_same_click_keeps_what_was_learned() {
        let mut known = rec(CLICK, "jane");
        known.sub_id = Some("yt");
        let bare = Record::from_params(CLICK, "", "", 500, 30).unwrap();
        assert_eq!(choose(Some(known), Some(bare), Model::Last, 10), Some(known));
    }
}
