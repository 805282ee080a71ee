// The rupture log form (clinical-model.md §4.3, RuptureEvent): movement (3RS moving away / against),
// who initiated it and how it was noticed, the date, session and minute in the session, the
// alliance dimensions strained, 3RS markers, precipitants, a 1–5 significance, narrative, the
// client's words and the therapist's own contribution with its 1–5 rating, and whether a follow-up
// is planned with the plan; once logged also the client-reported intensity, resolution and the
// client's responses.
//
// A logged rupture is corrected in the same form: every field but the record class (it decides
// the key). The four texts are typed live, each keystroke one minimal splice
// (`spliceRuptureText`), so typing on two devices merges by character. The other fields are saved
// together as one `updateRupture` holding only what differs from the stored rupture (set, cleared,
// added or removed), so a save never rewrites a field another device changed meanwhile. Status
// changes and repair attempts are logged with the session happening now (by its recorded start and
// end when the therapist recorded them) and shown with the session each was made in. Mend refuses
// a session of another client; the form only offers the client's own. A rupture logged in error
// is voided with a reason: it stays readable, read-only from then on (Mend refuses every edit).
// Validation runs before anything is written and reports fields and rules only, never the text
// typed.
import Foundation
import Mend
import Observation

/// A repair attempt being logged.
public struct RepairDraft: Equatable, Sendable {
    /// Strategies used (at least one).
    public var strategies: Set<RepairStrategy> = []
    /// How the client responded.
    public var clientResponse: Set<ClientResponse> = []
    /// Effect on the collaboration, 1–5 (optional).
    public var effect: Int?
    /// A note.
    public var note = ""

    /// An empty attempt.
    public init() {}

    /// What must be fixed before it can be logged.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if strategies.isEmpty { e.append(FieldError("strategies", "choose at least one repair strategy")) }
        if let v = effect, !(1...5).contains(v) { e.append(FieldError("effect", "must be between 1 and 5")) }
        return e
    }

    /// Immediate (every strategy is clarify, change task/goal, rationale or redirect) or exploratory.
    public var isImmediate: Bool {
        !strategies.isEmpty && strategies.isSubset(of: [.rsClarifyMisunderstanding, .rsChangeTaskOrGoal, .rsProvideRationale, .rsRedirectRefocus])
    }
}

/// One of the client's sessions, as the session picker and the status history show it.
public struct SessionChoice: Identifiable, Equatable, Sendable {
    /// The session id.
    public let id: String
    /// When it starts.
    public let date: Date
    /// Its status.
    public let status: SessionStatus
}

/// One change of the rupture's status, oldest first in `RuptureFormModel.statusHistory`.
public struct StatusHistoryRow: Identifiable, Equatable, Sendable {
    /// Its place in the log.
    public let id: Int
    /// The status it moved to.
    public let status: RuptureStatus
    /// When.
    public let date: Date
    /// The clinician who made it (their signer id).
    public let by: String
    /// Whether this clinician made it.
    public let byMe: Bool
    /// The session it was made in, if any.
    public let sessionId: String?
    /// The start of that session, when it is one of the client's listed sessions.
    public let sessionDate: Date?
}

/// One logged repair attempt, in `RuptureFormModel.repairHistory`, with the session it was made in.
public struct RepairAttemptRow: Identifiable, Equatable, Sendable {
    /// The attempt's id.
    public var id: String { attempt.id }
    /// The attempt as stored.
    public let attempt: RepairAttempt
    /// When it was made.
    public let date: Date
    /// The session it was made in (nil: between sessions).
    public let sessionId: String?
    /// The start of that session, when it is one of the client's listed sessions.
    public let sessionDate: Date?
}

/// The rupture form: a new rupture, or a logged one (every field but the record class
/// correctable, texts typed live, repair, status, void).
@MainActor
@Observable
public final class RuptureFormModel: RecordsObserving {
    /// How long before its scheduled start a session with no recorded start counts as happening now.
    public static let sessionEarly: TimeInterval = 15 * 60
    /// How long after its start a session with no recorded end counts as happening now (it stands
    /// in for the end until the therapist records one on the timeline).
    public static let sessionWindow: TimeInterval = 3 * 3600
    /// How far from its scheduled start a session may be and still be happening now, whatever
    /// times are recorded for it. Only sessions this close have their recorded times read.
    public static let sessionReach: TimeInterval = 12 * 3600

