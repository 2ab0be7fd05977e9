//! The connector's settings: flags win over environment variables, which win over defaults.
//! Secrets are never printed (`hide_env_values`, and a redacting `Debug`).

use crate::carts::{CartConfig, CARTS};
use clap::Args;
use std::collections::BTreeMap;
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

/// The webhook server's settings. Each cart's secret and settings come from the environment (or
/// the configuration file), by the names its module declares: see [`CartSecrets`].
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REFTRACK_CONNECTOR_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Free space the outbox's filesystem must have for `/healthz` to answer 200, in bytes.
    #[arg(long, env = "REFTRACK_OUTBOX_MIN_FREE_BYTES", default_value_t = crate::outbox::DEFAULT_MIN_FREE_BYTES)]
    pub outbox_min_free_bytes: u64,
    /// Webinar, form and scheduling tools.
    #[command(flatten)]
    pub tools: crate::tools::ToolArgs,
}

/// The secret and settings of every configured cart, read by the names in [`CARTS`]. A cart whose
/// secret is unset (or empty) is not configured, and its webhooks are refused.
#[derive(Clone, Default)]
pub struct CartSecrets {
    configs: BTreeMap<&'static str, CartConfig>,
}

impl fmt::Debug for CartSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.configs.keys()).finish()
    }
}

impl CartSecrets {
    /// Reads every cart's secret and settings with `lookup` (the process environment, or a map in
    /// tests), checking each configured cart's once.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut configs = BTreeMap::new();
        for cart in CARTS {
            let Some(secret) = lookup(cart.secret_env()).filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            let settings = cart.settings().iter().filter_map(|s| lookup(s.env).map(|v| (s.env, v)));
            let config = CartConfig::new(secret.trim(), settings);
            cart.check(&config).map_err(|why| anyhow::anyhow!("{}: {why}", cart.name()))?;
            configs.insert(cart.name(), config);
        }
        Ok(Self { configs })
    }

    /// The configuration of the cart named `name`, if it has a secret.
    pub fn get(&self, name: &str) -> Option<&CartConfig> {
        self.configs.get(name)
    }

    /// Every cart of [`CARTS`] with whether it is configured.
    pub fn status(&self) -> Vec<(&'static str, bool)> {
        CARTS.iter().map(|c| (c.name(), self.configs.contains_key(c.name()))).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn each_cart_is_configured_by_its_own_secret_variable_and_empty_means_unset() {
        let secrets = CartSecrets::from_env(env(&[
            ("LEMONSQUEEZY_WEBHOOK_SECRET", "ls"),
            ("GUMROAD_WEBHOOK_SECRET", "tok"),
            ("GUMROAD_SELLER_ID", "seller=="),
            ("PADDLE_WEBHOOK_SECRET", ""),
        ]))
        .unwrap();
        assert_eq!(secrets.get("lemonsqueezy").unwrap().secret(), "ls");
        assert_eq!(secrets.get("gumroad").unwrap().setting("GUMROAD_SELLER_ID"), Some("seller=="));
        assert!(secrets.get("paddle").is_none() && secrets.get("stripe").is_none());
        let status = secrets.status();
        assert_eq!(status.len(), CARTS.len());
        assert!(status.contains(&("lemonsqueezy", true)) && status.contains(&("stripe", false)));
        assert_eq!(format!("{secrets:?}"), r#"{"gumroad", "lemonsqueezy"}"#, "names only, never a secret");
    }

    #[test]
    fn a_configured_cart_with_a_bad_setting_stops_the_start_naming_the_variable_not_the_secret() {
        let err = CartSecrets::from_env(env(&[("STRIPE_WEBHOOK_SECRET", "whsec_x"), ("STRIPE_TOLERANCE_SECS", "soon")])).unwrap_err();
        assert!(err.to_string().contains("STRIPE_TOLERANCE_SECS") && !err.to_string().contains("whsec_x"), "{err}");
        let err = CartSecrets::from_env(env(&[("CHARGEBEE_WEBHOOK_SECRET", "just-a-password")])).unwrap_err();
        assert!(err.to_string().contains("user:password") && !err.to_string().contains("just-a-password"), "{err}");
    }
}
