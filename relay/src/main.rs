//! `mend-relay`: run the relay.
//!
//! ```text
//! mend-relay [serve] [--config FILE] [--listen ADDR] [--storage sqlite://PATH | postgres://...]
//!            [--max-connections N] [--connection-limit N] [--header-timeout SECS]
//!            [--body-timeout SECS] [--address-rate N] [--open-registration]
//!            [--vault-quota BYTES] [--max-devices N] [--max-tombstones N]
//!            [--metrics-listen ADDR] [--log FILTER]
//!            [--log-format text|json] [--erasure-log PATH] [--tls-cert PEM --tls-key PEM]
//! mend-relay issue-token [--storage ...]
//! mend-relay backup --to FILE [--storage sqlite://PATH]
//! mend-relay restored [--storage ...] [--erasure-log PATH]
//! ```
//! Every setting can also come from a TOML file (`--config`, `MEND_RELAY_CONFIG`) or a
//! `MEND_RELAY_*` variable; flags override the environment, which overrides the file
//! (`mend_relay::config`; relay/README.md lists them all).
//!
//! `issue-token` records a new registration token in the store and prints it: the operator gives
//! it to one practice, whose first device presents it to register the vault. `backup` writes a
//! consistent copy of a SQLite store while the relay runs (PostgreSQL: `pg_dump`); `restored`,
//! run once on a store restored from a backup, moves every vault's sequence numbers past any a
//! device may have pulled. With an erasure log, every start (and `restored`) re-applies it to the
//! store first, so a restored backup loses the data erased after it was taken. Logs go to stderr; prints `listening on ADDR` once ready
//! (and `metrics on ADDR` for the Prometheus listener); stops gracefully on SIGTERM or Ctrl-C.

use std::sync::Arc;

use mend_relay::config::{self, Command, Config, LogFormat};
use mend_relay::erasure_log::ErasureLog;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{serve, serve_metrics, serve_tls, Relay};

/// How far `restored` moves each vault's sequence: more than any vault pushes between a backup
/// and its restore (four billion bundles), and 2^31 restores before an `i64` runs out.
const RESTORE_GAP: i64 = 1 << 32;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Reads the TLS certificate and key again at every `SIGHUP` (after a renewal), for new
/// handshakes; a failed reload keeps the certificate in use. Without TLS (or before the
/// certificate is read) a `SIGHUP` is logged and changes nothing.
fn reload_on_hangup(cert: Arc<std::sync::OnceLock<Arc<mend_relay::tls::Certificate>>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        let Some(cert) = cert.get() else {
                            tracing::info!("SIGHUP: no TLS certificate to reload");
                            continue;
                        };
                        match cert.reload() {
                            Ok(()) => tracing::info!("TLS certificate reloaded"),
                            Err(e) => tracing::error!(
                                error = %e,
                                "TLS certificate reload failed; the one in use stays"
                            ),
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "no SIGHUP handler: TLS reload needs a restart"),
        }
    }
    #[cfg(not(unix))]
    let _ = cert;
}

/// Crates whose debug logs would carry stored bytes or ids (tokio-postgres logs each
/// statement's parameters): kept at `info` unless the filter names them itself.
const QUIET: [&str; 2] = ["tokio_postgres", "deadpool"];

fn init_logs(c: &Config) {
    let mut directives = c.log.clone();
    for krate in QUIET.iter().filter(|k| !c.log.contains(*k)) {
        directives.push_str(&format!(",{krate}=info"));
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match c.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
}

#[tokio::main]
async fn main() {
    let c = match config::resolve(
        std::env::args().skip(1),
        |k| std::env::var(k).ok(),
        |p| std::fs::read_to_string(p),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mend-relay: {e}");
            std::process::exit(2);
        }
    };
    init_logs(&c);
    if let Err(e) = run(c).await {
        tracing::error!(error = %e, "mend-relay stopped");
        eprintln!("mend-relay: {e}");
        std::process::exit(2);
    }
}

