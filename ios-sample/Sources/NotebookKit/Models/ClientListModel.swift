// The client list: pseudonymous clients by alias, a search filter, and the new-client form.
// Erased clients are left out (their keys are gone; only a flag remains); clients that cannot be
// read are counted so the user knows something is missing.
import Foundation
import Mend
import Observation

/// One client in the list.
public struct ClientRow: Identifiable, Equatable, Sendable {
    /// The client id.
    public let id: String
    /// The pseudonymous alias code.
    public let alias: String
    /// The client's status.
    public let status: ClientStatus
}

/// The fields of a new client, checked before anything is written.
public struct NewClientForm: Equatable, Sendable {
    /// A pseudonymous code such as "C-0142" (never a name).
    public var alias = ""
    /// ISO 3166-2 jurisdiction, e.g. "US-CA" (drives retention).
    public var jurisdiction = ""
    /// Optional birth year.
    public var birthYear: Int?
    /// Optional intake date, YYYY-MM-DD.
    public var intakeDate = ""

    /// An empty form.
    public init(alias: String = "", jurisdiction: String = "", birthYear: Int? = nil, intakeDate: String = "") {
        self.alias = alias
        self.jurisdiction = jurisdiction
        self.birthYear = birthYear
        self.intakeDate = intakeDate
    }

    /// What must be fixed before saving (empty when the form is valid).
    public var errors: [FieldError] {
        var e: [FieldError] = []
        let alias = self.alias.trimmingCharacters(in: .whitespaces)
        if alias.isEmpty { e.append(FieldError("alias", "enter a pseudonymous code")) }
        else if alias.count > 64 { e.append(FieldError("alias", "use at most 64 characters")) }
        else if alias.contains(where: { $0.isNewline }) { e.append(FieldError("alias", "use a single line")) }
        if jurisdiction.range(of: #"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"#, options: .regularExpression) == nil {
            e.append(FieldError("jurisdiction", "use an ISO 3166 code such as US or US-CA"))
        }
        if let y = birthYear, !(1900...2200).contains(y) { e.append(FieldError("birth year", "enter a plausible year")) }
        if !intakeDate.isEmpty, !Self.isDate(intakeDate) { e.append(FieldError("intake date", "use YYYY-MM-DD")) }
        return e
    }

    static func isDate(_ s: String) -> Bool {
        guard s.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) != nil else { return false }
        let parts = s.split(separator: "-").compactMap { Int($0) }
        return (1...12).contains(parts[1]) && (1...31).contains(parts[2])
    }
}

/// The client list screen.
@MainActor
@Observable
public final class ClientListModel: RecordsObserving {
    /// Every readable, non-erased client, by alias.
    public private(set) var clients: [ClientRow] = []
    /// Clients that exist but cannot be read (damaged records).
    public private(set) var unreadableCount = 0
    /// The search text.
    public var query = ""
    /// Whether discharged, transferred and deceased clients are shown.
    public var showInactive = true
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext) {
        self.context = context
        reload()
    }

    /// The clients the list shows, after the search and the inactive filter.
    public var visible: [ClientRow] {
        clients.filter { row in
            (showInactive || row.status == .active || row.status == .onHold)
                && (query.isEmpty || row.alias.localizedCaseInsensitiveContains(query))
        }
    }

    /// Reads the list again (from encrypted summaries; no record is loaded).
    public func reload() {
        do {
            let all = try context.vault().clients()
            clients = all.compactMap { s in
                guard !s.erased, let alias = s.aliasCode, let status = s.status else { return nil }
                return ClientRow(id: s.id, alias: alias, status: status)
            }
            .sorted { $0.alias.localizedStandardCompare($1.alias) == .orderedAscending }
            unreadableCount = all.filter { !$0.erased && $0.aliasCode == nil }.count
            errorMessage = nil
        } catch {
            errorMessage = UserMessage.describe(error)
        }
    }

    /// Adds a client and returns its id. Throws `FormErrors` when the form is invalid, `VaultError` when Mend refuses.
    @discardableResult
    public func addClient(_ form: NewClientForm) throws -> String {
        let errors = form.errors
        guard errors.isEmpty else { throw FormErrors(errors) }
        context.touched()
        let id = try mend {
            try context.vault().createClient(client: NewClient(
                aliasCode: form.alias.trimmingCharacters(in: .whitespaces),
                birthYear: form.birthYear.map(Int64.init),
                jurisdiction: form.jurisdiction,
                intakeDate: form.intakeDate.isEmpty ? nil : form.intakeDate))
        }
        reload()
        context.publish([id], origin: .local, from: self)
        return id
    }

    /// Reloads when a listed client changed, or after a sync (new clients may have arrived).
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin != .typing else { return }
        if batch.origin == .sync || clients.contains(where: { batch.ids.contains($0.id) }) { reload() }
    }
}
