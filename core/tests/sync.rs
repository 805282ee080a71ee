//! Two or more devices of one vault syncing through a relay.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};

use mend_core::sync::{invite, MemoryRelay, SyncOptions};
use mend_core::*;
use mend_testkit::*;

#[test]
fn two_devices_converge_after_offline_edits() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1000")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    assert_eq!(tablet.client(c).unwrap().alias_code, "C-1000");
    assert_eq!(tablet.note(n).unwrap().section("subjective"), Some("Reports poor sleep"));

    // Both edit the same note offline, in the same section and in different ones.
    phone.splice_note_section(n, "subjective", 0, 0, "Phone: ").unwrap();
    phone.set_note_section(n, "objective", "Calm").unwrap();
    tablet.splice_note_section(n, "subjective", 18, 0, " (tablet)").unwrap();
    tablet.set_note_section(n, "plan", "Sleep diary; follow up in two weeks").unwrap();
    let r = tablet.create_rupture(&new_rupture(c, Some(s), 5), "t").unwrap();

    sync(&phone, &relay);
    sync(&tablet, &relay);
    sync(&phone, &relay);
    let a = phone.note(n).unwrap();
    let b = tablet.note(n).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.section("subjective"), Some("Phone: Reports poor sleep (tablet)"));
    assert_eq!(a.section("objective"), Some("Calm"));
    assert_eq!(a.section("plan"), Some("Sleep diary; follow up in two weeks"));
    assert_eq!(phone.rupture(r).unwrap(), tablet.rupture(r).unwrap());
    assert_eq!(phone.timeline(c).unwrap(), tablet.timeline(c).unwrap());

    // A second sync with nothing new applies nothing.
    let again = sync(&phone, &relay);
    assert_eq!((again.pushed, again.applied), (0, 0));
}

#[test]
fn clients_created_after_joining_reach_the_other_device_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    let c = tablet.create_client(&new_client("C-1001")).unwrap();
    let s = tablet.create_session(&new_session(c, 1)).unwrap();
    let r = tablet.create_rupture(&new_rupture(c, Some(s), 2), "t").unwrap();
    sync(&tablet, &relay);
    let report = sync(&phone, &relay);
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(report.pending, 0);
    assert_eq!(phone.client(c).unwrap().alias_code, "C-1001");
    assert_eq!(phone.rupture(r).unwrap().narrative, "Client went quiet after homework review");
}

#[test]
fn invite_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let code = invite::generate_code();
    let inv = phone.export_invite(&code, i64::MAX).unwrap();
    let path = |n: &str| dir.path().join(n);
    let e =
        Vault::join(&path("a"), VaultSecret::key([1; 32]), opts(), &inv, "WRONG-CODE-0000", &relay)
            .unwrap_err();
    assert_eq!(e, Error::InviteCode);
    assert!(!path("a").exists(), "a refused join creates no file");
    let e =
        Vault::join(&path("b"), VaultSecret::key([1; 32]), opts(), b"not an invite", &code, &relay)
            .unwrap_err();
    assert_eq!(e, Error::InvalidInvite);
    let mut tampered = inv.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        Vault::join(&path("c"), VaultSecret::key([1; 32]), opts(), &tampered, &code, &relay)
            .unwrap_err(),
        Error::InviteCode
    );
    // Codes are read aloud: case and separators do not matter.
    let sloppy = code.to_lowercase().replace('-', " ");
    Vault::join(&path("d"), VaultSecret::key([1; 32]), opts(), &inv, &sloppy, &relay).unwrap();
    assert_eq!(
        Vault::join(&path("e"), VaultSecret::key([1; 32]), opts(), &inv, &code, &relay)
            .unwrap_err(),
        Error::InviteUsed
    );
    let expired = phone.export_invite(&code, 1).unwrap();
    assert_eq!(
        Vault::join(&path("f"), VaultSecret::key([1; 32]), opts(), &expired, &code, &relay)
            .unwrap_err(),
        Error::InviteExpired
    );
}

