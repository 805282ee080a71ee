//! Records and enums as Swift and Kotlin see them. Vocabulary enums are core's own, declared
//! here as uniffi "remote" types (no copies, no conversions); structs that carry ids use strings
//! (UUIDs) so apps can store and compare them directly.

#![allow(missing_docs)] // Record fields are named after the clinical model; the types carry the docs.

use mend_core as core;
pub use mend_core::{
    AddendumKind, AllianceDimension, ClientResponse, ClientStatus, DetectedBy, InitiatedBy,
    Modality, Movement, NoteFormat, NoteState, Precipitant, RecordClass, RepairStrategy, RiskLevel,
    RuptureField, RuptureMarker, RuptureStatus, RuptureText, SessionStatus, Setting,
    SignatureMeaning, SignerRole,
};

/// The kind of a record.
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

impl From<mend_core::records::Kind> for RecordKind {
    fn from(k: mend_core::records::Kind) -> Self {
        use mend_core::records::Kind;
        match k {
            Kind::Client => RecordKind::Client,
            Kind::Session => RecordKind::Session,
            Kind::Note => RecordKind::Note,
            Kind::Rupture => RecordKind::Rupture,
            Kind::Measure => RecordKind::Measure,
            Kind::Registry => RecordKind::Registry,
        }
    }
}

#[uniffi::remote(Enum)]
pub enum AllianceDimension {
    Task,
    Goal,
    Bond,
}

/// A rupture's optional fields that an update can clear.
#[uniffi::remote(Enum)]
pub enum RuptureField {
    SessionId,
    AtMinute,
    DetectedBy,
    ClientReportedIntensity,
    TherapistContributionRating,
    ResolutionRating,
}

/// A rupture's free-text fields, for live typing.
#[uniffi::remote(Enum)]
pub enum RuptureText {
    Narrative,
    ClientWords,
    TherapistContribution,
    FollowUpNote,
}

#[uniffi::remote(Enum)]
pub enum DetectedBy {
    TherapistInSession,
    TherapistPostSession,
    ClientRaised,
    ClientMeasure,
    Supervisor,
}

use crate::error::MendError;

pub(crate) fn id(s: &str) -> Result<core::RecordId, MendError> {
    s.parse().map_err(|_| MendError::InvalidArgument { reason: "an id is not a UUID".into() })
}

pub(crate) fn opt_id(s: &Option<String>) -> Result<Option<core::RecordId>, MendError> {
    s.as_deref().map(id).transpose()
}

#[uniffi::remote(Enum)]
pub enum ClientStatus {
    Active,
    OnHold,
    Discharged,
    Transferred,
    Deceased,
}

#[uniffi::remote(Enum)]
pub enum SessionStatus {
    Scheduled,
    Completed,
    CancelledClient,
    CancelledTherapist,
    LateCancel,
    NoShow,
}

#[uniffi::remote(Enum)]
pub enum Modality {
    Individual,
    Couple,
    Family,
    Group,
}

#[uniffi::remote(Enum)]
pub enum Setting {
    InPerson,
    TelehealthVideo,
    TelehealthAudio,
}

#[uniffi::remote(Enum)]
pub enum NoteFormat {
    Soap,
    Dap,
    Birp,
    Girp,
    Free,
}

#[uniffi::remote(Enum)]
pub enum NoteState {
    Draft,
    PendingCosign,
    Signed,
    Cosigned,
}

#[uniffi::remote(Enum)]
pub enum RiskLevel {
    NotAssessed,
    Denied,
    Passive,
    ActiveNoPlan,
    ActiveWithPlan,
}

#[uniffi::remote(Enum)]
pub enum SignerRole {
    Author,
    Supervisor,
    Reviewer,
}

#[uniffi::remote(Enum)]
pub enum SignatureMeaning {
    Authored,
    ReviewedApproved,
    Cosigned,
    ReturnedForRevision,
}

#[uniffi::remote(Enum)]
pub enum AddendumKind {
    Addendum,
    LateEntry,
    Correction,
    Clarification,
    AmendmentAccepted,
    StatementOfDisagreement,
    Rebuttal,
}

#[uniffi::remote(Enum)]
pub enum RecordClass {
    PsychotherapyNote,
    ProgressRecord,
}

#[uniffi::remote(Enum)]
pub enum Movement {
    Withdrawal,
    Confrontation,
    Mixed,
}

#[uniffi::remote(Enum)]
pub enum InitiatedBy {
    Client,
    Therapist,
    Both,
    Unclear,
}

