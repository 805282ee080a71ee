// Joining an existing vault on a new device: the encrypted invite (pasted or received as text),
// the one-time code read from the inviting device, and the relay address. The new device gets its
// own random vault key in its own Keychain; the invite carries the vault's shared keys.
import Foundation
import Mend
import Observation

/// The join form on the setup screen.
@MainActor
@Observable
public final class JoinVaultModel {
    /// The invite, as the base64 text the other device shared.
    public var inviteText = ""
    /// The one-time code (12 characters; dashes and spaces are ignored).
    public var code = ""
    /// The relay address.
    public var relayText = ""
    /// Whether a join is running.
    public private(set) var isJoining = false

    @ObservationIgnored private let app: AppModel

    /// A form that joins through `app`.
    public init(app: AppModel) {
        self.app = app
        relayText = app.environment.settings.load().relayURL ?? ""
    }

    /// Problems that block joining.
    public var errors: [FieldError] {
        var e: [FieldError] = []
        if Data(base64Encoded: inviteText.filter { !$0.isWhitespace }) == nil || inviteText.isEmpty {
            e.append(FieldError("invite", "paste the invite shared by your other device"))
        }
        if code.filter({ $0.isASCII && ($0.isLetter || $0.isNumber) }).count != 12 {
            e.append(FieldError("code", "enter the 12-character code, e.g. ABCD-EFGH-JKMN"))
        }
        if case let .failure(err) = RelayAddress.validate(relayText) { e.append(FieldError("relay", err.description)) }
        return e
    }

    /// Joins; on success the app is unlocked on the joined vault, otherwise `app.lastError` says why.
    public func join() async {
        guard !isJoining else { return }
        guard errors.isEmpty, let invite = Data(base64Encoded: inviteText.filter { !$0.isWhitespace }),
              let url = try? RelayAddress.validate(relayText).get(),
              let endpoint = app.environment.relay(url) else {
            app.reportInvalid(errors)
            return
        }
        isJoining = true
        defer { isJoining = false }
        await app.join(invite: invite, code: code, relayURL: url, endpoint: endpoint)
    }
}
