// The notebook's root: the lock state machine (set up, locked, unlocked), the vault key
// in the key store behind the biometric/passcode gate, and the inactivity lock. While unlocked it
// holds one `NotebookSession`; locking drops the session, and with it every model and the vault
// handle, so nothing decrypted stays reachable from the UI.
import Foundation
import Mend
import Observation

/// What the app is made of; the iOS app passes the Keychain, LocalAuthentication and UserDefaults,
/// tests pass in-memory stand-ins and a manual clock.
public struct NotebookEnvironment: Sendable {
    /// The vault file (its folder is created when needed).
    public var vaultURL: URL
    /// Where the vault key lives.
    public var keyStore: KeyStore
    /// What must be passed before the key is read.
    public var gate: BiometricGate
    /// The notebook's preferences.
    public var settings: SettingsStore
    /// The clock.
    public var time: TimeSource
    /// The relay for a relay address (nil: sync is not set up). The default carries requests over
    /// URLSession; tests return the bindings' in-process relay.
    public var relay: @Sendable (URL?) -> RelayEndpoint?

    /// An environment; `relay` defaults to HTTP over `URLSessionHttpSender`.
    public init(vaultURL: URL, keyStore: KeyStore, gate: BiometricGate, settings: SettingsStore,
                time: TimeSource = SystemTimeSource(),
                relay: @escaping @Sendable (URL?) -> RelayEndpoint? = { url in
                    url.map { .http($0, sender: URLSessionHttpSender()) }
                }) {
        self.vaultURL = vaultURL
        self.keyStore = keyStore
        self.gate = gate
        self.settings = settings
        self.time = time
        self.relay = relay
    }
}

/// Why unlocking (or creating, or joining) did not open the notebook.
public enum UnlockError: Error, Equatable {
    /// The gate stayed shut.
    case gate(GateError)
    /// The key store failed.
    case keyStore(KeyStoreError)
    /// The stored key does not open the vault (nothing was written).
    case wrongKey
    /// A vault file exists but the key store has no key for it.
    case keyMissing
    /// Mend refused for another reason.
    case vault(VaultError)
    /// The form was incomplete.
    case invalid([FieldError])

    init(_ error: Error) {
        switch error {
        case let e as UnlockError: self = e
        case let e as GateError: self = .gate(e)
        case let e as KeyStoreError: self = .keyStore(e)
        case let e as VaultError: self = e == .wrongKey ? .wrongKey : .vault(e)
        default:
            let v = VaultError(error)
            self = v == .wrongKey ? .wrongKey : .vault(v)
        }
    }

    /// A sentence for the unlock screen.
    public var message: String {
        switch self {
        case let .gate(e): UserMessage.describe(e)
        case let .keyStore(e): UserMessage.describe(e)
        case .wrongKey: UserMessage.describe(VaultError.wrongKey)
        case .keyMissing: "This device's notebook key is missing, so the notebook cannot be opened. Reset this device and join again from another one."
        case let .vault(e): UserMessage.describe(e)
        case let .invalid(errors): errors.map(\.description).joined(separator: "\n")
        }
    }
}

/// Why the notebook locked.
public enum LockReason: Equatable, Sendable {
    /// The user locked it.
    case manual
    /// No interaction for the configured timeout.
    case inactivity
    /// The app stayed in the background past the timeout.
    case background
}

/// The root view model.
@MainActor
@Observable
public final class AppModel {
    /// Where the app is.
    public enum Phase: Equatable {
        /// No vault on this device yet: create one or join with an invite.
        case setup
        /// A vault exists and is locked.
        case locked
        /// Open: `session` is set.
        case unlocked
        /// A vault file exists but its key is gone from the key store: it can never be opened.
        case keyMissing
    }

    /// Where the app is.
    public private(set) var phase: Phase
    /// The open notebook, while unlocked.
    public private(set) var session: NotebookSession?
    /// Why the last unlock, create or join failed.
    public private(set) var lastError: UnlockError?
    /// Why the notebook last locked.
    public private(set) var lockReason: LockReason?
    /// Waiting for the gate, or creating, opening or joining a vault (the phase stays put, so the
    /// screen the user is on stays up; buttons disable).
    public private(set) var isBusy = false

    /// The environment the app was built with.
    public let environment: NotebookEnvironment
    private var lastActivity: Date
    private var backgroundedAt: Date?

    /// A model over `environment`; the phase follows from whether the vault file exists.
    public init(environment: NotebookEnvironment) {
        self.environment = environment
        lastActivity = environment.time.now
        phase = FileManager.default.fileExists(atPath: environment.vaultURL.path) ? .locked : .setup
        if phase == .locked, (try? environment.keyStore.hasKey()) == false { phase = .keyMissing }
    }

