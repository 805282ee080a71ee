//! Conversions between core values and FFI records. Kept apart so each exported method stays
//! one delegating call.

use mend_core as core;
use mend_core::query;

use crate::error::MendError;
use crate::types::*;

type R<T> = Result<T, MendError>;

fn sections_in(s: Vec<NoteSection>) -> Vec<(String, String)> {
    s.into_iter().map(|s| (s.key, s.text)).collect()
}

fn sections_out(s: Vec<(String, String)>) -> Vec<NoteSection> {
    s.into_iter().map(|(key, text)| NoteSection { key, text }).collect()
}

pub fn new_client(c: NewClient) -> core::NewClient {
    core::NewClient {
        alias_code: c.alias_code,
        birth_year: c.birth_year,
        jurisdiction: c.jurisdiction,
        intake_date: c.intake_date,
    }
}

pub fn client(c: core::Client) -> Client {
    Client {
        id: c.id.to_string(),
        alias_code: c.alias_code,
        birth_year: c.birth_year,
        jurisdiction: c.jurisdiction,
        status: c.status,
        intake_date: c.intake_date,
        treatment_goals: c
            .treatment_goals
            .into_iter()
            .map(|g| TreatmentGoal { id: g.id.to_string(), text: g.text, domain: g.domain })
            .collect(),
    }
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

pub fn new_session(s: NewSession) -> R<core::NewSession> {
    Ok(core::NewSession {
        client_id: id(&s.client_id)?,
        scheduled_start: s.scheduled_start,
        actual_start: s.actual_start,
        actual_end: s.actual_end,
        status: s.status,
        modality: s.modality,
        setting: s.setting,
        cpt_code: s.cpt_code,
    })
}

pub fn session(s: core::Session) -> Session {
    Session {
        id: s.id.to_string(),
        client_id: s.client_id.to_string(),
        scheduled_start: s.scheduled_start,
        actual_start: s.actual_start,
        actual_end: s.actual_end,
        status: s.status,
        modality: s.modality,
        setting: s.setting,
        cpt_code: s.cpt_code,
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

fn signature(s: core::Signature) -> Signature {
    Signature {
        signer_id: s.signer_id,
        signer_name: s.signer_name,
        role: s.role,
        meaning: s.meaning,
        signed_at: s.signed_at,
        content_hash: s.content_hash,
    }
}

pub fn risk_out(r: core::Risk) -> Risk {
    Risk { si: r.si, hi: r.hi, note: r.note }
}

pub fn risk_in(r: Risk) -> core::Risk {
    core::Risk { si: r.si, hi: r.hi, note: r.note }
}

pub fn note(n: core::SessionNote) -> SessionNote {
    SessionNote {
        id: n.id.to_string(),
        session_id: n.session_id.to_string(),
        client_id: n.client_id.to_string(),
        format: n.format,
        sections: sections_out(n.sections),
        diagnoses: n.diagnoses,
        risk: risk_out(n.risk),
        state: n.state,
        signatures: n.signatures.into_iter().map(signature).collect(),
        addenda: n
            .addenda
            .into_iter()
            .map(|a| Addendum {
                id: a.id.to_string(),
                kind: a.kind,
                reason: a.reason,
                body: a.body,
                signed: !a.signatures.is_empty(),
            })
            .collect(),
    }
}

pub fn sign_request(s: SignRequest) -> core::SignRequest {
    core::SignRequest {
        signer_id: s.signer_id,
        signer_name: s.signer_name,
        role: s.role,
        meaning: s.meaning,
        needs_cosign: s.needs_cosign,
        signed_at: s.signed_at,
    }
}

pub fn new_addendum(a: NewAddendum) -> core::NewAddendum {
    core::NewAddendum {
        kind: a.kind,
        reason: a.reason,
        body: a.body,
        targets: a.targets,
        author_id: a.author_id,
        created_at: a.created_at,
    }
}

pub fn new_rupture(r: NewRupture) -> R<core::NewRupture> {
    Ok(core::NewRupture {
        client_id: id(&r.client_id)?,
        session_id: opt_id(&r.session_id)?,
        occurred_at: r.occurred_at,
        at_minute: r.at_minute,
        record_class: r.record_class,
        movement: r.movement,
        initiated_by: r.initiated_by,
        markers: r.markers,
        alliance_dimensions: r.alliance_dimensions,
        precipitants: r.precipitants,
        detected_by: r.detected_by,
        significance: r.significance,
        therapist_contribution_rating: r.therapist_contribution_rating,
        therapist_contribution: r.therapist_contribution,
        narrative: r.narrative,
        client_words: r.client_words,
        follow_up_planned: r.follow_up_planned,
        follow_up_note: r.follow_up_note,
    })
}

pub fn rupture(r: core::RuptureEvent) -> RuptureEvent {
    RuptureEvent {
        id: r.id.to_string(),
        client_id: r.client_id.to_string(),
        session_id: r.session_id.map(|s| s.to_string()),
        occurred_at: r.occurred_at,
        movement: r.movement,
        initiated_by: r.initiated_by,
        markers: r.markers,
        precipitants: r.precipitants,
        significance: r.significance,
        narrative: r.narrative,
        status: r.status,
        record_class: r.record_class,
        at_minute: r.at_minute,
        alliance_dimensions: r.alliance_dimensions,
        detected_by: r.detected_by,
        client_reported_intensity: r.client_reported_intensity,
        therapist_contribution_rating: r.therapist_contribution_rating,
        therapist_contribution: r.therapist_contribution,
        client_words: r.client_words,
        client_response: r.client_response,
        resolution_rating: r.resolution_rating,
        follow_up_planned: r.follow_up_planned,
        follow_up_note: r.follow_up_note,
        voided: r.voided.map(|v| Voided { by: v.by, at: v.at, reason: v.reason }),
        status_log: r
            .status_log
            .into_iter()
            .map(|s| StatusChange {
                to: s.to,
                at: s.at,
                by: s.by,
                session_id: s.session_id.map(|id| id.to_string()),
            })
            .collect(),
        repair_attempts: r
            .repair_attempts
            .into_iter()
            .map(|a| RepairAttempt {
                id: a.id.to_string(),
                session_id: a.session_id.map(|s| s.to_string()),
                at: a.at,
                immediate: a.is_immediate(),
                strategies: a.strategies,
                client_response: a.client_response,
                effect: a.effect,
                note: a.note,
            })
            .collect(),
    }
}

pub fn new_repair(a: NewRepairAttempt) -> R<core::NewRepairAttempt> {
    Ok(core::NewRepairAttempt {
        session_id: opt_id(&a.session_id)?,
        at: a.at,
        strategies: a.strategies,
        client_response: a.client_response,
        effect: a.effect,
        note: a.note,
    })
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

pub fn conflict(c: core::Conflict) -> Conflict {
    Conflict {
        record_id: c.record_id.to_string(),
        record_kind: c.kind.into(),
        client_id: c.client_id.to_string(),
        field: c.field,
        values: c
            .values
            .into_iter()
            .map(|v| ConflictValue {
                value: v.value,
                device_id: v.device_id.map(|d| d.to_string()),
                at: v.at,
            })
            .collect(),
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

pub fn divergence(d: core::Divergence) -> NoteDivergence {
    NoteDivergence {
        sections: d
            .sections
            .into_iter()
            .map(|s| DivergedSection { section: s.section, signed: s.signed, current: s.current })
            .collect(),
        other_fields: d.other_fields,
    }
}

pub fn rupture_update(u: RuptureUpdate) -> R<core::RuptureUpdate> {
    Ok(core::RuptureUpdate {
        occurred_at: u.occurred_at,
        session_id: opt_id(&u.session_id)?,
        at_minute: u.at_minute,
        movement: u.movement,
        initiated_by: u.initiated_by,
        detected_by: u.detected_by,
        significance: u.significance,
        client_reported_intensity: u.client_reported_intensity,
        therapist_contribution_rating: u.therapist_contribution_rating,
        resolution_rating: u.resolution_rating,
        add_markers: u.add_markers,
        remove_markers: u.remove_markers,
        add_alliance_dimensions: u.add_alliance_dimensions,
        remove_alliance_dimensions: u.remove_alliance_dimensions,
        add_precipitants: u.add_precipitants,
        remove_precipitants: u.remove_precipitants,
        add_client_response: u.add_client_response,
        remove_client_response: u.remove_client_response,
        narrative: u.narrative,
        client_words: u.client_words,
        therapist_contribution: u.therapist_contribution,
        follow_up_planned: u.follow_up_planned,
        follow_up_note: u.follow_up_note,
        clear: u.clear,
    })
}
