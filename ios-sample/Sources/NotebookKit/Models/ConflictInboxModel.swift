// The conflict inbox: clinically meaningful fields (a client's status, a note's format and risk
// levels, a rupture's significance) that two devices changed concurrently. Mend does not pick a
// silent winner for these; the inbox shows every competing value with the device that wrote it (by
// the name its owner gave it) and when, and the clinician chooses. The choice syncs to the other
// devices. Mend names each conflict's record kind and client, so the inbox titles and attributes it
// without reading the record itself.
import Foundation
import Mend
import Observation

/// One competing value.
public struct ConflictOption: Identifiable, Hashable, Sendable {
    /// The stored value.
    public let value: String
    /// The value typed, which `resolve` passes to Mend (nil: not a valid value of the field,
    /// which cannot be chosen).
    public let choice: ConflictChoice?
    /// The value for display.
    public let label: String
    /// Who wrote it: "This device", the device's name, or a short device id.
    public let device: String
    /// When it was written.
    public let date: Date?
    /// The value itself identifies the option.
    public var id: String { value }
}

/// One conflicted field.
public struct ConflictItem: Identifiable, Hashable, Sendable {
    /// The record.
    public let recordId: String
    /// What kind of record it is.
    public let recordKind: RecordKind
    /// The client the record belongs to (for a client record, itself).
    public let clientId: String
    /// The field (`status`, `format`, `risk.si`, `risk.hi`, `significance`).
    public let field: String
    /// "Client status", "Rupture significance"…
    public let title: String
    /// The client's alias, when it can be read.
    public let clientAlias: String?
    /// The competing values, oldest first.
    public let options: [ConflictOption]
    /// Unique per record and field.
    public var id: String { "\(recordId)/\(field)" }
}

/// The conflict inbox.
@MainActor
@Observable
public final class ConflictInboxModel: RecordsObserving {
    /// Open conflicts.
    public private(set) var items: [ConflictItem] = []
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext) {
        self.context = context
        reload()
    }

    /// How many conflicts wait (the tab badge).
    public var count: Int { items.count }

    /// Reads the open conflicts again.
    public func reload() {
        do {
            let vault = try context.vault()
            let me = vault.deviceId()
            var names: [String: String] = [:]
            for d in vault.devices() { names[d.id] = d.name }
            var aliases: [String: String?] = [:]
            var found: [ConflictItem] = []
            for c in try vault.conflicts() {
                let alias: String?
                if let cached = aliases[c.clientId] {
                    alias = cached
                } else {
                    alias = try? vault.client(id: c.clientId).aliasCode
                    aliases[c.clientId] = alias
                }
                found.append(ConflictItem(
                    recordId: c.recordId, recordKind: c.recordKind, clientId: c.clientId, field: c.field,
                    title: Self.title(kind: c.recordKind, field: c.field), clientAlias: alias,
                    options: c.values.map { v in
                        ConflictOption(value: v.value, choice: v.choice, label: Self.label(kind: c.recordKind, field: c.field, value: v.value),
                                       device: v.deviceId.map { $0 == me ? "This device" : DeviceRow.label(name: names[$0], id: $0) }
                                           ?? "Unknown device",
                                       date: v.at.map(Date.init(mendMillis:)))
                    }))
            }
            items = found
            errorMessage = nil
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    /// Resolves a conflict by choosing one of its values.
    public func resolve(_ item: ConflictItem, choosing option: ConflictOption) {
        context.touched()
        do {
            guard let choice = option.choice else {
                throw VaultError.validation(field: item.field, reason: "this value is not valid for the field")
            }
            try mend { try context.vault().resolveConflictWith(recordId: item.recordId, choice: choice) }
            errorMessage = nil
            reload()
            context.publish([item.recordId, item.clientId], origin: .local, from: self)
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    /// The title of a conflicted field of a record of `kind`.
    static func title(kind: RecordKind, field: String) -> String {
        switch (kind, field) {
        case (.client, "status"): "Client status"
        case (.note, "format"): "Note format"
        case (.note, "risk.si"): "Suicidal ideation risk"
        case (.note, "risk.hi"): "Homicidal ideation risk"
        case (.rupture, "significance"): "Rupture significance"
        default: "\(kind.label): \(field)"
        }
    }

    /// A stored value of a conflicted field, for display.
    static func label(kind: RecordKind, field: String, value: String) -> String {
        switch (kind, field) {
        case (.client, "status"): ClientStatus.all.first { $0.stored == value }?.label ?? value
        case (.note, "risk.si"), (.note, "risk.hi"): RiskLevel.all.first { $0.stored == value }?.label ?? value
        case (.note, "format"): NoteFormat.all.first { $0.stored == value }?.label ?? value
        case (.rupture, "significance"): "\(value) of 5"
        default: value
        }
    }

    /// Reloads after a sync (conflicts only arise from merges) or when a listed record changed.
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin != .typing else { return }
        if batch.origin == .sync || items.contains(where: { batch.ids.contains($0.recordId) }) { reload() }
    }
}
