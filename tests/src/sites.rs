//! The fixture sites: every page under `tests/fixtures/sites/<host>/` is served on one port for
//! whatever host name the browser asked for, so `www.merchant.test`, `webinar-tool.test` and
//! `checkout.cartvendor.test` are distinct sites to the browser. `{{TRACK}}` in a page becomes the
//! tracking server's URL, `{{PORT}}` this server's port. Form posts are recorded for the test.

use axum::extract::{Form, Path, State};
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

#[derive(Clone)]
struct SiteState {
    track: Arc<Mutex<String>>,
    port: u16,
    submissions: Arc<Mutex<Vec<Submission>>>,
}

/// The running fixture sites.
pub struct Sites {
    pub port: u16,
    track: Arc<Mutex<String>>,
    submissions: Arc<Mutex<Vec<Submission>>>,
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

async fn page(State(s): State<SiteState>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let host = host_of(&headers);
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
            Html(text.replace("{{TRACK}}", &track).replace("{{PORT}}", &s.port.to_string())).into_response()
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
    s.submissions.lock().unwrap().push(Submission { host, path: path.clone(), fields });
    Html(format!("<!doctype html><title>done</title><p id=done>received {path}</p>")).into_response()
}

impl Sites {
    /// Starts the sites on a free port (the tracking URL can be set once the server is up).
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let track = Arc::new(Mutex::new(String::new()));
        let submissions = Arc::new(Mutex::new(Vec::new()));
        let state = SiteState { track: track.clone(), port, submissions: submissions.clone() };
        let app = Router::new().route("/{*path}", get(page).post(submit)).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { port, track, submissions, task })
    }

    /// Points `{{TRACK}}` at the tracking server.
    pub fn set_track(&self, base: &str) {
        *self.track.lock().unwrap() = base.to_owned();
    }

    /// `http://<host>:<port><path>`
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    /// Form posts received so far.
    pub fn submissions(&self) -> Vec<Submission> {
        self.submissions.lock().unwrap().clone()
    }
}
