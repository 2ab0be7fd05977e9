//! The `reftrack` command: `serve`, `demo`, and the admin commands on the same database.

use crate::backoffice::admin::{self, LinkInput, PartnerInput, ProductInput, ProgramInput};
use crate::backoffice::applications::{self, ApprovalInput, DeclineInput};
use crate::backoffice::corrections::{self, AdjustmentInput, CommissionQuery, ReasonInput};
use crate::backoffice::edits::{self, LinkChanges, PartnerChanges, ProgramChanges};
use crate::backoffice::orders::{self, CreditInput, OrderQuery};
use crate::backoffice::preview::{self, PreviewInput, Sample};
use crate::backoffice::resources::{self, ResourceInput};
use crate::backoffice::{payouts, report};
use crate::clock::Clock;
use crate::configuration::{DatabaseArgs, ServeArgs, Settings};
use crate::domain::period::parse_period;
use crate::startup::{shutdown_signal, Application};
use crate::store::{KeyGrant, Store};
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
    /// Orders: find them, see how each was credited, credit one by hand or move it.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Commissions: list them, void an unpaid one, approve a pending one early.
    #[command(subcommand)]
    Commissions(CommissionsCommand),
    /// Applications from the public sign-up page.
    #[command(subcommand)]
    Applications(ApplicationsCommand),
    /// Banners and copy partners paste with their own link inside.
    #[command(subcommand)]
    Resources(ResourcesCommand),
    /// Money events the connector could not apply (a dispute opened, a failed renewal…).
    Notices,
}

#[derive(Debug, Subcommand)]
enum RollupsCommand {
    /// Recompute every rollup from the raw clicks, leads, orders and ledger (after loading data
    /// into the database by hand, or to check them).
    Rebuild,
}

/// Where personal Partner Center links point.
#[derive(Debug, clap::Args)]
struct PublicUrl {
    /// The tracking domain partners reach (REFTRACK_PUBLIC_URL), with REFTRACK_BASE_PATH if any.
    #[arg(long, env = "REFTRACK_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,
    #[arg(long, env = "REFTRACK_BASE_PATH", default_value = "")]
    base_path: String,
}

impl PublicUrl {
    fn base(&self) -> String {
        format!("{}{}", self.public_url.trim_end_matches('/'), self.base_path)
    }
}

