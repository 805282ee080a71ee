//! The relay's settings, from four places, each overriding the one before: defaults, a TOML
//! file (`--config PATH` or `MEND_RELAY_CONFIG`), the environment (`MEND_RELAY_*`), flags.
//!
//! Every setting has the same name in all three: `vault_quota` in the file is
//! `MEND_RELAY_VAULT_QUOTA` and `--vault-quota`. A key the relay does not know, in the file, or
//! a value of the wrong type anywhere, stops it with a message naming the setting (never its
//! value: a storage URL may carry a password).
//!
//! ```toml
//! listen = "0.0.0.0:8787"
//! storage = "postgres://mend@db/mend"
//! metrics_listen = "127.0.0.1:9187"
//! log_format = "json"
//! erasure_log = "/var/lib/mend-relay/erasures.log"
//! vault_quota = 4294967296
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Limits;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// Settings as given in one place; `None` where that place says nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the API listens on (default `127.0.0.1:8787`).
    pub listen: Option<String>,
    /// `sqlite://PATH` (default `sqlite://mend-relay.db`) or `postgres://…`.
    pub storage: Option<String>,
    /// PostgreSQL pool size (default 16).
    pub max_connections: Option<usize>,
    /// Client connections served at once (default 1024).
    pub connection_limit: Option<usize>,
    /// Seconds a connection may take to send a request head (default 15).
    pub header_timeout: Option<u64>,
    /// Seconds a request body may take to arrive (default 120).
    pub body_timeout: Option<u64>,
    /// Requests per second per network address (default 1000; 0: no per-address limit).
    pub address_rate: Option<f64>,
    /// Requests per second per device (default 100, burst three seconds' worth).
    pub device_rate: Option<f64>,
    /// How many relay instances share the load (default 1): each enforces its share of the
    /// device and address rates, so a device spread over all of them gets no more in total.
    pub instances: Option<u32>,
    /// Anyone may register a vault, without a registration token (default false).
    pub open_registration: Option<bool>,
    /// Bytes one vault may store (default 4 GiB).
    pub vault_quota: Option<u64>,
    /// Devices one vault may enroll (default 100).
    pub max_devices: Option<u64>,
    /// Erased keys one vault may have dropped (default 100,000).
    pub max_tombstones: Option<u64>,
    /// Address of the Prometheus listener (`GET /metrics`); none by default.
    pub metrics_listen: Option<String>,
    /// Log filter, `tracing` syntax (default `info`).
    pub log: Option<String>,
    /// `text` (default) or `json`.
    pub log_format: Option<LogFormat>,
    /// The erasure log's path ([`crate::erasure_log`]); none by default.
    pub erasure_log: Option<PathBuf>,
    /// PEM certificate chain for built-in TLS ([`crate::tls`]); with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS; with `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Settings {
    /// Each setting from `self`, or else from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            storage: self.storage.or(lower.storage),
            max_connections: self.max_connections.or(lower.max_connections),
            connection_limit: self.connection_limit.or(lower.connection_limit),
            header_timeout: self.header_timeout.or(lower.header_timeout),
            body_timeout: self.body_timeout.or(lower.body_timeout),
            address_rate: self.address_rate.or(lower.address_rate),
            device_rate: self.device_rate.or(lower.device_rate),
            instances: self.instances.or(lower.instances),
            open_registration: self.open_registration.or(lower.open_registration),
            vault_quota: self.vault_quota.or(lower.vault_quota),
            max_devices: self.max_devices.or(lower.max_devices),
            max_tombstones: self.max_tombstones.or(lower.max_tombstones),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            erasure_log: self.erasure_log.or(lower.erasure_log),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
        }
    }

    /// Sets the setting called `name` (file spelling) from text.
    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<Option<T>, String> {
            v.trim().parse().map(Some).map_err(|_| format!("{name} must be a number"))
        }
        match name {
            "listen" => self.listen = Some(value.into()),
            "storage" => self.storage = Some(value.into()),
            "max_connections" => self.max_connections = num(name, value)?,
            "connection_limit" => self.connection_limit = num(name, value)?,
            "header_timeout" => self.header_timeout = num(name, value)?,
            "body_timeout" => self.body_timeout = num(name, value)?,
            "address_rate" => self.address_rate = num(name, value)?,
            "device_rate" => self.device_rate = num(name, value)?,
            "instances" => self.instances = num(name, value)?,
            "open_registration" => {
                self.open_registration = Some(match value.trim() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" => false,
                    _ => return Err(format!("{name} must be true or false")),
                })
            }
            "vault_quota" => self.vault_quota = num(name, value)?,
            "max_devices" => self.max_devices = num(name, value)?,
            "max_tombstones" => self.max_tombstones = num(name, value)?,
            "metrics_listen" => self.metrics_listen = Some(value.into()),
            "log" => self.log = Some(value.into()),
            "log_format" => {
                self.log_format = Some(match value.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("{name} must be text or json")),
                })
            }
            "erasure_log" => self.erasure_log = Some(value.into()),
            "tls_cert" => self.tls_cert = Some(value.into()),
            "tls_key" => self.tls_key = Some(value.into()),
            _ => return Err(format!("unknown setting {name}")),
        }
        Ok(())
    }

    /// The settings of a TOML file's text.
    pub fn from_toml(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|r| 1 + text[..r.start.min(text.len())].matches('\n').count());
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            let m = e.message();
            // An unknown key is named; for anything else only the line is, since the parser's
            // message may quote the value (a storage URL's password under a wrong key).
            match m.strip_prefix("unknown field ") {
                Some(rest) => {
                    format!("{at}unknown setting {}", rest.split(',').next().unwrap_or(""))
                }
                None => format!("{at}not a valid value or not TOML"),
            }
        })
    }

    /// The settings `MEND_RELAY_*` variables give (`get` reads one).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut s = Settings::default();
        for name in NAMES {
            let var = format!("MEND_RELAY_{}", name.to_ascii_uppercase());
            if let Some(v) = get(&var).filter(|v| !v.is_empty()) {
                s.set(name, &v).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        Ok(s)
    }
}

