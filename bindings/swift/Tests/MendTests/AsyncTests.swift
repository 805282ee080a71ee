// The Swift developer's first hour: calls that block are `async` and leave the main actor free;
// a cancelled Task reaches the core and the app's HTTP call; any number of streams; watches of
// the lists an app shows; an observable sync status; errors split into retryable and permanent;
// a throwing observer never fails or duplicates a save.
import Foundation
import XCTest
@testable import Mend

/// An HTTP stack that answers every request with what `answer` returns or throws.
private final class FakeSender: HttpSender, @unchecked Sendable {
    let answer: @Sendable () async throws -> HttpResponse
    init(_ answer: @escaping @Sendable () async throws -> HttpResponse) { self.answer = answer }
    func send(method: String, url: String, headers: [HttpHeader], body: Data) async throws -> HttpResponse {
        try await answer()
    }
}

private struct NoRoute: Error {}

private let relayURL = "http://127.0.0.1:9"

private func makeVault(_ path: String, _ key: Data) async throws -> Vault {
    try await Vault.create(path: path, key: key, passphrase: nil)
}

/// The error a sync through `sender` ends with, as a `VaultError`, or nil.
private func syncError(_ v: Vault, _ sender: HttpSender) async -> VaultError? {
    do { _ = try await v.sync(http: relayURL, sender: sender); return nil }
    catch { return error as? VaultError }
}

private func json(_ status: UInt16, _ code: String) -> HttpResponse {
    HttpResponse(status: status, body: Data("{\"error\":\"\(code)\",\"message\":\"test\"}".utf8))
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

private final class Recorder: VaultObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    let fails: Bool
    init(fails: Bool = false) { self.fails = fails }
    func recordsChanged(ids: [String]) throws {
        lock.withLock { self.ids += ids }
        if fails { throw NoRoute() }
    }
    var heard: [String] { lock.withLock { ids } }
}

final class AsyncTests: XCTestCase {
    var dir: URL!
    let key = Data(repeating: 4, count: 32)

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func vault(_ name: String) async throws -> Vault {
        try await makeVault(dir.appendingPathComponent(name).path, key)
    }

