//! The records a therapist keeps, as plain Rust values: what callers pass in and get back.
//!
//! Field classes follow `reference/clinical-model.md` §4: free text merges character by
//! character, vocabularies in sets are add-wins, statuses and signatures are append-only logs.

use super::enums::*;
use crate::ids::{DeviceId, RecordId};

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// A pseudonymous client. No name: the alias is a code such as "C-0142".
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Client {
    /// Record id.
    pub id: RecordId,
    /// Pseudonymous code.
    pub alias_code: String,
    /// Year of birth, if recorded.
    pub birth_year: Option<i64>,
    /// ISO 3166-2 jurisdiction (drives retention), e.g. "US-CA".
    pub jurisdiction: String,
    /// Treatment status.
    pub status: ClientStatus,
    /// Intake date, `YYYY-MM-DD`.
    pub intake_date: Option<String>,
    /// Treatment goals (append-only log).
    pub treatment_goals: Vec<TreatmentGoal>,
}

/// Fields for a new client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewClient {
    /// Pseudonymous code (1–64 characters).
    pub alias_code: String,
    /// Year of birth, if recorded.
    pub birth_year: Option<i64>,
    /// ISO 3166-2 jurisdiction.
    pub jurisdiction: String,
    /// Intake date, `YYYY-MM-DD`.
    pub intake_date: Option<String>,
}

/// A treatment-plan goal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TreatmentGoal {
    /// Goal id.
    pub id: RecordId,
    /// The goal, in the clinician's words.
    pub text: String,
    /// Domain, e.g. "mood".
    pub domain: String,
    /// Status.
    pub status: GoalStatus,
}

/// A scheduled or held session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Session {
    /// Record id.
    pub id: RecordId,
    /// The client.
    pub client_id: RecordId,
    /// Planned start.
    pub scheduled_start: Timestamp,
    /// Actual start.
    pub actual_start: Option<Timestamp>,
    /// Actual end.
    pub actual_end: Option<Timestamp>,
    /// Status.
    pub status: SessionStatus,
    /// Modality.
    pub modality: Modality,
    /// Setting.
    pub setting: Setting,
    /// CPT code, e.g. "90834".
    pub cpt_code: Option<String>,
}

/// Fields for a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewSession {
    /// The client.
    pub client_id: RecordId,
    /// Planned start.
    pub scheduled_start: Timestamp,
    /// Actual start.
    pub actual_start: Option<Timestamp>,
    /// Actual end.
    pub actual_end: Option<Timestamp>,
    /// Status.
    pub status: SessionStatus,
    /// Modality.
    pub modality: Modality,
    /// Setting.
    pub setting: Setting,
    /// CPT code.
    pub cpt_code: Option<String>,
}

/// SI/HI risk assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Risk {
    /// Suicidal ideation.
    pub si: RiskLevel,
    /// Homicidal ideation.
    pub hi: RiskLevel,
    /// Free-text note.
    pub note: String,
}

impl Default for Risk {
    fn default() -> Self {
        Risk { si: RiskLevel::NotAssessed, hi: RiskLevel::NotAssessed, note: String::new() }
    }
}

/// Where a note is in its lifecycle; derived from its signature log, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum NoteState {
    /// Editable.
    Draft,
    /// Signed by a supervisee, waiting for the supervisor.
    PendingCosign,
    /// Signed and locked.
    Signed,
    /// Signed by the author and co-signed by a supervisor; locked.
    Cosigned,
}

/// A signature on a note or an addendum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Signature {
    /// Signature id.
    pub id: RecordId,
    /// Who signed (the host app's user id).
    pub signer_id: String,
    /// Printed name of the signer (21 CFR 11.50).
    pub signer_name: String,
    /// Role.
    pub role: SignerRole,
    /// Meaning.
    pub meaning: SignatureMeaning,
    /// When.
    pub signed_at: Timestamp,
    /// The signing device.
    pub device_id: DeviceId,
    /// Automerge heads (hex change hashes) of the signed content.
    pub heads: Vec<String>,
    /// SHA-256 (hex) of the canonical signed content.
    pub content_hash: String,
    /// Whether a supervisor's co-signature is still required.
    pub needs_cosign: bool,
}

