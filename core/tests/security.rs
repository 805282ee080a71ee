//! At rest: no plaintext in the file, crypto-shredding, local corruption, many threads.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_core::query::{TimelineEntry, Unreadable};
use mend_core::*;
use mend_testkit::*;

/// Writes a distinct marker into every kind of field, then scans the raw database and WAL bytes.
#[test]
fn no_plaintext_reaches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let v = new_vault(&dir);
    let mut markers: Vec<String> = Vec::new();
    let mut m = |tag: &str| {
        let s = format!("ZQX{tag}MARK");
        markers.push(s.clone());
        s
    };
    let c = v
        .create_client(&NewClient {
            alias_code: m("alias"),
            birth_year: None,
            jurisdiction: m("jur"),
            intake_date: Some("2026-03-04".into()),
        })
        .unwrap();
    v.add_treatment_goal(c, &m("goaltext"), &m("goaldomain")).unwrap();
    let mut ns = new_session(c, 1);
    ns.cpt_code = Some(m("cpt"));
    let s = v.create_session(&ns).unwrap();
    let mut note = soap(s);
    note.author_id = m("author");
    note.sections = vec![("subjective".into(), m("subjective"))];
    let n = v.create_note(&note).unwrap();
    v.splice_note_section(n, "objective", 0, 0, &m("typed")).unwrap();
    v.set_note_code(n, CodeSet::Interventions, &m("intervention"), true).unwrap();
    v.set_note_risk(n, &Risk { si: RiskLevel::Passive, hi: RiskLevel::Denied, note: m("risk") })
        .unwrap();
    let mut sign = author_sign(5, false);
    sign.signer_name = m("signer");
    v.sign_note(n, &sign).unwrap();
    let a = v
        .add_addendum(
            n,
            &NewAddendum {
                kind: AddendumKind::Addendum,
                reason: m("reason"),
                body: m("body"),
                targets: vec![],
                author_id: "t".into(),
                created_at: 6,
            },
        )
        .unwrap();
    v.sign_addendum(n, a, &author_sign(7, false)).unwrap();
    for class in [RecordClass::PsychotherapyNote, RecordClass::ProgressRecord] {
        let mut r = new_rupture(c, Some(s), 3);
        r.record_class = class;
        r.narrative = m("narrative");
        r.client_words = m("words");
        r.therapist_contribution = m("contribution");
        let r = v.create_rupture(&r, &m("by")).unwrap();
        v.add_repair_attempt(
            r,
            &NewRepairAttempt {
                session_id: None,
                at: 4,
                strategies: vec![RepairStrategy::Apology],
                client_response: vec![],
                effect: None,
                note: m("repairnote"),
            },
        )
        .unwrap();
        v.update_rupture(
            r,
            &RuptureUpdate { follow_up_note: Some(m("followup")), ..Default::default() },
        )
        .unwrap();
        v.splice_rupture_text(r, RuptureText::ClientWords, 0, 0, &m("typedwords")).unwrap();
        v.void_rupture(r, &m("voidreason"), &m("voidedby"), 5).unwrap();
    }
    // Enum values and dates are clinical content too.
    markers.extend(
        ["2026-03-04", "wd_minimal_response", "soap", "passive", "apology"].map(String::from),
    );
    drop(v);
    let bytes = raw_bytes(&p);
    assert!(bytes.len() > 10_000);
    for marker in &markers {
        assert!(!contains(&bytes, marker.as_bytes()), "plaintext {marker:?} found at rest");
    }
    // And after a reopen and compaction.
    let v = reopen(&p);
    v.compact_all().unwrap();
    drop(v);
    let bytes = raw_bytes(&p);
    for marker in &markers {
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "plaintext {marker:?} found after compaction"
        );
    }
}

fn wrapped_keys_of(p: &std::path::Path, client: RecordId) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(p).unwrap();
    let mut st = conn.prepare("SELECT wrapped FROM keys WHERE client_id = ?1").unwrap();
    st.query_map([&client.as_bytes()[..]], |r| r.get::<_, Option<Vec<u8>>>(0))
        .unwrap()
        .filter_map(|r| r.unwrap())
        .collect()
}