/// Two devices of one vault that set a rupture's significance (`phone`, `tablet`) and its
/// client's status (on hold, discharged) differently while apart, then synced: two conflicts.
fn in_conflict(
    dir: &tempfile::TempDir,
    relay: &MemoryRelay,
    alias: &str,
    (phone_sig, tablet_sig): (i64, i64),
) -> (Vault, Vault, RecordId, RecordId) {
    let phone = new_vault(dir);
    let c = phone.create_client(&new_client(alias)).unwrap();
    let r = phone.create_rupture(&new_rupture(c, None, 1), "t").unwrap();
    let tablet = join(&phone, relay, dir, "tablet.mend");
    for (v, sig) in [(&phone, phone_sig), (&tablet, tablet_sig)] {
        v.update_rupture(r, &RuptureUpdate { significance: Some(sig), ..Default::default() })
            .unwrap();
    }
    phone.set_client_status(c, ClientStatus::OnHold).unwrap();
    tablet.set_client_status(c, ClientStatus::Discharged).unwrap();
    sync(&phone, relay);
    sync(&tablet, relay);
    sync(&phone, relay);
    (phone, tablet, c, r)
}

#[test]
fn concurrent_scalar_edits_surface_as_conflicts_until_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let (phone, tablet, c, r) = in_conflict(&dir, &relay, "C-1002", (4, 2));

    for v in [&phone, &tablet] {
        let conflicts = v.conflicts().unwrap();
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        let sig = conflicts.iter().find(|c| c.field == "significance").unwrap();
        assert_eq!(sig.record_id, r);
        let mut values: Vec<_> = sig.values.iter().map(|v| v.value.clone()).collect();
        values.sort();
        assert_eq!(values, ["2", "4"]);
        let devices: Vec<_> = sig.values.iter().map(|v| v.device_id.unwrap()).collect();
        assert!(devices.contains(&phone.device_id()) && devices.contains(&tablet.device_id()));
        assert!(sig.values.iter().all(|v| v.at.unwrap() > 0));
        let status = conflicts.iter().find(|c| c.field == "status").unwrap();
        assert_eq!(status.record_id, c);
    }
    assert!(matches!(
        tablet.resolve_conflict(r, "significance", "7"),
        Err(Error::Validation { .. })
    ));
    tablet.resolve_conflict(r, "significance", "4").unwrap();
    tablet.resolve_conflict(c, "status", "discharged").unwrap();
    sync(&tablet, &relay);
    sync(&phone, &relay);
    for v in [&phone, &tablet] {
        assert!(v.conflicts().unwrap().is_empty());
        assert_eq!(v.rupture(r).unwrap().significance, 4);
        assert_eq!(v.client(c).unwrap().status, ClientStatus::Discharged);
    }
}

#[test]
fn conflicts_offer_typed_choices_and_resolve_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let (phone, tablet, c, r) = in_conflict(&dir, &relay, "C-1012", (5, 3));

    let conflicts = tablet.conflicts().unwrap();
    let sig = conflicts.iter().find(|x| x.record_id == r).unwrap();
    let mut offered: Vec<_> = sig.values.iter().map(|v| v.choice).collect();
    offered.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        offered,
        [
            Some(ConflictChoice::Significance { value: 3 }),
            Some(ConflictChoice::Significance { value: 5 })
        ]
    );
    let status = conflicts.iter().find(|x| x.record_id == c).unwrap();
    assert!(status
        .values
        .iter()
        .any(|v| v.choice == Some(ConflictChoice::ClientStatus { status: ClientStatus::OnHold })));
    // A choice the record kind has no field for, or out of range, is refused; nothing changes.
    assert!(matches!(
        tablet.resolve_conflict_with(
            r,
            &ConflictChoice::ClientStatus { status: ClientStatus::Active }
        ),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        tablet.resolve_conflict_with(r, &ConflictChoice::Significance { value: 9 }),
        Err(Error::Validation { .. })
    ));
    // Resolving with one of the offered choices.
    tablet.resolve_conflict_with(r, &sig.values[0].choice.unwrap()).unwrap();
    let chosen = status
        .values
        .iter()
        .find_map(|v| {
            v.choice.filter(|c| *c == ConflictChoice::ClientStatus { status: ClientStatus::OnHold })
        })
        .unwrap();
    tablet.resolve_conflict_with(c, &chosen).unwrap();
    sync(&tablet, &relay);
    sync(&phone, &relay);
    let want = match sig.values[0].choice {
        Some(ConflictChoice::Significance { value }) => value,
        _ => unreachable!(),
    };
    for v in [&phone, &tablet] {
        assert!(v.conflicts().unwrap().is_empty());
        assert_eq!(v.rupture(r).unwrap().significance, want);
        assert_eq!(v.client(c).unwrap().status, ClientStatus::OnHold);
    }
}

