//! The controlled vocabularies of the clinical model (`reference/clinical-model.md` §4.3).
//!
//! Each enum is stored in documents by its snake_case name, so values stay readable across
//! versions and platforms. Parsing an unknown name is a typed validation error.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid($field, concat!("not a known ", $field, " value"))),
                }
            }
        }
    };
}

vocabulary!(
    /// Where a client is in treatment.
    ClientStatus, "client status" {
        /// In treatment.
        Active = "active",
        /// Paused.
        OnHold = "on_hold",
        /// Treatment ended.
        Discharged = "discharged",
        /// Moved to another clinician.
        Transferred = "transferred",
        /// Deceased.
        Deceased = "deceased",
    }
);

vocabulary!(
    /// A treatment goal's state.
    GoalStatus, "goal status" {
        /// Being worked on.
        Active = "active",
        /// Achieved.
        Met = "met",
        /// Reformulated.
        Revised = "revised",
        /// Dropped.
        Discontinued = "discontinued",
    }
);

vocabulary!(
    /// Whether a session took place.
    SessionStatus, "session status" {
        /// Planned.
        Scheduled = "scheduled",
        /// Took place.
        Completed = "completed",
        /// Cancelled by the client.
        CancelledClient = "cancelled_client",
        /// Cancelled by the therapist.
        CancelledTherapist = "cancelled_therapist",
        /// Cancelled late.
        LateCancel = "late_cancel",
        /// Client did not attend.
        NoShow = "no_show",
    }
);

vocabulary!(
    /// Who took part.
    Modality, "modality" {
        /// One client.
        Individual = "individual",
        /// A couple.
        Couple = "couple",
        /// A family.
        Family = "family",
        /// A group.
        Group = "group",
    }
);

vocabulary!(
    /// Where the session took place.
    Setting, "setting" {
        /// Same room.
        InPerson = "in_person",
        /// Video call.
        TelehealthVideo = "telehealth_video",
        /// Phone call.
        TelehealthAudio = "telehealth_audio",
    }
);

vocabulary!(
    /// A progress-note template; each has its own sections.
    NoteFormat, "note format" {
        /// Subjective, Objective, Assessment, Plan.
        Soap = "soap",
        /// Data, Assessment, Plan.
        Dap = "dap",
        /// Behavior, Intervention, Response, Plan.
        Birp = "birp",
        /// Goal, Intervention, Response, Plan.
        Girp = "girp",
        /// One free-text body.
        Free = "free",
    }
);

impl NoteFormat {
    /// The section keys of this format, in display order.
    pub fn sections(&self) -> &'static [&'static str] {
        match self {
            NoteFormat::Soap => &["subjective", "objective", "assessment", "plan"],
            NoteFormat::Dap => &["data", "assessment", "plan"],
            NoteFormat::Birp => &["behavior", "intervention", "response", "plan"],
            NoteFormat::Girp => &["goal", "intervention", "response", "plan"],
            NoteFormat::Free => &["body"],
        }
    }
}

vocabulary!(
    /// Suicidal or homicidal ideation as assessed.
    RiskLevel, "risk level" {
        /// Not assessed this session.
        NotAssessed = "not_assessed",
        /// Denied.
        Denied = "denied",
        /// Passive ideation.
        Passive = "passive",
        /// Active, no plan.
        ActiveNoPlan = "active_no_plan",
        /// Active, with a plan.
        ActiveWithPlan = "active_with_plan",
    }
);

vocabulary!(
    /// The role in which someone signs.
    SignerRole, "signer role" {
        /// The note's author.
        Author = "author",
        /// A supervisor.
        Supervisor = "supervisor",
        /// A reviewer.
        Reviewer = "reviewer",
    }
);

vocabulary!(
    /// What a signature means (21 CFR 11.50).
    SignatureMeaning, "signature meaning" {
        /// "I wrote this."
        Authored = "authored",
        /// "I reviewed and approve this."
        ReviewedApproved = "reviewed_approved",
        /// A supervisor's co-signature.
        Cosigned = "cosigned",
        /// A supervisor returns the note to its author for revision.
        ReturnedForRevision = "returned_for_revision",
    }
);

vocabulary!(
    /// Why an addendum was written.
    AddendumKind, "addendum kind" {
        /// Adds information.
        Addendum = "addendum",
        /// Documentation written late.
        LateEntry = "late_entry",
        /// Corrects an error.
        Correction = "correction",
        /// Clarifies.
        Clarification = "clarification",
        /// A client's accepted amendment request.
        AmendmentAccepted = "amendment_accepted",
        /// A client's statement of disagreement.
        StatementOfDisagreement = "statement_of_disagreement",
        /// The clinician's rebuttal.
        Rebuttal = "rebuttal",
    }
);

vocabulary!(
    /// HIPAA class of a record: psychotherapy notes are kept apart under their own key.
    RecordClass, "record class" {
        /// Psychotherapy note (45 CFR 164.501): separate key, erasable on its own.
        PsychotherapyNote = "psychotherapy_note",
        /// Part of the medical record.
        ProgressRecord = "progress_record",
    }
);

