//! Restart safety: the relay binary is killed (SIGKILL) while many devices push and pull, then
//! started again on the same store. Clients retry and finish; afterwards every device converges,
//! every edit is present exactly once, and the relay holds no bundle twice.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mend_core::sync::http::HttpTransport;
use mend_core::sync::SyncOptions;
use mend_core::*;
use mend_testkit::*;

const VAULTS: usize = 3;
const EDITS: usize = 25;

/// Syncs until it succeeds (the relay may be down for a moment), within a bound.
fn sync_retrying(v: &Vault, t: &HttpTransport, failures: &AtomicU64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match v.sync(t, &SyncOptions { page_size: 7, ..Default::default() }) {
            Ok(_) => return,
            Err(Error::Transport(_)) if Instant::now() < deadline => {
                failures.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("sync failed: {e:?}"),
        }
    }
}

#[test]
fn killing_the_relay_mid_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let mut relay = RelayProcess::start(&db, free_port());
    let url = relay.url.clone();

    // Each vault: a phone and a tablet sharing one note.
    let mut pairs = Vec::new();
    for i in 0..VAULTS {
        let (pt, tt) = (HttpTransport::new(&url), HttpTransport::new(&url));
        let p = note_pair_in(dir.path(), i, opts_with(Durability::Normal), &pt, &tt);
        pairs.push((Arc::new(p.phone), pt, Arc::new(p.tablet), tt, p.note));
    }

    let failures = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let synced = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for (i, (phone, pt, tablet, tt, n)) in pairs.iter().enumerate() {
            for (who, v, t) in [("p", phone, pt), ("t", tablet, tt)] {
                let (failures, synced) = (Arc::clone(&failures), Arc::clone(&synced));
                scope.spawn(move || {
                    for k in 0..EDITS {
                        let len = v.note(*n).unwrap().section("body").unwrap().chars().count();
                        v.splice_note_section(*n, "body", len, 0, &format!("<{who}{i}.{k}>"))
                            .unwrap();
                        sync_retrying(v, t, &failures);
                        synced.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
        // Kill the relay while the devices are busy (after a fifth of their syncs, whatever the
        // machine's speed), then bring it back on the same store.
        let deadline = Instant::now() + Duration::from_secs(60);
        while synced.load(Ordering::Relaxed) < VAULTS * 2 * EDITS / 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        relay.kill();
        killed.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        relay.restart();
    });
    assert!(killed.load(Ordering::Relaxed));
    assert!(failures.load(Ordering::Relaxed) > 0, "the kill happened while clients were working");

    for (i, (phone, pt, tablet, tt, n)) in pairs.iter().enumerate() {
        for _ in 0..2 {
            sync_retrying(phone, pt, &failures);
            sync_retrying(tablet, tt, &failures);
        }
        let a = phone.note(*n).unwrap();
        assert_eq!(a, tablet.note(*n).unwrap(), "vault {i} converged");
        let body = a.section("body").unwrap();
        for who in ["p", "t"] {
            for k in 0..EDITS {
                let token = format!("<{who}{i}.{k}>");
                assert_eq!(body.matches(&token).count(), 1, "{token} present exactly once");
            }
        }
    }
    relay.kill();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let dup: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT 1 FROM bundles GROUP BY vault, device, device_seq HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dup, 0, "no bundle stored twice");
}
