//! Which partner, if any, an order is credited to.
//!
//! Rules, in order: a renewal belongs to the partner credited with its subscription's earlier
//! payment, whatever the windows; then the order's clicks (last click wins by default, first click if configured)
//! that are inside their tracking window at the order's time; else the contact's lead partner
//! (who first brought that email) inside the lead's window; else an explicit partner named by the
//! order itself (a coupon, a merchant's API call); else unattributed. A partner never earns on
//! their own purchase.

use reftrack_protocol::{ClickId, Email, LinkCode, PartnerCode, ProgramCode, SubId};

/// Clocks of the cart and of our server differ; a click this much "after" the order still counts.
pub const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Which of several valid clicks wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    #[default]
    LastClick,
    FirstClick,
}

impl std::str::FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "last" | "last_click" => Ok(Model::LastClick),
            "first" | "first_click" => Ok(Model::FirstClick),
            other => Err(format!("attribution model must be last or first, not {other:?}")),
        }
    }
}

/// Something a partner did that may earn them an order: a click or an opt-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub partner: PartnerCode,
    pub partner_email: Option<Email>,
    pub click_id: Option<ClickId>,
    pub link: Option<LinkCode>,
    pub sub_id: Option<SubId>,
    pub program: Option<ProgramCode>,
    pub at_ms: i64,
    pub expires_at_ms: i64,
}

impl Touch {
    /// Whether the touch is inside its window at `at_ms` (allowing for clock skew).
    pub fn covers(&self, at_ms: i64) -> bool {
        self.at_ms - CLOCK_SKEW_MS <= at_ms && at_ms <= self.expires_at_ms
    }
}

/// What we know when an order arrives.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub occurred_at_ms: i64,
    pub customer_email: Option<Email>,
    /// The order's own click and any other clicks known for this contact.
    pub clicks: Vec<Touch>,
    /// The contact's lead partner, if one brought this email first.
    pub lead: Option<Touch>,
    /// A partner the order names without a click (coupon, API).
    pub named_partner: Option<Touch>,
    /// For a renewal: the partner credited with the subscription's earlier payment.
    pub subscription: Option<Touch>,
}

/// Why an order earned nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCredit {
    NoTouch,
    OutsideWindow,
    SelfReferral,
}

impl NoCredit {
    /// The reason on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            NoCredit::NoTouch => "no_touch",
            NoCredit::OutsideWindow => "outside_window",
            NoCredit::SelfReferral => "self_referral",
        }
    }
}

/// How the order was credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credit {
    /// A click inside its window.
    Click(Touch),
    /// The contact's lead partner, inside the lead's window.
    Lead(Touch),
    /// A partner named by the order itself.
    Named(Touch),
    /// The partner of the subscription this renewal belongs to.
    Subscription(Touch),
    /// A partner the merchant credited by hand (an unattributed order, or one moved).
    Manual(Touch),
    Unattributed(NoCredit),
}

impl Credit {
    /// How the order was credited, on the wire and in storage (`None`: unattributed).
    pub fn by(&self) -> Option<&'static str> {
        match self {
            Credit::Click(_) => Some("click"),
            Credit::Lead(_) => Some("lead"),
            Credit::Named(_) => Some("named"),
            Credit::Subscription(_) => Some("subscription"),
            Credit::Manual(_) => Some("manual"),
            Credit::Unattributed(_) => None,
        }
    }

    /// The credited touch, if any.
    pub fn touch(&self) -> Option<&Touch> {
        match self {
            Credit::Click(t) | Credit::Lead(t) | Credit::Named(t) | Credit::Subscription(t) | Credit::Manual(t) => Some(t),
            Credit::Unattributed(_) => None,
        }
    }
}

