//! Devices on different app versions exchange changes: this test builds Mend's records with
//! today's code (mend-core on automerge 0.12), hands the saved documents and incremental changes
//! to `automerge07` (the same documents through automerge 0.7.4, what the previous Mend
//! release used), and checks that the old version reads every value and that its own edits come
//! back into today's Mend intact. The other direction too: what 0.7 wrote, 0.12 reads the same.
//! (The golden vaults in `core/tests/fixtures/golden` cover whole vaults written by the old build.)
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use automerge_now::{AutoCommit, AutoSerde, ReadDoc, ROOT};
use mend_core::crypto::signing::DeviceKey;
use mend_core::records::am::Stamp;
use mend_core::records::{client, measure, note, rupture, session};
use mend_core::*;
use serde_json::Value;

const OLD: &str = env!("CARGO_BIN_EXE_automerge07");

/// Runs the automerge 0.7 program and parses what it printed.
fn old(args: &[&Path], cmd: &str) -> Value {
    let out = Command::new(OLD).arg(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "automerge07 {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What automerge 0.12 sees in a document, in the program's format. The same walk as the
/// program's `print`, which cannot be shared: that one is compiled against automerge 0.7.
fn now(doc: &mut AutoCommit) -> Value {
    let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    let mut conflicts = serde_json::Map::new();
    for key in doc.keys(ROOT).collect::<Vec<_>>() {
        let all = doc.get_all(ROOT, key.as_str()).unwrap();
        if all.len() > 1 {
            let mut values: Vec<String> = all.iter().map(|(v, _)| v.to_string()).collect();
            values.sort();
            conflicts.insert(key, values.into());
        }
    }
    serde_json::json!({
        "heads": heads,
        "conflicts": conflicts,
        "doc": serde_json::to_value(AutoSerde::from(&*doc)).unwrap(),
    })
}

fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

struct Built {
    id: RecordId,
    /// The document at the end.
    doc: AutoCommit,
    /// A full save part-way, then the rest as incremental changes (as Mend stores and syncs).
    snapshot: Vec<u8>,
    changes: Vec<u8>,
}

/// Builds one record with today's Mend: `first` writes it, then it is saved; `then` edits it
/// further (the incremental part).
fn build(
    first: impl FnOnce(&mut AutoCommit, RecordId),
    then: impl FnOnce(&mut AutoCommit, RecordId),
) -> Built {
    let id = RecordId::random();
    // As the vault makes them: text positions count UTF-16 code units.
    let mut doc = mend_core::records::am::new_doc();
    first(&mut doc, id);
    let snapshot = doc.save();
    let heads = doc.get_heads();
    then(&mut doc, id);
    doc.commit();
    let changes = doc.save_after(&heads);
    Built { id, doc, snapshot, changes }
}

fn stamp(at: i64) -> Stamp {
    Stamp { device: DeviceId::random(), at }
}

fn records() -> Vec<(&'static str, Built)> {
    let client_id = RecordId::random();
    let session_id = RecordId::random();
    let key = DeviceKey::generate();
    let signer = note::Signer { key: &key, device_id: DeviceId::random() };
    let mut out = vec![];
    out.push((
        "client",
        build(
            |d, id| {
                let c = NewClient {
                    alias_code: "C-0142".into(),
                    birth_year: Some(1988),
                    jurisdiction: "US-CA".into(),
                    intake_date: Some("2026-01-05".into()),
                };
                client::create(d, id, &c, &stamp(1)).unwrap();
            },
            |d, _| client::add_goal(d, "Sleep six hours", "sleep").map(|_| ()).unwrap(),
        ),
    ));
    out.push((
        "session",
        build(
            |d, id| {
                let s = NewSession {
                    client_id,
                    scheduled_start: 1_767_600_000_000,
                    actual_start: None,
                    actual_end: None,
                    status: SessionStatus::Scheduled,
                    modality: Modality::Individual,
                    setting: Setting::InPerson,
                    cpt_code: Some("90834".into()),
                };
                session::create(d, id, &s).unwrap();
            },
            |d, id| session::set_status(d, id, SessionStatus::Completed, Some(1), Some(2)).unwrap(),
        ),
    ));
    let new_note = NewNote {
        session_id,
        author_id: "dr-rivera".into(),
        format: NoteFormat::Soap,
        sections: vec![("plan".into(), "Sleep diary".into())],
        created_at: 1_767_600_000_000,
    };
    out.push((
        "signed note",
        build(
            |d, id| {
                note::create(d, id, client_id, 1_767_600_000_000, &new_note, &stamp(1)).unwrap();
                // Positions in UTF-16 code units: the emoji is two.
                for (pos, word) in [(0, "Reports "), (8, "4–5 hours 😔, "), (22, "café 睡眠.")]
                {
                    note::splice_section(d, id, "subjective", pos, 0, word).unwrap();
                }
                note::splice_section(d, id, "subjective", 8, 10, "").unwrap();
            },
            |d, id| {
                let req = SignRequest {
                    signer_id: "dr-rivera".into(),
                    signer_name: "Dr. Sam Rivera".into(),
                    role: SignerRole::Author,
                    meaning: SignatureMeaning::Authored,
                    needs_cosign: false,
                    signed_at: 5,
                };
                note::sign(d, id, &signer, &req).unwrap();
                let a = NewAddendum {
                    kind: AddendumKind::Clarification,
                    reason: "Agreed by phone".into(),
                    body: "Log caffeine.".into(),
                    targets: vec!["plan".into()],
                    author_id: "dr-rivera".into(),
                    created_at: 6,
                };
                note::add_addendum(d, id, &a).unwrap();
            },
        ),
    ));
    out.push((
        "draft note",
        build(
            |d, id| note::create(d, id, client_id, 1, &new_note, &stamp(1)).unwrap(),
            |d, id| note::set_section(d, id, "objective", "Tired, engaged.").unwrap(),
        ),
    ));
    out.push((
        "rupture",
        build(
            |d, id| {
                let r = NewRupture {
                    client_id,
                    session_id: Some(session_id),
                    occurred_at: 10,
                    at_minute: Some(20),
                    record_class: RecordClass::PsychotherapyNote,
                    movement: Movement::Withdrawal,
                    initiated_by: InitiatedBy::Client,
                    markers: vec![RuptureMarker::WdMinimalResponse],
                    alliance_dimensions: vec![AllianceDimension::Task],
                    precipitants: vec![Precipitant::Misunderstanding],
                    detected_by: Some(DetectedBy::TherapistInSession),
                    significance: 3,
                    therapist_contribution_rating: None,
                    therapist_contribution: String::new(),
                    narrative: "Went quiet 😶".into(),
                    client_words: "Whatever".into(),
                    follow_up_planned: false,
                    follow_up_note: String::new(),
                };
                rupture::create(d, id, &r, "dr-rivera", &stamp(1)).unwrap();
            },
            |d, id| {
                let a = NewRepairAttempt {
                    session_id: Some(session_id),
                    at: 11,
                    strategies: vec![RepairStrategy::RsAcknowledgeOwnContribution],
                    client_response: vec![],
                    effect: Some(4),
                    note: "Named the shift".into(),
                };
                rupture::add_repair(d, id, &a).unwrap();
                rupture::change_status(d, id, RuptureStatus::Resolved, 12, "dr-rivera", None)
                    .unwrap();
                let mut other = d.fork();
                let u = |s| RuptureUpdate { significance: Some(s), ..Default::default() };
                rupture::update(d, id, &u(4), &stamp(13)).unwrap();
                rupture::update(&mut other, id, &u(2), &stamp(14)).unwrap();
                d.merge(&mut other).unwrap();
            },
        ),
    ));
    out.push((
        "measure",
        build(
            |d, id| {
                let m = NewMeasure {
                    client_id,
                    session_id: Some(session_id),
                    instrument: Instrument::WaiSr,
                    rater: Rater::Client,
                    administered_at: 9,
                    items: (1..=12).map(|i| (i, 4)).collect(),
                    supersedes: None,
                };
                measure::create(d, id, &m).unwrap();
            },
            |_, _| {},
        ),
    ));
    out
}

#[test]
fn automerge_07_reads_every_record_mend_writes_today() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mut r) in records() {
        let snap = write(dir.path(), "snapshot.bin", r.snapshot.clone());
        let changes = write(dir.path(), "changes.bin", r.changes.clone());
        let full = write(dir.path(), "full.bin", r.doc.save());
        let want = now(&mut r.doc);
        assert_eq!(old(&[&snap, &changes], "dump"), want, "{name}: snapshot + changes");
        assert_eq!(old(&[&full], "dump"), want, "{name}: one save");
        assert!(want["doc"]["id"] == r.id.to_string(), "{name}");
    }
}

