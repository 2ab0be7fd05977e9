//! One module per cart, each a [`Cart`]: its name, the environment variable holding its secret,
//! how it authenticates a delivery and how a payload becomes an [`Intake`]. Everything here is
//! pure (headers and bytes in, values out) and unit-tested; [`CARTS`] is the one list the routes,
//! the configuration, the metrics and the CLI iterate.

pub mod chargebee;
pub mod form;
pub mod generic;
pub mod gumroad;
pub mod lemonsqueezy;
pub mod paddle;
pub mod polar;
pub mod samcart;
pub mod shopify;
pub mod signatures;
pub mod stripe;
pub mod thrivecart;
pub mod values;
pub mod woocommerce;

use axum::http::HeaderMap;
use reftrack_protocol::{
    check_amount, Attribution, CanonicalOrder, ClickId, Currency, Customer, Email, LineItem, Notice, OrderId, Refund, RefundId, RefundKind,
    MAX_QUANTITY,
};
use signatures::AuthError;
use std::collections::BTreeMap;
use std::fmt;
use time::OffsetDateTime;

/// Every cart the connector accepts, by route name (`/webhooks/{name}`).
pub static CARTS: &[&dyn Cart] = &[
    &stripe::Stripe,
    &shopify::Shopify,
    &woocommerce::WooCommerce,
    &paddle::Paddle,
    &lemonsqueezy::LemonSqueezy,
    &polar::Polar,
    &gumroad::Gumroad,
    &thrivecart::ThriveCart,
    &samcart::SamCart,
    &chargebee::Chargebee,
    &generic::Generic,
];

/// The cart named in the route.
pub fn find(name: &str) -> Option<&'static dyn Cart> {
    CARTS.iter().copied().find(|c| c.name() == name)
}

/// A cart: how its deliveries are authenticated and read.
pub trait Cart: Send + Sync {
    /// Its name in routes, order-id prefixes and metrics (`lemonsqueezy`).
    fn name(&self) -> &'static str;

    /// The environment variable holding its secret (`LEMONSQUEEZY_WEBHOOK_SECRET`).
    fn secret_env(&self) -> &'static str;

    /// Further settings it reads from the environment.
    fn settings(&self) -> &'static [Setting] {
        &[]
    }

    /// Checks the configured secret and settings once, at start-up.
    fn check(&self, _config: &CartConfig) -> Result<(), String> {
        Ok(())
    }

    /// A delivery that only tests the URL (WooCommerce's creation ping, ThriveCart's check): it
    /// is answered 200 before any secret is needed, and nothing is stored.
    fn is_probe(&self, _delivery: &Delivery<'_>) -> bool {
        false
    }

    /// Whether the delivery really comes from the merchant's cart.
    fn authenticate(&self, delivery: &Delivery<'_>, config: &CartConfig) -> Result<(), AuthError>;

    /// What an authenticated delivery means for us.
    fn parse(&self, delivery: &Delivery<'_>, config: &CartConfig) -> Result<Intake, PayloadError>;
}

/// A setting a cart reads besides its secret.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub env: &'static str,
    pub about: &'static str,
}

/// One webhook delivery as it reached `/webhooks/{name}`.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    /// The URL's query string, without `?` (where carts that cannot sign carry `token=`).
    pub query: &'a str,
    pub body: &'a [u8],
    /// When it arrived, in unix seconds.
    pub now: i64,
}

impl<'a> Delivery<'a> {
    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter of the URL.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// True when the body is form-encoded (by its content type, or because it is not JSON).
    pub fn is_form(&self) -> bool {
        match self.header("content-type") {
            Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => true,
            Some(ct) if ct.starts_with("application/json") => false,
            _ => !self.body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{' || *b == b'['),
        }
    }
}

/// A configured cart's secret and settings. Its `Debug` never shows the secret.
#[derive(Clone, Default)]
pub struct CartConfig {
    secret: String,
    settings: BTreeMap<&'static str, String>,
}

impl fmt::Debug for CartConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CartConfig").field("secret", &"redacted").field("settings", &self.settings.keys()).finish()
    }
}

