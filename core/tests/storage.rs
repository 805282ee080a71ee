//! Incremental saves, compaction, and listing without loading documents.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::query::TimelineEntry;
use mend_core::*;
use mend_testkit::*;

fn count(p: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(p).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn edits_are_incremental_and_compaction_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let o = VaultOptions { compact_after: 20, ..opts() };
    let v = Vault::create(&p, VaultSecret::key(KEY), o.clone()).unwrap();
    let c = v.create_client(&new_client("C-0700")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let n = v.create_note(&soap(s)).unwrap();
    for i in 0..10 {
        v.splice_note_section(n, "assessment", i, 0, "a").unwrap();
    }
    assert_eq!(
        count(&p, "SELECT count(*) FROM changes WHERE seq < 9223372036854775807"),
        10,
        "one stored change per save"
    );
    v.sign_note(n, &author_sign(5, false)).unwrap();
    for i in 0..25 {
        let a = v
            .add_addendum(
                n,
                &NewAddendum {
                    kind: AddendumKind::Addendum,
                    reason: format!("r{i}"),
                    body: "b".into(),
                    targets: vec![],
                    author_id: "t".into(),
                    created_at: 10 + i,
                },
            )
            .unwrap();
        v.sign_addendum(n, a, &author_sign(20 + i, false)).unwrap();
    }
    // 10 + 1 + 50 saves with compaction every 20: far fewer rows than saves remain.
    assert!(count(&p, "SELECT count(*) FROM changes WHERE seq < 9223372036854775807") < 20);
    drop(v);
    let v = Vault::open(&p, VaultSecret::key(KEY), o).unwrap();
    let note = v.note(n).unwrap();
    assert_eq!(note.section("assessment"), Some("aaaaaaaaaa"));
    assert_eq!(note.addenda.len(), 25);
    // The signed content is read at the signed heads: history survived compaction.
    assert_eq!(v.signed_content(n).unwrap().sections[2].1, "aaaaaaaaaa");
    v.verify_addenda(n).unwrap();
    v.compact_all().unwrap();
    assert_eq!(count(&p, "SELECT count(*) FROM changes WHERE seq < 9223372036854775807"), 0);
    drop(v);
    let v = reopen(&p);
    assert_eq!(v.note(n).unwrap().addenda.len(), 25);
    assert_eq!(v.signed_content(n).unwrap().sections[2].1, "aaaaaaaaaa");
}

/// Listing reads summaries only: with every other record's document destroyed, a client's list
/// and timeline still come up complete.
#[test]
fn listing_does_not_load_documents() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, n) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0800")).unwrap();
        let s = v.create_session(&new_session(c, 1)).unwrap();
        let n: Vec<_> = (0..5).map(|_| v.create_note(&soap(s)).unwrap()).collect();
        (c, n)
    };
    {
        let conn = rusqlite::Connection::open(&p).unwrap();
        conn.execute("UPDATE docs SET snapshot = zeroblob(64)", []).unwrap();
    }
    let v = reopen(&p);
    let notes = v.notes_of_client(c).unwrap();
    assert_eq!(notes.len(), 5);
    assert!(notes.iter().all(|e| matches!(e, TimelineEntry::Note { .. })));
    assert_eq!(v.clients().unwrap()[0].info.as_ref().unwrap().0, "C-0800");
    // Loading a document does need it, and reports the damage.
    assert!(matches!(v.note(n[0]).unwrap_err(), Error::Corrupt { .. }));
}

#[test]
fn a_key_row_with_an_unknown_purpose_code_stops_nothing() {
    // A damaged file (or one a newer Mend wrote) holds a key purpose this build does not know:
    // that key is never chosen for a purpose, and nothing else fails because of it.
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let v = Vault::create(&p, VaultSecret::key(KEY), opts()).unwrap();
    let damaged = v.create_client(&new_client("C-0901")).unwrap();
    let other = v.create_client(&new_client("C-0902")).unwrap();
    let s = v.create_session(&new_session(other, 1)).unwrap();
    drop(v);
    let changed = rusqlite::Connection::open(&p)
        .unwrap()
        .execute(
            "UPDATE keys SET purpose = 9 WHERE client_id = ?1 AND purpose = 2",
            [&damaged.as_bytes()[..]],
        )
        .unwrap();
    assert_eq!(changed, 1, "the damaged client's process key");
    let v = Vault::open(&p, VaultSecret::key(KEY), opts()).unwrap();
    assert_eq!(v.clients().unwrap().len(), 2);
    assert_eq!(v.client(damaged).unwrap().alias_code, "C-0901", "its record key still opens it");
    assert_eq!(v.timeline(other).unwrap().len(), 1);
    assert_eq!(v.session(s).unwrap().client_id, other);
    // The unknown key is not taken for psychotherapy notes: a rupture classed as one is refused.
    let mut r = new_rupture(damaged, None, 1);
    r.record_class = RecordClass::PsychotherapyNote;
    assert!(matches!(v.create_rupture(&r, "t"), Err(Error::NotFound { .. })));
    assert_eq!(v.export_invite("ABCD-EFGH-JKMN", i64::MAX).map(|b| b.is_empty()), Ok(false));
    v.erase_client(damaged).unwrap();
    assert!(matches!(v.client(damaged), Err(Error::Erased(_))));
    assert_eq!(v.session(s).unwrap().client_id, other);
}