#[test]
fn edits_made_by_automerge_07_come_back_into_mend() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mut r) in records() {
        let full = write(dir.path(), "full.bin", r.doc.save());
        let back = dir.path().join("from-0.7.bin");
        let seen = old(&[back.as_path(), full.as_path()], "edit");
        r.doc.load_incremental(&std::fs::read(&back).unwrap()).unwrap();
        assert_eq!(
            now(&mut r.doc),
            seen,
            "{name}: both versions agree after the old device's edit"
        );
        match name {
            "draft note" => {
                let n = note::read(&r.doc, r.id).unwrap();
                assert_eq!(n.section("plan"), Some("Sleep diary (0.7)"));
                assert_eq!(n.section("objective"), Some("Tired, engaged. (0.7)"));
                assert_eq!(n.state, NoteState::Draft);
            }
            "signed note" => {
                // An old device typed into a signed note: the signed content still verifies at
                // the signed heads and the late text is surfaced, never merged into it.
                let signed = note::signed_content(&r.doc, r.id).unwrap();
                assert!(signed
                    .sections
                    .iter()
                    .any(|(k, v)| k == "subjective" && v == "Reports 😔, café 睡眠."));
                assert!(note::divergence(&r.doc, r.id).unwrap().is_some());
            }
            "rupture" => {
                let e = rupture::read(&r.doc, r.id).unwrap();
                assert_eq!(e.narrative, "Went quiet 😶 (0.7)");
                assert_eq!(e.repair_attempts.len(), 1);
                let sig: Vec<_> = mend_core::records::am::Reader::new(&r.doc, r.id)
                    .reg_values(&ROOT, "significance")
                    .unwrap();
                assert_eq!(sig.len(), 2, "the concurrent significance stays a conflict");
            }
            "client" => {
                let c = client::read(&r.doc, r.id).unwrap();
                assert_eq!(c.treatment_goals[0].text, "Sleep six hours (0.7)");
            }
            _ => {}
        }
    }
}

#[test]
fn mend_today_reads_what_automerge_07_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let printed = old(&[dir.path()], "write");
    let mut doc =
        AutoCommit::load(&std::fs::read(dir.path().join("snapshot.bin")).unwrap()).unwrap();
    doc.load_incremental(&std::fs::read(dir.path().join("changes.bin")).unwrap()).unwrap();
    assert_eq!(now(&mut doc), printed);
    assert_eq!(
        printed["doc"]["sections"]["subjective"],
        "[tablet] Reports 4–5 hours 😔; café, 睡眠 worried."
    );
    assert_eq!(printed["doc"]["visits"], 3);
    assert_eq!(printed["conflicts"]["significance"], serde_json::json!(["2", "4"]));
    // And today's code keeps editing it where 0.7 left off.
    let plan = doc.get(ROOT, "sections").unwrap().unwrap().1;
    let plan = doc.get(&plan, "plan").unwrap().unwrap().1;
    automerge_now::transaction::Transactable::splice_text(&mut doc, &plan, 0, 0, "» ").unwrap();
    assert_eq!(doc.text(&plan).unwrap(), "» Sleep diary e\u{301}tude");
}
