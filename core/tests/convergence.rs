//! Three devices of one vault edit the same records in random order, syncing only when told to
//! (so they diverge arbitrarily, with random page sizes). After every device has synced a few
//! times, all three must read exactly the same records, timeline, trend, conflicts and clients.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::OnceLock;

use mend_core::sync::{MemoryRelay, SyncOptions, Transport};
use mend_core::*;
use mend_testkit::*;
use proptest::prelude::*;

const T0: Timestamp = 1_767_600_000_000;
const MIN: Timestamp = 60_000;
const SECTIONS: [&str; 4] = ["subjective", "objective", "assessment", "plan"];

/// A vault with a client, a session, a note and a rupture on A, joined by B and C, all synced;
/// kept as file bytes and relay bundles so each case starts from a copy (joining runs Argon2id,
/// which is slow in debug builds).
struct Template {
    files: Vec<(String, Vec<u8>)>,
    relay: Vec<Vec<u8>>,
    vault: VaultId,
    devices: Vec<(DeviceId, [u8; 32])>,
    client: RecordId,
    note: RecordId,
    rupture: RecordId,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let relay = MemoryRelay::new();
        let a = new_vault(&dir);
        let client = a.create_client(&new_client("C-3000")).unwrap();
        let session = a.create_session(&new_session(client, T0)).unwrap();
        let note = a.create_note(&soap(session)).unwrap();
        let rupture = a.create_rupture(&new_rupture(client, Some(session), T0), "t").unwrap();
        let b = join(&a, &relay, &dir, "b.mend");
        let c = join(&a, &relay, &dir, "c.mend");
        for _ in 0..2 {
            for v in [&a, &b, &c] {
                sync(v, &relay);
            }
        }
        let devices = [&a, &b, &c].map(|v| (v.device_id(), v.device_public_key())).to_vec();
        let vault = a.id();
        drop((a, b, c));
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if !name.ends_with("-shm") {
                files.push((name, std::fs::read(entry.path()).unwrap()));
            }
        }
        Template { files, relay: relay.dump(), vault, devices, client, note, rupture }
    })
}

#[derive(Debug, Clone)]
enum Op {
    /// Splice non-empty text into a section, at a position and deleting a length taken modulo
    /// the current text.
    Splice {
        section: usize,
        pos: u16,
        delete: u16,
        text: String,
    },
    Significance(i64),
    /// Type into one of the rupture's texts.
    RuptureSplice {
        field: usize,
        pos: u16,
        delete: u16,
        text: String,
    },
    /// Add a marker the device does not show, or remove one it shows (picked modulo).
    Marker {
        pick: usize,
        add: bool,
    },
    Status {
        to: usize,
        at: i64,
    },
    Repair {
        strategy: usize,
        at: i64,
        effect: Option<i64>,
    },
    Measure {
        items: Vec<i64>,
        at: i64,
    },
    Session {
        at: i64,
    },
    Sign {
        at: i64,
    },
    Sync {
        page_size: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..SECTIONS.len(), any::<u16>(), any::<u16>(), "[a-z é✓]{1,6}").prop_map(
            |(section, pos, delete, text)| Op::Splice { section, pos, delete, text }
        ),
        1 => (1..=5i64).prop_map(Op::Significance),
        2 => (0..RuptureText::ALL.len(), any::<u16>(), any::<u16>(), "[a-z é✓]{1,6}").prop_map(
            |(field, pos, delete, text)| Op::RuptureSplice { field, pos, delete, text }
        ),
        1 => (0..RuptureMarker::ALL.len(), any::<bool>())
            .prop_map(|(pick, add)| Op::Marker { pick, add }),
        1 => (0..RuptureStatus::ALL.len(), 0..100i64).prop_map(|(to, at)| Op::Status { to, at }),
        1 => (0..RepairStrategy::ALL.len(), 0..100i64, proptest::option::of(1..=5i64))
            .prop_map(|(strategy, at, effect)| Op::Repair { strategy, at, effect }),
        1 => (proptest::collection::vec(1..=5i64, 12), 0..100i64)
            .prop_map(|(items, at)| Op::Measure { items, at }),
        1 => (0..100i64).prop_map(|at| Op::Session { at }),
        1 => (0..100i64).prop_map(|at| Op::Sign { at }),
        4 => (1..50u32).prop_map(|page_size| Op::Sync { page_size }),
    ]
}