    /// The rupture, once logged.
    public private(set) var ruptureId: String?
    /// The client.
    public private(set) var clientId: String
    /// The session it happened in (nil: between sessions). Clearing it clears the minute.
    public var sessionId: String? { didSet { if sessionId == nil { atMinute = nil } } }
    /// When it happened.
    public var occurredAt: Date
    /// The minute within the session, 0–600 (only for a rupture in a session).
    public var atMinute: Int?
    /// Withdrawal, confrontation or mixed.
    public var movement: Movement = .withdrawal
    /// Who initiated it.
    public var initiatedBy: InitiatedBy = .client
    /// How it was noticed (nil: not noted).
    public var detectedBy: DetectedBy?
    /// Psychotherapy note (the default, kept under a separate key) or progress record. Fixed once
    /// logged: it decides the key.
    public var recordClass: RecordClass = .psychotherapyNote
    /// The alliance dimensions strained (Bordin: task, goal, bond).
    public var allianceDimensions: Set<AllianceDimension> = []
    /// 3RS markers.
    public var markers: Set<RuptureMarker> = []
    /// Precipitants.
    public var precipitants: Set<Precipitant> = []
    /// Therapist-rated impact on the collaboration, 1–5.
    public var significance = 3
    /// What happened (type with `edit(_:to:)`).
    public private(set) var narrative = ""
    /// The client's words, verbatim (type with `edit(_:to:)`).
    public private(set) var clientWords = ""
    /// The therapist's reflection on their own part (type with `edit(_:to:)`).
    public private(set) var therapistContribution = ""
    /// The follow-up plan (type with `edit(_:to:)`).
    public private(set) var followUpNote = ""
    /// The 3RS rating of the therapist's contribution, 1–5 (nil: not rated).
    public var therapistContributionRating: Int?
    /// How intense the client said it was (PSQ), 1–5 (logged ruptures).
    public var clientReportedIntensity: Int?
    /// How far it was resolved, 1–5 (logged ruptures).
    public var resolutionRating: Int?
    /// How the client responded over the rupture's course (logged ruptures).
    public var clientResponse: Set<ClientResponse> = []
    /// Whether a follow-up is planned (the plan itself is `followUpNote`).
    public var followUpPlanned = false
    /// The current status (logged ruptures).
    public private(set) var status: RuptureStatus = .unaddressed
    /// Logged repair attempts.
    public private(set) var repairAttempts: [RepairAttempt] = []
    /// The client's sessions, newest first (for the session picker and the status history).
    public private(set) var sessions: [SessionChoice] = []
    /// The rupture as last read from the vault (logged ruptures); edits are measured against it.
    /// Its texts follow every keystroke saved here.
    public private(set) var stored: RuptureEvent?
    /// The repair attempt being written.
    public var repairDraft = RepairDraft()
    /// The last Mend error (e.g. `.validation(field: "rupture", …)` for an edit of a voided rupture).
    public private(set) var lastError: VaultError?
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext
    /// Recorded actual times of sessions near now, read on demand; emptied whenever the session
    /// list is read again (a session's status and times arrive as a change of that session).
    @ObservationIgnored private var recorded: [String: (start: Date?, end: Date?)] = [:]

    init(context: NotebookContext, clientId: String, sessionId: String?) {
        self.context = context
        self.clientId = clientId
        self.sessionId = sessionId
        occurredAt = context.environment.time.now
        reloadSessions()
    }

    init(context: NotebookContext, ruptureId: String) {
        self.context = context
        self.ruptureId = ruptureId
        clientId = ""
        occurredAt = context.environment.time.now
        reload()
    }

    /// Whether this is a logged rupture. Every field but the record class can then be corrected.
    public var isLogged: Bool { ruptureId != nil }

    /// How the rupture was voided (logged in error), if it was.
    public var voided: Voided? { stored?.voided }

    /// Whether the rupture was voided: it is shown read-only and Mend refuses every edit.
    public var isVoided: Bool { voided != nil }

