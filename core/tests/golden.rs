//! Golden data: vault files, relay bytes (bundles and snapshots) and an invite recorded by an
//! earlier Mend build, read back by this one. Everything a therapist already stored or synced
//! must keep opening after a dependency upgrade or a refactor, with every value unchanged.
//!
//! The fixtures in `tests/fixtures/golden/` were written once, with the dependencies of that
//! time (automerge 0.7, rusqlite 0.37 with SQLite 3.50, chacha20poly1305 0.10, argon2 0.5,
//! ed25519-dalek 2); their `README.md` says how and when. They are never rewritten by a newer
//! build: `MEND_WRITE_GOLDEN=1 cargo test -p mend-core --test golden` refuses to overwrite them
//! and writes a fresh set only into an empty folder named by `MEND_GOLDEN_OUT`.
//!
//! What is checked:
//! - `phone.mend` (opened with a passphrase: Argon2id with the stored parameters) and
//!   `tablet.mend` (opened with a raw key) read back every value `expected-*.txt` recorded:
//!   clients (one erased), sessions, a signed and co-signed SOAP note with signed addenda and
//!   its signed content, a rupture with repair attempts and status history, WAI-SR measures,
//!   open conflicts, devices (one revoked) and every query the app's screens make;
//! - `relay.bin` (the relay's bundles and snapshots, in relay order) verifies bundle by bundle
//!   against the devices' recorded public keys, and a device joining with `invite.bin` and its
//!   code from those bytes alone reads the same records;
//! - both old vaults keep working: they accept a new edit, sync it to the joined device, and
//!   read back after a reopen.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mend_core::crypto::kdf::KdfParams;
use mend_core::sync::bundle::Bundle;
use mend_core::sync::{wire, MemoryRelay, Transport};
use mend_core::*;
use mend_testkit::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden");
const PASSPHRASE: &str = "golden fixture passphrase";
const TABLET_KEY: [u8; 32] = [0x7Au8; 32];
const JOINER_KEY: [u8; 32] = [0x3Cu8; 32];

