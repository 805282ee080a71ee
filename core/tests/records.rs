//! Records round trip, validation, note lifecycle and the therapist's queries.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::query::TimelineEntry;
use mend_core::*;
use mend_testkit::*;

#[test]
fn every_record_kind_round_trips_through_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, s, n, r, m, goal) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0100")).unwrap();
        let goal = v.add_treatment_goal(c, "Sleep 7 hours most nights", "sleep").unwrap();
        v.set_client_status(c, ClientStatus::OnHold).unwrap();
        let s = v.create_session(&new_session(c, 10_000)).unwrap();
        let n = v.create_note(&soap(s)).unwrap();
        v.set_note_code(n, CodeSet::Diagnoses, "F41.1", true).unwrap();
        v.set_note_code(n, CodeSet::Interventions, "cbt_restructuring", true).unwrap();
        v.set_note_code(n, CodeSet::GoalsAddressed, &goal.to_string(), true).unwrap();
        v.set_note_risk(
            n,
            &Risk { si: RiskLevel::Denied, hi: RiskLevel::Denied, note: "No change".into() },
        )
        .unwrap();
        let r = v.create_rupture(&new_rupture(c, Some(s), 10_500), "therapist-1").unwrap();
        v.add_repair_attempt(
            r,
            &NewRepairAttempt {
                session_id: Some(s),
                at: 10_600,
                strategies: vec![RepairStrategy::RsInviteDiscussionOfRelationship],
                client_response: vec![ClientResponse::ClarifiedConcern],
                effect: Some(4),
                note: "Named the pull to agree".into(),
            },
        )
        .unwrap();
        v.update_rupture(
            r,
            &RuptureUpdate {
                significance: Some(4),
                add_markers: vec![RuptureMarker::WdDeferentialAppeasing],
                remove_markers: vec![RuptureMarker::WdDenial],
                ..Default::default()
            },
        )
        .unwrap();
        v.set_rupture_status(r, RuptureStatus::InProgress, 10_700, "therapist-1", Some(s)).unwrap();
        let m = v
            .record_measure(&NewMeasure {
                client_id: c,
                session_id: Some(s),
                instrument: Instrument::WaiSr,
                rater: Rater::Client,
                administered_at: 10_800,
                items: wai_items(4),
                supersedes: None,
            })
            .unwrap();
        (c, s, n, r, m, goal)
    };
    let v = reopen(&p);
    let client = v.client(c).unwrap();
    assert_eq!(client.status, ClientStatus::OnHold);
    assert_eq!(client.treatment_goals.len(), 1);
    assert_eq!(client.treatment_goals[0].id, goal);
    assert_eq!(client.treatment_goals[0].text, "Sleep 7 hours most nights");

    let session = v.session(s).unwrap();
    assert_eq!(session.client_id, c);
    assert_eq!(session.cpt_code.as_deref(), Some("90834"));

    let note = v.note(n).unwrap();
    assert_eq!(note.format, NoteFormat::Soap);
    assert_eq!(
        note.sections.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["subjective", "objective", "assessment", "plan"]
    );
    assert_eq!(note.section("plan"), Some("Sleep diary"));
    assert_eq!(note.diagnoses, ["F41.1"]);
    assert_eq!(note.goals_addressed, [goal]);
    assert_eq!(note.risk.note, "No change");
    assert_eq!(note.state, NoteState::Draft);

    let rupture = v.rupture(r).unwrap();
    assert_eq!(rupture.significance, 4);
    assert_eq!(
        rupture.markers,
        [RuptureMarker::WdMinimalResponse, RuptureMarker::WdDeferentialAppeasing]
    );
    assert_eq!(rupture.status, RuptureStatus::InProgress);
    assert_eq!(rupture.status_log.len(), 2);
    assert_eq!(rupture.repair_attempts.len(), 1);
    assert!(!rupture.repair_attempts[0].is_immediate());
    assert_eq!(rupture.narrative, "Client went quiet after homework review");

    let measure = v.measure(m).unwrap();
    assert_eq!(measure.scores.task, Some(16));
    assert_eq!(measure.scores.total, Some(48));
    assert!(!measure.scores.incomplete);
}