vocabulary!(
    /// 3RS rupture movement: away from (withdrawal) or against (confrontation) the therapist.
    Movement, "movement" {
        /// Moves away.
        Withdrawal = "withdrawal",
        /// Moves against.
        Confrontation = "confrontation",
        /// Both.
        Mixed = "mixed",
    }
);

vocabulary!(
    /// Who initiated a rupture (3RS v2022 distinguishes patient and therapist moves).
    InitiatedBy, "initiated by" {
        /// The client.
        Client = "client",
        /// The therapist.
        Therapist = "therapist",
        /// Both.
        Both = "both",
        /// Not clear.
        Unclear = "unclear",
    }
);

vocabulary!(
    /// 3RS rupture markers (Eubanks, Muran & Safran 2015; v2022 additions).
    RuptureMarker, "rupture marker" {
        /// Withdrawal: denial.
        WdDenial = "wd_denial",
        /// Withdrawal: minimal response.
        WdMinimalResponse = "wd_minimal_response",
        /// Withdrawal: abstract communication.
        WdAbstractCommunication = "wd_abstract_communication",
        /// Withdrawal: avoidant storytelling or topic shift.
        WdAvoidantStorytellingTopicShift = "wd_avoidant_storytelling_topic_shift",
        /// Withdrawal: deferential and appeasing.
        WdDeferentialAppeasing = "wd_deferential_appeasing",
        /// Withdrawal: content/affect split.
        WdContentAffectSplit = "wd_content_affect_split",
        /// Withdrawal: self-criticism or hopelessness.
        WdSelfCriticismHopelessness = "wd_self_criticism_hopelessness",
        /// Withdrawal: giving up (v2022).
        WdGivingUp = "wd_giving_up",
        /// Confrontation: complaint about the therapist.
        CfComplaintAboutTherapist = "cf_complaint_about_therapist",
        /// Confrontation: rejects an intervention.
        CfRejectsIntervention = "cf_rejects_intervention",
        /// Confrontation: complaint about the activities of therapy.
        CfComplaintAboutActivities = "cf_complaint_about_activities",
        /// Confrontation: complaint about parameters (scheduling, fees, length).
        CfComplaintAboutParameters = "cf_complaint_about_parameters",
        /// Confrontation: complaint about progress.
        CfComplaintAboutProgress = "cf_complaint_about_progress",
        /// Confrontation: defends self against the therapist.
        CfDefendsSelf = "cf_defends_self",
        /// Confrontation: efforts to control or pressure the therapist.
        CfControlPressureTherapist = "cf_control_pressure_therapist",
        /// The therapist moves away.
        ThWithdrawal = "th_withdrawal",
        /// The therapist moves against.
        ThConfrontation = "th_confrontation",
    }
);

vocabulary!(
    /// Bordin's alliance dimensions.
    AllianceDimension, "alliance dimension" {
        /// Agreement on tasks.
        Task = "task",
        /// Agreement on goals.
        Goal = "goal",
        /// The affective bond.
        Bond = "bond",
    }
);

vocabulary!(
    /// What set a rupture off.
    Precipitant, "precipitant" {
        /// A misunderstanding.
        Misunderstanding = "misunderstanding",
        /// A disagreement.
        Disagreement = "disagreement",
        /// A boundary breach.
        BoundaryBreach = "boundary_breach",
        /// Transference.
        Transference = "transference",
        /// Countertransference.
        Countertransference = "countertransference",
        /// A cultural difference.
        CulturalDifference = "cultural_difference",
        /// Power dynamics.
        PowerDynamics = "power_dynamics",
        /// Therapist burnout or fatigue.
        TherapistBurnoutFatigue = "therapist_burnout_fatigue",
        /// A therapist error.
        TherapistError = "therapist_error",
        /// Parameters: fees or scheduling.
        ParametersFeesScheduling = "parameters_fees_scheduling",
        /// An event outside therapy.
        ExternalEvent = "external_event",
        /// Something else.
        Other = "other",
    }
);

vocabulary!(
    /// A rupture's optional fields that an update can clear.
    RuptureField, "rupture field" {
        /// The session it happened in (it becomes a between-session rupture).
        SessionId = "session_id",
        /// The minute within the session.
        AtMinute = "at_minute",
        /// How it was noticed.
        DetectedBy = "detected_by",
        /// Client-reported intensity.
        ClientReportedIntensity = "client_reported_intensity",
        /// Therapist-contribution rating.
        TherapistContributionRating = "therapist_contribution_rating",
        /// Resolution rating.
        ResolutionRating = "resolution_rating",
    }
);

vocabulary!(
    /// A rupture's free-text fields, each merged character by character.
    RuptureText, "rupture text" {
        /// What happened.
        Narrative = "narrative",
        /// The client's words, verbatim.
        ClientWords = "client_words",
        /// The therapist's reflection on their own part.
        TherapistContribution = "therapist_contribution",
        /// The planned follow-up.
        FollowUpNote = "follow_up_note",
    }
);

