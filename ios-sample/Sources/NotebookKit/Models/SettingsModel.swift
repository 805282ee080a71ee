// Settings: the relay address (validated: https, or http on this machine only), the signer's
// name, the inactivity timeout, this device's name (synced to the other devices through Mend's
// device registry), this vault's devices in join order (revoke a lost one), invites for a new
// device (a one-time code shown here, the encrypted invite shared separately), and erasing a
// client everywhere — which destroys that client's keys, so it asks for the alias to be typed.
import Foundation
import Mend
import Observation

/// A device of this vault.
public struct DeviceRow: Identifiable, Equatable, Sendable {
    /// The device id.
    public let id: String
    /// The name its owner gave it ("Clinic iPad"), if any; synced to every device.
    public let name: String?
    /// When it joined the vault (nil for devices registered before Mend recorded it).
    public let addedAt: Date?
    /// Whether it was revoked.
    public let revoked: Bool
    /// Whether it is this device.
    public let isThisDevice: Bool

    /// A row with these parts.
    public init(id: String, name: String?, addedAt: Date?, revoked: Bool, isThisDevice: Bool) {
        self.id = id
        self.name = name
        self.addedAt = addedAt
        self.revoked = revoked
        self.isThisDevice = isThisDevice
    }

    /// Its name, or a short id when it has none ("Device …abc123").
    public var label: String { Self.label(name: name, id: id) }

    /// A device's name, or a short form of its id.
    public static func label(name: String?, id: String) -> String {
        if let name, !name.isEmpty { name } else { "Device …" + String(id.suffix(6)) }
    }
}

/// An invite ready to hand to a new device: the code is read out or typed, the payload is sent
/// separately (AirDrop, a QR code); neither opens the vault without the other.
public struct InviteOffer: Equatable, Sendable {
    /// The one-time code.
    public let code: String
    /// The encrypted invite.
    public let payload: Data
    /// When it expires.
    public let expires: Date
    /// The payload as text to share.
    public var payloadText: String { payload.base64EncodedString() }
}

/// The settings screen.
@MainActor
@Observable
public final class SettingsModel: RecordsObserving {
    /// The relay address being edited.
    public var relayText: String
    /// Why the relay address was refused, after `saveRelay`.
    public private(set) var relayError: RelayAddressError?
    /// The saved relay address.
    public private(set) var relayURL: URL?
    /// The registration token being typed (a clinic's relay asks for one; it is not shown again).
    public var registrationTokenText = ""
    /// Whether a registration token is saved.
    public private(set) var hasRegistrationToken: Bool
    /// Why the typed registration token was refused, after `saveRegistrationToken`.
    public private(set) var registrationTokenError: String?
    /// The name on signatures.
    public var signerName: String { didSet { save { $0.signerName = signerName } } }
    /// Seconds of inactivity before the notebook locks.
    public var inactivityTimeout: TimeInterval { didSet { save { $0.inactivityTimeout = inactivityTimeout } } }
    /// This vault's devices, in the order they joined.
    public private(set) var devices: [DeviceRow] = []
    /// This device's name being edited (starts as the stored one).
    public var deviceName = ""
    /// The invite made last (shown until it is dismissed).
    public private(set) var invite: InviteOffer?
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext

    init(context: NotebookContext) {
        self.context = context
        let s = context.environment.settings.load()
        relayText = s.relayURL ?? ""
        relayURL = s.relayURL.flatMap { try? RelayAddress.validate($0).get() }
        hasRegistrationToken = s.registrationToken != nil
        signerName = s.signerName
        inactivityTimeout = s.inactivityTimeout
        reloadDevices()
        deviceName = thisDevice?.name ?? ""
    }

    private func save(_ change: (inout NotebookSettings) -> Void) {
        var s = context.environment.settings.load()
        change(&s)
        context.environment.settings.save(s)
    }

    // MARK: - Relay

