// Cancelling a running sync, made deterministic with a relay written in Swift (the bindings'
// SyncTransport) whose push waits until the test lets it go.
import Foundation
import XCTest
import Mend
@testable import NotebookKit

/// An in-memory relay protocol whose pushes can be held.
final class HeldRelay: SyncTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var log: [Data] = []
    private var claimed = Set<String>()
    private var holding = false
    private var held = false
    private let release = DispatchSemaphore(value: 0)

    /// The next push waits for `letGo()`.
    func holdNextPush() { lock.withLock { holding = true } }
    /// Whether a push is waiting.
    var isHolding: Bool { lock.withLock { held } }
    /// Lets the waiting push finish.
    func letGo() { release.signal() }

    func push(vaultId: String, bundles: [Data]) throws {
        let wait = lock.withLock { () -> Bool in
            defer { holding = false }
            held = holding
            return holding
        }
        if wait { release.wait() }
        lock.withLock {
            held = false
            log.append(contentsOf: bundles)
        }
    }

    func pull(vaultId: String, since: UInt64, limit: UInt32) throws -> TransportPage {
        lock.withLock {
            let after = log.enumerated().filter { UInt64($0.offset + 1) > since }
            let page = after.prefix(Int(limit))
            return TransportPage(items: page.map { TransportItem(seq: UInt64($0.offset + 1), bundle: $0.element) },
                                 remaining: UInt64(after.count - page.count), head: UInt64(log.count))
        }
    }

    func uploadSnapshot(vaultId: String, recordId: String, covers: UInt64, bundle: Data) throws {}
    func dropKeyIds(vaultId: String, keyIds: [String]) throws {}
    func claimInvite(vaultId: String, inviteId: String) throws {
        try lock.withLock { if !claimed.insert(inviteId).inserted { throw MendError.InviteUsed } }
    }
}

final class SyncCancelTests: NotebookTestCase {
    func testACancelledSyncStopsAndTheNextOneResumes() async throws {
        let relay = HeldRelay()
        let d = Device(folder: folder, name: "phone", relayURL: "https://relay.example.org",
                       endpoint: { url in url == nil ? nil : .custom(relay) })
        let s = try await d.create()
        _ = try s.clients.addClient(NewClientForm(alias: "C-0950", jurisdiction: "US"))
        XCTAssertGreaterThan(s.sync.pendingChanges, 0)

        relay.holdNextPush()
        let running = Task { await s.sync.sync() }
        let deadline = Date().addingTimeInterval(10)
        while !relay.isHolding && Date() < deadline { try await Task.sleep(nanoseconds: 2_000_000) }
        XCTAssertTrue(relay.isHolding, "the sync reached the relay")
        XCTAssertTrue(s.sync.isSyncing)
        await s.sync.sync()
        XCTAssertTrue(s.sync.isSyncing, "a second sync does not start while one runs")
        s.sync.cancel()
        relay.letGo()
        await running.value

        XCTAssertEqual(s.sync.phase, .cancelled)
        XCTAssertEqual(s.sync.lastReport?.cancelled, true)
        await s.sync.sync()
        XCTAssertEqual(s.sync.phase, .succeeded)
        XCTAssertEqual(s.sync.pendingChanges, 0)
    }
}