    /// Whether this clinician voided it.
    public var voidedByMe: Bool { voided?.by == context.signer.id }

    /// Whether the form takes edits (a new rupture, or a logged one not voided).
    public var isEditable: Bool { !isVoided }

    /// The client's session happening now, by the clock at the call: of the sessions not
    /// cancelled or missed whose `span` holds now, the one that started last. Status changes and
    /// repair attempts record it.
    public var currentSession: SessionChoice? {
        let now = context.environment.time.now
        return sessions
            .filter { $0.status == .scheduled || $0.status == .completed }
            .filter { abs(now.timeIntervalSince($0.date)) <= Self.sessionReach }
            .compactMap { s in span(of: s).map { (session: s, span: $0) } }
            .filter { $0.span.contains(now) }
            .max { $0.span.lowerBound < $1.span.lowerBound }?.session
    }

    /// When `session` counts as happening: from its recorded actual start (or `sessionEarly`
    /// before its scheduled start when none is recorded) to its recorded actual end (or, when no
    /// end is recorded, `sessionWindow` after its start). Nil when the recorded times contradict
    /// the schedule (an end before the start they fall back to). The recorded times are read from
    /// Mend on first use for sessions within `sessionReach` of now; a session that cannot be read
    /// falls back to the window.
    public func span(of session: SessionChoice) -> ClosedRange<Date>? {
        let times = recordedTimes(of: session)
        let start = times.start ?? session.date.addingTimeInterval(-Self.sessionEarly)
        let end = times.end ?? (times.start ?? session.date).addingTimeInterval(Self.sessionWindow)
        return start <= end ? start ... end : nil
    }

    /// The recorded actual start and end of a session near now (both nil for one further away).
    private func recordedTimes(of session: SessionChoice) -> (start: Date?, end: Date?) {
        let now = context.environment.time.now
        guard abs(now.timeIntervalSince(session.date)) <= Self.sessionReach else { return (nil, nil) }
        if let known = recorded[session.id] { return known }
        guard let s = try? mend({ try context.vault().session(id: session.id) }) else { return (nil, nil) }
        let times = (start: s.actualStart.map(Date.init(mendMillis:)), end: s.actualEnd.map(Date.init(mendMillis:)))
        recorded[session.id] = times
        return times
    }

    /// Every status change, oldest first, with the session each was made in.
    public var statusHistory: [StatusHistoryRow] {
        guard let log = stored?.statusLog else { return [] }
        let me = context.signer.id
        return log.enumerated().map { i, c in
            StatusHistoryRow(id: i, status: c.to, date: Date(mendMillis: c.at), by: c.by, byMe: c.by == me,
                             sessionId: c.sessionId, sessionDate: c.sessionId.flatMap { s in sessions.first { $0.id == s }?.date })
        }
    }

    /// Every repair attempt, in the order logged, with the session each was made in.
    public var repairHistory: [RepairAttemptRow] {
        repairAttempts.map { a in
            RepairAttemptRow(attempt: a, date: Date(mendMillis: a.at), sessionId: a.sessionId,
                             sessionDate: a.sessionId.flatMap { s in sessions.first { $0.id == s }?.date })
        }
    }

