//! The connector's settings: flags win over environment variables, which win over defaults.
//! Secrets are never printed (`hide_env_values`, and a redacting `Debug`).

use clap::Args;
use std::fmt;
use std::net::SocketAddr;

/// Where the outbox lives (shared by every subcommand).
#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    /// The outbox file (SQLite).
    #[arg(long = "outbox", env = "REFTRACK_OUTBOX", default_value = "connector-outbox.db", global = true)]
    pub outbox: String,
}

/// How to reach and sign for the server.
#[derive(Clone, Args)]
pub struct BackendArgs {
    /// The reftrack server's URL.
    #[arg(long, env = "REFTRACK_BACKEND_URL", default_value = "http://127.0.0.1:8080")]
    pub backend_url: String,
    /// The whsec_… secret the connector signs with (the server lists it in REFTRACK_SIGNING_SECRETS).
    #[arg(long, env = "REFTRACK_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: String,
    /// Deliveries in flight at once.
    #[arg(long, env = "REFTRACK_CONNECTOR_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// First retry delay ceiling, in milliseconds.
    #[arg(long, env = "REFTRACK_RETRY_MIN_MS", default_value_t = 1_000)]
    pub retry_min_ms: u64,
    /// Largest retry delay, in milliseconds.
    #[arg(long, env = "REFTRACK_RETRY_MAX_MS", default_value_t = 3_600_000)]
    pub retry_max_ms: u64,
}

impl fmt::Debug for BackendArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendArgs")
            .field("backend_url", &self.backend_url)
            .field("signing_secret", &"redacted")
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// The webhook server's settings.
#[derive(Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REFTRACK_CONNECTOR_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_secret: Option<String>,
    #[arg(long, env = "SHOPIFY_WEBHOOK_SECRET", hide_env_values = true)]
    pub shopify_secret: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_WEBHOOK_SECRET", hide_env_values = true)]
    pub woocommerce_secret: Option<String>,
    #[arg(long, env = "PADDLE_WEBHOOK_SECRET", hide_env_values = true)]
    pub paddle_secret: Option<String>,
    #[arg(long, env = "GENERIC_WEBHOOK_SECRET", hide_env_values = true)]
    pub generic_secret: Option<String>,
    /// Stripe's timestamp tolerance in seconds (Stripe's libraries use 300).
    #[arg(long, env = "STRIPE_TOLERANCE_SECS", default_value_t = 300)]
    pub stripe_tolerance_secs: i64,
    /// Paddle's timestamp tolerance in seconds (Paddle's SDK uses only 5; clocks drift).
    #[arg(long, env = "PADDLE_TOLERANCE_SECS", default_value_t = 300)]
    pub paddle_tolerance_secs: i64,
    /// Webinar, form and scheduling tools.
    #[command(flatten)]
    pub tools: crate::tools::ToolArgs,
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let configured = |s: &Option<String>| s.as_ref().map(|_| "set").unwrap_or("not set");
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("backend", &self.backend)
            .field("stripe", &configured(&self.stripe_secret))
            .field("shopify", &configured(&self.shopify_secret))
            .field("woocommerce", &configured(&self.woocommerce_secret))
            .field("paddle", &configured(&self.paddle_secret))
            .field("generic", &configured(&self.generic_secret))
            .field("tools", &self.tools)
            .finish()
    }
}

/// Loads the configuration file, if one is named by `--config FILE` or `REFTRACK_CONNECTOR_CONFIG`: `KEY=VALUE`
/// lines with the same names as the environment variables. It never overrides a variable that is
/// already set, so a flag wins over the environment, and the environment over the file.
pub fn load_config_file(args: &[String]) -> anyhow::Result<()> {
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_owned).or_else(|| (a == "--config").then(|| args.get(i + 1).cloned()).flatten())
    });
    let Some(path) = from_args.or_else(|| std::env::var("REFTRACK_CONNECTOR_CONFIG").ok()).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    dotenvy::from_path(&path).map_err(|e| anyhow::anyhow!("reading the configuration file {path}: {e}"))
}
