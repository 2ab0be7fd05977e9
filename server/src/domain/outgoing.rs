//! Outgoing events, as pure decisions: which events exist and what each carries (version 1 of
//! their JSON), what a partner's postback may see, how a postback template is filled, when a
//! failed delivery is tried again, and which addresses a delivery may never reach.
//!
//! Nothing here does I/O: the store writes the drafts with the ledger change that caused them,
//! and the delivery task sends them.

use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};

/// The shape version of every payload: a field is only ever added within a version.
pub const PAYLOAD_VERSION: u32 = 1;

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    LeadCreated,
    OrderCredited,
    OrderUnattributed,
    CommissionCreated,
    CommissionClawedBack,
    CommissionApproved,
    CommissionVoided,
    PayoutCreated,
    PartnerCreated,
    PartnerApproved,
    /// Sent only by the test-send of one endpoint.
    WebhookTest,
}

impl EventType {
    /// Every kind an endpoint may subscribe to (the test event always reaches its endpoint).
    pub const SUBSCRIBABLE: [EventType; 10] = [
        EventType::LeadCreated,
        EventType::OrderCredited,
        EventType::OrderUnattributed,
        EventType::CommissionCreated,
        EventType::CommissionClawedBack,
        EventType::CommissionApproved,
        EventType::CommissionVoided,
        EventType::PayoutCreated,
        EventType::PartnerCreated,
        EventType::PartnerApproved,
    ];

    /// The kinds a partner's postback may ask for: their own conversions and money only.
    pub const FOR_PARTNERS: [EventType; 7] = [
        EventType::LeadCreated,
        EventType::OrderCredited,
        EventType::CommissionCreated,
        EventType::CommissionClawedBack,
        EventType::CommissionApproved,
        EventType::CommissionVoided,
        EventType::PayoutCreated,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCreated => "lead.created",
            EventType::OrderCredited => "order.credited",
            EventType::OrderUnattributed => "order.unattributed",
            EventType::CommissionCreated => "commission.created",
            EventType::CommissionClawedBack => "commission.clawed_back",
            EventType::CommissionApproved => "commission.approved",
            EventType::CommissionVoided => "commission.voided",
            EventType::PayoutCreated => "payout.created",
            EventType::PartnerCreated => "partner.created",
            EventType::PartnerApproved => "partner.approved",
            EventType::WebhookTest => "webhook.test",
        }
    }

    /// Reads a subscribable name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == raw)
    }
}

/// What a partner's postback may carry, and nothing else: there is no field for the buyer's
/// email or another partner's figures, so no template can reach them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Macros {
    pub click_id: String,
    pub sub_id: String,
    pub order_id: String,
    /// The order's total in major units (`99.00`).
    pub amount: String,
    /// This partner's commission in major units (negative for a clawback).
    pub commission: String,
    pub currency: String,
    pub event: String,
}

/// The macro names a template may use.
pub const MACROS: [&str; 7] = ["click_id", "sub_id", "order_id", "amount", "commission", "currency", "event"];

impl Macros {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "click_id" => &self.click_id,
            "sub_id" => &self.sub_id,
            "order_id" => &self.order_id,
            "amount" => &self.amount,
            "commission" => &self.commission,
            "currency" => &self.currency,
            "event" => &self.event,
            _ => return None,
        })
    }

    /// The values as a JSON object (a POST postback's body; also how they are stored).
    pub fn to_json(&self) -> Value {
        json!({
            "event": self.event, "click_id": self.click_id, "sub_id": self.sub_id, "order_id": self.order_id,
            "amount": self.amount, "commission": self.commission, "currency": self.currency,
        })
    }

    /// Reads what [`to_json`](Self::to_json) wrote.
    pub fn from_json(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Macros {
            click_id: s("click_id"),
            sub_id: s("sub_id"),
            order_id: s("order_id"),
            amount: s("amount"),
            commission: s("commission"),
            currency: s("currency"),
            event: s("event"),
        }
    }
}

