// The rupture log form (clinical-model.md §4.3, RuptureEvent): movement (3RS moving away / against),
// who initiated it, 3RS markers, precipitants, a 1–5 significance, narrative, the client's words and
// the therapist's own contribution; then, on a logged rupture, repair attempts (strategies, the
// client's response, effect) and status changes. Validation runs before anything is written and
// reports fields and rules only, never the text typed.
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

/// The rupture form: a new rupture, or a logged one (significance, repair, status).
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
    /// Withdrawal, confrontation or mixed.
    public var movement: Movement = .withdrawal
    /// Who initiated it.
    public var initiatedBy: InitiatedBy = .client
    /// Psychotherapy note (the default, kept under a separate key) or progress record.
    public var recordClass: RecordClass = .psychotherapyNote
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
    /// The current status (logged ruptures).
    public private(set) var status: RuptureStatus = .unaddressed
    /// Logged repair attempts.
    public private(set) var repairAttempts: [RepairAttempt] = []
    /// The repair attempt being written.
    public var repairDraft = RepairDraft()
    /// The last Mend error.
    public private(set) var lastError: VaultError?
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext
    @ObservationIgnored private var storedSignificance = 3

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

    /// Whether this is a logged rupture (movement, markers and the texts are then read-only).
    public var isLogged: Bool { ruptureId != nil }

    /// Problems that block saving a new rupture.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if !(1...5).contains(significance) { e.append(FieldError("significance", "must be between 1 and 5")) }
        if markers.isEmpty { e.append(FieldError("markers", "choose at least one 3RS marker")) }
        if occurredAt > context.environment.time.now.addingTimeInterval(60) {
            e.append(FieldError("date", "a rupture cannot be logged in the future"))
        }
        for (field, text) in [("narrative", narrative), ("client's words", clientWords), ("therapist contribution", therapistContribution)]
        where text.utf8.count > 1 << 20 {
            e.append(FieldError(field, "must be at most 1 MiB"))
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
    public func toggle(_ marker: RuptureMarker) {
        if markers.contains(marker) { markers.remove(marker) } else { markers.insert(marker) }
    }

    /// Toggles a precipitant.
    public func toggle(_ precipitant: Precipitant) {
        if precipitants.contains(precipitant) { precipitants.remove(precipitant) } else { precipitants.insert(precipitant) }
    }

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
            therapistContribution: therapistContribution)
        let id = try record { try $0.createRupture(rupture: new, by: context.signer.id) }
        ruptureId = id
        reload()
        context.publish([id, clientId], origin: .local, from: self)
        return id
    }

    /// Stores a changed significance on a logged rupture (concurrent changes on two devices
    /// become a conflict in the inbox rather than a silent winner).
    public func saveSignificance() throws {
        guard let id = ruptureId else { return }
        guard (1...5).contains(significance) else { throw FormErrors([FieldError("significance", "must be between 1 and 5")]) }
        guard significance != storedSignificance else { return }
        try change { try $0.setRuptureSignificance(id: id, significance: Int64(significance)) }
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

    /// Reads the logged rupture again.
    public func reload() {
        guard let id = ruptureId else { return }
        do {
            let r = try mend { try context.vault().rupture(id: id) }
            clientId = r.clientId
            sessionId = r.sessionId
            occurredAt = Date(mendMillis: r.occurredAt)
            movement = r.movement
            initiatedBy = r.initiatedBy
            markers = Set(r.markers)
            precipitants = Set(r.precipitants)
            significance = Int(r.significance)
            storedSignificance = significance
            narrative = r.narrative
            status = r.status
            repairAttempts = r.repairAttempts
        } catch {
            fail(error)
        }
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

    private func change(_ body: (Vault) throws -> Void) throws {
        context.touched()
        try record(body)
        reload()
        if let id = ruptureId { context.publish([id, clientId], origin: .local, from: self) }
    }

    private func fail(_ error: Error) {
        lastError = error as? VaultError
        errorMessage = UserMessage.describe(error)
    }

    /// Reloads a logged rupture changed elsewhere.
    public func recordsChanged(_ batch: ChangeBatch) {
        if let id = ruptureId, batch.ids.contains(id) { reload() }
    }
}
