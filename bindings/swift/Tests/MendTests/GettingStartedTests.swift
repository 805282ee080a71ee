// The snippets of docs/getting-started-swift.md, compiled and run: each `// [start:NAME]` …
// `// [end:NAME]` region is what the page shows (scripts/doc-snippets.py checks they match).
// Two devices against a real mend-relay in open registration (scripts/swift.sh starts it).
import Foundation
import XCTest
import Mend

/// Stands in for the app's Keychain item (the iOS sample's `KeychainKeyStore`).
private final class Keychain: @unchecked Sendable {
    private var key: Data?
    func vaultKey() -> Data {
        if let key { return key }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        key = Data(bytes)
        return key!
    }
}

private final class Shown: @unchecked Sendable {
    private let lock = NSLock()
    private var clients: [[ClientSummary]] = []
    private var statuses: [SyncStatus] = []
    func show(_ list: [ClientSummary]) { lock.withLock { clients.append(list) } }
    func show(_ s: SyncStatus) { lock.withLock { statuses.append(s) } }
    var allClients: [[ClientSummary]] { lock.withLock { clients } }
    var allStatuses: [SyncStatus] { lock.withLock { statuses } }
}

final class GettingStartedTests: XCTestCase {
    func testTheGettingStartedPageRunsAsWritten() async throws {
        guard let relayURL = ProcessInfo.processInfo.environment["MEND_TEST_RELAY_URL"] else {
            return XCTFail("MEND_TEST_RELAY_URL is not set: run bash scripts/swift.sh")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let documents = folder
        let keychain = Keychain()
        let shown = Shown()
        var problems: [String] = []
        func scheduleRetry() { problems.append("retry") }
        func showProblem(_ message: String) { problems.append(message) }
        let now = Date()

        // [start:open]
        let path = documents.appendingPathComponent("notebook.mend").path
        let key = keychain.vaultKey() // 32 bytes from the Keychain
        let vault = FileManager.default.fileExists(atPath: path)
            ? try await Vault.open(path: path, key: key)
            : try await Vault.create(path: path, key: key, passphrase: nil)
        // [end:open]

        // [start:observe]
        let clientsTask = Task { for try await list in vault.watchClients() { shown.show(list) } }
        let statusTask = Task { for await status in vault.syncStatusUpdates() { shown.show(status) } }
        // [end:observe]
        while shown.allClients.isEmpty || shown.allStatuses.isEmpty { try await Task.sleep(nanoseconds: 5_000_000) }

        // [start:write]
        let client = try vault.createClient(client: NewClient(aliasCode: "C-1042", birthYear: nil, jurisdiction: "US-CA", intakeDate: nil))
        let session = try vault.createSession(session: NewSession(
            clientId: client, scheduledStart: Int64(now.timeIntervalSince1970 * 1000) - 3_600_000,
            actualStart: nil, actualEnd: nil, status: .completed, modality: .individual, setting: .inPerson, cptCode: "90834"))
        let note = try vault.createNote(note: NewNote(sessionId: session, authorId: "t-1", format: .soap, sections: [], createdAt: Int64(now.timeIntervalSince1970 * 1000)))
        // Typing: positions and lengths in UTF-16 units, as UITextView's NSRange counts them.
        try vault.spliceNoteSection(id: note, section: "subjective", pos: 0, delete: 0, insert: "Feeling better 👍🏽")
        try vault.spliceNoteSection(id: note, section: "subjective", pos: 14, delete: 0, insert: ", slept well")
        // [end:write]

        // [start:sync]
        do {
            let report = try await vault.sync(http: relayURL, sender: URLSessionSender()) // cancellable
            print("pushed \(report.pushed), pulled \(report.pulled)")
        } catch let error as VaultError {
            if error.isRetryable { scheduleRetry() } else { showProblem(error.description) }
        }
        // [end:sync]
        XCTAssertEqual(problems, [])

        let tabletPath = folder.appendingPathComponent("tablet.mend").path
        let tabletKey = Keychain().vaultKey()
        // [start:join]
        // On the phone: an invite under a one-time code, told to the user apart from it.
        let code = generateInviteCode()
        let invite = try await vault.exportInvite(code: code, expiresAt: Int64(now.addingTimeInterval(86_400).timeIntervalSince1970 * 1000))
        _ = try await vault.sync(http: relayURL, sender: URLSessionSender())
        // On the tablet, with the invite (a QR code) and the code (typed in):
        let tablet = try await Vault.joinHttp(path: tabletPath, key: tabletKey, invite: invite, code: code, url: relayURL, sender: URLSessionSender())
        _ = try await tablet.sync(http: relayURL, sender: URLSessionSender())
        // [end:join]

        let text = try tablet.note(id: note).sections.first { $0.key == "subjective" }?.text
        XCTAssertEqual(text, "Feeling better, slept well 👍🏽")
        let deadline = Date().addingTimeInterval(10)
        while !shown.allClients.contains(where: { $0.contains { $0.aliasCode == "C-1042" } }) && Date() < deadline {
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        XCTAssertTrue(shown.allClients.contains { $0.contains { $0.aliasCode == "C-1042" } })
        XCTAssertTrue(shown.allStatuses.contains { $0.lastSyncedAt != nil })
        clientsTask.cancel()
        statusTask.cancel()
    }
}
