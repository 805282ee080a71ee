//! Which stored rows make up a record, and which records make up a list, are decided by
//! plaintext columns (record ids, sequence numbers, client ids) that no envelope covers. These
//! tests damage exactly those, as a flipped byte in the file would, and check that the record or
//! the list becomes a typed error rather than an older value or a shorter list. The campaign over
//! thousands of randomly corrupted copies is `tests/tests/corruption.rs`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::*;
use mend_testkit::*;

/// A client with one session and a note typed in `saves` saves; returns `(client, session, note)`.
fn typed_note(v: &Vault, alias: &str, saves: usize) -> (RecordId, RecordId, RecordId) {
    let c = v.create_client(&new_client(alias)).unwrap();
    let s = v.create_session(&new_session(c, 1_767_600_000_000)).unwrap();
    let n = v.create_note(&soap(s)).unwrap();
    for k in 0..saves {
        let len = v.note(n).unwrap().section("plan").unwrap().encode_utf16().count();
        v.splice_note_section(n, "plan", len, 0, &format!(" {k}")).unwrap();
    }
    (c, s, n)
}

/// Where the record's sealed head is kept in `changes` (`store::db::HEAD_SEQ`).
const HEAD: i64 = i64::MAX;

fn sql(p: &std::path::Path, statement: &str, id: RecordId) -> usize {
    let conn = rusqlite::Connection::open(p).unwrap();
    conn.execute(statement, [&id.as_bytes()[..]]).unwrap()
}

fn corrupt_on(e: &Error, want: RecordId) -> bool {
    matches!(e, Error::Corrupt { id, .. } if *id == want)
}

#[test]
fn a_lost_newest_change_is_an_error_not_the_older_note() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let n = typed_note(&new_vault(&dir), "C-1", 5).2;
    let removed =
        sql(&p, &format!("DELETE FROM changes WHERE doc_id = ?1 AND seq = (SELECT max(seq) FROM changes WHERE doc_id = ?1 AND seq < {HEAD})"), n);
    assert_eq!(removed, 1);
    let e = reopen(&p).note(n).unwrap_err();
    assert!(corrupt_on(&e, n), "{e:?}");
}

#[test]
fn a_lost_change_in_the_middle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let n = typed_note(&new_vault(&dir), "C-1", 5).2;
    assert_eq!(sql(&p, "DELETE FROM changes WHERE doc_id = ?1 AND seq = 3", n), 1);
    let e = reopen(&p).note(n).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { id, what } if *id == n && what == "change 3 missing"),
        "{e:?}"
    );
}

#[test]
fn a_change_moved_to_another_record_breaks_both_not_silently() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (a, b) = {
        let v = new_vault(&dir);
        (typed_note(&v, "C-1", 4).2, typed_note(&v, "C-2", 2).2)
    };
    // The newest change of `a` now says it belongs to `b` (at a number `b` does not have).
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute(
        "UPDATE changes SET doc_id = ?2, seq = 100 WHERE doc_id = ?1 AND seq = 4",
        [&a.as_bytes()[..], &b.as_bytes()[..]],
    )
    .unwrap();
    drop(conn);
    let v = reopen(&p);
    assert!(corrupt_on(&v.note(a).unwrap_err(), a));
    assert!(corrupt_on(&v.note(b).unwrap_err(), b));
}

#[test]
fn a_lost_or_damaged_head_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, s, n) = typed_note(&new_vault(&dir), "C-1", 3);
    assert_eq!(sql(&p, &format!("DELETE FROM changes WHERE doc_id = ?1 AND seq = {HEAD}"), n), 1);
    let damage =
        format!("UPDATE changes SET data = data || x'00' WHERE doc_id = ?1 AND seq = {HEAD}");
    assert_eq!(sql(&p, &damage, s), 1);
    let v = reopen(&p);
    assert!(
        matches!(v.note(n).unwrap_err(), Error::Corrupt { id, what } if id == n && what == "head")
    );
    assert!(corrupt_on(&v.session(s).unwrap_err(), s));
    // The client's other record is untouched.
    assert_eq!(v.client(c).unwrap().alias_code, "C-1");
}

#[test]
fn a_record_moved_to_another_client_makes_both_lists_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let ((c1, s1, n1), (c2, _, _)) = {
        let v = new_vault(&dir);
        (typed_note(&v, "C-1", 1), typed_note(&v, "C-2", 1))
    };
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute(
        "UPDATE docs SET client_id = ?2 WHERE doc_id = ?1",
        [&n1.as_bytes()[..], &c2.as_bytes()[..]],
    )
    .unwrap();
    drop(conn);
    let v = reopen(&p);
    // Neither timeline comes back short (c1's) or long (c2's): both say the client is damaged.
    assert!(corrupt_on(&v.timeline(c1).unwrap_err(), c1));
    assert!(corrupt_on(&v.notes_of_client(c1).unwrap_err(), c1));
    assert!(corrupt_on(&v.timeline(c2).unwrap_err(), c2));
    // Lists of other kinds of c1 still read, and the note itself reads true (its client id is in
    // its encrypted document, not in the damaged column).
    assert_eq!(v.alliance_trend(c1).unwrap(), vec![]);
    assert_eq!(v.note(n1).unwrap().client_id, c1);
    assert_eq!(v.session(s1).unwrap().client_id, c1);
}