/// Fills `{macro}`s with URL-encoded values (a value can never add a parameter, a path segment
/// or change the host). Unknown `{…}` are left as they are; [`template_macros`] refuses them
/// when the template is saved.
pub fn fill(template: &str, macros: &Macros) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if macros.get(name).is_some() => {
                out.extend(url::form_urlencoded::byte_serialize(macros.get(name).unwrap_or_default().as_bytes()));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The macros a template uses, or the first unknown one.
pub fn template_macros(template: &str) -> Result<Vec<&str>, String> {
    let mut used = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { return Err("a '{' is not closed".into()) };
        let name = &after[..close];
        if !MACROS.contains(&name) {
            return Err(format!("unknown macro {{{name}}}; the macros are {}", MACROS.map(|m| format!("{{{m}}}")).join(", ")));
        }
        used.push(name);
        rest = &after[close + 1..];
    }
    Ok(used)
}

/// One event to write, before it has its id: what it is, whose it is (a partner's postbacks
/// receive it only when it names them), its payload's `data`, and its postback values.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: EventType,
    pub at_ms: i64,
    pub partner: Option<String>,
    pub data: Value,
    pub macros: Option<Macros>,
}

/// The payload: `{"id","type","version","created_at","data"}`, as sent and signed.
pub fn envelope(id: &str, kind: EventType, created_at_ms: i64, data: &Value) -> String {
    json!({
        "id": id,
        "type": kind.as_str(),
        "version": PAYLOAD_VERSION,
        "created_at": rfc3339(created_at_ms),
        "data": data,
    })
    .to_string()
}

fn rfc3339(ms: i64) -> String {
    super::period::from_ms(ms).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Minor units in major units of `currency` (`9900` USD → `99.00`); the raw number where the
/// currency cannot be read.
pub fn major(minor: i64, currency: &str) -> String {
    match reftrack_protocol::Currency::parse(currency) {
        Ok(c) => c.format_major(minor),
        Err(_) => minor.to_string(),
    }
}

/// What an order's credit events say about it.
#[derive(Debug, Clone, Default)]
pub struct OrderFacts<'a> {
    pub order_id: &'a str,
    pub occurred_at_ms: i64,
    pub currency: &'a str,
    pub total_minor: i64,
    pub email: Option<&'a str>,
    pub partner: Option<&'a str>,
    pub program: Option<&'a str>,
    pub click_id: Option<&'a str>,
    pub link: Option<&'a str>,
    pub sub_id: Option<&'a str>,
    /// The sale partner's commission on it.
    pub commission_minor: i64,
    /// Why it is (un)credited: the attribution's reason, or the merchant's note on a hand-made credit.
    pub reason: Option<&'a str>,
}

/// `order.credited` (with the partner's postback values) or `order.unattributed`.
pub fn order_event(o: &OrderFacts<'_>, now_ms: i64) -> Draft {
    let data = json!({
        "order_id": o.order_id,
        "occurred_at": rfc3339(o.occurred_at_ms),
        "currency": o.currency,
        "total_minor": o.total_minor,
        "customer_email": o.email,
        "partner": o.partner,
        "program": o.program,
        "click_id": o.click_id,
        "link": o.link,
        "sub_id": o.sub_id,
        "commission_minor": o.commission_minor,
        "reason": o.reason,
    });
    let Some(partner) = o.partner else {
        return Draft { kind: EventType::OrderUnattributed, at_ms: now_ms, partner: None, data, macros: None };
    };
    let macros = Macros {
        click_id: o.click_id.unwrap_or_default().to_owned(),
        sub_id: o.sub_id.unwrap_or_default().to_owned(),
        order_id: o.order_id.to_owned(),
        amount: major(o.total_minor, o.currency),
        commission: major(o.commission_minor, o.currency),
        currency: o.currency.to_owned(),
        event: EventType::OrderCredited.as_str().to_owned(),
    };
    Draft { kind: EventType::OrderCredited, at_ms: now_ms, partner: Some(partner.to_owned()), data, macros: Some(macros) }
}

/// One ledger entry's event, as the ledger knows it.
#[derive(Debug, Clone, Default)]
pub struct EntryFacts<'a> {
    pub entry_id: i64,
    pub kind: &'a str,
    pub order_id: &'a str,
    pub refund_id: Option<&'a str>,
    pub partner: &'a str,
    pub role: &'a str,
    pub program: Option<&'a str>,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub link: Option<&'a str>,
    pub sub_id: Option<&'a str>,
    pub available_at_ms: i64,
    pub reason: Option<&'a str>,
    pub reverses_id: Option<i64>,
    /// The order's total and click, where the writer knows them (postback macros).
    pub order_total_minor: Option<i64>,
    pub click_id: Option<&'a str>,
}

