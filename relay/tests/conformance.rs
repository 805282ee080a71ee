//! One conformance suite, run against both stores: the embedded SQLite store and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_relay::store::{NewBundle, Store, StoreError, Usage, SCHEMA_VERSION};

const ALL: usize = usize::MAX;

fn id(n: u8) -> [u8; 16] {
    [n; 16]
}

fn bundle(doc: u8, key: u8, device: u8, seq: i64) -> NewBundle {
    NewBundle {
        doc: id(doc),
        key_id: id(key),
        device: id(device),
        device_seq: seq,
        bytes: vec![doc, key, device, seq as u8],
    }
}

/// What the store counts for the vault's quota equals the bytes it holds.
async fn counted_right(s: &Arc<dyn Store>, v: [u8; 16], devices: u64) {
    let held: usize = s.dump(v).await.unwrap().iter().map(Vec::len).sum();
    assert_eq!(s.usage(v).await.unwrap(), Usage { bytes: held as u64, devices });
}

async fn suite(s: Arc<dyn Store>) {
    s.migrate().await.unwrap();
    s.migrate().await.unwrap(); // idempotent
    assert_eq!(s.schema_version().await.unwrap(), SCHEMA_VERSION);
    let (v, w) = (id(1), id(2));

    // Registration and enrollment.
    assert!(!s.vault_exists(v).await.unwrap());
    s.register_vault(v, id(10), [10; 32], None).await.unwrap();
    s.register_vault(v, id(10), [10; 32], None).await.unwrap();
    assert_eq!(
        s.register_vault(v, id(11), [11; 32], None).await,
        Err(StoreError::Conflict("vault already registered"))
    );
    s.enroll_device(v, id(11), [11; 32]).await.unwrap();
    assert!(matches!(s.enroll_device(v, id(11), [12; 32]).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.device(v, id(11)).await.unwrap().unwrap().public, [11; 32]);
    assert!(s.device(w, id(11)).await.unwrap().is_none(), "no query spans vaults");
    s.revoke_device(v, id(11)).await.unwrap();
    assert!(s.device(v, id(11)).await.unwrap().unwrap().revoked);

    // Push, dedupe, pull pages in order.
    assert_eq!(
        s.push(v, vec![bundle(1, 1, 10, 1), bundle(2, 1, 10, 2), bundle(1, 2, 10, 3)])
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        s.push(v, vec![bundle(1, 1, 10, 1), bundle(3, 1, 10, 4)]).await.unwrap(),
        1,
        "a retried push stores nothing twice"
    );
    let (page, remaining, head) = s.pull(v, 0, 2, ALL).await.unwrap();
    assert_eq!(head, 4, "the highest sequence number given");
    assert_eq!(page.len(), 2);
    assert_eq!(remaining, 2);
    assert!(page[0].0 < page[1].0);
    let (rest, remaining, _) = s.pull(v, page[1].0, 10, ALL).await.unwrap();
    assert_eq!((rest.len(), remaining), (2, 0));
    assert_eq!(rest[1].1, vec![3, 1, 10, 4]);
    assert!(matches!(
        s.push(w, vec![bundle(1, 1, 10, 1)]).await,
        Err(StoreError::Conflict("unknown vault"))
    ));

    // Snapshot drops what it covers for its record only.
    let covers = rest[1].0;
    let mut snap = bundle(1, 1, 10, 5);
    snap.bytes = b"snapshot".to_vec();
    s.put_snapshot(v, covers, snap).await.unwrap();
    let (all, _, head) = s.pull(v, 0, 100, ALL).await.unwrap();
    assert_eq!(head, all.last().unwrap().0, "a snapshot takes the next sequence number");
    let bodies: Vec<Vec<u8>> = all.iter().map(|i| i.1.clone()).collect();
    assert_eq!(bodies, vec![vec![2, 1, 10, 2], vec![3, 1, 10, 4], b"snapshot".to_vec()]);
    assert!(all.last().unwrap().0 > covers);
    counted_right(&s, v, 2).await;

    // A page holds at most `max_bytes` of bundles, but never less than one.
    let (page, remaining, _) = s.pull(v, 0, 100, 8).await.unwrap();
    assert_eq!((page.len(), remaining), (2, 1), "4 + 4 bytes fit in 8, the 8-byte snapshot not");
    let (page, remaining, _) = s.pull(v, 0, 100, 1).await.unwrap();
    assert_eq!((page.len(), remaining), (1, 2), "the first bundle comes however large");
    let (page, _, _) = s.pull(v, page[0].0, 100, 12).await.unwrap();
    assert_eq!(page.len(), 2);

    // Drop by key id.
    s.push(v, vec![bundle(4, 7, 10, 6), bundle(5, 7, 10, 7)]).await.unwrap();
    assert_eq!(s.drop_keys(v, vec![id(7)]).await.unwrap(), 2);
    assert_eq!(s.tombstoned(v, vec![id(8), id(7)]).await.unwrap(), (vec![id(7)], 1));
    assert_eq!(s.tombstoned(w, vec![id(7)]).await.unwrap(), (vec![], 0), "per vault");
    assert_eq!(s.dump(v).await.unwrap().len(), 3);
    // A tombstone stays: a device that has not heard of the erasure pushes under the key again.
    assert_eq!(s.push(v, vec![bundle(4, 7, 11, 1)]).await.unwrap(), 0);
    s.put_snapshot(v, 0, bundle(4, 7, 11, 2)).await.unwrap();
    assert_eq!(s.dump(v).await.unwrap().len(), 3, "nothing under a dropped key is stored again");
    // The all-zero label is never dropped or tombstoned.
    assert_eq!(s.push(v, vec![bundle(6, 0, 11, 3)]).await.unwrap(), 1);
    assert_eq!(s.drop_keys(v, vec![[0; 16]]).await.unwrap(), 0);
    assert_eq!(s.push(v, vec![bundle(6, 0, 11, 4)]).await.unwrap(), 1);
    assert_eq!(s.dump(v).await.unwrap().len(), 5);
    counted_right(&s, v, 2).await;
    assert_eq!(s.usage(id(99)).await.unwrap(), Usage::default(), "an unknown vault holds nothing");

    // Registration tokens: each registers one vault, and only the SHA-256 is kept.
    let (t1, t2, x) = ([0xA1; 32], [0xA2; 32], id(60));
    s.issue_token(t1, 1).await.unwrap();
    s.issue_token(t2, 2).await.unwrap();
    assert!(matches!(s.issue_token(t1, 3).await, Err(StoreError::Conflict(_))));
    assert_eq!(
        s.register_vault(x, id(61), [61; 32], Some([0xEE; 32])).await,
        Err(StoreError::BadToken)
    );
    assert!(!s.vault_exists(x).await.unwrap(), "a refused registration leaves nothing");
    s.register_vault(x, id(61), [61; 32], Some(t1)).await.unwrap();
    s.register_vault(x, id(61), [61; 32], Some(t1)).await.unwrap(); // a retry is not a second use
    assert_eq!(
        s.register_vault(id(62), id(63), [63; 32], Some(t1)).await,
        Err(StoreError::BadToken),
        "a used token registers no second vault"
    );
    s.register_vault(id(62), id(63), [63; 32], Some(t2)).await.unwrap();
    assert_eq!(s.usage(x).await.unwrap(), Usage { bytes: 0, devices: 1 });
    // Re-applying a logged spend (after a restore): the token is spent by its vault, which may
    // register with it again; no other vault may; a spent or unknown token is left as it is.
    let (t3, y) = ([0xA3; 32], id(64));
    s.issue_token(t3, 4).await.unwrap();
    s.spend_token(t3, y).await.unwrap();
    s.spend_token(t3, id(65)).await.unwrap();
    s.spend_token([0xEF; 32], y).await.unwrap();
    assert_eq!(
        s.register_vault(id(65), id(66), [66; 32], Some(t3)).await,
        Err(StoreError::BadToken)
    );
    assert_eq!(
        s.register_vault(id(67), id(68), [68; 32], Some([0xEF; 32])).await,
        Err(StoreError::BadToken),
        "a spend of a token the store never held does not make it one"
    );
    s.register_vault(y, id(69), [69; 32], Some(t3)).await.unwrap();

    // After a restore every vault's sequence moves on: the next push sorts after the old head
    // plus the gap, and pages before it are unchanged.
    let head = s.pull(v, 0, 1, ALL).await.unwrap().2;
    let before = s.pull(v, 0, 1000, ALL).await.unwrap().0;
    assert!(s.advance_sequences(1 << 32).await.unwrap() >= 3);
    assert_eq!(s.pull(v, 0, 1000, ALL).await.unwrap().0, before);
    assert_eq!(s.push(v, vec![bundle(9, 9, 10, 900)]).await.unwrap(), 1);
    let (items, _, new_head) = s.pull(v, head, 10, ALL).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].0, head + (1 << 32) + 1);
    assert_eq!(new_head, items[0].0);

    // Invites and replay memory.
    assert!(s.claim_invite(v, id(40)).await.unwrap());
    assert!(!s.claim_invite(v, id(40)).await.unwrap());
    assert!(s.remember_request(v, id(10), [1; 64], 1000, 0).await.unwrap());
    assert!(!s.remember_request(v, id(10), [1; 64], 1000, 0).await.unwrap());
    assert!(
        s.remember_request(v, id(10), [1; 64], 5000, 2000).await.unwrap(),
        "old entries are forgotten"
    );

    // Concurrent pushers: every bundle stored once, sequence numbers unique and increasing.
    s.register_vault(w, id(20), [20; 32], None).await.unwrap();
    let mut tasks = Vec::new();
    for d in 0..8u8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for k in 0..20i64 {
                s.push(w, vec![bundle(d, 1, 100 + d, k)]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (all, _, _) = s.pull(w, 0, 1000, ALL).await.unwrap();
    assert_eq!(all.len(), 160);
    assert!(all.windows(2).all(|p| p[0].0 < p[1].0));
    counted_right(&s, w, 1).await;
    // The same bundle twice in one push is stored once, and the stored ones take sequence
    // numbers with no gap, in the order they came.
    let head = s.pull(w, 0, 1, ALL).await.unwrap().2;
    assert_eq!(
        s.push(w, vec![bundle(3, 1, 10, 9), bundle(2, 1, 10, 8), bundle(3, 1, 10, 9)])
            .await
            .unwrap(),
        2
    );
    let (two, _, new_head) = s.pull(w, head, 10, ALL).await.unwrap();
    assert_eq!(new_head, head + 2);
    assert_eq!(two.iter().map(|i| i.0).collect::<Vec<_>>(), vec![head + 1, head + 2]);
    assert_eq!((two[0].1.clone(), two[1].1.clone()), (vec![3, 1, 10, 9], vec![2, 1, 10, 8]));
    counted_right(&s, w, 1).await;
}

#[test]
fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let s = mend_testkit::sqlite(&dir);
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(suite(s));
}

