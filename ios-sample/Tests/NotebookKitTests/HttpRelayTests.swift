// The app's real sync path: Mend builds and signs relay requests, URLSessionHttpSender carries them
// (FoundationNetworking on Linux, URLSession on iOS) to a real mend-relay on loopback, which
// scripts/swift.sh starts and names in MEND_TEST_RELAY_URL (open registration) and
// MEND_TEST_CLINIC_RELAY_URL (registration only with the token in MEND_TEST_CLINIC_TOKEN).
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class HttpRelayTests: NotebookTestCase {
    func testTwoDevicesSyncThroughARealRelayOverURLSession() async throws {
        guard let relayURL = ProcessInfo.processInfo.environment["MEND_TEST_RELAY_URL"] else {
            return XCTFail("MEND_TEST_RELAY_URL is not set: run bash scripts/swift.sh, which starts a mend-relay on loopback")
        }
        let phone = Device(folder: folder, name: "phone", relayURL: nil)
        let p = try await phone.create()
        XCTAssertEqual(p.sync.phase, .notConfigured)
        p.settings.relayText = relayURL
        XCTAssertTrue(p.settings.saveRelay(), p.settings.relayError?.description ?? "")
        let client = try p.clients.addClient(NewClientForm(alias: "C-0800", jurisdiction: "US-WA"))
        let timeline = p.timeline(clientId: client)
        let editor = p.noteEditor(noteId: try timeline.startNote(sessionId: try addSession(timeline), format: .soap))
        editor.edit("assessment", to: "Engaged, hopeful")

        let made = await p.settings.createInvite()
        let offer = try XCTUnwrap(made, p.settings.errorMessage ?? "")
        XCTAssertEqual(p.sync.phase, .succeeded, p.sync.errorMessage ?? "")
        XCTAssertGreaterThan(p.sync.progressUpdates, 0)
        XCTAssertEqual(p.sync.pendingChanges, 0)

        let tablet = Device(folder: folder, name: "tablet", relayURL: nil)
        let join = JoinVaultModel(app: tablet.app)
        join.inviteText = offer.payloadText
        join.code = offer.code
        join.relayText = relayURL
        await join.join()
        XCTAssertEqual(tablet.app.phase, .unlocked, tablet.app.lastError?.message ?? "")
        XCTAssertEqual(tablet.settings.load().relayURL, relayURL, "joining remembers the relay")
        let t = try tablet.session
        await t.sync.sync()
        XCTAssertEqual(t.sync.phase, .succeeded, t.sync.errorMessage ?? "")
        XCTAssertEqual(t.clients.clients.map(\.alias), ["C-0800"])
        let noteId = editor.noteId
        XCTAssertEqual(t.noteEditor(noteId: noteId).text("assessment"), "Engaged, hopeful")

        // And back: the tablet's edit reaches the phone's open editor.
        t.noteEditor(noteId: noteId).edit("plan", to: "Weekly")
        await t.sync.sync()
        await p.sync.sync()
        XCTAssertEqual(editor.text("plan"), "Weekly")
        XCTAssertEqual(p.settings.devices.count, 2)
    }

    func testAnUnreachableRelayFailsTheSyncAndKeepsChanges() async throws {
        // Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
        let d = Device(folder: folder, name: "phone", relayURL: "http://127.0.0.1:9")
        let s = try await d.create()
        _ = try s.clients.addClient(NewClientForm(alias: "C-0801", jurisdiction: "US"))
        let pending = s.sync.pendingChanges
        XCTAssertGreaterThan(pending, 0)
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .failed)
        XCTAssertEqual(s.sync.errorMessage, UserMessage.describe(VaultError.transport("")))
        XCTAssertEqual(s.sync.pendingChanges, pending, "nothing was lost or marked pushed")
        XCTAssertNil(s.sync.lastReport)
    }
    func testAClinicRelayRegistersAVaultOnlyWithItsOperatorsToken() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["MEND_TEST_CLINIC_RELAY_URL"].flatMap(URL.init(string:)),
              let token = env["MEND_TEST_CLINIC_TOKEN"], token.hasPrefix("mrt_") else {
            return XCTFail("MEND_TEST_CLINIC_RELAY_URL and MEND_TEST_CLINIC_TOKEN are not set: run bash scripts/swift.sh")
        }
        let key = Data(repeating: 7, count: 32)
        let phone = try await Vault.create(path: folder.appendingPathComponent("phone.mend").path, key: key, passphrase: nil)
        _ = try phone.createClient(client: NewClient(aliasCode: "C-0900", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        let sender = URLSessionHttpSender()
        func refusal(_ endpoint: RelayEndpoint, _ vault: Vault) async -> VaultError? {
            do { _ = try await endpoint.sync(vault, listener: nil); return nil } catch { return error as? VaultError }
        }
        // No token, or a made-up one: a typed refusal the app can explain, not a retry.
        let none = await refusal(.http(url, sender: sender), phone)
        XCTAssertEqual(none, .relayRefused(.registrationRequired))
        let madeUp = "mrt_" + String(repeating: "0", count: 64)
        let wrong = await refusal(.http(url, sender: sender, registrationToken: madeUp), phone)
        XCTAssertEqual(wrong, .relayRefused(.registrationRequired))
        XCTAssertTrue(UserMessage.describe(.relayRefused(.registrationRequired)).contains("registration token"))
        // The operator's token registers the vault; later syncs need nothing more.
        let report = try await RelayEndpoint.http(url, sender: sender, registrationToken: " \(token) ").sync(phone, listener: nil)
        XCTAssertGreaterThan(report.pushed, 0)
        let later = await refusal(.http(url, sender: sender), phone)
        XCTAssertNil(later)
        // The token is spent: another practice's vault cannot register with it.
        let other = try await Vault.create(path: folder.appendingPathComponent("other.mend").path, key: key, passphrase: nil)
        let spent = await refusal(.http(url, sender: sender, registrationToken: token), other)
        XCTAssertEqual(spent, .relayRefused(.registrationRequired))
    }
    func testTheSettingsTokenRegistersTheNotebookAtAClinicRelay() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["MEND_TEST_CLINIC_RELAY_URL"], let token = env["MEND_TEST_CLINIC_TOKEN"] else {
            return XCTFail("MEND_TEST_CLINIC_RELAY_URL and MEND_TEST_CLINIC_TOKEN are not set: run bash scripts/swift.sh")
        }
        // A token the test's other case has not spent: the relay issued it for this one.
        guard let second = env["MEND_TEST_CLINIC_TOKEN_2"] else { return XCTFail("MEND_TEST_CLINIC_TOKEN_2 is not set") }
        XCTAssertNotEqual(token, second)
        let d = Device(folder: folder, name: "clinic-phone", relayURL: url)
        let s = try await d.create()
        _ = try s.clients.addClient(NewClientForm(alias: "C-0901", jurisdiction: "US"))
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .failed)
        XCTAssertEqual(s.sync.errorMessage, UserMessage.describe(.relayRefused(.registrationRequired)))
        // Settings refuse what is not a token and keep the real one; the next sync registers.
        s.settings.registrationTokenText = "two words"
        XCTAssertFalse(s.settings.saveRegistrationToken())
        XCTAssertNotNil(s.settings.registrationTokenError)
        s.settings.registrationTokenText = " \(second)\n"
        XCTAssertTrue(s.settings.saveRegistrationToken())
        XCTAssertTrue(s.settings.hasRegistrationToken)
        XCTAssertEqual(d.app.environment.settings.load().registrationToken, second)
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .succeeded, s.sync.errorMessage ?? "")
        XCTAssertEqual(s.sync.pendingChanges, 0)
        // Spent and no longer needed: not kept in the settings; later syncs go on without it.
        XCTAssertNil(d.app.environment.settings.load().registrationToken)
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .succeeded, s.sync.errorMessage ?? "")
    }
}
