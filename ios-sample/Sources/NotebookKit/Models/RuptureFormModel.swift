// The rupture log form (clinical-model.md §4.3, RuptureEvent): movement (3RS moving away / against),
// who initiated it and how it was noticed, the minute in the session, the alliance dimensions
// strained, 3RS markers, precipitants, a 1–5 significance, narrative, the client's words and the
// therapist's own contribution with its 1–5 rating. On a logged rupture: the fields Mend lets change
// (movement, markers, precipitants, significance, narrative, the client's response and the
// client-reported and resolution ratings) are edited and saved as one update holding only what
// differs from the stored rupture; repair attempts and status changes are logged. Validation runs
// before anything is written and reports fields and rules only, never the text typed.
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

/// The rupture form: a new rupture, or a logged one (its changeable fields, repair, status).
@MainActor
@Observable
public final class RuptureFormModel: RecordsObserving {
    /// The rupture, once logged.
    public private(set) var ruptureId: String?
    /// The client.
    public private(set) var clientId: String
    /// The session it happened in (nil: between sessions).
    public var sessionId: String?
    /// When it happened.
    public var occurredAt: Date
    /// The minute within the session, 0–600 (only for a rupture in a session).
    public var atMinute: Int?
    /// Withdrawal, confrontation or mixed.
    public var movement: Movement = .withdrawal
    /// Who initiated it.
    public var initiatedBy: InitiatedBy = .client
    /// How it was noticed.
    public var detectedBy: DetectedBy?
    /// Psychotherapy note (the default, kept under a separate key) or progress record.
    public var recordClass: RecordClass = .psychotherapyNote
    /// The alliance dimensions strained (Bordin: task, goal, bond).
    public var allianceDimensions: Set<AllianceDimension> = []
    /// 3RS markers.
    public var markers: Set<RuptureMarker> = []
    /// Precipitants.
    public var precipitants: Set<Precipitant> = []
    /// Therapist-rated impact on the collaboration, 1–5.
    public var significance = 3
    /// What happened.
    public var narrative = ""
    /// The client's words, verbatim.
    public var clientWords = ""
    /// The therapist's reflection on their own part.
    public var therapistContribution = ""
    /// The 3RS rating of the therapist's contribution, 1–5.
    public var therapistContributionRating: Int?
    /// How intense the client said it was (PSQ), 1–5 (logged ruptures).
    public var clientReportedIntensity: Int?
    /// How far it was resolved, 1–5 (logged ruptures).
    public var resolutionRating: Int?
    /// How the client responded over the rupture's course (logged ruptures).
    public var clientResponse: Set<ClientResponse> = []
    /// The current status (logged ruptures).
    public private(set) var status: RuptureStatus = .unaddressed
    /// Logged repair attempts.
    public private(set) var repairAttempts: [RepairAttempt] = []
    /// The rupture as last read from the vault (logged ruptures); edits are measured against it.
    public private(set) var stored: RuptureEvent?
    /// The repair attempt being written.
    public var repairDraft = RepairDraft()
    /// The last Mend error.
    public private(set) var lastError: VaultError?
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext, clientId: String, sessionId: String?) {
        self.context = context
        self.clientId = clientId
        self.sessionId = sessionId
        occurredAt = context.environment.time.now
    }

    init(context: NotebookContext, ruptureId: String) {
        self.context = context
        self.ruptureId = ruptureId
        clientId = ""
        occurredAt = context.environment.time.now
        reload()
    }

    /// Whether this is a logged rupture. Its date, session, minute, initiator, how it was noticed,
    /// record class, alliance dimensions, the client's words and the therapist's contribution and
    /// its rating are then read-only (Mend has no update for them); the rest can be edited.
    public var isLogged: Bool { ruptureId != nil }

    /// Problems that block saving (a new rupture, or the edits of a logged one).
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if !(1...5).contains(significance) { e.append(FieldError("significance", "must be between 1 and 5")) }
        if markers.isEmpty { e.append(FieldError("markers", "choose at least one 3RS marker")) }
        for (field, text) in [("narrative", narrative), ("client's words", clientWords), ("therapist contribution", therapistContribution)]
        where text.utf8.count > 1 << 20 {
            e.append(FieldError(field, "must be at most 1 MiB"))
        }
        if let stored {
            Self.checkRating("client-reported intensity", clientReportedIntensity, stored: stored.clientReportedIntensity, into: &e)
            Self.checkRating("resolution rating", resolutionRating, stored: stored.resolutionRating, into: &e)
            // Mend's update adds precipitants and client responses but has no way to remove one.
            if !Set(stored.precipitants).isSubset(of: precipitants) {
                e.append(FieldError("precipitants", "a logged precipitant cannot be removed"))
            }
            if !Set(stored.clientResponse).isSubset(of: clientResponse) {
                e.append(FieldError("client's response", "a logged response cannot be removed"))
            }
        } else {
            if occurredAt > context.environment.time.now.addingTimeInterval(60) {
                e.append(FieldError("date", "a rupture cannot be logged in the future"))
            }
            if let m = atMinute {
                if sessionId == nil {
                    e.append(FieldError("minute in session", "only for a rupture in a session"))
                } else if !(0...600).contains(m) {
                    e.append(FieldError("minute in session", "must be between 0 and 600"))
                }
            }
            if let v = therapistContributionRating, !(1...5).contains(v) {
                e.append(FieldError("therapist contribution rating", "must be between 1 and 5"))
            }
        }
        return e
    }

    private static func checkRating(_ field: String, _ value: Int?, stored: Int64?, into e: inout [FieldError]) {
        if let v = value, !(1...5).contains(v) {
            e.append(FieldError(field, "must be between 1 and 5"))
        } else if value == nil, stored != nil {
            e.append(FieldError(field, "cannot be cleared once saved"))
        }
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
    public func toggle(_ marker: RuptureMarker) {
        if markers.contains(marker) { markers.remove(marker) } else { markers.insert(marker) }
    }

    /// Toggles a precipitant (a logged one stays: see `canRemove`).
    public func toggle(_ precipitant: Precipitant) {
        if !precipitants.contains(precipitant) {
            precipitants.insert(precipitant)
        } else if canRemove(precipitant) {
            precipitants.remove(precipitant)
        }
    }

    /// Toggles an alliance dimension (new ruptures).
    public func toggle(_ dimension: AllianceDimension) {
        guard !isLogged else { return }
        if allianceDimensions.contains(dimension) { allianceDimensions.remove(dimension) } else { allianceDimensions.insert(dimension) }
    }

    /// Toggles one of the client's responses (a logged one stays: see `canRemove`).
    public func toggle(_ response: ClientResponse) {
        if !clientResponse.contains(response) {
            clientResponse.insert(response)
        } else if canRemove(response) {
            clientResponse.remove(response)
        }
    }

    /// Whether a precipitant can be unticked: not once it is part of the logged rupture.
    public func canRemove(_ precipitant: Precipitant) -> Bool { !(stored?.precipitants.contains(precipitant) ?? false) }

    /// Whether a client response can be unticked: not once it is part of the logged rupture.
    public func canRemove(_ response: ClientResponse) -> Bool { !(stored?.clientResponse.contains(response) ?? false) }

    // MARK: - Saving

    /// Logs the new rupture; returns its id. Throws `FormErrors` (checked here first) or the
    /// `VaultError` Mend gives.
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
            therapistContributionRating: therapistContributionRating.map(Int64.init))
        let id = try record { try $0.createRupture(rupture: new, by: context.signer.id) }
        ruptureId = id
        reload(keepingEdits: false)
        context.publish([id, clientId], origin: .local, from: self)
        return id
    }

    /// What differs between the form and the logged rupture, as Mend's update (nil: nothing, or
    /// not logged). Only changed fields are set, so a save never rewrites what another device
    /// changed meanwhile in a field this form left alone.
    public var pendingUpdate: RuptureUpdate? {
        guard let r = stored else { return nil }
        var u = RuptureUpdate()
        if Int64(significance) != r.significance { u.significance = Int64(significance) }
        if let v = clientReportedIntensity.map(Int64.init), v != r.clientReportedIntensity { u.clientReportedIntensity = v }
        if let v = resolutionRating.map(Int64.init), v != r.resolutionRating { u.resolutionRating = v }
        if movement != r.movement { u.movement = movement }
        let storedMarkers = Set(r.markers)
        u.addMarkers = RuptureMarker.all.filter { markers.contains($0) && !storedMarkers.contains($0) }
        u.removeMarkers = RuptureMarker.all.filter { storedMarkers.contains($0) && !markers.contains($0) }
        u.addPrecipitants = Precipitant.all.filter { precipitants.contains($0) && !r.precipitants.contains($0) }
        u.addClientResponse = ClientResponse.all.filter { clientResponse.contains($0) && !r.clientResponse.contains($0) }
        if narrative != r.narrative { u.narrative = narrative }
        return u == RuptureUpdate() ? nil : u
    }

    /// Whether a logged rupture has edits not saved yet.
    public var hasUnsavedChanges: Bool { pendingUpdate != nil }

    /// Saves the edits of a logged rupture as one update of the changed fields. A changed
    /// significance made concurrently on another device becomes a conflict in the inbox rather
    /// than a silent winner; marker and precipitant changes merge with the other device's.
    public func saveChanges() throws {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "log the rupture first")]) }
        guard errors.isEmpty else { throw FormErrors(errors) }
        guard let update = pendingUpdate else { return }
        try change(keepingEdits: false) { try $0.updateRupture(id: id, update: update) }
    }

    /// Drops unsaved edits of a logged rupture.
    public func discardChanges() {
        if let stored { show(stored, keepingEdits: false) }
    }

    /// Moves the rupture to `status` (a log: the latest change wins, and a merge never regresses it).
    public func setStatus(_ status: RuptureStatus) throws {
        guard let id = ruptureId else { return }
        try change { try $0.setRuptureStatus(id: id, status: status, at: context.nowMillis, by: context.signer.id) }
    }

    /// Logs `repairDraft` as a repair attempt; returns its id.
    @discardableResult
    public func addRepairAttempt() throws -> String {
        guard let id = ruptureId else { throw FormErrors([FieldError("rupture", "save the rupture first")]) }
        guard repairDraft.errors.isEmpty else { throw FormErrors(repairDraft.errors) }
        let d = repairDraft
        var attemptId = ""
        try change { vault in
            attemptId = try vault.addRepairAttempt(id: id, attempt: NewRepairAttempt(
                sessionId: sessionId, at: context.nowMillis,
                strategies: RepairStrategy.all.filter(d.strategies.contains),
                clientResponse: ClientResponse.all.filter(d.clientResponse.contains),
                effect: d.effect.map(Int64.init), note: d.note))
        }
        repairDraft = RepairDraft()
        return attemptId
    }

    /// Reads the logged rupture again, keeping the fields edited here and not saved yet.
    public func reload() { reload(keepingEdits: true) }

    private func reload(keepingEdits: Bool) {
        guard let id = ruptureId else { return }
        do {
            show(try mend { try context.vault().rupture(id: id) }, keepingEdits: keepingEdits)
        } catch {
            fail(error)
        }
    }

    /// Shows `r`. Keeping edits, a field the user changed keeps its value (a set keeps the user's
    /// additions and removals on top of `r`) and the others take `r`'s. A narrative edited on
    /// both sides keeps this form's text, and saving it writes that text.
    private func show(_ r: RuptureEvent, keepingEdits: Bool) {
        if keepingEdits, let was = stored {
            movement = Self.merged(movement, was: was.movement, now: r.movement)
            markers = Self.mergedSet(markers, was: Set(was.markers), now: Set(r.markers))
            precipitants = Self.mergedSet(precipitants, was: Set(was.precipitants), now: Set(r.precipitants))
            clientResponse = Self.mergedSet(clientResponse, was: Set(was.clientResponse), now: Set(r.clientResponse))
            significance = Self.merged(significance, was: Int(was.significance), now: Int(r.significance))
            clientReportedIntensity = Self.merged(clientReportedIntensity, was: was.clientReportedIntensity.map(Int.init),
                                                  now: r.clientReportedIntensity.map(Int.init))
            resolutionRating = Self.merged(resolutionRating, was: was.resolutionRating.map(Int.init), now: r.resolutionRating.map(Int.init))
            narrative = Self.merged(narrative, was: was.narrative, now: r.narrative)
        } else {
            movement = r.movement
            markers = Set(r.markers)
            precipitants = Set(r.precipitants)
            clientResponse = Set(r.clientResponse)
            significance = Int(r.significance)
            clientReportedIntensity = r.clientReportedIntensity.map(Int.init)
            resolutionRating = r.resolutionRating.map(Int.init)
            narrative = r.narrative
        }
        clientId = r.clientId
        sessionId = r.sessionId
        occurredAt = Date(mendMillis: r.occurredAt)
        atMinute = r.atMinute.map(Int.init)
        initiatedBy = r.initiatedBy
        detectedBy = r.detectedBy
        recordClass = r.recordClass
        allianceDimensions = Set(r.allianceDimensions)
        clientWords = r.clientWords
        therapistContribution = r.therapistContribution
        therapistContributionRating = r.therapistContributionRating.map(Int.init)
        status = r.status
        repairAttempts = r.repairAttempts
        stored = r
    }

    private static func merged<T: Equatable>(_ form: T, was: T, now: T) -> T { form == was ? now : form }

    private static func mergedSet<T>(_ form: Set<T>, was: Set<T>, now: Set<T>) -> Set<T> {
        now.union(form.subtracting(was)).subtracting(was.subtracting(form))
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
        try record(body)
        reload(keepingEdits: keepingEdits)
        if let id = ruptureId { context.publish([id, clientId], origin: .local, from: self) }
    }

    private func fail(_ error: Error) {
        lastError = error as? VaultError
        errorMessage = UserMessage.describe(error)
    }

    /// Reloads a logged rupture changed elsewhere, keeping unsaved edits.
    public func recordsChanged(_ batch: ChangeBatch) {
        if let id = ruptureId, batch.ids.contains(id) { reload() }
    }
}
