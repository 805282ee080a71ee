//! Running the relay as an operator does: metrics, a config file, JSON logs, and backups
//! restored after an erasure — with the erasure log, nothing erased comes back.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mend_core::sync::bundle::Bundle;
use mend_core::sync::http::{HttpClient, HttpTransport, UreqClient};
use mend_core::sync::{SyncOptions, Transport};
use mend_core::*;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_testkit::*;

/// The key ids of the bundles a store holds for `vault`.
fn key_ids(store: &dyn Store, vault: &VaultId) -> BTreeSet<[u8; 16]> {
    block_on(store.dump(*vault.as_bytes()))
        .unwrap()
        .iter()
        .map(|b| *Bundle::decode(b).unwrap().key_id.as_bytes())
        .collect()
}

/// A phone with two clients, one note each: the phone, the kept client's note, the client the
/// test erases.
fn phone_with_two_clients(dir: &Path) -> (Vault, RecordId, RecordId) {
    let phone = Vault::create(&dir.join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    let mut clients = Vec::new();
    for (i, mrn) in ["C-KEEP", "C-ERASE"].into_iter().enumerate() {
        let c = phone.create_client(&bare_client(mrn, "US-CA")).unwrap();
        let s = phone.create_session(&bare_session(c, 1 + i as i64)).unwrap();
        let n = phone
            .create_note(&NewNote {
                session_id: s,
                author_id: "t".into(),
                format: NoteFormat::Dap,
                sections: vec![("data".into(), format!("ZQX words of {mrn}"))],
                created_at: 2,
            })
            .unwrap();
        clients.push((c, n));
    }
    (phone, clients[0].1, clients[1].0)
}

/// A new device `name` of `phone`'s vault, invited and joined through `t`, synced once.
fn join(phone: &Vault, dir: &Path, name: &str, key: [u8; 32], t: &dyn Transport) -> Vault {
    let (inv, code) = invite(phone, t);
    let v = Vault::join(&dir.join(name), VaultSecret::key(key), opts(), &inv, &code, t).unwrap();
    v.sync(t, &SyncOptions::default()).unwrap();
    v
}

fn sqlite_at(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

#[test]
fn a_sqlite_backup_restored_after_an_erasure_gets_the_erasure_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let log = dir.path().join("erasures.log");
    let storage = format!("sqlite://{}", db.display());
    let log_flag = ["--erasure-log", log.to_str().unwrap()];
    let mut relay = RelayProcess::start_with(&storage, free_port(), &log_flag);
    // `systemctl reload` (SIGHUP) on a relay without TLS changes nothing and ends nothing.
    relay.hang_up();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(relay.is_running(), "a SIGHUP ended a relay without TLS");
    let t = HttpTransport::new(&relay.url);
    let (phone, kept_note, erased) = phone_with_two_clients(dir.path());
    phone.sync(&t, &SyncOptions::default()).unwrap();
    let tablet = join(&phone, dir.path(), "tablet", TABLET_KEY, &t);
    let vault = phone.id();

    // The operator's nightly backup, taken while the relay serves.
    let backup = dir.path().join("backup.db");
    let out = Command::new(relay_bin())
        .args(["backup", "--storage", &storage, "--to", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let in_backup = key_ids(&sqlite_at(&backup), &vault);

    // The next morning: more notes, and a client erased; the relay drops their bundles. The
    // tablet pulls all of it.
    phone.splice_note_section(kept_note, "data", 0, 0, "morning. ").unwrap();
    phone.erase_client(erased).unwrap();
    assert!(phone.sync(&t, &SyncOptions::default()).unwrap().dropped_keys > 0);
    tablet.sync(&t, &SyncOptions::default()).unwrap();
    let live = key_ids(&sqlite_at(&db), &vault);
    let erased_keys: BTreeSet<_> = in_backup.difference(&live).copied().collect();
    assert!(!erased_keys.is_empty(), "the erasure dropped nothing the backup holds");

    // The disk fails; the operator restores last night's backup and runs `restored` once.
    relay.kill();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&backup, &db).unwrap();
    // The file alone brings the erased client's bundles back (what the log is for).
    assert!(key_ids(&sqlite_at(&db), &vault).is_superset(&erased_keys));
    let out = Command::new(relay_bin())
        .args(["restored", "--storage", &storage])
        .args(log_flag)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    relay.restart();
    let after = key_ids(&sqlite_at(&db), &vault);
    assert!(after.is_disjoint(&erased_keys), "an erased key's bundles came back");
    assert_eq!(after, live, "the restore lost bundles the erasure did not drop");
    let c = rusqlite::Connection::open(&db).unwrap();
    let tombstones: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM tombstones WHERE vault = ?1",
            [&vault.as_bytes()[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tombstones as usize >= erased_keys.len());
    // The log holds ids only.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("ZQX") && !text.contains("C-ERASE"));
    let shape = |l: &str, w: &str| l.starts_with(w) && l.len() == w.len() + 32 + 1 + 32;
    assert!(text.lines().all(|l| shape(l, "drop ") || shape(l, "claim ")));
    assert!(text.lines().any(|l| l.starts_with("claim ")), "the tablet's invite claim");

    // The phone writes on, a new note per sync — more bundles than the relay lost — before the
    // tablet, whose cursor is past everything the backup holds, syncs again. It gets every note,
    // and only those: what is pushed now sorts after what it pulled before the restore. (Without
    // `restored` the new bundles reuse sequence numbers the tablet has passed; it notices the
    // gaps in the phone's own numbering and pulls the whole vault again from the start.)
    let session = phone.note(kept_note).unwrap().session_id;
    let (mut written, mut pushed) = (Vec::new(), 0);
    for i in 0..40 {
        let n = phone
            .create_note(&NewNote {
                session_id: session,
                author_id: "t".into(),
                format: NoteFormat::Dap,
                sections: vec![("data".into(), format!("after the restore {i}"))],
                created_at: 10 + i,
            })
            .unwrap();
        written.push(n);
        pushed += phone.sync(&t, &SyncOptions::default()).unwrap().pushed;
    }
    let r = tablet.sync(&t, &SyncOptions::default()).unwrap();
    assert!(
        !r.repaired && r.pulled <= pushed,
        "pulled {} of {pushed} new bundles: {r:?}",
        r.pulled
    );
    for (i, n) in written.iter().enumerate() {
        let note = tablet.note(*n);
        assert!(note.is_ok(), "the tablet never got note {i} written after the restore");
    }
    assert_eq!(
        tablet.note(kept_note).unwrap().section("data"),
        Some("morning. ZQX words of C-KEEP")
    );
    // What the phone pushed after the backup is gone from the relay; a full snapshot of every
    // record (the restore procedure's last step) gives a new device all of it.
    phone.upload_snapshots(&t).unwrap();
    let laptop = join(&phone, dir.path(), "laptop", [7; 32], &t);
    assert_eq!(laptop.note(kept_note).unwrap(), phone.note(kept_note).unwrap());
    assert!(written.iter().all(|n| laptop.note(*n).is_ok()));
}

/// `pg_dump` or `pg_restore` of the PostgreSQL that `scripts/postgres.sh` installs.
fn pg_tool(name: &str) -> PathBuf {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).collect())
        .unwrap_or_default();
    bins.retain(|p| p.exists());
    bins.sort();
    bins.pop().unwrap_or_else(|| panic!("{name} not found under /usr/lib/postgresql"))
}

#[test]
fn a_postgres_dump_restored_after_an_erasure_gets_the_erasure_again() {
    let server = std::env::var("MEND_TEST_POSTGRES_URL")
        .expect("MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("erasures.log");
    let db = postgres_database(&server, "mend_backup");
    let port = free_port();
    let flags = ["--erasure-log", log.to_str().unwrap()];
    let mut relay = RelayProcess::start_with(&db, port, &flags);
    let t = HttpTransport::new(&relay.url);
    let (phone, kept_note, erased) = phone_with_two_clients(dir.path());
    phone.sync(&t, &SyncOptions::default()).unwrap();
    let old_phone = join(&phone, dir.path(), "old-phone", [9; 32], &t);
    let vault = phone.id();

    let dump = dir.path().join("relay.dump");
    let out = Command::new(pg_tool("pg_dump"))
        .args(["--format=custom", "--file", dump.to_str().unwrap(), &db])
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));

    // After the dump: the old phone is lost and revoked, and a client erased.
    phone.revoke_device(old_phone.device_id()).unwrap();
    phone.erase_client(erased).unwrap();
    assert!(phone.sync(&t, &SyncOptions::default()).unwrap().dropped_keys > 0);
    let store = PostgresStore::connect(&db, 2).unwrap();
    let live = key_ids(&store, &vault);
    relay.kill();

    // Restored into a new database, as after losing the old one.
    let restored = postgres_database(&server, "mend_restored");
    let out = Command::new(pg_tool("pg_restore"))
        .args(["--no-owner", "--dbname", &restored, dump.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
    let restored_store = PostgresStore::connect(&restored, 2).unwrap();
    let in_dump = key_ids(&restored_store, &vault);
    let erased_keys: BTreeSet<_> = in_dump.difference(&live).copied().collect();
    assert!(!erased_keys.is_empty(), "the dump should hold the erased client's bundles");

    let out = Command::new(relay_bin())
        .args(["restored", "--storage", &restored])
        .args(flags)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _relay = RelayProcess::start_with(&restored, port, &flags);
    let after = key_ids(&restored_store, &vault);
    assert!(after.is_disjoint(&erased_keys), "an erased key's bundles came back");
    // Everything else the dump held is there (not what was pushed after it, like the keys of
    // the epoch the revocation started: `upload_snapshots` puts records back in full).
    assert_eq!(after, &in_dump - &erased_keys);
    // The old phone was enrolled and not revoked in the dump; the log revoked it again.
    let refused = old_phone.sync(&t, &SyncOptions::default());
    assert!(
        matches!(&refused, Err(Error::RelayRefused(mend_core::sync::Refusal::Revoked))),
        "{refused:?}"
    );
    phone.sync(&t, &SyncOptions::default()).unwrap();
    let tablet = join(&phone, dir.path(), "tablet", TABLET_KEY, &t);
    assert_eq!(tablet.note(kept_note).unwrap().section("data"), Some("ZQX words of C-KEEP"));
}

#[test]
fn metrics_count_what_the_relay_did_and_name_no_vault_or_device() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve(sqlite(&dir), open_limits());
    let t = HttpTransport::new(&relay.url);
    let (phone, _, _) = phone_with_two_clients(dir.path());
    let r = phone.sync(&t, &SyncOptions::default()).unwrap();
    assert!(r.pushed > 0);
    // Refusals: an unsigned push and a route that does not exist.
    let http = UreqClient::default();
    let push = format!("{}/v1/vaults/{}/bundles", relay.url, phone.id());
    assert_eq!(http.send("POST", &push, &[], b"x").unwrap().0, 401);
    assert_eq!(http.send("GET", &format!("{}/nowhere", relay.url), &[], b"").unwrap().0, 404);

    let text = relay.relay.metrics_text();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    let pushes = r#"mend_relay_requests_total{route="/v1/vaults/{vault}/bundles",method="POST",status="200"}"#;
    assert!(value(pushes) >= 1.0);
    assert_eq!(value("mend_relay_bundles_stored_total") as u64, r.pushed);
    assert!(value("mend_relay_received_bytes_total") > 0.0);
    assert!(value("mend_relay_sent_bytes_total") > 0.0);
    assert_eq!(value(r#"mend_relay_refusals_total{reason="unauthorized"}"#), 1.0);
    assert_eq!(value(r#"mend_relay_refusals_total{reason="not_found"}"#), 1.0);
    assert_eq!(
        value(r#"mend_relay_requests_total{route="unmatched",method="GET",status="404"}"#),
        1.0
    );
    assert!(value(r#"mend_relay_store_seconds_count{op="push"}"#) >= 1.0);
    assert!(text.contains("mend_relay_connections "));
    // Nothing that identifies a vault or a device.
    let simple = |s: String| s.replace('-', "");
    for id in [phone.id().to_string(), phone.device_id().to_string()] {
        assert!(!text.contains(&id) && !text.contains(&simple(id.clone())), "metrics name {id}");
    }
}

/// Limits with open registration (the in-process relay of these tests).
fn open_limits() -> mend_relay::Limits {
    mend_relay::Limits { open_registration: true, ..Default::default() }
}

#[test]
fn settings_come_from_a_toml_file_and_logs_can_be_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!("storage = \"sqlite://{}\"\nlog_format = \"json\"\n", db.display()),
    )
    .unwrap();
    let out = Command::new(relay_bin())
        .args(["issue-token", "--config", config.to_str().unwrap()])
        .env_remove("MEND_RELAY_STORAGE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("mrt_"));
    assert!(db.exists(), "the file's storage was not used");
    let logs = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines
        .iter()
        .any(|l| l["message"] == "registration token issued" && l["level"] == "INFO"));
    assert!(!logs.contains(&token[4..]), "the token was logged");
    // A key the relay does not know stops it, by name.
    std::fs::write(&config, "storag = \"sqlite://x\"\n").unwrap();
    let out =
        Command::new(relay_bin()).args(["--config", config.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `storag`"));
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let c =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

#[test]
fn the_relay_serves_tls_itself_and_devices_verify_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let db = dir.path().join("relay.db");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut relay = RelayProcess::start_with(
        &format!("sqlite://{}", db.display()),
        free_port(),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
            "--header-timeout",
            "1",
            "--metrics-listen",
            &metrics_addr,
        ],
    );
    let url = format!("https://localhost:{}", relay.addr().port());
    let pinned = || Box::new(UreqClient::with_root_certificates(cert.as_bytes()).unwrap());
    let t = HttpTransport::with_client(&url, pinned());
    let (phone, kept_note, _) = phone_with_two_clients(dir.path());
    phone.sync(&t, &SyncOptions::default()).unwrap();
    let tablet =
        join(&phone, dir.path(), "tablet", TABLET_KEY, &HttpTransport::with_client(&url, pinned()));
    assert_eq!(tablet.note(kept_note).unwrap(), phone.note(kept_note).unwrap());

    // A device that does not trust the certificate (the public roots), or trusts another one
    // (a man in the middle presenting its own), refuses the relay: nothing is synced.
    let (other, _) = self_signed();
    for client in [
        Box::new(UreqClient::default()) as Box<dyn HttpClient>,
        Box::new(UreqClient::with_root_certificates(other.as_bytes()).unwrap()),
    ] {
        let err = phone.sync(&HttpTransport::with_client(&url, client), &SyncOptions::default());
        assert!(matches!(&err, Err(Error::Transport(m)) if m.contains("TLS")), "{err:?}");
    }
    // Plain HTTP to the TLS port gets no answer.
    let plain = UreqClient::default().send(
        "GET",
        &format!("http://127.0.0.1:{}/health", relay.addr().port()),
        &[],
        b"",
    );
    assert!(plain.is_err(), "{plain:?}");
    // A connection that never finishes its handshake is dropped after the header timeout.
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(relay.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the stalled handshake was kept"
    );
    // The operator sees both in the metrics: the two refused devices and the plain request
    // as failed handshakes, the stalled connection as a timeout.
    let (status, body) = UreqClient::default()
        .send("GET", &format!("http://{metrics_addr}/metrics"), &[], b"")
        .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let count = |reason: &str| -> u64 {
        let series = format!("mend_relay_tls_handshake_failures_total{{reason=\"{reason}\"}} ");
        let line = text.lines().find(|l| l.starts_with(&series));
        line.map_or(0, |l| l[series.len()..].trim().parse().unwrap())
    };
    assert!(count("error") >= 3, "{text}");
    assert_eq!(count("timeout"), 1, "{text}");

    // A renewed certificate is taken up at SIGHUP, without a restart: new handshakes present
    // it, and a device that trusts only the old one is refused.
    let (renewed, renewed_key) = self_signed();
    std::fs::write(&cert_path, &renewed).unwrap();
    std::fs::write(&key_path, &renewed_key).unwrap();
    let health = format!("{url}/health");
    let answers = |trusted: &str| {
        UreqClient::with_root_certificates(trusted.as_bytes())
            .unwrap()
            .send("GET", &health, &[], b"")
            .map(|r| r.0)
    };
    assert_eq!(answers(&cert), Ok(200), "before the signal the old certificate is in use");
    assert!(answers(&renewed).is_err());
    relay.hang_up();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while answers(&renewed) != Ok(200) {
        assert!(std::time::Instant::now() < deadline, "the renewed certificate was not taken up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(answers(&cert).is_err(), "a device pinned to the old certificate is refused");
    // A reload that fails (a half-written chain, a key of another certificate) keeps the
    // certificate in use, and the relay keeps serving.
    let (_, stranger_key) = self_signed();
    for (c, k) in
        [("-----BEGIN CERTIFICATE-----\nMIIB", renewed_key.as_str()), (&renewed, &stranger_key)]
    {
        std::fs::write(&cert_path, c).unwrap();
        std::fs::write(&key_path, k).unwrap();
        relay.hang_up();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(relay.is_running());
        assert_eq!(answers(&renewed), Ok(200));
    }
}

#[test]
fn a_device_refuses_plain_http_to_a_relay_off_its_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (phone, _, _) = phone_with_two_clients(dir.path());
    // Refused before anything is sent (the core's unit tests count the requests).
    let err = phone
        .sync(&HttpTransport::new("http://relay.clinic.invalid:8787"), &SyncOptions::default())
        .unwrap_err();
    assert!(matches!(&err, Error::Validation { field, .. } if field == "relay_url"), "{err:?}");
    // Loopback stays allowed (a solo therapist's relay on the same machine, and every test).
    let relay = serve(sqlite(&dir), open_limits());
    phone.sync(&HttpTransport::new(&relay.url), &SyncOptions::default()).unwrap();
}
