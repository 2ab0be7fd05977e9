//! `reftrack-connector serve | send | import | carts | outbox list | outbox retry`.

use crate::carts::CARTS;
use crate::client::Client;
use crate::configuration::{BackendArgs, CartSecrets, OutboxArgs, ServeArgs};
use crate::metrics::Metrics;
use crate::outbox::{Kind, Outbox};
use crate::startup::{forwarder, shutdown_signal, Connector};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use reftrack_protocol::signature::Secret;
use reftrack_protocol::{Attribution, CanonicalOrder, ClickId, Currency, Customer, Email, OrderId, PartnerCode, SubId};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// reftrack-connector: third-party cart webhooks in, signed canonical orders out.
#[derive(Debug, Parser)]
#[command(name = "reftrack-connector", version)]
pub struct Cli {
    /// A configuration file of KEY=VALUE lines (the environment variables' names); also REFTRACK_CONNECTOR_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    outbox: OutboxArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive cart webhooks and forward them.
    Serve(Box<ServeArgs>),
    /// Send one canonical order (a JSON file) to the server now.
    Send {
        file: PathBuf,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Backfill historical orders from a CSV file through the outbox.
    Import {
        /// Columns: order_id, occurred_at (RFC 3339), currency, total_minor, email, click_id, partner, sub_id, source.
        file: PathBuf,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List the carts: the URL to paste, the secret variable, and whether it is set here.
    Carts,
    /// Inspect or retry outbox entries.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List entries (all, or of one state: pending, done, dead; of one kind: order, refund, notice).
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long, value_parser = ["order", "refund", "notice"])]
        kind: Option<String>,
        /// Only notices, each with what happened and why it could not be applied.
        #[arg(long, conflicts_with = "kind")]
        notices: bool,
    },
    /// Queue entries again: one by id, or every dead letter.
    Retry {
        #[arg(long, conflicts_with = "dead")]
        id: Option<i64>,
        #[arg(long)]
        dead: bool,
    },
}

#[derive(Debug, serde::Deserialize)]
struct CsvOrder {
    order_id: String,
    occurred_at: String,
    currency: String,
    total_minor: i64,
    #[serde(default)]
    email: String,
    #[serde(default)]
    click_id: String,
    #[serde(default)]
    partner: String,
    #[serde(default)]
    sub_id: String,
    #[serde(default)]
    source: String,
}

fn opt<T>(raw: &str, parse: impl Fn(&str) -> Result<T, reftrack_protocol::ParseError>) -> anyhow::Result<Option<T>> {
    if raw.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parse(raw)?))
    }
}