#[test]
fn invalid_input_is_a_typed_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0101")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let before = v.timeline(c).unwrap().len();

    let mut bad = new_rupture(c, Some(s), 5);
    bad.significance = 7;
    let e = v.create_rupture(&bad, "t").unwrap_err();
    assert!(matches!(&e, Error::Validation { field, .. } if field == "significance"), "{e:?}");

    assert!(matches!(
        "wd_not_a_marker".parse::<RuptureMarker>().unwrap_err(),
        Error::Validation { .. }
    ));

    let mut items = wai_items(3);
    items.push((13, 3));
    let e = v
        .record_measure(&NewMeasure {
            client_id: c,
            session_id: Some(s),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: 9,
            items,
            supersedes: None,
        })
        .unwrap_err();
    assert!(matches!(&e, Error::Validation { field, .. } if field == "items"), "{e:?}");

    let mut note = soap(s);
    note.format = NoteFormat::Dap;
    note.sections = vec![("objective".into(), "DAP has no objective section".into())];
    let e = v.create_note(&note).unwrap_err();
    assert!(matches!(&e, Error::Validation { field, .. } if field == "sections.objective"));
    // The error names the field, never the text.
    assert!(!e.to_string().contains("DAP has no"));

    let n = v.create_note(&soap(s)).unwrap();
    let e = v.splice_note_section(n, "data", 0, 0, "x").unwrap_err();
    assert!(matches!(e, Error::Validation { .. }));
    let e = v.splice_note_section(n, "subjective", 500, 0, "x").unwrap_err();
    assert!(matches!(e, Error::Validation { .. }));
    assert!(v.set_note_code(n, CodeSet::Diagnoses, "not a code", true).is_err());
    assert_eq!(v.note(n).unwrap().section("subjective"), Some("Reports poor sleep"));

    let mut r = new_rupture(c, Some(s), 5);
    r.significance = 2;
    let r = v.create_rupture(&r, "t").unwrap();
    let e = v
        .update_rupture(r, &RuptureUpdate { significance: Some(0), ..Default::default() })
        .unwrap_err();
    assert!(matches!(e, Error::Validation { .. }));
    assert_eq!(v.rupture(r).unwrap().significance, 2);
    // One note and one rupture were stored; none of the refused inputs were.
    assert_eq!(v.timeline(c).unwrap().len(), before + 2);
}

/// A supervisor's signature with the given meaning.
fn supervisor(meaning: SignatureMeaning, signed_at: i64) -> SignRequest {
    SignRequest {
        signer_id: "supervisor-1".into(),
        signer_name: "Dr. S. Visor".into(),
        role: SignerRole::Supervisor,
        meaning,
        needs_cosign: false,
        signed_at,
    }
}

/// The signature log is read in the order signatures were added, not by their clocks: a
/// co-signature stamped in the same millisecond as the author's, or earlier (a supervisor's
/// device with a slow clock), still completes the note.
#[test]
fn a_cosignature_with_an_equal_or_earlier_clock_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0110")).unwrap();
    for (i, cosigned_at) in [100, 100, 100, 100, 100, 100, 100, 100, 99, 1].into_iter().enumerate()
    {
        let s = v.create_session(&new_session(c, i as i64)).unwrap();
        let n = v.create_note(&soap(s)).unwrap();
        v.sign_note(n, &author_sign(100, true)).unwrap();
        let cosign = supervisor(SignatureMeaning::Cosigned, cosigned_at);
        v.sign_note(n, &cosign).unwrap();
        let note = v.note(n).unwrap();
        assert_eq!(note.state, NoteState::Cosigned, "co-signed at {cosigned_at}");
        assert_eq!(note.signatures[1].meaning, SignatureMeaning::Cosigned);
    }
}

