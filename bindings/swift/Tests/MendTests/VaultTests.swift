// Boundary tests of the Swift bindings, run with XCTest (on Linux in a Debian trixie chroot):
// construct, call, throw, catch, observe, and use from many threads.
import Foundation
import XCTest
@testable import Mend

final class VaultTests: XCTestCase {
    var dir: URL!
    let key = Data(repeating: 7, count: 32)

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// XCTAssertThrowsError for async calls.
    func assertThrowsAsync<T>(_ expression: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line, _ handler: (Error) -> Void) async {
        do {
            _ = try await expression()
            XCTFail("no error thrown", file: file, line: line)
        } catch {
            handler(error)
        }
    }

    func vault(_ name: String = "vault.mend") async throws -> Vault {
        try await Vault.create(path: path(name), key: key, passphrase: nil)
    }

    func session(_ v: Vault, _ client: String) throws -> String {
        try v.createSession(session: NewSession(clientId: client, scheduledStart: 1_700_000_000_000, actualStart: nil, actualEnd: nil, status: .completed, modality: .individual, setting: .inPerson, cptCode: "90834"))
    }

    func soap(_ v: Vault, _ sessionId: String) throws -> String {
        try v.createNote(note: NewNote(sessionId: sessionId, authorId: "t-1", format: .soap, sections: [NoteSection(key: "subjective", text: "Slept badly")], createdAt: 1))
    }

    func sign(_ at: Int64) -> SignRequest {
        SignRequest(signerId: "t-1", signerName: "Dr. Example", role: .author, meaning: .authored, needsCosign: false, signedAt: at)
    }

    func testCreateReopenAndWrongKey() async throws {
        let p = path("v.mend")
        let id = try await vault("v.mend").createClient(client: NewClient(aliasCode: "C-0001", birthYear: 1990, jurisdiction: "US-CA", intakeDate: "2026-01-05"))
        var reopened: Vault? = try await Vault.open(path: p, key: key)
        XCTAssertEqual(try reopened?.client(id: id).aliasCode, "C-0001")
        reopened = nil
        await assertThrowsAsync(try await Vault.open(path: p, key: Data(repeating: 8, count: 32))) { error in
            XCTAssertEqual(error as? VaultError, .wrongKey)
        }
        await assertThrowsAsync(try await Vault.open(path: p, key: Data(repeating: 1, count: 5), passphrase: nil)) { error in
            guard case .InvalidArgument = error as? MendError else { return XCTFail("\(error)") }
        }
    }