impl CsvOrder {
    fn into_order(self) -> anyhow::Result<CanonicalOrder> {
        let order = CanonicalOrder {
            order_id: OrderId::parse(&self.order_id)?,
            occurred_at: crate::carts::from_rfc3339(&self.occurred_at)?,
            currency: Currency::parse(&self.currency)?,
            items: vec![],
            total_minor: self.total_minor,
            discount_minor: 0,
            shipping_minor: 0,
            tax_minor: 0,
            customer: Customer { email: opt(&self.email, Email::parse)? },
            attribution: Attribution {
                click_id: opt(&self.click_id, ClickId::parse)?,
                partner: opt(&self.partner, PartnerCode::parse)?,
                sub_id: opt(&self.sub_id, SubId::parse)?,
            },
            source: if self.source.is_empty() { "import".into() } else { self.source },
            renewal: false,
            subscription_id: None,
        };
        order.validate()?;
        Ok(order)
    }
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => {
                let connector = Connector::build(&args, &self.outbox.outbox).await?;
                tracing::info!(settings = ?args, "starting");
                // Tests and scripts read this line to learn the port when listening on :0.
                println!("reftrack-connector listening on http://{}", connector.local_addr());
                connector.run_until(shutdown_signal()).await
            }
            Command::Send { file, backend } => {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let order: CanonicalOrder = serde_json::from_str(&text).context("the file is not a canonical order")?;
                let client = Client::new(backend.backend_url.clone(), Secret::parse(&backend.signing_secret)?);
                println!("{}", serde_json::to_string_pretty(&client.forward(&order).await?)?);
                Ok(())
            }
            Command::Import { file, backend } => import(&self.outbox.outbox, &file, &backend).await,
            Command::Carts => {
                let secrets = CartSecrets::from_env(|k| std::env::var(k).ok())?;
                let carts: Vec<_> = CARTS
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "cart": c.name(),
                            "route": format!("/webhooks/{}", c.name()),
                            "secret": c.secret_env(),
                            "configured": secrets.get(c.name()).is_some(),
                            "settings": c.settings().iter().map(|s| serde_json::json!({"name": s.env, "about": s.about})).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&carts)?);
                Ok(())
            }
            Command::Outbox(cmd) => {
                let outbox = Outbox::open(&self.outbox.outbox).await?;
                match cmd {
                    OutboxCommand::List { state, kind, notices } => {
                        let kind = match (notices, kind.as_deref()) {
                            (true, _) | (false, Some("notice")) => Some(Kind::Notice),
                            (false, Some("refund")) => Some(Kind::Refund),
                            (false, Some("order")) => Some(Kind::Order),
                            _ => None,
                        };
                        let entries = outbox.list(state.as_deref(), kind).await?;
                        if notices {
                            println!("{}", serde_json::to_string_pretty(&notice_listing(&entries))?);
                        } else {
                            println!("{}", serde_json::to_string_pretty(&entries)?);
                        }
                    }
                    OutboxCommand::Retry { id, dead } => {
                        if id.is_none() && !dead {
                            bail!("give --id N or --dead");
                        }
                        let n = outbox.retry(id, crate::now_ms()).await?;
                        println!("{{\"requeued\": {n}}}");
                    }
                }
                Ok(())
            }
        }
    }
}

/// A line of an import that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    pub line: u64,
    pub error: String,
}

/// An import file read: each valid order with its line number, and the lines left out.
pub type ImportLines = (Vec<(u64, CanonicalOrder)>, Vec<Rejected>);

/// Reads an import file line by line: every valid order with its line number, and every line
/// that is not one (unreadable, the wrong number of columns, a value out of bounds) with why.
/// One bad line costs that line only.
pub fn read_import(file: &std::path::Path) -> anyhow::Result<ImportLines> {
    let mut reader = csv::Reader::from_path(file).with_context(|| format!("reading {}", file.display()))?;
    let headers = reader.byte_headers().with_context(|| format!("reading the header line of {}", file.display()))?.clone();
    let (mut orders, mut rejected) = (Vec::new(), Vec::new());
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() + u64::from(reader.position().byte() == 0);
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                match record.deserialize::<CsvOrder>(Some(&headers)).map_err(anyhow::Error::from).and_then(CsvOrder::into_order) {
                    Ok(order) => orders.push((line, order)),
                    Err(e) => rejected.push(Rejected { line, error: e.to_string() }),
                }
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                rejected.push(Rejected { line, error: e.to_string() });
            }
        }
    }
    Ok((orders, rejected))
}