/// The event of a ledger entry: earned → `commission.created`, clawback →
/// `commission.clawed_back`, void or move → `commission.voided`, the payable half of an early
/// approval → `commission.approved`. Other entries (the pending half of an approval,
/// adjustments, payouts — which have their own event) make none.
pub fn entry_event(e: &EntryFacts<'_>, now_ms: i64) -> Option<Draft> {
    let kind = match e.kind {
        "earned" => EventType::CommissionCreated,
        "clawback" => EventType::CommissionClawedBack,
        "void" | "move" => EventType::CommissionVoided,
        "approval" if e.amount_minor > 0 => EventType::CommissionApproved,
        _ => return None,
    };
    let data = json!({
        "entry_id": e.entry_id,
        "entry_kind": e.kind,
        "order_id": e.order_id,
        "refund_id": e.refund_id,
        "partner": e.partner,
        "role": e.role,
        "program": e.program,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "link": e.link,
        "sub_id": e.sub_id,
        "available_at": rfc3339(e.available_at_ms),
        "reason": e.reason,
        "corrects_entry_id": e.reverses_id,
    });
    // The order's click is the sale partner's: a tier, lead or owner share never shows it.
    let own_click = if e.role == "sale" { e.click_id } else { None };
    let macros = Macros {
        click_id: own_click.unwrap_or_default().to_owned(),
        sub_id: e.sub_id.unwrap_or_default().to_owned(),
        order_id: e.order_id.to_owned(),
        amount: e.order_total_minor.map(|t| major(t, e.currency)).unwrap_or_default(),
        commission: major(e.amount_minor, e.currency),
        currency: e.currency.to_owned(),
        event: kind.as_str().to_owned(),
    };
    Some(Draft { kind, at_ms: now_ms, partner: Some(e.partner.to_owned()), data, macros: Some(macros) })
}

/// `lead.created`: the merchant's webhook sees the email; the partner's postback never does.
pub fn lead_event(
    partner: Option<&str>,
    click_id: Option<&str>,
    sub_id: Option<&str>,
    email: Option<&str>,
    source: &str,
    at_ms: i64,
) -> Draft {
    let data = json!({
        "partner": partner, "click_id": click_id, "sub_id": sub_id, "email": email, "source": source, "at": rfc3339(at_ms),
    });
    let macros = partner.map(|_| Macros {
        click_id: click_id.unwrap_or_default().to_owned(),
        sub_id: sub_id.unwrap_or_default().to_owned(),
        event: EventType::LeadCreated.as_str().to_owned(),
        ..Macros::default()
    });
    Draft { kind: EventType::LeadCreated, at_ms, partner: partner.map(str::to_owned), data, macros }
}

/// `payout.created`.
pub fn payout_event(payout_id: i64, partner: &str, currency: &str, amount_minor: i64, now_ms: i64) -> Draft {
    let data = json!({ "payout_id": payout_id, "partner": partner, "currency": currency, "amount_minor": amount_minor });
    let macros = Macros {
        commission: major(amount_minor, currency),
        currency: currency.to_owned(),
        event: EventType::PayoutCreated.as_str().to_owned(),
        ..Macros::default()
    };
    Draft { kind: EventType::PayoutCreated, at_ms: now_ms, partner: Some(partner.to_owned()), data, macros: Some(macros) }
}

/// `partner.created` or `partner.approved` (merchant webhooks only: a partner has no postback yet).
pub fn partner_event(kind: EventType, code: &str, name: &str, email: &str, parent: Option<&str>, programs: &[&str], now_ms: i64) -> Draft {
    let data = json!({ "partner": code, "name": name, "email": email, "parent": parent, "programs": programs });
    Draft { kind, at_ms: now_ms, partner: None, data, macros: None }
}

/// The test-send's event.
pub fn test_event(endpoint_id: i64, now_ms: i64) -> Draft {
    let data = json!({ "endpoint_id": endpoint_id, "message": "a test event sent from reftrack" });
    Draft { kind: EventType::WebhookTest, at_ms: now_ms, partner: None, data, macros: None }
}