    func testAMalformedIdInsideARecordIsAThrownErrorAndWritesNothing() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0801", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        // Core's id type is checked as uniffi lifts the record: uniffi's internal error (not a
        // MendError), which VaultError maps to .other, naming the argument; nothing is written.
        XCTAssertThrowsError(try session(v, "not-a-uuid")) { error in
            guard case let .other(message) = VaultError(error) else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("session") && message.contains("not a UUID"), message)
        }
        XCTAssertEqual(try v.timeline(clientId: c).count, 0)
        _ = try session(v, c)
        XCTAssertEqual(try v.timeline(clientId: c).count, 1)
    }

    func testASecondHandleOnOneFileIsRefusedUntilTheFirstIsGone() async throws {
        let p = path("one.mend")
        var first: Vault? = try await vault("one.mend")
        let a = try first!.createClient(client: NewClient(aliasCode: "C-0701", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        await assertThrowsAsync(try await Vault.open(path: p, key: key)) { error in
            XCTAssertEqual(error as? VaultError, .alreadyOpen)
        }
        // The first handle keeps writing; nothing is lost.
        let b = try first!.createClient(client: NewClient(aliasCode: "C-0702", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        first = nil
        let again = try await Vault.open(path: p, key: key)
        XCTAssertEqual(try again.client(id: a).aliasCode, "C-0701")
        XCTAssertEqual(try again.client(id: b).aliasCode, "C-0702")
    }

    func testRecordsRoundTrip() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0002", birthYear: nil, jurisdiction: "US-NY", intakeDate: nil))
        let s = try session(v, c)
        let n = try soap(v, s)
        try v.spliceNoteSection(id: n, section: "subjective", pos: 0, delete: 0, insert: "Reports: ")
        let note = try v.note(id: n)
        XCTAssertEqual(note.sections.first { $0.key == "subjective" }?.text, "Reports: Slept badly")
        XCTAssertEqual(note.sections.map(\.key), ["subjective", "objective", "assessment", "plan"])
        XCTAssertEqual(note.state, .draft)
        let r = try v.createRupture(rupture: NewRupture(clientId: c, sessionId: s, occurredAt: 5, recordClass: .psychotherapyNote, movement: .confrontation, initiatedBy: .client, markers: [.cfRejectsIntervention], precipitants: [.disagreement], significance: 4, narrative: "pushed back", clientWords: "no", therapistContribution: "", followUpPlanned: true, followUpNote: "ask next week"), by: "t-1")
        _ = try v.addRepairAttempt(id: r, attempt: NewRepairAttempt(sessionId: s, at: 6, strategies: [.rsInviteDiscussionOfRelationship], clientResponse: [.expressedAnger], effect: 3, note: ""))
        let rupture = try v.rupture(id: r)
        XCTAssertEqual(rupture.markers, [.cfRejectsIntervention])
        XCTAssertFalse(rupture.repairAttempts[0].immediate)
        XCTAssertEqual(rupture.repairAttempts[0].sessionId, s)
        XCTAssertTrue(rupture.followUpPlanned)
        XCTAssertEqual(rupture.followUpNote, "ask next week")
        _ = try v.recordMeasure(measure: NewMeasure(clientId: c, sessionId: s, administeredAt: 7, items: (1...12).map { MeasureItem(item: UInt8($0), score: 5) }))
        XCTAssertEqual(try v.allianceTrend(clientId: c).first?.total, 60)
        XCTAssertEqual(try v.timeline(clientId: c).count, 4)
    }

    func testValidationErrorsAreSwiftErrors() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0003", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let bad = NewRupture(clientId: c, sessionId: nil, occurredAt: 1, recordClass: .progressRecord, movement: .mixed, initiatedBy: .both, markers: [], precipitants: [], significance: 7, narrative: "", clientWords: "", therapistContribution: "")
        XCTAssertThrowsError(try mend { try v.createRupture(rupture: bad, by: "t") }) { error in
            XCTAssertEqual(error as? VaultError, .validation(field: "significance", reason: "must be between 1 and 5"))
        }
        XCTAssertThrowsError(try mend { try v.recordMeasure(measure: NewMeasure(clientId: c, sessionId: nil, administeredAt: 1, items: [MeasureItem(item: 13, score: 3)])) }) { error in
            guard case .validation(let field, _) = error as? VaultError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "items")
        }
        let s = try session(v, c)
        XCTAssertThrowsError(try mend { try v.setSessionStatus(id: s, status: .completed, actualStart: 1_700_000_600_000, actualEnd: 1_700_000_000_000) }) { error in
            guard case .validation(let field, _) = error as? VaultError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "actual_end")
        }
        try v.setSessionStatus(id: s, status: .completed, actualStart: 1_700_000_600_000, actualEnd: 1_700_003_600_000)
        let held = try v.session(id: s)
        XCTAssertEqual(held.clientId, c)
        XCTAssertEqual(held.actualEnd, 1_700_003_600_000)
        XCTAssertEqual(try v.clients().count, 1)
    }

    func testALoggedRuptureIsCorrectedTypedIntoAndVoided() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0004", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let s = try session(v, c)
        let r = try v.createRupture(rupture: NewRupture(clientId: c, sessionId: s, occurredAt: 5, recordClass: .psychotherapyNote, movement: .withdrawal, initiatedBy: .client, markers: [.wdDenial], precipitants: [.misunderstanding, .other], significance: 3, narrative: "went quiet", clientWords: "", therapistContribution: "", atMinute: 12), by: "t-1")
        try v.updateRupture(id: r, update: RuptureUpdate(removePrecipitants: [.other], followUpPlanned: true, followUpNote: "Check in first", clear: [.sessionId, .atMinute]))
        try v.spliceRuptureText(id: r, field: .narrative, pos: 10, delete: 0, insert: " after homework")
        let got = try v.rupture(id: r)
        XCTAssertEqual(got.precipitants, [.misunderstanding])
        XCTAssertNil(got.sessionId)
        XCTAssertNil(got.atMinute)
        XCTAssertTrue(got.followUpPlanned)
        XCTAssertEqual(got.followUpNote, "Check in first")
        XCTAssertEqual(got.narrative, "went quiet after homework")
        XCTAssertThrowsError(try mend { try v.updateRupture(id: r, update: RuptureUpdate(addPrecipitants: [.other], removePrecipitants: [.other])) }) { error in
            guard case .validation(let field, _) = error as? VaultError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "precipitants")
        }
        try v.setRuptureStatus(id: r, status: .inProgress, at: 6, by: "t-1", sessionId: s)
        XCTAssertEqual(try v.rupture(id: r).statusLog.map(\.to), [.unaddressed, .inProgress])
        XCTAssertEqual(try v.rupture(id: r).statusLog.last?.sessionId, s)
        try v.voidRupture(id: r, reason: "Duplicate entry", by: "t-1", at: 7)
        XCTAssertEqual(try v.rupture(id: r).voided?.reason, "Duplicate entry")
        let voided = try v.timeline(clientId: c).compactMap { entry -> Bool? in
            if case .rupture(_, _, _, _, _, let voided) = entry { return voided }
            return nil
        }
        XCTAssertEqual(voided, [true])
        XCTAssertThrowsError(try v.spliceRuptureText(id: r, field: .clientWords, pos: 0, delete: 0, insert: "x"))

        try v.setDeviceName(name: "Clinic iPad")
        XCTAssertEqual(v.devices().map(\.name), ["Clinic iPad"])
        XCTAssertThrowsError(try v.setDeviceName(name: ""))
    }

    /// Positions cross the boundary in UTF-16 code units, as `NSRange` and UITextView count:
    /// offsets from `String.utf16`, never `Character` counts. One inside a surrogate pair throws
    /// `.validation` and changes nothing.
    func testSplicePositionsCountUTF16UnitsAsNSRangeDoes() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0901", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        let n = try v.createNote(note: NewNote(sessionId: try session(v, c), authorId: "t-1", format: .free, sections: [], createdAt: 1))
        func body() throws -> String? { try v.note(id: n).sections.first { $0.key == "body" }?.text }
        func end(_ s: String?) -> UInt64 { UInt64((s ?? "").utf16.count) }

        try v.spliceNoteSection(id: n, section: "body", pos: 0, delete: 0, insert: "OK 👍🏽")
        XCTAssertEqual("OK 👍🏽".count, 4, "Swift counts one Character for the emoji")
        XCTAssertEqual(end(try body()), 7)
        try v.spliceNoteSection(id: n, section: "body", pos: end(try body()), delete: 0, insert: "!")
        XCTAssertEqual(try body(), "OK 👍🏽!")
        // NSRange of the emoji in the text, as a text view reports a selection over it.
        let text = try body()! as NSString
        let thumb = text.range(of: "👍🏽")
        XCTAssertEqual(thumb.location, 3)
        XCTAssertEqual(thumb.length, 4)
        try v.spliceNoteSection(id: n, section: "body", pos: UInt64(thumb.location + thumb.length), delete: 0, insert: " 👨‍👩‍👧 cafe\u{301} 漢字")
        XCTAssertEqual(try body(), "OK 👍🏽 👨‍👩‍👧 cafe\u{301} 漢字!")
        // Inside the thumb's pair, inside the family's last pair, a delete ending inside a pair.
        for (pos, delete) in [(4, 0), (15, 0), (3, 1)] as [(UInt64, UInt64)] {
            XCTAssertThrowsError(try v.spliceNoteSection(id: n, section: "body", pos: pos, delete: delete, insert: "x")) { error in
                guard case .validation(let field, let reason) = VaultError(error) else { return XCTFail("\(error)") }
                XCTAssertEqual(field, "sections.body")
                XCTAssertTrue(reason.contains("surrogate pair"), reason)
            }
        }
        XCTAssertEqual(try body(), "OK 👍🏽 👨‍👩‍👧 cafe\u{301} 漢字!")
        // Backspace over the family (8 units), the accent alone, then between the CJK characters.
        try v.spliceNoteSection(id: n, section: "body", pos: 8, delete: 8, insert: "")
        XCTAssertEqual(try body(), "OK 👍🏽  cafe\u{301} 漢字!")
        try v.spliceNoteSection(id: n, section: "body", pos: 13, delete: 1, insert: "")
        try v.spliceNoteSection(id: n, section: "body", pos: 15, delete: 0, insert: "・")
        XCTAssertEqual(try body()?.unicodeScalars.elementsEqual("OK 👍🏽  cafe 漢・字!".unicodeScalars), true)
        XCTAssertThrowsError(try v.spliceNoteSection(id: n, section: "body", pos: end(try body()) + 1, delete: 0, insert: "x"))

        // Rupture texts count the same way.
        let r = try v.createRupture(rupture: NewRupture(clientId: c, sessionId: nil, occurredAt: 5, recordClass: .psychotherapyNote, movement: .withdrawal, initiatedBy: .client, markers: [.wdDenial], precipitants: [.misunderstanding], significance: 3, narrative: "😔 quiet", clientWords: "", therapistContribution: "", followUpPlanned: false, followUpNote: ""), by: "t-1")
        try v.spliceRuptureText(id: r, field: .narrative, pos: 3, delete: 0, insert: "very ")
        XCTAssertEqual(try v.rupture(id: r).narrative, "😔 very quiet")
        XCTAssertThrowsError(try v.spliceRuptureText(id: r, field: .narrative, pos: 1, delete: 0, insert: "x"))
        XCTAssertEqual(try v.rupture(id: r).narrative, "😔 very quiet")
    }

    func testSigningLocksTheNote() async throws {
        let v = try await vault()
        let n = try soap(v, try session(v, try v.createClient(client: NewClient(aliasCode: "C-0004", birthYear: nil, jurisdiction: "US", intakeDate: nil))))
        try v.signNote(id: n, request: sign(10))
        XCTAssertEqual(try v.note(id: n).state, .signed)
        XCTAssertThrowsError(try mend { try v.setNoteSection(id: n, section: "plan", text: "late") }) { error in
            XCTAssertEqual(error as? VaultError, .noteLocked(noteId: n))
        }
        let a = try v.addAddendum(id: n, addendum: NewAddendum(kind: .clarification, reason: "detail", body: "More.", targets: ["plan"], authorId: "t-1", createdAt: 20))
        try v.signAddendum(id: n, addendumId: a, request: sign(21))
        XCTAssertTrue(try v.note(id: n).addenda[0].signed)
    }

    func testTwoVaultsSyncThroughAnInProcessRelay() async throws {
        let relay = InMemoryRelay()
        let phone = try await vault("phone.mend")
        let c = try phone.createClient(client: NewClient(aliasCode: "C-0005", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let n = try soap(phone, try session(phone, c))
        let code = generateInviteCode()
        let invite = try await phone.exportInvite(code: code, expiresAt: Int64.max)
        _ = try await phone.sync(relay: relay)
        let tablet = try await Vault.joinInMemory(path: path("tablet.mend"), key: Data(repeating: 9, count: 32), invite: invite, code: code, relay: relay)
        _ = try await tablet.sync(relay: relay)
        try phone.spliceNoteSection(id: n, section: "plan", pos: 0, delete: 0, insert: "phone")
        try tablet.spliceNoteSection(id: n, section: "assessment", pos: 0, delete: 0, insert: "tablet")
        for _ in 0..<2 {
            _ = try await phone.sync(relay: relay)
            _ = try await tablet.sync(relay: relay)
        }
        XCTAssertEqual(try phone.note(id: n).sections.map(\.text), try tablet.note(id: n).sections.map(\.text))
        XCTAssertEqual(try tablet.note(id: n).sections.first { $0.key == "plan" }?.text, "phone")
        await assertThrowsAsync(try await mend { try await Vault.joinInMemory(path: path("again.mend"), key: key, invite: invite, code: code, relay: relay) }) { error in
            XCTAssertEqual(error as? VaultError, .invite(.used))
        }
        let held = relay.dump()
        XCTAssertNil(held.range(of: Data("Slept badly".utf8)))
        XCTAssertNil(held.range(of: Data("C-0005".utf8)))
    }

    final class SwiftRelay: SyncTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var log: [Data] = []
        private var claimed = Set<String>()
        func push(vaultId: String, bundles: [Data]) throws { lock.withLock { log.append(contentsOf: bundles) } }
        func pull(vaultId: String, since: UInt64, limit: UInt32) throws -> TransportPage {
            lock.withLock {
                let after = log.enumerated().filter { UInt64($0.offset + 1) > since }
                let page = after.prefix(Int(limit))
                return TransportPage(items: page.map { TransportItem(seq: UInt64($0.offset + 1), bundle: $0.element) }, remaining: UInt64(after.count - page.count), head: UInt64(log.count))
            }
        }
        func uploadSnapshot(vaultId: String, recordId: String, covers: UInt64, bundle: Data) throws {}
        func dropKeyIds(vaultId: String, keyIds: [String]) throws {}
        func claimInvite(vaultId: String, inviteId: String) throws {
            try lock.withLock { if !claimed.insert(inviteId).inserted { throw MendError.InviteUsed } }
        }
    }

    func testATransportWrittenInSwift() async throws {
        let transport = SwiftRelay()
        let a = try await vault("a.mend")
        let c = try a.createClient(client: NewClient(aliasCode: "C-0006", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let code = generateInviteCode()
        let invite = try await a.exportInvite(code: code, expiresAt: Int64.max)
        let pushed = try await a.syncWith(transport: transport, listener: nil).pushed
        XCTAssertGreaterThan(pushed, 0)
        let b = try await Vault.joinWith(path: path("b.mend"), key: key, invite: invite, code: code, transport: transport)
        _ = try await b.syncWith(transport: transport, listener: nil)
        XCTAssertEqual(try b.client(id: c).aliasCode, "C-0006")
    }

    func testAConflictIsResolvedWithATypedChoice() async throws {
        let relay = InMemoryRelay()
        let phone = try await vault("c1.mend")
        let c = try phone.createClient(client: NewClient(aliasCode: "C-0013", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let code = generateInviteCode()
        let invite = try await phone.exportInvite(code: code, expiresAt: Int64.max)
        _ = try await phone.sync(relay: relay)
        let tablet = try await Vault.joinInMemory(path: path("c2.mend"), key: key, invite: invite, code: code, relay: relay)
        _ = try await tablet.sync(relay: relay)
        try phone.setClientStatus(id: c, status: .onHold)
        try tablet.setClientStatus(id: c, status: .discharged)
        _ = try await phone.sync(relay: relay)
        _ = try await tablet.sync(relay: relay)
        let conflicts = try tablet.conflicts()
        XCTAssertEqual(conflicts.count, 1)
        let offered = Set(conflicts[0].values.compactMap(\.choice))
        XCTAssertEqual(offered, [.clientStatus(status: .onHold), .clientStatus(status: .discharged)])
        XCTAssertThrowsError(try mend { try tablet.resolveConflictWith(recordId: c, choice: .significance(value: 3)) }) { error in
            guard case .validation = error as? VaultError else { return XCTFail("\(error)") }
        }
        try tablet.resolveConflictWith(recordId: c, choice: .clientStatus(status: .onHold))
        _ = try await tablet.sync(relay: relay)
        _ = try await phone.sync(relay: relay)
        XCTAssertTrue(try phone.conflicts().isEmpty)
        XCTAssertEqual(try phone.client(id: c).status, .onHold)
    }

    func testObserversHearSyncedChanges() async throws {
        let relay = InMemoryRelay()
        let phone = try await vault("o1.mend")
        let c = try phone.createClient(client: NewClient(aliasCode: "C-0007", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let code = generateInviteCode()
        let invite = try await phone.exportInvite(code: code, expiresAt: Int64.max)
        _ = try await phone.sync(relay: relay)
        let tablet = try await Vault.joinInMemory(path: path("o2.mend"), key: key, invite: invite, code: code, relay: relay)
        _ = try await tablet.sync(relay: relay)
        let stream = tablet.changes()
        try phone.setClientStatus(id: c, status: .onHold)
        _ = try await phone.sync(relay: relay)
        _ = try await tablet.sync(relay: relay)
        var iterator = stream.makeAsyncIterator()
        let changed = await iterator.next()
        XCTAssertTrue(changed?.contains(c) ?? false, "\(String(describing: changed))")
        XCTAssertEqual(try tablet.client(id: c).status, .onHold)
    }

    func testCallsFromManyThreads() async throws {
        let v = try await vault()
        let c = try v.createClient(client: NewClient(aliasCode: "C-0008", birthYear: nil, jurisdiction: "US", intakeDate: nil))
        let n = try soap(v, try session(v, c))
        final class Errors: @unchecked Sendable {
            private let lock = NSLock()
            private var list: [Error] = []
            func add(_ e: Error) { lock.withLock { list.append(e) } }
            var all: [Error] { lock.withLock { list } }
        }
        let errors = Errors()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<20 {
                do {
                    try v.spliceNoteSection(id: n, section: "plan", pos: 0, delete: 0, insert: "x")
                    _ = try v.note(id: n)
                    _ = try v.clients()
                } catch {
                    errors.add(error)
                }
            }
        }
        XCTAssertTrue(errors.all.isEmpty, "\(errors.all)")
        XCTAssertEqual(try v.note(id: n).sections.first { $0.key == "plan" }?.text.count, 160)
    }
}