/// Refuses values that would quietly turn a protection off or stop every request.
fn check(s: &Settings) -> Result<(), String> {
    let positive = |v: Option<f64>| v.is_none_or(|v| v >= 0.0 && v.is_finite());
    if !positive(s.address_rate) {
        return Err("address_rate must be 0 (none) or a positive number".into());
    }
    if !positive(s.device_rate) || s.device_rate == Some(0.0) {
        return Err("device_rate must be a positive number".into());
    }
    for (name, v) in [("header_timeout", s.header_timeout), ("body_timeout", s.body_timeout)] {
        if v == Some(0) {
            return Err(format!("{name} must be at least 1 second"));
        }
    }
    let counts = [("max_connections", s.max_connections), ("connection_limit", s.connection_limit)];
    for (name, v) in counts {
        if v == Some(0) {
            return Err(format!("{name} must be at least 1"));
        }
    }
    Ok(())
}

/// Every setting's name, as the file spells it.
const NAMES: [&str; 19] = [
    "listen",
    "storage",
    "max_connections",
    "connection_limit",
    "header_timeout",
    "body_timeout",
    "address_rate",
    "device_rate",
    "instances",
    "open_registration",
    "vault_quota",
    "max_devices",
    "max_tombstones",
    "metrics_listen",
    "log",
    "log_format",
    "erasure_log",
    "tls_cert",
    "tls_key",
];

/// What `mend-relay` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Record a registration token and print it.
    IssueToken,
    /// After a restore: move every vault's sequence numbers on
    /// ([`crate::store::Store::advance_sequences`]) and re-apply the erasure log.
    Restored,
    /// Write a consistent copy of a SQLite store to a file.
    Backup {
        /// The copy's path (must not exist).
        to: PathBuf,
    },
}

/// Everything the relay runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to do.
    pub command: Command,
    /// API address.
    pub listen: String,
    /// Store URL.
    pub storage: String,
    /// PostgreSQL pool size.
    pub max_connections: usize,
    /// Request limits.
    pub limits: Limits,
    /// Prometheus listener, if any.
    pub metrics_listen: Option<String>,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Erasure log, if any.
    pub erasure_log: Option<PathBuf>,
    /// Certificate chain and private key, for built-in TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The usage line.