#[test]
fn signing_locks_the_note_and_addenda_carry_later_changes() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (n, a) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0102")).unwrap();
        let s = v.create_session(&new_session(c, 1)).unwrap();
        let n = v.create_note(&soap(s)).unwrap();
        v.set_note_section(n, "assessment", "Mild improvement").unwrap();
        // Typing keeps its checks between keystrokes; signing must still stop the next one.
        v.splice_note_section(n, "plan", 0, 0, "W").unwrap();
        v.splice_note_section(n, "plan", 1, 0, "eekly: ").unwrap();
        v.sign_note(n, &author_sign(100, true)).unwrap();
        assert_eq!(v.note(n).unwrap().state, NoteState::PendingCosign);
        assert_eq!(v.splice_note_section(n, "plan", 0, 0, "x").unwrap_err(), Error::NoteLocked(n));
        assert_eq!(v.set_note_section(n, "plan", "y").unwrap_err(), Error::NoteLocked(n));
        assert_eq!(
            v.set_note_code(n, CodeSet::Diagnoses, "F32.0", true).unwrap_err(),
            Error::NoteLocked(n)
        );
        assert_eq!(v.sign_note(n, &author_sign(101, false)).unwrap_err(), Error::NoteLocked(n));

        let cosign = supervisor(SignatureMeaning::Cosigned, 200);
        v.sign_note(n, &cosign).unwrap();
        assert_eq!(v.note(n).unwrap().state, NoteState::Cosigned);
        assert!(matches!(v.sign_note(n, &cosign).unwrap_err(), Error::InvalidState(_)));

        let a = v
            .add_addendum(
                n,
                &NewAddendum {
                    kind: AddendumKind::Clarification,
                    reason: "Plan detail".into(),
                    body: "Diary every morning".into(),
                    targets: vec!["plan".into()],
                    author_id: "therapist-1".into(),
                    created_at: 300,
                },
            )
            .unwrap();
        v.set_addendum_body(n, a, "Diary every morning and evening").unwrap();
        v.sign_addendum(n, a, &author_sign(310, false)).unwrap();
        assert_eq!(v.set_addendum_body(n, a, "changed").unwrap_err(), Error::NoteLocked(n));
        (n, a)
    };
    let v = reopen(&p);
    let note = v.note(n).unwrap();
    assert_eq!(note.state, NoteState::Cosigned);
    assert_eq!(note.signatures.len(), 2);
    assert_eq!(note.addenda[0].id, a);
    assert_eq!(note.addenda[0].body, "Diary every morning and evening");
    assert_eq!(note.addenda[0].signatures.len(), 1);
    v.verify_addenda(n).unwrap();
    let signed = v.signed_content(n).unwrap();
    assert_eq!(signed.sections, note.sections);
    assert_eq!(signed.signature.signer_name, "Dr. A. Example");
}

#[test]
fn supervisor_can_return_a_note_for_revision() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0103")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let n = v.create_note(&soap(s)).unwrap();
    assert!(matches!(v.signed_content(n).unwrap_err(), Error::InvalidState(_)));
    v.sign_note(n, &author_sign(10, true)).unwrap();
    let ret = supervisor(SignatureMeaning::ReturnedForRevision, 20);
    v.sign_note(n, &ret).unwrap();
    assert_eq!(v.note(n).unwrap().state, NoteState::Draft);
    v.set_note_section(n, "objective", "Calm, good eye contact").unwrap();
    v.sign_note(n, &author_sign(30, false)).unwrap();
    let signed = v.signed_content(n).unwrap();
    assert_eq!(signed.sections[1].1, "Calm, good eye contact");
    assert_eq!(v.note(n).unwrap().state, NoteState::Signed);
}

#[test]
fn signed_content_is_checked_against_its_hash_and_signature() {
    // (Tampering below the API is covered by the unit tests in records::note.)
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0104")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let n = v.create_note(&soap(s)).unwrap();
    v.sign_note(n, &author_sign(10, false)).unwrap();
    let signed = v.signed_content(n).unwrap();
    assert_eq!(signed.sections[0].1, "Reports poor sleep");
    assert_eq!(signed.signature.heads.len(), 1);
    assert_eq!(signed.signature.content_hash.len(), 64);
}