impl CartConfig {
    /// A cart's secret with its settings (empty values are left out).
    pub fn new(secret: impl Into<String>, settings: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        let settings = settings.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        Self { secret: secret.into(), settings }
    }

    /// The secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// A setting, when set.
    pub fn setting(&self, env: &str) -> Option<&str> {
        self.settings.get(env).map(|s| s.trim())
    }

    /// A whole-number setting, or `default` when it is not set.
    pub fn int_setting(&self, env: &str, default: i64) -> Result<i64, String> {
        match self.setting(env) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| format!("{env} must be a whole number, not {raw:?}")),
        }
    }
}

/// Which order a refund or notice belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// Our order id, known from the payload.
    Order(OrderId),
    /// Only the cart's own id of the payment (`stripe:pi_…`): looked up in the outbox's mapping.
    CartRef(String),
}

/// How much a refund reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAmount {
    /// One refund of this amount.
    Single(i64),
    /// The order's refunded total so far.
    Cumulative(i64),
}

/// Money taken back, as a cart reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartRefund {
    pub refund_id: RefundId,
    pub order: OrderRef,
    pub amount: RefundAmount,
    pub kind: RefundKind,
    pub occurred_at: OffsetDateTime,
}

impl CartRefund {
    /// One refund (`refund.created`).
    pub fn single(refund_id: RefundId, order: OrderRef, amount_minor: i64, occurred_at: OffsetDateTime) -> Self {
        CartRefund { refund_id, order, amount: RefundAmount::Single(amount_minor), kind: RefundKind::Refund, occurred_at }
    }

    /// The refunded total so far. Its id is stable per reported total (`stripe:ch_1:refunded:5000`),
    /// so a redelivery is one message and each new total is another.
    pub fn cumulative(of: &str, order: OrderRef, refunded_total_minor: i64, occurred_at: OffsetDateTime) -> Result<Self, PayloadError> {
        Ok(CartRefund {
            refund_id: RefundId::parse(&format!("{of}:refunded:{refunded_total_minor}"))?,
            order,
            amount: RefundAmount::Cumulative(refunded_total_minor),
            kind: RefundKind::Refund,
            occurred_at,
        })
    }

    /// A chargeback the merchant lost.
    pub fn dispute(refund_id: RefundId, order: OrderRef, amount_minor: i64, occurred_at: OffsetDateTime) -> Self {
        CartRefund { refund_id, order, amount: RefundAmount::Single(amount_minor), kind: RefundKind::Dispute, occurred_at }
    }

    /// The wire refund for `order_id`.
    pub fn to_refund(&self, order_id: OrderId) -> Refund {
        let mut refund = match self.amount {
            RefundAmount::Single(a) => Refund::single(order_id, self.refund_id.clone(), a, self.occurred_at),
            RefundAmount::Cumulative(t) => Refund::cumulative(order_id, self.refund_id.clone(), t, self.occurred_at),
        };
        refund.kind = self.kind;
        refund
    }
}

/// Something about money that cannot be applied to an order (a dispute opened, a failed
/// renewal, a refund of a payment never seen): forwarded to the server as a [`Notice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartNotice {
    /// Stable per event, without the cart's prefix (added on the way out).
    pub key: String,
    pub kind: &'static str,
    pub order: Option<OrderRef>,
    pub amount_minor: Option<i64>,
    pub currency: Option<Currency>,
    pub message: String,
    pub occurred_at: OffsetDateTime,
}

impl CartNotice {
    /// A notice of `kind` keyed by the cart's own id of the event.
    pub fn new(key: impl Into<String>, kind: &'static str, message: impl Into<String>, occurred_at: OffsetDateTime) -> Self {
        CartNotice { key: key.into(), kind, order: None, amount_minor: None, currency: None, message: message.into(), occurred_at }
    }

    /// About this order.
    pub fn about(mut self, order: OrderRef) -> Self {
        self.order = Some(order);
        self
    }

