//! `mend-relay`: run the relay.
//!
//! ```text
//! mend-relay [--listen ADDR] [--storage sqlite://PATH | postgres://...] [--max-connections N]
//!            [--connection-limit N] [--header-timeout SECS] [--body-timeout SECS]
//!            [--address-rate N] [--open-registration] [--vault-quota BYTES] [--max-devices N]
//! mend-relay issue-token [--storage ...]
//! ```
//! `issue-token` records a new registration token in the store and prints it: the operator gives
//! it to one practice, whose first device presents it to register the vault. Without
//! `--open-registration` (`MEND_RELAY_OPEN_REGISTRATION=1`, for a solo therapist's own relay)
//! no vault registers without one. `--vault-quota` (`MEND_RELAY_VAULT_QUOTA`, default 4 GiB)
//! bounds the bytes one vault stores; `--max-devices` (`MEND_RELAY_MAX_DEVICES`, default 100)
//! the devices it enrolls.
//!
//! Flags override the environment (`MEND_RELAY_LISTEN`, `MEND_RELAY_STORAGE`,
//! `MEND_RELAY_MAX_CONNECTIONS` — the PostgreSQL pool —, `MEND_RELAY_CONNECTION_LIMIT` — client
//! connections served at once, default 1024 —, `MEND_RELAY_HEADER_TIMEOUT`, default 15 s,
//! `MEND_RELAY_BODY_TIMEOUT`, default 120 s, `MEND_RELAY_ADDRESS_RATE`, requests per second per
//! network address, default 1000, 0 for none); logs go to stderr, filtered by `MEND_RELAY_LOG`
//! (default `info`). Prints `listening on ADDR` once ready; stops gracefully on SIGTERM or
//! Ctrl-C.

use std::sync::Arc;

use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{serve, Limits, Relay};

struct Config {
    issue_token: bool,
    listen: String,
    storage: String,
    max_connections: usize,
    limits: Limits,
}

/// Requests per second one network address may sustain, with a burst of three seconds' worth;
/// 0 turns the per-address bucket off (behind a load balancer that is every request's address).
fn set_address_rate(limits: &mut Limits, per_sec: f64) {
    let per_sec = if per_sec > 0.0 { per_sec } else { f64::INFINITY };
    limits.address_per_sec = per_sec;
    limits.address_burst = per_sec * 3.0;
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn config() -> Result<Config, String> {
    let mut c = Config {
        issue_token: false,
        listen: std::env::var("MEND_RELAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".into()),
        storage: std::env::var("MEND_RELAY_STORAGE")
            .unwrap_or_else(|_| "sqlite://mend-relay.db".into()),
        max_connections: std::env::var("MEND_RELAY_MAX_CONNECTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16),
        limits: Limits::default(),
    };
    if let Some(n) = env_number("MEND_RELAY_CONNECTION_LIMIT") {
        c.limits.connection_limit = n;
    }
    if let Some(s) = env_number("MEND_RELAY_HEADER_TIMEOUT") {
        c.limits.header_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(s) = env_number("MEND_RELAY_BODY_TIMEOUT") {
        c.limits.body_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(r) = env_number("MEND_RELAY_ADDRESS_RATE") {
        set_address_rate(&mut c.limits, r);
    }
    if let Some(n) = env_number::<u8>("MEND_RELAY_OPEN_REGISTRATION") {
        c.limits.open_registration = n != 0;
    }
    if let Some(n) = env_number("MEND_RELAY_VAULT_QUOTA") {
        c.limits.vault_quota = n;
    }
    if let Some(n) = env_number("MEND_RELAY_MAX_DEVICES") {
        c.limits.max_devices = n;
    }
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("issue-token") {
        args.next();
        c.issue_token = true;
    }
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => c.listen = value()?,
            "--storage" => c.storage = value()?,
            "--max-connections" => {
                c.max_connections = value()?.parse().map_err(|_| "--max-connections takes a number")?
            }
            "--connection-limit" => {
                c.limits.connection_limit =
                    value()?.parse().map_err(|_| "--connection-limit takes a number")?
            }
            "--header-timeout" => {
                c.limits.header_timeout = std::time::Duration::from_secs(
                    value()?.parse().map_err(|_| "--header-timeout takes seconds")?,
                )
            }
            "--body-timeout" => {
                c.limits.body_timeout = std::time::Duration::from_secs(
                    value()?.parse().map_err(|_| "--body-timeout takes seconds")?,
                )
            }
            "--address-rate" => set_address_rate(
                &mut c.limits,
                value()?.parse().map_err(|_| "--address-rate takes requests per second")?,
            ),
            "--open-registration" => c.limits.open_registration = true,
            "--vault-quota" => {
                c.limits.vault_quota = value()?.parse().map_err(|_| "--vault-quota takes bytes")?
            }
            "--max-devices" => {
                c.limits.max_devices =
                    value()?.parse().map_err(|_| "--max-devices takes a number")?
            }
            "--help" | "-h" => {
                return Err("usage: mend-relay [--listen ADDR] [--storage sqlite://PATH|postgres://URL] [--max-connections N] [--connection-limit N] [--header-timeout SECS] [--body-timeout SECS] [--address-rate N] [--open-registration] [--vault-quota BYTES] [--max-devices N]\n       mend-relay issue-token [--storage sqlite://PATH|postgres://URL]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(c)
}

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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEND_RELAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run().await {
        eprintln!("mend-relay: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let c = config()?;
    let store: Arc<dyn Store> = if let Some(path) = c.storage.strip_prefix("sqlite://") {
        Arc::new(SqliteStore::open(std::path::Path::new(path)).map_err(|e| e.to_string())?)
    } else if c.storage.starts_with("postgres://") || c.storage.starts_with("postgresql://") {
        Arc::new(PostgresStore::connect(&c.storage, c.max_connections).map_err(|e| e.to_string())?)
    } else {
        return Err("--storage must start with sqlite:// or postgres://".into());
    };
    store.migrate().await.map_err(|e| e.to_string())?;
    if c.issue_token {
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
    let listener = tokio::net::TcpListener::bind(&c.listen)
        .await
        .map_err(|e| format!("bind {}: {e}", c.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, storage = if c.storage.starts_with("sqlite") { "sqlite" } else { "postgres" }, "relay ready");
    println!("listening on {addr}");
    serve(listener, Relay::new(store, c.limits), shutdown_signal()).await.map_err(|e| e.to_string())
}
