// Shared test fixtures: a fresh folder per test, environments with in-memory key and settings
// stores, a manual clock, a scripted gate and the bindings' in-process relay; the vaults are real
// encrypted Mend files.
import Foundation
import XCTest
import Mend
@testable import NotebookKit

/// A gate that answers from a script (success when the script is empty) and counts prompts.
final class ScriptedGate: BiometricGate, @unchecked Sendable {
    private let lock = NSLock()
    private var script: [GateError?] = []
    private(set) var prompts = 0

    var kind: GateKind { .faceID }

    func fail(next error: GateError) { lock.withLock { script.append(error) } }

    func authenticate(reason: String) async throws {
        let outcome: GateError? = lock.withLock {
            prompts += 1
            return script.isEmpty ? nil : script.removeFirst()
        }
        if let outcome { throw outcome }
    }
}

/// One simulated device: its folder, key store, settings, clock and app model. The clock starts
/// at the real time because Mend checks invite expiry against the system clock.
@MainActor
final class Device {
    let keys = InMemoryKeyStore()
    let settings: InMemorySettingsStore
    let clock: ManualTimeSource
    let gate = ScriptedGate()
    let environment: NotebookEnvironment
    let app: AppModel

    /// A device syncing through the in-process `relay` whenever a relay address is set.
    convenience init(folder: URL, name: String, relay: InMemoryRelay?, relayURL: String? = "https://relay.example.org") {
        self.init(folder: folder, name: name, relayURL: relayURL,
                  endpoint: { url in url == nil ? nil : relay.map { RelayEndpoint.inMemory($0) } })
    }

    /// A device with the app's own relay choice (HTTP over URLSession) unless `endpoint` is given.
    init(folder: URL, name: String, relayURL: String?, endpoint: (@Sendable (URL?) -> RelayEndpoint?)? = nil) {
        clock = ManualTimeSource(Date())
        settings = InMemorySettingsStore(NotebookSettings(relayURL: relayURL, signerName: "Dr. \(name)", signerId: "clinician-\(name)"))
        let vaultURL = folder.appendingPathComponent(name).appendingPathComponent("notebook.mend")
        if let endpoint {
            environment = NotebookEnvironment(vaultURL: vaultURL, keyStore: keys, gate: gate, settings: settings, time: clock, relay: endpoint)
        } else {
            environment = NotebookEnvironment(vaultURL: vaultURL, keyStore: keys, gate: gate, settings: settings, time: clock)
        }
        app = AppModel(environment: environment)
    }

    /// The open session (fails the test when locked).
    var session: NotebookSession {
        get throws { try XCTUnwrap(app.session, "the notebook is locked") }
    }

    /// Creates the vault and returns the session.
    @discardableResult
    func create() async throws -> NotebookSession {
        await app.createVault()
        XCTAssertEqual(app.phase, .unlocked, app.lastError?.message ?? "")
        return try session
    }
}

@MainActor
class NotebookTestCase: XCTestCase {
    var folder: URL!

    override func setUp() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("notebook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func device(_ name: String = "phone", relay: InMemoryRelay? = nil, relayURL: String? = "https://relay.example.org") -> Device {
        Device(folder: folder, name: name, relay: relay, relayURL: relayURL)
    }

    /// A device with an unlocked vault holding one client; returns the session and client id.
    func notebookWithClient(_ alias: String = "C-0142") async throws -> (Device, NotebookSession, String) {
        let d = device()
        let s = try await d.create()
        let id = try s.clients.addClient(NewClientForm(alias: alias, jurisdiction: "US-CA"))
        return (d, s, id)
    }

    /// A completed session for a client.
    func addSession(_ timeline: TimelineModel, at: Date = Date(timeIntervalSince1970: 1_767_000_000)) throws -> String {
        var form = SessionForm(start: at)
        form.cptCode = "90834"
        return try timeline.addSession(form)
    }
}
