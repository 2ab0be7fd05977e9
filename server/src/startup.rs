//! Builds the application: state, router, listener, and a graceful stop that drains the writer.

use crate::configuration::Settings;
use crate::error::RejectReason;
use crate::metrics::Metrics;
use crate::routes;
use crate::store::{self, Store};
use crate::writer::BatchWriter;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowCredentials, AllowOrigin, Any, CorsLayer};
use tower_http::services::ServeDir;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub writer: BatchWriter,
    pub metrics: Arc<Metrics>,
    /// Tracking-link routes, cached for a few seconds.
    pub routes: Arc<crate::routing::Routes>,
    /// Click counts per IP and link, for the click-flood check.
    pub flood: Arc<std::sync::Mutex<crate::domain::fraud::FloodGuard>>,
}

/// The router, with every route of the contract.
pub fn router(state: AppState) -> Router {
    let origins: Vec<HeaderValue> = state.settings.allowed_origins.iter().filter_map(|o| o.parse().ok()).collect();
    let trusted = origins.clone();
    let credentialed = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        // Only configured origins are told they may send credentials.
        .allow_credentials(AllowCredentials::predicate(move |origin, _| trusted.contains(origin)))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    let open = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::POST]).allow_headers([header::CONTENT_TYPE]);
    let www = state.settings.www_dir.clone();

    let mut app = Router::new()
        .route("/go/{link}", get(routes::follow_link::follow_link))
        .merge(
            Router::new()
                .route("/v1/lookup", get(routes::lookup::lookup))
                .route("/v1/touch", post(routes::touch::touch))
                .layer(credentialed),
        )
        .merge(
            Router::new()
                .route("/v1/events", post(routes::ingest_event::ingest_event))
                .route("/v1/pixel.gif", get(routes::ingest_event::pixel))
                .layer(open),
        )
        .route("/v1/orders", post(routes::ingest_order::ingest_order))
        .route("/v1/refunds", post(routes::ingest_order::ingest_refund))
        .route("/v1/leads", post(routes::ingest_lead::ingest_lead))
        .route("/v1/admin/programs", get(routes::admin::list_programs).post(routes::admin::add_program))
        .route("/v1/admin/programs/{code}/products", post(routes::admin::set_product))
        .route("/v1/admin/partners", get(routes::admin::list_partners).post(routes::admin::add_partner))
        .route("/v1/admin/partners/{code}/tokens", post(routes::admin::issue_partner_token))
        .route("/v1/admin/keys/{id}", axum::routing::delete(routes::admin::revoke_key))
        .route("/v1/admin/links", get(routes::admin::list_links).post(routes::admin::add_link))
        .route("/v1/admin/report", get(routes::admin_report::report))
        .route("/v1/admin/payouts/preview", get(routes::admin_report::preview_payouts))
        .route("/v1/admin/payouts", post(routes::admin_report::create_payouts))
        .route("/v1/me", get(routes::partner_center::whoami))
        .route("/v1/partners/{code}/stats", get(routes::stats::partner_stats))
        .route("/v1/partners/{code}/profile", get(routes::partner_center::profile))
        .route("/v1/partners/{code}/ledger", get(routes::partner_center::ledger))
        .route("/v1/partners/{code}/chart.svg", get(routes::partner_center::chart))
        .route("/reftrack.js", get(routes::snippet::loader))
        .route("/reftrack_bg.wasm", get(routes::snippet::wasm))
        .route("/reftrack.d.ts", get(routes::snippet::types))
        .nest_service("/demo", ServeDir::new(www.join("demo")))
        .nest_service("/partner", ServeDir::new(www.join("partner")))
        .nest_service("/admin", ServeDir::new(www.join("admin")))
        .route("/healthz", get(routes::health::healthz))
        .route("/metrics", get(routes::health::metrics))
        .route("/", get(routes::health::index));
    if state.settings.demo {
        app = app.route("/v1/demo/checkout", post(routes::demo_checkout::demo_checkout));
    }
    let app = app
        .fallback(routes::health::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state.clone());

    match state.settings.base_path.as_str() {
        "" => app,
        base => Router::new().nest(base, app),
    }
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    Metrics::bump(&state.metrics.requests);
    let response = next.run(request).await;
    if let Some(RejectReason(reason)) = response.extensions().get::<RejectReason>() {
        state.metrics.reject(reason);
    }
    response
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer_task: JoinHandle<()>,
}

impl Application {
    /// Opens the store, starts the writer and binds the listener (port 0 picks a free port).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let store = store::connect(&settings.database_url).await?;
        let listener = TcpListener::bind(settings.listen).await?;
        // Without a public URL the server is reached where it is bound; port 0 means "the one we got".
        if settings.public_url.port() == Some(0) {
            let _ = settings.public_url.set_port(Some(listener.local_addr()?.port()));
        }
        crate::domain::bots::warm_up();
        let metrics = Arc::new(Metrics::default());
        let (writer, writer_task) = BatchWriter::spawn(store.clone(), metrics.clone());
        let flood = crate::domain::fraud::FloodGuard::new(settings.click_flood_limit, 3_600_000);
        let state = AppState {
            settings: Arc::new(settings),
            store,
            writer,
            metrics,
            routes: Default::default(),
            flood: Arc::new(std::sync::Mutex::new(flood)),
        };
        Ok(Self { listener, state, writer_task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then drains queued clicks and events to disk.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, writer_task } = self;
        let app = router(state);
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
