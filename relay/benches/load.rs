//! Relay load test, bounded and on loopback only: many devices (two per vault) edit and sync at
//! once through a relay served in-process over HTTP, for a fixed number of rounds. Reports
//! throughput and p50/p99 latency of every HTTP request, for the SQLite and the PostgreSQL store,
//! and checks afterwards that nothing was lost or duplicated.
//!
//! Run: `cargo bench -p mend-relay --bench load` (`MEND_BENCH_QUICK=1` for a smoke run). The
//! PostgreSQL run uses `MEND_TEST_POSTGRES_URL`, or starts a throwaway cluster with
//! `scripts/postgres.sh` (Debian's postgresql, as root).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mend_core::sync::http::{HttpClient, HttpTransport, UreqClient};
use mend_core::sync::{invite, SyncOptions};
use mend_core::*;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{router, Limits, Relay};

/// Records the latency of every request it carries.
struct Timed {
    inner: UreqClient,
    samples: Arc<Mutex<Vec<Duration>>>,
}

impl HttpClient for Timed {
    fn send(
        &self,
        m: &str,
        u: &str,
        h: &[(&str, String)],
        b: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let t = Instant::now();
        let r = self.inner.send(m, u, h, b);
        self.samples.lock().unwrap().push(t.elapsed());
        r
    }
}

fn opts() -> VaultOptions {
    VaultOptions {
        durability: Durability::Normal,
        kdf: mend_core::crypto::kdf::KdfParams::with_cost(256, 1, 1),
        ..Default::default()
    }
}

struct Outcome {
    requests: usize,
    bundles: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

fn run(store: Arc<dyn Store>, vaults: usize, rounds: usize) -> Outcome {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let limits = Limits { rate_burst: 1e9, rate_per_sec: 1e9, ..Limits::default() };
    let listener = rt.block_on(async {
        store.migrate().await.unwrap();
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
    });
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(Relay::new(Arc::clone(&store), limits));
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let link = || {
        HttpTransport::with_client(
            &url,
            Box::new(Timed { inner: UreqClient::default(), samples: Arc::clone(&samples) }),
        )
    };
    let mut devices = Vec::new();
    for i in 0..vaults {
        let phone =
            Vault::create(&dir.path().join(format!("p{i}")), VaultSecret::key([1; 32]), opts())
                .unwrap();
        let c = phone
            .create_client(&NewClient {
                alias_code: format!("C-{i}"),
                birth_year: None,
                jurisdiction: "US".into(),
                intake_date: None,
            })
            .unwrap();
        let s = phone
            .create_session(&NewSession {
                client_id: c,
                scheduled_start: 0,
                actual_start: None,
                actual_end: None,
                status: SessionStatus::Completed,
                modality: Modality::Individual,
                setting: Setting::InPerson,
                cpt_code: None,
            })
            .unwrap();
        let n = phone
            .create_note(&NewNote {
                session_id: s,
                author_id: "t".into(),
                format: NoteFormat::Free,
                sections: vec![],
                created_at: 0,
            })
            .unwrap();
        let pt = link();
        let code = invite::generate_code();
        let inv = phone.export_invite(&code, i64::MAX).unwrap();
        phone.sync(&pt, &SyncOptions::default()).unwrap();
        let tt = link();
        let tablet = Vault::join(
            &dir.path().join(format!("t{i}")),
            VaultSecret::key([2; 32]),
            opts(),
            &inv,
            &code,
            &tt,
        )
        .unwrap();
        tablet.sync(&tt, &SyncOptions::default()).unwrap();
        devices.push((phone, pt, n, format!("p{i}")));
        devices.push((tablet, tt, n, format!("t{i}")));
    }
    samples.lock().unwrap().clear();
    let start = Instant::now();
    let pushed = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (v, t, n, tag) in &devices {
            let pushed = &pushed;
            scope.spawn(move || {
                for k in 0..rounds {
                    let len = v.note(*n).unwrap().section("body").unwrap().chars().count();
                    v.splice_note_section(*n, "body", len, 0, &format!("<{tag}.{k}>")).unwrap();
                    let r = v.sync(t, &SyncOptions::default()).unwrap();
                    pushed.fetch_add(r.pushed, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    // Everything arrived exactly once.
    for (v, t, _, _) in &devices {
        v.sync(t, &SyncOptions::default()).unwrap();
    }
    for pair in devices.chunks(2) {
        let (a, b) = (pair[0].0.note(pair[0].2).unwrap(), pair[1].0.note(pair[1].2).unwrap());
        assert_eq!(a, b);
        let body = a.section("body").unwrap();
        for (_, _, _, tag) in pair {
            for k in 0..rounds {
                assert_eq!(body.matches(&format!("<{tag}.{k}>")).count(), 1);
            }
        }
    }
    let mut s = samples.lock().unwrap().clone();
    s.sort();
    let pct = |p: f64| s[((s.len() as f64 * p) as usize).min(s.len() - 1)];
    Outcome {
        requests: s.len(),
        bundles: pushed.into_inner(),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "| {name} | {} | {:.0} | {:.0} | {:.2} | {:.2} |",
        o.requests,
        o.requests as f64 / o.elapsed.as_secs_f64(),
        o.bundles as f64 / o.elapsed.as_secs_f64(),
        o.p50.as_secs_f64() * 1e3,
        o.p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let quick = std::env::var_os("MEND_BENCH_QUICK").is_some();
    let (vaults, rounds) = if quick { (2, 3) } else { (16, 40) };
    println!("Relay load: {vaults} vaults x 2 devices, {rounds} rounds of edit + sync each, HTTP on loopback\n");
    println!("| store | HTTP requests | requests/s | bundles pushed/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("relay.db")).unwrap());
    report("SQLite", &run(sqlite, vaults, rounds));

    let mut cluster = None;
    let url = match std::env::var("MEND_TEST_POSTGRES_URL") {
        Ok(u) => u,
        Err(_) => {
            let out = std::process::Command::new("bash")
                .args([concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres.sh"), "start"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let get = |k: &str| {
                text.lines().find_map(|l| {
                    l.strip_prefix(&format!("export {k}='"))
                        .map(|v| v.trim_end_matches('\'').to_string())
                })
            };
            match (get("MEND_PG_DIR"), get("MEND_TEST_POSTGRES_URL")) {
                (Some(d), Some(u)) => {
                    cluster = Some(d);
                    u
                }
                _ => {
                    println!(
                        "| PostgreSQL | not run: no PostgreSQL could be started here | | | | |"
                    );
                    return;
                }
            }
        }
    };
    // A fresh database of its own, so nothing else on the server is touched.
    let db = format!("mend_bench_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    });
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    let pg: Arc<dyn Store> = Arc::new(PostgresStore::connect(&format!("{base}/{db}"), 16).unwrap());
    report("PostgreSQL", &run(pg, vaults, rounds));
    if let Some(d) = cluster {
        let _ = std::process::Command::new("bash")
            .args([concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres.sh"), "stop", &d])
            .status();
    }
}