/// Backfills an import file through the outbox: every valid line is stored and forwarded, every
/// other line is reported with its line number (the command then fails, so a script notices; once
/// fixed, the file can be imported again: orders already stored are skipped by their id).
async fn import(outbox_path: &str, file: &std::path::Path, backend: &BackendArgs) -> anyhow::Result<()> {
    let outbox = Outbox::open(outbox_path).await?;
    let (orders, rejected) = read_import(file)?;
    for r in &rejected {
        eprintln!("line {}: left out: {}", r.line, r.error);
    }
    let bar = indicatif::ProgressBar::new(orders.len() as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{msg:10} {bar:40} {pos}/{len} {eta}").expect("template"));
    bar.set_message("queued");
    for (stored, (line, order)) in orders.iter().enumerate() {
        outbox.accept_order(order, crate::now_ms()).await.with_context(|| {
            format!("storing line {line} in the outbox failed after {stored} orders were stored; run the import again once it can be written (stored orders are skipped)")
        })?;
        bar.inc(1);
    }
    bar.finish();
    let wake = Arc::new(tokio::sync::Notify::new());
    let forwarder = forwarder(outbox.clone(), backend, Arc::new(Metrics::default()), wake)?;
    let sent = indicatif::ProgressBar::new(orders.len() as u64);
    sent.set_style(indicatif::ProgressStyle::with_template("{msg:10} {bar:40} {pos}/{len} {eta}").expect("template"));
    sent.set_message("forwarded");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(forwarder.run(async {
        let _ = stop_rx.await;
    }));
    loop {
        let (pending, _) = outbox.depth().await?;
        sent.set_position(orders.len() as u64 - (pending as u64).min(orders.len() as u64));
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop_tx.send(());
    running.await?;
    sent.finish();
    let (_, dead) = outbox.depth().await?;
    // The format scripts already read, with the lines left out added.
    println!("{{\"imported\": {}, \"dead\": {dead}, \"rejected\": {}}}", orders.len(), serde_json::to_string(&rejected)?);
    if !rejected.is_empty() {
        bail!("{} lines were left out (listed above); the other {} were imported", rejected.len(), orders.len());
    }
    Ok(())
}

/// Notices as the merchant reads them: what happened, about which order, and the delivery state.
fn notice_listing(entries: &[crate::outbox::Entry]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|e| {
            let notice: serde_json::Value = serde_json::from_str(&e.body).unwrap_or(serde_json::Value::Null);
            serde_json::json!({
                "id": e.id,
                "state": e.state,
                "attempts": e.attempts,
                "last_error": e.last_error,
                "source": notice["source"],
                "kind": notice["kind"],
                "order_id": notice["order_id"],
                "amount_minor": notice["amount_minor"],
                "currency": notice["currency"],
                "why": notice["message"],
                "occurred_at": notice["occurred_at"],
                "notice_id": notice["notice_id"],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_of_an_import_costs_that_line_and_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orders.csv");
        let mut csv = b"order_id,occurred_at,currency,total_minor,email,click_id,partner,sub_id,source\n".to_vec();
        csv.extend_from_slice(b"shop:1,2026-11-01T10:00:00Z,USD,4900,a@b.co,,jane,,\n");
        csv.extend_from_slice(b"shop:2,2026-11-01T10:00:00Z,USD,4900,\xff\xfe@b.co,,,,\n"); // not UTF-8
        csv.extend_from_slice(b"shop:3,2026-11-01T10:00:00Z,USD\n"); // too few columns
        csv.extend_from_slice(b"shop:4,2026-11-01T10:00:00Z,USD,4900,,,ja\x00ne,,\n"); // a NUL in a code
        csv.extend_from_slice(b"shop:5,2026-11-01T10:00:00Z,XYZ,4900,,,,,\n"); // not a currency
        csv.extend_from_slice(b"shop:6,2026-11-01T10:00:00Z,USD,-1,,,,,\n"); // a negative total
        csv.extend_from_slice(b"\"shop:7\",2026-11-01T10:00:00Z,EUR,100,,,,,api\n");
        std::fs::write(&file, csv).unwrap();
        let (orders, rejected) = read_import(&file).unwrap();
        assert_eq!(orders.iter().map(|(line, o)| (*line, o.order_id.as_str())).collect::<Vec<_>>(), [(2, "shop:1"), (8, "shop:7")]);
        assert_eq!(rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 4, 5, 6, 7], "{rejected:?}");
        assert!(rejected[2].error.contains("partner code"), "{:?}", rejected[2]);
    }
}
