//! Record summaries: the few fields lists and timelines need, kept (encrypted) beside each record
//! so opening a vault never loads documents.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::model::{Timestamp, WaiScores};
use super::{client, measure, note, rupture, session, Kind};
use crate::error::{Error, Result};
use crate::ids::RecordId;

/// A record's summary, as stored (JSON inside an envelope). Enum values are stored by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Summary {
    /// A client.
    Client {
        /// Alias code.
        alias_code: String,
        /// Status name.
        status: String,
    },
    /// A session.
    Session {
        /// Planned start.
        scheduled_start: Timestamp,
        /// Status name.
        status: String,
    },
    /// A note.
    Note {
        /// Its session.
        session_id: String,
        /// The session's planned start (its date of service).
        session_start: Timestamp,
        /// Format name.
        format: String,
        /// Lifecycle state name.
        state: String,
        /// An unsigned addendum exists.
        addendum_draft: bool,
        /// Late edits from another device wait to be turned into an addendum or discarded.
        #[serde(default)]
        diverged: bool,
    },
    /// A rupture.
    Rupture {
        /// Its session, if any.
        session_id: Option<String>,
        /// When it happened.
        occurred_at: Timestamp,
        /// Movement name.
        movement: String,
        /// Initiator name.
        initiated_by: String,
        /// Derived status name.
        status: String,
        /// Significance.
        significance: i64,
        /// Logged in error.
        #[serde(default)]
        voided: bool,
    },
    /// The vault registry (never listed).
    Registry,
    /// An alliance measure.
    Measure {
        /// Its session, if any.
        session_id: Option<String>,
        /// When administered.
        administered_at: Timestamp,
        /// Instrument name.
        instrument: String,
        /// Derived scores.
        scores: WaiScores,
        /// The measure it corrects.
        supersedes: Option<String>,
    },
}

/// Computes the summary of a record from its document.
pub fn of(kind: Kind, doc: &AutoCommit, id: RecordId) -> Result<Summary> {
    Ok(match kind {
        Kind::Client => {
            let c = client::read(doc, id)?;
            Summary::Client { alias_code: c.alias_code, status: c.status.as_str().into() }
        }
        Kind::Session => {
            let s = session::read(doc, id)?;
            Summary::Session {
                scheduled_start: s.scheduled_start,
                status: s.status.as_str().into(),
            }
        }
        Kind::Note => {
            let (session_id, session_start, format, state, addendum_draft) =
                note::summary_fields(doc, id)?;
            Summary::Note {
                session_id: session_id.to_string(),
                session_start,
                format: format.as_str().into(),
                state: format!("{state:?}").to_lowercase(),
                addendum_draft,
                diverged: note::divergence(doc, id).map(|d| d.is_some()).unwrap_or(false),
            }
        }
        Kind::Rupture => {
            let r = rupture::read(doc, id)?;
            Summary::Rupture {
                session_id: r.session_id.map(|s| s.to_string()),
                occurred_at: r.occurred_at,
                movement: r.movement.as_str().into(),
                initiated_by: r.initiated_by.as_str().into(),
                status: r.status.as_str().into(),
                significance: r.significance,
                voided: r.voided.is_some(),
            }
        }
        Kind::Registry => Summary::Registry,
        Kind::Measure => {
            let m = measure::read(doc, id)?;
            Summary::Measure {
                session_id: m.session_id.map(|s| s.to_string()),
                administered_at: m.administered_at,
                instrument: m.instrument.as_str().into(),
                scores: m.scores,
                supersedes: m.supersedes.map(|s| s.to_string()),
            }
        }
    })
}

#[derive(Serialize, Deserialize)]
struct Stored {
    s: Summary,
    /// The record holds surfaced conflicts.
    c: bool,
}

/// Computes and encodes a record's summary and conflict flag, ready for sealing.
pub fn encoded(kind: Kind, doc: &AutoCommit, id: RecordId) -> Result<Vec<u8>> {
    let stored =
        Stored { s: of(kind, doc, id)?, c: !super::conflict::of(kind, doc, id)?.is_empty() };
    serde_json::to_vec(&stored).map_err(|_| Error::Internal("summary encoding".into()))
}

/// Decodes an opened summary: the summary and whether the record holds conflicts.
pub fn decode(id: RecordId, bytes: &[u8]) -> Result<(Summary, bool)> {
    let s: Stored = serde_json::from_slice(bytes).map_err(|_| Error::corrupt(id, "summary"))?;
    Ok((s.s, s.c))
}