#[test]
fn erasure_propagates_and_the_relay_drops_the_clients_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let gone = phone.create_client(&new_client("C-1003")).unwrap();
    let kept = phone.create_client(&new_client("C-1004")).unwrap();
    let s = phone.create_session(&new_session(gone, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    assert!(tablet.note(n).is_ok());
    let records_of = |relay: &MemoryRelay| {
        relay
            .dump()
            .iter()
            .filter_map(|b| mend_core::sync::bundle::Bundle::decode(b).ok())
            .filter(|b| [gone, s, n].contains(&b.doc))
            .count()
    };
    assert!(records_of(&relay) >= 3);

    phone.erase_client(gone).unwrap();
    let report = sync(&phone, &relay);
    assert_eq!(report.dropped_keys, 2);
    // The client's record, session and note went (its keys reached the tablet in the invite,
    // not through the relay).
    assert_eq!(records_of(&relay), 0, "the relay dropped the client's bundles");
    sync(&tablet, &relay);
    assert_eq!(tablet.note(n).unwrap_err(), Error::Erased(n));
    assert_eq!(tablet.client(gone).unwrap_err(), Error::Erased(gone));
    assert_eq!(tablet.client(kept).unwrap().alias_code, "C-1004");

    // A device joining afterwards never sees the erased client's keys.
    let laptop = join(&phone, &relay, &dir, "laptop.mend");
    assert!(matches!(laptop.client(gone), Err(Error::Erased(_)) | Err(Error::NotFound { .. })));
    assert_eq!(laptop.client(kept).unwrap().alias_code, "C-1004");
}

#[test]
fn relay_holds_only_ciphertext() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("ZQXalias")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let mut note = soap(s);
    note.sections = vec![("subjective".into(), "ZQXsubjective".into())];
    let n = phone.create_note(&note).unwrap();
    phone.splice_note_section(n, "plan", 0, 0, "ZQXtyped").unwrap();
    let mut r = new_rupture(c, Some(s), 3);
    r.narrative = "ZQXnarrative".into();
    phone.create_rupture(&r, "t").unwrap();
    let _tablet = join(&phone, &relay, &dir, "tablet.mend");
    phone.upload_snapshots(&relay).unwrap();
    let all: Vec<u8> = relay.dump().concat();
    assert!(all.len() > 1000);
    for m in
        ["ZQXalias", "ZQXsubjective", "ZQXtyped", "ZQXnarrative", "soap", "withdrawal", "US-CA"]
    {
        assert!(!contains(&all, m.as_bytes()), "relay saw {m}");
    }
}

#[test]
fn snapshots_make_a_new_devices_first_sync_one_item_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1005")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    // Pushed after every keystroke: one bundle each (saves pushed together would be coalesced).
    for i in 0..100 {
        phone.splice_note_section(n, "assessment", i, 0, "x").unwrap();
        sync(&phone, &relay);
    }
    let before = relay.len();
    let uploaded = phone.upload_snapshots(&relay).unwrap();
    // registry, client, session, note
    assert_eq!(uploaded, 4);
    assert!(relay.len() < before / 5, "{} items left of {before}", relay.len());
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    assert_eq!(tablet.note(n).unwrap().section("assessment").unwrap().len(), 100);
}

#[test]
fn sync_reports_progress_and_resumes_after_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1006")).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    for i in 0..30 {
        phone.create_session(&new_session(c, i)).unwrap();
    }
    sync(&phone, &relay);
    let cancel = AtomicBool::new(false);
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: &mend_core::sync::SyncProgress| {
        seen.lock().unwrap().push(*p);
        cancel.store(true, Ordering::Relaxed);
    };
    let o = SyncOptions { page_size: 10, progress: Some(&progress), cancel: Some(&cancel) };
    let first = tablet.sync(&relay, &o).unwrap();
    assert!(first.cancelled);
    assert_eq!(first.pulled, 10);
    let p = seen.lock().unwrap()[0];
    assert_eq!((p.pulled, p.remaining), (10, 20));
    let rest = sync(&tablet, &relay);
    assert!(!rest.cancelled);
    assert_eq!(rest.pulled, 20);
    assert_eq!(tablet.timeline(c).unwrap().len(), 30);
}

