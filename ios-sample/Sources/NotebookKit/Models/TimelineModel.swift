// A client's timeline: sessions, notes, ruptures and alliance measures by date (from Mend's
// encrypted summaries, so it is instant with thousands of notes), the WAI-SR alliance trend as
// chart-ready series with session-to-session drops flagged (clinical-model.md §4.5 item 4), and the
// actions that add to it: a session, a note for a session, a rupture, a measure; and what became of
// a session (completed with its actual start and end, cancelled, or a no-show), which is also what
// tells the rupture form when a session really ended.
import Foundation
import Mend
import Observation

/// One line of the timeline.
public struct TimelineRow: Identifiable, Equatable, Sendable {
    /// What the line is.
    public enum Kind: Equatable, Sendable {
        /// A session.
        case session(SessionStatus)
        /// A note; `state` is Mend's lifecycle name; `diverged` flags late edits after signing.
        case note(NoteFormat, state: String, diverged: Bool)
        /// A rupture; `voided` when it was logged in error (kept, read-only, out of the counts).
        case rupture(Movement, RuptureStatus, significance: Int64, voided: Bool)
        /// A WAI-SR administration.
        case measure(total: Int64?, incomplete: Bool)
        /// A record that cannot be read (damaged, or its client erased).
        case unreadable(erased: Bool)
    }

    /// The record id.
    public let id: String
    /// When (nil for unreadable records).
    public let date: Date?
    /// What the line is.
    public let kind: Kind

    /// A short title, built from record types only (never from clinical text).
    public var title: String {
        switch kind {
        case let .session(status): "Session · \(status.label)"
        case let .note(format, state, diverged):
            "\(format.label) note · \(Self.stateLabel(state))" + (diverged ? " · late edits" : "")
        case let .rupture(movement, status, significance, voided):
            "Rupture · \(movement.label.components(separatedBy: " (").first ?? "") · "
                + (voided ? "voided" : "\(status.label) · significance \(significance)")
        case let .measure(total, incomplete):
            "WAI-SR · " + (total.map { "total \($0)" } ?? "no total") + (incomplete ? " (incomplete)" : "")
        case let .unreadable(erased): erased ? "Erased record" : "Unreadable record"
        }
    }

    /// Whether the line is a voided rupture (the screen strikes it through).
    public var isVoided: Bool {
        if case .rupture(_, _, _, voided: true) = kind { true } else { false }
    }

    static func stateLabel(_ state: String) -> String {
        switch state {
        case "draft": NoteState.draft.label
        case "pendingcosign", "pending_cosign": NoteState.pendingCosign.label
        case "signed": NoteState.signed.label
        case "cosigned": NoteState.cosigned.label
        default: state
        }
    }
}

/// A line of the alliance chart.
public enum AllianceSeries: String, CaseIterable, Sendable {
    /// WAI-SR task subscale (items 1, 2, 10, 12; 4–20).
    case task = "Task"
    /// WAI-SR bond subscale (items 3, 5, 7, 9; 4–20).
    case bond = "Bond"
    /// WAI-SR goal subscale (items 4, 6, 8, 11; 4–20).
    case goal = "Goal"
    /// WAI-SR total (12–60).
    case total = "Total"
}

/// One plotted value.
public struct AllianceSample: Identifiable, Equatable, Sendable {
    /// Unique per measure and series.
    public var id: String { "\(measureId)-\(series.rawValue)" }
    /// The measure.
    public let measureId: String
    /// When it was administered.
    public let date: Date
    /// Which line.
    public let series: AllianceSeries
    /// The score.
    public let value: Int
}

/// A session-to-session drop of the WAI-SR total, an actionable rupture signal.
public struct AllianceDrop: Equatable, Sendable {
    /// The later measure.
    public let measureId: String
    /// When.
    public let date: Date
    /// Total before.
    public let from: Int
    /// Total after.
    public let to: Int
}

/// The fields of a new session.
public struct SessionForm: Equatable, Sendable {
    /// When it starts.
    public var start: Date
    /// Length in minutes (for completed sessions, the actual times are start and start + length).
    public var minutes: Int = 50
    /// Its status.
    public var status: SessionStatus = .completed
    /// Individual, couple, family, group.
    public var modality: Modality = .individual
    /// In person or telehealth.
    public var setting: Setting = .inPerson
    /// Optional CPT code (five digits).
    public var cptCode = ""

    /// A form for a session at `start`.
    public init(start: Date) { self.start = start }

    /// What must be fixed before saving.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if !(1...600).contains(minutes) { e.append(FieldError("length", "between 1 and 600 minutes")) }
        if !cptCode.isEmpty, cptCode.range(of: #"^\d{4}[0-9A-Z]$"#, options: .regularExpression) == nil {
            e.append(FieldError("CPT code", "five characters, such as 90834"))
        }
        return e
    }
}