vocabulary!(
    /// How a rupture was noticed.
    DetectedBy, "detected by" {
        /// By the therapist, during the session.
        TherapistInSession = "therapist_in_session",
        /// By the therapist, afterwards.
        TherapistPostSession = "therapist_post_session",
        /// The client raised it.
        ClientRaised = "client_raised",
        /// A client measure showed it.
        ClientMeasure = "client_measure",
        /// A supervisor noticed it.
        Supervisor = "supervisor",
    }
);

vocabulary!(
    /// How the client responded (Safran & Muran resolution stages).
    ClientResponse, "client response" {
        /// Re-engaged.
        Reengaged = "reengaged",
        /// Clarified the concern.
        ClarifiedConcern = "clarified_concern",
        /// Expressed anger.
        ExpressedAnger = "expressed_anger",
        /// Expressed disappointment or hurt.
        ExpressedDisappointmentHurt = "expressed_disappointment_hurt",
        /// Expressed vulnerability or a need.
        ExpressedVulnerabilityNeed = "expressed_vulnerability_need",
        /// Asserted a need or disagreement.
        AssertedNeedOrDisagreement = "asserted_need_or_disagreement",
        /// Complied superficially.
        CompliedSuperficially = "complied_superficially",
        /// Withdrew further.
        WithdrewFurther = "withdrew_further",
        /// Left or ended the session.
        LeftOrEndedSession = "left_or_ended_session",
        /// No observable change.
        NoObservableChange = "no_observable_change",
    }
);

vocabulary!(
    /// Where a rupture stands. Derived from an append-only log so a merge never regresses it.
    RuptureStatus, "rupture status" {
        /// Not yet addressed.
        Unaddressed = "unaddressed",
        /// Being worked on.
        InProgress = "in_progress",
        /// Partly resolved.
        PartiallyResolved = "partially_resolved",
        /// Resolved.
        Resolved = "resolved",
        /// Closed without resolution.
        UnresolvedClosed = "unresolved_closed",
    }
);

vocabulary!(
    /// Repair strategies: the 3RS resolution strategies plus common clinical ones.
    RepairStrategy, "repair strategy" {
        /// Clarify a misunderstanding.
        RsClarifyMisunderstanding = "rs_clarify_misunderstanding",
        /// Change tasks or goals.
        RsChangeTaskOrGoal = "rs_change_task_or_goal",
        /// Illustrate tasks or give a rationale.
        RsProvideRationale = "rs_provide_rationale",
        /// Invite discussion of the relationship.
        RsInviteDiscussionOfRelationship = "rs_invite_discussion_of_relationship",
        /// Acknowledge one's own contribution.
        RsAcknowledgeOwnContribution = "rs_acknowledge_own_contribution",
        /// Disclose internal experience.
        RsDiscloseInternalExperience = "rs_disclose_internal_experience",
        /// Link to patterns in therapy.
        RsLinkPatternInTherapy = "rs_link_pattern_in_therapy",
        /// Link to patterns outside therapy.
        RsLinkPatternOutsideTherapy = "rs_link_pattern_outside_therapy",
        /// Validate the defensive posture.
        RsValidateDefensivePosture = "rs_validate_defensive_posture",
        /// Redirect or refocus.
        RsRedirectRefocus = "rs_redirect_refocus",
        /// A new relational experience.
        RsNewRelationalExperience = "rs_new_relational_experience",
        /// Empathy and validation.
        EmpathyValidation = "empathy_validation",
        /// Renegotiate boundaries.
        RenegotiateBoundaries = "renegotiate_boundaries",
        /// Explore underlying emotions.
        ExploreUnderlyingEmotions = "explore_underlying_emotions",
        /// Apologise.
        Apology = "apology",
        /// Consult supervision.
        ConsultSupervision = "consult_supervision",
    }
);

impl RepairStrategy {
    /// Immediate strategies address the surface (Safran & Muran); the rest are exploratory.
    pub fn is_immediate(&self) -> bool {
        matches!(
            self,
            RepairStrategy::RsClarifyMisunderstanding
                | RepairStrategy::RsChangeTaskOrGoal
                | RepairStrategy::RsProvideRationale
                | RepairStrategy::RsRedirectRefocus
        )
    }
}

vocabulary!(
    /// Alliance instruments. WAI-SR item text is copyrighted; Mend stores item numbers and scores only.
    Instrument, "instrument" {
        /// Working Alliance Inventory – Short Revised, client form (12 items, 5 points).
        WaiSr = "wai_sr",
        /// WAI-SR therapist form.
        WaiSrTherapist = "wai_sr_therapist",
        /// WAI short form (7 points).
        WaiS = "wai_s",
        /// Full 36-item WAI.
        WaiFull = "wai_full",
        /// Post-Session Questionnaire rupture items.
        PsqRupture = "psq_rupture",
        /// Another instrument.
        Other = "other",
    }
);

vocabulary!(
    /// Who completed a measure.
    Rater, "rater" {
        /// The client.
        Client = "client",
        /// The therapist.
        Therapist = "therapist",
        /// An observer.
        Observer = "observer",
    }
);
