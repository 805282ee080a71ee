// Unlocking: the vault key in the key store, the gate in front of it, a wrong key, a missing key,
// and the inactivity and background locks driven by an injected clock.
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class UnlockTests: NotebookTestCase {
    func testCreateStoresAKeyAndUnlockReopensTheSameVault() async throws {
        let d = device()
        XCTAssertEqual(d.app.phase, .setup)
        let s = try await d.create()
        let key = try XCTUnwrap(try d.keys.readKey())
        XCTAssertEqual(key.count, 32)
        let id = try s.clients.addClient(NewClientForm(alias: "C-0001", jurisdiction: "US"))
        d.app.lock()
        XCTAssertEqual(d.app.phase, .locked)
        XCTAssertNil(d.app.session)
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .unlocked)
        XCTAssertEqual(try d.session.clients.clients.map(\.id), [id])
        XCTAssertEqual(d.gate.prompts, 2, "create and unlock each pass the gate")

        // A new AppModel over the same files (an app relaunch) starts locked.
        let relaunched = AppModel(environment: d.environment)
        XCTAssertEqual(relaunched.phase, .locked)
    }

    func testWrongKeyLeavesTheNotebookLockedAndTheFileUntouched() async throws {
        let d = device()
        let s = try await d.create()
        _ = try s.clients.addClient(NewClientForm(alias: "C-0002", jurisdiction: "US"))
        d.app.lock()
        let right = try XCTUnwrap(try d.keys.readKey())
        let before = try Data(contentsOf: d.environment.vaultURL)
        try d.keys.saveKey(VaultKey.generate())
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .locked)
        XCTAssertEqual(d.app.lastError, .wrongKey)
        XCTAssertNil(d.app.session)
        XCTAssertEqual(try Data(contentsOf: d.environment.vaultURL), before)
        XCTAssertTrue(d.app.lastError?.message.contains("does not open") ?? false)

        try d.keys.saveKey(right)
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .unlocked)
        XCTAssertNil(d.app.lastError)
        XCTAssertEqual(try d.session.clients.clients.map(\.alias), ["C-0002"])
    }

    func testACancelledGateNeverReadsTheKey() async throws {
        let d = device()
        try await d.create()
        d.app.lock()
        d.gate.fail(next: .cancelled)
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .locked)
        XCTAssertFalse(d.app.isBusy)
        XCTAssertEqual(d.app.lastError, .gate(.cancelled))
        d.gate.fail(next: .unavailable)
        await d.app.unlock()
        XCTAssertEqual(d.app.lastError, .gate(.unavailable))
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .unlocked)
    }

    func testAMissingKeyIsReportedAndResetStartsOver() async throws {
        let d = device()
        try await d.create()
        d.app.lock()
        try d.keys.deleteKey()
        await d.app.unlock()
        XCTAssertEqual(d.app.phase, .keyMissing)
        XCTAssertEqual(d.app.lastError, .keyMissing)
        XCTAssertEqual(AppModel(environment: d.environment).phase, .keyMissing)
        d.app.resetThisDevice()
        XCTAssertEqual(d.app.phase, .setup)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d.environment.vaultURL.path))
        try await d.create()
    }

    func testInactivityLocksAfterTheTimeoutAndActivityPostponesIt() async throws {
        let d = device()
        let s = try await d.create()
        XCTAssertEqual(d.app.inactivityTimeout, 300)
        d.clock.advance(by: 299)
        d.app.tick()
        XCTAssertEqual(d.app.phase, .unlocked)

        // Typing counts as activity.
        let client = try s.clients.addClient(NewClientForm(alias: "C-0003", jurisdiction: "US"))
        let timeline = s.timeline(clientId: client)
        d.clock.advance(by: 200)
        d.app.tick()
        XCTAssertEqual(d.app.phase, .unlocked, "adding a client 200 s ago postponed the lock")
        d.clock.advance(by: 100)
        d.app.tick()
        XCTAssertEqual(d.app.phase, .locked)
        XCTAssertEqual(d.app.lockReason, .inactivity)
        XCTAssertNil(d.app.session)

        // Models a view still holds can no longer reach the vault.
        XCTAssertThrowsError(try addSession(timeline)) { error in
            guard case .invalidState = error as? VaultError else { return XCTFail("\(error)") }
        }
    }

    func testTheTimeoutComesFromSettings() async throws {
        let d = device()
        let s = try await d.create()
        s.settings.inactivityTimeout = 60
        XCTAssertEqual(d.settings.load().inactivityTimeout, 60)
        d.clock.advance(by: 61)
        d.app.tick()
        XCTAssertEqual(d.app.lockReason, .inactivity)
    }

    func testBackgroundLongerThanTheTimeoutLocks() async throws {
        let d = device()
        try await d.create()
        d.app.didEnterBackground()
        d.clock.advance(by: 30)
        d.app.didBecomeActive()
        XCTAssertEqual(d.app.phase, .unlocked)
        d.app.didEnterBackground()
        d.clock.advance(by: 301)
        d.app.didBecomeActive()
        XCTAssertEqual(d.app.phase, .locked)
        XCTAssertEqual(d.app.lockReason, .background)
    }
}