/// What became of a session: completed with its actual start and end, cancelled (by the client or
/// the therapist, or late) or a no-show. Filled by `TimelineModel.sessionOutcome(id:)`.
public struct SessionOutcomeForm: Identifiable, Equatable, Sendable {
    /// The session.
    public let id: String
    /// When it was scheduled to start.
    public let scheduledStart: Date
    /// Its status.
    public var status: SessionStatus
    /// When it actually started (sent for a completed session only).
    public var actualStart: Date
    /// When it actually ended (sent for a completed session only).
    public var actualEnd: Date

    /// A form for session `id`.
    public init(id: String, scheduledStart: Date, status: SessionStatus, actualStart: Date, actualEnd: Date) {
        self.id = id
        self.scheduledStart = scheduledStart
        self.status = status
        self.actualStart = actualStart
        self.actualEnd = actualEnd
    }

    /// Whether the actual start and end are recorded with this status (a completed session).
    /// For any other status they are not sent, and Mend keeps the ones stored, if any.
    public var takesTimes: Bool { status == .completed }

    /// What must be fixed before saving.
    public var errors: [FieldError] {
        takesTimes && actualEnd < actualStart ? [FieldError("actual end", "must not be before the actual start")] : []
    }
}

/// The timeline screen of one client.
@MainActor
@Observable
public final class TimelineModel: RecordsObserving {
    /// The client.
    public let clientId: String
    /// The client's alias (empty until loaded).
    public private(set) var alias = ""
    /// The client's status.
    public private(set) var status: ClientStatus = .active
    /// Everything, newest first.
    public private(set) var rows: [TimelineRow] = []
    /// WAI-SR totals for the chart, oldest first.
    public private(set) var allianceTotals: [AllianceSample] = []
    /// WAI-SR subscales for the chart, oldest first.
    public private(set) var allianceSubscales: [AllianceSample] = []
    /// Drops of the total of at least `dropThreshold` between consecutive administrations.
    public private(set) var allianceDrops: [AllianceDrop] = []
    /// The weakest subscale at the latest complete administration (what to work on).
    public private(set) var lowestSubscale: AllianceSeries?
    /// Unresolved ruptures, oldest first.
    public private(set) var unresolvedRuptureIds: [String] = []
    /// The drop of the WAI-SR total that is flagged (no published standard; clinics choose).
    public var dropThreshold = 5 { didSet { reload() } }
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?
    /// Whether the client has been erased (the screen should close).
    public private(set) var isErased = false

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext, clientId: String) {
        self.context = context
        self.clientId = clientId
        reload()
    }

    /// Ruptures logged and not voided (a voided rupture stays listed but is not counted).
    public var ruptureCount: Int { rows.filter { if case .rupture(_, _, _, voided: false) = $0.kind { true } else { false } }.count }

    /// Ruptures voided as logged in error.
    public var voidedRuptureCount: Int { rows.filter(\.isVoided).count }

    /// The client's sessions, newest first (for the note and rupture pickers).
    public var sessions: [TimelineRow] { rows.filter { if case .session = $0.kind { true } else { false } } }

    /// Reads the client, timeline and alliance trend again.
    public func reload() {
        do {
            try mend {
                let vault = try context.vault()
                let client = try vault.client(id: clientId)
                alias = client.aliasCode
                status = client.status
                rows = try vault.timeline(clientId: clientId).map(Self.row).reversed()
                unresolvedRuptureIds = try vault.unresolvedRuptures(clientId: clientId)
                chart(try vault.allianceTrend(clientId: clientId))
            }
            errorMessage = nil
        } catch let e as VaultError {
            if case .erased = e { isErased = true; rows = []; allianceTotals = []; allianceSubscales = [] }
            errorMessage = UserMessage.describe(e)
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    nonisolated static func row(_ e: TimelineEntry) -> TimelineRow {
        switch e {
        case let .session(id, at, status): TimelineRow(id: id, date: Date(mendMillis: at), kind: .session(status))
        case let .note(id, at, format, state, diverged):
            TimelineRow(id: id, date: Date(mendMillis: at), kind: .note(format, state: state, diverged: diverged))
        case let .rupture(id, at, movement, status, significance, voided):
            TimelineRow(id: id, date: Date(mendMillis: at), kind: .rupture(movement, status, significance: significance, voided: voided))
        case let .measure(p):
            TimelineRow(id: p.measureId, date: Date(mendMillis: p.administeredAt), kind: .measure(total: p.total, incomplete: p.incomplete))
        case let .unreadable(id, erased): TimelineRow(id: id, date: nil, kind: .unreadable(erased: erased))
        }
    }

    private func chart(_ points: [AlliancePoint]) {
        let points = points.sorted { $0.administeredAt < $1.administeredAt }
        var totals: [AllianceSample] = [], subs: [AllianceSample] = [], drops: [AllianceDrop] = []
        var previous: Int?
        for p in points {
            let date = Date(mendMillis: p.administeredAt)
            for (series, value) in [(AllianceSeries.task, p.task), (.bond, p.bond), (.goal, p.goal)] {
                if let v = value { subs.append(AllianceSample(measureId: p.measureId, date: date, series: series, value: Int(v))) }
            }
            guard let total = p.total.map(Int.init) else { continue }
            totals.append(AllianceSample(measureId: p.measureId, date: date, series: .total, value: total))
            if let before = previous, before - total >= dropThreshold {
                drops.append(AllianceDrop(measureId: p.measureId, date: date, from: before, to: total))
            }
            previous = total
        }
        allianceTotals = totals
        allianceSubscales = subs
        allianceDrops = drops
        if let last = points.last(where: { $0.task != nil && $0.bond != nil && $0.goal != nil }) {
            lowestSubscale = [(AllianceSeries.task, last.task!), (.bond, last.bond!), (.goal, last.goal!)]
                .min { $0.1 < $1.1 }?.0
        } else {
            lowestSubscale = nil
        }
    }

    // MARK: - Actions

    /// Adds a session; returns its id.
    @discardableResult
    public func addSession(_ form: SessionForm) throws -> String {
        guard form.errors.isEmpty else { throw FormErrors(form.errors) }
        context.touched()
        let start = form.start.mendMillis
        let done = form.status == .completed
        let id = try mend {
            try context.vault().createSession(session: NewSession(
                clientId: clientId, scheduledStart: start,
                actualStart: done ? start : nil,
                actualEnd: done ? start + Int64(form.minutes) * 60_000 : nil,
                status: form.status, modality: form.modality, setting: form.setting,
                cptCode: form.cptCode.isEmpty ? nil : form.cptCode))
        }
        changed(id)
        return id
    }

    /// The outcome form for one of the client's sessions, filled from what Mend holds: its
    /// status (completed, when it is still scheduled), its recorded actual start and end, or else
    /// the scheduled start and `SessionForm`'s default length.
    public func sessionOutcome(id: String) throws -> SessionOutcomeForm {
        let s = try mend { try context.vault().session(id: id) }
        let scheduled = Date(mendMillis: s.scheduledStart)
        let start = s.actualStart.map(Date.init(mendMillis:)) ?? scheduled
        let end = s.actualEnd.map(Date.init(mendMillis:)) ?? start.addingTimeInterval(Double(SessionForm(start: start).minutes) * 60)
        return SessionOutcomeForm(id: id, scheduledStart: scheduled, status: s.status == .scheduled ? .completed : s.status,
                                  actualStart: start, actualEnd: end)
    }

    /// Records what became of a session: its status and, for a completed one, its actual start and
    /// end (an end before the start is refused here, and by Mend as `actual_end`). The rupture form
    /// then takes the recorded end as the end of "the session happening now".
    public func recordOutcome(_ form: SessionOutcomeForm) throws {
        guard form.errors.isEmpty else { throw FormErrors(form.errors) }
        context.touched()
        try mend {
            try context.vault().setSessionStatus(id: form.id, status: form.status,
                                                 actualStart: form.takesTimes ? form.actualStart.mendMillis : nil,
                                                 actualEnd: form.takesTimes ? form.actualEnd.mendMillis : nil)
        }
        changed(form.id)
    }

    /// Starts an empty note of `format` for a session; returns its id (open it with
    /// `NotebookSession.noteEditor`).
    @discardableResult
    public func startNote(sessionId: String, format: NoteFormat) throws -> String {
        context.touched()
        let id = try mend {
            try context.vault().createNote(note: NewNote(
                sessionId: sessionId, authorId: context.signer.id, format: format,
                sections: [], createdAt: context.nowMillis))
        }
        changed(id)
        return id
    }

    /// Changes the client's status (active, on hold, discharged…).
    public func setStatus(_ status: ClientStatus) throws {
        context.touched()
        try mend { try context.vault().setClientStatus(id: clientId, status: status) }
        changed(clientId)
    }

    private func changed(_ id: String) {
        reload()
        context.publish([id], origin: .local, from: self)
    }

    /// Reloads when this client or one of its records changed, or after a sync. (Forms that create
    /// a record for this client publish the client id with it.)
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin != .typing else { return }
        if batch.origin == .sync || batch.ids.contains(clientId) || rows.contains(where: { batch.ids.contains($0.id) }) {
            reload()
        }
    }
}
