// The gate in front of the vault key: Face ID / Touch ID / Optic ID with the device passcode as
// fallback on iOS (LocalAuthentication), an always-open or scripted gate in tests.
import Foundation
#if canImport(LocalAuthentication)
import LocalAuthentication
#endif

/// Why the gate stayed shut.
public enum GateError: Error, Equatable {
    /// The user cancelled (or the system did, e.g. the app went to the background).
    case cancelled
    /// Authentication failed.
    case failed
    /// The device has no passcode or biometrics set up, so nothing can gate the key.
    case unavailable
}

/// What the gate will ask for, to label the unlock button.
public enum GateKind: Equatable, Sendable {
    /// Face ID.
    case faceID
    /// Touch ID.
    case touchID
    /// Optic ID.
    case opticID
    /// The device passcode only.
    case passcode
    /// No gate (tests and previews).
    case none
}

/// Asks the device owner to prove presence before the vault key is read.
public protocol BiometricGate: Sendable {
    /// What the gate will ask for.
    var kind: GateKind { get }
    /// Returns when the owner authenticated; throws `GateError` otherwise.
    func authenticate(reason: String) async throws
}

/// A gate that always opens: for tests, previews and the simulator without enrolled biometrics.
public struct OpenGate: BiometricGate {
    /// An open gate.
    public init() {}
    /// `.none`.
    public var kind: GateKind { .none }
    /// Returns immediately.
    public func authenticate(reason: String) async throws {}
}

#if canImport(LocalAuthentication)
/// Biometrics with the device passcode as fallback (`.deviceOwnerAuthentication`).
public struct LocalAuthenticationGate: BiometricGate {
    /// A gate over a fresh `LAContext` per attempt.
    public init() {}

    /// The biometry the device offers, or the passcode.
    public var kind: GateKind {
        let context = LAContext()
        var error: NSError?
        guard context.canEvaluatePolicy(.deviceOwnerAuthentication, error: &error) else { return .passcode }
        switch context.biometryType {
        case .faceID: return .faceID
        case .touchID: return .touchID
        case .opticID: return .opticID
        default: return .passcode
        }
    }

    /// Shows the system prompt.
    public func authenticate(reason: String) async throws {
        let context = LAContext()
        var error: NSError?
        guard context.canEvaluatePolicy(.deviceOwnerAuthentication, error: &error) else {
            throw GateError.unavailable
        }
        do {
            guard try await context.evaluatePolicy(.deviceOwnerAuthentication, localizedReason: reason) else {
                throw GateError.failed
            }
        } catch let error as LAError {
            switch error.code {
            case .userCancel, .appCancel, .systemCancel, .userFallback: throw GateError.cancelled
            case .passcodeNotSet, .biometryNotAvailable, .biometryNotEnrolled: throw GateError.unavailable
            default: throw GateError.failed
            }
        }
    }
}
#endif