/// Who is signing, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SignRequest {
    /// Signer's user id.
    pub signer_id: String,
    /// Printed name.
    pub signer_name: String,
    /// Role.
    pub role: SignerRole,
    /// Meaning.
    pub meaning: SignatureMeaning,
    /// For an author signature: the note must be co-signed by a supervisor.
    pub needs_cosign: bool,
    /// Time of signing.
    pub signed_at: Timestamp,
}

/// An addendum to a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Addendum {
    /// Addendum id.
    pub id: RecordId,
    /// Kind.
    pub kind: AddendumKind,
    /// Why it was written.
    pub reason: String,
    /// Its content.
    pub body: String,
    /// Sections it refers to.
    pub targets: Vec<String>,
    /// Author.
    pub author_id: String,
    /// When it was started.
    pub created_at: Timestamp,
    /// Its signatures; empty while it is a draft.
    pub signatures: Vec<Signature>,
}

/// Fields for a new addendum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewAddendum {
    /// Kind.
    pub kind: AddendumKind,
    /// Why.
    pub reason: String,
    /// Content.
    pub body: String,
    /// Sections it refers to (must exist in the note's format).
    pub targets: Vec<String>,
    /// Author.
    pub author_id: String,
    /// When.
    pub created_at: Timestamp,
}

/// A session note (SOAP, DAP, BIRP, GIRP or free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionNote {
    /// Record id.
    pub id: RecordId,
    /// The session.
    pub session_id: RecordId,
    /// The client.
    pub client_id: RecordId,
    /// The author.
    pub author_id: String,
    /// Template.
    pub format: NoteFormat,
    /// Section texts in the format's order: `(section key, text)`.
    pub sections: Vec<(String, String)>,
    /// Treatment-goal ids addressed.
    pub goals_addressed: Vec<RecordId>,
    /// Intervention codes (app-defined).
    pub interventions: Vec<String>,
    /// ICD-10-CM codes.
    pub diagnoses: Vec<String>,
    /// Risk assessment.
    pub risk: Risk,
    /// Signatures, oldest first.
    pub signatures: Vec<Signature>,
    /// Addenda, oldest first.
    pub addenda: Vec<Addendum>,
    /// Derived lifecycle state.
    pub state: NoteState,
    /// When the note was started.
    pub created_at: Timestamp,
}

impl SessionNote {
    /// The text of one section (empty if the format has it but nothing was written).
    pub fn section(&self, key: &str) -> Option<&str> {
        self.sections.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Fields for a new note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    /// The session (which names the client).
    pub session_id: RecordId,
    /// Author.
    pub author_id: String,
    /// Template.
    pub format: NoteFormat,
    /// Initial section texts; each key must belong to the format.
    pub sections: Vec<(String, String)>,
    /// When it was started.
    pub created_at: Timestamp,
}

/// The content of a note exactly as signed, checked against the signature's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContent {
    /// The author signature it was checked against.
    pub signature: Signature,
    /// Section texts at the signed heads.
    pub sections: Vec<(String, String)>,
    /// Diagnoses at the signed heads.
    pub diagnoses: Vec<String>,
    /// Risk at the signed heads.
    pub risk: Risk,
}

/// One entry of a rupture's status log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StatusChange {
    /// New status.
    pub to: RuptureStatus,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: String,
    /// In which session, if any.
    pub session_id: Option<RecordId>,
}

/// A repair attempt on a rupture.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RepairAttempt {
    /// Attempt id.
    pub id: RecordId,
    /// Session it happened in.
    pub session_id: Option<RecordId>,
    /// When.
    pub at: Timestamp,
    /// Strategies used.
    pub strategies: Vec<RepairStrategy>,
    /// Client's response.
    pub client_response: Vec<ClientResponse>,
    /// Effect, 1–5.
    pub effect: Option<i64>,
    /// Free-text note.
    pub note: String,
}

impl RepairAttempt {
    /// `true` when every strategy is an immediate one (else the approach is exploratory).
    pub fn is_immediate(&self) -> bool {
        !self.strategies.is_empty() && self.strategies.iter().all(|s| s.is_immediate())
    }
}

/// Fields for a new repair attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewRepairAttempt {
    /// Session it happened in.
    pub session_id: Option<RecordId>,
    /// When.
    pub at: Timestamp,
    /// Strategies used (at least one).
    pub strategies: Vec<RepairStrategy>,
    /// Client's response.
    pub client_response: Vec<ClientResponse>,
    /// Effect, 1–5.
    pub effect: Option<i64>,
    /// Free-text note.
    pub note: String,
}

