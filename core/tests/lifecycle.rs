//! Vault lifecycle: create, reopen, wrong key, passphrase, newer schema.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::*;
use mend_testkit::*;

#[test]
fn create_close_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, n) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0001")).unwrap();
        let s = v.create_session(&new_session(c, 1_000)).unwrap();
        let n = v.create_note(&soap(s)).unwrap();
        v.splice_note_section(n, "subjective", 0, 0, "Today: ").unwrap();
        (c, n)
    };
    let v = reopen(&p);
    assert_eq!(v.client(c).unwrap().alias_code, "C-0001");
    assert_eq!(v.note(n).unwrap().section("subjective"), Some("Today: Reports poor sleep"));
}

#[test]
fn wrong_key_is_refused_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    {
        let v = new_vault(&dir);
        v.create_client(&new_client("C-0002")).unwrap();
    }
    // Fold the WAL into the file so that only the main file can change.
    drop(reopen(&p));
    let before = std::fs::read(&p).unwrap();
    let err = Vault::open(&p, VaultSecret::key([8; 32]), opts()).unwrap_err();
    assert_eq!(err, Error::WrongKey);
    let err = Vault::open(&p, VaultSecret::passphrase("guess"), opts()).unwrap_err();
    assert_eq!(err, Error::WrongKey);
    assert_eq!(std::fs::read(&p).unwrap(), before, "a refused open must not write");
    assert!(reopen(&p).clients().unwrap().len() == 1);
}

#[test]
fn passphrase_vault_stores_its_kdf_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    {
        let v = Vault::create(&p, VaultSecret::passphrase("tide pool lantern"), opts()).unwrap();
        v.create_client(&new_client("C-0003")).unwrap();
    }
    // Opening with different default KDF costs still works: the stored parameters are used.
    let other = VaultOptions {
        kdf: mend_core::crypto::kdf::KdfParams::with_cost(512, 2, 1),
        ..Default::default()
    };
    let v = Vault::open(&p, VaultSecret::passphrase("tide pool lantern"), other).unwrap();
    assert_eq!(v.clients().unwrap().len(), 1);
    drop(v);
    assert_eq!(
        Vault::open(&p, VaultSecret::passphrase("tide pool lanterns"), opts()).unwrap_err(),
        Error::WrongKey
    );
    assert_eq!(Vault::open(&p, VaultSecret::key(KEY), opts()).unwrap_err(), Error::WrongKey);
}

#[test]
fn newer_schema_is_an_error_not_a_wipe() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    {
        let v = new_vault(&dir);
        v.create_client(&new_client("C-0004")).unwrap();
    }
    let docs = |p: &std::path::Path| -> i64 {
        let conn = rusqlite::Connection::open(p).unwrap();
        conn.query_row("SELECT count(*) FROM docs", [], |r| r.get(0)).unwrap()
    };
    let before = docs(&p);
    {
        let conn = rusqlite::Connection::open(&p).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Vault::open(&p, VaultSecret::key(KEY), opts()).unwrap_err();
    assert!(matches!(err, Error::SchemaTooNew { found: 99, .. }), "{err:?}");
    assert_eq!(docs(&p), before, "records must survive a refused open");
}

#[test]
fn not_a_vault_and_existing_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"just some text, not SQLite at all, long enough to look like a header")
        .unwrap();
    assert!(matches!(
        Vault::open(&p, VaultSecret::key(KEY), opts()).unwrap_err(),
        Error::NotAVault(_)
    ));
    assert!(matches!(
        Vault::create(&p, VaultSecret::key(KEY), opts()).unwrap_err(),
        Error::InvalidState(_)
    ));
    assert!(matches!(
        Vault::open(&dir.path().join("missing"), VaultSecret::key(KEY), opts()).unwrap_err(),
        Error::NotAVault(_)
    ));
}

#[test]
fn a_vault_from_before_sync_is_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let c = {
        let v = new_vault(&dir);
        v.create_client(&new_client("C-0005")).unwrap()
    };
    // Turn the file back into a schema-2 vault: no sync tables, sync key or registry.
    {
        let conn = rusqlite::Connection::open(&p).unwrap();
        conn.execute_batch(
            "DROP TABLE tallies; DROP INDEX pending_by_seq;
             DELETE FROM summaries WHERE doc_id IN (SELECT doc_id FROM docs WHERE kind = 6);
             DELETE FROM changes WHERE doc_id IN (SELECT doc_id FROM docs WHERE kind = 6);
             DELETE FROM docs WHERE kind = 6;
             DELETE FROM keys WHERE purpose = 3;
             DELETE FROM meta WHERE name IN ('sync_key_id', 'registry_id', 'receive_key');
             DROP TABLE outbox; DROP TABLE applied; DROP TABLE pending; DROP TABLE relay_drops;
             DROP TABLE relay_queue; DROP INDEX docs_by_kind;
             DROP TABLE sealed_for; DROP TABLE invited;
             ALTER TABLE keys DROP COLUMN epoch; ALTER TABLE keys DROP COLUMN mine;
             ALTER TABLE keys DROP COLUMN added; ALTER TABLE keys DROP COLUMN maker;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let v = reopen(&p);
    assert_eq!(v.client(c).unwrap().alias_code, "C-0005");
    assert_eq!(v.devices().len(), 1);
    let relay = mend_core::sync::MemoryRelay::new();
    let tablet = join(&v, &relay, &dir, "tablet.mend");
    assert_eq!(tablet.devices().len(), 2);
    // The old client's key was created before sync; it reached the tablet with the invite.
    v.set_client_status(c, ClientStatus::OnHold).unwrap();
    sync(&v, &relay);
    sync(&tablet, &relay);
    assert_eq!(tablet.client(c).unwrap().status, ClientStatus::OnHold);
}