fn fast() -> VaultOptions {
    VaultOptions { kdf: KdfParams::with_cost(256, 1, 1), ..Default::default() }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// Copies a recorded vault (and its WAL, if one was recorded) into `dir`, so tests never write
/// to the fixtures.
fn copy_vault(name: &str, dir: &tempfile::TempDir) -> PathBuf {
    let to = dir.path().join(name);
    std::fs::copy(fixture(name), &to).unwrap();
    let wal = fixture(&format!("{name}-wal"));
    if wal.exists() {
        std::fs::copy(wal, dir.path().join(format!("{name}-wal"))).unwrap();
    }
    to
}

/// Everything a therapist's screens can read from a vault, as text: each query's answer and
/// every record reached from the client list, in a fixed order. `with_devices` adds the device
/// list (which differs on a device that joined later).
fn describe(v: &Vault, with_devices: bool) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "vault {}", v.id()).unwrap();
    if with_devices {
        let mut devices = v.devices();
        devices.sort_by_key(|d| d.id.to_string());
        for d in devices {
            writeln!(w, "device {d:?}").unwrap();
        }
    }
    let clients = v.clients().unwrap();
    writeln!(w, "clients {clients:#?}").unwrap();
    for c in &clients {
        writeln!(w, "== client {}", c.id).unwrap();
        writeln!(w, "client {:#?}", v.client(c.id)).unwrap();
        let timeline = v.timeline(c.id);
        writeln!(w, "timeline {timeline:#?}").unwrap();
        writeln!(w, "notes_of_client {:#?}", v.notes_of_client(c.id)).unwrap();
        writeln!(w, "unresolved_ruptures {:#?}", v.unresolved_ruptures(c.id)).unwrap();
        writeln!(w, "rupture_counts {:#?}", v.rupture_counts(c.id)).unwrap();
        writeln!(w, "alliance_trend {:#?}", v.alliance_trend(c.id)).unwrap();
        for e in timeline.unwrap_or_default() {
            match e {
                query::TimelineEntry::Session { id, .. } => {
                    writeln!(w, "session {id} {:#?}", v.session(id)).unwrap();
                }
                query::TimelineEntry::Note { id, .. } => {
                    writeln!(w, "note {id} {:#?}", v.note(id)).unwrap();
                    writeln!(w, "signed_content {id} {:#?}", v.signed_content(id)).unwrap();
                    writeln!(w, "divergence {id} {:#?}", v.note_divergence(id)).unwrap();
                    writeln!(w, "verify_addenda {id} {:?}", v.verify_addenda(id)).unwrap();
                }
                query::TimelineEntry::Rupture(r) => {
                    writeln!(w, "rupture {} {:#?}", r.id, v.rupture(r.id)).unwrap();
                }
                query::TimelineEntry::Measure(m) => {
                    writeln!(w, "measure {} {:#?}", m.measure_id, v.measure(m.measure_id)).unwrap();
                }
                query::TimelineEntry::Unreadable { id, reason } => {
                    writeln!(w, "unreadable {id} {reason:?}").unwrap();
                }
            }
        }
    }
    let mut conflicts = v.conflicts().unwrap();
    conflicts.sort_by_key(|c| (c.record_id.to_string(), c.field.clone()));
    for c in &mut conflicts {
        c.values.sort_by_key(|x| (x.value.clone(), x.device_id.map(|d| d.to_string())));
    }
    writeln!(w, "conflicts {conflicts:#?}").unwrap();
    out
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// Compares line by line, so a failure names the first value that changed. With
/// `MEND_GOLDEN_GOT=DIR` set, what was read is also written to `DIR/<what>.txt`, to review a
/// deliberate change of the readers' output (a new derived field) before re-recording.
fn assert_same(what: &str, got: &str, want: &str) {
    if let Ok(dir) = std::env::var("MEND_GOLDEN_GOT") {
        std::fs::write(format!("{dir}/{}.txt", what.replace(' ', "_")), got).unwrap();
    }
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{what}: line {} differs from the recorded value", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{what}: a different number of lines");
}

fn recorded_relay() -> MemoryRelay {
    let bytes = std::fs::read(fixture("relay.bin")).unwrap();
    let bundles = wire::decode_bundles(&bytes, usize::MAX).unwrap();
    let relay = MemoryRelay::new();
    let vault = Bundle::decode(&bundles[0]).unwrap().vault;
    for b in bundles {
        relay.push(&vault, vec![b]).unwrap();
    }
    relay
}

fn open_phone(p: &Path) -> Vault {
    Vault::open(p, VaultSecret::passphrase(PASSPHRASE), fast()).unwrap()
}

fn open_tablet(p: &Path) -> Vault {
    Vault::open(p, VaultSecret::key(TABLET_KEY), fast()).unwrap()
}

#[test]
fn recorded_vaults_read_back_every_recorded_value() {
    if std::env::var_os("MEND_WRITE_GOLDEN").is_some() {
        return write_golden();
    }
    let dir = tempfile::tempdir().unwrap();
    let phone = open_phone(&copy_vault("phone.mend", &dir));
    assert_same("phone.mend", &describe(&phone, true), &expected("expected-phone.txt"));
    let tablet = open_tablet(&copy_vault("tablet.mend", &dir));
    assert_same("tablet.mend", &describe(&tablet, true), &expected("expected-tablet.txt"));
    // The successful passphrase open above derived the key with the parameters and salt stored
    // in the file (`fast()` carries a fresh salt, so it could not have come from there); a wrong
    // passphrase still opens nothing.
    let p = dir.path().join("phone.mend");
    drop(phone);
    assert!(matches!(
        Vault::open(&p, VaultSecret::passphrase("not the passphrase"), fast()),
        Err(Error::WrongKey)
    ));
}

