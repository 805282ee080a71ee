//! The records Swift and Kotlin see that are not core's own. Core's model types, vocabularies
//! and ids derive their uniffi shapes in `mend-core` (its `uniffi` feature; ids are UUID
//! strings); what is left here are FFI projections, each saying why it is not the core type.

#![allow(missing_docs)] // Record fields are named after the clinical model; the types carry the docs.

use mend_core::{Addendum, ClientStatus, Movement, NoteFormat, NoteState, Risk, RuptureStatus};
use mend_core::{SessionStatus, Signature};

/// The kind of a record.
// Projection of core's `records::Kind`, which is not exported (it carries storage codes).
#[derive(uniffi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Client,
    Session,
    Note,
    Rupture,
    Measure,
    /// The vault's shared device registry.
    Registry,
}

/// A client in the client list; `alias_code` and `status` are absent when it was erased or
/// cannot be read.
// Projection: core keeps the readable fields in a `Result`, which uniffi cannot carry.
#[derive(uniffi::Record)]
pub struct ClientSummary {
    pub id: String,
    pub alias_code: Option<String>,
    pub status: Option<ClientStatus>,
    pub erased: bool,
}

/// One section of a note.
// Projection: core keeps sections as `(key, text)` pairs; uniffi has no tuples.
#[derive(uniffi::Record)]
pub struct NoteSection {
    pub key: String,
    pub text: String,
}

/// A new note.
// Projection: sections as `NoteSection` records instead of core's pairs.
#[derive(uniffi::Record)]
pub struct NewNote {
    pub session_id: String,
    pub author_id: String,
    pub format: NoteFormat,
    pub sections: Vec<NoteSection>,
    pub created_at: i64,
}

/// A session note.
// Projection: sections as `NoteSection` records instead of core's pairs.
#[derive(uniffi::Record)]
pub struct SessionNote {
    pub id: String,
    pub session_id: String,
    pub client_id: String,
    pub format: NoteFormat,
    pub sections: Vec<NoteSection>,
    pub diagnoses: Vec<String>,
    pub risk: Risk,
    pub state: NoteState,
    pub signatures: Vec<Signature>,
    pub addenda: Vec<Addendum>,
}

/// One WAI-SR item score.
// Projection: core's measure items are `(item, score)` pairs; uniffi has no tuples.
#[derive(uniffi::Record)]
pub struct MeasureItem {
    pub item: u8,
    pub score: i64,
}

/// A new WAI-SR administration (client-rated).
// Projection: items as records, not core's pairs; instrument and rater fixed (WAI-SR, client).
#[derive(uniffi::Record)]
pub struct NewMeasure {
    pub client_id: String,
    pub session_id: Option<String>,
    pub administered_at: i64,
    pub items: Vec<MeasureItem>,
}

/// WAI-SR scores at one administration.
// Projection: core's query point nests its `WaiScores`; apps chart the flat scores.
#[derive(uniffi::Record)]
pub struct AlliancePoint {
    pub measure_id: String,
    pub administered_at: i64,
    pub task: Option<i64>,
    pub bond: Option<i64>,
    pub goal: Option<i64>,
    pub total: Option<i64>,
    pub incomplete: bool,
}

/// One entry of a client's timeline.
// Projection: core's entries carry query-internal summaries and reasons; apps switch on this.
#[derive(uniffi::Enum)]
pub enum TimelineEntry {
    Session {
        id: String,
        at: i64,
        status: SessionStatus,
    },
    Note {
        id: String,
        at: i64,
        format: NoteFormat,
        state: String,
        diverged: bool,
    },
    Rupture {
        id: String,
        at: i64,
        movement: Movement,
        status: RuptureStatus,
        significance: i64,
        voided: bool,
    },
    Measure {
        point: AlliancePoint,
    },
    Unreadable {
        id: String,
        erased: bool,
    },
}

/// A field with concurrent values awaiting a decision.
// Projection: core's `kind` is `records::Kind`, not exported (see `RecordKind`).
#[derive(uniffi::Record)]
pub struct Conflict {
    pub record_id: String,
    pub record_kind: RecordKind,
    /// The client the record belongs to (for a client record, itself).
    pub client_id: String,
    pub field: String,
    pub values: Vec<mend_core::ConflictValue>,
}

/// A device of the vault.
// A projection of `mend_core::Device`: adds `this_device`, so a settings screen needs no second call.
#[derive(uniffi::Record)]
pub struct DeviceInfo {
    pub id: String,
    pub revoked: bool,
    /// This is the device the vault is open on.
    pub this_device: bool,
    /// The name its owner gave it, if any.
    pub name: Option<String>,
    /// When it joined (milliseconds since the epoch), if recorded.
    pub added_at: Option<i64>,
}

/// What a sync did.
// A projection of `mend_core::sync::SyncReport`: counts of refused bundles, not the relay's
// sequence numbers and reasons, which an app cannot act on.
#[derive(uniffi::Record)]
pub struct SyncReport {
    pub pushed: u64,
    pub pulled: u64,
    pub applied: u64,
    pub rejected: u64,
    pub pending: u64,
    pub cancelled: bool,
    pub changed: Vec<String>,
}

/// Progress of a running sync.
// Crosses an app callback (SyncListener, SyncTransport): uniffi's Kotlin code cannot lift or
// lower a record of another component (mend-core's, package org.mend.model) in a callback.
#[derive(uniffi::Record, Debug, Clone)]
pub struct SyncProgress {
    pub pushed: u64,
    pub to_push: u64,
    pub pulled: u64,
    pub remaining: u64,
}

/// A pulled page, as a foreign transport returns it.
// Crosses an app callback (SyncListener, SyncTransport): uniffi's Kotlin code cannot lift or
// lower a record of another component (mend-core's, package org.mend.model) in a callback.
#[derive(uniffi::Record)]
pub struct TransportPage {
    pub items: Vec<TransportItem>,
    pub remaining: u64,
    /// The highest sequence number the relay ever gave (0 if unknown).
    pub head: u64,
}

/// One pulled bundle.
// Crosses an app callback (SyncListener, SyncTransport): uniffi's Kotlin code cannot lift or
// lower a record of another component (mend-core's, package org.mend.model) in a callback.
#[derive(uniffi::Record)]
pub struct TransportItem {
    pub seq: u64,
    pub bundle: Vec<u8>,
}

/// One HTTP header.
// Projection: core's HTTP client passes headers as `(name, value)` pairs; uniffi has no tuples.
#[derive(uniffi::Record)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// An HTTP response from a foreign HTTP stack.
// Projection: core's HTTP client returns a `(status, body)` pair; uniffi has no tuples.
#[derive(uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}
