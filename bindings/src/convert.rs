//! Conversions between core values and the FFI projections in `types.rs`, and the parsing of
//! ids passed as method arguments. Kept apart so each exported method stays one delegating call.

use mend_core as core;
use mend_core::query;

use crate::error::MendError;
use crate::types::*;

type R<T> = Result<T, MendError>;

/// A record id passed as a method argument; a malformed one is `MendError.InvalidArgument`.
pub(crate) fn id(s: &str) -> R<core::RecordId> {
    s.parse().map_err(|_| MendError::InvalidArgument { reason: "an id is not a UUID".into() })
}

/// A text position or length (UTF-16 code units) as the core's `usize`. One too large for this
/// platform's `usize` (a 32-bit Android ABI) is past the end of any text: it saturates, and the
/// core refuses it as outside the text, as it does every position past the end.
pub(crate) fn index(units: u64) -> usize {
    usize::try_from(units).unwrap_or(usize::MAX)
}

pub(crate) fn opt_id(s: &Option<String>) -> R<Option<core::RecordId>> {
    s.as_deref().map(id).transpose()
}

fn sections_in(s: Vec<NoteSection>) -> Vec<(String, String)> {
    s.into_iter().map(|s| (s.key, s.text)).collect()
}

fn sections_out(s: Vec<(String, String)>) -> Vec<NoteSection> {
    s.into_iter().map(|(key, text)| NoteSection { key, text }).collect()
}

pub fn client_summary(c: query::ClientSummary) -> ClientSummary {
    match c.info {
        Ok((alias, status)) => ClientSummary {
            id: c.id.to_string(),
            alias_code: Some(alias),
            status: Some(status),
            erased: false,
        },
        Err(why) => ClientSummary {
            id: c.id.to_string(),
            alias_code: None,
            status: None,
            erased: why == query::Unreadable::Erased,
        },
    }
}

pub fn new_note(n: NewNote) -> R<core::NewNote> {
    Ok(core::NewNote {
        session_id: id(&n.session_id)?,
        author_id: n.author_id,
        format: n.format,
        sections: sections_in(n.sections),
        created_at: n.created_at,
    })
}

pub fn note(n: core::SessionNote) -> SessionNote {
    SessionNote {
        id: n.id.to_string(),
        session_id: n.session_id.to_string(),
        client_id: n.client_id.to_string(),
        format: n.format,
        sections: sections_out(n.sections),
        diagnoses: n.diagnoses,
        risk: n.risk,
        state: n.state,
        signatures: n.signatures,
        addenda: n.addenda,
    }
}

pub fn new_measure(m: NewMeasure) -> R<core::NewMeasure> {
    Ok(core::NewMeasure {
        client_id: id(&m.client_id)?,
        session_id: opt_id(&m.session_id)?,
        instrument: core::Instrument::WaiSr,
        rater: core::Rater::Client,
        administered_at: m.administered_at,
        items: m.items.into_iter().map(|i| (i.item, i.score)).collect(),
        supersedes: None,
    })
}

pub fn alliance_point(p: query::AlliancePoint) -> AlliancePoint {
    AlliancePoint {
        measure_id: p.measure_id.to_string(),
        administered_at: p.administered_at,
        task: p.scores.task,
        bond: p.scores.bond,
        goal: p.scores.goal,
        total: p.scores.total,
        incomplete: p.scores.incomplete,
    }
}

pub fn timeline_entry(e: query::TimelineEntry) -> TimelineEntry {
    match e {
        query::TimelineEntry::Session { id, at, status } => {
            TimelineEntry::Session { id: id.to_string(), at, status }
        }
        query::TimelineEntry::Note { id, at, format, state, diverged, .. } => {
            TimelineEntry::Note { id: id.to_string(), at, format, state, diverged }
        }
        query::TimelineEntry::Rupture(r) => TimelineEntry::Rupture {
            id: r.id.to_string(),
            at: r.occurred_at,
            movement: r.movement,
            status: r.status,
            significance: r.significance,
            voided: r.voided,
        },
        query::TimelineEntry::Measure(m) => TimelineEntry::Measure { point: alliance_point(m) },
        query::TimelineEntry::Unreadable { id, reason } => TimelineEntry::Unreadable {
            id: id.to_string(),
            erased: reason == query::Unreadable::Erased,
        },
    }
}

fn record_kind(k: core::records::Kind) -> RecordKind {
    use core::records::Kind;
    match k {
        Kind::Client => RecordKind::Client,
        Kind::Session => RecordKind::Session,
        Kind::Note => RecordKind::Note,
        Kind::Rupture => RecordKind::Rupture,
        Kind::Measure => RecordKind::Measure,
        Kind::Registry => RecordKind::Registry,
    }
}

pub fn conflict(c: core::Conflict) -> Conflict {
    Conflict {
        record_id: c.record_id.to_string(),
        record_kind: record_kind(c.kind),
        client_id: c.client_id.to_string(),
        field: c.field,
        values: c.values,
    }
}

pub fn device(d: core::Device, me: core::DeviceId) -> DeviceInfo {
    DeviceInfo {
        id: d.id.to_string(),
        revoked: d.revoked,
        this_device: d.id == me,
        name: d.name,
        added_at: d.added_at,
    }
}

pub fn sync_report(r: core::sync::SyncReport) -> SyncReport {
    SyncReport {
        pushed: r.pushed,
        pulled: r.pulled,
        applied: r.applied,
        rejected: r.rejected.len() as u64,
        pending: r.pending,
        cancelled: r.cancelled,
        changed: r.changed.iter().map(|c| c.to_string()).collect(),
    }
}

pub fn sync_progress(p: &core::sync::SyncProgress) -> SyncProgress {
    SyncProgress { pushed: p.pushed, to_push: p.to_push, pulled: p.pulled, remaining: p.remaining }
}