    /// Saves the registration token a clinic's relay asks for (the sync error says so): one word
    /// of printable characters, trimmed, as the relay's operator handed it out. The next sync
    /// registers the notebook with it. Returns whether it was saved.
    @discardableResult
    public func saveRegistrationToken() -> Bool {
        let t = registrationTokenText.trimmingCharacters(in: .whitespacesAndNewlines)
        let problem: String? =
            if t.isEmpty { "Enter the registration token from your practice's administrator." }
            else if t.count > 200 { "A registration token is at most 200 characters." }
            else if !t.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) }) {
                "A registration token is one word of letters, digits and punctuation."
            } else { nil }
        if let problem {
            registrationTokenError = problem
            return false
        }
        save { $0.registrationToken = t }
        registrationTokenError = nil
        registrationTokenText = ""
        hasRegistrationToken = true
        return true
    }

    /// Validates and saves the relay address; returns whether it was saved. An empty field turns
    /// sync off.
    @discardableResult
    public func saveRelay() -> Bool {
        if relayText.trimmingCharacters(in: .whitespaces).isEmpty {
            relayError = nil
            relayURL = nil
            save { $0.relayURL = nil }
            context.session?.sync.refresh()
            return true
        }
        switch RelayAddress.validate(relayText) {
        case let .success(url):
            relayError = nil
            relayURL = url
            relayText = url.absoluteString
            save { $0.relayURL = url.absoluteString }
            context.session?.sync.refresh()
            return true
        case let .failure(error):
            relayError = error
            return false
        }
    }

    // MARK: - Devices and invites

    /// Reads the device list again (Mend lists devices in the order they joined).
    public func reloadDevices() {
        guard let vault = try? context.vault() else { return }
        devices = vault.devices().map {
            DeviceRow(id: $0.id, name: $0.name, addedAt: $0.addedAt.map(Date.init(mendMillis:)), revoked: $0.revoked,
                      isThisDevice: $0.thisDevice)
        }
    }

    /// This device's row.
    public var thisDevice: DeviceRow? { devices.first(where: \.isThisDevice) }

    /// What is wrong with `deviceName`: Mend's rule (not blank, at most 64 characters counted
    /// as Unicode scalars, one line without control characters), checked before writing.
    public var deviceNameError: FieldError? {
        let name = deviceName.trimmingCharacters(in: .whitespaces)
        if name.isEmpty { return FieldError("device name", "must not be empty") }
        if name.unicodeScalars.count > 64 { return FieldError("device name", "must be at most 64 characters") }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return FieldError("device name", "must be a single line without control characters")
        }
        return nil
    }

    /// Names this device ("Clinic iPad") for every device's list; the name reaches the others at
    /// the next sync. Returns whether it was saved.
    @discardableResult
    public func saveDeviceName() -> Bool {
        if let e = deviceNameError {
            errorMessage = UserMessage.describe(FormErrors([e]))
            return false
        }
        context.touched()
        let name = deviceName.trimmingCharacters(in: .whitespaces)
        do {
            try mend { try context.vault().setDeviceName(name: name) }
            deviceName = name
            errorMessage = nil
            reloadDevices()
            return true
        } catch {
            errorMessage = UserMessage.describe(error)
            return false
        }
    }

    /// Revokes a lost or retired device: every device refuses its changes from the next sync on.
    public func revoke(_ device: DeviceRow) {
        context.touched()
        do {
            try mend { try context.vault().revokeDevice(id: device.id) }
            errorMessage = nil
        } catch {
            errorMessage = UserMessage.describe(error)
        }
        reloadDevices()
    }

    /// Makes an invite valid for `validFor` seconds, then syncs so the relay has what the new
    /// device needs. Returns the offer (also kept in `invite`).
    @discardableResult
    public func createInvite(validFor: TimeInterval = 24 * 3600) async -> InviteOffer? {
        context.touched()
        do {
            let code = generateInviteCode()
            let expires = context.environment.time.now.addingTimeInterval(validFor)
            let payload = try await mend { try await context.vault().exportInvite(code: code, expiresAt: expires.mendMillis) }
            let offer = InviteOffer(code: code, payload: payload, expires: expires)
            invite = offer
            errorMessage = nil
            await context.session?.sync.sync()
            return offer
        } catch {
            errorMessage = UserMessage.describe(error)
            return nil
        }
    }

    /// Hides the invite.
    public func dismissInvite() { invite = nil }

    // MARK: - Erasure

    /// Erases a client on every device by destroying its keys. `confirmation` must equal the
    /// client's alias; returns whether it was erased.
    @discardableResult
    public func eraseClient(id: String, confirmation: String) -> Bool {
        context.touched()
        do {
            let vault = try context.vault()
            let alias = try mend { try vault.client(id: id).aliasCode }
            guard confirmation.trimmingCharacters(in: .whitespaces) == alias else {
                errorMessage = "Type the client's code exactly to confirm erasure."
                return false
            }
            try mend { try vault.eraseClient(clientId: id) }
            errorMessage = nil
            context.publish([id], origin: .local, from: self)
            return true
        } catch {
            errorMessage = UserMessage.describe(error)
            return false
        }
    }

    /// Device changes (names, joins, revocations) arrive by sync. The name being edited follows
    /// only while it still reads the stored one.
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin == .sync else { return }
        let shown = thisDevice?.name ?? ""
        reloadDevices()
        if deviceName == shown { deviceName = thisDevice?.name ?? "" }
    }
}