#[test]
fn a_large_page_size_still_pushes_within_the_relays_limits() {
    // The in-memory relay refuses pushes of more than 500 bundles, as the real one does: a
    // device asked for pages of 2,000 must split its 700 pending records into accepted pushes.
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1010")).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    for i in 0..700 {
        phone.create_session(&new_session(c, i)).unwrap();
    }
    let o = SyncOptions { page_size: 2000, ..SyncOptions::default() };
    let pushed = phone.sync(&relay, &o).unwrap();
    assert_eq!(pushed.pushed, 700, "one bundle per record, nothing coalesced across records");
    assert_eq!(phone.unpushed().unwrap(), 0);
    let pulled = tablet.sync(&relay, &o).unwrap();
    assert!(pulled.rejected.is_empty(), "{pulled:?}");
    assert_eq!(tablet.timeline(c).unwrap().len(), 700);
}

#[test]
fn rupture_texts_typed_on_two_devices_merge_and_a_void_reaches_both() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1011")).unwrap();
    let r = phone.create_rupture(&new_rupture(c, None, 5), "t").unwrap();
    let wrong = phone.create_rupture(&new_rupture(c, None, 6), "t").unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");

    // "Client went quiet after homework review": both type into it offline, and each edits a
    // different field through the form.
    phone.splice_rupture_text(r, RuptureText::Narrative, 0, 0, "In session 3: ").unwrap();
    tablet.splice_rupture_text(r, RuptureText::Narrative, 39, 0, " and the diary").unwrap();
    phone
        .update_rupture(
            r,
            &RuptureUpdate {
                remove_precipitants: vec![Precipitant::Misunderstanding],
                ..Default::default()
            },
        )
        .unwrap();
    tablet
        .update_rupture(
            r,
            &RuptureUpdate {
                follow_up_planned: Some(true),
                follow_up_note: Some("Ask about the diary".into()),
                ..Default::default()
            },
        )
        .unwrap();
    tablet.void_rupture(wrong, "Duplicate entry", "t", 7).unwrap();
    for v in [&phone, &tablet, &phone] {
        sync(v, &relay);
    }
    let (a, b) = (phone.rupture(r).unwrap(), tablet.rupture(r).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.narrative, "In session 3: Client went quiet after homework review and the diary");
    assert!(a.precipitants.is_empty());
    assert!(a.follow_up_planned);
    assert_eq!(a.follow_up_note, "Ask about the diary");
    assert_eq!(phone.rupture(wrong).unwrap().voided.unwrap().reason, "Duplicate entry");
    assert_eq!(phone.unresolved_ruptures(c).unwrap().len(), 1);
    assert_eq!(phone.unresolved_ruptures(c).unwrap(), tablet.unresolved_ruptures(c).unwrap());
}

#[test]
fn device_names_sync_through_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    phone.set_device_name("Therapist's phone").unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    tablet.set_device_name("Clinic iPad").unwrap();
    for bad in ["", "   ", "two\nlines", &"x".repeat(65)] {
        let e = tablet.set_device_name(bad).unwrap_err();
        assert!(matches!(&e, Error::Validation { field, .. } if field == "device name"), "{e:?}");
    }
    sync(&tablet, &relay);
    sync(&phone, &relay);
    let listed = phone.devices();
    assert_eq!(listed, tablet.devices());
    let names: Vec<_> = listed.iter().map(|d| (d.id, d.name.as_deref())).collect();
    assert_eq!(
        names,
        [(phone.device_id(), Some("Therapist's phone")), (tablet.device_id(), Some("Clinic iPad"))],
        "in the order they joined"
    );
    assert!(listed.iter().all(|d| d.added_at.is_some() && !d.revoked));
}

