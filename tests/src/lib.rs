//! The end-to-end harness: real `reftrack` (and `reftrack-connector`) processes on random ports,
//! the fixture "sites" served on one port under distinct host names, and a real headless Chromium
//! driven over WebDriver with `*.test` mapped to 127.0.0.1, so cookies, SameSite and CORS behave
//! as between real domains.

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder};
use reftrack_protocol::signature::Secret;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub use reftrack_testkit::postgres;
pub mod sites;
pub mod tls;

/// The signing secret the server accepts and the tests (or the connector) sign with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The admin key of test servers.
pub const ADMIN_KEY: &str = "e2e-admin-key-0123456789";
/// The `/metrics` bearer token of test servers.
pub const METRICS_TOKEN: &str = "e2e-metrics-token-0123456789";

/// The workspace root: `cargo test` and `cargo run` set `CARGO_MANIFEST_DIR` for the run too,
/// which is right even when two checkouts share one target folder; the compile-time path only
/// for a binary run by hand.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().expect("tests/ is in the workspace").to_path_buf()
}

/// Builds the binaries once per test process and returns the folder holding them.
pub fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The benchmark builds release binaries itself and points here.
        if let Some(dir) = std::env::var_os("REFTRACK_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "reftrack-server", "-p", "reftrack-connector", "--bins"])
            .current_dir(root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
        target.join("debug")
    })
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed on drop.
pub struct Process {
    child: Child,
    /// Lines the process printed on stdout after its "listening" line.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// The process id (for `/proc/PID` and profilers).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process as an operator would (SIGTERM) and waits up to `patience` for it to
    /// exit by itself, failing if it did not or exited unsuccessfully (SIGKILL on drop after that).
    pub fn terminate(mut self, patience: Duration) -> Result<()> {
        let pid = self.child.id();
        let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().context("running kill")?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait()? {
                anyhow::ensure!(exit.success(), "process {pid} stopped with {exit} after SIGTERM");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("process {pid} was still running {patience:?} after SIGTERM")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd`, waiting for a stdout line starting with `ready_prefix`; returns the rest of it.
pub fn spawn_until(mut cmd: Command, ready_prefix: &str) -> Result<(Process, String)> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let rest = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(rest) = line.strip_prefix(ready_prefix) {
                    break rest.to_owned();
                }
            }
            _ => bail!("{cmd:?} exited before printing {ready_prefix:?}"),
        }
    };
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Ok((Process { child, output }, rest))
}

/// Starts `cmd` (its output discarded) and waits until it accepts connections on `port` of loopback.
pub fn spawn_listening(mut cmd: Command, port: u16) -> Result<Process> {
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut process = Process { child, output: Arc::default() };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(exit) = process.child.try_wait()? {
            bail!("{cmd:?} exited with {exit} before listening on port {port}");
        }
        if Instant::now() > deadline {
            bail!("{cmd:?} did not listen on port {port} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(process)
}

/// A running tracking server with its own database.
pub struct TrackServer {
    pub process: Process,
    /// `https://track.merchant.test:PORT`, through the test TLS terminator.
    pub base: String,
    pub port: u16,
    pub dir: TempDir,
    _tls: Option<tls::Front>,
}

impl TrackServer {
    /// Starts `reftrack serve` for `track.merchant.test`, allowing the sites' origins.
    pub fn start(sites_port: u16) -> Result<Self> {
        Self::start_in(tempfile::tempdir()?, free_port(), sites_port)
    }

    /// Starts the server for the browser: behind TLS at `https://track.merchant.test:PORT`, with
    /// Secure cookies on `merchant.test`, allowing the https sites on `sites_tls_port`.
    pub async fn start_tls(sites_tls_port: u16) -> Result<Self> {
        Self::start_tls_with(sites_tls_port, &[]).await
    }

    /// [`TrackServer::start_tls`] with extra `REFTRACK_*` settings (`REFTRACK_COOKIES=off`).
    pub async fn start_tls_with(sites_tls_port: u16, env: &[(&str, &str)]) -> Result<Self> {
        let port = free_port();
        let front = tls::Front::start(port).await?;
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("reftrack.db").display());
        let public = format!("https://track.merchant.test:{}", front.port);
        let mut server = Self::spawn(dir, &url, port, "https", sites_tls_port, &public, env)?;
        server._tls = Some(front);
        Ok(server)
    }

    /// Stops the process (SIGKILL) and starts it again on the same port and database.
    pub fn restart(self, sites_port: u16) -> Result<Self> {
        let TrackServer { process, port, dir, .. } = self;
        drop(process);
        Self::start_in(dir, port, sites_port)
    }

    /// Stops the server, keeping its database and port for [`TrackServer::start_in`].
    pub fn stop(self) -> (TempDir, u16) {
        let TrackServer { process, port, dir, .. } = self;
        drop(process);
        (dir, port)
    }

    /// Starts on `port` with the database in `dir`.
    pub fn start_in(dir: TempDir, port: u16, sites_port: u16) -> Result<Self> {
        let url = format!("sqlite://{}", dir.path().join("reftrack.db").display());
        Self::start_with(dir, &url, port, sites_port)
    }

    /// Starts on `port` with the database at `database_url` (several servers may share one).
    pub fn start_with(dir: TempDir, database_url: &str, port: u16, sites_port: u16) -> Result<Self> {
        Self::start_with_env(dir, database_url, port, sites_port, &[])
    }

    /// [`TrackServer::start_with`] with extra `REFTRACK_*` settings, which win over the harness's.
    pub fn start_with_env(dir: TempDir, database_url: &str, port: u16, sites_port: u16, env: &[(&str, &str)]) -> Result<Self> {
        Self::spawn(dir, database_url, port, "http", sites_port, &format!("http://track.merchant.test:{port}"), env)
    }

    /// Stops the server gracefully (SIGTERM: it finishes requests and writes what is queued),
    /// keeping its database; fails if it did not exit cleanly within `patience`.
    pub fn shutdown(self, patience: Duration) -> Result<TempDir> {
        let TrackServer { process, port, dir, .. } = self;
        process.terminate(patience).with_context(|| format!("stopping the server on port {port}"))?;
        Ok(dir)
    }

    fn spawn(
        dir: TempDir,
        database_url: &str,
        port: u16,
        scheme: &str,
        sites_port: u16,
        public: &str,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        // Only the merchant's own site is configured: third-party tools and checkouts must work
        // without being listed (they look clicks up by id).
        let origins = format!("{scheme}://www.merchant.test:{sites_port}");
        let mut cmd = Command::new(binaries().join("reftrack"));
        cmd.arg("serve")
            .env("REFTRACK_LISTEN", format!("127.0.0.1:{port}"))
            .env("REFTRACK_DATABASE_URL", database_url)
            .env("REFTRACK_PUBLIC_URL", public)
            .env("REFTRACK_COOKIE_DOMAIN", "merchant.test")
            .env("REFTRACK_ALLOWED_ORIGINS", origins)
            .env("REFTRACK_SIGNING_SECRETS", SECRET)
            .env("REFTRACK_ADMIN_KEY", ADMIN_KEY)
            .env("REFTRACK_METRICS_TOKEN", METRICS_TOKEN)
            .env("REFTRACK_WWW_DIR", root().join("www"))
            // Every test and load generator clicks from 127.0.0.1: a limit that is never reached
            // keeps the flood check on the click path (and in the benchmarks) without tripping it.
            .env("REFTRACK_CLICK_FLOOD_LIMIT", "1000000000")
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (process, _) = spawn_until(cmd, "reftrack listening on ")?;
        Ok(Self { process, base: public.to_owned(), port, dir, _tls: None })
    }

    /// The server's own loopback URL (for the test's HTTP calls, which do not resolve `*.test`).
    pub fn local(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Program `standard` (30 %, 60 days), partners jane and john, link `demo` to the landing page.
    pub async fn seed(&self, landing: &str) -> Result<()> {
        let client = reqwest::Client::new();
        let post = |path: &str, body: Value| client.post(self.local(path)).bearer_auth(ADMIN_KEY).json(&body).send();
        let r = post("/v1/admin/programs", json!({"code":"standard","rate_bps":3000,"window_days":60})).await?;
        anyhow::ensure!(r.status() == 201, "program: {}", r.text().await?);
        for code in ["jane", "john"] {
            let body = json!({"code":code,"name":code,"email":format!("{code}@partners.example"),"programs":["standard"]});
            let r = post("/v1/admin/partners", body).await?;
            anyhow::ensure!(r.status() == 201, "partner: {}", r.text().await?);
        }
        self.add_link(json!({"code":"demo","destination":landing,"programs":["standard"]})).await
    }

    /// Adds a tracking link (`{"code", "destination", …}`) through the admin API.
    pub async fn add_link(&self, link: Value) -> Result<()> {
        let r = reqwest::Client::new().post(self.local("/v1/admin/links")).bearer_auth(ADMIN_KEY).json(&link).send().await?;
        anyhow::ensure!(r.status() == 201, "link: {}", r.text().await?);
        Ok(())
    }

    /// A partner's stats, as the admin sees them.
    pub async fn stats(&self, partner: &str) -> Result<Value> {
        let r = reqwest::Client::new().get(self.local(&format!("/v1/partners/{partner}/stats"))).bearer_auth(ADMIN_KEY).send().await?;
        Ok(r.error_for_status()?.json().await?)
    }

    /// Posts a signed canonical order as a merchant's own code would.
    pub async fn post_order(&self, order: &Value) -> Result<Value> {
        let id = format!("msg_{}", order["order_id"].as_str().unwrap_or("x"));
        self.signed_post("/v1/orders", &id, order).await
    }

    /// Posts a signed lead as the connector forwards a tool's opt-in.
    pub async fn post_lead(&self, lead: &Value) -> Result<Value> {
        let id = format!("msg_lead_{}", lead["lead_id"].as_str().unwrap_or("x"));
        self.signed_post("/v1/leads", &id, lead).await
    }

    async fn signed_post(&self, path: &str, id: &str, value: &Value) -> Result<Value> {
        let body = serde_json::to_vec(value)?;
        let secret = Secret::parse(SECRET)?;
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut req = reqwest::Client::new().post(self.local(path)).body(body.clone());
        for (k, v) in secret.headers(id, ts, &body) {
            req = req.header(k, v);
        }
        Ok(req.send().await?.error_for_status()?.json().await?)
    }
}

/// One chromedriver per test process.
fn chromedriver() -> &'static str {
    static URL: OnceLock<(Mutex<Process>, String)> = OnceLock::new();
    let (_, url) = URL.get_or_init(|| {
        let port = free_port();
        // Statics are never dropped: a watchdog stops chromedriver (and its browsers) when this
        // test process is gone, so test runs leave nothing behind.
        let script = format!(
            "chromedriver --port={port} & pid=$!; while [ -d /proc/{parent} ] && kill -0 $pid 2>/dev/null; do sleep 1; done; kill $pid 2>/dev/null",
            parent = std::process::id()
        );
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().expect("start chromedriver (apt-get install chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        (Mutex::new(Process { child, output: Default::default() }), url)
    });
    url
}

/// What a browser does with cookies, set explicitly (a fresh Debian Chromium profile blocks
/// third-party cookies; Chrome as shipped allows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookies {
    /// Chrome's default: first- and third-party cookies.
    ThirdPartyAllowed,
    /// First-party cookies only (Safari, Firefox's partitioning, Chrome's incognito).
    ThirdPartyBlocked,
    /// No cookies and no script storage at all.
    Off,
}

/// Host names the browser resolves to loopback besides `*.test`: the real tools whose embeds and
/// links the snippet recognises by host, served by the fixture sites (nothing leaves the machine).
pub const TOOL_HOSTS: &[&str] = &["tally.so", "form.typeform.com", "calendly.com"];

/// A fresh headless Chromium (its own profile) with `*.test` resolving to loopback.
pub struct Browser {
    pub client: Client,
    _profile: TempDir,
}

impl Browser {
    /// Starts a browser; `block_cookies` makes it refuse all cookies, else it refuses third-party
    /// ones only (as Safari and Firefox do).
    pub async fn start(block_cookies: bool) -> Result<Self> {
        Self::start_with(if block_cookies { Cookies::Off } else { Cookies::ThirdPartyBlocked }).await
    }