fn apply(v: &Vault, relay: &MemoryRelay, t: &Template, op: &Op) -> Result<(), TestCaseError> {
    let (n, r) = (t.note, t.rupture);
    match op {
        Op::Splice { section, pos, delete, text } => {
            let key = SECTIONS[*section];
            let note = v.note(n).unwrap();
            // Positions count UTF-16 units (the alphabet is all in the BMP: one unit each).
            let len = note.section(key).unwrap().encode_utf16().count();
            let pos = *pos as usize % (len + 1);
            let delete = (*delete as usize % (len - pos + 1)).min(4);
            let result = v.splice_note_section(n, key, pos, delete, text);
            if note.state == NoteState::Draft {
                prop_assert_eq!(result, Ok(()));
            } else {
                prop_assert_eq!(result, Err(Error::NoteLocked(n)));
            }
        }
        Op::RuptureSplice { field, pos, delete, text } => {
            let field = RuptureText::ALL[*field];
            let shown = v.rupture(r).unwrap();
            let len = match field {
                RuptureText::Narrative => &shown.narrative,
                RuptureText::ClientWords => &shown.client_words,
                RuptureText::TherapistContribution => &shown.therapist_contribution,
                RuptureText::FollowUpNote => &shown.follow_up_note,
            }
            .encode_utf16()
            .count();
            let pos = *pos as usize % (len + 1);
            let delete = (*delete as usize % (len - pos + 1)).min(4);
            v.splice_rupture_text(r, field, pos, delete, text).unwrap();
        }
        Op::Significance(s) => {
            v.update_rupture(r, &RuptureUpdate { significance: Some(*s), ..Default::default() })
                .unwrap();
        }
        Op::Marker { pick, add } => {
            // Add one this device does not show, or remove one it shows (a no-op edit is covered
            // by `no_op_edits_do_not_break_the_next_merge`).
            let shown = v.rupture(r).unwrap().markers;
            let candidates: Vec<RuptureMarker> =
                RuptureMarker::ALL.iter().copied().filter(|m| shown.contains(m) != *add).collect();
            let Some(&m) = candidates.get(*pick % candidates.len().max(1)) else { return Ok(()) };
            let u = if *add {
                RuptureUpdate { add_markers: vec![m], ..Default::default() }
            } else {
                RuptureUpdate { remove_markers: vec![m], ..Default::default() }
            };
            v.update_rupture(r, &u).unwrap();
        }
        Op::Status { to, at } => {
            v.set_rupture_status(r, RuptureStatus::ALL[*to], T0 + at * MIN, "t", None).unwrap();
        }
        Op::Repair { strategy, at, effect } => {
            let a = NewRepairAttempt {
                session_id: None,
                at: T0 + at * MIN,
                strategies: vec![RepairStrategy::ALL[*strategy]],
                client_response: vec![],
                effect: *effect,
                note: format!("attempt {at}"),
            };
            v.add_repair_attempt(r, &a).unwrap();
        }
        Op::Measure { items, at } => {
            let m = NewMeasure {
                client_id: t.client,
                session_id: None,
                instrument: Instrument::WaiSr,
                rater: Rater::Client,
                administered_at: T0 + at * MIN,
                items: (1..=12u8).zip(items.iter().copied()).collect(),
                supersedes: None,
            };
            v.record_measure(&m).unwrap();
        }
        Op::Session { at } => {
            v.create_session(&new_session(t.client, T0 + at * MIN)).unwrap();
        }
        Op::Sign { at } => {
            let draft = v.note(n).unwrap().state == NoteState::Draft;
            let result = v.sign_note(n, &author_sign(T0 + at * MIN, false));
            if draft {
                prop_assert_eq!(result, Ok(()));
            } else {
                prop_assert_eq!(result, Err(Error::NoteLocked(n)));
            }
        }
        Op::Sync { page_size } => {
            let report = v
                .sync(relay, &SyncOptions { page_size: *page_size, ..Default::default() })
                .unwrap();
            prop_assert!(report.rejected.is_empty(), "{:?}", report);
        }
    }
    Ok(())
}

/// What the therapist sees on one device, compared across devices.
#[derive(Debug, PartialEq)]
struct View {
    note: Result<SessionNote>,
    divergence: Result<Option<Divergence>>,
    rupture: Result<RuptureEvent>,
    timeline: Result<Vec<query::TimelineEntry>>,
    trend: Result<Vec<query::AlliancePoint>>,
    conflicts: Vec<(RecordId, String, Vec<ConflictValue>)>,
    clients: Result<Vec<query::ClientSummary>>,
}

fn view(v: &Vault, t: &Template) -> View {
    let mut conflicts: Vec<(RecordId, String, Vec<ConflictValue>)> =
        v.conflicts().unwrap().into_iter().map(|c| (c.record_id, c.field, c.values)).collect();
    conflicts.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    View {
        note: v.note(t.note),
        divergence: v.note_divergence(t.note),
        rupture: v.rupture(t.rupture),
        timeline: v.timeline(t.client),
        trend: v.alliance_trend(t.client),
        conflicts,
        clients: v.clients(),
    }
}

