// The notebook's own preferences (not clinical data, never in the vault): the relay address,
// who signs notes, and the inactivity timeout. UserDefaults on a device, memory in tests.
import Foundation

/// The notebook's preferences.
public struct NotebookSettings: Codable, Equatable, Sendable {
    /// The relay's base URL, validated by `RelayAddress` before it is saved.
    public var relayURL: String?
    /// The clinician's name as it appears on signatures.
    public var signerName: String
    /// The clinician's stable id, written as note author and signer.
    public var signerId: String
    /// Seconds without interaction after which the notebook locks.
    public var inactivityTimeout: TimeInterval
    /// The registration token a clinic's relay needs to register this notebook (from the
    /// practice's administrator), or nil. Good for one notebook: spent by the first sync, after
    /// which `SyncModel` forgets it.
    public var registrationToken: String?

    /// The timeouts the settings screen offers.
    public static let timeoutChoices: [TimeInterval] = [60, 120, 300, 600, 900]

    /// Defaults: no relay, a fresh signer id, lock after five minutes.
    public init(relayURL: String? = nil, signerName: String = "", signerId: String = UUID().uuidString,
                inactivityTimeout: TimeInterval = 300) {
        self.relayURL = relayURL
        self.signerName = signerName
        self.signerId = signerId
        self.inactivityTimeout = inactivityTimeout
    }
}

/// Loads and saves `NotebookSettings`.
public protocol SettingsStore: AnyObject, Sendable {
    /// The saved settings, or defaults (saved at once, so the signer id stays stable).
    func load() -> NotebookSettings
    /// Saves the settings.
    func save(_ settings: NotebookSettings)
}

/// Settings in memory, for tests and previews.
public final class InMemorySettingsStore: SettingsStore, @unchecked Sendable {
    private let lock = NSLock()
    private var settings: NotebookSettings

    /// A store starting from `settings`.
    public init(_ settings: NotebookSettings = NotebookSettings()) { self.settings = settings }
    /// The current settings.
    public func load() -> NotebookSettings { lock.withLock { settings } }
    /// Replaces the settings.
    public func save(_ settings: NotebookSettings) { lock.withLock { self.settings = settings } }
}

/// Settings as one JSON value in `UserDefaults`.
public final class UserDefaultsSettingsStore: SettingsStore, @unchecked Sendable {
    private let defaults: UserDefaults
    private let key: String

    /// A store in `defaults` under `key`.
    public init(defaults: UserDefaults = .standard, key: String = "org.mend.notebook.settings") {
        self.defaults = defaults
        self.key = key
    }

    /// The saved settings, or fresh defaults saved now.
    public func load() -> NotebookSettings {
        if let data = defaults.data(forKey: key),
           let settings = try? JSONDecoder().decode(NotebookSettings.self, from: data) {
            return settings
        }
        let fresh = NotebookSettings()
        save(fresh)
        return fresh
    }

    /// Saves the settings.
    public func save(_ settings: NotebookSettings) {
        if let data = try? JSONEncoder().encode(settings) { defaults.set(data, forKey: key) }
    }
}
