//! The HTTP edge: the router, the state beside it, and thin handlers (one file per endpoint
//! family) that read a request, call a use case, and answer. Nothing below imports this layer.

pub mod admin;
pub mod admin_orders;
pub mod admin_report;
pub mod applications;
pub mod auth;
pub mod demo_checkout;
pub mod error;
pub mod extract;
pub mod follow_link;
pub mod health;
pub mod ingest_event;
pub mod ingest_lead;
pub mod ingest_notice;
pub mod ingest_order;
pub mod lookup;
pub mod partner_center;
pub mod resources;
pub mod snippet;
pub mod state;
pub mod stats;
pub mod touch;
pub mod webhooks;

use crate::metrics::Metrics;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use error::RejectReason;
pub use state::AppState;
use tower_http::cors::{AllowCredentials, AllowOrigin, Any, CorsLayer};
use tower_http::services::ServeDir;

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
        .route("/go/{link}", get(follow_link::follow_link))
        .merge(Router::new().route("/v1/lookup", get(lookup::lookup)).route("/v1/touch", post(touch::touch)).layer(credentialed))
        .merge(
            Router::new()
                .route("/v1/events", post(ingest_event::ingest_event))
                .route("/v1/pixel.gif", get(ingest_event::pixel))
                .layer(open),
        )
        .route("/v1/orders", post(ingest_order::ingest_order))
        .route("/v1/refunds", post(ingest_order::ingest_refund))
        .route("/v1/leads", post(ingest_lead::ingest_lead))
        .route("/v1/notices", post(ingest_notice::ingest_notice))
        .route("/v1/admin/programs", get(admin::list_programs).post(admin::add_program))
        .route("/v1/admin/programs/{code}", patch(admin::edit_program))
        .route("/v1/admin/programs/{code}/products", post(admin::set_product))
        .route("/v1/admin/programs/{code}/products/{sku}", delete(admin::delete_product))
        .route("/v1/admin/commission-preview", post(admin::preview_commission))
        .route("/v1/admin/partners", get(admin::list_partners).post(admin::add_partner))
        .route("/v1/admin/partners/{code}", patch(admin::edit_partner))
        .route("/v1/admin/partners/{code}/tokens", get(admin::list_partner_tokens).post(admin::issue_partner_token))
        .route("/v1/admin/partners/{code}/adjustments", post(admin_orders::adjust))
        .route("/v1/admin/keys/{id}", delete(admin::revoke_key))
        .route("/v1/admin/links", get(admin::list_links).post(admin::add_link))
        .route("/v1/admin/links/{code}", patch(admin::edit_link))
        .route("/v1/admin/notices", get(admin::list_notices))
        .route("/v1/admin/settings", get(admin::settings).patch(admin::set_settings))
        .route("/v1/admin/report", get(admin_report::report))
        .route("/v1/admin/payouts/preview", get(admin_report::preview_payouts))
        .route("/v1/admin/payouts", get(admin_report::payout_history).post(admin_report::create_payouts))
        .route("/v1/admin/payouts/{run_id}", get(admin_report::payout_run))
        .route("/v1/admin/orders", get(admin_orders::list_orders))
        .route("/v1/admin/orders/{order_id}", get(admin_orders::order))
        .route("/v1/admin/orders/{order_id}/credit", post(admin_orders::credit_order))
        .route("/v1/admin/commissions", get(admin_orders::list_commissions))
        .route("/v1/admin/ledger/{entry_id}/void", post(admin_orders::void_entry))
        .route("/v1/admin/ledger/{entry_id}/approve", post(admin_orders::approve_entry))
        .route("/v1/admin/partner-applications", get(applications::list))
        .route("/v1/admin/partner-applications/{id}/approve", post(applications::approve))
        .route("/v1/admin/partner-applications/{id}/decline", post(applications::decline))
        .route("/v1/admin/resources", get(resources::list).post(resources::add))
        .route("/v1/admin/resources/{id}", delete(resources::delete))
        .route("/v1/admin/webhooks", get(webhooks::list_webhooks).post(webhooks::add_webhook))
        .route("/v1/admin/webhooks/{id}", delete(webhooks::delete_webhook))
        .route("/v1/admin/webhooks/{id}/deliveries", get(webhooks::list_deliveries))
        .route("/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver", post(webhooks::redeliver))
        .route("/v1/admin/webhooks/{id}/test", post(webhooks::test_webhook))
        .route("/v1/partners/{code}/postbacks", get(webhooks::list_postbacks).post(webhooks::add_postback))
        .route("/v1/partners/{code}/postbacks/{id}", delete(webhooks::delete_postback))
        .route("/v1/partner-applications", get(applications::status).post(applications::apply))
        .route("/v1/resources/{id}/image", get(resources::image))
        .route("/v1/partners/{code}/resources", get(resources::for_partner))
        .route("/v1/me", get(partner_center::whoami))
        .route("/v1/partners/{code}/stats", get(stats::partner_stats))
        .route("/v1/partners/{code}/profile", get(partner_center::profile))
        .route("/v1/partners/{code}/ledger", get(partner_center::ledger))
        .route("/v1/partners/{code}/chart.svg", get(partner_center::chart))
        .route("/reftrack.js", get(snippet::loader))
        .route("/reftrack_bg.wasm", get(snippet::wasm))
        .route("/reftrack.d.ts", get(snippet::types))
        .nest_service("/demo", ServeDir::new(www.join("demo")))
        .route("/partner/apply", get(applications::page))
        .nest_service("/partner", ServeDir::new(www.join("partner")))
        .nest_service("/admin", ServeDir::new(www.join("admin")))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/", get(health::index));
    if state.settings.demo {
        app = app.route("/v1/demo/checkout", post(demo_checkout::demo_checkout));
    }
    let app =
        app.fallback(health::not_found).layer(middleware::from_fn_with_state(state.clone(), count_requests)).with_state(state.clone());

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
        if *reason == "storage_unavailable" {
            state.metrics.storage_failed();
        }
    }
    response
}