#[uniffi::remote(Enum)]
pub enum RuptureMarker {
    WdDenial,
    WdMinimalResponse,
    WdAbstractCommunication,
    WdAvoidantStorytellingTopicShift,
    WdDeferentialAppeasing,
    WdContentAffectSplit,
    WdSelfCriticismHopelessness,
    WdGivingUp,
    CfComplaintAboutTherapist,
    CfRejectsIntervention,
    CfComplaintAboutActivities,
    CfComplaintAboutParameters,
    CfComplaintAboutProgress,
    CfDefendsSelf,
    CfControlPressureTherapist,
    ThWithdrawal,
    ThConfrontation,
}

#[uniffi::remote(Enum)]
pub enum Precipitant {
    Misunderstanding,
    Disagreement,
    BoundaryBreach,
    Transference,
    Countertransference,
    CulturalDifference,
    PowerDynamics,
    TherapistBurnoutFatigue,
    TherapistError,
    ParametersFeesScheduling,
    ExternalEvent,
    Other,
}

#[uniffi::remote(Enum)]
pub enum ClientResponse {
    Reengaged,
    ClarifiedConcern,
    ExpressedAnger,
    ExpressedDisappointmentHurt,
    ExpressedVulnerabilityNeed,
    AssertedNeedOrDisagreement,
    CompliedSuperficially,
    WithdrewFurther,
    LeftOrEndedSession,
    NoObservableChange,
}

#[uniffi::remote(Enum)]
pub enum RuptureStatus {
    Unaddressed,
    InProgress,
    PartiallyResolved,
    Resolved,
    UnresolvedClosed,
}

#[uniffi::remote(Enum)]
pub enum RepairStrategy {
    RsClarifyMisunderstanding,
    RsChangeTaskOrGoal,
    RsProvideRationale,
    RsInviteDiscussionOfRelationship,
    RsAcknowledgeOwnContribution,
    RsDiscloseInternalExperience,
    RsLinkPatternInTherapy,
    RsLinkPatternOutsideTherapy,
    RsValidateDefensivePosture,
    RsRedirectRefocus,
    RsNewRelationalExperience,
    EmpathyValidation,
    RenegotiateBoundaries,
    ExploreUnderlyingEmotions,
    Apology,
    ConsultSupervision,
}

/// A new pseudonymous client.
#[derive(uniffi::Record)]
pub struct NewClient {
    pub alias_code: String,
    pub birth_year: Option<i64>,
    pub jurisdiction: String,
    pub intake_date: Option<String>,
}

/// A treatment goal.
#[derive(uniffi::Record)]
pub struct TreatmentGoal {
    pub id: String,
    pub text: String,
    pub domain: String,
}

/// A client.
#[derive(uniffi::Record)]
pub struct Client {
    pub id: String,
    pub alias_code: String,
    pub birth_year: Option<i64>,
    pub jurisdiction: String,
    pub status: ClientStatus,
    pub intake_date: Option<String>,
    pub treatment_goals: Vec<TreatmentGoal>,
}

/// A client in the client list; `alias_code` and `status` are absent when it was erased or
/// cannot be read.
#[derive(uniffi::Record)]
pub struct ClientSummary {
    pub id: String,
    pub alias_code: Option<String>,
    pub status: Option<ClientStatus>,
    pub erased: bool,
}

/// A session as stored.
#[derive(uniffi::Record)]
pub struct Session {
    pub id: String,
    pub client_id: String,
    pub scheduled_start: i64,
    pub actual_start: Option<i64>,
    pub actual_end: Option<i64>,
    pub status: SessionStatus,
    pub modality: Modality,
    pub setting: Setting,
    pub cpt_code: Option<String>,
}

/// A new session.
#[derive(uniffi::Record)]
pub struct NewSession {
    pub client_id: String,
    pub scheduled_start: i64,
    pub actual_start: Option<i64>,
    pub actual_end: Option<i64>,
    pub status: SessionStatus,
    pub modality: Modality,
    pub setting: Setting,
    pub cpt_code: Option<String>,
}

/// One section of a note.
#[derive(uniffi::Record)]
pub struct NoteSection {
    pub key: String,
    pub text: String,
}

/// A new note.
#[derive(uniffi::Record)]
pub struct NewNote {
    pub session_id: String,
    pub author_id: String,
    pub format: NoteFormat,
    pub sections: Vec<NoteSection>,
    pub created_at: i64,
}

/// Risk assessment.
#[derive(uniffi::Record)]
pub struct Risk {
    pub si: RiskLevel,
    pub hi: RiskLevel,
    pub note: String,
}

/// A signature.
#[derive(uniffi::Record)]
pub struct Signature {
    pub signer_id: String,
    pub signer_name: String,
    pub role: SignerRole,
    pub meaning: SignatureMeaning,
    pub signed_at: i64,
    pub content_hash: String,
}