#[test]
fn recorded_relay_bundles_verify_and_a_new_device_joins_from_them() {
    if std::env::var_os("MEND_WRITE_GOLDEN").is_some() {
        return;
    }
    // Every bundle decodes and its signature verifies against a recorded device key.
    let keys: Vec<(DeviceId, [u8; 32])> = expected("device-keys.txt")
        .lines()
        .map(|l| {
            let (id, key) = l.split_once(' ').unwrap();
            let id: DeviceId = id.parse().unwrap();
            (id, hex::decode(key).unwrap().try_into().unwrap())
        })
        .collect();
    let bytes = std::fs::read(fixture("relay.bin")).unwrap();
    let bundles = wire::decode_bundles(&bytes, usize::MAX).unwrap();
    assert!(bundles.len() >= 10, "{} bundles recorded", bundles.len());
    for b in &bundles {
        let bundle = Bundle::decode(b).unwrap();
        let (_, key) = keys.iter().find(|(id, _)| *id == bundle.device).unwrap();
        bundle.verify(key).unwrap();
        assert_eq!(bundle.encode(), *b, "a bundle re-encodes to other bytes");
    }

    // A new device joins from the recorded invite and relay bytes alone.
    let relay = recorded_relay();
    let invite = std::fs::read(fixture("invite.bin")).unwrap();
    let code = expected("invite-code.txt");
    let dir = tempfile::tempdir().unwrap();
    let joined = Vault::join(
        &dir.path().join("joined.mend"),
        VaultSecret::key(JOINER_KEY),
        fast(),
        &invite,
        code.trim(),
        &relay,
    )
    .unwrap();
    sync(&joined, &relay);
    assert_same(
        "joined from relay.bin",
        &describe(&joined, false),
        &expected("expected-relay.txt"),
    );
}

#[test]
fn recorded_vaults_take_new_edits_and_sync_them() {
    if std::env::var_os("MEND_WRITE_GOLDEN").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let relay = recorded_relay();
    let p = copy_vault("phone.mend", &dir);
    let phone = open_phone(&p);
    let t = copy_vault("tablet.mend", &dir);
    let tablet = open_tablet(&t);
    let client = phone.clients().unwrap().into_iter().find(|c| c.info.is_ok()).unwrap().id;
    let session = phone.create_session(&new_session(client, 1_767_900_000_000)).unwrap();
    let note = phone.create_note(&soap(session)).unwrap();
    phone.splice_note_section(note, "subjective", 0, 0, "New build: ").unwrap();
    // The recorded registry lists a revoked device, so the first write after the upgrade
    // renews every key (a new epoch), sealed to the devices whose receiving keys the phone
    // knows: none yet, as the tablet publishes its own when it first syncs. The phone seals its
    // keys to the tablet at its next sync, and the tablet reads the note after that.
    sync(&phone, &relay);
    sync(&tablet, &relay);
    sync(&phone, &relay);
    sync(&tablet, &relay);
    let want = "New build: Reports poor sleep";
    assert_eq!(tablet.note(note).unwrap().section("subjective").unwrap(), want);
    drop(phone);
    let phone = open_phone(&p);
    assert_eq!(phone.note(note).unwrap().section("subjective").unwrap(), want);
}

