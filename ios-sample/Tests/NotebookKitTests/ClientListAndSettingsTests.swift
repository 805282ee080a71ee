// The client list (validation, order, search) and settings (relay address rules, erasure with a
// typed confirmation, signer name, this device's name).
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class ClientListAndSettingsTests: NotebookTestCase {
    func testAddingClientsValidatesAndSortsByAlias() async throws {
        let d = device()
        let s = try await d.create()
        let list = s.clients
        XCTAssertThrowsError(try list.addClient(NewClientForm(alias: " ", jurisdiction: "California", birthYear: 1800, intakeDate: "2026-13-01"))) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["alias", "jurisdiction", "birth year", "intake date"])
        }
        XCTAssertEqual(list.clients, [])
        for alias in ["C-0010", "C-0002", "C-0100"] {
            try list.addClient(NewClientForm(alias: alias, jurisdiction: "US-NY", birthYear: 1990, intakeDate: "2026-01-05"))
        }
        XCTAssertEqual(list.clients.map(\.alias), ["C-0002", "C-0010", "C-0100"])
        list.query = "01"
        XCTAssertEqual(list.visible.map(\.alias), ["C-0010", "C-0100"])
        list.query = ""
        try s.timeline(clientId: list.clients[0].id).setStatus(.discharged)
        list.showInactive = false
        XCTAssertEqual(list.visible.map(\.alias), ["C-0010", "C-0100"])
    }

    func testEraseClientNeedsTheAliasAndRemovesItEverywhereLocal() async throws {
        let (_, s, client) = try await notebookWithClient("C-0777")
        let timeline = s.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .soap)
        let other = try s.clients.addClient(NewClientForm(alias: "C-0778", jurisdiction: "US"))

        XCTAssertFalse(s.settings.eraseClient(id: client, confirmation: "C-0778"))
        XCTAssertNotNil(s.settings.errorMessage)
        XCTAssertEqual(s.clients.clients.count, 2)

        XCTAssertTrue(s.settings.eraseClient(id: client, confirmation: "C-0777"))
        XCTAssertEqual(s.clients.clients.map(\.id), [other], "the list observed the erasure")
        XCTAssertTrue(timeline.isErased, "an open timeline learns its client is gone")
        let editor = s.noteEditor(noteId: noteId)
        XCTAssertEqual(editor.lastError, .erased(recordId: noteId))
    }

    func testRelayAddressRules() async {
        func check(_ text: String) -> RelayAddressError? {
            if case let .failure(e) = RelayAddress.validate(text) { return e }
            return nil
        }
        XCTAssertEqual(try RelayAddress.validate(" HTTPS://Relay.Example.org:8443/mend/ ").get().absoluteString,
                       "https://relay.example.org:8443/mend")
        XCTAssertEqual(try RelayAddress.validate("http://localhost:8080").get().absoluteString, "http://localhost:8080")
        XCTAssertEqual(try RelayAddress.validate("http://127.0.0.1:8080").get().absoluteString, "http://127.0.0.1:8080")
        XCTAssertEqual(check(""), .empty)
        XCTAssertEqual(check("http://relay.example.org"), .insecureScheme)
        XCTAssertEqual(check("ftp://relay.example.org"), .insecureScheme)
        XCTAssertEqual(check("relay.example.org"), .notAURL)
        XCTAssertEqual(check("https://"), .missingHost)
        XCTAssertEqual(check("https://user:pw@relay.example.org"), .credentialsInURL)
        XCTAssertEqual(check("https://relay.example.org/?vault=1"), .queryOrFragment)
        XCTAssertEqual(check("https://relay.example.org/#x"), .queryOrFragment)
    }

    func testSettingsSaveTheRelayAndSignerAndDriveSync() async throws {
        let relay = InMemoryRelay()
        let d = device(relay: relay, relayURL: nil)
        let s = try await d.create()
        XCTAssertEqual(s.sync.phase, .notConfigured)
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .notConfigured)

        s.settings.relayText = "http://relay.example.org"
        XCTAssertFalse(s.settings.saveRelay())
        XCTAssertEqual(s.settings.relayError, .insecureScheme)
        XCTAssertNil(d.settings.load().relayURL)
        s.settings.relayText = "https://Relay.Example.org/"
        XCTAssertTrue(s.settings.saveRelay())
        XCTAssertNil(s.settings.relayError)
        XCTAssertEqual(d.settings.load().relayURL, "https://relay.example.org")
        XCTAssertEqual(s.sync.phase, .idle)

        s.settings.signerName = "Dr. Rivera"
        XCTAssertEqual(d.settings.load().signerName, "Dr. Rivera")
        let signerId = d.settings.load().signerId
        let client = try s.clients.addClient(NewClientForm(alias: "C-0900", jurisdiction: "US"))
        let timeline = s.timeline(clientId: client)
        let editor = s.noteEditor(noteId: try timeline.startNote(sessionId: try addSession(timeline), format: .free))
        editor.edit("body", to: "Brief check-in")
        editor.sign()
        XCTAssertEqual(editor.signatures.first?.signerName, "Dr. Rivera")
        XCTAssertEqual(editor.signatures.first?.signerId, signerId)

        s.settings.relayText = ""
        XCTAssertTrue(s.settings.saveRelay())
        XCTAssertEqual(s.sync.phase, .notConfigured)
    }

    func testUserDefaultsSettingsRoundTrip() async throws {
        let name = "notebook-tests-\(UUID().uuidString)"
        let defaults = try XCTUnwrap(UserDefaults(suiteName: name))
        defer { defaults.removePersistentDomain(forName: name) }
        let store = UserDefaultsSettingsStore(defaults: defaults)
        let first = store.load()
        XCTAssertEqual(store.load().signerId, first.signerId, "the generated signer id is kept")
        var changed = first
        changed.relayURL = "https://relay.example.org"
        changed.inactivityTimeout = 120
        store.save(changed)
        XCTAssertEqual(UserDefaultsSettingsStore(defaults: defaults).load(), changed)
    }

    func testARefusedEditNeverEchoesItsText() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let editor = s.noteEditor(noteId: try timeline.startNote(sessionId: try addSession(timeline), format: .soap))
        let huge = "SECRET-WORDS " + String(repeating: "x", count: 1 << 20)
        editor.edit("plan", to: huge)
        guard case let .validation(field, _) = editor.lastError else { return XCTFail("\(String(describing: editor.lastError))") }
        XCTAssertEqual(field, "sections.plan")
        let message = try XCTUnwrap(editor.errorMessage)
        XCTAssertFalse(message.contains("SECRET"))
        XCTAssertLessThan(message.count, 200)
        XCTAssertEqual(editor.text("plan"), "", "nothing was stored")
        XCTAssertEqual(UserMessage.describe(VaultError.validation(field: "significance", reason: "must be between 1 and 5")),
                       "Check significance: must be between 1 and 5.")
    }

    func testNamingThisDevice() async throws {
        let (d, s, _) = try await notebookWithClient()
        let settings = s.settings
        let me = try XCTUnwrap(settings.thisDevice)
        XCTAssertEqual(settings.devices.count, 1)
        XCTAssertEqual(me.id, s.deviceId)
        XCTAssertNil(me.name)
        XCTAssertEqual(me.label, "Device …" + String(s.deviceId.suffix(6)))
        XCTAssertNotNil(me.addedAt, "Mend records when a device joined")
        XCTAssertEqual(settings.deviceName, "")

        // Mend's rule, checked before writing; messages name the field, not the text.
        for (name, reason) in [("   ", "must not be empty"),
                               (String(repeating: "x", count: 65), "must be at most 64 characters"),
                               // 40 characters as the eye counts them, 80 Unicode scalars as Mend does.
                               (String(repeating: "e\u{301}", count: 40), "must be at most 64 characters"),
                               ("Clinic\niPad", "must be a single line without control characters")] {
            settings.deviceName = name
            XCTAssertEqual(settings.deviceNameError, FieldError("device name", reason), name)
            XCTAssertFalse(settings.saveDeviceName())
            XCTAssertEqual(settings.errorMessage, "device name: \(reason)")
        }
        XCTAssertNil(try s.context.vault().devices().first?.name, "nothing was written")
        XCTAssertThrowsError(try mend { try s.context.vault().setDeviceName(name: String(repeating: "x", count: 65)) }) { error in
            guard case .validation(field: "device name", reason: _)? = error as? VaultError else { return XCTFail("\(error)") }
        }

        settings.deviceName = "  Clinic iPad "
        XCTAssertTrue(settings.saveDeviceName())
        XCTAssertNil(settings.errorMessage)
        XCTAssertEqual(settings.deviceName, "Clinic iPad")
        XCTAssertEqual(settings.thisDevice?.name, "Clinic iPad")
        XCTAssertEqual(settings.thisDevice?.label, "Clinic iPad")

        d.app.lock()
        await d.app.unlock()
        XCTAssertEqual(try d.session.settings.deviceName, "Clinic iPad", "read back from the vault file")
        XCTAssertEqual(try d.session.settings.devices.map(\.name), ["Clinic iPad"])
    }
}
