//! The records the tests and benches write.

use mend_core::*;

/// A client with every field set (born 1990, US-CA, intake 2026-01-05).
pub fn new_client(alias: &str) -> NewClient {
    NewClient {
        alias_code: alias.into(),
        birth_year: Some(1990),
        jurisdiction: "US-CA".into(),
        intake_date: Some("2026-01-05".into()),
    }
}

/// A client with only an alias and a jurisdiction.
pub fn bare_client(alias: &str, jurisdiction: &str) -> NewClient {
    NewClient {
        alias_code: alias.into(),
        birth_year: None,
        jurisdiction: jurisdiction.into(),
        intake_date: None,
    }
}

/// A completed 50-minute individual in-person session (CPT 90834) starting at `start`.
pub fn new_session(client_id: RecordId, start: Timestamp) -> NewSession {
    NewSession {
        client_id,
        scheduled_start: start,
        actual_start: Some(start),
        actual_end: Some(start + 50 * 60_000),
        status: SessionStatus::Completed,
        modality: Modality::Individual,
        setting: Setting::InPerson,
        cpt_code: Some("90834".into()),
    }
}

/// A completed session scheduled at `start`, with nothing else set.
pub fn bare_session(client_id: RecordId, start: Timestamp) -> NewSession {
    NewSession {
        client_id,
        scheduled_start: start,
        actual_start: None,
        actual_end: None,
        status: SessionStatus::Completed,
        modality: Modality::Individual,
        setting: Setting::InPerson,
        cpt_code: None,
    }
}

/// An empty free-text note for `session_id`, by author `t`, created at 0.
pub fn free_note(session_id: RecordId) -> NewNote {
    NewNote {
        session_id,
        author_id: "t".into(),
        format: NoteFormat::Free,
        sections: vec![],
        created_at: 0,
    }
}

/// A SOAP note with a subjective and a plan section.
pub fn soap(session_id: RecordId) -> NewNote {
    NewNote {
        session_id,
        author_id: "therapist-1".into(),
        format: NoteFormat::Soap,
        sections: vec![
            ("subjective".into(), "Reports poor sleep".into()),
            ("plan".into(), "Sleep diary".into()),
        ],
        created_at: 1_767_600_000_000,
    }
}

/// A withdrawal rupture with every field set.
pub fn new_rupture(client_id: RecordId, session_id: Option<RecordId>, at: Timestamp) -> NewRupture {
    NewRupture {
        client_id,
        session_id,
        occurred_at: at,
        at_minute: Some(20),
        record_class: RecordClass::PsychotherapyNote,
        movement: Movement::Withdrawal,
        initiated_by: InitiatedBy::Client,
        markers: vec![RuptureMarker::WdMinimalResponse, RuptureMarker::WdDenial],
        alliance_dimensions: vec![AllianceDimension::Task],
        precipitants: vec![Precipitant::Misunderstanding],
        detected_by: Some(DetectedBy::TherapistInSession),
        significance: 3,
        therapist_contribution_rating: Some(2),
        therapist_contribution: "I pushed the homework too fast".into(),
        narrative: "Client went quiet after homework review".into(),
        client_words: "Whatever, it's fine".into(),
        follow_up_planned: false,
        follow_up_note: String::new(),
    }
}

/// The author's signature at `at`.
pub fn author_sign(at: Timestamp, needs_cosign: bool) -> SignRequest {
    SignRequest {
        signer_id: "therapist-1".into(),
        signer_name: "Dr. A. Example".into(),
        role: SignerRole::Author,
        meaning: SignatureMeaning::Authored,
        needs_cosign,
        signed_at: at,
    }
}

/// All twelve WAI items answered `score`.
pub fn wai_items(score: i64) -> Vec<(u8, i64)> {
    (1..=12).map(|i| (i, score)).collect()
}

/// The `body` section of a free-text note (empty if it has none yet).
pub fn free_text(v: &Vault, note: RecordId) -> String {
    v.note(note).expect("read the note").section("body").unwrap_or_default().to_owned()
}

/// Types `text` at the end of a free-text note's `body` (positions in UTF-16 code units).
pub fn type_at_end(v: &Vault, note: RecordId, text: &str) {
    let len = free_text(v, note).encode_utf16().count();
    v.splice_note_section(note, "body", len, 0, text).expect("type into the note");
}
