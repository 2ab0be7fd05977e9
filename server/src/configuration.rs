//! Typed settings for `reftrack serve`: flags win over `REFTRACK_*` environment variables, which
//! win over defaults.

use crate::domain::attribution::Model;
use anyhow::{bail, Context};
use clap::Args;
use reftrack_protocol::signature::{Secret, Verifier};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

/// Where the database lives; shared by `serve` and the admin commands.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://FILE (created if missing).
    #[arg(long = "database", env = "REFTRACK_DATABASE_URL", default_value = "sqlite://reftrack.db", global = true)]
    pub database_url: String,
}

/// Flags and environment of the server.
#[derive(Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REFTRACK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The tracking domain's own URL (https://track.example.com); defaults to http://LISTEN.
    #[arg(long, env = "REFTRACK_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// Domain attribute of the click cookie, e.g. example.com to cover www. and track.
    #[arg(long, env = "REFTRACK_COOKIE_DOMAIN")]
    pub cookie_domain: Option<String>,
    /// Origins allowed to call lookup and touch with credentials (comma-separated).
    #[arg(long, env = "REFTRACK_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// whsec_… secrets accepted on signed endpoints (comma-separated, for rotation).
    #[arg(long, env = "REFTRACK_SIGNING_SECRETS", value_delimiter = ',', hide_env_values = true)]
    pub signing_secrets: Vec<String>,
    /// Admin API key (Authorization: Bearer …).
    #[arg(long, env = "REFTRACK_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Serve everything under this path prefix (e.g. /_rt) for a reverse proxy on the main domain.
    #[arg(long, env = "REFTRACK_BASE_PATH", default_value = "")]
    pub base_path: String,
    /// Folder holding dist/ (the built snippet) and the demo pages.
    #[arg(long, env = "REFTRACK_WWW_DIR")]
    pub www_dir: Option<PathBuf>,
    /// Which click wins when several are valid: last or first.
    #[arg(long, env = "REFTRACK_ATTRIBUTION", default_value = "last")]
    pub attribution: Model,
    /// Clicks one IP may make on one link per hour before further clicks are refused as a
    /// flood (redirected, not counted). 0 turns the check off.
    #[arg(long, env = "REFTRACK_CLICK_FLOOD_LIMIT", default_value_t = 20)]
    pub click_flood_limit: u32,
    /// Behind a reverse proxy or CDN: the header carrying the visitor's IP (`x-forwarded-for`,
    /// `x-real-ip`, `cf-connecting-ip`); its last value is used. Unset: the connection's address.
    #[arg(long, env = "REFTRACK_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Most connections served at once; more wait in the kernel's queue. Default: the process's
    /// open-file limit (`ulimit -n`) less 256 kept for the database and logs.
    #[arg(long, env = "REFTRACK_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most connections one address may hold at once (slow clients holding connections open are
    /// cut off here, not by running out of file descriptors). 0: no limit. Not applied behind a
    /// proxy (`--client-ip-header`), where every connection comes from the proxy.
    #[arg(long, env = "REFTRACK_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// The bearer token `/metrics` asks for. Without one, `/metrics` is off: the tracking domain
    /// is public, and its counters are the merchant's business.
    #[arg(long, env = "REFTRACK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// The largest conversion, in minor units, that a program paying on the pixel alone
    /// (`pixel_commission`) pays on without a signed order. Anyone can fire a pixel: this caps what
    /// a forged one can earn (and it earns only for a live click, once per order id).
    #[arg(long, env = "REFTRACK_PIXEL_COMMISSION_MAX_MINOR", default_value_t = 50_000)]
    pub pixel_commission_max_minor: i64,
    /// Click cookies: `on`; `consent` (tracking links set none, the snippet asks for it through
    /// `/v1/touch` once the visitor consents); `off` for merchants who run cookieless (the click
    /// then travels only in the URL and what the snippet keeps).
    #[arg(long, env = "REFTRACK_COOKIES", default_value = "on", value_parser = ["on", "consent", "off"])]
    pub cookies: String,
    /// Let webhooks and postbacks reach loopback, private, link-local and cloud-metadata
    /// addresses. Off: such targets are refused (the tracking server's own network is not a
    /// merchant's or a partner's). For development only.
    #[arg(long, env = "REFTRACK_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Accept http:// webhook and postback targets (off: https only). For development only.
    #[arg(long, env = "REFTRACK_WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_http: bool,
    /// Seconds each webhook or postback request may take, connection included.
    #[arg(long, env = "REFTRACK_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout_secs: u64,
    /// Whether this server sends webhooks and postbacks (`off`: it records them for the others).
    #[arg(long, env = "REFTRACK_WEBHOOK_DELIVERY", default_value = "on", value_parser = ["on", "off"])]
    pub webhook_delivery: String,
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("cookie_domain", &self.cookie_domain)
            .field("allowed_origins", &self.allowed_origins)
            .field("signing_secrets", &format_args!("[{} redacted]", self.signing_secrets.len()))
            .field("admin_key", &self.admin_key.as_ref().map(|_| "redacted"))
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Whether loopback, private, link-local and metadata addresses may be reached (development).
    pub allow_private: bool,
    /// Whether http:// targets are accepted (development).
    pub allow_http: bool,
    /// Each request's timeout, connection included.
    pub timeout: std::time::Duration,
    /// Whether this server sends deliveries (off: it only writes them, others send).
    pub enabled: bool,
}

