// The conflict inbox: clinically meaningful fields (a client's status, a note's format and risk
// levels, a rupture's significance) that two devices changed concurrently. Mend does not pick a
// silent winner for these; the inbox shows every competing value with the device that wrote it and
// when, and the clinician chooses. The choice syncs to the other devices.
import Foundation
import Mend
import Observation

/// One competing value.
public struct ConflictOption: Identifiable, Equatable, Sendable {
    /// The stored value (what `resolve` takes).
    public let value: String
    /// The value for display.
    public let label: String
    /// Who wrote it: "This device" or a short device id.
    public let device: String
    /// When it was written.
    public let date: Date?
    /// The value itself identifies the option.
    public var id: String { value }
}

/// One conflicted field.
public struct ConflictItem: Identifiable, Equatable, Sendable {
    /// The record.
    public let recordId: String
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
            items = try vault.conflicts().map { c in
                ConflictItem(recordId: c.recordId, field: c.field, title: Self.title(c.field),
                             clientAlias: alias(of: c, in: vault),
                             options: c.values.map { v in
                                 ConflictOption(value: v.value, label: Self.label(field: c.field, value: v.value),
                                                device: v.deviceId.map { $0 == me ? "This device" : "Device …" + String($0.suffix(6)) } ?? "Unknown device",
                                                date: v.at.map(Date.init(mendMillis:)))
                             })
            }
            errorMessage = nil
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    /// Resolves a conflict by choosing one of its values.
    public func resolve(_ item: ConflictItem, choosing option: ConflictOption) {
        context.touched()
        do {
            try mend { try context.vault().resolveConflict(recordId: item.recordId, field: item.field, value: option.value) }
            errorMessage = nil
            reload()
            context.publish([item.recordId], origin: .local, from: self)
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    private func alias(of c: Conflict, in vault: Vault) -> String? {
        let clientId: String?
        switch c.field {
        case "status": clientId = c.recordId
        case "significance": clientId = try? vault.rupture(id: c.recordId).clientId
        default: clientId = try? vault.note(id: c.recordId).clientId
        }
        return clientId.flatMap { try? vault.client(id: $0).aliasCode }
    }

    static func title(_ field: String) -> String {
        switch field {
        case "status": "Client status"
        case "format": "Note format"
        case "risk.si": "Suicidal ideation risk"
        case "risk.hi": "Homicidal ideation risk"
        case "significance": "Rupture significance"
        default: field
        }
    }

    static func label(field: String, value: String) -> String {
        switch field {
        case "status": ClientStatus.all.first { $0.stored == value }?.label ?? value
        case "risk.si", "risk.hi": RiskLevel.all.first { $0.stored == value }?.label ?? value
        case "format": NoteFormat.all.first { $0.stored == value }?.label ?? value
        case "significance": "\(value) of 5"
        default: value
        }
    }

    /// Reloads after a sync (conflicts only arise from merges) or when a listed record changed.
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin != .typing else { return }
        if batch.origin == .sync || items.contains(where: { batch.ids.contains($0.recordId) }) { reload() }
    }
}