#[test]
fn queries_come_from_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let c = {
        let v = new_vault(&dir);
        let other = v.create_client(&new_client("C-0900")).unwrap();
        v.create_session(&new_session(other, 5)).unwrap();
        let c = v.create_client(&new_client("C-0200")).unwrap();
        let s1 = v.create_session(&new_session(c, 1_000)).unwrap();
        let s2 = v.create_session(&new_session(c, 2_000)).unwrap();
        v.create_note(&soap(s2)).unwrap();
        v.create_note(&soap(s1)).unwrap();
        let r1 = v.create_rupture(&new_rupture(c, Some(s1), 1_100), "t").unwrap();
        let mut conf = new_rupture(c, Some(s2), 2_100);
        conf.movement = Movement::Confrontation;
        conf.markers = vec![RuptureMarker::CfComplaintAboutTherapist];
        let r2 = v.create_rupture(&conf, "t").unwrap();
        let mut between = new_rupture(c, None, 1_500);
        between.movement = Movement::Mixed;
        v.create_rupture(&between, "t").unwrap();
        v.set_rupture_status(r1, RuptureStatus::Resolved, 1_200, "t", Some(s1)).unwrap();
        let _ = r2;
        let m1 = v
            .record_measure(&NewMeasure {
                client_id: c,
                session_id: Some(s1),
                instrument: Instrument::WaiSr,
                rater: Rater::Client,
                administered_at: 1_050,
                items: wai_items(5),
                supersedes: None,
            })
            .unwrap();
        // A correction supersedes the first administration.
        v.record_measure(&NewMeasure {
            client_id: c,
            session_id: Some(s1),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: 1_051,
            items: wai_items(4),
            supersedes: Some(m1),
        })
        .unwrap();
        let mut partial = wai_items(3);
        partial.retain(|(i, _)| *i != 3);
        v.record_measure(&NewMeasure {
            client_id: c,
            session_id: Some(s2),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: 2_050,
            items: partial,
            supersedes: None,
        })
        .unwrap();
        c
    };
    let v = reopen(&p);
    let clients = v.clients().unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[0].info.as_ref().unwrap().0, "C-0200");

    let notes = v.notes_of_client(c).unwrap();
    let dates: Vec<_> = notes
        .iter()
        .map(|e| match e {
            TimelineEntry::Note { at, .. } => *at,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(dates, [1_000, 2_000]);

    let unresolved = v.unresolved_ruptures(c).unwrap();
    assert_eq!(unresolved.len(), 2);
    assert_eq!(unresolved[0].occurred_at, 1_500);
    assert_eq!(unresolved[1].movement, Movement::Confrontation);

    let counts = v.rupture_counts(c).unwrap();
    assert_eq!(counts.len(), 3);
    assert_eq!((counts[0].withdrawal, counts[0].confrontation), (1, 0));
    assert_eq!((counts[1].withdrawal, counts[1].confrontation), (0, 1));
    assert_eq!(counts[2].session_id, None);
    assert_eq!(counts[2].mixed, 1);

    let trend = v.alliance_trend(c).unwrap();
    assert_eq!(trend.len(), 2, "the superseded measure is left out");
    assert_eq!(trend[0].scores.total, Some(48));
    assert!(trend[1].scores.incomplete);
    assert_eq!(trend[1].scores.bond, None);
    assert_eq!(trend[1].scores.task, Some(12));

    let timeline = v.timeline(c).unwrap();
    assert_eq!(timeline.len(), 2 + 2 + 3 + 3);
    assert!(timeline.windows(2).all(|w| match (&w[0], &w[1]) {
        (TimelineEntry::Session { at: a, .. }, TimelineEntry::Session { at: b, .. }) => a <= b,
        _ => true,
    }));
    assert!(!timeline.iter().any(|e| matches!(e, TimelineEntry::Unreadable { .. })));
}

#[test]
fn splice_positions_count_utf16_code_units() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0105")).unwrap();
    let s = v.create_session(&new_session(c, 1)).unwrap();
    let mut n = soap(s);
    n.sections = vec![("subjective".into(), "Café naïve 😊 ok".into())];
    let n = v.create_note(&n).unwrap();
    // "Café naïve 😊 " is 14 UTF-16 units (the emoji is a surrogate pair); insert before "ok".
    v.splice_note_section(n, "subjective", 14, 0, "→").unwrap();
    assert_eq!(v.note(n).unwrap().section("subjective"), Some("Café naïve 😊 →ok"));
    // Inside the emoji's pair: refused, nothing changes.
    assert!(matches!(
        v.splice_note_section(n, "subjective", 12, 0, "x"),
        Err(Error::Validation { .. })
    ));
    v.splice_note_section(n, "subjective", 11, 2, "").unwrap();
    assert_eq!(v.note(n).unwrap().section("subjective"), Some("Café naïve  →ok"));
    assert!(v.splice_note_section(n, "subjective", 15, 1, "").is_err());
}

