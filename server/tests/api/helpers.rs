use reftrack_protocol::signature::Secret;
use reftrack_server::clock::Clock;
use reftrack_server::configuration::{DatabaseArgs, ServeArgs, Settings};
use reftrack_server::startup::Application;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";
pub const MERCHANT_ORIGIN: &str = "https://www.merchant.test";
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// A running server with its own database (SQLite file or PostgreSQL): the `reftrack serve`
/// process, killed on drop, or — where a test moves time — the application in this process on a
/// manual clock, still over real HTTP.
pub struct TestApp {
    child: Option<Child>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The manual clock of an in-process app; `None`: the system clock.
    pub clock: Option<Clock>,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub database_url: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Serve flags as the binary would read them, for an app built in this process.
#[derive(clap::Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// The application in this process on `clock`, seeded like [`spawn_seeded_app`]: tests that move
/// time (refund windows, click windows) use it.
pub async fn spawn_app_on_clock(clock: Clock) -> TestApp {
    spawn_app_on_clock_with(clock, &[]).await
}

/// As [`spawn_app_on_clock`], with more flags.
pub async fn spawn_app_on_clock_with(clock: Clock, flags: &[&str]) -> TestApp {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let database_url = new_database(&dir).await;
    let www = dir.path().join("www");
    let args = ["reftrack", "--listen", "127.0.0.1:0", "--database", &database_url, "--signing-secrets", SECRET, "--admin-key", ADMIN_KEY];
    let flags = Flags::parse_from(args.iter().copied().chain(["--www-dir", www.to_str().unwrap()]).chain(flags.iter().copied()));
    let settings = Settings::from_args(&flags.serve, &flags.db).unwrap();
    let app = Application::build_with_clock(settings, clock.clone()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let task = tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder().redirect(Policy::none()).user_agent(CHROME).build().unwrap();
    let app = TestApp { child: None, task: Some(task), clock: Some(clock), base, client, dir, database_url };
    app.seed().await;
    app
}

/// Unix seconds as RFC 3339.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Runs the binary with `args` against `database_url`, waiting for it to finish.
pub fn run_cli(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reftrack")).arg("--database").arg(database_url).args(args).output().expect("run reftrack")
}

/// A new, empty database of the backend under test.
pub async fn new_database(dir: &TempDir) -> String {
    reftrack_testkit::Backend::from_env().new_database(dir.path()).await
}

/// Starts the server with the given extra environment.
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = new_database(&dir).await;
    spawn_app_at(dir, url, env).await
}

/// Stops `app` and starts the server again on the same database.
pub async fn restart(mut app: TestApp) -> TestApp {
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let url = app.database_url.clone();
    drop(app);
    spawn_app_at(dir, url, &[]).await
}

pub async fn spawn_app_at(dir: TempDir, database_url: String, env: &[(&str, &str)]) -> TestApp {
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("dist")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reftrack"));
    cmd.arg("serve")
        .env("REFTRACK_LISTEN", "127.0.0.1:0")
        .env("REFTRACK_DATABASE_URL", &database_url)
        .env("REFTRACK_SIGNING_SECRETS", SECRET)
        .env("REFTRACK_ADMIN_KEY", ADMIN_KEY)
        .env("REFTRACK_METRICS_TOKEN", METRICS_TOKEN)
        .env("REFTRACK_ALLOWED_ORIGINS", MERCHANT_ORIGIN)
        .env("REFTRACK_WWW_DIR", &www)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start reftrack");
    let stdout = child.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("reftrack exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("reftrack listening on ") {
                // Keep draining so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return url.to_owned();
            }
        }
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder().redirect(Policy::none()).user_agent(CHROME).build().unwrap();
    TestApp { child: Some(child), task: None, clock: None, base, client, dir, database_url }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A server with program `standard` (30 %, 30 days), partners jane and john, and link `offer`.
pub async fn spawn_seeded_app() -> TestApp {
    let app = spawn_app().await;
    app.seed().await;
    app
}

impl TestApp {
    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a server process").id()
    }