/// Writes a fresh fixture set into `MEND_GOLDEN_OUT` (an empty folder); refuses to touch the
/// checked-in set.
fn write_golden() {
    let out = PathBuf::from(std::env::var("MEND_GOLDEN_OUT").expect("set MEND_GOLDEN_OUT"));
    assert!(out != Path::new(DIR), "the checked-in fixtures are never rewritten");
    std::fs::create_dir_all(&out).unwrap();
    assert!(std::fs::read_dir(&out).unwrap().next().is_none(), "MEND_GOLDEN_OUT must be empty");
    let work = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let day = 1_767_600_000_000i64;
    let min = 60_000i64;

    let phone_path = work.path().join("phone.mend");
    let phone = Vault::create(&phone_path, VaultSecret::passphrase(PASSPHRASE), fast()).unwrap();
    phone.set_device_name("Phone").unwrap();
    let client = phone
        .create_client(&NewClient {
            alias_code: "C-0142".into(),
            birth_year: Some(1988),
            jurisdiction: "US-CA".into(),
            intake_date: Some("2026-01-05".into()),
        })
        .unwrap();
    phone.add_treatment_goal(client, "Sleep at least six hours on most nights", "sleep").unwrap();
    let session = phone
        .create_session(&NewSession {
            client_id: client,
            scheduled_start: day,
            actual_start: Some(day + 2 * min),
            actual_end: Some(day + 52 * min),
            status: SessionStatus::Completed,
            modality: Modality::Individual,
            setting: Setting::TelehealthVideo,
            cpt_code: Some("90834".into()),
        })
        .unwrap();
    let second = phone.create_session(&new_session(client, day + 7 * 24 * 60 * min)).unwrap();
    phone.set_session_status(second, SessionStatus::NoShow, None, None).unwrap();

    let note = phone
        .create_note(&NewNote {
            session_id: session,
            author_id: "dr-rivera".into(),
            format: NoteFormat::Soap,
            sections: vec![],
            created_at: day + 55 * min,
        })
        .unwrap();
    let mut typed = 0;
    for word in ["Reports ", "sleeping ", "4–5 hours 😔; ", "worried about work."] {
        phone.splice_note_section(note, "subjective", typed, 0, word).unwrap();
        typed += word.encode_utf16().count();
    }
    phone.splice_note_section(note, "subjective", 8, 9, "").unwrap();
    phone.set_note_section(note, "objective", "Tired, engaged, on time.").unwrap();
    phone.set_note_section(note, "assessment", "Insomnia linked to work stress.").unwrap();
    phone.set_note_section(note, "plan", "Sleep diary for two weeks.").unwrap();
    phone.set_note_code(note, CodeSet::Diagnoses, "G47.00", true).unwrap();
    phone.set_note_code(note, CodeSet::Diagnoses, "F41.1", true).unwrap();
    phone.set_note_code(note, CodeSet::Diagnoses, "F41.1", false).unwrap();
    phone
        .set_note_risk(
            note,
            &Risk { si: RiskLevel::Denied, hi: RiskLevel::Denied, note: "No change.".into() },
        )
        .unwrap();
    let author = |at| SignRequest {
        signer_id: "dr-rivera".into(),
        signer_name: "Dr. Sam Rivera, PsyD".into(),
        role: SignerRole::Author,
        meaning: SignatureMeaning::Authored,
        needs_cosign: true,
        signed_at: at,
    };
    phone.sign_note(note, &author(day + 70 * min)).unwrap();
    let cosign = SignRequest {
        signer_id: "dr-visor".into(),
        signer_name: "Dr. S. Visor".into(),
        role: SignerRole::Supervisor,
        meaning: SignatureMeaning::Cosigned,
        needs_cosign: false,
        signed_at: day + 80 * min,
    };
    phone.sign_note(note, &cosign).unwrap();
    let addendum = phone
        .add_addendum(
            note,
            &NewAddendum {
                kind: AddendumKind::Clarification,
                reason: "Plan detail agreed by phone".into(),
                body: "Client will also log caffeine after 2 pm.".into(),
                targets: vec!["plan".into()],
                author_id: "dr-rivera".into(),
                created_at: day + 24 * 60 * min,
            },
        )
        .unwrap();
    phone
        .sign_addendum(
            note,
            addendum,
            &SignRequest { needs_cosign: false, ..author(day + 1500 * min) },
        )
        .unwrap();
    let late = phone
        .add_addendum(
            note,
            &NewAddendum {
                kind: AddendumKind::Correction,
                reason: "Wrong hours".into(),
                body: "Sleeping 5–6 hours, not 4–5.".into(),
                targets: vec!["subjective".into()],
                author_id: "dr-rivera".into(),
                created_at: day + 2 * 24 * 60 * min,
            },
        )
        .unwrap();
    phone.set_addendum_body(note, late, "Sleeping 5–6 hours (not 4–5).").unwrap();

    let rupture = phone
        .create_rupture(
            &NewRupture {
                client_id: client,
                session_id: Some(session),
                occurred_at: day + 30 * min,
                at_minute: Some(28),
                record_class: RecordClass::PsychotherapyNote,
                movement: Movement::Withdrawal,
                initiated_by: InitiatedBy::Client,
                markers: vec![
                    RuptureMarker::WdMinimalResponse,
                    RuptureMarker::WdDeferentialAppeasing,
                ],
                alliance_dimensions: vec![AllianceDimension::Task],
                precipitants: vec![Precipitant::Disagreement],
                detected_by: Some(DetectedBy::TherapistInSession),
                significance: 3,
                therapist_contribution_rating: Some(3),
                therapist_contribution: "I pressed on homework.".into(),
                narrative: "Went quiet when homework was reviewed.".into(),
                client_words: "\"Sure, whatever works.\"".into(),
                follow_up_planned: true,
                follow_up_note: "Ask how the homework talk felt.".into(),
            },
            "dr-rivera",
        )
        .unwrap();
    phone
        .add_repair_attempt(
            rupture,
            &NewRepairAttempt {
                session_id: Some(session),
                at: day + 35 * min,
                strategies: vec![
                    RepairStrategy::RsInviteDiscussionOfRelationship,
                    RepairStrategy::RsAcknowledgeOwnContribution,
                ],
                client_response: vec![ClientResponse::AssertedNeedOrDisagreement],
                effect: Some(4),
                note: "Named the shift.".into(),
            },
        )
        .unwrap();
    phone
        .add_repair_attempt(
            rupture,
            &NewRepairAttempt {
                session_id: None,
                at: day + 3 * 24 * 60 * min,
                strategies: vec![RepairStrategy::RsAcknowledgeOwnContribution],
                client_response: vec![],
                effect: None,
                note: "Between sessions, by message.".into(),
            },
        )
        .unwrap();
    phone
        .set_rupture_status(
            rupture,
            RuptureStatus::PartiallyResolved,
            day + 40 * min,
            "dr-rivera",
            Some(session),
        )
        .unwrap();
    phone.splice_rupture_text(rupture, RuptureText::Narrative, 0, 0, "Client ").unwrap();
    let voided =
        phone.create_rupture(&new_rupture(client, Some(session), day + 45 * min), "t").unwrap();
    phone.void_rupture(voided, "Logged twice", "dr-rivera", day + 60 * min).unwrap();

    let items: Vec<(u8, i64)> = [4, 3, 4, 3, 4, 3, 5, 3, 4, 3, 3, 3]
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u8 + 1, *s))
        .collect();
    let measure = phone
        .record_measure(&NewMeasure {
            client_id: client,
            session_id: Some(session),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: day + 53 * min,
            items: items.clone(),
            supersedes: None,
        })
        .unwrap();
    phone
        .record_measure(&NewMeasure {
            client_id: client,
            session_id: Some(session),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: day + 54 * min,
            items: items.iter().map(|(i, s)| (*i, (*s + 1).min(5))).collect(),
            supersedes: Some(measure),
        })
        .unwrap();

    // A client erased on the phone, after its records reached the relay.
    let erased = phone.create_client(&new_client("C-0999")).unwrap();
    let es = phone.create_session(&new_session(erased, day)).unwrap();
    phone.create_note(&soap(es)).unwrap();

    // The tablet joins; an old phone joins and is revoked.
    let code = mend_core::sync::invite::generate_code();
    let invite = phone.export_invite(&code, i64::MAX).unwrap();
    sync(&phone, &relay);
    let tablet_path = work.path().join("tablet.mend");
    let tablet =
        Vault::join(&tablet_path, VaultSecret::key(TABLET_KEY), fast(), &invite, &code, &relay)
            .unwrap();
    tablet.set_device_name("Tablet").unwrap();
    sync(&tablet, &relay);
    let old = join(&phone, &relay, &work, "old-phone.mend");
    sync(&phone, &relay);
    phone.revoke_device(old.device_id()).unwrap();
    phone.erase_client(erased).unwrap();
    sync(&phone, &relay);
    sync(&tablet, &relay);
    phone.upload_snapshots(&relay).unwrap();

    // Concurrent scalar edits (a conflict left open) and concurrent typing in one text, after
    // the snapshots, so the relay holds both snapshots and ordinary bundles.
    phone
        .update_rupture(rupture, &RuptureUpdate { significance: Some(4), ..Default::default() })
        .unwrap();
    tablet
        .update_rupture(rupture, &RuptureUpdate { significance: Some(2), ..Default::default() })
        .unwrap();
    phone.set_client_status(client, ClientStatus::OnHold).unwrap();
    tablet.set_client_status(client, ClientStatus::OnHold).unwrap();
    phone.splice_rupture_text(rupture, RuptureText::ClientWords, 0, 0, "[phone] ").unwrap();
    tablet.splice_rupture_text(rupture, RuptureText::ClientWords, 0, 0, "[tablet] ").unwrap();
    sync(&phone, &relay);
    sync(&tablet, &relay);
    sync(&phone, &relay);
    assert!(!phone.conflicts().unwrap().is_empty());

    // Invites to come: one recorded for the joining test (unclaimed at the relay).
    let code = mend_core::sync::invite::generate_code();
    let invite = phone.export_invite(&code, i64::MAX).unwrap();
    sync(&phone, &relay);
    std::fs::write(out.join("invite.bin"), invite).unwrap();
    std::fs::write(out.join("invite-code.txt"), format!("{code}\n")).unwrap();

    let keys = format!(
        "{} {}\n{} {}\n{} {}\n",
        phone.device_id(),
        hex::encode(phone.device_public_key()),
        tablet.device_id(),
        hex::encode(tablet.device_public_key()),
        old.device_id(),
        hex::encode(old.device_public_key()),
    );
    std::fs::write(out.join("device-keys.txt"), keys).unwrap();
    std::fs::write(out.join("expected-phone.txt"), describe(&phone, true)).unwrap();
    std::fs::write(out.join("expected-tablet.txt"), describe(&tablet, true)).unwrap();
    std::fs::write(out.join("relay.bin"), wire::encode_bundles(&relay.dump())).unwrap();

    // What a device joining from the relay's bytes reads (devices left out: it is one of them).
    let joined_dir = tempfile::tempdir().unwrap();
    let replay = MemoryRelay::new();
    for b in relay.dump() {
        replay.push(&phone.id(), vec![b]).unwrap();
    }
    let invite = std::fs::read(out.join("invite.bin")).unwrap();
    let joined = Vault::join(
        &joined_dir.path().join("joined.mend"),
        VaultSecret::key(JOINER_KEY),
        fast(),
        &invite,
        &code,
        &replay,
    )
    .unwrap();
    sync(&joined, &replay);
    std::fs::write(out.join("expected-relay.txt"), describe(&joined, false)).unwrap();

    drop((phone, tablet, old));
    for name in ["phone.mend", "tablet.mend"] {
        std::fs::copy(work.path().join(name), out.join(name)).unwrap();
        let wal = work.path().join(format!("{name}-wal"));
        if wal.exists() && std::fs::metadata(&wal).unwrap().len() > 0 {
            std::fs::copy(wal, out.join(format!("{name}-wal"))).unwrap();
        }
    }
}
