//! Scale-out: several `mend-relay` processes on one PostgreSQL database. Devices alternate
//! between them under load while one is killed and restarted: nothing lost, nothing stored twice.
//! Replay protection and rate limits hold across instances.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mend_core::sync::bundle::Bundle;
use mend_core::sync::http::{HttpClient, HttpTransport, UreqClient};
use mend_core::sync::{SyncOptions, Transport, TransportError};
use mend_core::*;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::Store;
use mend_testkit::*;

const VAULTS: usize = 3;
const EDITS: usize = 20;

fn database() -> String {
    let server = std::env::var("MEND_TEST_POSTGRES_URL")
        .expect("MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh");
    postgres_database(&server, "mend_scale")
}

/// Syncs through `links[start]`, moving to the next instance whenever one cannot be reached.
fn sync_somewhere(v: &Vault, links: &[HttpTransport; 2], start: usize, failures: &AtomicU64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = start;
    loop {
        match v.sync(&links[i % 2], &SyncOptions { page_size: 7, ..Default::default() }) {
            Ok(_) => return,
            Err(Error::Transport(_)) if Instant::now() < deadline => {
                failures.fetch_add(1, Ordering::Relaxed);
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("sync failed: {e:?}"),
        }
    }
}

#[test]
fn two_instances_on_one_database_lose_and_duplicate_nothing_while_one_restarts() {
    let db = database();
    let dir = tempfile::tempdir().unwrap();
    let mut a = RelayProcess::start_with(&db, free_port(), &["--instances", "2"]);
    let b = RelayProcess::start_with(&db, free_port(), &["--instances", "2"]);
    let urls = [a.url.clone(), b.url.clone()];
    let link = |i: usize| HttpTransport::new(&urls[i]);

    // Each vault: a phone and a tablet sharing one note, set up through different instances.
    let mut pairs = Vec::new();
    for i in 0..VAULTS {
        let (pt, tt) = (link(i % 2), link((i + 1) % 2));
        let p = note_pair_in(dir.path(), i, opts_with(Durability::Normal), &pt, &tt);
        pairs.push((p.phone, p.tablet, p.note));
    }

    let failures = Arc::new(AtomicU64::new(0));
    let synced = Arc::new(AtomicUsize::new(0));
    let killed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for (i, (phone, tablet, n)) in pairs.iter().enumerate() {
            for (who, v) in [("p", phone), ("t", tablet)] {
                let (failures, synced) = (Arc::clone(&failures), Arc::clone(&synced));
                let links = [link(0), link(1)];
                scope.spawn(move || {
                    for k in 0..EDITS {
                        let len = v.note(*n).unwrap().section("body").unwrap().chars().count();
                        v.splice_note_section(*n, "body", len, 0, &format!("<{who}{i}.{k}>"))
                            .unwrap();
                        // Each sync on the other instance than the one before.
                        sync_somewhere(v, &links, k, &failures);
                        synced.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
        // Instance A goes down a quarter of the way in (whatever the machine's speed) and comes
        // back; B carries the load meanwhile.
        let deadline = Instant::now() + Duration::from_secs(60);
        while synced.load(Ordering::Relaxed) < VAULTS * 2 * EDITS / 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        a.kill();
        killed.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        a.restart();
    });
    assert!(killed.load(Ordering::Relaxed));
    assert!(failures.load(Ordering::Relaxed) > 0, "instance A went down while devices worked");

    let store = PostgresStore::connect(&db, 2).unwrap();
    let links = [link(0), link(1)];
    for (i, (phone, tablet, n)) in pairs.iter().enumerate() {
        for round in 0..2 {
            sync_somewhere(phone, &links, round, &failures);
            sync_somewhere(tablet, &links, round + 1, &failures);
        }
        let note = phone.note(*n).unwrap();
        assert_eq!(note, tablet.note(*n).unwrap(), "vault {i} converged");
        let body = note.section("body").unwrap();
        for who in ["p", "t"] {
            for k in 0..EDITS {
                let token = format!("<{who}{i}.{k}>");
                assert_eq!(body.matches(&token).count(), 1, "{token} present exactly once");
            }
        }
        // No bundle stored twice: each (device, device sequence number) once in the vault.
        let stored = block_on(store.dump(*phone.id().as_bytes())).unwrap();
        let mut seen = HashSet::new();
        for bytes in &stored {
            let b = Bundle::decode(bytes).unwrap();
            assert!(seen.insert((b.device, b.seq)), "vault {i}: a bundle stored twice");
        }
    }
}

/// A request as sent: method, URL, headers, body.
type Sent = (String, String, Vec<(String, String)>, Vec<u8>);

/// Remembers the last request it carried, so a test can send the same bytes elsewhere.
#[derive(Default)]
struct Recording {
    inner: UreqClient,
    last: Arc<Mutex<Option<Sent>>>,
}

impl HttpClient for Recording {
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let h = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        *self.last.lock().unwrap() = Some((method.into(), url.into(), h, body.to_vec()));
        self.inner.send(method, url, headers, body)
    }
}

/// How many of `n` pulls alternating between `links` the relays answered, and how long they
/// took: each pull asks from another cursor, so each is a new signed request.
fn spread_pulls(links: &[HttpTransport; 2], vault: &VaultId, n: usize) -> (usize, Duration) {
    let start = Instant::now();
    let mut ok = 0;
    for i in 0..n {
        match links[i % 2].pull(vault, 1_000_000 + i as u64, 1) {
            Ok(_) => ok += 1,
            Err(TransportError::Unavailable(m)) if m.contains("429") => {}
            Err(e) => panic!("pull {i}: {e:?}"),
        }
    }
    (ok, start.elapsed())
}

#[test]
fn replay_protection_and_rate_limits_hold_across_instances() {
    let db = database();
    let dir = tempfile::tempdir().unwrap();
    // A device may make 10 requests a second, with a burst of 30, across both instances.
    let flags = ["--device-rate", "10", "--instances", "2"];
    let a = RelayProcess::start_with(&db, free_port(), &flags);
    let b = RelayProcess::start_with(&db, free_port(), &flags);
    let recording = Recording::default();
    let last = Arc::clone(&recording.last);
    let ta = HttpTransport::with_client(&a.url, Box::new(recording));
    let tb = HttpTransport::new(&b.url);
    let phone =
        Vault::create(&dir.path().join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    phone.sync(&ta, &SyncOptions::default()).unwrap();
    phone.sync(&tb, &SyncOptions::default()).unwrap();

    // A request A answered, sent again as it was to B: refused as a replay, since both
    // remember signatures in the one database.
    let (method, url, headers, body) = last.lock().unwrap().clone().unwrap();
    let replayed = url.replace(&a.url, &b.url);
    assert_ne!(replayed, url);
    let h: Vec<(&str, String)> = headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (status, answer) = UreqClient::default().send(&method, &replayed, &h, &body).unwrap();
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&answer).contains("replayed"));

    // Sixty signed requests spread over both instances as fast as they go: no more pass than
    // one relay's burst plus its refill over the run (the setup's requests only lower it).
    let vault = phone.id();
    let (ok, took) = spread_pulls(&[ta, tb], &vault, 60);
    let bound = 30.0 + 10.0 * took.as_secs_f64() + 1.0;
    assert!((ok as f64) <= bound, "{ok} requests passed; one relay allows {bound:.1}");
    assert!(ok >= 10, "only {ok} passed");

    // The same without --instances: each instance gives the full rate, and together twice it.
    let flags = ["--device-rate", "10"];
    let dir2 = tempfile::tempdir().unwrap();
    let other = Vault::create(&dir2.path().join("p"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    let db2 = database();
    let (e, f) = (
        RelayProcess::start_with(&db2, free_port(), &flags),
        RelayProcess::start_with(&db2, free_port(), &flags),
    );
    let (te, tf) = (HttpTransport::new(&e.url), HttpTransport::new(&f.url));
    other.sync(&te, &SyncOptions::default()).unwrap();
    other.sync(&tf, &SyncOptions::default()).unwrap();
    let (ok, took) = spread_pulls(&[te, tf], &other.id(), 60);
    let bound = 30.0 + 10.0 * took.as_secs_f64() + 1.0;
    assert!((ok as f64) > bound, "without --instances {ok} passed; the test would not notice");
}