/// Decides who is credited for an order.
pub fn attribute(facts: &Facts, model: Model) -> Credit {
    let at = facts.occurred_at_ms;
    let not_self = |t: &&Touch| match (&facts.customer_email, &t.partner_email) {
        (Some(customer), Some(partner)) => customer != partner,
        _ => true,
    };
    let any_touch = !facts.clicks.is_empty() || facts.lead.is_some() || facts.named_partner.is_some() || facts.subscription.is_some();
    let any_self = facts
        .clicks
        .iter()
        .chain(facts.lead.iter())
        .chain(facts.named_partner.iter())
        .chain(facts.subscription.iter())
        .any(|t| !not_self(&t));
    if let Some(t) = facts.subscription.as_ref().filter(not_self) {
        return Credit::Subscription(t.clone());
    }

    let valid_clicks = facts.clicks.iter().filter(|t| t.covers(at)).filter(not_self);
    let click = match model {
        // Ties on time go to the later entry, so an order's own click wins over a same-instant one.
        Model::LastClick => valid_clicks.max_by_key(|t| t.at_ms),
        Model::FirstClick => valid_clicks.min_by_key(|t| t.at_ms),
    };
    if let Some(t) = click {
        return Credit::Click(t.clone());
    }
    if let Some(t) = facts.lead.as_ref().filter(|t| t.covers(at)).filter(not_self) {
        return Credit::Lead(t.clone());
    }
    if let Some(t) = facts.named_partner.as_ref().filter(not_self) {
        return Credit::Named(t.clone());
    }
    Credit::Unattributed(match (any_touch, any_self) {
        (false, _) => NoCredit::NoTouch,
        (true, true) => NoCredit::SelfReferral,
        (true, false) => NoCredit::OutsideWindow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn touch(partner: &str, at_ms: i64, window_days: i64) -> Touch {
        Touch {
            partner: PartnerCode::parse(partner).unwrap(),
            partner_email: Some(Email::parse(&format!("{partner}@partners.example")).unwrap()),
            click_id: None,
            link: None,
            sub_id: None,
            program: None,
            at_ms,
            expires_at_ms: at_ms + window_days * DAY,
        }
    }

    fn facts(at: i64, clicks: Vec<Touch>) -> Facts {
        Facts { occurred_at_ms: at, clicks, ..Facts::default() }
    }

    #[test]
    fn the_last_click_inside_the_window_wins_by_default() {
        let f = facts(10 * DAY, vec![touch("jane", DAY, 30), touch("john", 5 * DAY, 30)]);
        assert_eq!(attribute(&f, Model::LastClick).touch().unwrap().partner.as_str(), "john");
    }

    #[test]
    fn the_first_click_wins_when_configured() {
        let f = facts(10 * DAY, vec![touch("jane", DAY, 30), touch("john", 5 * DAY, 30)]);
        assert_eq!(attribute(&f, Model::FirstClick).touch().unwrap().partner.as_str(), "jane");
    }

    #[test]
    fn a_click_older_than_its_window_earns_nothing() {
        let f = facts(40 * DAY, vec![touch("jane", DAY, 30)]);
        assert_eq!(attribute(&f, Model::LastClick), Credit::Unattributed(NoCredit::OutsideWindow));
        // The window is inclusive of its last instant.
        let f = facts(31 * DAY, vec![touch("jane", DAY, 30)]);
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Click(_)));
    }

    #[test]
    fn an_expired_last_click_gives_way_to_an_older_click_with_a_longer_window() {
        let f = facts(50 * DAY, vec![touch("jane", DAY, 90), touch("john", 10 * DAY, 30)]);
        assert_eq!(attribute(&f, Model::LastClick).touch().unwrap().partner.as_str(), "jane");
    }

    #[test]
    fn without_a_valid_click_the_lead_partner_is_credited_inside_the_lead_window() {
        let mut f = facts(20 * DAY, vec![touch("john", 0, 7)]);
        f.lead = Some(touch("jane", 2 * DAY, 60));
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Lead(t) if t.partner.as_str() == "jane"));
        f.occurred_at_ms = 70 * DAY;
        assert_eq!(attribute(&f, Model::LastClick), Credit::Unattributed(NoCredit::OutsideWindow));
    }

    #[test]
    fn a_named_partner_is_credited_only_when_no_click_or_lead_applies() {
        let mut f = facts(DAY, vec![]);
        f.named_partner = Some(touch("coupon_partner", DAY, 0));
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Named(_)));
        f.clicks.push(touch("jane", 0, 30));
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Click(t) if t.partner.as_str() == "jane"));
    }

    #[test]
    fn a_partner_never_earns_on_their_own_purchase() {
        let mut f = facts(2 * DAY, vec![touch("jane", DAY, 30)]);
        f.customer_email = Some(Email::parse("JANE@partners.example").unwrap());
        assert_eq!(attribute(&f, Model::LastClick), Credit::Unattributed(NoCredit::SelfReferral));
        // Another partner's valid click still earns.
        f.clicks.push(touch("john", DAY / 2, 30));
        assert_eq!(attribute(&f, Model::LastClick).touch().unwrap().partner.as_str(), "john");
    }

    #[test]
    fn a_renewal_earns_for_the_subscriptions_partner_long_after_every_window() {
        let mut f = facts(400 * DAY, vec![touch("john", 399 * DAY, 30)]);
        f.subscription = Some(touch("jane", DAY, 30));
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Subscription(t) if t.partner.as_str() == "jane"));
    }

    #[test]
    fn no_touch_at_all_is_unattributed() {
        assert_eq!(attribute(&facts(DAY, vec![]), Model::LastClick), Credit::Unattributed(NoCredit::NoTouch));
    }

    #[test]
    fn a_click_recorded_slightly_after_the_cart_clock_still_counts() {
        let f = facts(DAY - 60_000, vec![touch("jane", DAY, 30)]);
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Click(_)));
        let f = facts(DAY - 10 * 60_000, vec![touch("jane", DAY, 30)]);
        assert!(matches!(attribute(&f, Model::LastClick), Credit::Unattributed(_)));
    }
}