#[test]
fn erasing_a_client_shreds_it_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let v = new_vault(&dir);
    let gone = v.create_client(&new_client("C-0300")).unwrap();
    let kept = v.create_client(&new_client("C-0301")).unwrap();
    let mut ids = vec![];
    for c in [gone, kept] {
        let s = v.create_session(&new_session(c, 1)).unwrap();
        let n = v.create_note(&soap(s)).unwrap();
        let r = v.create_rupture(&new_rupture(c, Some(s), 2), "t").unwrap();
        ids.push((s, n, r));
    }
    let wrapped = wrapped_keys_of(&p, gone);
    assert_eq!(wrapped.len(), 2);

    v.erase_client(gone).unwrap();
    let (s, n, r) = ids[0];
    assert_eq!(v.client(gone).unwrap_err(), Error::Erased(gone));
    assert_eq!(v.session(s).unwrap_err(), Error::Erased(s));
    assert_eq!(v.note(n).unwrap_err(), Error::Erased(n));
    assert_eq!(v.rupture(r).unwrap_err(), Error::Erased(r));
    assert_eq!(v.create_session(&new_session(gone, 3)).unwrap_err(), Error::Erased(gone));
    let clients = v.clients().unwrap();
    assert_eq!(clients.iter().filter(|c| c.info == Err(Unreadable::Erased)).count(), 1);
    assert!(v
        .timeline(gone)
        .unwrap()
        .iter()
        .all(|e| matches!(e, TimelineEntry::Unreadable { reason: Unreadable::Erased, .. })));

    let (s, n, r) = ids[1];
    assert_eq!(v.client(kept).unwrap().alias_code, "C-0301");
    v.session(s).unwrap();
    v.splice_note_section(n, "plan", 0, 0, "Still editable. ").unwrap();
    v.rupture(r).unwrap();
    drop(v);

    // No copy of the destroyed wrapped keys remains in the database or the WAL.
    let bytes = raw_bytes(&p);
    for w in &wrapped {
        assert!(!contains(&bytes, &w[w.len() - 32..]), "a wrapped key survived erasure");
    }
    let v = reopen(&p);
    assert_eq!(v.note(n).unwrap().section("plan"), Some("Still editable. Sleep diary"));
    assert_eq!(v.note(ids[0].1).unwrap_err(), Error::Erased(ids[0].1));
}

fn flip(p: &std::path::Path, table: &str, column: &str, id: RecordId) {
    let conn = rusqlite::Connection::open(p).unwrap();
    let mut data: Vec<u8> = conn
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE doc_id = ?1"),
            [&id.as_bytes()[..]],
            |r| r.get(0),
        )
        .unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    conn.execute(
        &format!("UPDATE {table} SET {column} = ?2 WHERE doc_id = ?1"),
        rusqlite::params![&id.as_bytes()[..], data],
    )
    .unwrap();
}

#[test]
fn a_corrupt_record_is_reported_by_id_and_nothing_else_is_affected() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, notes) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0400")).unwrap();
        let s = v.create_session(&new_session(c, 1)).unwrap();
        let notes: Vec<_> = (0..3).map(|_| v.create_note(&soap(s)).unwrap()).collect();
        v.splice_note_section(notes[2], "plan", 0, 0, "more ").unwrap();
        (c, notes)
    };
    // Flip one byte in one note's snapshot, one in another's change, one in a third's summary.
    flip(&p, "docs", "snapshot", notes[0]);
    flip(&p, "changes", "data", notes[2]);
    flip(&p, "summaries", "data", notes[1]);
    let v = reopen(&p);
    let e = v.note(notes[0]).unwrap_err();
    assert!(matches!(&e, Error::Corrupt { id, what } if *id == notes[0] && what == "snapshot"));
    assert!(e.to_string().contains(&notes[0].to_string()));
    let e = v.note(notes[2]).unwrap_err();
    assert!(matches!(&e, Error::Corrupt { id, .. } if *id == notes[2]), "{e:?}");
    // The note whose summary was damaged still opens in full; its list entry says unreadable.
    assert_eq!(v.note(notes[1]).unwrap().section("plan"), Some("Sleep diary"));
    let listed = v.notes_of_client(c).unwrap();
    assert_eq!(listed.len(), 3, "nothing disappears from lists");
    assert!(listed.iter().any(|e| matches!(e, TimelineEntry::Unreadable { id, reason: Unreadable::Corrupt } if *id == notes[1])));
    assert_eq!(v.client(c).unwrap().alias_code, "C-0400");
    // Editing the corrupt record is refused, and nothing was deleted.
    assert!(v.splice_note_section(notes[0], "plan", 0, 0, "x").is_err());
    drop(v);
    let conn = rusqlite::Connection::open(&p).unwrap();
    let n: i64 =
        conn.query_row("SELECT count(*) FROM docs WHERE kind != 6", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 5);
}

#[test]
fn many_threads_share_one_vault() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let v = Arc::new(new_vault(&dir));
    let c = v.create_client(&new_client("C-0500")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let shared = v.create_note(&soap(s)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let v = Arc::clone(&v);
            std::thread::spawn(move || {
                let own = v.create_note(&soap(s)).unwrap();
                for i in 0..25 {
                    v.splice_note_section(shared, "assessment", 0, 0, "x").unwrap();
                    v.splice_note_section(own, "plan", 0, 0, &format!("{t}.{i};")).unwrap();
                    v.note(shared).unwrap();
                    v.clients().unwrap();
                }
                own
            })
        })
        .collect();
    let own: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(v.note(shared).unwrap().section("assessment").unwrap().len(), 200);
    drop(v);
    let v = reopen(&p);
    assert_eq!(v.note(shared).unwrap().section("assessment").unwrap().len(), 200);
    for (t, n) in own.iter().enumerate() {
        assert!(v.note(*n).unwrap().section("plan").unwrap().starts_with(&format!("{t}.24;")));
    }
}
