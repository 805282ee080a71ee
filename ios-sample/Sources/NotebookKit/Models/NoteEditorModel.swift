// The note editor: SOAP, DAP, BIRP, GIRP or free sections with live typing (each change becomes
// one minimal splice, so concurrent typing on two devices merges character by character), the risk
// assessment, signing (after which Mend refuses edits with `NoteLocked`), addenda and their
// signatures, co-signing, and late edits made elsewhere after signing (a divergence the clinician
// keeps as an addendum or discards).
import Foundation
import Mend
import Observation

/// One section as the editor shows it.
public struct SectionState: Identifiable, Equatable, Sendable {
    /// The section key (e.g. `subjective`).
    public let id: String
    /// The text.
    public var text: String
    /// The title.
    public var title: String { NoteSectionInfo.title(id) }
    /// The placeholder.
    public var prompt: String { NoteSectionInfo.prompt(id) }
}

/// A new addendum to a signed note.
public struct AddendumDraft: Equatable, Sendable {
    /// Its kind.
    public var kind: AddendumKind = .addendum
    /// Why it is added.
    public var reason = ""
    /// Its text.
    public var body = ""
    /// The sections it amends.
    public var targets: Set<String> = []

    /// An empty draft.
    public init() {}

    /// What must be fixed before it can be added.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { e.append(FieldError("reason", "say why the addendum is needed")) }
        if body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { e.append(FieldError("body", "write the addendum")) }
        return e
    }
}

/// The smallest splice turning `old` into `new`, in UTF-16 code units (Mend's text unit, the one
/// UITextView and `NSRange` count): delete `delete` UTF-16 units at `position`, then insert
/// `insert`. Not `Character` counts (grapheme clusters) nor Unicode scalars.
public struct TextSplice: Equatable, Sendable {
    /// Where, in UTF-16 code units (an `NSRange` location).
    public let position: Int
    /// How many UTF-16 code units to delete (an `NSRange` length).
    public let delete: Int
    /// What to insert.
    public let insert: String

    /// A splice with these parts.
    public init(position: Int, delete: Int, insert: String) {
        self.position = position
        self.delete = delete
        self.insert = insert
    }

    /// The splice between two texts, or nil when they are equal. Walks both texts once from each
    /// end without copying them (the editor calls this on every keystroke, and notes can be long).
    /// The walk steps by Unicode scalar, so neither end ever falls inside a surrogate pair (which
    /// Mend refuses), and counts each scalar's UTF-16 width.
    public init?(from old: String, to new: String) {
        let a = old.unicodeScalars, b = new.unicodeScalars
        var ia = a.startIndex, ib = b.startIndex, prefix = 0
        while ia < a.endIndex, ib < b.endIndex, a[ia] == b[ib] {
            prefix += UTF16.width(a[ia])
            a.formIndex(after: &ia)
            b.formIndex(after: &ib)
        }
        var ja = a.endIndex, jb = b.endIndex
        while ja > ia, jb > ib {
            let pa = a.index(before: ja), pb = b.index(before: jb)
            guard a[pa] == b[pb] else { break }
            ja = pa
            jb = pb
        }
        let delete = a[ia..<ja].reduce(0) { $0 + UTF16.width($1) }
        guard delete > 0 || ib < jb else { return nil }
        position = prefix
        self.delete = delete
        insert = String(b[ib..<jb])
    }
}