#[test]
fn a_logged_rupture_can_be_corrected_in_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (r, s2) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0110")).unwrap();
        let s1 = v.create_session(&new_session(c, 1_000)).unwrap();
        let s2 = v.create_session(&new_session(c, 2_000)).unwrap();
        let mut n = new_rupture(c, Some(s1), 1_100);
        n.precipitants = vec![Precipitant::Misunderstanding, Precipitant::Disagreement];
        n.therapist_contribution_rating = Some(2);
        let r = v.create_rupture(&n, "t").unwrap();
        let u = |u: RuptureUpdate| v.update_rupture(r, &u).unwrap();
        u(RuptureUpdate {
            client_reported_intensity: Some(3),
            resolution_rating: Some(2),
            add_client_response: vec![ClientResponse::WithdrewFurther, ClientResponse::Reengaged],
            ..Default::default()
        });
        u(RuptureUpdate {
            occurred_at: Some(2_100),
            session_id: Some(s2),
            at_minute: Some(42),
            movement: Some(Movement::Confrontation),
            initiated_by: Some(InitiatedBy::Therapist),
            detected_by: Some(DetectedBy::Supervisor),
            therapist_contribution_rating: Some(4),
            add_alliance_dimensions: vec![AllianceDimension::Bond],
            remove_alliance_dimensions: vec![AllianceDimension::Task],
            add_precipitants: vec![Precipitant::Countertransference],
            remove_precipitants: vec![Precipitant::Disagreement],
            remove_client_response: vec![ClientResponse::WithdrewFurther],
            narrative: Some("Pushed the worksheet after the client hesitated".into()),
            client_words: Some("\"You're not listening\"".into()),
            therapist_contribution: Some("I was behind schedule".into()),
            follow_up_planned: Some(true),
            follow_up_note: Some("Name it at the start of next session".into()),
            clear: vec![RuptureField::ClientReportedIntensity, RuptureField::ResolutionRating],
            ..Default::default()
        });
        (r, s2)
    };
    let v = reopen(&p);
    let got = v.rupture(r).unwrap();
    assert_eq!((got.occurred_at, got.session_id, got.at_minute), (2_100, Some(s2), Some(42)));
    assert_eq!((got.movement, got.initiated_by), (Movement::Confrontation, InitiatedBy::Therapist));
    assert_eq!(got.detected_by, Some(DetectedBy::Supervisor));
    assert_eq!(got.therapist_contribution_rating, Some(4));
    assert_eq!((got.client_reported_intensity, got.resolution_rating), (None, None));
    assert_eq!(got.alliance_dimensions, [AllianceDimension::Bond]);
    assert_eq!(got.precipitants, [Precipitant::Misunderstanding, Precipitant::Countertransference]);
    assert_eq!(got.client_response, [ClientResponse::Reengaged]);
    assert_eq!(got.narrative, "Pushed the worksheet after the client hesitated");
    assert_eq!(got.client_words, "\"You're not listening\"");
    assert_eq!(got.therapist_contribution, "I was behind schedule");
    assert!(got.follow_up_planned);
    assert_eq!(got.follow_up_note, "Name it at the start of next session");
    // The summary follows: the timeline lists it under its new session and movement.
    let listed = v.unresolved_ruptures(got.client_id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].session_id, listed[0].occurred_at), (Some(s2), 2_100));
    assert_eq!(listed[0].movement, Movement::Confrontation);

    // A session can be cleared: it becomes a between-session rupture.
    v.update_rupture(
        r,
        &RuptureUpdate {
            clear: vec![RuptureField::SessionId, RuptureField::AtMinute],
            ..Default::default()
        },
    )
    .unwrap();
    let got = v.rupture(r).unwrap();
    assert_eq!((got.session_id, got.at_minute), (None, None));
}

