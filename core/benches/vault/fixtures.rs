//! The records and vaults every workload starts from.

use super::*;

pub(crate) fn new_client(i: usize) -> NewClient {
    NewClient {
        alias_code: format!("C-{i:04}"),
        birth_year: Some(1980 + (i % 30) as i64),
        jurisdiction: "US-CA".into(),
        intake_date: Some("2026-01-05".into()),
    }
}

/// A SOAP note of about 600 characters.
pub(crate) fn soap_note(session_id: RecordId, i: usize) -> NewNote {
    NewNote {
        session_id,
        author_id: "therapist-1".into(),
        format: NoteFormat::Soap,
        sections: vec![
            (
                "subjective".into(),
                format!(
                    "Client reports sleeping about five hours a night (session {i}), waking at 4am \
                     with racing thoughts about work. Mood 4/10, appetite reduced. Denies SI/HI."
                ),
            ),
            (
                "objective".into(),
                "Alert and oriented x3, casually dressed, speech of normal rate, affect \
                 constricted and congruent with mood. Fidgeting with sleeve throughout."
                    .into(),
            ),
            (
                "assessment".into(),
                "Symptoms consistent with GAD; sleep worse since last session as a work deadline \
                 approaches. Engaged; alliance strong."
                    .into(),
            ),
            (
                "plan".into(),
                "Continue CBT-I components and the sleep diary; review the thought record next \
                 week."
                    .into(),
            ),
        ],
        created_at: T0,
    }
}

/// A write stamp for notes built outside the vault (the baselines).
pub(crate) fn stamp() -> Stamp {
    Stamp { device: DeviceId::random(), at: T0 }
}

pub(crate) fn opts(durability: Durability, compact_after: u64) -> VaultOptions {
    VaultOptions { durability, compact_after, ..Default::default() }
}

/// A new vault holding one client, one session and one SOAP note.
pub(crate) fn vault_with_note(path: &Path, o: VaultOptions) -> (Vault, RecordId) {
    let v = Vault::create(path, VaultSecret::key(KEY), o).unwrap();
    let c = v.create_client(&new_client(0)).unwrap();
    let s = v.create_session(&new_session(c, T0)).unwrap();
    let n = v.create_note(&soap_note(s, 0)).unwrap();
    (v, n)
}

pub(crate) fn section_len(v: &Vault, id: RecordId) -> usize {
    v.note(id).unwrap().section(SECTION).unwrap().chars().count()
}

pub(crate) fn text_obj(doc: &AutoCommit) -> ObjId {
    let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
    let (_, t) = doc.get(&sections, SECTION).unwrap().unwrap();
    t
}