/// Who signs, and how.
#[derive(uniffi::Record)]
pub struct SignRequest {
    pub signer_id: String,
    pub signer_name: String,
    pub role: SignerRole,
    pub meaning: SignatureMeaning,
    pub needs_cosign: bool,
    pub signed_at: i64,
}

/// An addendum.
#[derive(uniffi::Record)]
pub struct Addendum {
    pub id: String,
    pub kind: AddendumKind,
    pub reason: String,
    pub body: String,
    pub signed: bool,
}

/// A new addendum.
#[derive(uniffi::Record)]
pub struct NewAddendum {
    pub kind: AddendumKind,
    pub reason: String,
    pub body: String,
    pub targets: Vec<String>,
    pub author_id: String,
    pub created_at: i64,
}

/// A session note.
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

/// A new rupture.
#[derive(uniffi::Record)]
pub struct NewRupture {
    pub client_id: String,
    pub session_id: Option<String>,
    pub occurred_at: i64,
    pub record_class: RecordClass,
    pub movement: Movement,
    pub initiated_by: InitiatedBy,
    pub markers: Vec<RuptureMarker>,
    pub precipitants: Vec<Precipitant>,
    pub significance: i64,
    pub narrative: String,
    pub client_words: String,
    pub therapist_contribution: String,
    /// Minute within the session.
    #[uniffi(default = None)]
    pub at_minute: Option<i64>,
    /// Alliance dimensions strained (task, goal, bond).
    #[uniffi(default = [])]
    pub alliance_dimensions: Vec<AllianceDimension>,
    /// How it was noticed.
    #[uniffi(default = None)]
    pub detected_by: Option<DetectedBy>,
    /// 3RS therapist-contribution rating, 1–5.
    #[uniffi(default = None)]
    pub therapist_contribution_rating: Option<i64>,
    /// Whether the rupture is to be revisited.
    #[uniffi(default = false)]
    pub follow_up_planned: bool,
    /// The plan for revisiting it.
    #[uniffi(default = "")]
    pub follow_up_note: String,
}

/// Changes to a logged rupture; `None` or empty leaves a field alone. Scalars with competing
/// concurrent values (significance) surface as conflicts.
#[derive(uniffi::Record, Default)]
pub struct RuptureUpdate {
    #[uniffi(default = None)]
    pub significance: Option<i64>,
    /// Client-reported intensity (PSQ), 1–5.
    #[uniffi(default = None)]
    pub client_reported_intensity: Option<i64>,
    #[uniffi(default = None)]
    pub resolution_rating: Option<i64>,
    #[uniffi(default = None)]
    pub movement: Option<Movement>,
    #[uniffi(default = [])]
    pub add_markers: Vec<RuptureMarker>,
    #[uniffi(default = [])]
    pub remove_markers: Vec<RuptureMarker>,
    #[uniffi(default = [])]
    pub add_precipitants: Vec<Precipitant>,
    #[uniffi(default = [])]
    pub add_client_response: Vec<ClientResponse>,
    /// New narrative text, merged as a minimal text edit.
    #[uniffi(default = None)]
    pub narrative: Option<String>,
    #[uniffi(default = None)]
    pub occurred_at: Option<i64>,
    /// Moves it to another session (clear with `RuptureField.SESSION_ID`).
    #[uniffi(default = None)]
    pub session_id: Option<String>,
    /// Minute within the session, 0–600.
    #[uniffi(default = None)]
    pub at_minute: Option<i64>,
    #[uniffi(default = None)]
    pub initiated_by: Option<InitiatedBy>,
    #[uniffi(default = None)]
    pub detected_by: Option<DetectedBy>,
    /// 3RS therapist-contribution rating, 1–5.
    #[uniffi(default = None)]
    pub therapist_contribution_rating: Option<i64>,
    #[uniffi(default = [])]
    pub add_alliance_dimensions: Vec<AllianceDimension>,
    #[uniffi(default = [])]
    pub remove_alliance_dimensions: Vec<AllianceDimension>,
    #[uniffi(default = [])]
    pub remove_precipitants: Vec<Precipitant>,
    #[uniffi(default = [])]
    pub remove_client_response: Vec<ClientResponse>,
    /// New verbatim quotes, merged as a minimal text edit.
    #[uniffi(default = None)]
    pub client_words: Option<String>,
    /// New reflection on the therapist's part, merged as a minimal text edit.
    #[uniffi(default = None)]
    pub therapist_contribution: Option<String>,
    #[uniffi(default = None)]
    pub follow_up_planned: Option<bool>,
    /// New follow-up plan, merged as a minimal text edit.
    #[uniffi(default = None)]
    pub follow_up_note: Option<String>,
    /// Optional fields to clear; setting a field and clearing it in one update is refused.
    #[uniffi(default = [])]
    pub clear: Vec<RuptureField>,
}