    func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
    }

    func testSyncsWaitWithoutHoldingAThreadOfTheirCaller() async throws {
        // More syncs at once than the cooperative pool has threads, each waiting 400 ms on the
        // app's HTTP call: a call that blocked its caller's thread would starve the ticker.
        var vaults: [Vault] = []
        for i in 0..<8 {
            let v = try await vault("a\(i).mend")
            _ = try v.createClient(client: NewClient(aliasCode: "C-02\(i)0", birthYear: nil, jurisdiction: "US", intakeDate: nil))
            vaults.append(v)
        }
        let ticks = Counter()
        let ticker = Task { while !Task.isCancelled { ticks.add(); try? await Task.sleep(nanoseconds: 10_000_000) } }
        let slow = FakeSender { try await Task.sleep(nanoseconds: 400_000_000); throw NoRoute() }
        let errors = await withTaskGroup(of: VaultError?.self) { group in
            for v in vaults { group.addTask { await syncError(v, slow) } }
            var all: [VaultError?] = []
            for await e in group { all.append(e) }
            return all
        }
        ticker.cancel()
        XCTAssertEqual(errors.count, 8)
        for e in errors {
            guard case .transport = e else { return XCTFail("\(String(describing: e))") }
            XCTAssertTrue(e!.isRetryable)
        }
        XCTAssertGreaterThanOrEqual(ticks.value, 10, "the ticker ran only \(ticks.value) times during the syncs")
    }

    func testURLSessionSenderNeverFollowsARedirect() async throws {
        guard let server = ProcessInfo.processInfo.environment["MEND_TEST_REDIRECT_URL"] else {
            return XCTFail("MEND_TEST_REDIRECT_URL is not set: run bash scripts/swift.sh")
        }
        let sender = URLSessionSender(timeout: 10)
        let answer = try await sender.send(method: "POST", url: server + "/redirect", headers: [HttpHeader(name: "x-mend-device", value: "d")], body: Data([1, 2, 3]))
        XCTAssertEqual(answer.status, 307, "the redirect is returned to Mend, not followed")
        let hits = try await sender.send(method: "GET", url: server + "/hits", headers: [], body: Data())
        XCTAssertEqual(String(decoding: hits.body, as: UTF8.self), "0", "the other address never saw the request")
        // And Mend refuses a redirecting relay: a permanent, typed error.
        let v = try await vault("r.mend")
        _ = try v.createClient(client: NewClient(aliasCode: "C-0299", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        do {
            _ = try await v.sync(http: server + "/redirect", sender: sender)
            XCTFail("a redirecting relay synced")
        } catch let e as VaultError {
            guard case .relayRejected = e else { return XCTFail("\(e)") }
        }
    }

    func testCancellingTheTaskStopsTheSyncAndCancelsTheAppsHttpCall() async throws {
        let v = try await vault("c.mend")
        _ = try v.createClient(client: NewClient(aliasCode: "C-0201", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let entered = Flag(), cancelled = Flag()
        let hanging = FakeSender {
            entered.set()
            do { try await Task.sleep(nanoseconds: 60_000_000_000) } catch { cancelled.set(); throw error }
            return json(200, "")
        }
        let task = Task { () -> Error? in
            do { _ = try await v.sync(http: relayURL, sender: hanging); return nil } catch { return error }
        }
        try await waitUntil("the request") { entered.isSet }
        guard case .syncing = v.syncStatus().state else { return XCTFail("\(v.syncStatus())") }
        task.cancel()
        let ended = await task.value
        XCTAssertTrue(ended is CancellationError, "a cancelled sync throws CancellationError: \(String(describing: ended))")
        // The core drops the request in flight, which cancels the app's task.
        try await waitUntil("the HTTP call's cancellation") { cancelled.isSet }
        try await waitUntil("idle") { if case .idle = v.syncStatus().state { return true } else { return false } }
        XCTAssertNil(v.syncStatus().lastSyncedAt, "a cancelled sync is not a completed one")
        XCTAssertGreaterThan(try v.pendingChanges(), 0, "nothing was lost")
        let report = try await v.sync(relay: InMemoryRelay())
        XCTAssertGreaterThan(report.pushed, 0)
        XCTAssertNotNil(v.syncStatus().lastSyncedAt)
    }

    func testTransportFailuresAreSplitIntoRetryableAndPermanent() async throws {
        let v = try await vault("e.mend")
        _ = try v.createClient(client: NewClient(aliasCode: "C-0202", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let offline = await syncError(v, FakeSender { throw NoRoute() })
        guard case .transport = offline else { return XCTFail("\(String(describing: offline))") }
        XCTAssertTrue(offline!.isRetryable)
        guard case .offline = v.syncStatus().state else { return XCTFail("\(v.syncStatus())") }
        let overloaded = await syncError(v, FakeSender { json(503, "unavailable") })
        XCTAssertTrue(overloaded?.isRetryable ?? false, "\(String(describing: overloaded))")

        let revoked = await syncError(v, FakeSender { json(403, "revoked") })
        XCTAssertEqual(revoked, .revoked)
        XCTAssertFalse(revoked!.isRetryable)
        guard case .failed = v.syncStatus().state else { return XCTFail("\(v.syncStatus())") }
        let rejected = await syncError(v, FakeSender { json(400, "bad_request") })
        guard case .relayRejected = rejected else { return XCTFail("\(String(describing: rejected))") }
        let quota = await syncError(v, FakeSender { json(403, "quota_exceeded") })
        XCTAssertEqual(quota, .relayRefused(.quotaExceeded))
        // Every case has Mend's own message for logs.
        XCTAssertEqual(revoked!.description, "this device was revoked")
        XCTAssertTrue(rejected!.description.hasPrefix("the relay rejected the request"), rejected!.description)
        XCTAssertEqual(MendError.Revoked.description, "this device was revoked")
    }

    func testManyStreamsEachWithItsOwnObserver() async throws {
        let v = try await vault("m.mend")
        let a = v.changes(), b = v.changes()
        XCTAssertEqual(v.observerCount(), 2)
        let c1 = try v.createClient(client: NewClient(aliasCode: "C-0203", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        var ia = a.makeAsyncIterator(), ib = b.makeAsyncIterator()
        let fromA = await ia.next(), fromB = await ib.next()
        XCTAssertEqual(fromA, [c1])
        XCTAssertEqual(fromB, [c1])
        // Ending one stream's task removes its observer only; the other still hears changes.
        let listening = Task { var it = a.makeAsyncIterator(); return await it.next() }
        listening.cancel()
        _ = await listening.value
        try await waitUntil("one observer") { v.observerCount() == 1 }
        let c2 = try v.createClient(client: NewClient(aliasCode: "C-0204", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let next = await ib.next()
        XCTAssertEqual(next, [c2])
    }

    func testAThrowingObserverNeverFailsOrDuplicatesASave() async throws {
        let v = try await vault("t.mend")
        let bad = Recorder(fails: true), good = Recorder()
        let tokens = [v.observe(observer: bad), v.observe(observer: good)]
        // The save returns normally: nothing invites a retry that would save twice.
        let id = try v.createClient(client: NewClient(aliasCode: "C-0205", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        XCTAssertEqual(try v.clients().map(\.aliasCode), ["C-0205"])
        XCTAssertEqual(good.heard, [id], "the other observer was still told")
        let failures = v.callbackFailures()
        XCTAssertEqual(failures.map(\.callback), ["VaultObserver.recordsChanged"])
        XCTAssertTrue(v.callbackFailures().isEmpty, "each failure is reported once")
        tokens.forEach { $0.cancel() }
        XCTAssertEqual(v.observerCount(), 0)
    }

    func testWatchesAndTheSyncStatusForAStatusBar() async throws {
        let v = try await vault("w.mend")
        var clients = v.watchClients().makeAsyncIterator()
        let first = try await clients.next()
        XCTAssertEqual(first, [], "the current value comes first")
        _ = try v.createClient(client: NewClient(aliasCode: "C-0206", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let second = try await clients.next()
        XCTAssertEqual(second?.map(\.aliasCode), ["C-0206"])

        var status = v.syncStatusUpdates().makeAsyncIterator()
        let now = await status.next()
        guard case .idle = now?.state else { return XCTFail("\(String(describing: now))") }
        XCTAssertNil(now?.lastSyncedAt)
        _ = try await v.sync(relay: InMemoryRelay())
        var sawSyncing = false
        while let s = await status.next() {
            if case .syncing = s.state { sawSyncing = true }
            if case .idle = s.state, s.lastSyncedAt != nil { break }
        }
        XCTAssertTrue(sawSyncing)
        var conflicts = v.watchConflicts().makeAsyncIterator()
        let none = try await conflicts.next()
        XCTAssertEqual(none?.count, 0)
    }
}