    /// Of this amount.
    pub fn amount(mut self, amount_minor: i64, currency: Currency) -> Self {
        self.amount_minor = Some(amount_minor);
        self.currency = Some(currency);
        self
    }

    /// The wire notice from `source`, about `order_id` when it is known.
    pub fn to_notice(&self, source: &str, order_id: Option<OrderId>) -> Notice {
        Notice {
            notice_id: format!("{source}:{}", self.key),
            source: source.to_owned(),
            kind: self.kind.to_owned(),
            order_id,
            amount_minor: self.amount_minor,
            currency: self.currency,
            message: clean_text(&self.message, 1000),
            occurred_at: self.occurred_at,
        }
    }
}

/// What a webhook means for us: an order, refunds, notices, several of them (a WooCommerce order
/// update lists its refunds), or nothing we handle (acknowledged so the cart stops retrying).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intake {
    pub order: Option<Box<CanonicalOrder>>,
    /// The cart's own payment ids that later refunds may name instead of the order.
    pub cart_refs: Vec<String>,
    pub refunds: Vec<CartRefund>,
    pub notices: Vec<CartNotice>,
    /// Why nothing was taken, for the log and the answer.
    pub ignored: Option<String>,
}

/// Longest cart payment id kept (`stripe:pi_…`).
pub const MAX_CART_REF: usize = 200;

/// The first 40 characters, for a message about a value that may be huge.
fn clip(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// Free text a cart sends (a product's name, a reason) made fit to store, never a reason to refuse
/// the order that carries it: line breaks and tabs become spaces, other control characters are
/// dropped, and it is cut to `max` bytes on a character boundary.
pub fn clean_text(raw: &str, max: usize) -> String {
    let mut clean: String =
        raw.chars().filter_map(|c| if c.is_whitespace() && c.is_control() { Some(' ') } else { (!c.is_control()).then_some(c) }).collect();
    if clean.len() > max {
        let mut end = max;
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        clean.truncate(end);
    }
    clean
}

/// How long a refund of a payment we have not seen is retried (the order may simply arrive
/// later) before it becomes a `refund_unmatched` notice.
pub const UNMATCHED_REFUND_AFTER: time::Duration = time::Duration::hours(24);

impl Intake {
    /// An event that does not concern money we track.
    pub fn ignored(why: impl Into<String>) -> Self {
        Intake { ignored: Some(why.into()), ..Intake::default() }
    }

    /// An order.
    pub fn order(order: CanonicalOrder, cart_refs: Vec<String>) -> Self {
        Intake { order: Some(Box::new(order)), cart_refs, ..Intake::default() }
    }

    /// Refunds (none at all is "ignored").
    pub fn refunds(refunds: Vec<CartRefund>) -> Self {
        if refunds.is_empty() {
            return Intake::ignored("no refund that moved money");
        }
        Intake { refunds, ..Intake::default() }
    }

    /// One refund.
    pub fn refund(refund: CartRefund) -> Self {
        Intake { refunds: vec![refund], ..Intake::default() }
    }

    /// One notice.
    pub fn notice(notice: CartNotice) -> Self {
        Intake { notices: vec![notice], ..Intake::default() }
    }

    /// Adds refunds.
    pub fn with_refunds(mut self, refunds: impl IntoIterator<Item = CartRefund>) -> Self {
        self.refunds.extend(refunds);
        self.ignored = None;
        self
    }

    /// Adds a notice.
    pub fn with_notice(mut self, notice: CartNotice) -> Self {
        self.notices.push(notice);
        self.ignored = None;
        self
    }

    /// Checks what the server would refuse, so a cart hears of it at once (400) instead of the
    /// entry dying later in the outbox; and that every payment id kept or looked up is an id
    /// (visible ASCII, at most 200 bytes), since those are stored too.
    pub fn validate(&self, source: &str) -> Result<(), PayloadError> {
        if let Some(order) = &self.order {
            order.validate()?;
        }
        let refs = self.cart_refs.iter().chain(
            self.refunds.iter().map(|r| &r.order).chain(self.notices.iter().filter_map(|n| n.order.as_ref())).filter_map(|o| match o {
                OrderRef::CartRef(r) => Some(r),
                OrderRef::Order(_) => None,
            }),
        );
        for cart_ref in refs {
            if cart_ref.is_empty() || cart_ref.len() > MAX_CART_REF || !cart_ref.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(format!("the payment id {:?} is not one (1–{MAX_CART_REF} visible ASCII characters)", clip(cart_ref))));
            }
        }
        for refund in &self.refunds {
            let order_id = OrderId::parse("validation").expect("static");
            refund.to_refund(order_id).validate()?;
        }
        for notice in &self.notices {
            notice.to_notice(source, None).validate()?;
        }
        Ok(())
    }

    /// The refund `refund_id` names a payment never seen: once it is older than
    /// [`UNMATCHED_REFUND_AFTER`] it becomes a `refund_unmatched` notice (true), so it is shown
    /// to the merchant instead of being retried by the cart until it gives up.
    pub fn unmatched_refund_as_notice(&mut self, refund_id: &str, now: OffsetDateTime) -> bool {
        let Some(at) = self.refunds.iter().position(|r| r.refund_id.as_str() == refund_id) else {
            return false;
        };
        if now - self.refunds[at].occurred_at < UNMATCHED_REFUND_AFTER {
            return false;
        }
        let refund = self.refunds.remove(at);
        let (what, amount) = match refund.amount {
            RefundAmount::Single(a) => ("a refund", a),
            RefundAmount::Cumulative(t) => ("a refunded total", t),
        };
        let payment = match &refund.order {
            OrderRef::CartRef(r) => r.clone(),
            OrderRef::Order(o) => o.to_string(),
        };
        let message = format!("{what} of {amount} (minor units) names payment {payment}, whose order never reached the connector");
        // The refund's id is already prefixed by its cart, as the notice's will be.
        let own_id = refund.refund_id.as_str().split_once(':').map_or(refund.refund_id.as_str(), |(_, rest)| rest);
        self.notices.push(CartNotice {
            key: format!("{own_id}:unmatched"),
            kind: "refund_unmatched",
            order: None,
            amount_minor: Some(amount),
            currency: None,
            message,
            occurred_at: refund.occurred_at,
        });
        true
    }
}

