//! A real PostgreSQL server for tests, started by the tests themselves: `initdb` and `postgres` from
//! Debian's `postgresql` package in a temporary folder, on a free port, as the `postgres` user when
//! run as root (initdb refuses root). A watchdog stops it when the test process ends. Each test
//! gets a fresh database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One cluster per test process. Its data is removed by the watchdog when the process ends.
pub struct PgCluster {
    pub port: u16,
    /// The watchdog shell that runs the server; it outlives us on purpose only until we exit.
    _watchdog: std::process::Child,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().expect("PostgreSQL is not installed (apt-get install postgresql)")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the `postgres` user when we are root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// The shared cluster, started on first use.
pub fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| start(true))
}

/// Starts a cluster; `fast` turns off fsync (tests), benchmarks keep it on.
pub fn start(fast: bool) -> PgCluster {
    let bin = bin_dir();
    let dir = tempfile::Builder::new().prefix("rtpg").tempdir().expect("temp dir");
    let data = dir.path().join("data");
    if is_root() {
        let status = Command::new("chown").arg("-R").arg("postgres").arg(dir.path()).status().expect("chown");
        assert!(status.success(), "chown the cluster folder to postgres");
    }
    let init = as_owner(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "reftrack", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .output()
        .expect("run initdb");
    assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fsync = if fast { "off" } else { "on" };
    // The watchdog ends the server when this test process is gone (statics are never dropped).
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{sock}' -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=200 \
         -c shared_buffers=128MB >'{sock}/log' 2>&1 & pid=$!; while [ -d /proc/{parent} ] && kill -0 $pid 2>/dev/null; do sleep 1; done; kill $pid 2>/dev/null; \
         while kill -0 $pid 2>/dev/null; do sleep 0.2; done; rm -rf '{sock}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        sock = dir.path().display(),
        parent = std::process::id(),
    );
    let watchdog =
        as_owner(Path::new("/bin/sh")).arg("-c").arg(script).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "PostgreSQL did not start: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    PgCluster { port, _watchdog: watchdog, _dir: dir }
}

impl PgCluster {
    /// `postgres://reftrack@127.0.0.1:PORT/NAME`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://reftrack@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database.
    pub async fn create_database(&self) -> String {
        use sqlx::Connection;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut conn = loop {
            match sqlx::PgConnection::connect(&self.url("postgres")).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("connecting to the test cluster: {e}"),
            }
        };
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
        self.url(&name)
    }
}
