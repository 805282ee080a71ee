//! The therapist's queries, answered from record summaries alone.
//!
//! Opening a vault or a client's timeline never loads an Automerge document: each record keeps a
//! small encrypted summary (see `records::summary`), and these functions only sort and count
//! decrypted summaries. Erased or damaged records are listed as such, never silently dropped.

use std::collections::HashMap;

use crate::ids::RecordId;
use crate::records::enums::*;
use crate::records::model::{Timestamp, WaiScores};
use crate::records::summary::Summary;
use crate::records::Kind;
use crate::store::db::DocHeader;

/// Why a record could not be summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Its client was erased.
    Erased,
    /// Its stored bytes failed to authenticate or decode.
    Corrupt,
}

/// One record's header and (if readable) summary.
#[derive(Debug, Clone)]
pub struct Row {
    /// Plaintext header.
    pub header: DocHeader,
    /// Decrypted summary.
    pub summary: Result<Summary, Unreadable>,
    /// The record holds surfaced conflicts.
    pub conflicted: bool,
}

/// A client in the client list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    /// Client id.
    pub id: RecordId,
    /// Alias code and status; `Err` when erased or unreadable.
    pub info: Result<(String, ClientStatus), Unreadable>,
}

/// A rupture in lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuptureSummary {
    /// Rupture id.
    pub id: RecordId,
    /// Its session.
    pub session_id: Option<RecordId>,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// Movement.
    pub movement: Movement,
    /// Initiator.
    pub initiated_by: InitiatedBy,
    /// Derived status.
    pub status: RuptureStatus,
    /// Significance 1–5.
    pub significance: i64,
    /// Logged in error: shown struck through, left out of the unresolved list and the counts.
    pub voided: bool,
}

/// One entry of a client's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineEntry {
    /// A session.
    Session {
        /// Id.
        id: RecordId,
        /// Planned start.
        at: Timestamp,
        /// Status.
        status: SessionStatus,
    },
    /// A note, dated by its session.
    Note {
        /// Id.
        id: RecordId,
        /// Its session.
        session_id: RecordId,
        /// Date of service.
        at: Timestamp,
        /// Format.
        format: NoteFormat,
        /// Lifecycle state name (`draft`, `pendingcosign`, `signed`, `cosigned`).
        state: String,
        /// An unsigned addendum exists.
        addendum_draft: bool,
        /// Late edits from another device await a decision (see `Vault::note_divergence`).
        diverged: bool,
    },
    /// A rupture.
    Rupture(RuptureSummary),
    /// An alliance measure.
    Measure(AlliancePoint),
    /// A record that could not be read.
    Unreadable {
        /// Id.
        id: RecordId,
        /// Why.
        reason: Unreadable,
    },
}

impl TimelineEntry {
    fn at(&self) -> Timestamp {
        match self {
            TimelineEntry::Session { at, .. } | TimelineEntry::Note { at, .. } => *at,
            TimelineEntry::Rupture(r) => r.occurred_at,
            TimelineEntry::Measure(m) => m.administered_at,
            TimelineEntry::Unreadable { .. } => Timestamp::MAX,
        }
    }
}

/// Rupture counts of one session (or of ruptures outside sessions, with `session_id` `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRuptureCounts {
    /// The session.
    pub session_id: Option<RecordId>,
    /// Its planned start (`None` for between-session ruptures).
    pub session_start: Option<Timestamp>,
    /// Withdrawal ruptures.
    pub withdrawal: u32,
    /// Confrontation ruptures.
    pub confrontation: u32,
    /// Mixed ruptures.
    pub mixed: u32,
}

/// One point of the alliance trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlliancePoint {
    /// Measure id.
    pub measure_id: RecordId,
    /// Its session.
    pub session_id: Option<RecordId>,
    /// When administered.
    pub administered_at: Timestamp,
    /// Instrument.
    pub instrument: Instrument,
    /// Subscale and total scores.
    pub scores: WaiScores,
}

fn parse<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// The client list.
pub fn clients(rows: Vec<Row>) -> Vec<ClientSummary> {
    let mut out: Vec<ClientSummary> = rows
        .into_iter()
        .map(|r| ClientSummary {
            id: r.header.doc_id,
            info: match r.summary {
                Ok(Summary::Client { alias_code, status }) => {
                    parse(&status).map(|s| (alias_code, s)).ok_or(Unreadable::Corrupt)
                }
                Ok(_) => Err(Unreadable::Corrupt),
                Err(e) => Err(e),
            },
        })
        .collect();
    out.sort_by(|a, b| match (&a.info, &b.info) {
        (Ok(x), Ok(y)) => x.0.cmp(&y.0),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.id.cmp(&b.id),
    });
    out
}