/// Why a payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

impl From<reftrack_protocol::ParseError> for PayloadError {
    fn from(e: reftrack_protocol::ParseError) -> Self {
        PayloadError::Invalid(e.to_string())
    }
}

/// Shorthand for an invalid payload.
pub fn invalid(why: impl Into<String>) -> PayloadError {
    PayloadError::Invalid(why.into())
}

/// `{cart}:{id}`, so two carts' order ids can never collide on the server.
pub fn order_id(cart: &str, id: &str) -> Result<OrderId, PayloadError> {
    Ok(OrderId::parse(&format!("{cart}:{id}"))?)
}

/// `{cart}:{id}` for refunds.
pub fn refund_id(cart: &str, id: &str) -> Result<RefundId, PayloadError> {
    Ok(RefundId::parse(&format!("{cart}:{id}"))?)
}

/// The `rt_click` parameter of a URL or path (`/landing?rt_click=…`), if present and valid.
pub fn click_in_url(url: &str) -> Option<ClickId> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == reftrack_protocol::names::CLICK_PARAM)
        .and_then(|(_, v)| ClickId::parse(&v).ok())
}

/// A click id from a cart's text, when it is one (anything else is not an error: the order is
/// still forwarded, unattributed by click).
pub fn click(raw: Option<&str>) -> Option<ClickId> {
    raw.map(str::trim).filter(|c| !c.is_empty()).and_then(|c| ClickId::parse(c).ok())
}

/// An email from a cart's text, when it is one.
pub fn email(raw: Option<&str>) -> Option<Email> {
    raw.map(str::trim).filter(|e| !e.is_empty()).and_then(|e| Email::parse(e).ok())
}

