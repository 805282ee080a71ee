// Display names and orderings for Mend's clinical vocabularies (clinical-model.md §4.3): the
// 3RS rupture markers (Eubanks, Muran & Safran, manual 2015 and v2022), resolution strategies,
// precipitants, note formats and their sections. The labels are short factual names; item text of
// licensed instruments (WAI-SR) is deliberately not reproduced.
import Mend

extension NoteFormat {
    /// Every format, in the order the editor offers them.
    public static let all: [NoteFormat] = [.soap, .dap, .birp, .girp, .free]

    /// The short name.
    public var label: String {
        switch self {
        case .soap: "SOAP"
        case .dap: "DAP"
        case .birp: "BIRP"
        case .girp: "GIRP"
        case .free: "Free text"
        }
    }

    /// The value Mend stores (and shows in conflicts).
    public var stored: String {
        switch self {
        case .soap: "soap"
        case .dap: "dap"
        case .birp: "birp"
        case .girp: "girp"
        case .free: "free"
        }
    }

    /// The section keys of this format, in order (matching the core's).
    public var sectionKeys: [String] {
        switch self {
        case .soap: ["subjective", "objective", "assessment", "plan"]
        case .dap: ["data", "assessment", "plan"]
        case .birp: ["behavior", "intervention", "response", "plan"]
        case .girp: ["goal", "intervention", "response", "plan"]
        case .free: ["body"]
        }
    }
}

/// Titles and prompts of note sections.
public enum NoteSectionInfo {
    /// The section's title.
    public static func title(_ key: String) -> String {
        switch key {
        case "subjective": "Subjective"
        case "objective": "Objective"
        case "assessment": "Assessment"
        case "plan": "Plan"
        case "data": "Data"
        case "behavior": "Behavior"
        case "intervention": "Intervention"
        case "response": "Response"
        case "goal": "Goal"
        case "body": "Note"
        default: key.capitalized
        }
    }

    /// A one-line prompt shown in the empty section.
    public static func prompt(_ key: String) -> String {
        switch key {
        case "subjective": "The client's report, in their words"
        case "objective": "Observations, mental status, measures"
        case "assessment": "Clinical impression and progress"
        case "plan": "Interventions, homework, next steps"
        case "data": "What was reported and observed"
        case "behavior": "Presentation, observed or reported"
        case "intervention": "What you did"
        case "response": "How the client responded"
        case "goal": "The treatment-plan goal addressed"
        default: ""
        }
    }
}

extension NoteState {
    /// The short name.
    public var label: String {
        switch self {
        case .draft: "Draft"
        case .pendingCosign: "Awaiting co-signature"
        case .signed: "Signed"
        case .cosigned: "Co-signed"
        }
    }
}

extension ClientStatus {
    /// Every status.
    public static let all: [ClientStatus] = [.active, .onHold, .discharged, .transferred, .deceased]
    /// The short name.
    public var label: String {
        switch self {
        case .active: "Active"
        case .onHold: "On hold"
        case .discharged: "Discharged"
        case .transferred: "Transferred"
        case .deceased: "Deceased"
        }
    }
    /// The value Mend stores (and shows in conflicts).
    public var stored: String {
        switch self {
        case .active: "active"
        case .onHold: "on_hold"
        case .discharged: "discharged"
        case .transferred: "transferred"
        case .deceased: "deceased"
        }
    }
}

extension SessionStatus {
    /// Every status.
    public static let all: [SessionStatus] = [.scheduled, .completed, .cancelledClient, .cancelledTherapist, .lateCancel, .noShow]
    /// The short name.
    public var label: String {
        switch self {
        case .scheduled: "Scheduled"
        case .completed: "Completed"
        case .cancelledClient: "Cancelled by client"
        case .cancelledTherapist: "Cancelled by therapist"
        case .lateCancel: "Late cancel"
        case .noShow: "No-show"
        }
    }
}