#[derive(Debug, Subcommand)]
enum OrdersCommand {
    /// List orders, newest first.
    List {
        /// attributed or unattributed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        partner: Option<String>,
        /// Part of the order id or the buyer's email.
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
    },
    /// One order: its credit (or why not), commissions, refunds and history.
    Show { order_id: String },
    /// Credit an unattributed order to a partner, or move a credited one (the partner sees the reason).
    Credit {
        order_id: String,
        #[arg(long)]
        partner: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum CommissionsCommand {
    /// List commissions, newest first.
    List {
        #[arg(long)]
        partner: Option<String>,
        /// pending, approved, paid, voided or closed.
        #[arg(long)]
        state: Option<String>,
    },
    /// Void what remains of an unpaid commission (by its earned entry's id).
    Void {
        entry_id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Approve a pending commission now.
    Approve {
        entry_id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum ApplicationsCommand {
    /// List applications (pending, approved, declined or all).
    List {
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Open the public sign-up page (/partner/apply/).
    Open,
    /// Close it.
    Close,
    /// Approve one: add the partner and print their personal link.
    Approve {
        id: i64,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "program")]
        programs: Vec<String>,
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        url: PublicUrl,
    },
    /// Decline one.
    Decline {
        id: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum ResourcesCommand {
    /// List resources.
    List,
    /// Add a banner (an image file or address) or a text (`{link}` marks the partner's link).
    Add {
        #[arg(long)]
        program: String,
        /// banner or text.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        title: String,
        /// The link it points at (open to the program's partners).
        #[arg(long)]
        link: String,
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long, default_value = "")]
        alt: String,
        /// A PNG, JPEG, GIF or WebP file of at most 256 KiB.
        #[arg(long, conflicts_with = "image_url")]
        image: Option<std::path::PathBuf>,
        #[arg(long)]
        image_url: Option<String>,
    },
    /// Remove a resource.
    Delete { id: i64 },
}

#[derive(Debug, Subcommand)]
enum PayoutsCommand {
    /// Show what a payout run would pay now; nothing is marked.
    Preview(PayoutArgs),
    /// Book the payouts, mark their ledger entries paid and write the CSV for the payout provider.
    Create(PayoutArgs),
    /// Every payout run, newest first.
    History,
    /// Write one run's CSV again.
    Csv {
        /// The run's id (from `payouts history`).
        run_id: i64,
        /// Where to write it; `-` for stdout.
        #[arg(long, default_value = "-")]
        csv: std::path::PathBuf,
    },
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
    /// Change a program's terms (only the flags given).
    Edit(ProgramEditArgs),
    /// Set a product's own rate or flat amount (per unit) within a program, and its owner.
    Product {
        #[arg(long)]
        program: String,
        #[arg(long)]
        sku: String,
        #[arg(long, conflicts_with = "flat_minor")]
        rate_bps: Option<i64>,
        #[arg(long)]
        flat_minor: Option<i64>,
        /// The partner who owns the product: they earn --owner-bps of its lines on every sale.
        #[arg(long, requires = "owner_bps")]
        owner: Option<String>,
        #[arg(long, requires = "owner")]
        owner_bps: Option<i64>,
    },
    /// Remove a product's override from a program.
    Unproduct {
        #[arg(long)]
        program: String,
        #[arg(long)]
        sku: String,
    },
    /// What a partner in a saved program earns on a sample order.
    Preview {
        #[arg(long)]
        code: String,
        /// The sample's price, in minor units (9900 = $99.00).
        #[arg(long, default_value_t = 9900)]
        price_minor: i64,
        #[arg(long, default_value = "")]
        sku: String,
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// List programs with their product overrides.
    List,
}

/// A program's terms to change, as flags.
#[derive(Debug, clap::Args)]
struct ProgramEditArgs {
    #[arg(long)]
    code: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    rate_bps: Option<i64>,
    #[arg(long, conflicts_with = "no_flat")]
    flat_minor: Option<i64>,
    /// Pay the rate instead of a flat amount.
    #[arg(long)]
    no_flat: bool,
    #[arg(long)]
    window_days: Option<i64>,
    #[arg(long, conflicts_with_all = ["lead_flat_minor", "no_lead"])]
    lead_rate_bps: Option<i64>,
    #[arg(long, conflicts_with = "no_lead")]
    lead_flat_minor: Option<i64>,
    /// Pay lead partners nothing.
    #[arg(long)]
    no_lead: bool,
    #[arg(long)]
    tier2_bps: Option<i64>,
    #[arg(long)]
    tier3_bps: Option<i64>,
    #[arg(long)]
    recurring: Option<String>,
    #[arg(long)]
    hold_days: Option<i64>,
}

impl From<ProgramEditArgs> for ProgramChanges {
    fn from(a: ProgramEditArgs) -> Self {
        let lead_cleared = |v: Option<i64>| if a.no_lead { Some(None) } else { v.map(Some) };
        ProgramChanges {
            name: a.name,
            rate_bps: a.rate_bps,
            flat_minor: if a.no_flat { Some(None) } else { a.flat_minor.map(Some) },
            window_days: a.window_days,
            pixel_commission: None,
            lead_rate_bps: lead_cleared(a.lead_rate_bps).or(a.lead_flat_minor.map(|_| None)),
            lead_flat_minor: lead_cleared(a.lead_flat_minor).or(a.lead_rate_bps.map(|_| None)),
            tier2_bps: a.tier2_bps,
            tier3_bps: a.tier3_bps,
            recurring: a.recurring,
            hold_days: a.hold_days,
            code: None,
        }
    }
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
    /// Change a partner (only the flags given).
    Edit {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, conflicts_with = "no_parent")]
        parent: Option<String>,
        #[arg(long)]
        no_parent: bool,
        /// Replace the partner's programs (repeatable).
        #[arg(long = "program")]
        programs: Vec<String>,
    },
    /// Deactivate a partner: their links stop crediting; their history stays.
    Deactivate {
        #[arg(long)]
        code: String,
    },
    /// Activate a deactivated partner again.
    Activate {
        #[arg(long)]
        code: String,
    },
    /// Make a personal Partner Center link (revoke it with `keys revoke ID`).
    Link {
        #[arg(long)]
        code: String,
        #[command(flatten)]
        url: PublicUrl,
    },
    /// A partner's personal links that still work.
    Tokens {
        #[arg(long)]
        code: String,
    },
    /// Adjust a partner's balance: a bonus (positive) or correction (negative), payable at once.
    Adjust {
        #[arg(long)]
        code: String,
        /// Minor units: 5000 = $50.00; -1200 takes $12.00 back.
        #[arg(long, allow_hyphen_values = true)]
        amount_minor: i64,
        #[arg(long, default_value = "USD")]
        currency: String,
        #[arg(long)]
        reason: String,
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
    /// Change a link (its code stays, so shared URLs keep working).
    Edit {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        destination: Option<String>,
        #[arg(long, conflicts_with = "any_partner")]
        partner: Option<String>,
        /// Open the link to every partner.
        #[arg(long)]
        any_partner: bool,
        /// Limit the link to partners of these programs (repeatable; replaces the list).
        #[arg(long = "program")]
        programs: Vec<String>,
        /// Open the link to every program.
        #[arg(long, conflicts_with = "programs")]
        any_program: bool,
    },
    /// List links with their hits, opt-ins and orders (all time, or --from/--to).
    List {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
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
                    ProgramCommand::Edit(args) => {
                        let code = args.code.clone();
                        print_json(&edits::edit_program(&store, &code, args.into()).await?)
                    }
                    ProgramCommand::Product { program, sku, rate_bps, flat_minor, owner, owner_bps } => print_json(
                        &admin::set_product(&store, &program, ProductInput { sku, rate_bps, flat_minor, owner, owner_bps }).await?,
                    ),
                    ProgramCommand::Unproduct { program, sku } => {
                        edits::delete_product(&store, &program, &sku).await?;
                        print_json(&serde_json::json!({ "deleted": sku, "program": program }))
                    }
                    ProgramCommand::Preview { code, price_minor, sku, currency } => {
                        let program = store.program(&code).await?.ok_or_else(|| anyhow::anyhow!("no program {code}"))?;
                        let products = store.product_overrides(&code).await?.into_iter().map(ProductInput::from).collect();
                        let sample = Sample { currency, sku, quantity: 1, unit_price_minor: price_minor, renewal: 0 };
                        let input = PreviewInput { program: ProgramInput::from(program), products, sample };
                        print_json(&preview::preview(&store, input).await?)
                    }
                    ProgramCommand::List => print_json(&report::programs(&store).await?),
                }
            }
            Command::Partner(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    PartnerCommand::Add { code, name, email, parent, programs } => {
                        print_json(&admin::add_partner(&store, PartnerInput { code, name, email, parent, programs }, now()).await?)
                    }
                    PartnerCommand::Edit { code, name, email, parent, no_parent, programs } => {
                        let changes = PartnerChanges {
                            name,
                            email,
                            parent: if no_parent { Some(None) } else { parent.map(Some) },
                            programs: (!programs.is_empty()).then_some(programs),
                            ..PartnerChanges::default()
                        };
                        print_json(&edits::edit_partner(&store, &code, changes, now()).await?)
                    }
                    PartnerCommand::Deactivate { code } => {
                        let changes = PartnerChanges { active: Some(false), ..PartnerChanges::default() };
                        print_json(&edits::edit_partner(&store, &code, changes, now()).await?)
                    }
                    PartnerCommand::Activate { code } => {
                        let changes = PartnerChanges { active: Some(true), ..PartnerChanges::default() };
                        print_json(&edits::edit_partner(&store, &code, changes, now()).await?)
                    }
                    PartnerCommand::Link { code, url } => print_json(&edits::issue_personal_link(&store, &code, &url.base(), now()).await?),
                    PartnerCommand::Tokens { code } => print_json(&edits::personal_links(&store, &code).await?),
                    PartnerCommand::Adjust { code, amount_minor, currency, reason } => {
                        print_json(&corrections::adjust(&store, &code, AdjustmentInput { amount_minor, currency, reason }, now()).await?)
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
                    LinkCommand::Edit { code, name, destination, partner, any_partner, programs, any_program } => {
                        let changes = LinkChanges {
                            name,
                            destination,
                            partner: if any_partner { Some(None) } else { partner.map(Some) },
                            programs: if any_program { Some(Vec::new()) } else { (!programs.is_empty()).then_some(programs) },
                            code: None,
                        };
                        print_json(&edits::edit_link(&store, &code, changes).await?)
                    }
                    LinkCommand::List { from, to } => {
                        let period = parse_period(from.as_deref(), to.as_deref()).map_err(|m| anyhow::anyhow!("--from/--to: {m}"))?;
                        print_json(&report::link_rows(&store, period).await?)
                    }
                }
            }
            Command::Payouts(cmd) => {
                let store = Store::connect(&url).await?;
                let (create, args) = match cmd {
                    PayoutsCommand::Preview(args) => (false, args),
                    PayoutsCommand::Create(args) => (true, args),
                    PayoutsCommand::History => return print_json(&payouts::history(&store).await?),
                    PayoutsCommand::Csv { run_id, csv } => {
                        let run = payouts::run(&store, run_id).await?.ok_or_else(|| anyhow::anyhow!("no payout run {run_id}"))?;
                        let text = payouts::to_csv(&run.lines)?;
                        if csv.as_os_str() == "-" {
                            print!("{text}");
                        } else {
                            std::fs::write(&csv, text)?;
                            eprintln!("wrote payout run {run_id} to {}", csv.display());
                        }
                        return Ok(());
                    }
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
            Command::Orders(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    OrdersCommand::List { status, partner, q, limit } => {
                        print_json(&orders::list(&store, OrderQuery { status, partner, q, limit }).await?)
                    }
                    OrdersCommand::Show { order_id } => print_json(&orders::detail(&store, &order_id, now()).await?),
                    OrdersCommand::Credit { order_id, partner, reason } => {
                        print_json(&orders::credit(&store, &order_id, CreditInput { partner, reason }, now()).await?)
                    }
                }
            }
            Command::Commissions(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    CommissionsCommand::List { partner, state } => {
                        print_json(&corrections::list(&store, CommissionQuery { partner, state }, now()).await?)
                    }
                    CommissionsCommand::Void { entry_id, reason } => {
                        print_json(&corrections::void(&store, entry_id, ReasonInput { reason }, now()).await?)
                    }
                    CommissionsCommand::Approve { entry_id, reason } => {
                        print_json(&corrections::approve(&store, entry_id, ReasonInput { reason }, now()).await?)
                    }
                }
            }
            Command::Applications(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    ApplicationsCommand::List { status } => print_json(&applications::list(&store, Some(&status)).await?),
                    ApplicationsCommand::Open | ApplicationsCommand::Close => {
                        let open = matches!(cmd, ApplicationsCommand::Open);
                        print_json(&edits::set_settings(&store, edits::Settings { applications_open: open }).await?)
                    }
                    ApplicationsCommand::Approve { id, code, name, programs, parent, url } => {
                        let input = ApprovalInput { code, name, programs, parent };
                        print_json(&applications::approve(&store, id, input, &url.base(), now()).await?)
                    }
                    ApplicationsCommand::Decline { id, reason } => {
                        print_json(&applications::decline(&store, id, DeclineInput { reason }, now()).await?)
                    }
                }
            }
            Command::Resources(cmd) => {
                let store = Store::connect(&url).await?;
                match cmd {
                    ResourcesCommand::List => print_json(&store.resources().await?),
                    ResourcesCommand::Add { program, kind, title, link, text, alt, image, image_url } => {
                        use base64::Engine;
                        let image_base64 = match image {
                            Some(path) => Some(base64::engine::general_purpose::STANDARD.encode(std::fs::read(&path)?)),
                            None => None,
                        };
                        let input = ResourceInput { program, kind, title, link, text, alt, image_url, image_base64 };
                        print_json(&resources::add(&store, input, now()).await?)
                    }
                    ResourcesCommand::Delete { id } => {
                        resources::delete(&store, id).await?;
                        print_json(&serde_json::json!({ "deleted": id }))
                    }
                }
            }
            Command::Notices => {
                let store = Store::connect(&url).await?;
                print_json(&store.notices(500).await?)
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