/// Unix seconds → a UTC time.
pub fn from_unix(secs: i64) -> Result<OffsetDateTime, PayloadError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| PayloadError::Invalid(format!("{secs} is not a valid unix time")))
}

/// An RFC 3339 time (any offset) → UTC. (`to_offset` panics where UTC leaves the years `time`
/// can hold — `9999-12-31T23:59:59-01:00` — so the checked conversion is used.)
pub fn from_rfc3339(raw: &str) -> Result<OffsetDateTime, PayloadError> {
    OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
        .ok_or_else(|| PayloadError::Invalid(format!("{raw:?} is not an RFC 3339 time")))
}

/// Most lines an order may carry (the protocol's limit).
const MAX_LINES: usize = 500;

/// How an order's total is made up, as the cart states it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breakdown {
    pub items: Vec<LineItem>,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
}

impl Breakdown {
    /// Whether `Σ lines − discount + shipping + tax` is exactly `total`, with valid lines.
    pub fn fits(&self, total: i64) -> bool {
        self.clone().fit(total) == *self && !self.items.is_empty()
    }

    /// Keeps the lines only when `Σ lines − discount + shipping + tax` is exactly `total`. A cart
    /// whose figures do not add up (rounding, a fee we do not read, credits) gets an order without
    /// lines: the total is the cart's own, and nothing is invented to make the lines fit.
    pub fn fit(self, total: i64) -> Breakdown {
        let lines = self.items.iter().try_fold(0i64, |sum, i| {
            let valid = i.quantity > 0 && i.quantity <= MAX_QUANTITY && i.unit_price_minor >= 0 && !i.sku.is_empty();
            valid.then(|| i.unit_price_minor.checked_mul(i.quantity).and_then(|l| sum.checked_add(l))).flatten()
        });
        let fits = lines
            .filter(|_| !self.items.is_empty() && self.items.len() <= MAX_LINES)
            .and_then(|l| l.checked_sub(self.discount_minor)?.checked_add(self.shipping_minor)?.checked_add(self.tax_minor))
            .is_some_and(|sum| sum == total && self.discount_minor >= 0 && self.shipping_minor >= 0 && self.tax_minor >= 0);
        if fits {
            return self;
        }
        if !self.items.is_empty() {
            tracing::debug!(total, lines = ?lines, "the cart's lines do not add up to its total; the order is sent without lines");
        }
        let extra_fits = |v: i64| check_amount("amount", v).is_ok() && v <= total;
        let shipping = if extra_fits(self.shipping_minor) { self.shipping_minor } else { 0 };
        let tax = if extra_fits(self.tax_minor) && shipping.saturating_add(self.tax_minor) <= total { self.tax_minor } else { 0 };
        Breakdown { items: vec![], discount_minor: 0, shipping_minor: shipping, tax_minor: tax }
    }
}

/// One line: `quantity` units whose line total is `line_minor`. A line total the quantity does not
/// divide exactly stays one line of one unit, so the amounts stay exact.
pub fn line(sku: String, name: String, quantity: i64, line_minor: i64) -> LineItem {
    let (quantity, unit) = if quantity > 0 && line_minor % quantity == 0 { (quantity, line_minor / quantity) } else { (1, line_minor) };
    LineItem { sku, name, quantity, unit_price_minor: unit }
}

/// A canonical order of `cart` whose lines, discount, shipping and tax are `breakdown` fitted to
/// `total_minor`; the caller adds the customer, the click and the subscription.
pub fn new_order(
    cart: &'static str,
    order_id: OrderId,
    occurred_at: OffsetDateTime,
    currency: Currency,
    total_minor: i64,
    breakdown: Breakdown,
) -> CanonicalOrder {
    let mut breakdown = breakdown;
    for item in &mut breakdown.items {
        item.sku = clean_text(&item.sku, 128);
        item.name = clean_text(&item.name, 512);
    }
    let Breakdown { items, discount_minor, shipping_minor, tax_minor } = breakdown.fit(total_minor);
    CanonicalOrder {
        order_id,
        occurred_at,
        currency,
        items,
        total_minor,
        discount_minor,
        shipping_minor,
        tax_minor,
        customer: Customer::default(),
        attribution: Attribution::default(),
        source: cart.into(),
        renewal: false,
        subscription_id: None,
    }
}