    /// What the unlock button should say.
    public var gateKind: GateKind { environment.gate.kind }

    // MARK: - Create, unlock, join

    /// Creates a new, empty vault under a fresh random key kept in the key store.
    public func createVault() async {
        guard phase == .setup, !isBusy else { return }
        await attempt {
            try await self.environment.gate.authenticate(reason: "Protect your notebook")
            let key = VaultKey.generate()
            try self.prepareFolder()
            try self.environment.keyStore.saveKey(key)
            do {
                return try await mend { try await Vault.create(path: self.environment.vaultURL.path, key: key, passphrase: nil) }
            } catch {
                try? self.environment.keyStore.deleteKey()
                self.removeVaultFiles()
                throw error
            }
        }
    }

    /// Passes the gate, reads the key and opens the vault. A wrong key leaves the app locked with
    /// `lastError == .wrongKey`; the vault file is untouched.
    public func unlock() async {
        guard phase == .locked, !isBusy else { return }
        await attempt {
            try await self.environment.gate.authenticate(reason: "Unlock your notebook")
            guard let key = try self.environment.keyStore.readKey() else {
                throw UnlockError.keyMissing
            }
            return try await Vault.open(path: self.environment.vaultURL.path, key: key)
        }
        if lastError == .keyMissing { phase = .keyMissing }
    }

    /// Joins an existing vault with an invite exported by another device and its one-time code,
    /// through `relay`; remembers the relay address. Used by `JoinVaultModel`.
    func join(invite: Data, code: String, relayURL: URL?, endpoint: RelayEndpoint) async {
        guard phase == .setup, !isBusy else { return }
        let path = environment.vaultURL.path
        await attempt {
            try await self.environment.gate.authenticate(reason: "Protect your notebook")
            let key = VaultKey.generate()
            try self.prepareFolder()
            try self.environment.keyStore.saveKey(key)
            do {
                let vault = try await endpoint.join(path: path, key: key, invite: invite, code: code)
                var settings = self.environment.settings.load()
                settings.relayURL = relayURL?.absoluteString ?? settings.relayURL
                self.environment.settings.save(settings)
                return vault
            } catch {
                try? self.environment.keyStore.deleteKey()
                self.removeVaultFiles()
                throw error
            }
        }
    }

    /// Shows form problems on the setup screen.
    func reportInvalid(_ errors: [FieldError]) { lastError = .invalid(errors) }

    private func attempt(_ open: @escaping () async throws -> Vault) async {
        isBusy = true
        lastError = nil
        defer { isBusy = false }
        do {
            let vault = try await open()
            session = NotebookSession(vault: vault, environment: environment, app: self)
            lockReason = nil
            phase = .unlocked
            recordActivity()
        } catch {
            lastError = UnlockError(error)
        }
    }

    // MARK: - Locking

    /// Locks now: the session, its models and the vault handle are dropped.
    public func lock(_ reason: LockReason = .manual) {
        guard phase == .unlocked else { return }
        session?.close()
        session = nil
        lockReason = reason
        phase = .locked
    }

    /// Notes user interaction (taps, typing); it postpones the inactivity lock.
    public func recordActivity() { lastActivity = environment.time.now }

    /// Seconds of inactivity after which the notebook locks (from the settings).
    public var inactivityTimeout: TimeInterval { environment.settings.load().inactivityTimeout }

    /// Checks the inactivity timeout; the app calls it every few seconds while in the foreground.
    public func tick() {
        guard phase == .unlocked else { return }
        if environment.time.now.timeIntervalSince(lastActivity) >= inactivityTimeout { lock(.inactivity) }
    }

    /// The app went to the background.
    public func didEnterBackground() { backgroundedAt = environment.time.now }

    /// The app came back: lock if it was away longer than the timeout.
    public func didBecomeActive() {
        defer { backgroundedAt = nil }
        guard phase == .unlocked, let since = backgroundedAt else { return }
        if environment.time.now.timeIntervalSince(since) >= inactivityTimeout {
            lock(.background)
        } else {
            recordActivity()
        }
    }

    // MARK: - Reset

    /// Deletes this device's vault file and key (when the key is lost, or to leave a practice).
    /// Records synced to other devices stay there; unsynced local changes are lost.
    public func resetThisDevice() {
        session?.close()
        session = nil
        try? environment.keyStore.deleteKey()
        removeVaultFiles()
        lastError = nil
        phase = .setup
    }

    private func prepareFolder() throws {
        let folder = environment.vaultURL.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    private func removeVaultFiles() {
        let path = environment.vaultURL.path
        for suffix in ["", "-wal", "-shm", "-journal"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }
}
