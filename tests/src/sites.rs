//! The fixture sites: every page under `tests/fixtures/sites/<host>/` is served on one port for
//! whatever host name the browser asked for, so `www.merchant.test`, `webinar-tool.test` and
//! `checkout.cartvendor.test` are distinct sites to the browser. `{{TRACK}}` in a page becomes the
//! tracking server's URL, `{{PORT}}` this server's port, and `{{MODE}}` the snippet attribute that
//! `?mode=first|consent|nocookie` asks for. Form posts and page requests are recorded for the test.

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One recorded form submission.
#[derive(Debug, Clone)]
pub struct Submission {
    pub host: String,
    pub path: String,
    pub fields: HashMap<String, String>,
}

/// One page request (host, path and query), as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub host: String,
    pub target: String,
}

/// Where the fake cart vendor sends its Stripe-shaped webhooks.
#[derive(Clone, Debug)]
pub struct CartVendor {
    pub connector: String,
    pub stripe_secret: String,
}

#[derive(Clone)]
struct SiteState {
    track: Arc<Mutex<String>>,
    /// The https port the browser uses (pages and redirects name it).
    port: u16,
    submissions: Arc<Mutex<Vec<Submission>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    cart: Arc<Mutex<Option<CartVendor>>>,
    sessions: Arc<std::sync::atomic::AtomicU64>,
}

/// The running fixture sites: plain HTTP on `port`, https (what the browser uses) on `tls_port`.
pub struct Sites {
    pub port: u16,
    pub tls_port: u16,
    _tls: crate::tls::Front,
    track: Arc<Mutex<String>>,
    submissions: Arc<Mutex<Vec<Submission>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    cart: Arc<Mutex<Option<CartVendor>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sites {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn host_of(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    host.split(':').next().unwrap_or_default().to_owned()
}

/// The snippet attribute a page variant (`?mode=`) adds.
fn mode_attribute(mode: Option<&str>) -> &'static str {
    match mode {
        Some("first") => "data-attribution=\"first\" ",
        Some("consent") => "data-consent=\"required\" ",
        Some("nocookie") => "data-storage=\"none\" ",
        _ => "",
    }
}

async fn page(
    State(s): State<SiteState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let host = host_of(&headers);
    let target = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    s.requests.lock().unwrap().push(Request { host: host.clone(), target });
    if path.contains("..") || host.contains("..") || host.contains('/') {
        return StatusCode::BAD_REQUEST.into_response();
    }
    // Any site can serve a copy of the built loader (but not its wasm): a snippet whose wasm fails.
    if path == "reftrack.js" {
        let js = std::fs::read(crate::root().join("www/dist/reftrack.js")).unwrap_or_default();
        return ([(header::CONTENT_TYPE, "text/javascript")], js).into_response();
    }
    let file = crate::root().join("tests/fixtures/sites").join(&host).join(&path);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let track = s.track.lock().unwrap().clone();
            let mode = mode_attribute(query.get("mode").map(String::as_str));
            Html(text.replace("{{TRACK}}", &track).replace("{{PORT}}", &s.port.to_string()).replace("{{MODE}}", mode)).into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, format!("no page {host}/{path}")).into_response(),
    }
}

async fn submit(
    State(s): State<SiteState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let host = host_of(&headers);
    s.submissions.lock().unwrap().push(Submission { host: host.clone(), path: path.clone(), fields: fields.clone() });
    let cart = s.cart.lock().unwrap().clone();
    if let (true, Some(cart)) = (host == "checkout.cartvendor.test" && path == "pay", cart) {
        return pay(&s, &cart, &fields).await;
    }
    Html(format!("<!doctype html><title>done</title><p id=done>received {path}</p>")).into_response()
}

/// The cart vendor takes the payment, tells the merchant's connector with a signed Stripe
/// `checkout.session.completed` event (the click travels as `client_reference_id`, as with Stripe
/// Payment Links), and sends the buyer to the merchant's confirmation page.
async fn pay(s: &SiteState, cart: &CartVendor, fields: &HashMap<String, String>) -> Response {
    let n = s.sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let session = format!("cs_test_journey{n}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let event = serde_json::json!({
        "id": format!("evt_journey{n}"), "object": "event", "type": "checkout.session.completed", "created": now,
        "data": {"object": {
            "id": session, "object": "checkout.session", "created": now, "amount_total": 9900, "currency": "usd",
            "client_reference_id": fields.get("rt_click").filter(|c| !c.is_empty()),
            "customer_details": {"email": fields.get("email")}, "metadata": {},
            "payment_intent": format!("pi_journey{n}"), "payment_status": "paid", "mode": "payment", "status": "complete"
        }}
    });
    let body = serde_json::to_vec(&event).unwrap();
    let signature = reftrack_connector::carts::stripe::sign(&cart.stripe_secret, now, &body);
    let delivered = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", cart.connector))
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    if !delivered {
        return (StatusCode::BAD_GATEWAY, "the merchant's connector did not accept the payment webhook").into_response();
    }
    let thanks = format!("https://www.merchant.test:{}/thanks.html?order={session}", s.port);
    (StatusCode::SEE_OTHER, [(header::LOCATION, thanks)]).into_response()
}

impl Sites {
    /// Starts the sites on a free port (the tracking URL can be set once the server is up).
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let tls = crate::tls::Front::start(port).await?;
        let tls_port = tls.port;
        let track = Arc::new(Mutex::new(String::new()));
        let submissions = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let cart = Arc::new(Mutex::new(None));
        let state = SiteState {
            track: track.clone(),
            port: tls_port,
            submissions: submissions.clone(),
            requests: requests.clone(),
            cart: cart.clone(),
            sessions: Default::default(),
        };
        let app = Router::new().route("/{*path}", get(page).post(submit)).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { port, tls_port, _tls: tls, track, submissions, requests, cart, task })
    }

    /// Points `{{TRACK}}` at the tracking server.
    pub fn set_track(&self, base: &str) {
        *self.track.lock().unwrap() = base.to_owned();
    }

    /// Makes `checkout.cartvendor.test/pay` a cart that reports payments to `cart.connector`.
    pub fn set_cart_vendor(&self, cart: CartVendor) {
        *self.cart.lock().unwrap() = Some(cart);
    }

    /// `https://<host>:<tls port><path>`, as the browser reaches it.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.tls_port)
    }

    /// Page requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Form posts received so far.
    pub fn submissions(&self) -> Vec<Submission> {
        self.submissions.lock().unwrap().clone()
    }
}