/// The editor of one note.
@MainActor
@Observable
public final class NoteEditorModel: RecordsObserving {
    /// The note.
    public let noteId: String
    /// The client it belongs to.
    public private(set) var clientId = ""
    /// Its format.
    public private(set) var format: NoteFormat = .free
    /// Its sections, in the format's order.
    public private(set) var sections: [SectionState] = []
    /// Its lifecycle state.
    public private(set) var state: NoteState = .draft
    /// Its signatures.
    public private(set) var signatures: [Signature] = []
    /// Its addenda.
    public private(set) var addenda: [Addendum] = []
    /// The risk assessment.
    public private(set) var risk = Risk(si: .notAssessed, hi: .notAssessed, note: "")
    /// Late edits made on another device after signing, awaiting a decision.
    public private(set) var divergence: Divergence?
    /// The addendum being written.
    public var addendumDraft = AddendumDraft()
    /// The last Mend error (e.g. `.noteLocked`).
    public private(set) var lastError: VaultError?
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext, noteId: String) {
        self.context = context
        self.noteId = noteId
        reload()
    }

    /// Whether the sections can still be edited (only drafts can).
    public var isEditable: Bool { state == .draft }

    /// The text of a section.
    public func text(_ key: String) -> String { sections.first { $0.id == key }?.text ?? "" }

    /// Reads the note again (after a sync, or to drop a refused edit).
    public func reload() {
        do {
            let vault = try context.vault()
            let note = try mend { try vault.note(id: noteId) }
            clientId = note.clientId
            format = note.format
            let stored = Dictionary(note.sections.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a })
            sections = format.sectionKeys.map { SectionState(id: $0, text: stored[$0] ?? "") }
            state = note.state
            signatures = note.signatures
            addenda = note.addenda
            risk = note.risk
            divergence = state == .draft ? nil : try mend { try vault.noteDivergence(id: noteId) }
        } catch {
            fail(error)
        }
    }

    // MARK: - Typing

    /// Live typing: stores the change from the section's current text to `newText` as one
    /// minimal splice. On a signed note Mend refuses (`lastError == .noteLocked`) and the text
    /// goes back to what is stored.
    public func edit(_ key: String, to newText: String) {
        guard let index = sections.firstIndex(where: { $0.id == key }) else { return }
        guard let splice = TextSplice(from: sections[index].text, to: newText) else { return }
        context.touched()
        do {
            try mend {
                try context.vault().spliceNoteSection(id: noteId, section: key, pos: UInt64(splice.position),
                                                      delete: UInt64(splice.delete), insert: splice.insert)
            }
            sections[index].text = newText
            lastError = nil
            errorMessage = nil
            context.publish([noteId], origin: .typing, from: self)
        } catch {
            fail(error)
            reload()
        }
    }

    /// Sets the risk assessment (suicidal and homicidal ideation, with a note).
    public func setRisk(si: RiskLevel, hi: RiskLevel, note: String) {
        perform { try $0.setNoteRisk(id: noteId, risk: Risk(si: si, hi: hi, note: note)) }
    }

    // MARK: - Signing

    /// Signs the note as its author; with `needsCosign` it waits for a supervisor. Afterwards the
    /// sections are locked. An empty note is not signed.
    public func sign(needsCosign: Bool = false) {
        guard sections.contains(where: { !$0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) else {
            errorMessage = "Write the note before signing it."
            return
        }
        perform { vault in
            try vault.signNote(id: noteId, request: request(role: .author, meaning: .authored, needsCosign: needsCosign))
        }
    }

    /// Co-signs a note that awaits a supervisor.
    public func cosign() {
        perform { try $0.signNote(id: noteId, request: request(role: .supervisor, meaning: .cosigned, needsCosign: false)) }
    }

    private func request(role: SignerRole, meaning: SignatureMeaning, needsCosign: Bool) -> SignRequest {
        let signer = context.signer
        return SignRequest(signerId: signer.id, signerName: signer.name, role: role, meaning: meaning,
                           needsCosign: needsCosign, signedAt: context.nowMillis)
    }

    // MARK: - Addenda

    /// Adds `addendumDraft` to the signed note (unsigned until `signAddendum`); returns its id.
    @discardableResult
    public func addAddendum() throws -> String {
        guard !isEditable else { throw FormErrors([FieldError("note", "sign the note first; drafts are edited directly")]) }
        guard addendumDraft.errors.isEmpty else { throw FormErrors(addendumDraft.errors) }
        let d = addendumDraft
        var id = ""
        try performThrowing { vault in
            id = try vault.addAddendum(id: noteId, addendum: NewAddendum(
                kind: d.kind, reason: d.reason, body: d.body, targets: format.sectionKeys.filter(d.targets.contains),
                authorId: context.signer.id, createdAt: context.nowMillis))
        }
        addendumDraft = AddendumDraft()
        return id
    }

    /// Signs an addendum.
    public func signAddendum(_ addendumId: String) {
        perform { try $0.signAddendum(id: noteId, addendumId: addendumId, request: request(role: .author, meaning: .authored, needsCosign: false)) }
    }

    // MARK: - Late edits

    /// Keeps the late edits as a draft addendum (returned), to review and sign.
    @discardableResult
    public func keepDivergenceAsAddendum() -> String? {
        var id: String?
        perform { id = try $0.resolveDivergence(id: noteId, keepAsAddendum: true, authorId: context.signer.id, at: context.nowMillis) }
        return id
    }

    /// Discards the late edits; the signed note stays as signed.
    public func discardDivergence() {
        perform { _ = try $0.resolveDivergence(id: noteId, keepAsAddendum: false, authorId: context.signer.id, at: context.nowMillis) }
    }

    // MARK: - Plumbing

    private func perform(_ body: (Vault) throws -> Void) {
        do { try performThrowing(body) } catch { fail(error) }
    }

    private func performThrowing(_ body: (Vault) throws -> Void) throws {
        context.touched()
        try mend { try body(context.vault()) }
        lastError = nil
        errorMessage = nil
        reload()
        context.publish([noteId, clientId], origin: .local, from: self)
    }

    private func fail(_ error: Error) {
        lastError = error as? VaultError ?? (error is FormErrors ? nil : VaultError(error))
        errorMessage = UserMessage.describe(error)
    }

    /// Reloads when this note changed elsewhere (another device's typing arrives by sync).
    public func recordsChanged(_ batch: ChangeBatch) {
        if batch.ids.contains(noteId) { reload() }
    }
}
