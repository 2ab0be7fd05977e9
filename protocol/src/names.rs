//! Parameter, cookie and header names: one place, so the snippet, server and connector agree.

/// URL parameter and cookie that carry the click ID.
pub const CLICK_PARAM: &str = "rt_click";
/// The first-party cookie holding the click ID.
pub const CLICK_COOKIE: &str = "rt_click";
/// The same click in a `SameSite=None; Secure` cookie (set only under https): read only by the
/// credentialed lookup, so a browser that keeps third-party cookies still knows the visitor on a
/// third-party checkout or tool page that runs the snippet.
pub const CROSS_SITE_CLICK_COOKIE: &str = "rt_click_x";
/// URL parameter naming the partner on a tracking link.
pub const PARTNER_PARAM: &str = "aff";
/// URL parameter carrying the partner's SubID.
pub const SUB_ID_PARAM: &str = "sid";
/// Stripe Payment Links' parameter that ends up as `client_reference_id` on the session.
pub const STRIPE_REFERENCE_PARAM: &str = "client_reference_id";
/// Default tracking window when no program says otherwise.
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
/// Browsers cap any cookie at 400 days, so longer windows cannot be honoured client-side.
pub const MAX_WINDOW_DAYS: u32 = 400;
/// The snippet's own first-party record (cookie and localStorage) on the merchant's and tools'
/// sites. Distinct from `rt_click`, which the server sets HttpOnly and scripts cannot overwrite.
pub const SNIPPET_RECORD: &str = "rt_ref";
/// localStorage key of order ids whose conversion this browser already sent.
pub const SNIPPET_CONVERSIONS: &str = "rt_conv";
/// Where the snippet puts the click on a Lemon Squeezy checkout link; it comes back in the
/// webhook's `meta.custom_data` under [`CLICK_PARAM`].
pub const LEMON_SQUEEZY_CUSTOM_PARAM: &str = "checkout[custom][rt_click]";
/// Where the snippet puts the click on a Polar checkout link; Polar stores it in the checkout's
/// (and the order's) `metadata.reference_id`.
pub const POLAR_REFERENCE_PARAM: &str = "reference_id";
/// Where the snippet puts the click on a ThriveCart cart URL: a pass-through variable named
/// [`CLICK_PARAM`] that comes back with the order.
pub const THRIVECART_PASSTHROUGH_PARAM: &str = "passthrough[rt_click]";
/// Where the snippet puts the click on a Calendly booking link; it comes back in the invitee's
/// `tracking.utm_content`.
pub const CALENDLY_CLICK_PARAM: &str = "utm_content";
