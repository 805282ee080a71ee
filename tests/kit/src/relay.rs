//! Relays on loopback and the relay stores under test.
//!
//! [`serve`] runs the relay in this process on a background runtime; [`RelayProcess`] runs the
//! `mend-relay` binary, for tests that kill and restart it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};

use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{Limits, Relay};

/// A relay running on a background runtime; stops when dropped.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The store it serves.
    pub store: Arc<dyn Store>,
    /// The relay itself (its metrics).
    pub relay: Arc<Relay>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `store` (migrated first) on a free loopback port, on a two-worker runtime of its own.
pub fn serve(store: Arc<dyn Store>, limits: Limits) -> Running {
    serve_relay(Relay::new(Arc::clone(&store), limits), store)
}

/// Serves `relay` (made over `store`, as with [`Relay::with_erasure_log`]) like [`serve`].
pub fn serve_relay(relay: Arc<Relay>, store: Arc<dyn Store>) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let s = Arc::clone(&store);
    let r = Arc::clone(&relay);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("relay runtime");
        rt.block_on(async move {
            s.migrate().await.expect("migrate the store");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addr_tx.send(listener.local_addr().expect("local address")).expect("report address");
            mend_relay::serve(listener, r, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    let addr = addr_rx.recv().expect("the relay started");
    Running {
        url: format!("http://{addr}"),
        store,
        relay,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// The default limits with every rate limit out of the way and open registration: for load
/// benches, where the devices are the load and not an attack.
pub fn unthrottled() -> Limits {
    Limits {
        rate_burst: 1e9,
        rate_per_sec: 1e9,
        address_burst: 1e9,
        address_per_sec: 1e9,
        open_registration: true,
        ..Limits::default()
    }
}

/// A SQLite store in `dir` (`relay.db`).
pub fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("relay.db")).expect("open the SQLite store"))
}

/// The PostgreSQL store of the test cluster that `scripts/test.sh` provisions
/// (`MEND_TEST_POSTGRES_URL`). Each call gets a fresh database so tests stay independent.
pub fn postgres() -> Arc<dyn Store> {
    let url = std::env::var("MEND_TEST_POSTGRES_URL").expect(
        "MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    );
    postgres_store(&url, "mend_test", 8)
}

/// A PostgreSQL store in a fresh database `<prefix>_<uuid>` created on the server at `url`, so
/// nothing else there is touched; `pool` connections.
pub fn postgres_store(url: &str, prefix: &str, pool: usize) -> Arc<dyn Store> {
    let db = postgres_database(url, prefix);
    Arc::new(PostgresStore::connect(&db, pool).expect("connect the store"))
}

/// Creates a fresh database `<prefix>_<uuid>` on the server at `url`; returns its URL.
pub fn postgres_database(url: &str, prefix: &str) -> String {
    let db = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    block_on(async {
        let (client, conn) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create database");
    });
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).expect("a URL with a database");
    format!("{base}/{db}")
}

/// Runs `f` to completion on a new current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// A throwaway PostgreSQL cluster started by `scripts/postgres.sh` (Debian's postgresql, as
/// root); stopped and removed when dropped.
pub struct Cluster {
    /// The connection URL of its `postgres` database.
    pub url: String,
    dir: String,
}

impl Cluster {
    /// Starts one, or `None` if none could be started here.
    pub fn start() -> Option<Cluster> {
        Self::start_with("off")
    }

    /// Starts one that syncs every commit to disk (`fsync` on, as a production server runs),
    /// for benchmarks that compare it with the SQLite store, which syncs every commit too.
    pub fn start_durable() -> Option<Cluster> {
        Self::start_with("on")
    }

    fn start_with(fsync: &str) -> Option<Cluster> {
        let out = Command::new("bash")
            .arg(postgres_script())
            .arg("start")
            .env("MEND_PG_FSYNC", fsync)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let get = |k: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(&format!("export {k}='"))
                    .map(|v| v.trim_end_matches('\'').to_string())
            })
        };
        Some(Cluster { dir: get("MEND_PG_DIR")?, url: get("MEND_TEST_POSTGRES_URL")? })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(postgres_script()).args(["stop", &self.dir]).status();
    }
}

fn postgres_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

/// A free loopback port (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The `mend-relay` binary, built on first use.
///
/// `MEND_RELAY_BIN` names one to use as it is. Otherwise the binary is built (`cargo build -p
/// mend-relay --bin mend-relay`, a no-op when it is fresh) into the target directory and profile
/// of the running test executable (`target/<profile>/deps/<test>`), so it is never stale. Cargo
/// hands `CARGO_BIN_EXE_<name>` only to the crate that owns the binary; this is how other crates'
/// tests run it.
pub fn relay_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("MEND_RELAY_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("the test executable's path");
        let mut out = exe.parent().expect("the test executable's folder");
        if out.ends_with("deps") {
            out = out.parent().expect("the profile folder");
        }
        let profile =
            out.file_name().and_then(|p| p.to_str()).expect("a profile folder").to_owned();
        let target = out.parent().expect("the target folder");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", "mend-relay", "--bin", "mend-relay", "--target-dir"])
            .arg(target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("run cargo to build mend-relay");
        assert!(status.success(), "building mend-relay failed ({status})");
        out.join(format!("mend-relay{}", std::env::consts::EXE_SUFFIX))
    })
    .clone()
}

/// The `mend-relay` binary ([`relay_bin`]) serving a SQLite or PostgreSQL store on a loopback
/// port; killed (SIGKILL) when dropped.
pub struct RelayProcess {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    storage: String,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl RelayProcess {
    /// Starts the binary on the SQLite store `db` and `port` and waits until it says it is
    /// listening.
    pub fn start(db: &Path, port: u16) -> RelayProcess {
        RelayProcess::start_storage(&format!("sqlite://{}", db.display()), port)
    }

    /// Starts the binary on `storage` (`sqlite://PATH` or `postgres://URL`) and `port`.
    pub fn start_storage(storage: &str, port: u16) -> RelayProcess {
        RelayProcess::start_with(storage, port, &[])
    }

    /// Starts the binary on `storage` and `port` with more flags (kept for restarts).
    pub fn start_with(storage: &str, port: u16, args: &[&str]) -> RelayProcess {
        let mut p = RelayProcess {
            url: format!("http://127.0.0.1:{port}"),
            storage: storage.to_owned(),
            port,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        p.restart();
        p
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Sends the process `SIGHUP` (the relay reads its TLS certificate again).
    pub fn hang_up(&self) {
        let child = self.child.as_ref().expect("the relay is running");
        let ok = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -HUP failed");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process (SIGKILL) and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill the relay");
            c.wait().expect("wait for the relay");
        }
    }

    /// Starts the binary again on the same store and port (after [`RelayProcess::kill`]).
    pub fn restart(&mut self) {
        let mut child = Command::new(relay_bin())
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--storage", &self.storage])
            // A solo therapist's relay: vaults register without an operator's token.
            .arg("--open-registration")
            .args(&self.args)
            .env("MEND_RELAY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mend-relay");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("read its first line");
        assert!(line.starts_with("listening on"), "{line}");
        self.child = Some(child);
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