    /// Problems that block saving (a new rupture, or the corrections of a logged one).
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if !(1...5).contains(significance) { e.append(FieldError("significance", "must be between 1 and 5")) }
        if markers.isEmpty { e.append(FieldError("markers", "choose at least one 3RS marker")) }
        if occurredAt > context.environment.time.now.addingTimeInterval(60), occurredAt.mendMillis != stored?.occurredAt {
            e.append(FieldError("date", "a rupture cannot be logged in the future"))
        }
        if let m = atMinute {
            if sessionId == nil {
                e.append(FieldError("minute in session", "only for a rupture in a session"))
            } else if !(0...600).contains(m) {
                e.append(FieldError("minute in session", "must be between 0 and 600"))
            }
        }
        for (field, value) in [("therapist contribution rating", therapistContributionRating),
                               ("client-reported intensity", clientReportedIntensity), ("resolution rating", resolutionRating)] {
            if let v = value, !(1...5).contains(v) { e.append(FieldError(field, "must be between 1 and 5")) }
        }
        if !isLogged {
            for field in RuptureText.all where text(field).utf8.count > 1 << 20 {
                e.append(FieldError(field.label, "must be at most 1 MiB"))
            }
        }
        return e
    }

    /// Markers that do not match the movement (allowed, but worth a second look).
    public var warnings: [String] {
        var w: [String] = []
        if movement == .withdrawal, markers.contains(where: { $0.family == .confrontation }) {
            w.append("Confrontation markers on a withdrawal rupture: consider “Mixed”.")
        }
        if movement == .confrontation, markers.contains(where: { $0.family == .withdrawal }) {
            w.append("Withdrawal markers on a confrontation rupture: consider “Mixed”.")
        }
        if initiatedBy == .client, markers.contains(where: { $0.family == .therapist }) {
            w.append("Therapist markers on a rupture initiated by the client.")
        }
        return w
    }

    /// Toggles a marker.
    public func toggle(_ marker: RuptureMarker) { markers.formSymmetricDifference([marker]) }

    /// Toggles a precipitant.
    public func toggle(_ precipitant: Precipitant) { precipitants.formSymmetricDifference([precipitant]) }

    /// Toggles an alliance dimension.
    public func toggle(_ dimension: AllianceDimension) { allianceDimensions.formSymmetricDifference([dimension]) }

    /// Toggles one of the client's responses.
    public func toggle(_ response: ClientResponse) { clientResponse.formSymmetricDifference([response]) }

    // MARK: - Texts

    /// The text of `field` as shown.
    public func text(_ field: RuptureText) -> String {
        switch field {
        case .narrative: narrative
        case .clientWords: clientWords
        case .therapistContribution: therapistContribution
        case .followUpNote: followUpNote
        }
    }

    private func setText(_ field: RuptureText, _ value: String) {
        switch field {
        case .narrative: narrative = value
        case .clientWords: clientWords = value
        case .therapistContribution: therapistContribution = value
        case .followUpNote: followUpNote = value
        }
    }

    private static func setText(_ field: RuptureText, _ value: String, in r: inout RuptureEvent) {
        switch field {
        case .narrative: r.narrative = value
        case .clientWords: r.clientWords = value
        case .therapistContribution: r.therapistContribution = value
        case .followUpNote: r.followUpNote = value
        }
    }

    private static func text(_ field: RuptureText, of r: RuptureEvent) -> String {
        switch field {
        case .narrative: r.narrative
        case .clientWords: r.clientWords
        case .therapistContribution: r.therapistContribution
        case .followUpNote: r.followUpNote
        }
    }

    /// Live typing: the text field for `field` now reads `newText`. On a new rupture the text is
    /// kept until `save` (the follow-up plan too). On a logged one the change is stored at once
    /// as one minimal splice from the text the vault holds, so another device's concurrent typing
    /// in the same text merges by character. Refused by Mend (a voided
    /// rupture: `lastError == .validation(field: "rupture", …)`), the text goes back to what is
    /// stored.
    public func edit(_ field: RuptureText, to newText: String) {
        guard let id = ruptureId else {
            setText(field, newText)
            return
        }
        guard var r = stored else {
            errorMessage = "The rupture could not be read; reopen it."
            return
        }
        guard let splice = TextSplice(from: Self.text(field, of: r), to: newText) else { return }
        context.touched()
        do {
            try mend {
                try context.vault().spliceRuptureText(id: id, field: field, pos: UInt64(splice.position),
                                                      delete: UInt64(splice.delete), insert: splice.insert)
            }
            Self.setText(field, newText, in: &r)
            stored = r
            setText(field, newText)
            lastError = nil
            errorMessage = nil
            context.publish([id], origin: .typing, from: self)
        } catch {
            fail(error)
            reload()
        }
    }

    // MARK: - Saving

    /// Logs the new rupture, with its follow-up plan; returns its id. Throws `FormErrors` (checked
    /// here first) or the `VaultError` Mend gives.
    @discardableResult
    public func save() throws -> String {
        guard ruptureId == nil else { throw FormErrors([FieldError("rupture", "already logged")]) }
        guard errors.isEmpty else { throw FormErrors(errors) }
        context.touched()
        let new = NewRupture(
            clientId: clientId, sessionId: sessionId, occurredAt: occurredAt.mendMillis, recordClass: recordClass,
            movement: movement, initiatedBy: initiatedBy,
            markers: RuptureMarker.all.filter(markers.contains), precipitants: Precipitant.all.filter(precipitants.contains),
            significance: Int64(significance), narrative: narrative, clientWords: clientWords,
            therapistContribution: therapistContribution,
            atMinute: atMinute.map(Int64.init),
            allianceDimensions: AllianceDimension.all.filter(allianceDimensions.contains),
            detectedBy: detectedBy,
            therapistContributionRating: therapistContributionRating.map(Int64.init),
            followUpPlanned: followUpPlanned, followUpNote: followUpNote)
        let id = try record { try $0.createRupture(rupture: new, by: context.signer.id) }
        ruptureId = id
        reload(keepingEdits: false)
        context.publish([id, clientId], origin: .local, from: self)
        return id
    }

    /// What differs between the form and the logged rupture, as Mend's update (nil: nothing, or
    /// not logged). Only changed fields are set; an optional field emptied here is cleared, a set
    /// member unticked is removed; it never sets and clears (or adds and removes) the same thing,
    /// which Mend refuses. The texts are not part of it (they are saved as they are typed) and
    /// the record class never changes.
    public var pendingUpdate: RuptureUpdate? {
        guard let r = stored else { return nil }
        var u = RuptureUpdate()
        var clear: [RuptureField] = []
        func optional<T: Equatable>(_ now: T?, _ was: T?, _ field: RuptureField) -> T? {
            guard now != was else { return nil }
            if now == nil { clear.append(field) }
            return now
        }
        if occurredAt.mendMillis != r.occurredAt { u.occurredAt = occurredAt.mendMillis }
        if movement != r.movement { u.movement = movement }
        if initiatedBy != r.initiatedBy { u.initiatedBy = initiatedBy }
        if Int64(significance) != r.significance { u.significance = Int64(significance) }
        if followUpPlanned != r.followUpPlanned { u.followUpPlanned = followUpPlanned }
        // In RuptureField's order, so `clear` reads the same whatever was edited first.
        u.sessionId = optional(sessionId, r.sessionId, .sessionId)
        u.atMinute = optional(atMinute.map(Int64.init), r.atMinute, .atMinute)
        u.detectedBy = optional(detectedBy, r.detectedBy, .detectedBy)
        u.clientReportedIntensity = optional(clientReportedIntensity.map(Int64.init), r.clientReportedIntensity, .clientReportedIntensity)
        u.therapistContributionRating = optional(therapistContributionRating.map(Int64.init), r.therapistContributionRating,
                                                 .therapistContributionRating)
        u.resolutionRating = optional(resolutionRating.map(Int64.init), r.resolutionRating, .resolutionRating)
        u.clear = clear
        (u.addMarkers, u.removeMarkers) = Self.delta(RuptureMarker.all, form: markers, stored: r.markers)
        (u.addAllianceDimensions, u.removeAllianceDimensions) = Self.delta(AllianceDimension.all, form: allianceDimensions,
                                                                           stored: r.allianceDimensions)
        (u.addPrecipitants, u.removePrecipitants) = Self.delta(Precipitant.all, form: precipitants, stored: r.precipitants)
        (u.addClientResponse, u.removeClientResponse) = Self.delta(ClientResponse.all, form: clientResponse, stored: r.clientResponse)
        return u == RuptureUpdate() ? nil : u
    }

    /// Members ticked here and not stored, and stored ones unticked here, in `all`'s order.
    private static func delta<T: Hashable>(_ all: [T], form: Set<T>, stored: [T]) -> (add: [T], remove: [T]) {
        let was = Set(stored)
        return (all.filter { form.contains($0) && !was.contains($0) }, all.filter { was.contains($0) && !form.contains($0) })
    }

    /// Whether a logged rupture has corrections not saved yet (texts save as they are typed).
    public var hasUnsavedChanges: Bool { pendingUpdate != nil }

    /// Saves the corrections of a logged rupture as one update of the changed fields. A
    /// significance changed concurrently on another device becomes a conflict in the inbox rather
    /// than a silent winner; set members added or removed merge with the other device's. On a
    /// voided rupture Mend refuses (`.validation(field: "rupture", …)`) and the form shows the
    /// stored rupture again.
    public func saveChanges() throws {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "log the rupture first")]) }
        guard errors.isEmpty else { throw FormErrors(errors) }
        guard let update = pendingUpdate else { return }
        try change(keepingEdits: false) { try $0.updateRupture(id: id, update: update) }
    }

    /// Drops unsaved corrections of a logged rupture (the texts are already saved).
    public func discardChanges() {
        if let stored { show(stored, keepingEdits: false) }
    }

    /// Moves the rupture to `status` (a log: the latest change wins, and a merge never regresses
    /// it), recorded as made in the session happening now, if any. Unsaved corrections stay.
    public func setStatus(_ status: RuptureStatus) throws {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "log the rupture first")]) }
        let session = currentSession?.id
        try change {
            try $0.setRuptureStatus(id: id, status: status, at: context.nowMillis, by: context.signer.id, sessionId: session)
        }
    }

    /// Logs `repairDraft` as a repair attempt, in the session happening now if any; returns its id.
    @discardableResult
    public func addRepairAttempt() throws -> String {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "save the rupture first")]) }
        guard repairDraft.errors.isEmpty else { throw FormErrors(repairDraft.errors) }
        let d = repairDraft
        let session = currentSession?.id
        var attemptId = ""
        try change { vault in
            attemptId = try vault.addRepairAttempt(id: id, attempt: NewRepairAttempt(
                sessionId: session, at: context.nowMillis,
                strategies: RepairStrategy.all.filter(d.strategies.contains),
                clientResponse: ClientResponse.all.filter(d.clientResponse.contains),
                effect: d.effect.map(Int64.init), note: d.note))
        }
        repairDraft = RepairDraft()
        return attemptId
    }

    /// Voids the rupture as logged in error, saying why (required). Nothing is deleted: it stays
    /// readable and on the timeline, marked voided, leaves the unresolved list, and takes no
    /// further edit. Unsaved corrections are dropped. A void cannot be undone: the screen asks
    /// for confirmation first.
    public func voidRupture(reason: String) throws {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "log the rupture first")]) }
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !why.isEmpty else { throw FormErrors([FieldError("void reason", "say why the rupture is voided")]) }
        try change(keepingEdits: false) { try $0.voidRupture(id: id, reason: why, by: context.signer.id, at: context.nowMillis) }
    }

    // MARK: - Loading

    /// Reads the logged rupture again, keeping the corrections made here and not saved yet.
    public func reload() { reload(keepingEdits: true) }

    private func reload(keepingEdits: Bool) {
        guard let id = ruptureId else { return }
        do {
            let r = try mend { try context.vault().rupture(id: id) }
            clientId = r.clientId
            reloadSessions()
            show(r, keepingEdits: keepingEdits && r.voided == nil)
        } catch {
            fail(error)
        }
    }

    private func reloadSessions() {
        recorded = [:]
        do {
            let entries = try mend { try context.vault().timeline(clientId: clientId) }
            sessions = entries.compactMap { e -> SessionChoice? in
                guard case let .session(id, at, status) = e else { return nil }
                return SessionChoice(id: id, date: Date(mendMillis: at), status: status)
            }
            .sorted { $0.date > $1.date }
        } catch {
            fail(error)
        }
    }

    /// Shows `r`. Keeping edits, a field the user changed keeps its value (a set keeps the user's
    /// additions and removals on top of `r`) and the others take `r`'s. The texts are always
    /// `r`'s: every keystroke was saved, so `r` holds them merged with other devices' typing.
    private func show(_ r: RuptureEvent, keepingEdits: Bool) {
        if keepingEdits, let was = stored {
            sessionId = Self.merged(sessionId, was: was.sessionId, now: r.sessionId)
            occurredAt = Self.merged(occurredAt, was: Date(mendMillis: was.occurredAt), now: Date(mendMillis: r.occurredAt))
            atMinute = Self.merged(atMinute, was: was.atMinute.map(Int.init), now: r.atMinute.map(Int.init))
            movement = Self.merged(movement, was: was.movement, now: r.movement)
            initiatedBy = Self.merged(initiatedBy, was: was.initiatedBy, now: r.initiatedBy)
            detectedBy = Self.merged(detectedBy, was: was.detectedBy, now: r.detectedBy)
            allianceDimensions = Self.mergedSet(allianceDimensions, was: Set(was.allianceDimensions), now: Set(r.allianceDimensions))
            markers = Self.mergedSet(markers, was: Set(was.markers), now: Set(r.markers))
            precipitants = Self.mergedSet(precipitants, was: Set(was.precipitants), now: Set(r.precipitants))
            clientResponse = Self.mergedSet(clientResponse, was: Set(was.clientResponse), now: Set(r.clientResponse))
            significance = Self.merged(significance, was: Int(was.significance), now: Int(r.significance))
            therapistContributionRating = Self.merged(therapistContributionRating, was: was.therapistContributionRating.map(Int.init),
                                                      now: r.therapistContributionRating.map(Int.init))
            clientReportedIntensity = Self.merged(clientReportedIntensity, was: was.clientReportedIntensity.map(Int.init),
                                                  now: r.clientReportedIntensity.map(Int.init))
            resolutionRating = Self.merged(resolutionRating, was: was.resolutionRating.map(Int.init), now: r.resolutionRating.map(Int.init))
            followUpPlanned = Self.merged(followUpPlanned, was: was.followUpPlanned, now: r.followUpPlanned)
        } else {
            sessionId = r.sessionId
            occurredAt = Date(mendMillis: r.occurredAt)
            atMinute = r.atMinute.map(Int.init)
            movement = r.movement
            initiatedBy = r.initiatedBy
            detectedBy = r.detectedBy
            allianceDimensions = Set(r.allianceDimensions)
            markers = Set(r.markers)
            precipitants = Set(r.precipitants)
            clientResponse = Set(r.clientResponse)
            significance = Int(r.significance)
            therapistContributionRating = r.therapistContributionRating.map(Int.init)
            clientReportedIntensity = r.clientReportedIntensity.map(Int.init)
            resolutionRating = r.resolutionRating.map(Int.init)
            followUpPlanned = r.followUpPlanned
        }
        // A minute kept here on a session cleared elsewhere has nothing to belong to.
        if sessionId == nil { atMinute = nil }
        for field in RuptureText.all { setText(field, Self.text(field, of: r)) }
        clientId = r.clientId
        recordClass = r.recordClass
        status = r.status
        repairAttempts = r.repairAttempts
        stored = r
    }

    private static func merged<T: Equatable>(_ form: T, was: T, now: T) -> T { form == was ? now : form }

    private static func mergedSet<T>(_ form: Set<T>, was: Set<T>, now: Set<T>) -> Set<T> {
        now.union(form.subtracting(was)).subtracting(was.subtracting(form))
    }

    // MARK: - Plumbing

    /// Mend's refusal to edit a voided rupture.
    private static func isVoidedRefusal(_ error: Error) -> Bool {
        if case .validation(field: "rupture", reason: _)? = error as? VaultError { true } else { false }
    }

    private func record<T>(_ body: (Vault) throws -> T) throws -> T {
        do {
            let value = try mend { try body(context.vault()) }
            lastError = nil
            errorMessage = nil
            return value
        } catch {
            fail(error)
            throw error
        }
    }

    private func change(keepingEdits: Bool = true, _ body: (Vault) throws -> Void) throws {
        context.touched()
        do {
            try record(body)
        } catch {
            // Voided since the form last read it: show it as it is now, without the edits.
            if Self.isVoidedRefusal(error) { reload(keepingEdits: false) }
            throw error
        }
        reload(keepingEdits: keepingEdits)
        if let id = ruptureId { context.publish([id, clientId], origin: .local, from: self) }
    }

    private func fail(_ error: Error) {
        lastError = error as? VaultError
        errorMessage = UserMessage.describe(error)
    }

    /// Reloads a logged rupture changed elsewhere, keeping unsaved corrections; reloads the
    /// session list when anything else may have added a session.
    public func recordsChanged(_ batch: ChangeBatch) {
        if let id = ruptureId, batch.ids.contains(id) {
            reload()
        } else if batch.origin != .typing {
            reloadSessions()
        }
    }
}