/// When the server sets the click cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookies {
    /// On the tracking link and on `/v1/touch`.
    On,
    /// Only on `/v1/touch`, which the snippet calls once the visitor has consented.
    AfterConsent,
    /// Never.
    Off,
}

/// Validated settings the application is built from.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub public_url: Url,
    pub cookie_domain: Option<String>,
    pub allowed_origins: Vec<String>,
    pub verifier: Verifier,
    pub admin_key: Option<String>,
    pub base_path: String,
    pub www_dir: PathBuf,
    pub attribution: Model,
    /// Clicks per IP per link per hour before the rest count as a flood (0: no limit).
    pub click_flood_limit: u32,
    /// The header with the visitor's IP behind a proxy, lower-cased; `None`: the peer address.
    pub client_ip_header: Option<String>,
    /// When the server sets click cookies.
    pub cookies: Cookies,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections one peer address may hold (0: no limit).
    pub max_connections_per_ip: usize,
    /// The bearer token of `/metrics` (`None`: `/metrics` is off).
    pub metrics_token: Option<String>,
    /// The largest conversion a pixel-paying program pays on without a signed order.
    pub pixel_commission_max_minor: i64,
    /// Set only by `reftrack demo`: enables the demo checkout that stands in for a cart.
    pub demo: bool,
    /// How webhooks and postbacks are delivered.
    pub delivery: DeliverySettings,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &redact(&self.database_url))
            .field("public_url", &self.public_url.as_str())
            .field("cookie_domain", &self.cookie_domain)
            .field("allowed_origins", &self.allowed_origins)
            .field("base_path", &self.base_path)
            .field("www_dir", &self.www_dir)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Checks and completes the raw flags.
    pub fn from_args(serve: &ServeArgs, db: &DatabaseArgs) -> anyhow::Result<Self> {
        let secrets = serve
            .signing_secrets
            .iter()
            .filter(|s| !s.trim().is_empty())
            .enumerate()
            .map(|(i, s)| Secret::parse(s).with_context(|| format!("REFTRACK_SIGNING_SECRETS entry {}", i + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let public_url = match &serve.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{}", serve.listen))?,
        };
        let base_path = serve.base_path.trim_end_matches('/').to_owned();
        if !base_path.is_empty() && (!base_path.starts_with('/') || base_path.contains(['?', '#', ' '])) {
            bail!("REFTRACK_BASE_PATH must look like /_rt, not {:?}", serve.base_path);
        }
        let allowed_origins =
            serve.allowed_origins.iter().map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
        Ok(Self {
            listen: serve.listen,
            database_url: db.database_url.clone(),
            public_url,
            cookie_domain: serve.cookie_domain.clone().filter(|d| !d.is_empty()),
            allowed_origins,
            verifier: Verifier::new(secrets),
            admin_key: serve.admin_key.clone().filter(|k| !k.is_empty()),
            base_path,
            www_dir: serve.www_dir.clone().unwrap_or_else(default_www_dir),
            attribution: serve.attribution,
            click_flood_limit: serve.click_flood_limit,
            client_ip_header: serve.client_ip_header.as_deref().map(str::trim).filter(|h| !h.is_empty()).map(str::to_ascii_lowercase),
            max_connections: serve.max_connections.unwrap_or_else(open_file_limit).max(16),
            max_connections_per_ip: if serve.client_ip_header.as_deref().is_some_and(|h| !h.trim().is_empty()) {
                0
            } else {
                serve.max_connections_per_ip
            },
            metrics_token: serve.metrics_token.clone().filter(|t| !t.trim().is_empty()),
            pixel_commission_max_minor: serve.pixel_commission_max_minor.clamp(0, reftrack_protocol::MAX_AMOUNT_MINOR),
            cookies: match serve.cookies.as_str() {
                "off" => Cookies::Off,
                "consent" => Cookies::AfterConsent,
                _ => Cookies::On,
            },
            demo: false,
            delivery: DeliverySettings {
                allow_private: serve.webhook_allow_private,
                allow_http: serve.webhook_allow_http,
                timeout: std::time::Duration::from_secs(serve.webhook_timeout_secs),
                enabled: serve.webhook_delivery == "on",
            },
        })
    }

    /// Whether cookies get the Secure attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.into()
        }
        _ => url.to_owned(),
    }
}

/// The soft open-file limit less what the database, logs and outgoing connections need (read
/// from `/proc`, so no `unsafe`); 1,024 less that where it cannot be read.
fn open_file_limit() -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse::<usize>().ok()
    });
    limit.unwrap_or(1024).saturating_sub(256)
}

/// `./www` when run from the repository, else the www/ next to this crate's sources.
fn default_www_dir() -> PathBuf {
    let here = PathBuf::from("www");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../www"))
}

/// Loads the configuration file, if one is named by `--config FILE` or `REFTRACK_CONFIG`: `KEY=VALUE`
/// lines with the same names as the environment variables. It never overrides a variable that is
/// already set, so a flag wins over the environment, and the environment over the file.
pub fn load_config_file(args: &[String]) -> anyhow::Result<()> {
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_owned).or_else(|| (a == "--config").then(|| args.get(i + 1).cloned()).flatten())
    });
    let Some(path) = from_args.or_else(|| std::env::var("REFTRACK_CONFIG").ok()).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    dotenvy::from_path(&path).map_err(|e| anyhow::anyhow!("reading the configuration file {path}: {e}"))
}