fn entry(row: Row) -> Option<TimelineEntry> {
    let id = row.header.doc_id;
    let s = match row.summary {
        Ok(s) => s,
        Err(reason) => return Some(TimelineEntry::Unreadable { id, reason }),
    };
    let corrupt = TimelineEntry::Unreadable { id, reason: Unreadable::Corrupt };
    Some(match s {
        Summary::Client { .. } | Summary::Registry => return None,
        Summary::Session { scheduled_start, status } => match parse(&status) {
            Some(status) => TimelineEntry::Session { id, at: scheduled_start, status },
            None => corrupt,
        },
        Summary::Note { session_id, session_start, format, state, addendum_draft, diverged } => {
            match (parse(&session_id), parse(&format)) {
                (Some(session_id), Some(format)) => TimelineEntry::Note {
                    id,
                    session_id,
                    at: session_start,
                    format,
                    state,
                    addendum_draft,
                    diverged,
                },
                _ => corrupt,
            }
        }
        Summary::Rupture {
            session_id,
            occurred_at,
            movement,
            initiated_by,
            status,
            significance,
            voided,
        } => match (parse(&movement), parse(&initiated_by), parse(&status)) {
            (Some(movement), Some(initiated_by), Some(status)) => {
                TimelineEntry::Rupture(RuptureSummary {
                    id,
                    session_id: session_id.as_deref().and_then(parse),
                    occurred_at,
                    movement,
                    initiated_by,
                    status,
                    significance,
                    voided,
                })
            }
            _ => corrupt,
        },
        Summary::Measure { session_id, administered_at, instrument, scores, .. } => {
            match parse(&instrument) {
                Some(instrument) => TimelineEntry::Measure(AlliancePoint {
                    measure_id: id,
                    session_id: session_id.as_deref().and_then(parse),
                    administered_at,
                    instrument,
                    scores,
                }),
                None => corrupt,
            }
        }
    })
}

/// A client's records by date (unreadable ones last).
pub fn timeline(rows: Vec<Row>) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = rows.into_iter().filter_map(entry).collect();
    out.sort_by_key(|e| e.at());
    out
}

/// Ruptures not resolved or closed, oldest first.
pub fn unresolved_ruptures(rows: Vec<Row>) -> Vec<RuptureSummary> {
    let mut out: Vec<RuptureSummary> = timeline(rows)
        .into_iter()
        .filter_map(|e| match e {
            TimelineEntry::Rupture(r)
                if !r.voided
                    && !matches!(
                        r.status,
                        RuptureStatus::Resolved | RuptureStatus::UnresolvedClosed
                    ) =>
            {
                Some(r)
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|r| r.occurred_at);
    out
}

/// Rupture counts by movement per session, in session order; sessions without ruptures count 0,
/// ruptures outside any session come last.
pub fn rupture_counts(rows: Vec<Row>) -> Vec<SessionRuptureCounts> {
    let entries = timeline(rows);
    let mut by_session: HashMap<Option<RecordId>, SessionRuptureCounts> = HashMap::new();
    for e in &entries {
        if let TimelineEntry::Session { id, at, .. } = e {
            by_session.insert(
                Some(*id),
                SessionRuptureCounts {
                    session_id: Some(*id),
                    session_start: Some(*at),
                    ..Default::default()
                },
            );
        }
    }
    for e in &entries {
        if let TimelineEntry::Rupture(r) = e {
            if r.voided {
                continue;
            }
            let c = by_session.entry(r.session_id).or_insert_with(|| SessionRuptureCounts {
                session_id: r.session_id,
                ..Default::default()
            });
            match r.movement {
                Movement::Withdrawal => c.withdrawal += 1,
                Movement::Confrontation => c.confrontation += 1,
                Movement::Mixed => c.mixed += 1,
            }
        }
    }
    let mut out: Vec<SessionRuptureCounts> = by_session.into_values().collect();
    out.sort_by_key(|c| (c.session_start.is_none(), c.session_start, c.session_id));
    out
}

/// Alliance measures in time order, leaving out those superseded by a correction.
pub fn alliance_trend(rows: Vec<Row>) -> Vec<AlliancePoint> {
    let superseded: Vec<RecordId> = rows
        .iter()
        .filter_map(|r| match &r.summary {
            Ok(Summary::Measure { supersedes: Some(s), .. }) => parse(s),
            _ => None,
        })
        .collect();
    let mut out: Vec<AlliancePoint> = rows
        .into_iter()
        .filter(|r| r.header.kind == Kind::Measure as u8)
        .filter_map(entry)
        .filter_map(|e| match e {
            TimelineEntry::Measure(m) if !superseded.contains(&m.measure_id) => Some(m),
            _ => None,
        })
        .collect();
    out.sort_by_key(|m| m.administered_at);
    out
}