/// True for an event name about money going back or at risk (refunds, disputes, chargebacks,
/// failed or reversed payments): such an event is never quietly acknowledged.
pub fn concerns_money(event: &str) -> bool {
    let e = event.to_ascii_lowercase();
    ["refund", "dispute", "chargeback", "reversal", "reversed", "payment_failed", "payment.failed", "rebill_failed", "uncollectible"]
        .iter()
        .any(|w| e.contains(w))
}

/// The notice for a money event the connector does not know how to apply.
pub fn unhandled_money_event(key: impl Into<String>, cart_title: &str, event: &str, occurred_at: OffsetDateTime) -> Intake {
    Intake::notice(CartNotice::new(
        key,
        "unhandled_money_event",
        format!("{cart_title} sent {event:?}, which concerns money but is not one the connector applies: check it in {cart_title}"),
        occurred_at,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(quantity: i64, unit: i64) -> LineItem {
        LineItem { sku: "sku".into(), name: String::new(), quantity, unit_price_minor: unit }
    }

    #[test]
    fn the_click_is_read_from_a_landing_url() {
        let click = click_in_url("/offer?utm=x&rt_click=AAAAAAAAAAAAAAAAAAAAAA#top").unwrap();
        assert_eq!(click.as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(click_in_url("/offer?rt_click=bad").is_none());
        assert!(click_in_url("/offer").is_none());
    }

    #[test]
    fn a_time_at_the_end_of_year_9999_in_a_western_offset_is_refused_not_a_panic() {
        // In UTC it is in the year 10000, which `to_offset` cannot hold (it panicked).
        assert!(from_rfc3339("9999-12-31T23:59:59-01:00").is_err());
        assert_eq!(from_rfc3339("9999-12-31T23:59:59+01:00").unwrap().year(), 9999);
        assert_eq!(from_rfc3339("0000-01-01T00:30:00+01:00").unwrap().year(), -1, "representable, refused later by validate");
    }

    #[test]
    fn a_product_name_with_a_line_break_or_too_long_is_cleaned_and_the_order_kept() {
        let long = "é".repeat(400);
        let b = Breakdown { items: vec![line("sku\t1".into(), format!("The\nCourse\u{0}{long}"), 1, 100)], ..Breakdown::default() };
        let order = new_order(
            "shopify",
            order_id("shopify", "1").unwrap(),
            from_unix(1_800_000_000).unwrap(),
            Currency::parse("USD").unwrap(),
            100,
            b,
        );
        order.validate().unwrap();
        assert_eq!(order.items[0].sku, "sku 1");
        assert!(order.items[0].name.starts_with("The Course") && order.items[0].name.len() <= 512);
        let notice = CartNotice::new("k", "dispute_opened", format!("reason:\n{}", "x".repeat(2000)), from_unix(0).unwrap());
        notice.to_notice("stripe", None).validate().unwrap();
    }

    #[test]
    fn a_payment_id_that_is_not_one_is_a_precise_refusal_not_a_stored_row() {
        let at = from_unix(1_800_000_000).unwrap();
        let refund = |r: &str| Intake::refund(CartRefund::single(refund_id("stripe", "re_1").unwrap(), OrderRef::CartRef(r.into()), 5, at));
        refund("stripe:pi_1").validate("stripe").unwrap();
        for bad in ["stripe:pi 1", "stripe:pi\u{0}", &format!("stripe:{}", "p".repeat(300))] {
            assert!(refund(bad).validate("stripe").is_err(), "{bad:?}");
        }
        let mut order = Intake::order(
            new_order("stripe", order_id("stripe", "cs_1").unwrap(), at, Currency::parse("USD").unwrap(), 5, Breakdown::default()),
            vec!["stripe:pi\n".into()],
        );
        assert!(order.validate("stripe").is_err());
        order.cart_refs = vec!["stripe:pi_1".into()];
        order.validate("stripe").unwrap();
    }

    #[test]
    fn order_ids_are_prefixed_by_their_cart() {
        assert_eq!(order_id("shopify", "820982911946154508").unwrap().as_str(), "shopify:820982911946154508");
    }

    #[test]
    fn every_cart_has_a_distinct_route_name_and_secret_variable() {
        let mut names: Vec<_> = CARTS.iter().map(|c| c.name()).collect();
        let mut envs: Vec<_> = CARTS.iter().map(|c| c.secret_env()).collect();
        names.sort_unstable();
        names.dedup();
        envs.sort_unstable();
        envs.dedup();
        assert_eq!((names.len(), envs.len()), (CARTS.len(), CARTS.len()));
        for cart in CARTS {
            assert_eq!(cart.secret_env(), format!("{}_WEBHOOK_SECRET", cart.name().to_ascii_uppercase()));
            assert!(find(cart.name()).is_some());
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn lines_that_add_up_are_kept_with_discount_shipping_and_tax() {
        let b = Breakdown { items: vec![item(2, 1000), item(1, 500)], discount_minor: 300, shipping_minor: 400, tax_minor: 120 };
        assert_eq!(b.clone().fit(2500 - 300 + 400 + 120), b);
    }

    #[test]
    fn lines_that_do_not_add_up_are_dropped_and_nothing_is_invented() {
        let b = Breakdown { items: vec![item(3, 333)], discount_minor: 0, shipping_minor: 0, tax_minor: 0 };
        assert_eq!(b.fit(1000), Breakdown::default());
        let with_extras = Breakdown { items: vec![item(1, 100)], discount_minor: 50, shipping_minor: 300, tax_minor: 80 };
        let fitted = with_extras.fit(2000);
        assert_eq!((fitted.items.len(), fitted.discount_minor, fitted.shipping_minor, fitted.tax_minor), (0, 0, 300, 80));
        // Amounts that overflow or are negative never reach the order.
        let huge = Breakdown { items: vec![item(1_000_000, i64::MAX / 2)], ..Breakdown::default() };
        assert!(huge.fit(5).items.is_empty());
        let negative = Breakdown { items: vec![item(1, -5)], ..Breakdown::default() };
        assert!(negative.fit(-5).items.is_empty());
    }

    #[test]
    fn a_line_total_the_quantity_does_not_divide_stays_one_line_of_one() {
        assert_eq!(line("s".into(), "n".into(), 3, 3000).unit_price_minor, 1000);
        let odd = line("s".into(), "n".into(), 3, 1000);
        assert_eq!((odd.quantity, odd.unit_price_minor), (1, 1000));
    }

    #[test]
    fn a_refund_of_an_unseen_payment_becomes_a_notice_only_once_it_is_old() {
        let at = from_unix(1_800_000_000).unwrap();
        let refund = CartRefund::single(refund_id("stripe", "re_1").unwrap(), OrderRef::CartRef("stripe:pi_1".into()), 500, at);
        let mut intake = Intake::refund(refund);
        assert!(!intake.unmatched_refund_as_notice("stripe:re_1", at + time::Duration::hours(1)));
        assert_eq!(intake.refunds.len(), 1);
        assert!(intake.unmatched_refund_as_notice("stripe:re_1", at + time::Duration::hours(25)));
        assert!(intake.refunds.is_empty());
        assert_eq!(intake.notices[0].kind, "refund_unmatched");
        assert_eq!(intake.notices[0].to_notice("stripe", None).notice_id, "stripe:re_1:unmatched");
    }

    #[test]
    fn money_events_are_recognised_by_name() {
        for e in ["charge.dispute.funds_withdrawn", "subscription_payment_refunded", "order.rebill_failed", "invoice.payment_failed"] {
            assert!(concerns_money(e), "{e}");
        }
        for e in ["customer.created", "subscription_updated", "license_key_created"] {
            assert!(!concerns_money(e), "{e}");
        }
    }
}
