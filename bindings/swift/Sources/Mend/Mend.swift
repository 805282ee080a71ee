// The idiomatic Swift layer over the generated bindings: one error type with a case for
// everything Mend reports, AsyncSequences of changed records, of the lists an app shows and of
// the sync status (each iteration with its own observer), and which errors are worth a retry.
//
// What can block — create or open with a passphrase, join, sync, register, export an invite —
// is `async` in the generated API itself: it runs on a Mend worker thread and never blocks the
// caller, the main actor included. Cancelling the calling `Task` stops a sync at its next safe
// point and cancels the app's HTTP call in flight (`HttpSender.send`).
@_exported import MendFFI
import Foundation

/// Why an invite could not be used.
public enum InviteProblem: Sendable, Equatable {
    /// Not an invite, or damaged.
    case invalid
    /// The one-time code does not open it.
    case wrongCode
    /// Past its expiry time.
    case expired
    /// Another device used it.
    case used
}

/// Errors from Mend, one case for each thing it reports; `description` is Mend's own message
/// for logs (never clinical text or key material).
public enum VaultError: Error, Equatable, CustomStringConvertible {
    case wrongKey
    /// The vault was written by a newer Mend.
    case schemaTooNew(found: Int64, supported: Int64)
    case notAVault(String)
    case corrupt(recordId: String)
    case erased(recordId: String)
    case notFound(recordId: String)
    case noteLocked(noteId: String)
    case validation(field: String, reason: String)
    case invalidState(String)
    case storage(String)
    case badSignature(recordId: String)
    case invite(InviteProblem)
    /// Retryable: the relay could not be reached, timed out or was overloaded; nothing is lost.
    case transport(String)
    /// The relay refused for a reason retrying will not fix: a registration token needed
    /// (`registerHttp`), the vault at its quota or device cap, an unknown vault.
    case relayRefused(RelayRefusal)
    /// This device was revoked by another device of the vault; it can no longer sync.
    case revoked
    /// The relay rejected the request (a wrong address, a server that is not a Mend relay).
    case relayRejected(String)
    /// An argument from the app is malformed (an id that is not a UUID, a key of the wrong size).
    case invalidArgument(String)
    /// The vault is already open in this process: share that `Vault` instead of a second one.
    case alreadyOpen
    /// Another process (an app extension, a widget) has the vault open; try again later.
    case openInAnotherProcess
    /// An internal error in Mend; worth reporting.
    case `internal`(String)
    /// Not an error of Mend's: a malformed id inside a record (uniffi's own check, naming the
    /// argument), or an error the app's code threw.
    case other(String)

    /// Maps any error thrown by the generated layer.
    public init(_ error: Error) {
        if let e = error as? VaultError { self = e; return }
        guard let e = error as? MendError else { self = .other("\(error)"); return }
        switch e {
        case .WrongKey: self = .wrongKey
        case let .SchemaTooNew(found, supported): self = .schemaTooNew(found: found, supported: supported)
        case let .NotAVault(reason): self = .notAVault(reason)
        case let .Corrupt(id, _): self = .corrupt(recordId: id)
        case let .Erased(id): self = .erased(recordId: id)
        case let .NotFound(_, id): self = .notFound(recordId: id)
        case let .NoteLocked(id): self = .noteLocked(noteId: id)
        case let .Validation(field, reason): self = .validation(field: field, reason: reason)
        case let .InvalidState(reason): self = .invalidState(reason)
        case let .Storage(reason): self = .storage(reason)
        case let .BadSignature(id): self = .badSignature(recordId: id)
        case .InvalidInvite: self = .invite(.invalid)
        case .InviteCode: self = .invite(.wrongCode)
        case .InviteExpired: self = .invite(.expired)
        case .InviteUsed: self = .invite(.used)
        case let .Transport(reason): self = .transport(reason)
        case let .RelayRefused(refusal): self = .relayRefused(refusal)
        case .Revoked: self = .revoked
        case let .RelayRejected(reason): self = .relayRejected(reason)
        case let .InvalidArgument(reason): self = .invalidArgument(reason)
        case .AlreadyOpen: self = .alreadyOpen
        case .OpenInAnotherProcess: self = .openInAnotherProcess
        case let .Internal(reason): self = .internal(reason)
        }
    }

    /// Whether the same call may succeed later as it is (no network, an overloaded relay).
    public var isRetryable: Bool {
        if case .transport = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .wrongKey: "wrong key or passphrase"
        case let .schemaTooNew(found, supported): "vault schema \(found) is newer than this build (\(supported))"
        case let .notAVault(reason): "not a Mend vault: \(reason)"
        case let .corrupt(id): "record \(id) is corrupt"
        case let .erased(id): "record \(id) belongs to an erased client"
        case let .notFound(id): "no record with id \(id)"
        case let .noteLocked(id): "note \(id) is signed and locked"
        case let .validation(field, reason): "invalid \(field): \(reason)"
        case let .invalidState(reason): "not allowed: \(reason)"
        case let .storage(reason): "storage error: \(reason)"
        case let .badSignature(id): "signature check failed for \(id)"
        case let .invite(problem): "the invite cannot be used: \(problem)"
        case let .transport(reason): "sync transport failed: \(reason)"
        case let .relayRefused(refusal): "the relay refused: \(refusal)"
        case .revoked: "this device was revoked"
        case let .relayRejected(reason): "the relay rejected the request: \(reason)"
        case let .invalidArgument(reason): "invalid argument: \(reason)"
        case .alreadyOpen: "this vault is already open in this process"
        case .openInAnotherProcess: "this vault is open in another process"
        case let .internal(reason): "internal error: \(reason)"
        case let .other(message): message
        }
    }
}

