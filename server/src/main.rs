use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    reftrack_server::configuration::load_config_file(&args)?;
    reftrack_server::cli::Cli::parse_from(args).run().await
}
