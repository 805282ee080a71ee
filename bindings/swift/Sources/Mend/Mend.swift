// The idiomatic Swift layer over the generated bindings: Swift errors an app can switch on
// without depending on the generator, an AsyncStream of changed records, and async sync.
@_exported import MendFFI
import Foundation

/// Errors from Mend, re-wrapped from the generated `MendError`.
public enum VaultError: Error, Equatable {
    case wrongKey
    case corrupt(recordId: String)
    case erased(recordId: String)
    case notFound(recordId: String)
    case noteLocked(noteId: String)
    case validation(field: String, reason: String)
    case invalidState(String)
    case invite(String)
    case transport(String)
    /// The relay refused for a reason retrying will not fix: a registration token needed
    /// (`registerHttp`), the vault at its quota or device cap, this device revoked.
    case relayRefused(RelayRefusal)
    /// The vault is already open in this process: share that `Vault` instead of a second one.
    case alreadyOpen
    /// Another process (an app extension, a widget) has the vault open; try again later.
    case openInAnotherProcess
    case other(String)

    /// Maps any error thrown by the generated layer.
    public init(_ error: Error) {
        guard let e = error as? MendError else { self = .other("\(error)"); return }
        switch e {
        case .WrongKey: self = .wrongKey
        case let .Corrupt(id, _): self = .corrupt(recordId: id)
        case let .Erased(id): self = .erased(recordId: id)
        case let .NotFound(_, id): self = .notFound(recordId: id)
        case let .NoteLocked(id): self = .noteLocked(noteId: id)
        case let .Validation(field, reason): self = .validation(field: field, reason: reason)
        case let .InvalidState(reason): self = .invalidState(reason)
        case .InvalidInvite: self = .invite("invalid")
        case .InviteCode: self = .invite("wrong code")
        case .InviteExpired: self = .invite("expired")
        case .InviteUsed: self = .invite("used")
        case let .Transport(reason): self = .transport(reason)
        case let .RelayRefused(refusal): self = .relayRefused(refusal)
        case .AlreadyOpen: self = .alreadyOpen
        case .OpenInAnotherProcess: self = .openInAnotherProcess
        default: self = .other("\(e)")
        }
    }
}

/// Runs a Mend call, rethrowing its error as a `VaultError`.
@discardableResult
public func mend<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw VaultError(error) }
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

extension Vault {
    /// Opens a vault with a key from the Keychain, throwing `VaultError`.
    public static func open(path: String, key: Data) throws -> Vault {
        try mend { try Vault.open(path: path, key: key, passphrase: nil) }
    }

    /// Record ids that change, after local edits and syncs. One stream at a time per vault.
    public func changes() -> AsyncStream<[String]> {
        AsyncStream { continuation in
            self.setObserver(observer: StreamObserver(continuation))
            continuation.onTermination = { [weak self] _ in self?.setObserver(observer: nil) }
        }
    }

    /// Syncs through an in-process relay off the caller's thread.
    public func sync(relay: InMemoryRelay) async throws -> SyncReport {
        try await withCheckedThrowingContinuation { cont in
            DispatchQueue.global().async {
                do { cont.resume(returning: try self.syncInMemory(relay: relay, listener: nil)) }
                catch { cont.resume(throwing: VaultError(error)) }
            }
        }
    }
}
