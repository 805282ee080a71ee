// Turns errors into sentences a clinician can act on. Built only from error kinds, field names
// and the core's rule texts (which by design never contain record content), so no clinical
// plaintext can reach an alert, a log or a crash report through here.
import Foundation
import Mend

/// A field-level validation problem, shown next to the field.
public struct FieldError: Equatable, Sendable, CustomStringConvertible {
    /// The field (the form's name for it).
    public let field: String
    /// What is wrong, without the value.
    public let reason: String

    /// A problem with `field`.
    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    /// "field: reason".
    public var description: String { "\(field): \(reason)" }
}

/// A form that cannot be saved yet, with every problem.
public struct FormErrors: Error, Equatable {
    /// The problems, one per field at most.
    public let errors: [FieldError]

    /// A form error with `errors`.
    public init(_ errors: [FieldError]) { self.errors = errors }

    /// The problem with `field`, if any.
    public func reason(for field: String) -> String? { errors.first { $0.field == field }?.reason }
}

/// User-facing text for errors.
public enum UserMessage {
    /// A sentence for any error the models see.
    public static func describe(_ error: Error) -> String {
        if let e = error as? VaultError { return describe(e) }
        if let e = error as? MendError { return describe(VaultError(e)) }
        if let e = error as? GateError {
            switch e {
            case .cancelled: return "Unlock was cancelled."
            case .failed: return "Authentication failed."
            case .unavailable: return "Set up a device passcode to protect the notebook."
            }
        }
        if let e = error as? KeyStoreError, case let .failed(status) = e {
            return "The Keychain refused the request (status \(status))."
        }
        if let e = error as? RelayAddressError { return e.description }
        if let e = error as? FormErrors { return e.errors.map(\.description).joined(separator: "\n") }
        if let e = error as? UnlockError { return e.message }
        return "Something went wrong."
    }

    /// A sentence for a Mend error.
    public static func describe(_ error: VaultError) -> String {
        switch error {
        case .wrongKey: "The stored key does not open this notebook. Nothing was changed."
        case .corrupt: "A record is damaged and cannot be read. Other records are unaffected."
        case .erased: "This record belongs to an erased client."
        case .notFound: "The record no longer exists."
        case .noteLocked: "This note is signed and can no longer be edited. Add an addendum instead."
        case let .validation(field, reason): "Check \(field): \(reason)."
        case let .invalidState(reason): "Not allowed: \(reason)."
        case let .invite(problem):
            switch problem {
            case .invalid: "This is not a valid invite."
            case .wrongCode: "The invite code is wrong."
            case .expired: "The invite has expired. Ask for a new one."
            case .used: "The invite was already used. Ask for a new one."
            }
        case .transport: "The relay could not be reached. Your changes are safe on this device; try again later."
        case .revoked: "This device was removed from the notebook and can no longer sync."
        case .relayRejected: "The relay rejected the request. Check the relay address in Settings."
        case let .relayRefused(refusal):
            switch refusal {
            case .registrationRequired: "This relay needs a registration token. Ask your practice's administrator and enter it in Settings."
            case .quotaExceeded: "The relay's storage for this notebook is full. Ask your practice's administrator."
            case .deviceLimit: "This notebook has as many devices as the relay allows."
            case .tombstoneLimit: "The relay cannot record more erasures for this notebook. Ask your practice's administrator."
            case .unknown: "The relay does not know this notebook. Check the relay address in Settings."
            }
        case .alreadyOpen: "This notebook is already open in the app."
        case .openInAnotherProcess: "This notebook is open in another part of the app (a widget or an extension). Try again in a moment."
        case .schemaTooNew: "This notebook was saved by a newer version of the app. Update the app to open it."
        case .notAVault: "This file is not a notebook."
        case .storage: "The notebook could not be saved on this device. Check the free space and try again."
        case .badSignature: "A signature on this record does not verify."
        case .invalidArgument: "The app passed Mend a malformed value."
        case .internal, .other: "Mend reported an internal error."
        }
    }
}