#[test]
fn a_contradictory_or_invalid_rupture_update_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0111")).unwrap();
    let r = v.create_rupture(&new_rupture(c, None, 5), "t").unwrap();
    let before = v.rupture(r).unwrap();
    let refused = |u: RuptureUpdate, field: &str| {
        let e = v.update_rupture(r, &u).unwrap_err();
        assert!(matches!(&e, Error::Validation { field: f, .. } if f == field), "{e:?}");
        assert_eq!(v.rupture(r).unwrap(), before, "nothing of a refused update is kept");
    };
    refused(
        RuptureUpdate {
            narrative: Some("kept?".into()),
            resolution_rating: Some(3),
            clear: vec![RuptureField::ResolutionRating],
            ..Default::default()
        },
        "resolution_rating",
    );
    refused(
        RuptureUpdate {
            add_precipitants: vec![Precipitant::Other],
            remove_precipitants: vec![Precipitant::Other],
            ..Default::default()
        },
        "precipitants",
    );
    refused(RuptureUpdate { at_minute: Some(601), ..Default::default() }, "at_minute");
    refused(
        RuptureUpdate {
            follow_up_planned: Some(true),
            therapist_contribution_rating: Some(6),
            ..Default::default()
        },
        "therapist_contribution_rating",
    );
    assert!(matches!(
        "not_a_field".parse::<RuptureField>().unwrap_err(),
        Error::Validation { field, .. } if field == "rupture field"
    ));
}

#[test]
fn a_rupture_takes_a_follow_up_plan_and_only_its_own_clients_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0112")).unwrap();
    let other = v.create_client(&new_client("C-0113")).unwrap();
    let own = v.create_session(&new_session(c, 1_000)).unwrap();
    let foreign = v.create_session(&new_session(other, 1_000)).unwrap();
    let mut n = new_rupture(c, Some(own), 1_100);
    n.follow_up_planned = true;
    n.follow_up_note = "Check in about the cancelled session".into();
    let r = v.create_rupture(&n, "t").unwrap();
    let before = v.rupture(r).unwrap();
    assert!(before.follow_up_planned);
    assert_eq!(before.follow_up_note, "Check in about the cancelled session");

    n.session_id = Some(foreign);
    let on_session =
        |e: Error| matches!(&e, Error::Validation { field, .. } if field == "session_id");
    assert!(on_session(v.create_rupture(&n, "t").unwrap_err()));
    let moved = RuptureUpdate { session_id: Some(foreign), ..Default::default() };
    assert!(on_session(v.update_rupture(r, &moved).unwrap_err()));
    let repair = NewRepairAttempt {
        session_id: Some(foreign),
        at: 1_200,
        strategies: vec![RepairStrategy::RsInviteDiscussionOfRelationship],
        client_response: vec![],
        effect: None,
        note: String::new(),
    };
    assert!(on_session(v.add_repair_attempt(r, &repair).unwrap_err()));
    let status = v.set_rupture_status(r, RuptureStatus::InProgress, 1_300, "t", Some(foreign));
    assert!(on_session(status.unwrap_err()));
    let missing = v.update_rupture(
        r,
        &RuptureUpdate { session_id: Some(RecordId::random()), ..Default::default() },
    );
    assert!(missing.is_err(), "a session this device does not hold is refused");
    assert_eq!(v.rupture(r).unwrap(), before, "nothing of a refused change is kept");

    // The rupture's own client's sessions are taken, and a repair keeps its session.
    let later = v.create_session(&new_session(c, 2_000)).unwrap();
    let a =
        v.add_repair_attempt(r, &NewRepairAttempt { session_id: Some(later), ..repair }).unwrap();
    let got = v.rupture(r).unwrap();
    assert_eq!(got.repair_attempts.iter().find(|x| x.id == a).unwrap().session_id, Some(later));
}