#[test]
fn an_unreachable_relay_is_a_transport_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1007")).unwrap();
    relay.set_offline(true);
    assert!(matches!(phone.sync(&relay, &SyncOptions::default()), Err(Error::Transport(_))));
    assert!(phone.unpushed().unwrap() > 0);
    relay.set_offline(false);
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    assert_eq!(tablet.client(c).unwrap().alias_code, "C-1007");
    assert_eq!(phone.unpushed().unwrap(), 0);
}

#[test]
fn late_edits_to_a_signed_note_surface_as_a_divergence() {
    use mend_core::query::TimelineEntry;
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1008")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");

    // The phone signs while the tablet, offline, keeps editing the draft.
    phone.sign_note(n, &author_sign(10, false)).unwrap();
    tablet.splice_note_section(n, "plan", 0, 0, "Call GP. ").unwrap();
    tablet.set_note_section(n, "objective", "Tearful").unwrap();
    sync(&phone, &relay);
    sync(&tablet, &relay);
    sync(&phone, &relay);

    for v in [&phone, &tablet] {
        let note = v.note(n).unwrap();
        assert_eq!(note.state, NoteState::Signed);
        assert_eq!(note.section("plan"), Some("Sleep diary"), "the signed content never changes");
        assert_eq!(v.signed_content(n).unwrap().sections, note.sections);
        let d = v.note_divergence(n).unwrap().expect("divergence surfaced");
        let plan = d.sections.iter().find(|s| s.section == "plan").unwrap();
        assert_eq!(
            (plan.signed.as_str(), plan.current.as_str()),
            ("Sleep diary", "Call GP. Sleep diary")
        );
        assert!(d.sections.iter().any(|s| s.section == "objective" && s.current == "Tearful"));
        assert!(v
            .notes_of_client(c)
            .unwrap()
            .iter()
            .any(|e| matches!(e, TimelineEntry::Note { diverged: true, .. })));
    }
    let a = tablet
        .resolve_divergence(
            n,
            &DivergenceChoice::Addendum { author_id: "therapist-1".into(), created_at: 20 },
        )
        .unwrap()
        .unwrap();
    tablet.sign_addendum(n, a, &author_sign(21, false)).unwrap();
    assert!(matches!(
        tablet.resolve_divergence(n, &DivergenceChoice::Discard),
        Err(Error::InvalidState(_))
    ));
    sync(&tablet, &relay);
    sync(&phone, &relay);
    for v in [&phone, &tablet] {
        assert_eq!(v.note_divergence(n).unwrap(), None);
        let note = v.note(n).unwrap();
        assert_eq!(note.section("plan"), Some("Sleep diary"));
        assert!(note.addenda[0].body.contains("plan: Call GP. Sleep diary"));
        assert_eq!(note.addenda[0].signatures.len(), 1);
        v.verify_addenda(n).unwrap();
    }
}

/// A vault whose records compact (and fold their queued saves) every `n` saves.
fn vault_compacting_every(dir: &tempfile::TempDir, n: u64) -> Vault {
    Vault::create(&path(dir), VaultSecret::key(KEY), VaultOptions { compact_after: n, ..opts() })
        .unwrap()
}

/// Types `text` at the end of a note section, one character per save.
fn type_at_end(v: &Vault, n: RecordId, section: &str, text: &str) {
    for ch in text.chars() {
        let len = v.note(n).unwrap().section(section).unwrap().chars().count();
        v.splice_note_section(n, section, len, 0, &ch.to_string()).unwrap();
    }
}

