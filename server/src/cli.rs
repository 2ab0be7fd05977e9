//! The `reftrack` command: `serve`, `demo`, and the admin commands on the same database.

use crate::backoffice::admin::{self, LinkInput, PartnerInput, ProgramInput};
use crate::backoffice::payouts;
use crate::clock::Clock;
use crate::configuration::{DatabaseArgs, ServeArgs, Settings};
use crate::startup::{shutdown_signal, Application};
use crate::store::{KeyGrant, ProductOverride, Store};
use clap::{Parser, Subcommand};
use reftrack_protocol::PartnerCode;

/// reftrack: affiliate and referral-partner tracking on your own tracking domain.
#[derive(Debug, Parser)]
#[command(name = "reftrack", version)]
pub struct Cli {
    /// A configuration file of KEY=VALUE lines (the environment variables' names); also REFTRACK_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Seed a demo program, partners and links, then run the server and print URLs to try.
    Demo(ServeArgs),
    /// Commission programs.
    #[command(subcommand)]
    Program(ProgramCommand),
    /// Partners.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Tracking links.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Admin keys and partner tokens (stored hashed; shown once).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Pay partners their approved commissions.
    #[command(subcommand)]
    Payouts(PayoutsCommand),
    /// The report rollups (figures per partner and day).
    #[command(subcommand)]
    Rollups(RollupsCommand),
}

#[derive(Debug, Subcommand)]
enum RollupsCommand {
    /// Recompute every rollup from the raw clicks, leads, orders and ledger (after loading data
    /// into the database by hand, or to check them).
    Rebuild,
}

#[derive(Debug, Subcommand)]
enum PayoutsCommand {
    /// Show what a payout run would pay now; nothing is marked.
    Preview(PayoutArgs),
    /// Book the payouts, mark their ledger entries paid and write the CSV for the payout provider.
    Create(PayoutArgs),
}