#[test]
fn a_session_records_its_times_and_refuses_an_end_before_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let s = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0114")).unwrap();
        let mut n = new_session(c, 10_000);
        (n.actual_start, n.actual_end, n.status) = (None, None, SessionStatus::Scheduled);
        let s = v.create_session(&n).unwrap();
        v.set_session_status(s, SessionStatus::Completed, Some(10_500), None).unwrap();
        let refused = v.set_session_status(s, SessionStatus::Completed, None, Some(10_400));
        assert!(
            matches!(refused, Err(Error::Validation { ref field, .. }) if field == "actual_end")
        );
        v.set_session_status(s, SessionStatus::Completed, None, Some(13_500)).unwrap();
        s
    };
    let got = reopen(&p).session(s).unwrap();
    assert_eq!(got.status, SessionStatus::Completed);
    assert_eq!((got.actual_start, got.actual_end), (Some(10_500), Some(13_500)));
}

#[test]
fn a_voided_rupture_stays_readable_but_leaves_the_counts_and_takes_no_edits() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, r) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0112")).unwrap();
        let s = v.create_session(&new_session(c, 1_000)).unwrap();
        let keep = v.create_rupture(&new_rupture(c, Some(s), 1_100), "t").unwrap();
        let r = v.create_rupture(&new_rupture(c, Some(s), 1_200), "t").unwrap();
        let e = v.void_rupture(r, "  ", "t", 1_300).unwrap_err();
        assert!(matches!(&e, Error::Validation { field, .. } if field == "void reason"), "{e:?}");
        v.void_rupture(r, "Logged for the wrong client", "t", 1_300).unwrap();
        let _ = keep;
        (c, r)
    };
    let v = reopen(&p);
    let got = v.rupture(r).unwrap();
    let voided = got.voided.as_ref().unwrap();
    assert_eq!((voided.by.as_str(), voided.at), ("t", 1_300));
    assert_eq!(voided.reason, "Logged for the wrong client");
    assert_eq!(got.narrative, "Client went quiet after homework review", "nothing is deleted");

    assert_eq!(v.unresolved_ruptures(c).unwrap().len(), 1);
    let counts = v.rupture_counts(c).unwrap();
    assert_eq!(counts.iter().map(|c| c.withdrawal).sum::<u32>(), 1);
    let on_timeline: Vec<bool> = v
        .timeline(c)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            TimelineEntry::Rupture(r) => Some(r.voided),
            _ => None,
        })
        .collect();
    assert_eq!(on_timeline, [false, true], "still on the timeline, marked voided");

    let read_only = |e: Error| {
        assert!(matches!(&e, Error::Validation { field, .. } if field == "rupture"), "{e:?}")
    };
    read_only(
        v.update_rupture(r, &RuptureUpdate { significance: Some(1), ..Default::default() })
            .unwrap_err(),
    );
    read_only(v.splice_rupture_text(r, RuptureText::Narrative, 0, 0, "x").unwrap_err());
    read_only(v.set_rupture_status(r, RuptureStatus::Resolved, 1_400, "t", None).unwrap_err());
    read_only(v.void_rupture(r, "again", "t", 1_500).unwrap_err());
    assert_eq!(v.rupture(r).unwrap(), got);
}

#[test]
fn rupture_texts_take_live_typing() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(&dir);
    let c = v.create_client(&new_client("C-0113")).unwrap();
    let r = v.create_rupture(&new_rupture(c, None, 5), "t").unwrap();
    for (i, ch) in "Check in".chars().enumerate() {
        v.splice_rupture_text(r, RuptureText::FollowUpNote, i, 0, &ch.to_string()).unwrap();
    }
    v.splice_rupture_text(r, RuptureText::Narrative, 0, 6, "Patient").unwrap();
    v.splice_rupture_text(r, RuptureText::ClientWords, 0, 0, "«Fine.» ").unwrap();
    let got = v.rupture(r).unwrap();
    assert_eq!(got.follow_up_note, "Check in");
    assert_eq!(got.narrative, "Patient went quiet after homework review");
    assert_eq!(got.client_words, "«Fine.» Whatever, it's fine");
    let e = v.splice_rupture_text(r, RuptureText::ClientWords, 27, 1, "").unwrap_err();
    assert!(matches!(&e, Error::Validation { field, .. } if field == "client_words"), "{e:?}");
    assert_eq!(v.rupture(r).unwrap(), got);
}