/// Why and by whom a rupture was voided (nothing is deleted).
#[derive(uniffi::Record)]
pub struct Voided {
    pub by: String,
    pub at: i64,
    pub reason: String,
}

/// A repair attempt.
#[derive(uniffi::Record)]
pub struct RepairAttempt {
    pub id: String,
    /// The session it happened in, if any.
    pub session_id: Option<String>,
    pub at: i64,
    pub strategies: Vec<RepairStrategy>,
    pub client_response: Vec<ClientResponse>,
    pub effect: Option<i64>,
    pub note: String,
    pub immediate: bool,
}

/// A new repair attempt.
#[derive(uniffi::Record)]
pub struct NewRepairAttempt {
    pub session_id: Option<String>,
    pub at: i64,
    pub strategies: Vec<RepairStrategy>,
    pub client_response: Vec<ClientResponse>,
    pub effect: Option<i64>,
    pub note: String,
}

/// A rupture with its repair.
#[derive(uniffi::Record)]
pub struct RuptureEvent {
    pub id: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub occurred_at: i64,
    pub movement: Movement,
    pub initiated_by: InitiatedBy,
    pub markers: Vec<RuptureMarker>,
    pub precipitants: Vec<Precipitant>,
    pub significance: i64,
    pub narrative: String,
    pub status: RuptureStatus,
    pub repair_attempts: Vec<RepairAttempt>,
    pub record_class: RecordClass,
    pub at_minute: Option<i64>,
    pub alliance_dimensions: Vec<AllianceDimension>,
    pub detected_by: Option<DetectedBy>,
    pub client_reported_intensity: Option<i64>,
    pub therapist_contribution_rating: Option<i64>,
    pub therapist_contribution: String,
    pub client_words: String,
    pub client_response: Vec<ClientResponse>,
    pub resolution_rating: Option<i64>,
    pub follow_up_planned: bool,
    pub follow_up_note: String,
    /// Set when it was logged in error: read-only, left out of counts and the unresolved list.
    pub voided: Option<Voided>,
    /// Every status change, oldest first (`status` is the last).
    pub status_log: Vec<StatusChange>,
}

/// One change of a rupture's status.
#[derive(uniffi::Record)]
pub struct StatusChange {
    pub to: RuptureStatus,
    pub at: i64,
    pub by: String,
    pub session_id: Option<String>,
}

/// One WAI-SR item score.
#[derive(uniffi::Record)]
pub struct MeasureItem {
    pub item: u8,
    pub score: i64,
}

/// A new WAI-SR administration (client-rated).
#[derive(uniffi::Record)]
pub struct NewMeasure {
    pub client_id: String,
    pub session_id: Option<String>,
    pub administered_at: i64,
    pub items: Vec<MeasureItem>,
}

/// WAI-SR scores at one administration.
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

/// One competing value of a conflict.
#[derive(uniffi::Record)]
pub struct ConflictValue {
    pub value: String,
    pub device_id: Option<String>,
    pub at: Option<i64>,
}

/// A field with concurrent values awaiting a decision.
#[derive(uniffi::Record)]
pub struct Conflict {
    pub record_id: String,
    pub record_kind: RecordKind,
    /// The client the record belongs to (for a client record, itself).
    pub client_id: String,
    pub field: String,
    pub values: Vec<ConflictValue>,
}

/// A device of the vault.
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

/// One section of a signed note whose merged text differs from what was signed.
#[derive(uniffi::Record)]
pub struct DivergedSection {
    pub section: String,
    /// The text as signed (what the record says).
    pub signed: String,
    /// The text including the late edits.
    pub current: String,
}

/// Late edits to a signed note awaiting the clinician's decision.
#[derive(uniffi::Record)]
pub struct NoteDivergence {
    pub sections: Vec<DivergedSection>,
    /// Structured fields (diagnoses, risk, codes, format) differ too.
    pub other_fields: bool,
}

/// What a sync did.
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
#[derive(uniffi::Record)]
pub struct SyncProgress {
    pub pushed: u64,
    pub to_push: u64,
    pub pulled: u64,
    pub remaining: u64,
}

/// A pulled page, as a foreign transport returns it.
#[derive(uniffi::Record)]
pub struct TransportPage {
    pub items: Vec<TransportItem>,
    pub remaining: u64,
    /// The highest sequence number the relay ever gave (0 if unknown).
    pub head: u64,
}

/// One pulled bundle.
#[derive(uniffi::Record)]
pub struct TransportItem {
    pub seq: u64,
    pub bundle: Vec<u8>,
}

/// One HTTP header.
#[derive(uniffi::Record)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// An HTTP response from a foreign HTTP stack.
#[derive(uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}
