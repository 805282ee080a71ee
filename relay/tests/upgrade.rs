//! Versioned migrations: a store as relays before versioned migrations left it (the schema they
//! created, verbatim, in `fixtures/`) is upgraded in place on both stores, and nothing it held
//! is lost or comes back: bundles, devices and their revocation, erasure tombstones and used
//! invites. A store newer than the relay is refused rather than written to.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::{NewBundle, Store, StoreError, Usage, SCHEMA_VERSION};

const VAULT: [u8; 16] = [1; 16];

async fn upgraded(s: Arc<dyn Store>) {
    assert_eq!(s.schema_version().await.unwrap(), 0, "a store from before carries no version");
    s.migrate().await.unwrap();
    assert_eq!(s.schema_version().await.unwrap(), SCHEMA_VERSION);
    s.migrate().await.unwrap(); // nothing left to do

    // Nothing lost.
    let (page, remaining, head) = s.pull(VAULT, 0, 100, usize::MAX).await.unwrap();
    let bodies: Vec<&[u8]> = page.iter().map(|(_, b)| b.as_slice()).collect();
    assert_eq!(bodies, [&b"one"[..], b"two-two", b"three"]);
    assert_eq!((remaining, head), (0, 3));
    assert_eq!(s.device(VAULT, [0x0a; 16]).await.unwrap().unwrap().public, [0x0a; 32]);
    assert!(s.device(VAULT, [0x0b; 16]).await.unwrap().unwrap().revoked, "still revoked");
    assert!(!s.claim_invite(VAULT, [0x41; 16]).await.unwrap(), "a used invite stays used");
    // The new per-vault count was filled from what the store already held.
    assert_eq!(s.usage(VAULT).await.unwrap(), Usage { bytes: 15, devices: 2 });

    // Nothing comes back: the erased client's key is still tombstoned.
    let erased = NewBundle {
        doc: [0x24; 16],
        key_id: [0x33; 16],
        device: [0x0a; 16],
        device_seq: 3,
        bytes: b"erased".to_vec(),
    };
    assert_eq!(s.push(VAULT, vec![erased]).await.unwrap(), 0);

    // And the upgraded store works as a new one: numbering goes on, tokens register vaults.
    let next = NewBundle {
        doc: [0x25; 16],
        key_id: [0x31; 16],
        device: [0x0a; 16],
        device_seq: 4,
        bytes: b"four".to_vec(),
    };
    assert_eq!(s.push(VAULT, vec![next]).await.unwrap(), 1);
    let (page, _, head) = s.pull(VAULT, 3, 100, usize::MAX).await.unwrap();
    assert_eq!((page[0].0, head), (4, 4));
    assert_eq!(s.usage(VAULT).await.unwrap().bytes, 19);
    s.issue_token([7; 32], 1).await.unwrap();
    s.register_vault([2; 16], [3; 16], [3; 32], Some([7; 32])).await.unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn newer_refused(r: Result<(), StoreError>) {
    match r {
        Err(StoreError::Backend(m)) => assert!(m.contains("newer than this relay"), "{m}"),
        other => panic!("a store from a newer relay was migrated: {other:?}"),
    }
}

#[test]
fn a_sqlite_store_from_before_versioned_migrations_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(include_str!("fixtures/store-v1.sqlite.sql"))
        .unwrap();
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    runtime().block_on(upgraded(s));

    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let s = SqliteStore::open(&path).unwrap();
    newer_refused(runtime().block_on(s.migrate()));
}

#[test]
fn a_postgres_store_from_before_versioned_migrations_upgrades_in_place() {
    let url = std::env::var("MEND_TEST_POSTGRES_URL")
        .expect("MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh");
    let db = mend_testkit::postgres_database(&url, "mend_upgrade");
    let rt = runtime();
    let client = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&db, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(include_str!("fixtures/store-v1.postgres.sql")).await.unwrap();
        client
    });
    let s: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db, 4).unwrap());
    rt.block_on(upgraded(Arc::clone(&s)));

    rt.block_on(client.batch_execute("UPDATE schema_version SET version = 99")).unwrap();
    newer_refused(rt.block_on(s.migrate()));
}
