//! Relay push load: 100 devices (50 vaults of a phone and a tablet) push signed batches of
//! change bundles straight at the relay's HTTP API, with no vault behind them, so what is
//! measured is the relay and its store and not a device's own work. Each request is a real
//! device request: Ed25519-signed, fresh, checked against replay, rate-limited, quota-checked
//! and stored in one transaction.
//!
//! Two ways of loading, for each store in one run side by side:
//! - *paced* (open loop): every device sends a batch every `interval`, phases spread evenly, so
//!   the offered load is fixed (devices × batch / interval bundles per second). A request's
//!   latency is counted from the moment it was due, not from when the client got round to
//!   sending it, so a relay that falls behind shows it in p99 (no coordinated omission).
//! - *saturated* (closed loop): every device sends its next batch as soon as the last answer
//!   came back; this is the most the relay stores, and its p99 is queueing at that load.
//!
//! Afterwards every vault holds exactly what its two devices pushed (nothing lost or stored
//! twice, relay sequence numbers 1..N with none skipped), and every answer said so.
//!
//! Both stores commit durably: the SQLite store syncs every commit (`synchronous = FULL`), and
//! the PostgreSQL rows run on a cluster with `fsync` on, `MEND_BENCH_POSTGRES_URL` or else a
//! throwaway one that `scripts/postgres.sh` starts with `MEND_PG_FSYNC=on` (Debian's
//! postgresql, as root). The tests' cluster (fsync off) is not used.
//!
//! Run: `cargo bench -p mend-relay --bench push` (`MEND_BENCH_QUICK=1` for a smoke run).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mend_core::crypto::signing::DeviceKey;
use mend_core::ids::{DeviceId, KeyId, RecordId, VaultId};
use mend_core::sync::bundle::{Bundle, BundleKind};
use mend_core::sync::http::{HttpClient, UreqClient};
use mend_core::sync::wire;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::Store;
use mend_testkit::{
    block_on, postgres_database, postgres_store, serve, sqlite, unthrottled, Cluster,
};

/// Devices in every run: 50 vaults of two.
const VAULTS: usize = 50;
/// Bundles in one push in most rows (an outbox after a few minutes of typing offline); one
/// row pushes every bundle on its own.
const BATCH: usize = 25;
/// Ciphertext bytes in one bundle: about a sealed single-edit change (the sync bench measures
/// 322 B per bundle of one edit at the relay, header and signature included).
const PAYLOAD: usize = 220;

struct Device {
    vault: VaultId,
    id: DeviceId,
    key: DeviceKey,
    client: UreqClient,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

impl Device {
    /// Sends one request signed as this device; the status and body.
    fn send(&self, url: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let time = now_ms();
        let msg = wire::request_message(method, path, body, time, &self.id, &self.vault);
        let headers = [
            (wire::HEADER_DEVICE, self.id.to_string()),
            (wire::HEADER_TIME, time.to_string()),
            (wire::HEADER_SIGNATURE, hex::encode(self.key.sign(&msg))),
        ];
        self.client.send(method, &format!("{url}{path}"), &headers, body).unwrap()
    }