#[test]
fn postgres_store_conforms() {
    let s = mend_testkit::postgres();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(suite(s));
}

/// A backup thief who copies the SQLite store's files after an erasure finds nothing of the
/// dropped bundles: secure_delete overwrites their pages and the drop truncates the log.
#[test]
fn a_drop_leaves_no_copy_in_the_sqlite_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = mend_testkit::sqlite(&dir);
    let marker: Vec<u8> = b"ZQX-DROPPED-CIPHERTEXT-".repeat(40);
    let kept: Vec<u8> = b"ZQX-KEPT-CIPHERTEXT-".repeat(40);
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        s.migrate().await.unwrap();
        let v = id(1);
        s.register_vault(v, id(10), [10; 32], None).await.unwrap();
        let mut gone = bundle(2, 3, 10, 1);
        gone.bytes = marker.clone();
        let mut stays = bundle(4, 5, 10, 2);
        stays.bytes = kept.clone();
        s.push(v, vec![gone, stays]).await.unwrap();
        assert_eq!(s.drop_keys(v, vec![id(3)]).await.unwrap(), 1);
    });
    let raw = mend_testkit::raw_bytes(&dir.path().join("relay.db"));
    assert!(mend_testkit::contains(&raw, &kept), "control: what was kept is found");
    assert!(!mend_testkit::contains(&raw, &marker[..60]), "a dropped bundle's bytes remain");
}