extension Modality {
    /// Every modality.
    public static let all: [Modality] = [.individual, .couple, .family, .group]
    /// The short name.
    public var label: String {
        switch self {
        case .individual: "Individual"
        case .couple: "Couple"
        case .family: "Family"
        case .group: "Group"
        }
    }
}

extension Setting {
    /// Every setting.
    public static let all: [Setting] = [.inPerson, .telehealthVideo, .telehealthAudio]
    /// The short name.
    public var label: String {
        switch self {
        case .inPerson: "In person"
        case .telehealthVideo: "Video"
        case .telehealthAudio: "Phone"
        }
    }
}

extension RiskLevel {
    /// Every level, least to most severe.
    public static let all: [RiskLevel] = [.notAssessed, .denied, .passive, .activeNoPlan, .activeWithPlan]
    /// The short name.
    public var label: String {
        switch self {
        case .notAssessed: "Not assessed"
        case .denied: "Denied"
        case .passive: "Passive"
        case .activeNoPlan: "Active, no plan"
        case .activeWithPlan: "Active, with plan"
        }
    }
    /// The value Mend stores (and shows in conflicts).
    public var stored: String {
        switch self {
        case .notAssessed: "not_assessed"
        case .denied: "denied"
        case .passive: "passive"
        case .activeNoPlan: "active_no_plan"
        case .activeWithPlan: "active_with_plan"
        }
    }
}

extension AddendumKind {
    /// Every kind.
    public static let all: [AddendumKind] = [.addendum, .lateEntry, .correction, .clarification, .amendmentAccepted, .statementOfDisagreement, .rebuttal]
    /// The short name.
    public var label: String {
        switch self {
        case .addendum: "Addendum"
        case .lateEntry: "Late entry"
        case .correction: "Correction"
        case .clarification: "Clarification"
        case .amendmentAccepted: "Accepted amendment"
        case .statementOfDisagreement: "Statement of disagreement"
        case .rebuttal: "Rebuttal"
        }
    }
}

extension Movement {
    /// Every movement.
    public static let all: [Movement] = [.withdrawal, .confrontation, .mixed]
    /// The short name, with the 3RS direction.
    public var label: String {
        switch self {
        case .withdrawal: "Withdrawal (moving away)"
        case .confrontation: "Confrontation (moving against)"
        case .mixed: "Mixed"
        }
    }
}

extension InitiatedBy {
    /// Every value.
    public static let all: [InitiatedBy] = [.client, .therapist, .both, .unclear]
    /// The short name.
    public var label: String {
        switch self {
        case .client: "Client"
        case .therapist: "Therapist"
        case .both: "Both"
        case .unclear: "Unclear"
        }
    }
}

extension RecordClass {
    /// Every class.
    public static let all: [RecordClass] = [.psychotherapyNote, .progressRecord]
    /// The short name.
    public var label: String {
        switch self {
        case .psychotherapyNote: "Psychotherapy note (kept separate)"
        case .progressRecord: "Progress record"
        }
    }
}

extension AllianceDimension {
    /// Bordin's three dimensions of the working alliance.
    public static let all: [AllianceDimension] = [.task, .goal, .bond]
    /// The short name.
    public var label: String {
        switch self {
        case .task: "Task"
        case .goal: "Goal"
        case .bond: "Bond"
        }
    }
}

extension DetectedBy {
    /// Every way a rupture comes to light.
    public static let all: [DetectedBy] = [.therapistInSession, .therapistPostSession, .clientRaised, .clientMeasure, .supervisor]
    /// The short name.
    public var label: String {
        switch self {
        case .therapistInSession: "Therapist, in session"
        case .therapistPostSession: "Therapist, after the session"
        case .clientRaised: "Client raised it"
        case .clientMeasure: "Client's measure"
        case .supervisor: "Supervisor"
        }
    }
}

extension RecordKind {
    /// The short name.
    public var label: String {
        switch self {
        case .client: "Client"
        case .session: "Session"
        case .note: "Note"
        case .rupture: "Rupture"
        case .measure: "Alliance measure"
        case .registry: "Devices"
        }
    }
}

