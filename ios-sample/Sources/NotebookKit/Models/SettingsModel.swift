// Settings: the relay address (validated: https, or http on this machine only), the signer's
// name, the inactivity timeout, this vault's devices (revoke a lost one), invites for a new
// device (a one-time code shown here, the encrypted invite shared separately), and erasing a
// client everywhere — which destroys that client's keys, so it asks for the alias to be typed.
import Foundation
import Mend
import Observation

/// A device of this vault.
public struct DeviceRow: Identifiable, Equatable, Sendable {
    /// The device id.
    public let id: String
    /// Whether it was revoked.
    public let revoked: Bool
    /// Whether it is this device.
    public let isThisDevice: Bool
    /// A short label.
    public var label: String { isThisDevice ? "This device" : "Device …" + String(id.suffix(6)) }
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
    /// The name on signatures.
    public var signerName: String { didSet { save { $0.signerName = signerName } } }
    /// Seconds of inactivity before the notebook locks.
    public var inactivityTimeout: TimeInterval { didSet { save { $0.inactivityTimeout = inactivityTimeout } } }
    /// This vault's devices.
    public private(set) var devices: [DeviceRow] = []
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
        signerName = s.signerName
        inactivityTimeout = s.inactivityTimeout
        reloadDevices()
    }

    private func save(_ change: (inout NotebookSettings) -> Void) {
        var s = context.environment.settings.load()
        change(&s)
        context.environment.settings.save(s)
    }

    // MARK: - Relay

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

    /// Reads the device list again.
    public func reloadDevices() {
        guard let vault = try? context.vault() else { return }
        devices = vault.devices().map { DeviceRow(id: $0.id, revoked: $0.revoked, isThisDevice: $0.thisDevice) }
            .sorted { ($0.isThisDevice ? 0 : 1, $0.id) < ($1.isThisDevice ? 0 : 1, $1.id) }
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
            let payload = try mend { try context.vault().exportInvite(code: code, expiresAt: expires.mendMillis) }
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

    /// Device changes arrive by sync.
    public func recordsChanged(_ batch: ChangeBatch) {
        if batch.origin == .sync { reloadDevices() }
    }
}
