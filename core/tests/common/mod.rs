//! Shared fixtures for mend-core's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};

use mend_core::crypto::kdf::KdfParams;
use mend_core::*;

pub const KEY: [u8; 32] = [7; 32];

pub fn opts() -> VaultOptions {
    VaultOptions { kdf: KdfParams::with_cost(256, 1, 1), ..Default::default() }
}

pub fn path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("vault.mend")
}

pub fn new_vault(dir: &tempfile::TempDir) -> Vault {
    Vault::create(&path(dir), VaultSecret::key(KEY), opts()).unwrap()
}

pub fn reopen(p: &Path) -> Vault {
    Vault::open(p, VaultSecret::key(KEY), opts()).unwrap()
}

pub fn new_client(alias: &str) -> NewClient {
    NewClient {
        alias_code: alias.into(),
        birth_year: Some(1990),
        jurisdiction: "US-CA".into(),
        intake_date: Some("2026-01-05".into()),
    }
}

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

pub fn wai_items(score: i64) -> Vec<(u8, i64)> {
    (1..=12).map(|i| (i, score)).collect()
}

/// Every file SQLite may have written for a vault: the database and its WAL.
pub fn raw_bytes(p: &Path) -> Vec<u8> {
    let mut all = std::fs::read(p).unwrap();
    let wal = PathBuf::from(format!("{}-wal", p.display()));
    if let Ok(w) = std::fs::read(wal) {
        all.extend(w);
    }
    all
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

use mend_core::sync::{MemoryRelay, SyncOptions, SyncReport};

/// Syncs a vault with default options.
pub fn sync(v: &Vault, relay: &MemoryRelay) -> SyncReport {
    v.sync(relay, &SyncOptions::default()).unwrap()
}

/// A second device joined to `first`'s vault through `relay`, in `dir`.
pub fn join(first: &Vault, relay: &MemoryRelay, dir: &tempfile::TempDir, name: &str) -> Vault {
    let code = mend_core::sync::invite::generate_code();
    let invite = first.export_invite(&code, i64::MAX).unwrap();
    sync(first, relay);
    let v = Vault::join(
        &dir.path().join(name),
        VaultSecret::key([9; 32]),
        opts(),
        &invite,
        &code,
        relay,
    )
    .unwrap();
    sync(&v, relay);
    v
}