/// The Standard Webhooks retry schedule: the wait before each attempt after the first failure
/// (the first attempt is immediate). After the last, the delivery has failed for good.
pub const RETRY_SCHEDULE_MS: [i64; 9] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000];

/// The longest `Retry-After` honoured: a receiver cannot park a delivery for longer than the
/// schedule's longest step.
pub const MAX_RETRY_AFTER_MS: i64 = 86_400_000;

/// An endpoint failing without a single success for this long is disabled.
pub const DISABLE_AFTER_MS: i64 = 5 * 86_400_000;

/// When to try again after the `attempts`-th attempt failed at `failed_at_ms` (`None`: give
/// up). A `Retry-After` later than the schedule's step is honoured, up to a day.
pub fn next_attempt_at(attempts: u32, failed_at_ms: i64, retry_after_ms: Option<i64>) -> Option<i64> {
    let step = *RETRY_SCHEDULE_MS.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let wait = retry_after_ms.map_or(step, |r| r.clamp(0, MAX_RETRY_AFTER_MS).max(step));
    failed_at_ms.checked_add(wait)
}

/// Why an address may not be reached, or `None` where it may. Loopback, private, link-local
/// (which holds the cloud metadata address 169.254.169.254), carrier-grade NAT, unspecified,
/// multicast, broadcast and reserved ranges are the server's own network, not a merchant's.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                // fc00::/7, unique local (AWS's metadata service is fd00:ec2::254).
                Some("private")
            } else if v6.segments()[..6] == [0, 0, 0, 0, 0, 0] {
                // The deprecated IPv4-compatible form ::a.b.c.d reaches IPv4 on some stacks.
                forbidden_v4(Ipv4Addr::new(v6.octets()[12], v6.octets()[13], v6.octets()[14], v6.octets()[15])).or(Some("reserved"))
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                Some("documentation")
            } else if first == 0x0064 && v6.segments()[1] == 0xff9b {
                // NAT64 embeds an IPv4 address in its last 32 bits.
                forbidden_v4(Ipv4Addr::new(v6.octets()[12], v6.octets()[13], v6.octets()[14], v6.octets()[15]))
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() || a >= 240 {
        Some("reserved")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if (a == 192 && b == 0 && ip.octets()[2] == 0) || (a == 198 && (18..20).contains(&b)) {
        Some("reserved")
    } else {
        None
    }
}

/// Checks a target URL's form (not its addresses): http(s) only, https unless `allow_http`, a
/// host, no credentials in it.
pub fn check_target(raw: &str, allow_http: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("must be https (http is allowed only with REFTRACK_WEBHOOK_ALLOW_HTTP=true)".into()),
        other => return Err(format!("must be https, not {other}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if raw.len() > 2_000 {
        return Err("is longer than 2000 characters".into());
    }
    Ok(url)
}

/// The literal address a URL's host names, if it is one.
pub fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_s_own_networks_and_the_metadata_address_are_forbidden() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("255.255.255.255", "broadcast"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "private"),
            ("64:ff9b::a00:1", "private"),
        ] {
            assert_eq!(forbidden_address(ip.parse().unwrap()), Some(why), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"] {
            assert_eq!(forbidden_address(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn the_retry_schedule_is_standard_webhooks_and_ends_after_ten_attempts() {
        let waits: Vec<i64> = (1..=9).map(|n| next_attempt_at(n, 0, None).unwrap()).collect();
        assert_eq!(waits, [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000]);
        assert_eq!(next_attempt_at(10, 0, None), None, "the tenth failure is the last");
        assert_eq!(next_attempt_at(0, 0, None), None);
    }

    #[test]
    fn a_later_retry_after_is_honoured_up_to_a_day_and_an_earlier_one_does_not_shorten_the_step() {
        assert_eq!(next_attempt_at(1, 1_000, Some(60_000)), Some(61_000));
        assert_eq!(next_attempt_at(1, 1_000, Some(1_000)), Some(6_000));
        assert_eq!(next_attempt_at(1, 0, Some(i64::MAX)), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(next_attempt_at(9, i64::MAX, None), None, "no overflow");
    }

    #[test]
    fn macros_are_filled_url_encoded_so_a_value_cannot_add_a_parameter() {
        let m = Macros {
            click_id: "c1".into(),
            sub_id: "a&b=c d".into(),
            amount: "99.00".into(),
            event: "order.credited".into(),
            ..Macros::default()
        };
        assert_eq!(
            fill("https://p.example/pb?cid={click_id}&s={sub_id}&a={amount}&e={event}&o={order_id}", &m),
            "https://p.example/pb?cid=c1&s=a%26b%3Dc+d&a=99.00&e=order.credited&o="
        );
        assert_eq!(fill("https://p.example/{x}/{", &m), "https://p.example/{x}/{");
    }

    #[test]
    fn a_template_with_an_unknown_or_unclosed_macro_is_refused() {
        assert_eq!(template_macros("https://p.example/?c={click_id}&a={amount}").unwrap(), ["click_id", "amount"]);
        assert!(template_macros("https://p.example/?e={email}").unwrap_err().contains("unknown macro {email}"));
        assert!(template_macros("https://p.example/?e={click_id").is_err());
    }

    #[test]
    fn an_order_credited_names_its_partner_and_its_postback_values_never_hold_the_email() {
        let o = OrderFacts {
            order_id: "api:1",
            currency: "USD",
            total_minor: 9900,
            email: Some("buyer@example.com"),
            partner: Some("jane"),
            click_id: Some("c1"),
            commission_minor: 2970,
            ..OrderFacts::default()
        };
        let d = order_event(&o, 0);
        assert_eq!(d.kind, EventType::OrderCredited);
        assert_eq!(d.data["customer_email"], "buyer@example.com");
        let m = d.macros.unwrap();
        assert_eq!((m.amount.as_str(), m.commission.as_str()), ("99.00", "29.70"));
        assert!(!m.to_json().to_string().contains("buyer@"));
        let unattributed = order_event(&OrderFacts { partner: None, ..o }, 0);
        assert_eq!((unattributed.kind, unattributed.macros), (EventType::OrderUnattributed, None));
    }

    #[test]
    fn only_ledger_entries_that_change_a_commission_make_events() {
        let e = |kind, amount_minor| entry_event(&EntryFacts { kind, amount_minor, currency: "USD", ..EntryFacts::default() }, 0);
        assert_eq!(e("earned", 10).unwrap().kind, EventType::CommissionCreated);
        assert_eq!(e("clawback", -10).unwrap().kind, EventType::CommissionClawedBack);
        assert_eq!(e("void", -10).unwrap().kind, EventType::CommissionVoided);
        assert_eq!(e("move", -10).unwrap().kind, EventType::CommissionVoided);
        assert_eq!(e("approval", 10).unwrap().kind, EventType::CommissionApproved);
        assert!(e("approval", -10).is_none());
        assert!(e("adjustment", 10).is_none());
    }

    #[test]
    fn a_tier_or_lead_share_never_carries_the_sale_partner_s_click() {
        let facts = |role| EntryFacts { kind: "earned", role, click_id: Some("c_sale"), currency: "USD", ..EntryFacts::default() };
        assert_eq!(entry_event(&facts("sale"), 0).unwrap().macros.unwrap().click_id, "c_sale");
        for role in ["tier2", "tier3", "lead", "owner"] {
            assert_eq!(entry_event(&facts(role), 0).unwrap().macros.unwrap().click_id, "", "{role}");
        }
    }

    #[test]
    fn the_envelope_has_the_documented_fields() {
        let body: Value = serde_json::from_str(&envelope("evt_1", EventType::OrderCredited, 0, &json!({"a": 1}))).unwrap();
        assert_eq!(
            body,
            json!({"id": "evt_1", "type": "order.credited", "version": 1, "created_at": "1970-01-01T00:00:00Z", "data": {"a": 1}})
        );
    }

    #[test]
    fn targets_must_be_https_unless_http_is_allowed_and_carry_no_credentials() {
        assert!(check_target("https://hooks.example.com/x", false).is_ok());
        assert!(check_target("http://hooks.example.com/x", false).unwrap_err().contains("https"));
        assert!(check_target("http://hooks.example.com/x", true).is_ok());
        assert!(check_target("ftp://hooks.example.com/x", true).is_err());
        assert!(check_target("https://u:p@hooks.example.com/x", false).is_err());
        assert!(check_target("not a url", false).is_err());
    }
}
