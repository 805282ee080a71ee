// Where the 32-byte vault key lives between launches. On iOS that is the Keychain (this device
// only, never synced or backed up to another device); tests use an in-memory store. The key is
// never logged, never put in an error, and never leaves this protocol except to open the vault.
import Foundation
#if canImport(Security)
import Security
#endif

/// Stores the vault key.
public protocol KeyStore: Sendable {
    /// Whether a key is stored, without reading it (used at launch, before the gate).
    func hasKey() throws -> Bool
    /// The stored key, or nil when none was stored.
    func readKey() throws -> Data?
    /// Stores (or replaces) the key.
    func saveKey(_ key: Data) throws
    /// Removes the key. Without it the vault file can never be opened again.
    func deleteKey() throws
}

/// A key store failure. Carries an OS status code, never key material.
public enum KeyStoreError: Error, Equatable {
    /// The platform store refused the operation (an `OSStatus` on Apple platforms).
    case failed(status: Int32)
}

/// Fresh vault keys.
public enum VaultKey {
    /// The key length Mend requires.
    public static let length = 32

    /// A new random key from the system's cryptographically secure generator
    /// (`SystemRandomNumberGenerator`: `arc4random_buf` on Apple platforms, `getrandom` on Linux).
    public static func generate() -> Data {
        var rng = SystemRandomNumberGenerator()
        return Data((0..<length).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }
}

/// A key store in memory, for tests and previews.
public final class InMemoryKeyStore: KeyStore, @unchecked Sendable {
    private let lock = NSLock()
    private var key: Data?

    /// A store holding `key` (or nothing).
    public init(key: Data? = nil) { self.key = key }

    /// Whether a key is stored.
    public func hasKey() throws -> Bool { lock.withLock { key != nil } }
    /// The stored key.
    public func readKey() throws -> Data? { lock.withLock { key } }
    /// Stores the key.
    public func saveKey(_ key: Data) throws { lock.withLock { self.key = key } }
    /// Forgets the key.
    public func deleteKey() throws { lock.withLock { key = nil } }
    /// 1 when a key is stored, else 0 (for tests).
    public var count: Int { lock.withLock { key == nil ? 0 : 1 } }
}

#if canImport(Security)
/// The vault key as a generic-password item in the data-protection Keychain, readable only while
/// the device is unlocked and only on this device (`…ThisDeviceOnly`: not in backups restored to
/// another device, not in iCloud Keychain). The app gates reads behind `BiometricGate` first.
public struct KeychainKeyStore: KeyStore {
    /// The Keychain service name.
    public let service: String
    /// The Keychain account name.
    public let account: String

    /// A store for one item, named by `service` and `account`.
    public init(service: String = "org.mend.notebook", account: String = "vault-key") {
        self.service = service
        self.account = account
    }

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecUseDataProtectionKeychain as String: true,
        ]
    }

    /// Whether the item exists; its data is not returned.
    public func hasKey() throws -> Bool {
        var q = query
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        let status = SecItemCopyMatching(q as CFDictionary, nil)
        switch status {
        case errSecSuccess: return true
        case errSecItemNotFound: return false
        default: throw KeyStoreError.failed(status: status)
        }
    }

    /// Reads the key; nil when there is no item.
    public func readKey() throws -> Data? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        switch status {
        case errSecSuccess: return item as? Data
        case errSecItemNotFound: return nil
        default: throw KeyStoreError.failed(status: status)
        }
    }

    /// Adds the key, replacing an existing item.
    public func saveKey(_ key: Data) throws {
        var add = query
        add[kSecValueData as String] = key
        add[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        add[kSecAttrSynchronizable as String] = false
        var status = SecItemAdd(add as CFDictionary, nil)
        if status == errSecDuplicateItem {
            let update: [String: Any] = [kSecValueData as String: key]
            status = SecItemUpdate(query as CFDictionary, update as CFDictionary)
        }
        guard status == errSecSuccess else { throw KeyStoreError.failed(status: status) }
    }

    /// Deletes the item (no error when there is none).
    public func deleteKey() throws {
        let status = SecItemDelete(query as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeyStoreError.failed(status: status)
        }
    }
}
#endif