/// Runs a Mend call, rethrowing its error as a `VaultError`.
@discardableResult
public func mend<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw VaultError(error) }
}

/// Runs an async Mend call (sync, join, open), rethrowing its error as a `VaultError`. The
/// closure runs on the caller's actor (the main actor for a view model).
@discardableResult
public func mend<T: Sendable>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> T
) async throws -> T {
    do { return try await body() } catch { throw VaultError(error) }
}

extension RepairAttempt {
    /// Whether every strategy was an immediate one (else the approach was exploratory).
    public var immediate: Bool { isImmediateRepair(attempt: self) }
}

extension Addendum {
    /// Whether it is signed (a draft has no signatures yet).
    public var signed: Bool { !signatures.isEmpty }
}

private final class StreamObserver: VaultObserver, @unchecked Sendable {
    let continuation: AsyncStream<[String]>.Continuation
    init(_ c: AsyncStream<[String]>.Continuation) { continuation = c }
    func recordsChanged(ids: [String]) { continuation.yield(ids) }
}

/// Yields each status newer (by `version`) than the last one yielded: observers can be told out
/// of order, and the current status read at the start may be older than a change already told.
private final class StatusObserver: SyncStatusObserver, @unchecked Sendable {
    let continuation: AsyncStream<SyncStatus>.Continuation
    private let lock = NSLock()
    private var shown: UInt64?
    init(_ c: AsyncStream<SyncStatus>.Continuation) { continuation = c }
    func syncStatusChanged(status: SyncStatus) { offer(status) }
    func offer(_ status: SyncStatus) {
        let newer = lock.withLock { () -> Bool in
            if let shown, status.version <= shown { return false }
            shown = status.version
            return true
        }
        if newer { continuation.yield(status) }
    }
}

extension Vault {
    /// Opens a vault with a key from the Keychain, off the caller's thread, throwing `VaultError`.
    public static func open(path: String, key: Data) async throws -> Vault {
        try await mend { try await Vault.open(path: path, key: key, passphrase: nil) }
    }

    /// Record ids that change, after local edits and syncs. Any number of streams at once: each
    /// has its own observer, removed when its iteration ends (or its task is cancelled).
    public func changes() -> AsyncStream<[String]> {
        AsyncStream { continuation in
            let token = self.observe(observer: StreamObserver(continuation))
            continuation.onTermination = { _ in token.cancel() }
        }
    }

    /// The sync status for a status bar: the current one first, then every change. Any number
    /// of streams at once.
    public func syncStatusUpdates() -> AsyncStream<SyncStatus> {
        AsyncStream(bufferingPolicy: .bufferingNewest(8)) { continuation in
            let observer = StatusObserver(continuation)
            let token = self.observeSyncStatus(observer: observer)
            observer.offer(self.syncStatus())
            continuation.onTermination = { _ in token.cancel() }
        }
    }

    /// The value of `query` now, and again after every change to the vault (local edits and
    /// syncs), skipping repeats. Ends with the query's error, as a `VaultError`, if it throws.
    public func watch<T: Equatable & Sendable>(
        _ query: @escaping @Sendable (Vault) throws -> T
    ) -> AsyncThrowingStream<T, Error> {
        let changes = self.changes()
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var last = try mend { try query(self) }
                    continuation.yield(last)
                    for await _ in changes {
                        let now = try mend { try query(self) }
                        if now != last { continuation.yield(now); last = now }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The client list, kept current.
    public func watchClients() -> AsyncThrowingStream<[ClientSummary], Error> { watch { try $0.clients() } }

    /// One client's timeline, kept current.
    public func watchTimeline(clientId: String) -> AsyncThrowingStream<[TimelineEntry], Error> {
        watch { try $0.timeline(clientId: clientId) }
    }

    /// The open merge conflicts, kept current (they appear after syncs).
    public func watchConflicts() -> AsyncThrowingStream<[Conflict], Error> { watch { try $0.conflicts() } }

    /// Syncs with the `mend-relay` at `url` over `sender` (the app's HTTP stack, e.g.
    /// `URLSessionSender()`; nil: Mend's own client, in builds that have it — the packaged
    /// XCFramework does not), throwing `VaultError`. Cancelling the calling `Task` stops the sync
    /// at its next safe point and cancels the request in flight; what was applied stays, and the
    /// call throws `CancellationError`. (The generated `syncHttp` ignores `Task` cancellation
    /// unless given a `Cancellation`: use this.)
    public func sync(http url: String, sender: HttpSender?, listener: SyncListener? = nil) async throws -> SyncReport {
        try await cancellable { c in try await self.syncHttp(url: url, sender: sender, listener: listener, cancellation: c) }
    }

    /// Syncs through an in-process relay, throwing `VaultError`; cancellable like `sync(http:)`.
    public func sync(relay: InMemoryRelay, listener: SyncListener? = nil) async throws -> SyncReport {
        try await cancellable { c in try await self.syncInMemory(relay: relay, listener: listener, cancellation: c) }
    }

    /// Syncs through a transport the app implements, throwing `VaultError`; cancellable.
    public func sync(transport: SyncTransport, listener: SyncListener? = nil) async throws -> SyncReport {
        try await cancellable { c in try await self.syncWith(transport: transport, listener: listener, cancellation: c) }
    }
}

/// Runs `body` with a `Cancellation` flipped when the calling task is cancelled; a call that
/// ends because of it throws `CancellationError`, as Swift's own async APIs do.
private func cancellable<T: Sendable>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Cancellation) async throws -> T
) async throws -> T {
    let c = Cancellation()
    return try await withTaskCancellationHandler {
        do { return try await body(c) } catch {
            if c.isCancelled() { throw CancellationError() }
            throw VaultError(error)
        }
    } onCancel: {
        c.cancel()
    }
}