#[derive(Debug, clap::Args)]
struct PayoutArgs {
    /// Pay only partners whose approved balance is at least this much, in minor units (5000 = $50.00).
    #[arg(long, default_value_t = 0)]
    min_balance: i64,
    /// Write the CSV (partner, name, email, amount, currency, payout_id) here; `-` for stdout.
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ProgramCommand {
    /// Add a program.
    Add(ProgramArgs),
    /// Set a product's own rate or flat amount (per unit) within a program.
    Product {
        #[arg(long)]
        program: String,
        #[arg(long)]
        sku: String,
        #[arg(long, conflicts_with = "flat_minor")]
        rate_bps: Option<i64>,
        #[arg(long)]
        flat_minor: Option<i64>,
    },
    /// List programs.
    List,
}

/// A program's terms, as flags.
#[derive(Debug, clap::Args)]
struct ProgramArgs {
    #[arg(long)]
    code: String,
    #[arg(long, default_value = "")]
    name: String,
    /// Commission in basis points (30 % = 3000).
    #[arg(long, default_value_t = 0)]
    rate_bps: i64,
    /// A flat commission per order instead of a rate, in minor units.
    #[arg(long)]
    flat_minor: Option<i64>,
    /// Tracking window in days.
    #[arg(long, default_value_t = 30)]
    window_days: i64,
    /// Pay commission on pixel conversions without a signed order.
    #[arg(long)]
    pixel_commission: bool,
    /// What a lead partner earns when another partner makes the sale, in basis points of the total.
    #[arg(long, conflicts_with = "lead_flat_minor")]
    lead_rate_bps: Option<i64>,
    /// …or as a flat amount per order, in minor units.
    #[arg(long)]
    lead_flat_minor: Option<i64>,
    /// The parent's share of the order total (tier 2), in basis points.
    #[arg(long, default_value_t = 0)]
    tier2_bps: i64,
    /// The grandparent's share (tier 3), in basis points.
    #[arg(long, default_value_t = 0)]
    tier3_bps: i64,
    /// Which renewals earn: every, none or first:N.
    #[arg(long, default_value = "every")]
    recurring: String,
    /// Refund window: commissions stay pending this many days after the order.
    #[arg(long, default_value_t = 30)]
    hold_days: i64,
}

impl From<ProgramArgs> for ProgramInput {
    fn from(a: ProgramArgs) -> Self {
        ProgramInput {
            code: a.code,
            name: a.name,
            rate_bps: a.rate_bps,
            flat_minor: a.flat_minor,
            window_days: a.window_days,
            pixel_commission: a.pixel_commission,
            lead_rate_bps: a.lead_rate_bps,
            lead_flat_minor: a.lead_flat_minor,
            tier2_bps: a.tier2_bps,
            tier3_bps: a.tier3_bps,
            recurring: a.recurring,
            hold_days: a.hold_days,
        }
    }
}

#[derive(Debug, Subcommand)]
enum PartnerCommand {
    /// Add a partner.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        parent: Option<String>,
        /// Programs the partner belongs to (repeatable).
        #[arg(long = "program")]
        programs: Vec<String>,
    },
    /// List partners.
    List,
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Add a tracking link.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        destination: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Limit the link to one partner.
        #[arg(long)]
        partner: Option<String>,
        /// Limit the link to partners of these programs (repeatable).
        #[arg(long = "program")]
        programs: Vec<String>,
    },
    /// List links.
    List,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an admin API key.
    Admin,
    /// Create a personal token for a partner (their stats and partner center).
    Partner {
        #[arg(long)]
        partner: String,
    },
    /// Revoke a key or token by its id.
    Revoke { id: i64 },
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        let url = self.db.database_url.clone();
        let now = || Clock::system().now_ms();
        match self.command {
            Command::Serve(args) => {
                let settings = Settings::from_args(&args, &self.db)?;
                let app = Application::build(settings.clone()).await?;
                tracing::info!(settings = ?settings, "starting");
                // Tests and scripts read this line to learn the port when listening on :0.
                println!("reftrack listening on http://{}", app.local_addr());
                app.run_until(shutdown_signal()).await
            }
            Command::Demo(args) => crate::demo::run(&args, &self.db).await,
            Command::Program(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    ProgramCommand::Add(args) => print_json(&admin::add_program(&store, args.into(), now()).await?),
                    ProgramCommand::Product { program, sku, rate_bps, flat_minor } => {
                        print_json(&admin::set_product(&store, &program, ProductOverride { sku, rate_bps, flat_minor }).await?)
                    }
                    ProgramCommand::List => print_json(&store.programs().await?),
                }
            }
            Command::Partner(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    PartnerCommand::Add { code, name, email, parent, programs } => {
                        print_json(&admin::add_partner(&store, PartnerInput { code, name, email, parent, programs }, now()).await?)
                    }
                    PartnerCommand::List => print_json(&store.partners().await?),
                }
            }
            Command::Link(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    LinkCommand::Add { code, destination, name, partner, programs } => {
                        print_json(&admin::add_link(&store, LinkInput { code, name, destination, partner, programs }, now()).await?)
                    }
                    LinkCommand::List => print_json(&store.links().await?),
                }
            }
            Command::Payouts(cmd) => {
                let store = Store::connect(&url).await?;
                let (create, args) = match cmd {
                    PayoutsCommand::Preview(args) => (false, args),
                    PayoutsCommand::Create(args) => (true, args),
                };
                anyhow::ensure!(args.min_balance >= 0, "--min-balance must not be negative");
                let lines = if create {
                    payouts::create(&store, args.min_balance, now()).await?
                } else {
                    payouts::preview(&store, args.min_balance, now()).await?
                };
                match &args.csv {
                    Some(path) if path.as_os_str() == "-" => print!("{}", payouts::to_csv(&lines)?),
                    Some(path) => {
                        std::fs::write(path, payouts::to_csv(&lines)?)?;
                        eprintln!("wrote {} payout line(s) to {}", lines.len(), path.display());
                    }
                    None => print_json(&lines)?,
                }
                Ok(())
            }
            Command::Rollups(RollupsCommand::Rebuild) => {
                let store = Store::connect(&url).await?;
                store.rebuild_rollups().await?;
                print_json(&serde_json::json!({ "rebuilt": true }))
            }
            Command::Keys(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    KeysCommand::Admin => {
                        let (id, key) = admin::issue_key(&store, KeyGrant::Admin, now()).await?;
                        print_json(&serde_json::json!({ "id": id, "key": key }))
                    }
                    KeysCommand::Partner { partner } => {
                        let code = PartnerCode::parse(&partner).map_err(|e| anyhow::anyhow!("--partner: {e}"))?;
                        let (id, key) = admin::issue_key(&store, KeyGrant::Partner(code), now()).await?;
                        print_json(&serde_json::json!({ "id": id, "partner": partner, "token": key }))
                    }
                    KeysCommand::Revoke { id } => {
                        store.revoke_key(id, now()).await?;
                        print_json(&serde_json::json!({ "revoked": id }))
                    }
                }
            }
        }
    }
}
