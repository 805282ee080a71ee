// One unlocked notebook: the vault handle, the long-lived models (client list, conflict inbox,
// sync, settings) and factories for per-screen models. Changes fan out here: every model that
// writes reports the ids it touched, a sync reports what it applied, and each live model decides
// whether to reload. (Mend's `VaultObserver` would report the same ids; routing them here keeps
// the order deterministic and lets a typing model skip reloading its own keystrokes.)
import Foundation
import Mend
import Observation

/// A set of changed records and where the change came from.
public struct ChangeBatch: Sendable {
    /// Where a change came from.
    public enum Origin: Sendable {
        /// A write on this device.
        case local
        /// Typing into a note (text only; lists and counts are unchanged).
        case typing
        /// Applied by a sync.
        case sync
    }

    /// The changed record ids.
    public let ids: Set<String>
    /// Where the change came from.
    public let origin: Origin
}

/// A model that reloads when records change.
@MainActor
public protocol RecordsObserving: AnyObject {
    /// Records changed.
    func recordsChanged(_ batch: ChangeBatch)
}

/// What every model of one session shares: the vault handle (released when the notebook locks),
/// the environment, and the way back to the session for change fan-out. Models hold this, not the
/// session, so the session and its models form no reference cycle.
@MainActor
final class NotebookContext {
    private var handle: Vault?
    let environment: NotebookEnvironment
    weak var session: NotebookSession?
    weak var app: AppModel?

    init(vault: Vault, environment: NotebookEnvironment, app: AppModel?) {
        handle = vault
        self.environment = environment
        self.app = app
    }

    /// The vault; throws once the notebook has locked (a `MendError`, so `mend { }` maps it to
    /// `VaultError.invalidState` like any other refusal).
    func vault() throws -> Vault {
        guard let handle else { throw MendError.InvalidState(reason: "the notebook is locked") }
        return handle
    }

    var isOpen: Bool { handle != nil }

    /// The clinician who signs and authors, from the settings.
    var signer: (id: String, name: String) {
        let s = environment.settings.load()
        return (s.signerId, s.signerName.isEmpty ? "Clinician" : s.signerName)
    }

    /// The current time in Mend's unit.
    var nowMillis: Int64 { environment.time.nowMillis }

    /// Tells the app the user did something (postpones the inactivity lock).
    func touched() { app?.recordActivity() }

    /// Fans a change out to every live model except `source`.
    func publish(_ ids: [String], origin: ChangeBatch.Origin, from source: AnyObject? = nil) {
        session?.publish(ids, origin: origin, from: source)
    }

    func close() { handle = nil }
}

/// The open notebook.
@MainActor
@Observable
public final class NotebookSession {
    /// The environment.
    public let environment: NotebookEnvironment
    /// The client list.
    public let clients: ClientListModel
    /// The conflict inbox.
    public let conflicts: ConflictInboxModel
    /// Sync status and progress.
    public let sync: SyncModel
    /// Settings: relay, devices, invites, erasure.
    public let settings: SettingsModel

    @ObservationIgnored let context: NotebookContext
    @ObservationIgnored private var observers: [WeakObserver]

    init(vault: Vault, environment: NotebookEnvironment, app: AppModel?) {
        self.environment = environment
        let context = NotebookContext(vault: vault, environment: environment, app: app)
        self.context = context
        clients = ClientListModel(context: context)
        conflicts = ConflictInboxModel(context: context)
        sync = SyncModel(context: context)
        settings = SettingsModel(context: context)
        let longLived: [RecordsObserving] = [clients, conflicts, sync, settings]
        observers = longLived.map { WeakObserver(model: $0) }
        context.session = self
    }

    /// A standalone session over an open vault (for tests and previews; nothing to lock).
    public convenience init(vault: Vault, environment: NotebookEnvironment) {
        self.init(vault: vault, environment: environment, app: nil)
    }

    /// This device's id.
    public var deviceId: String { (try? context.vault().deviceId()) ?? "" }

    // MARK: - Screens

    /// The timeline of a client.
    public func timeline(clientId: String) -> TimelineModel { observed(TimelineModel(context: context, clientId: clientId)) }

    /// The editor of a note.
    public func noteEditor(noteId: String) -> NoteEditorModel { observed(NoteEditorModel(context: context, noteId: noteId)) }

    /// A form logging a new rupture for a client (optionally in a session).
    public func newRupture(clientId: String, sessionId: String? = nil) -> RuptureFormModel {
        observed(RuptureFormModel(context: context, clientId: clientId, sessionId: sessionId))
    }

    /// The form of a logged rupture: every field but the record class corrected, texts typed live,
    /// repair attempts, status and its history, void.
    public func rupture(id: String) -> RuptureFormModel { observed(RuptureFormModel(context: context, ruptureId: id)) }

    /// A WAI-SR entry form for a client.
    public func measureForm(clientId: String, sessionId: String? = nil) -> MeasureFormModel {
        MeasureFormModel(context: context, clientId: clientId, sessionId: sessionId)
    }

    // MARK: - Fan-out

    func publish(_ ids: [String], origin: ChangeBatch.Origin, from source: AnyObject?) {
        guard context.isOpen else { return }
        let batch = ChangeBatch(ids: Set(ids), origin: origin)
        observers.removeAll { $0.model == nil }
        for o in observers {
            guard let m = o.model, m !== source else { continue }
            m.recordsChanged(batch)
        }
    }

    private func observe(_ model: RecordsObserving) {
        observers.append(WeakObserver(model: model))
    }

    private func observed<M: RecordsObserving>(_ model: M) -> M {
        observe(model)
        return model
    }

    /// Stops any sync, stops fan-out and releases the vault handle (the notebook is locking).
    func close() {
        sync.cancel()
        observers.removeAll()
        context.close()
    }
}

private struct WeakObserver {
    weak var model: RecordsObserving?
}
