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
use mend_core::sync::SyncOptions;
use mend_core::*;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::Store;
use mend_testkit::{
    note_pair_in, opts_with, postgres_database, postgres_store, serve, sqlite, unthrottled, Cluster,
};

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

struct Outcome {
    requests: usize,
    bundles: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

/// One relay per store handle (each with its own runtime, rate-limit buckets and connection
/// pool, as separate processes on one database would have); device `j` talks to relay
/// `j % stores.len()`.
fn run(stores: Vec<Arc<dyn Store>>, vaults: usize, rounds: usize) -> Outcome {
    let instances = stores.len();
    let limits = unthrottled();
    let relays: Vec<_> = stores.into_iter().map(|s| serve(s, limits)).collect();
    let dir = tempfile::tempdir().unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let link = |j: usize| {
        HttpTransport::with_client(
            &relays[j % instances].url,
            Box::new(Timed { inner: UreqClient::default(), samples: Arc::clone(&samples) }),
        )
    };
    let mut devices = Vec::new();
    for i in 0..vaults {
        let (pt, tt) = (link(2 * i), link(2 * i + 1));
        let p = note_pair_in(dir.path(), i, opts_with(Durability::Normal), &pt, &tt);
        let (phone, tablet, n) = (p.phone, p.tablet, p.note);
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
    report("SQLite", &run(vec![sqlite(&dir)], vaults, rounds));

    // The server of MEND_TEST_POSTGRES_URL, or a throwaway cluster (stopped when dropped).
    let mut cluster = None;
    let url = match std::env::var("MEND_TEST_POSTGRES_URL") {
        Ok(u) => u,
        Err(_) => match Cluster::start() {
            Some(c) => cluster.insert(c).url.clone(),
            None => {
                println!("| PostgreSQL | not run: no PostgreSQL could be started here | | | | |");
                return;
            }
        },
    };
    // A fresh database of its own, so nothing else on the server is touched.
    report("PostgreSQL", &run(vec![postgres_store(&url, "mend_bench", 16)], vaults, rounds));
    // Scale-out: two relay instances on one database, each with its own pool of 8.
    let db = postgres_database(&url, "mend_bench");
    let pool = || -> Arc<dyn Store> { Arc::new(PostgresStore::connect(&db, 8).unwrap()) };
    report("PostgreSQL, 2 instances", &run(vec![pool(), pool()], vaults, rounds));
    drop(cluster);
}