/// A fresh copy of the template's three devices (A, B, C) and its relay.
fn devices(dir: &tempfile::TempDir) -> (MemoryRelay, [Vault; 3]) {
    let t = template();
    for (name, bytes) in &t.files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    // Same bundles under the same relay seqs: the copied devices' cursors stay valid.
    let relay = MemoryRelay::new();
    relay.push(&t.vault, t.relay.clone()).unwrap();
    for (device, public) in &t.devices {
        relay.enroll(&t.vault, device, public).unwrap();
    }
    // Compacting every two saves of a record folds its queued saves into one whole-document
    // bundle just as often, so the random schedules also make folds meet pushes, pulls and
    // each other.
    let o = || VaultOptions { compact_after: 2, ..opts() };
    let joined =
        |name: &str| Vault::open(&dir.path().join(name), VaultSecret::key([9; 32]), o()).unwrap();
    let a = Vault::open(&path(dir), VaultSecret::key(KEY), o()).unwrap();
    (relay, [a, joined("b.mend"), joined("c.mend")])
}

fn run(ops: &[(usize, Op)]) -> Result<(), TestCaseError> {
    let t = template();
    let dir = tempfile::tempdir().unwrap();
    let (relay, devices) = devices(&dir);
    for (i, op) in ops {
        apply(&devices[*i], &relay, t, op)?;
    }
    for _ in 0..3 {
        for v in &devices {
            let report = sync(v, &relay);
            prop_assert!(report.rejected.is_empty(), "{:?}", report);
        }
    }
    let a = view(&devices[0], t);
    prop_assert!(a.note.is_ok() && a.rupture.is_ok() && a.timeline.is_ok(), "{:?}", a);
    for (name, v) in [("B", &devices[1]), ("C", &devices[2])] {
        let report = sync(v, &relay);
        prop_assert_eq!((report.pushed, report.applied, report.pending), (0, 0, 0));
        prop_assert_eq!(&a, &view(v, t), "device {} differs from A", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn three_devices_converge_whatever_the_order(
        ops in proptest::collection::vec((0..3usize, op()), 20..60)
    ) {
        run(&ops)?;
    }
}

/// Device A makes a no-op edit, B edits the same record and syncs, A syncs: what went wrong.
fn no_op_then_merge(t: &Template, no_op: Edit, edit: Edit) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let (relay, [a, b, _c]) = devices(&dir);
    no_op(&a, t);
    if a.unpushed().unwrap() != 0 {
        return Some("the no-op edit queued a change".into());
    }
    edit(&b, t);
    sync(&b, &relay);
    let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        a.sync(&relay, &SyncOptions::default())
    }));
    match merged {
        Ok(Ok(_)) => {
            sync(&b, &relay);
            let same =
                (a.note(t.note), a.rupture(t.rupture)) == (b.note(t.note), b.rupture(t.rupture));
            (!same).then(|| "A and B differ".into())
        }
        Ok(Err(e)) => Some(format!("A's sync failed: {e}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            // After the panic the connection is left inside the page's transaction.
            let after = a.splice_note_section(t.note, "plan", 0, 0, "x").err();
            Some(format!("A's sync panicked ({msg}); A's next edit: {after:?}"))
        }
    }
}

type Edit = fn(&Vault, &Template);

/// Edits that change nothing (an empty splice, adding a marker already there, removing one that
/// is not) must leave the device able to merge the next change to that record from another
/// device. Each case: device A makes the no-op edit, B edits the same record and syncs, A syncs.
#[test]
fn no_op_edits_do_not_break_the_next_merge() {
    let t = template();
    let cases: [(&str, Edit, Edit); 4] = [
        (
            "empty splice inside a section",
            |v, t| v.splice_note_section(t.note, "subjective", 3, 0, "").unwrap(),
            |v, t| v.splice_note_section(t.note, "subjective", 0, 0, "B: ").unwrap(),
        ),
        (
            "empty splice at the start of a section",
            |v, t| v.splice_note_section(t.note, "plan", 0, 0, "").unwrap(),
            |v, t| v.splice_note_section(t.note, "plan", 0, 0, "B: ").unwrap(),
        ),
        (
            "adding a marker that is already there",
            |v, t| {
                let u = RuptureUpdate {
                    add_markers: vec![RuptureMarker::WdDenial],
                    ..Default::default()
                };
                v.update_rupture(t.rupture, &u).unwrap()
            },
            |v, t| {
                let u = RuptureUpdate { significance: Some(1), ..Default::default() };
                v.update_rupture(t.rupture, &u).unwrap()
            },
        ),
        (
            "removing a marker that is not there",
            |v, t| {
                let u = RuptureUpdate {
                    remove_markers: vec![RuptureMarker::ThWithdrawal],
                    ..Default::default()
                };
                v.update_rupture(t.rupture, &u).unwrap()
            },
            |v, t| {
                let u = RuptureUpdate {
                    add_markers: vec![RuptureMarker::CfComplaintAboutParameters],
                    ..Default::default()
                };
                v.update_rupture(t.rupture, &u).unwrap()
            },
        ),
    ];
    let mut broken = Vec::new();
    // Whether the merge trips depends on the random Automerge actor ids: try each case a few
    // times with fresh devices.
    for (what, no_op, edit) in cases {
        for _ in 0..4 {
            if let Some(failure) = no_op_then_merge(t, no_op, edit) {
                broken.push(format!("{what}: {failure}"));
                break;
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}