pub const USAGE: &str = "usage: mend-relay [serve] [--config FILE] [--listen ADDR] [--storage sqlite://PATH|postgres://URL] [--max-connections N] [--connection-limit N] [--header-timeout SECS] [--body-timeout SECS] [--address-rate N] [--device-rate N] [--instances N] [--open-registration] [--vault-quota BYTES] [--max-devices N] [--max-tombstones N] [--metrics-listen ADDR] [--log FILTER] [--log-format text|json] [--erasure-log PATH] [--tls-cert PEM --tls-key PEM]
       mend-relay issue-token [--config FILE] [--storage ...]
       mend-relay backup --to FILE [--config FILE] [--storage sqlite://PATH]
       mend-relay restored [--config FILE] [--storage ...] [--erasure-log PATH]";

/// Reads the command line (`args` without the program name), the environment (`get`) and the
/// config file it names (`read` loads a file's text).
pub fn resolve(
    args: impl IntoIterator<Item = String>,
    get: impl Fn(&str) -> Option<String>,
    read: impl Fn(&std::path::Path) -> std::io::Result<String>,
) -> Result<Config, String> {
    let mut args = args.into_iter().peekable();
    let mut command = Command::Serve;
    if let Some(first) = args.next_if(|a| !a.starts_with('-')) {
        command = match first.as_str() {
            "serve" => Command::Serve,
            "issue-token" => Command::IssueToken,
            "backup" => Command::Backup { to: PathBuf::new() },
            "restored" => Command::Restored,
            // Not echoed: a misplaced value may be a secret.
            _ => return Err(format!("unknown command\n{USAGE}")),
        };
    }
    let mut flags = Settings::default();
    let mut config_file = None;
    while let Some(a) = args.next() {
        if a == "--help" || a == "-h" {
            return Err(USAGE.into());
        }
        // Errors name the flag, never a value (`--storage=postgres://user:password@…`).
        let Some(flag) = a.strip_prefix("--") else {
            return Err("unexpected argument (not a --flag)".into());
        };
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (flag, None),
        };
        let a = format!("--{flag}");
        let name = flag.replace('-', "_");
        if name == "open_registration" && inline.is_none() {
            flags.open_registration = Some(true);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or(format!("{a} needs a value"))?,
        };
        match (&mut command, name.as_str()) {
            (_, "config") => config_file = Some(PathBuf::from(value)),
            (Command::Backup { to }, "to") => *to = PathBuf::from(value),
            _ if !NAMES.contains(&name.as_str()) => return Err(format!("unknown argument {a}")),
            _ => flags.set(&name, &value).map_err(|e| match e.strip_prefix(name.as_str()) {
                Some(rest) => format!("{a}{rest}"),
                None => e,
            })?,
        }
    }
    if matches!(&command, Command::Backup { to } if to.as_os_str().is_empty()) {
        return Err("backup needs --to FILE".into());
    }
    let env = Settings::from_env(&get)?;
    let from_env = get("MEND_RELAY_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from);
    let file = match config_file.or(from_env) {
        Some(path) => {
            let text = read(&path).map_err(|e| format!("config {}: {e}", path.display()))?;
            Settings::from_toml(&text).map_err(|e| format!("config {}: {e}", path.display()))?
        }
        None => Settings::default(),
    };
    let s = flags.or(env).or(file);
    check(&s)?;
    let mut limits = Limits::default();
    if let Some(n) = s.connection_limit {
        limits.connection_limit = n;
    }
    if let Some(t) = s.header_timeout {
        limits.header_timeout = Duration::from_secs(t);
    }
    if let Some(t) = s.body_timeout {
        limits.body_timeout = Duration::from_secs(t);
    }
    if let Some(r) = s.address_rate {
        // A burst of three seconds' worth; 0 turns the per-address bucket off (behind a load
        // balancer that is every request's address).
        let per_sec = if r > 0.0 { r } else { f64::INFINITY };
        limits.address_per_sec = per_sec;
        limits.address_burst = per_sec * 3.0;
    }
    if let Some(r) = s.device_rate.filter(|r| *r > 0.0) {
        limits.rate_per_sec = r;
        limits.rate_burst = r * 3.0;
    }
    match s.instances {
        Some(0) => return Err("instances must be at least 1".into()),
        Some(n) => limits = limits.shared_by(n),
        None => {}
    }
    if let Some(b) = s.open_registration {
        limits.open_registration = b;
    }
    if let Some(q) = s.vault_quota {
        limits.vault_quota = q;
    }
    if let Some(n) = s.max_devices {
        limits.max_devices = n;
    }
    if let Some(n) = s.max_tombstones {
        limits.max_tombstones = n;
    }
    let tls = match (s.tls_cert, s.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("tls_cert and tls_key go together".into()),
    };
    Ok(Config {
        tls,
        command,
        listen: s.listen.unwrap_or_else(|| "127.0.0.1:8787".into()),
        storage: s.storage.unwrap_or_else(|| "sqlite://mend-relay.db".into()),
        max_connections: s.max_connections.unwrap_or(16),
        limits,
        metrics_listen: s.metrics_listen,
        log: s.log.unwrap_or_else(|| "info".into()),
        log_format: s.log_format.unwrap_or_default(),
        erasure_log: s.erasure_log,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        let file = "listen = \"0.0.0.0:1\"\nvault_quota = 10\nmax_devices = 3\nlog_format = \"json\"\nopen_registration = true\n";
        let env = |k: &str| match k {
            "MEND_RELAY_CONFIG" => Some("/etc/mend-relay.toml".to_string()),
            "MEND_RELAY_VAULT_QUOTA" => Some("20".to_string()),
            "MEND_RELAY_LISTEN" => Some("0.0.0.0:2".to_string()),
            _ => None,
        };
        let read = |p: &std::path::Path| {
            assert_eq!(p, std::path::Path::new("/etc/mend-relay.toml"));
            Ok(file.to_string())
        };
        let c = resolve(args(&["--listen", "0.0.0.0:3"]), env, read).unwrap();
        assert_eq!(c.command, Command::Serve);
        assert_eq!(c.listen, "0.0.0.0:3");
        assert_eq!(c.limits.vault_quota, 20);
        assert_eq!(c.limits.max_devices, 3);
        assert!(c.limits.open_registration);
        assert_eq!(c.log_format, LogFormat::Json);
        // Untouched settings keep their defaults.
        assert_eq!(c.storage, "sqlite://mend-relay.db");
        assert_eq!(c.limits.connection_limit, Limits::default().connection_limit);
    }

    #[test]
    fn bad_settings_are_refused_by_name_without_their_value() {
        let none = |_: &str| None;
        let read = |_: &std::path::Path| Ok("vault_quotas = 1\n".to_string());
        let e = resolve(args(&["--config", "x.toml"]), none, read).unwrap_err();
        assert!(e.contains("vault_quotas"), "{e}");
        let read = |_: &std::path::Path| {
            Ok("listen = \"a\"\nvault_quota = \"postgres://u:hunter2@db\"\n".to_string())
        };
        let e = resolve(args(&["--config", "x.toml"]), none, read).unwrap_err();
        assert!(e.contains("line 2") && !e.contains("hunter2"), "{e}");
        let no_file = |_: &std::path::Path| -> std::io::Result<String> { unreachable!() };
        let e = resolve(args(&["--vault-quota", "lots"]), none, no_file).unwrap_err();
        assert_eq!(e, "--vault-quota must be a number");
        let env = |k: &str| (k == "MEND_RELAY_MAX_DEVICES").then(|| "secret-ish".to_string());
        let e = resolve(args(&[]), env, no_file).unwrap_err();
        assert!(e.contains("MEND_RELAY_MAX_DEVICES") && !e.contains("secret-ish"), "{e}");
        assert!(resolve(args(&["--bogus", "1"]), none, no_file).is_err());
        let e = resolve(args(&["--storag=postgres://u:hunter2@db/m"]), none, no_file).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve(args(&["postgres://u:hunter2@db/m"]), none, no_file).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        for bad in [
            &["--address-rate", "-1"][..],
            &["--address-rate", "NaN"],
            &["--device-rate", "0"],
            &["--header-timeout", "0"],
            &["--max-connections", "0"],
            &["--instances", "0"],
        ] {
            assert!(resolve(args(bad), none, no_file).is_err(), "{bad:?}");
        }
        assert!(resolve(args(&["backup"]), none, no_file).is_err());
    }

    #[test]
    fn the_sample_config_file_parses() {
        let s = Settings::from_toml(include_str!("../../deploy/relay.toml")).unwrap();
        assert_eq!(s.log_format, Some(LogFormat::Json));
        assert_eq!(s.open_registration, Some(false));
        assert!(s.erasure_log.is_some() && s.metrics_listen.is_some());
    }

    #[test]
    fn subcommands_take_their_own_flags() {
        let none = |_: &str| None;
        let no_file = |_: &std::path::Path| -> std::io::Result<String> { unreachable!() };
        let c = resolve(args(&["backup", "--to", "/b/copy.db"]), none, no_file).unwrap();
        assert_eq!(c.command, Command::Backup { to: "/b/copy.db".into() });
        let c = resolve(args(&["issue-token", "--storage", "sqlite://x"]), none, no_file).unwrap();
        assert_eq!((c.command, c.storage.as_str()), (Command::IssueToken, "sqlite://x"));
        assert!(resolve(args(&["serve", "--to", "x"]), none, no_file).is_err());
        let c =
            resolve(args(&["--open-registration", "--address-rate", "0"]), none, no_file).unwrap();
        assert!(c.limits.open_registration && c.limits.address_per_sec.is_infinite());
        // `--flag=value`, and a flag turning off what the file turned on.
        let on = |_: &std::path::Path| Ok("open_registration = true\n".to_string());
        let c = resolve(args(&["--config=x.toml", "--open-registration=false"]), none, on).unwrap();
        assert!(!c.limits.open_registration);
        // Two instances each enforce half of every rate.
        let c = resolve(args(&["--device-rate", "10", "--instances", "2"]), none, no_file).unwrap();
        assert_eq!((c.limits.rate_per_sec, c.limits.rate_burst), (5.0, 15.0));
        assert_eq!(c.limits.address_per_sec, Limits::default().address_per_sec / 2.0);
    }
}