#[test]
fn a_lost_client_row_or_count_makes_the_client_list_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c1, c2) = {
        let v = new_vault(&dir);
        (typed_note(&v, "C-1", 0).0, typed_note(&v, "C-2", 0).0)
    };
    assert_eq!(reopen(&p).clients().unwrap().len(), 2);
    // The client record's row moves out of the client list (another kind code).
    assert_eq!(sql(&p, "UPDATE docs SET kind = 5 WHERE doc_id = ?1", c1), 1);
    let v = reopen(&p);
    assert!(matches!(v.clients().unwrap_err(), Error::Corrupt { .. }));
    assert!(matches!(v.conflicts().unwrap_err(), Error::Corrupt { .. }));
    drop(v);
    // A lost count is an error too, not a fresh count of whatever rows are left.
    assert_eq!(sql(&p, "UPDATE docs SET kind = 1 WHERE doc_id = ?1", c1), 1);
    assert_eq!(sql(&p, "DELETE FROM tallies WHERE client_id = ?1 AND kind = 2", c2), 1);
    let v = reopen(&p);
    assert_eq!(v.clients().unwrap().len(), 2);
    assert!(corrupt_on(&v.timeline(c2).unwrap_err(), c2));
    assert!(v.timeline(c1).is_ok());
}

#[test]
fn saves_compaction_and_new_records_keep_heads_and_counts_right() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let opts = VaultOptions { compact_after: 4, ..opts() };
    let (c, n) = {
        let v = Vault::create(&p, VaultSecret::key(KEY), opts.clone()).unwrap();
        let (c, _, n) = typed_note(&v, "C-1", 11);
        v.compact_all().unwrap();
        (c, n)
    };
    for round in 0..3 {
        let v = Vault::open(&p, VaultSecret::key(KEY), opts.clone()).unwrap();
        let before = v.note(n).unwrap().section("plan").unwrap().to_owned();
        v.splice_note_section(n, "plan", 0, 0, &format!("r{round} ")).unwrap();
        v.create_session(&new_session(c, 1_767_700_000_000 + round)).unwrap();
        assert_eq!(v.note(n).unwrap().section("plan").unwrap(), format!("r{round} {before}"));
        assert_eq!(v.timeline(c).unwrap().len(), 3 + round as usize);
    }
}

#[test]
fn a_forged_passphrase_cost_in_the_header_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    drop(Vault::create(&p, VaultSecret::passphrase("correct horse"), opts()).unwrap());
    let conn = rusqlite::Connection::open(&p).unwrap();
    let json: Vec<u8> =
        conn.query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |r| r.get(0)).unwrap();
    let mut kdf: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // 4 TiB of memory: deriving with it would abort the process, not fail.
    kdf["m_cost_kib"] = serde_json::json!(u32::MAX);
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'kdf'",
        [serde_json::to_vec(&kdf).unwrap()],
    )
    .unwrap();
    drop(conn);
    let e = Vault::open(&p, VaultSecret::passphrase("correct horse"), opts()).unwrap_err();
    assert!(matches!(e, Error::NotAVault(_)), "{e:?}");
}

#[test]
fn a_damaged_sequence_floor_does_not_cost_the_next_edit() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let n = typed_note(&new_vault(&dir), "C-1", 3).2;
    // `docs.next_seq` is plaintext and unsealed: moved up or down, it must not decide where the
    // next change goes (a gap, or a number taken twice, would lose the record).
    for floor in [9, 0] {
        assert_eq!(sql(&p, &format!("UPDATE docs SET next_seq = {floor} WHERE doc_id = ?1"), n), 1);
        let v = reopen(&p);
        let len = v.note(n).unwrap().section("plan").unwrap().encode_utf16().count();
        v.splice_note_section(n, "plan", len, 0, &format!(" f{floor}")).unwrap();
        drop(v);
        assert!(reopen(&p)
            .note(n)
            .unwrap()
            .section("plan")
            .unwrap()
            .ends_with(&format!(" f{floor}")));
    }
}

#[test]
fn a_conflict_names_its_true_client_whatever_the_plaintext_column_says() {
    let dir = tempfile::tempdir().unwrap();
    let relay = mend_core::sync::MemoryRelay::new();
    let phone = new_vault(&dir);
    let c1 = phone.create_client(&new_client("C-1")).unwrap();
    let c2 = phone.create_client(&new_client("C-2")).unwrap();
    let r = phone.create_rupture(&new_rupture(c1, None, 1), "t").unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    for (v, s) in [(&phone, 4), (&tablet, 2)] {
        v.update_rupture(r, &RuptureUpdate { significance: Some(s), ..Default::default() })
            .unwrap();
        sync(v, &relay);
    }
    sync(&phone, &relay);
    assert_eq!(phone.conflicts().unwrap()[0].client_id, c1);
    drop((phone, tablet));
    let conn = rusqlite::Connection::open(path(&dir)).unwrap();
    let moved = conn
        .execute(
            "UPDATE docs SET client_id = ?2 WHERE doc_id = ?1",
            [&r.as_bytes()[..], &c2.as_bytes()[..]],
        )
        .unwrap();
    assert_eq!(moved, 1);
    drop(conn);
    let v = reopen(&path(&dir));
    // The rupture's client is read from its encrypted document: the conflict stays under C-1
    // (the timelines of both clients are errors: `a_record_moved_to_another_client_...`).
    let conflicts = v.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!((conflicts[0].record_id, conflicts[0].client_id), (r, c1));
    assert_eq!(v.conflicts_of(r).unwrap()[0].client_id, c1);
}