    /// Starts a browser with the given cookie condition.
    pub async fn start_with(cookies: Cookies) -> Result<Self> {
        // WebDriver is plain HTTP, but the client's TLS stack needs a provider chosen once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let profile = tempfile::tempdir()?;
        // `cookie_controls_mode`: 0 allows third-party cookies, 2 blocks them (the tests assert which
        // is in force with a cross-site frame, `www.merchant.test/probe.html`).
        let prefs = match cookies {
            Cookies::ThirdPartyAllowed => json!({"profile.cookie_controls_mode": 0, "profile.block_third_party_cookies": false}),
            Cookies::ThirdPartyBlocked => json!({"profile.cookie_controls_mode": 2, "profile.block_third_party_cookies": true}),
            Cookies::Off => json!({"profile.default_content_setting_values.cookies": 2}),
        };
        let resolve = std::iter::once("MAP *.test 127.0.0.1".to_owned())
            .chain(TOOL_HOSTS.iter().map(|h| format!("MAP {h} 127.0.0.1")))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<String> = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            &format!("--host-resolver-rules={resolve}"),
            "--window-size=1280,900",
            // The sites' certificate is made at test time and signed by nobody.
            "--ignore-certificate-errors",
            // A visitor's browser: the server rightly does not count HeadlessChrome as a person.
            "--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
            &format!("--user-data-dir={}", profile.path().display()),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        if cookies == Cookies::ThirdPartyBlocked {
            // Chromium 156 keeps allowing them under the preference alone (the probe page shows it);
            // this switch blocks them as Chrome's third-party-cookie phase-out does.
            args.push("--test-third-party-cookie-phaseout".to_owned());
        }
        let caps = json!({
            "goog:chromeOptions": {
                "binary": which_chromium(),
                "args": args,
                "prefs": prefs,
            },
            // The console, read by `console_errors`.
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let caps = caps.as_object().unwrap().clone();
        let client = ClientBuilder::rustls()?.capabilities(caps).connect(chromedriver()).await.context("WebDriver session")?;
        Ok(Self { client, _profile: profile })
    }

    /// Opens `url` and waits until the snippet has started (or `timeout` passes).
    pub async fn open(&self, url: &str) -> Result<()> {
        self.client.goto(url).await?;
        self.wait_for("return typeof window.reftrack === 'function'").await
    }

    /// Runs `script` (which may return a Promise) and returns its value.
    pub async fn eval(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Polls `script` until it returns true, for up to 10 s.
    pub async fn wait_for(&self, script: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.eval(script).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for: {script}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Errors the browser's console logged since the last call (failed requests, CORS refusals,
    /// uncaught exceptions), from chromedriver's log; a missing favicon is not an error.
    pub async fn console_errors(&self) -> Result<Vec<String>> {
        let logs = self.client.issue_cmd(BrowserLog).await?;
        let entries = logs.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter_map(|e| e["message"].as_str())
            .filter(|m| !m.contains("favicon.ico"))
            .map(str::to_owned)
            .collect())
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.client.screenshot().await?)?;
        Ok(())
    }

    /// Saves a PNG of the whole page, growing the window to the page's height first.
    pub async fn full_page_screenshot(&self, path: &Path) -> Result<()> {
        let height = self.eval("return document.documentElement.scrollHeight").await?.as_u64().unwrap_or(900);
        self.client.set_window_size(1280, height.clamp(600, 6000) as u32 + 100).await?;
        self.screenshot(path).await
    }

    /// Ends the session.
    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// chromedriver's log of the browser's console (`goog:loggingPrefs`).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

fn which_chromium() -> String {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    "chromium".to_owned()
}

/// Fails early with a clear message when the snippet has not been built.
pub fn require_snippet() {
    let dist = root().join("www/dist");
    assert!(
        dist.join("reftrack.js").exists() && dist.join("reftrack_bg.wasm").exists(),
        "the snippet is not built: run `cargo xtask snippet` (the README's test command does)"
    );
}

/// A tracking server, the fixture sites and a browser, wired together.
pub struct Lab {
    pub sites: sites::Sites,
    pub track: TrackServer,
    pub browser: Browser,
}

impl Lab {
    /// Everything up, seeded, with a fresh browser (`block_cookies` for a cookie-refusing one).
    pub async fn start(block_cookies: bool) -> Result<Self> {
        Self::start_with(if block_cookies { Cookies::Off } else { Cookies::ThirdPartyBlocked }, &[]).await
    }

    /// Everything up with a browser of the given cookie condition and a server with extra settings.
    pub async fn start_with(cookies: Cookies, server_env: &[(&str, &str)]) -> Result<Self> {
        require_snippet();
        let sites = sites::Sites::start().await?;
        let track = TrackServer::start_tls_with(sites.tls_port, server_env).await?;
        sites.set_track(&track.base);
        track.seed(&sites.url("www.merchant.test", "/landing.html")).await?;
        let browser = Browser::start_with(cookies).await?;
        Ok(Self { sites, track, browser })
    }

    /// Follows partner `aff`'s tracking link in the browser and waits for the landing page.
    pub async fn click(&self, aff: &str, sid: Option<&str>) -> Result<String> {
        let sid = sid.map(|s| format!("&sid={s}")).unwrap_or_default();
        self.browser.open(&format!("{}/go/demo?aff={aff}{sid}", self.track.base)).await?;
        let found = self.browser.eval("return reftrack.affiliate().then(function (a) { return a && a.clickId; })").await?;
        found.as_str().map(str::to_owned).context("no click captured")
    }

    /// Errors the page reported (uncaught exceptions and unhandled rejections).
    pub async fn page_errors(&self) -> Result<Value> {
        self.browser.eval("return window.__errors || []").await
    }

    /// Polls a stats figure until it reaches `want` (beacons arrive asynchronously).
    pub async fn wait_for_stat(&self, partner: &str, key: &str, want: i64) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.track.stats(partner).await?;
            if stats[key].as_i64() == Some(want) {
                return Ok(stats);
            }
            if Instant::now() > deadline {
                bail!("{partner}'s {key} is {} (wanted {want}): {stats}", stats[key]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A running `reftrack-connector serve`.
pub struct ConnectorProcess {
    pub process: Process,
    pub base: String,
}

/// The cart secrets the test connector is configured with.
pub const STRIPE_SECRET: &str = "whsec_stripe_test_secret_for_e2e";
pub const SHOPIFY_SECRET: &str = "shpss_test_client_secret";
pub const WOOCOMMERCE_SECRET: &str = "woo-webhook-secret";
pub const PADDLE_SECRET: &str = "pdl_ntfset_01test_secret";
pub const GENERIC_SECRET: &str = "whsec_Z2VuZXJpYy1tZXJjaGFudC1zZWNyZXQ=";

impl ConnectorProcess {
    /// Starts the connector forwarding to `backend` with its outbox at `outbox`; `env` overrides.
    pub fn start(backend: &str, outbox: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let mut cmd = Command::new(binaries().join("reftrack-connector"));
        cmd.arg("serve")
            .env("REFTRACK_CONNECTOR_LISTEN", "127.0.0.1:0")
            .env("REFTRACK_BACKEND_URL", backend)
            .env("REFTRACK_SIGNING_SECRET", SECRET)
            .env("REFTRACK_OUTBOX", outbox)
            .env("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
            .env("SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET)
            .env("WOOCOMMERCE_WEBHOOK_SECRET", WOOCOMMERCE_SECRET)
            .env("PADDLE_WEBHOOK_SECRET", PADDLE_SECRET)
            .env("GENERIC_WEBHOOK_SECRET", GENERIC_SECRET)
            .env("REFTRACK_RETRY_MIN_MS", "100")
            .env("REFTRACK_RETRY_MAX_MS", "500")
            .env("RUST_LOG", "error");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (process, base) = spawn_until(cmd, "reftrack-connector listening on ")?;
        Ok(Self { process, base })
    }

    /// Runs a `reftrack-connector` subcommand on the same outbox and returns its stdout.
    pub fn cli(outbox: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let mut cmd = Command::new(binaries().join("reftrack-connector"));
        cmd.arg("--outbox").arg(outbox).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output()?;
        anyhow::ensure!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8(out.stdout)?)
    }
}

/// Follows a tracking link as a visitor's browser would, without following the redirect.
pub async fn click(track: &TrackServer, aff: &str) -> Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36")
        .build()?;
    let r = client.get(track.local(&format!("/go/demo?aff={aff}"))).send().await?;
    let location = r.headers().get(reqwest::header::LOCATION).context("no redirect")?.to_str()?.to_owned();
    let url = url::Url::parse(&location)?;
    url.query_pairs().find(|(k, _)| k == "rt_click").map(|(_, v)| v.into_owned()).context("no click in the redirect")
}

/// Polls `check` until it yields a value, for up to `secs` seconds.
pub async fn poll<T, F, Fut>(secs: u64, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(Some(value)) = check().await {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until `check` holds, for up to `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
