// Entering a client-rated WAI-SR administration: twelve items scored 1 (seldom) to 5 (always),
// Task = 1, 2, 10, 12; Bond = 3, 5, 7, 9; Goal = 4, 6, 8, 11 (Hatcher & Gillaspy 2006). Only item
// numbers and scores are stored; the item wording is licensed and left to the clinic's own form.
import Foundation
import Mend
import Observation

/// The WAI-SR entry form.
@MainActor
@Observable
public final class MeasureFormModel {
    /// The client.
    public let clientId: String
    /// The session it was given in.
    public var sessionId: String?
    /// When it was given.
    public var administeredAt: Date
    /// Scores by item number (1…12); a missing item makes the result incomplete.
    public var scores: [Int: Int] = [:]
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    /// The items of each subscale.
    public static let subscales: [(AllianceSeries, [Int])] = [(.task, [1, 2, 10, 12]), (.bond, [3, 5, 7, 9]), (.goal, [4, 6, 8, 11])]
    /// The items of one subscale (none for `.total`).
    public static func items(of series: AllianceSeries) -> [Int] {
        subscales.first { $0.0 == series }?.1 ?? []
    }
    /// The answer labels of the 5-point scale.
    public static let scaleLabels = ["Seldom", "Sometimes", "Fairly often", "Very often", "Always"]

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext, clientId: String, sessionId: String?) {
        self.context = context
        self.clientId = clientId
        self.sessionId = sessionId
        administeredAt = context.environment.time.now
    }

    /// Problems that block saving.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if scores.isEmpty { e.append(FieldError("items", "score at least one item")) }
        if let bad = scores.keys.sorted().first(where: { !(1...12).contains($0) }) {
            e.append(FieldError("items", "item \(bad) is not a WAI-SR item (1–12)"))
        }
        if let bad = scores.sorted(by: { $0.key < $1.key }).first(where: { !(1...5).contains($0.value) }) {
            e.append(FieldError("item \(bad.key)", "scores run from 1 to 5"))
        }
        return e
    }

    /// Whether every item is scored.
    public var isComplete: Bool { (1...12).allSatisfy { scores[$0] != nil } }

    /// Saves the administration (immutable afterwards); returns its id.
    @discardableResult
    public func save() throws -> String {
        guard errors.isEmpty else { throw FormErrors(errors) }
        context.touched()
        let items = scores.keys.sorted().map { MeasureItem(item: UInt8($0), score: Int64(scores[$0]!)) }
        do {
            let id = try mend {
                try context.vault().recordMeasure(measure: NewMeasure(
                    clientId: clientId, sessionId: sessionId, administeredAt: administeredAt.mendMillis, items: items))
            }
            errorMessage = nil
            context.publish([id, clientId], origin: .local)
            return id
        } catch {
            errorMessage = UserMessage.describe(error)
            throw error
        }
    }
}