/// A rupture in the therapeutic alliance, and its repair.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RuptureEvent {
    /// Record id.
    pub id: RecordId,
    /// The client.
    pub client_id: RecordId,
    /// The session, if it happened in one.
    pub session_id: Option<RecordId>,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// Minute within the session.
    pub at_minute: Option<i64>,
    /// HIPAA class (fixed at creation: it decides the key).
    pub record_class: RecordClass,
    /// Withdrawal, confrontation or mixed.
    pub movement: Movement,
    /// Who initiated it.
    pub initiated_by: InitiatedBy,
    /// 3RS markers observed.
    pub markers: Vec<RuptureMarker>,
    /// Alliance dimensions strained.
    pub alliance_dimensions: Vec<AllianceDimension>,
    /// What set it off.
    pub precipitants: Vec<Precipitant>,
    /// How it was noticed.
    pub detected_by: Option<DetectedBy>,
    /// Therapist-rated significance, 1–5.
    pub significance: i64,
    /// Client-reported intensity (PSQ), 1–5.
    pub client_reported_intensity: Option<i64>,
    /// 3RS therapist-contribution rating, 1–5.
    pub therapist_contribution_rating: Option<i64>,
    /// The therapist's reflection on their own part.
    pub therapist_contribution: String,
    /// What happened.
    pub narrative: String,
    /// Verbatim quotes.
    pub client_words: String,
    /// The client's response.
    pub client_response: Vec<ClientResponse>,
    /// Repair attempts, oldest first.
    pub repair_attempts: Vec<RepairAttempt>,
    /// Status log, oldest first.
    pub status_log: Vec<StatusChange>,
    /// Current status, derived from the log.
    pub status: RuptureStatus,
    /// Resolution rating, 1–5.
    pub resolution_rating: Option<i64>,
    /// Whether a follow-up is planned.
    pub follow_up_planned: bool,
    /// The planned follow-up.
    pub follow_up_note: String,
    /// Set when the rupture was logged in error: it stays readable but leaves the counts, the
    /// unresolved list and further edits.
    pub voided: Option<Voided>,
}

/// Why and by whom a record was voided (soft-void: nothing is deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Voided {
    /// Who voided it.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// Fields for a new rupture.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewRupture {
    /// The client.
    pub client_id: RecordId,
    /// The session, if any.
    pub session_id: Option<RecordId>,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// HIPAA class; `PsychotherapyNote` is the default in the clinical model.
    pub record_class: RecordClass,
    /// Movement.
    pub movement: Movement,
    /// Initiator.
    pub initiated_by: InitiatedBy,
    /// 3RS markers.
    pub markers: Vec<RuptureMarker>,
    /// Precipitants.
    pub precipitants: Vec<Precipitant>,
    /// Significance, 1–5.
    pub significance: i64,
    /// What happened.
    pub narrative: String,
    /// Verbatim quotes.
    pub client_words: String,
    /// The therapist's reflection.
    pub therapist_contribution: String,
    /// Minute within the session.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub at_minute: Option<i64>,
    /// Strained dimensions.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub alliance_dimensions: Vec<AllianceDimension>,
    /// How it was noticed.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub detected_by: Option<DetectedBy>,
    /// Therapist-contribution rating, 1–5.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub therapist_contribution_rating: Option<i64>,
    /// Whether the rupture is to be revisited.
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub follow_up_planned: bool,
    /// The plan for revisiting it.
    #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
    pub follow_up_note: String,
}