    /// Kills the server process at once (SIGKILL: what an out-of-memory kill does).
    pub fn kill_now(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the server to stop (SIGTERM) and waits for it to exit, answering how long that took.
    pub fn terminate(&mut self) -> std::time::Duration {
        let started = std::time::Instant::now();
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
        let _ = self.child.as_mut().unwrap().wait();
        started.elapsed()
    }

    /// The server process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Now, in unix seconds, by the app's clock.
    pub fn now(&self) -> i64 {
        self.clock.as_ref().map_or_else(now, Clock::now_secs)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(ADMIN_KEY).json(&body).send().await.unwrap()
    }

    pub async fn seed(&self) {
        let r = self.admin_post("/v1/admin/programs", json!({"code":"standard","name":"Standard","rate_bps":3000,"window_days":30})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        for code in ["jane", "john"] {
            let r = self
                .admin_post(
                    "/v1/admin/partners",
                    json!({"code":code,"name":code,"email":format!("{code}@partners.example"),"programs":["standard"]}),
                )
                .await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        let r = self
            .admin_post(
                "/v1/admin/links",
                json!({"code":"offer","destination":"https://www.merchant.test/offer?utm=x#buy","programs":["standard"]}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    pub async fn follow(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Follows a tracking link as a browser and returns the click id from the redirect.
    pub async fn click(&self, partner: &str, sub_id: Option<&str>) -> String {
        let sid = sub_id.map(|s| format!("&sid={s}")).unwrap_or_default();
        let r = self.follow(&format!("/go/offer?aff={partner}{sid}")).await;
        assert_eq!(r.status(), 302);
        click_from(r.headers()).expect("the redirect carries rt_click")
    }

    pub async fn signed_post(&self, path: &str, body: &[u8], msg_id: &str, timestamp: i64) -> reqwest::Response {
        let secret = Secret::parse(SECRET).unwrap();
        let mut req = self.client.post(self.url(path)).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in secret.headers(msg_id, timestamp, body) {
            req = req.header(name, value);
        }
        req.send().await.unwrap()
    }

    pub async fn post_order(&self, order: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(order).unwrap();
        let id = format!("msg_{}", order["order_id"].as_str().unwrap());
        self.signed_post("/v1/orders", &body, &id, self.now()).await
    }

    pub async fn post_refund(&self, refund: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(refund).unwrap();
        let id = format!("msg_{}", refund["refund_id"].as_str().unwrap());
        self.signed_post("/v1/refunds", &body, &id, self.now()).await
    }

    pub async fn stats(&self, partner: &str) -> Value {
        let r = self.client.get(self.url(&format!("/v1/partners/{partner}/stats"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// GETs `path` with `bearer` and reads a 200's JSON body.
    pub async fn get_json(&self, path: &str, bearer: &str) -> Value {
        // A GET is idempotent: sent again once when the pooled connection was closed under it (the
        // server closes a connection after refusing an oversized body without reading it).
        let r = match self.client.get(self.url(path)).bearer_auth(bearer).send().await {
            Ok(r) => r,
            Err(_) => self.client.get(self.url(path)).bearer_auth(bearer).send().await.unwrap(),
        };
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        let r = self.client.get(self.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }
}

/// The `rt_click` value appended to a redirect's Location.
pub fn click_from(headers: &HeaderMap) -> Option<String> {
    let location = url::Url::parse(headers.get(LOCATION)?.to_str().ok()?).ok()?;
    location.query_pairs().find(|(k, _)| k == "rt_click").map(|(_, v)| v.into_owned())
}

pub fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_owned())
}

/// A canonical order of one $99 course.
pub fn order(id: &str, click: Option<&str>, email: &str) -> Value {
    let mut attribution = json!({});
    if let Some(c) = click {
        attribution["click_id"] = json!(c);
    }
    json!({
        "order_id": id,
        "occurred_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
        "currency": "USD",
        "items": [{"sku": "course", "name": "The Course", "quantity": 1, "unit_price_minor": 9900}],
        "total_minor": 9900,
        "customer": {"email": email},
        "attribution": attribution,
        "source": "api"
    })
}

pub async fn error_code(r: reqwest::Response) -> String {
    let body: Value = r.json().await.expect("error bodies are JSON");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {body}");
    body["error"].as_str().unwrap().to_owned()
}
