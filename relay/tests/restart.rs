//! Restart safety: the relay binary is killed (SIGKILL) while many devices push and pull, then
//! started again on the same store. Clients retry and finish; afterwards every device converges,
//! every edit is present exactly once, and the relay holds no bundle twice.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mend_core::sync::http::HttpTransport;
use mend_core::sync::{invite, SyncOptions};
use mend_core::*;

const VAULTS: usize = 3;
const EDITS: usize = 25;

fn opts() -> VaultOptions {
    VaultOptions {
        durability: Durability::Normal,
        kdf: mend_core::crypto::kdf::KdfParams::with_cost(256, 1, 1),
        ..Default::default()
    }
}

fn start(db: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mend-relay"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--storage",
            &format!("sqlite://{}", db.display()),
        ])
        .env("MEND_RELAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

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
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut relay = start(&db, port);

    // Each vault: a phone and a tablet sharing one note.
    let mut pairs = Vec::new();
    for i in 0..VAULTS {
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
        let pt = HttpTransport::new(&url);
        let code = invite::generate_code();
        let inv = phone.export_invite(&code, i64::MAX).unwrap();
        phone.sync(&pt, &SyncOptions::default()).unwrap();
        let tt = HttpTransport::new(&url);
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
        pairs.push((Arc::new(phone), pt, Arc::new(tablet), tt, n));
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
        relay.kill().unwrap();
        relay.wait().unwrap();
        killed.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        relay = start(&db, port);
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
    relay.kill().unwrap();
    relay.wait().unwrap();
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
