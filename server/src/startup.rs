//! Builds the application — store, batch writer, state, router — binds the listener, and runs
//! until stopped, then drains the writer.

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::intake::{Intake, IntakeSettings};
use crate::metrics::Metrics;
use crate::routes::{self, AppState};
use crate::store::Store;
use crate::writer::BatchWriter;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer_task: JoinHandle<()>,
}

impl Application {
    /// Opens the store, starts the writer and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As [`build`](Self::build), with the given clock (tests move time with a manual one).
    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let store = Store::connect(&settings.database_url).await?;
        let listener = TcpListener::bind(settings.listen).await?;
        // Without a public URL the server is reached where it is bound; port 0 means "the one we got".
        if settings.public_url.port() == Some(0) {
            let _ = settings.public_url.set_port(Some(listener.local_addr()?.port()));
        }
        crate::domain::bots::warm_up();
        let metrics = Arc::new(Metrics::default());
        let (writer, writer_task) = BatchWriter::spawn(store.clone(), metrics.clone());
        let intake_settings = IntakeSettings { attribution: settings.attribution, click_flood_limit: settings.click_flood_limit };
        let intake = Intake::new(store.clone(), writer, clock.clone(), metrics.clone(), intake_settings);
        let state = AppState { settings: Arc::new(settings), store, intake, clock, metrics, applications: AppState::application_limit() };
        Ok(Self { listener, state, writer_task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The store the application writes to (the demo seeds it before serving).
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then drains queued clicks and events to disk.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, writer_task } = self;
        let app = routes::router(state);
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await?;
        // The router (and with it every writer handle) is gone: the writer drains and stops.
        writer_task.await?;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("stopping: finishing requests and writing queued clicks");
}
