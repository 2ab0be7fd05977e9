//! Builds the connector: the outbox, the webhook routes and the forwarder, run side by side.

use crate::configuration::{BackendArgs, CartSecrets, ServeArgs};
use crate::forwarder::{Backoff, Forwarder};
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::routes::{self, AppState, MAX_BODY};
use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use reftrack_protocol::signature::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/{cart}", post(routes::receive).head(routes::probe).get(crate::tools::receive::check_url))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// A forwarder for `outbox` with the backend settings.
pub fn forwarder(outbox: Outbox, backend: &BackendArgs, metrics: Arc<Metrics>, wake: Arc<Notify>) -> anyhow::Result<Forwarder> {
    let secret = Secret::parse(&backend.signing_secret).context("REFTRACK_SIGNING_SECRET")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    Ok(Forwarder {
        outbox,
        http,
        backend: backend.backend_url.clone(),
        secret,
        concurrency: backend.concurrency.max(1),
        backoff: Backoff {
            min: Duration::from_millis(backend.retry_min_ms.max(1)),
            max: Duration::from_millis(backend.retry_max_ms.max(1)),
        },
        metrics,
        wake,
    })
}

/// A bound, ready-to-run connector.
pub struct Connector {
    listener: TcpListener,
    state: AppState,
    forwarder: Forwarder,
}

impl Connector {
    /// Opens the outbox, reads and checks each cart's secret from the environment and binds the
    /// listener.
    pub async fn build(args: &ServeArgs, outbox_path: &str) -> anyhow::Result<Self> {
        let carts = CartSecrets::from_env(|k| std::env::var(k).ok())?;
        Self::build_with(args, outbox_path, carts).await
    }

    /// Like [`Connector::build`], with the carts' secrets given.
    pub async fn build_with(args: &ServeArgs, outbox_path: &str, carts: CartSecrets) -> anyhow::Result<Self> {
        let outbox = Outbox::open(outbox_path).await?.requiring_free_bytes(args.outbox_min_free_bytes);
        let metrics = Arc::new(Metrics::default());
        let wake = Arc::new(Notify::new());
        let forwarder = forwarder(outbox.clone(), &args.backend, metrics.clone(), wake.clone())?;
        tracing::info!(configured = ?carts, "carts");
        let listener = TcpListener::bind(args.listen).await?;
        let tools = Arc::new(crate::tools::Settings::from_args(&args.tools));
        let state = AppState { outbox, metrics, wake, carts: Arc::new(carts), tools };
        Ok(Self { listener, state, forwarder })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves webhooks and forwards until `shutdown` resolves.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let forwarding = tokio::spawn(self.forwarder.run(async {
            let _ = stop_rx.await;
        }));
        axum::serve(self.listener, router(self.state)).with_graceful_shutdown(shutdown).await?;
        let _ = stop_tx.send(());
        forwarding.await?;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