#[test]
fn saves_queued_while_offline_fold_into_about_one_bundle_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = vault_compacting_every(&dir, 8);
    let c = phone.create_client(&new_client("C-1020")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    assert_eq!(phone.unpushed().unwrap(), 0);

    // 200 keystrokes offline: every eighth save compacts the note, and a compaction folds the
    // queue into one row holding the note once the saves since the last fold outweigh it (on
    // this short note, eight saves do); so a fold and a few saves since stay queued, not one row
    // per save. The bound leaves room for a note that needs two compactions' worth of saves.
    let typed = " Slept better after starting the diary; wants to review it next week.".repeat(3);
    let typed: String = typed.chars().take(200).collect();
    type_at_end(&phone, n, "subjective", &typed);
    let queued = phone.unpushed().unwrap();
    assert!((1..=16).contains(&queued), "{queued} rows queued for 200 saves");

    // The tablet typed offline too (its queue unfolded: default compaction); both converge.
    type_at_end(&tablet, n, "plan", "Review diary");
    let pushed = sync(&phone, &relay);
    assert_eq!(pushed.pushed, 1, "the fold and the saves after it go as one bundle");
    assert_eq!(phone.unpushed().unwrap(), 0);
    for v in [&tablet, &phone, &tablet] {
        let r = sync(v, &relay);
        assert!(r.rejected.is_empty(), "{r:?}");
    }
    let a = phone.note(n).unwrap();
    assert_eq!(a, tablet.note(n).unwrap());
    assert_eq!(a.section("subjective"), Some(format!("Reports poor sleep{typed}").as_str()));
    assert_eq!(a.section("plan"), Some("Sleep diaryReview diary"));
    // Nothing is pending on either side, and a new device's first sync gets the same note.
    assert_eq!((sync(&phone, &relay).applied, sync(&tablet, &relay).applied), (0, 0));
    let third = join(&tablet, &relay, &dir, "third.mend");
    assert_eq!(third.note(n).unwrap(), a);
}

#[test]
fn typing_while_a_push_is_in_flight_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = std::sync::Arc::new(vault_compacting_every(&dir, 4));
    let c = phone.create_client(&new_client("C-1021")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");

    type_at_end(&phone, n, "subjective", " first");
    let queued = phone.unpushed().unwrap();
    // The therapist keeps typing while the sync's push is on the wire: those saves fold (every
    // fourth save; the fold leaves the rows being pushed alone) and go in the same sync.
    let typist = std::sync::Arc::clone(&phone);
    let typed_mid_push = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&typed_mid_push);
    relay.on_next_push(move || {
        type_at_end(&typist, n, "subjective", " then more, mid-push");
        flag.store(true, Ordering::SeqCst);
    });
    let r = phone.sync(&relay, &SyncOptions::default()).unwrap();
    assert!(r.rejected.is_empty(), "{r:?}");
    assert!(typed_mid_push.load(Ordering::SeqCst), "{queued} queued before the sync");
    // The saves made mid-push went in a second push of the same sync (folded to a few rows).
    assert!(r.pushed >= 2, "{r:?}");
    assert_eq!(phone.unpushed().unwrap(), 0);
    let r = sync(&tablet, &relay);
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(
        tablet.note(n).unwrap().section("subjective"),
        Some("Reports poor sleep first then more, mid-push")
    );
    assert_eq!(tablet.note(n).unwrap(), phone.note(n).unwrap());
}

#[test]
fn a_long_note_with_a_short_queue_is_not_folded_into_a_larger_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = vault_compacting_every(&dir, 8);
    let c = phone.create_client(&new_client("C-1022")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    // 20,000 characters that do not compress: the whole note is far larger than a few saves.
    let mut x: u32 = 0x9e37_79b9;
    let long: String = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    phone.set_note_section(n, "objective", &long).unwrap();
    sync(&phone, &relay);
    assert_eq!(phone.unpushed().unwrap(), 0);
    // Sixteen keystrokes: two compactions, but folding would queue ~20 kB for ~3 kB of saves.
    type_at_end(&phone, n, "subjective", " and woke twice");
    type_at_end(&phone, n, "plan", ".");
    assert_eq!(phone.unpushed().unwrap(), 16);
    sync(&phone, &relay);
    let r = sync(&tablet, &relay);
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(tablet.note(n).unwrap(), phone.note(n).unwrap());
}

#[test]
fn a_signature_merged_by_sync_stops_the_next_keystroke() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let c = phone.create_client(&new_client("C-1023")).unwrap();
    let s = phone.create_session(&new_session(c, 1)).unwrap();
    let n = phone.create_note(&soap(s)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    type_at_end(&phone, n, "plan", "; call GP");
    tablet.sign_note(n, &author_sign(100, false)).unwrap();
    sync(&tablet, &relay);
    sync(&phone, &relay);
    // The phone was typing in "plan" a moment ago; the merged signature locks it all the same.
    assert_eq!(phone.splice_note_section(n, "plan", 0, 0, "x"), Err(Error::NoteLocked(n)));
    assert_eq!(phone.note(n).unwrap().state, NoteState::Signed);
}