/// A family of 3RS markers, as the form groups them.
public enum MarkerFamily: CaseIterable, Sendable {
    /// Client withdrawal markers.
    case withdrawal
    /// Client confrontation markers.
    case confrontation
    /// Therapist-initiated movement (3RS v2022 WD_T / CF_T).
    case therapist

    /// The heading.
    public var label: String {
        switch self {
        case .withdrawal: "Withdrawal markers"
        case .confrontation: "Confrontation markers"
        case .therapist: "Therapist markers"
        }
    }

    /// The markers of this family.
    public var markers: [RuptureMarker] {
        switch self {
        case .withdrawal:
            [.wdDenial, .wdMinimalResponse, .wdAbstractCommunication, .wdAvoidantStorytellingTopicShift,
             .wdDeferentialAppeasing, .wdContentAffectSplit, .wdSelfCriticismHopelessness, .wdGivingUp]
        case .confrontation:
            [.cfComplaintAboutTherapist, .cfRejectsIntervention, .cfComplaintAboutActivities,
             .cfComplaintAboutParameters, .cfComplaintAboutProgress, .cfDefendsSelf, .cfControlPressureTherapist]
        case .therapist: [.thWithdrawal, .thConfrontation]
        }
    }
}

extension RuptureMarker {
    /// Every marker, grouped by family.
    public static let all: [RuptureMarker] = MarkerFamily.allCases.flatMap(\.markers)

    /// The family the marker belongs to.
    public var family: MarkerFamily {
        MarkerFamily.allCases.first { $0.markers.contains(self) } ?? .therapist
    }

    /// The short name.
    public var label: String {
        switch self {
        case .wdDenial: "Denial"
        case .wdMinimalResponse: "Minimal response"
        case .wdAbstractCommunication: "Abstract communication"
        case .wdAvoidantStorytellingTopicShift: "Avoidant storytelling / topic shift"
        case .wdDeferentialAppeasing: "Deferential and appeasing"
        case .wdContentAffectSplit: "Content/affect split"
        case .wdSelfCriticismHopelessness: "Self-criticism / hopelessness"
        case .wdGivingUp: "Giving up"
        case .cfComplaintAboutTherapist: "Complaint about the therapist"
        case .cfRejectsIntervention: "Rejects an intervention"
        case .cfComplaintAboutActivities: "Complaint about the activities of therapy"
        case .cfComplaintAboutParameters: "Complaint about parameters (time, fees, length)"
        case .cfComplaintAboutProgress: "Complaint about progress"
        case .cfDefendsSelf: "Defends self against the therapist"
        case .cfControlPressureTherapist: "Controls or pressures the therapist"
        case .thWithdrawal: "Therapist moves away"
        case .thConfrontation: "Therapist moves against"
        }
    }
}

extension Precipitant {
    /// Every precipitant.
    public static let all: [Precipitant] = [.misunderstanding, .disagreement, .boundaryBreach, .transference,
        .countertransference, .culturalDifference, .powerDynamics, .therapistBurnoutFatigue, .therapistError,
        .parametersFeesScheduling, .externalEvent, .other]

    /// The short name.
    public var label: String {
        switch self {
        case .misunderstanding: "Misunderstanding"
        case .disagreement: "Disagreement"
        case .boundaryBreach: "Boundary breach"
        case .transference: "Transference"
        case .countertransference: "Countertransference"
        case .culturalDifference: "Cultural difference"
        case .powerDynamics: "Power dynamics"
        case .therapistBurnoutFatigue: "Therapist burnout or fatigue"
        case .therapistError: "Therapist error"
        case .parametersFeesScheduling: "Fees or scheduling"
        case .externalEvent: "External event"
        case .other: "Other"
        }
    }
}

