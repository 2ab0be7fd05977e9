//! Builds the application — store, batch writer, delivery task, state, router — binds the
//! listener, and runs until stopped, then drains the writer and stops the delivery task.

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::delivery::Deliverer;
use crate::intake::{Intake, IntakeSettings};
use crate::metrics::Metrics;
use crate::routes::{self, AppState};
use crate::store::Store;
use crate::writer::{BatchWriter, OrderWriter};
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

/// How long a connection may take to send its request headers (slow-loris clients are cut off).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight get to finish once the server is told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: BatchWriter,
    writer_task: JoinHandle<()>,
    orders: OrderWriter,
    orders_task: JoinHandle<()>,
    deliverer: Deliverer,
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
        let (orders, orders_task) = OrderWriter::spawn(store.clone(), metrics.clone());
        let deliverer = Deliverer::spawn(store.clone(), clock.clone(), metrics.clone(), &settings.delivery)?;
        let intake_settings = IntakeSettings {
            attribution: settings.attribution,
            click_flood_limit: settings.click_flood_limit,
            pixel_commission_max_minor: settings.pixel_commission_max_minor,
        };
        let intake = Intake::new(store.clone(), writer.clone(), orders.clone(), clock.clone(), metrics.clone(), intake_settings).await?;
        let settings_delivery = settings.delivery.clone();
        let state = AppState {
            settings: Arc::new(settings),
            store,
            intake,
            clock,
            metrics,
            health: Default::default(),
            applications: AppState::application_limit(),
            guard: crate::delivery::Guard::new(&settings_delivery),
        };
        Ok(Self { listener, state, writer, writer_task, orders, orders_task, deliverer })
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
    ///
    /// Each connection must send its request headers within [`HEADER_READ_TIMEOUT`] and each
    /// request is answered within [`REQUEST_TIMEOUT`] (408 otherwise); at most `max_connections`
    /// are served at once (the rest wait in the kernel's accept queue, so file descriptors cannot
    /// run out); on shutdown, requests in flight get [`SHUTDOWN_GRACE`] to finish and idle or slow
    /// connections are closed rather than waited for.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, writer, writer_task, orders, orders_task, deliverer } = self;
        let permits = Arc::new(Semaphore::new(state.settings.max_connections));
        let per_ip = Arc::new(PerAddress::new(state.settings.max_connections_per_ip));
        let app = routes::router(state).layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT));
        let graceful = GracefulShutdown::new();
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit?,
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before accept: wait, go on.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(slot) = per_ip.take(peer.ip()) else {
                // One address holding this many connections at once is not a browser: close this one.
                drop(stream);
                continue;
            };
            let (app, in_flight) = (app.clone(), in_flight.clone());
            let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let running = InFlight::start(&in_flight);
                let response = app.clone().oneshot(request);
                async move {
                    let response = response.await;
                    drop(running);
                    response
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = connection.await;
                drop((permit, slot));
            });
        }
        drop(listener);
        // Requests being answered get up to the grace period; connections that are idle or still
        // sending their headers are not waited for.
        let answered = async {
            while in_flight.load(std::sync::atomic::Ordering::Acquire) > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            () = graceful.shutdown() => {}
            () = answered => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("stopping with requests still in flight after the grace period"),
        }
        // Whatever was queued is committed before the process ends; requests still lingering on
        // slow connections are refused from here on rather than acknowledged and lost.
        drop(app);
        writer.close(writer_task).await;
        orders.close(orders_task).await;
        // Events the writer's last batch made stay in the outbox for the next start (or another
        // server); only deliveries already in flight get a moment to finish.
        deliverer.stop().await;
        Ok(())
    }
}

/// A request being answered, counted until it is dropped.
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn start(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Connections held per peer address, each released when its connection ends.
struct PerAddress {
    limit: usize,
    held: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One connection's place in [`PerAddress`].
struct Slot {
    owner: Arc<PerAddress>,
    ip: std::net::IpAddr,
}

impl PerAddress {
    fn new(limit: usize) -> Self {
        Self { limit, held: Default::default() }
    }

    /// A place for a connection from `ip`, unless it holds `limit` already (0: no limit).
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(ip).or_default();
        if self.limit > 0 && *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot { owner: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.owner.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.ip);
            }
        }
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