    /// The push bodies of `rounds` rounds: `batch` change bundles each, every one signed, for
    /// four documents of the vault, numbered on from this device's last sequence number.
    fn bodies(
        &self,
        docs: &[RecordId; 4],
        key_id: KeyId,
        rounds: usize,
        batch: usize,
    ) -> Vec<Vec<u8>> {
        (0..rounds)
            .map(|round| {
                let list: Vec<Vec<u8>> = (0..batch)
                    .map(|i| {
                        let seq = (round * batch + i + 1) as u64;
                        let payload = (0..PAYLOAD).map(|j| (seq as usize * 31 + j) as u8).collect();
                        Bundle::signed(
                            BundleKind::Change,
                            self.vault,
                            docs[i % 4],
                            self.id,
                            seq,
                            key_id,
                            payload,
                            &self.key,
                        )
                        .encode()
                    })
                    .collect();
                wire::encode_bundles(&list)
            })
            .collect()
    }
}

/// Enrolls `VAULTS` vaults of two devices at the relay: the phone registers the vault by
/// enrolling itself, then enrolls the tablet.
fn enroll(url: &str) -> Vec<Device> {
    let mut devices = Vec::new();
    for _ in 0..VAULTS {
        let vault = VaultId::random();
        let phone = Device {
            vault,
            id: DeviceId::random(),
            key: DeviceKey::generate(),
            client: UreqClient::default(),
        };
        let tablet = Device {
            vault,
            id: DeviceId::random(),
            key: DeviceKey::generate(),
            client: UreqClient::default(),
        };
        let path = format!("/v1/vaults/{vault}/devices");
        for d in [&phone, &tablet] {
            let (status, _) =
                phone.send(url, "POST", &path, &wire::encode_device(&d.id, &d.key.public()));
            assert_eq!(status, 204, "enrolment");
        }
        devices.push(phone);
        devices.push(tablet);
    }
    devices
}

/// How the devices send.
#[derive(Clone, Copy)]
enum Load {
    /// One batch per device every interval.
    Paced(Duration),
    /// Next batch as soon as the last is answered.
    Saturated,
}

struct Outcome {
    requests: usize,
    bundles: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// One relay per store handle (several: separate instances on one database, each with its own
/// pool and buckets); device `j` talks to relay `j % stores.len()`. `rounds` pushes of `batch`
/// bundles per device.
fn run(stores: Vec<Arc<dyn Store>>, load: Load, rounds: usize, batch: usize) -> Outcome {
    let limits = unthrottled();
    let first = Arc::clone(&stores[0]);
    let relays: Vec<_> = stores.into_iter().map(|s| serve(s, limits)).collect();
    let url = |j: usize| relays[j % relays.len()].url.clone();
    let devices = enroll(&url(0));
    let docs: Vec<([RecordId; 4], KeyId)> =
        (0..VAULTS).map(|_| ([(); 4].map(|_| RecordId::random()), KeyId::random())).collect();
    // Every body signed before the clock starts: the client's work is not the relay's.
    let bodies: Vec<Vec<Vec<u8>>> = devices
        .iter()
        .enumerate()
        .map(|(j, d)| {
            let (docs, key) = &docs[j / 2];
            d.bodies(docs, *key, rounds, batch)
        })
        .collect();
    let samples = Mutex::new(Vec::with_capacity(devices.len() * rounds));
    let stored = AtomicU64::new(0);
    let n = devices.len();
    let start = Instant::now() + Duration::from_millis(50);
    std::thread::scope(|scope| {
        for (j, (d, bodies)) in devices.iter().zip(&bodies).enumerate() {
            let (samples, stored, url) = (&samples, &stored, url(j));
            let path = format!("/v1/vaults/{}/bundles", d.vault);
            scope.spawn(move || {
                let mut mine = Vec::with_capacity(bodies.len());
                let phase = |k: usize, every: Duration| {
                    start + every * k as u32 + every.mul_f64(j as f64 / n as f64)
                };
                while Instant::now() < start {
                    std::thread::sleep(Duration::from_millis(1));
                }
                for (k, body) in bodies.iter().enumerate() {
                    let due = match load {
                        Load::Paced(every) => {
                            let due = phase(k, every);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                            due
                        }
                        Load::Saturated => Instant::now(),
                    };
                    let (status, answer) = d.send(&url, "POST", &path, body);
                    mine.push(due.elapsed());
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
                    assert_eq!(v["stored"], batch as u64, "every bundle is new");
                    stored.fetch_add(batch as u64, Ordering::Relaxed);
                }
                samples.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = start.elapsed();
    // Nothing lost or stored twice: each vault holds both devices' bundles, once each.
    for pair in devices.chunks(2) {
        let vault = *pair[0].vault.as_bytes();
        let held = block_on(first.dump(vault)).unwrap();
        assert_eq!(held.len(), 2 * rounds * batch);
        let mut keys: Vec<(DeviceId, u64)> = held
            .iter()
            .map(|b| {
                let b = Bundle::decode(b).unwrap();
                (b.device, b.seq)
            })
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 2 * rounds * batch);
        // Relay sequence numbers 1..=N, none skipped or given twice.
        let (mut since, mut seqs) = (0, Vec::new());
        loop {
            let (page, _, _) = block_on(first.pull(vault, since, 1000, usize::MAX)).unwrap();
            let Some(last) = page.last() else { break };
            since = last.0;
            seqs.extend(page.iter().map(|i| i.0));
        }
        assert_eq!(seqs, (1..=(2 * rounds * batch) as i64).collect::<Vec<_>>());
    }
    drop(relays);
    let mut s = samples.into_inner().unwrap();
    s.sort();
    let pct = |p: f64| s[((s.len() as f64 * p) as usize).min(s.len() - 1)];
    Outcome {
        requests: s.len(),
        bundles: stored.into_inner(),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        max: *s.last().unwrap(),
    }
}

fn report(store: &str, load: &str, o: &Outcome) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {store} | {load} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
        o.requests,
        o.requests as f64 / o.elapsed.as_secs_f64(),
        o.bundles as f64 / o.elapsed.as_secs_f64(),
        ms(o.p50),
        ms(o.p99),
        ms(o.max),
    );
}

fn main() {
    let quick = std::env::var_os("MEND_BENCH_QUICK").is_some();
    // Seconds of load per row.
    let seconds = if quick { 1.0 } else { 10.0 };
    let n = 2 * VAULTS;
    println!(
        "Relay push load: {n} devices ({VAULTS} vaults x 2), {BATCH} bundles of {PAYLOAD} B \
         ciphertext per signed push unless the row says otherwise, HTTP on loopback, about \
         {seconds} s per paced row\n"
    );
    println!("| store | load | pushes | pushes/s | bundles stored/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|");
    // Paced rows offer `per_sec` bundles a second in all; saturated rows push `rounds` each.
    let paced = |per_sec: f64| {
        let every = Duration::from_secs_f64(n as f64 * BATCH as f64 / per_sec);
        let rounds = (seconds / every.as_secs_f64()).ceil() as usize;
        (Load::Paced(every), rounds)
    };
    let saturated_rounds = if quick { 4 } else { 40 };
    let rows = |store: &str, make: &dyn Fn() -> Vec<Arc<dyn Store>>| {
        for per_sec in [5_000.0, 10_000.0] {
            let (load, rounds) = paced(per_sec);
            let row = run(make(), load, rounds, BATCH);
            report(store, &format!("paced, {per_sec:.0} bundles/s offered"), &row);
        }
        report(store, "saturated", &run(make(), Load::Saturated, saturated_rounds, BATCH));
        let one = run(make(), Load::Saturated, saturated_rounds * 4, 1);
        report(store, "saturated, 1 bundle per push", &one);
    };
    // Each row on a store file of its own, kept until the end.
    let dirs = Mutex::new(Vec::new());
    rows("SQLite", &|| {
        let d = tempfile::tempdir().unwrap();
        let store = sqlite(&d);
        dirs.lock().unwrap().push(d);
        vec![store]
    });

    // The server of MEND_BENCH_POSTGRES_URL, or a throwaway durable cluster (fsync on, so it
    // commits to disk like the SQLite store; stopped when dropped). Not the tests' cluster,
    // which runs with fsync off.
    let mut cluster = None;
    let url = match std::env::var("MEND_BENCH_POSTGRES_URL") {
        Ok(u) => u,
        Err(_) => match Cluster::start_durable() {
            Some(c) => cluster.insert(c).url.clone(),
            None => {
                println!(
                    "| PostgreSQL | not run: no PostgreSQL could be started here | | | | | | |"
                );
                return;
            }
        },
    };
    // A fresh database for every row, so nothing else on the server is touched.
    rows("PostgreSQL", &|| vec![postgres_store(&url, "mend_bench", 16)]);
    rows("PostgreSQL, 2 instances", &|| {
        let db = postgres_database(&url, "mend_bench");
        (0..2)
            .map(|_| -> Arc<dyn Store> { Arc::new(PostgresStore::connect(&db, 8).unwrap()) })
            .collect()
    });
    drop(cluster);
}