extension RuptureStatus {
    /// Every status, in the order a rupture usually moves through them.
    public static let all: [RuptureStatus] = [.unaddressed, .inProgress, .partiallyResolved, .resolved, .unresolvedClosed]
    /// The short name.
    public var label: String {
        switch self {
        case .unaddressed: "Unaddressed"
        case .inProgress: "In progress"
        case .partiallyResolved: "Partially resolved"
        case .resolved: "Resolved"
        case .unresolvedClosed: "Closed unresolved"
        }
    }
}

extension RepairStrategy {
    /// The 3RS resolution strategies.
    public static let threeRS: [RepairStrategy] = [.rsClarifyMisunderstanding, .rsChangeTaskOrGoal, .rsProvideRationale,
        .rsInviteDiscussionOfRelationship, .rsAcknowledgeOwnContribution, .rsDiscloseInternalExperience,
        .rsLinkPatternInTherapy, .rsLinkPatternOutsideTherapy, .rsValidateDefensivePosture, .rsRedirectRefocus,
        .rsNewRelationalExperience]
    /// Further strategies a clinician may log.
    public static let other: [RepairStrategy] = [.empathyValidation, .renegotiateBoundaries, .exploreUnderlyingEmotions,
        .apology, .consultSupervision]
    /// Every strategy.
    public static let all: [RepairStrategy] = threeRS + other

    /// The short name.
    public var label: String {
        switch self {
        case .rsClarifyMisunderstanding: "Clarify a misunderstanding"
        case .rsChangeTaskOrGoal: "Change the task or goal"
        case .rsProvideRationale: "Give a rationale"
        case .rsInviteDiscussionOfRelationship: "Invite talk about the relationship"
        case .rsAcknowledgeOwnContribution: "Acknowledge own contribution"
        case .rsDiscloseInternalExperience: "Disclose own experience of the interaction"
        case .rsLinkPatternInTherapy: "Link to a pattern in therapy"
        case .rsLinkPatternOutsideTherapy: "Link to a pattern outside therapy"
        case .rsValidateDefensivePosture: "Validate the defensive posture"
        case .rsRedirectRefocus: "Redirect or refocus"
        case .rsNewRelationalExperience: "A new experience of relating"
        case .empathyValidation: "Empathy and validation"
        case .renegotiateBoundaries: "Renegotiate boundaries"
        case .exploreUnderlyingEmotions: "Explore underlying emotions"
        case .apology: "Apology"
        case .consultSupervision: "Consult supervision"
        }
    }
}

extension ClientResponse {
    /// Every response, roughly along the Safran & Muran resolution stages.
    public static let all: [ClientResponse] = [.reengaged, .clarifiedConcern, .expressedAnger, .expressedDisappointmentHurt,
        .expressedVulnerabilityNeed, .assertedNeedOrDisagreement, .compliedSuperficially, .withdrewFurther,
        .leftOrEndedSession, .noObservableChange]

    /// The short name.
    public var label: String {
        switch self {
        case .reengaged: "Re-engaged"
        case .clarifiedConcern: "Clarified the concern"
        case .expressedAnger: "Expressed anger"
        case .expressedDisappointmentHurt: "Expressed disappointment or hurt"
        case .expressedVulnerabilityNeed: "Expressed vulnerability or a need"
        case .assertedNeedOrDisagreement: "Asserted a need or disagreement"
        case .compliedSuperficially: "Complied superficially"
        case .withdrewFurther: "Withdrew further"
        case .leftOrEndedSession: "Left or ended the session"
        case .noObservableChange: "No observable change"
        }
    }
}

extension RuptureText {
    /// The four texts, in the form's order.
    public static let all: [RuptureText] = [.narrative, .clientWords, .therapistContribution, .followUpNote]

    /// The field's title (also the field name in form errors).
    public var label: String {
        switch self {
        case .narrative: "narrative"
        case .clientWords: "client's words"
        case .therapistContribution: "therapist contribution"
        case .followUpNote: "follow-up note"
        }
    }
}