async fn run(c: Config) -> Result<(), String> {
    // First of all, so that a SIGHUP (`systemctl reload`) never ends the process: its default
    // action would, at any point of the start and on a relay without TLS.
    let certificate = Arc::new(std::sync::OnceLock::new());
    reload_on_hangup(Arc::clone(&certificate));
    let sqlite = c.storage.strip_prefix("sqlite://").map(std::path::Path::new);
    let store: Arc<dyn Store> = match sqlite {
        Some(path) => {
            if let Command::Backup { to } = &c.command {
                // Of a store that exists: a mistyped path is an error, not an empty backup.
                let s = SqliteStore::open_existing(path).map_err(|e| format!("backup: {e}"))?;
                if s.schema_version().await.map_err(|e| format!("backup: {e}"))? == 0 {
                    return Err("backup: the file is not a relay store".into());
                }
                s.backup_to(to).await.map_err(|e| format!("backup: {e}"))?;
                tracing::info!("backup written");
                return Ok(());
            }
            Arc::new(SqliteStore::open(path).map_err(|e| e.to_string())?)
        }
        None if c.storage.starts_with("postgres://") || c.storage.starts_with("postgresql://") => {
            if matches!(c.command, Command::Backup { .. }) {
                return Err("back up a PostgreSQL store with pg_dump (relay/README.md)".into());
            }
            Arc::new(
                PostgresStore::connect(&c.storage, c.max_connections).map_err(|e| e.to_string())?,
            )
        }
        None => return Err("--storage must start with sqlite:// or postgres://".into()),
    };
    store.migrate().await.map_err(|e| e.to_string())?;
    if c.command == Command::IssueToken {
        let token = mend_relay::new_token();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        store.issue_token(mend_relay::token_hash(&token), now).await.map_err(|e| e.to_string())?;
        tracing::info!("registration token issued");
        println!("{token}");
        return Ok(());
    }
    let erasure_log = match &c.erasure_log {
        Some(path) => {
            let log = ErasureLog::open(path).map_err(|e| e.to_string())?;
            let (entries, dropped) =
                ErasureLog::reapply(path, store.as_ref()).await.map_err(|e| e.to_string())?;
            tracing::info!(entries, dropped, "erasure log re-applied");
            if dropped > 0 && c.command != Command::Restored {
                // Bundles under keys the log had dropped: the store is older than the log.
                tracing::warn!(
                    dropped,
                    "the store held erased bundles again: if it was restored from a backup, stop \
                     the relay and run `mend-relay restored` once"
                );
            }
            Some(log)
        }
        None => None,
    };
    if c.command == Command::Restored {
        let vaults = store.advance_sequences(RESTORE_GAP).await.map_err(|e| e.to_string())?;
        tracing::info!(vaults, "sequence numbers moved on after a restore");
        return Ok(());
    }
    let tls = match &c.tls {
        Some((cert, key)) => {
            let cert = mend_relay::tls::Certificate::load(cert, key)?;
            let config = mend_relay::tls::server_config(&cert)?;
            let _ = certificate.set(cert);
            Some(config)
        }
        None => None,
    };
    let relay = Relay::with_erasure_log(store, c.limits, erasure_log);
    let listener = tokio::net::TcpListener::bind(&c.listen)
        .await
        .map_err(|e| format!("bind {}: {e}", c.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = match &c.metrics_listen {
        Some(m) => {
            Some(tokio::net::TcpListener::bind(m).await.map_err(|e| format!("bind {m}: {e}"))?)
        }
        None => None,
    };
    let storage = if c.storage.starts_with("sqlite") { "sqlite" } else { "postgres" };
    tracing::info!(%addr, storage, tls = tls.is_some(), "relay ready");
    // Whoever started the relay may have stopped reading its output: not a reason to stop.
    let say = |line: String| {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    say(format!("listening on {addr}"));
    if let Some(listener) = metrics {
        say(format!("metrics on {}", listener.local_addr().map_err(|e| e.to_string())?));
        let relay = Arc::clone(&relay);
        tokio::spawn(async move {
            // Ends with the process: the API's graceful shutdown is what matters.
            if let Err(e) = serve_metrics(listener, relay, std::future::pending()).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    match tls {
        Some(tls) => serve_tls(listener, relay, tls, shutdown_signal()).await,
        None => serve(listener, relay, shutdown_signal()).await,
    }
    .map_err(|e| e.to_string())
}