/// Changes to a rupture's registers, sets and texts; `None` (or an empty list) leaves a field
/// alone. The record class cannot change (it decides the rupture's key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RuptureUpdate {
    /// Significance, 1–5.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub significance: Option<i64>,
    /// Client-reported intensity, 1–5.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub client_reported_intensity: Option<i64>,
    /// Resolution rating, 1–5.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub resolution_rating: Option<i64>,
    /// Movement.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub movement: Option<Movement>,
    /// Markers to add.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub add_markers: Vec<RuptureMarker>,
    /// Markers to remove.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub remove_markers: Vec<RuptureMarker>,
    /// Precipitants to add.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub add_precipitants: Vec<Precipitant>,
    /// Client responses to add.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub add_client_response: Vec<ClientResponse>,
    /// New narrative text (merged as a minimal diff).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub narrative: Option<String>,
    /// When it happened.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub occurred_at: Option<Timestamp>,
    /// The session it happened in (clear with [`RuptureField::SessionId`]).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub session_id: Option<RecordId>,
    /// Minute within the session, 0–600.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub at_minute: Option<i64>,
    /// Initiator.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub initiated_by: Option<InitiatedBy>,
    /// How it was noticed.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub detected_by: Option<DetectedBy>,
    /// Therapist-contribution rating, 1–5.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub therapist_contribution_rating: Option<i64>,
    /// Strained dimensions to add.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub add_alliance_dimensions: Vec<AllianceDimension>,
    /// Strained dimensions to remove.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub remove_alliance_dimensions: Vec<AllianceDimension>,
    /// Precipitants to remove.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub remove_precipitants: Vec<Precipitant>,
    /// Client responses to remove.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub remove_client_response: Vec<ClientResponse>,
    /// New verbatim quotes (merged as a minimal diff).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub client_words: Option<String>,
    /// New reflection on the therapist's part (merged as a minimal diff).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub therapist_contribution: Option<String>,
    /// Whether a follow-up is planned.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub follow_up_planned: Option<bool>,
    /// New follow-up plan (merged as a minimal diff).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub follow_up_note: Option<String>,
    /// Optional fields to clear; naming a field here and setting it too is a validation error.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub clear: Vec<RuptureField>,
}

/// An alliance measure (WAI-SR and relatives). Immutable once recorded; correct by superseding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllianceMeasure {
    /// Record id.
    pub id: RecordId,
    /// The client.
    pub client_id: RecordId,
    /// The session.
    pub session_id: Option<RecordId>,
    /// Instrument.
    pub instrument: Instrument,
    /// Who rated.
    pub rater: Rater,
    /// Points on each item's scale (5 for WAI-SR).
    pub scale_points: i64,
    /// When administered.
    pub administered_at: Timestamp,
    /// `(item number, score)` pairs, by item number.
    pub items: Vec<(u8, i64)>,
    /// The measure this one corrects.
    pub supersedes: Option<RecordId>,
    /// Derived scores.
    pub scores: WaiScores,
}

/// Fields for a new alliance measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeasure {
    /// The client.
    pub client_id: RecordId,
    /// The session.
    pub session_id: Option<RecordId>,
    /// Instrument.
    pub instrument: Instrument,
    /// Who rated.
    pub rater: Rater,
    /// When administered.
    pub administered_at: Timestamp,
    /// `(item number, score)` pairs.
    pub items: Vec<(u8, i64)>,
    /// The measure this one corrects.
    pub supersedes: Option<RecordId>,
}

/// WAI-SR subscale sums (Hatcher & Gillaspy 2006). A subscale is `None` when any of its items is
/// missing; `incomplete` is set when any item is missing. No proration is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct WaiScores {
    /// Items 1, 2, 10, 12 (4–20).
    pub task: Option<i64>,
    /// Items 3, 5, 7, 9 (4–20).
    pub bond: Option<i64>,
    /// Items 4, 6, 8, 11 (4–20).
    pub goal: Option<i64>,
    /// All twelve (12–60).
    pub total: Option<i64>,
    /// Some item is missing.
    pub incomplete: bool,
}

impl WaiScores {
    /// Scores WAI-SR items.
    pub fn from_items(items: &[(u8, i64)]) -> Self {
        let get = |n: u8| items.iter().find(|(i, _)| *i == n).map(|(_, v)| *v);
        let sum = |ns: [u8; 4]| ns.iter().map(|n| get(*n)).sum::<Option<i64>>();
        let task = sum([1, 2, 10, 12]);
        let bond = sum([3, 5, 7, 9]);
        let goal = sum([4, 6, 8, 11]);
        let total = match (task, bond, goal) {
            (Some(t), Some(b), Some(g)) => Some(t + b + g),
            _ => None,
        };
        WaiScores { task, bond, goal, total, incomplete: total.is_none() }
    }
}
