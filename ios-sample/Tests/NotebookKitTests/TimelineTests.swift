// A client's timeline: rows for sessions, notes, ruptures and measures; the alliance trend as
// chart series with drops and the weakest subscale; the session and WAI-SR forms' validation;
// recording what became of a session (completed with its actual times, cancelled, no-show).
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class TimelineTests: NotebookTestCase {
    func scores(task: Int, bond: Int, goal: Int) -> [Int: Int] {
        var s: [Int: Int] = [:]
        for i in [1, 2, 10, 12] { s[i] = task }
        for i in [3, 5, 7, 9] { s[i] = bond }
        for i in [4, 6, 8, 11] { s[i] = goal }
        return s
    }

    func testRowsAndTheAllianceTrend() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        XCTAssertEqual(timeline.alias, "C-0142")
        let day: TimeInterval = 86_400
        let start = Date(timeIntervalSince1970: 1_767_000_000)
        var sessions: [String] = []
        for (i, (t, b, g)) in [(5, 5, 4), (4, 4, 4), (4, 2, 3)].enumerated() {
            let at = start.addingTimeInterval(Double(i) * 7 * day)
            let sessionId = try addSession(timeline, at: at)
            sessions.append(sessionId)
            let measure = s.measureForm(clientId: client, sessionId: sessionId)
            measure.administeredAt = at.addingTimeInterval(3000)
            measure.scores = scores(task: t, bond: b, goal: g)
            XCTAssertTrue(measure.isComplete)
            try measure.save()
        }
        _ = d
        XCTAssertEqual(timeline.sessions.count, 3)
        XCTAssertEqual(timeline.allianceTotals.map(\.value), [56, 48, 36])
        XCTAssertEqual(timeline.allianceSubscales.filter { $0.series == .bond }.map(\.value), [20, 16, 8])
        XCTAssertEqual(timeline.allianceDrops.map { [$0.from, $0.to] }, [[56, 48], [48, 36]])
        XCTAssertEqual(timeline.lowestSubscale, .bond)
        XCTAssertEqual(MeasureFormModel.items(of: .bond), [3, 5, 7, 9])
        XCTAssertEqual(MeasureFormModel.items(of: .total), [])
        timeline.dropThreshold = 10
        XCTAssertEqual(timeline.allianceDrops.map(\.to), [36])

        // Newest first: the last measure, then the last session.
        XCTAssertEqual(timeline.rows.count, 6)
        guard case .measure(total: 36, incomplete: false) = timeline.rows[0].kind else { return XCTFail("\(timeline.rows[0])") }
        XCTAssertEqual(timeline.rows[1].id, sessions[2])
        XCTAssertEqual(timeline.rows[1].title, "Session · Completed")
    }

    func testAnIncompleteMeasureAndTheFormsValidation() async throws {
        let (_, s, client) = try await notebookWithClient()
        let measure = s.measureForm(clientId: client)
        XCTAssertEqual(measure.errors.map(\.field), ["items"])
        measure.scores = [1: 4, 13: 3]
        XCTAssertTrue(measure.errors.contains { $0.reason.contains("13") })
        measure.scores = [1: 4, 2: 6]
        XCTAssertEqual(measure.errors.map(\.field), ["item 2"])
        measure.scores = [1: 4, 2: 4, 3: 5]
        XCTAssertFalse(measure.isComplete)
        try measure.save()
        let timeline = s.timeline(clientId: client)
        guard case .measure(_, incomplete: true) = try XCTUnwrap(timeline.rows.first).kind else { return XCTFail() }
        XCTAssertEqual(timeline.allianceTotals, [], "no total for an incomplete administration")

        var form = SessionForm(start: Date())
        form.minutes = 0
        form.cptCode = "9083"
        XCTAssertEqual(form.errors.map(\.field), ["length", "CPT code"])
        XCTAssertThrowsError(try timeline.addSession(form))
    }

    func testClientStatusChanges() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        try timeline.setStatus(.onHold)
        XCTAssertEqual(timeline.status, .onHold)
        XCTAssertEqual(s.clients.clients.first?.status, .onHold, "the list observed the change")
    }

    func testRecordingWhatBecameOfASession() async throws {
        let d: Device, client: String, id: String, other: String
        let start = Date(timeIntervalSince1970: 1_767_000_000)
        do {
            let (dev, s, c) = try await notebookWithClient()
            d = dev
            client = c
            let vault = try s.context.vault()
            let timeline = s.timeline(clientId: client)
            var form = SessionForm(start: start)
            form.status = .scheduled
            id = try timeline.addSession(form)
            XCTAssertNil(try vault.session(id: id).actualStart)

            // Filled from the schedule: completed, from the scheduled start, the default length.
            var outcome = try timeline.sessionOutcome(id: id)
            XCTAssertEqual(outcome.status, .completed)
            XCTAssertEqual(outcome.scheduledStart.mendMillis, start.mendMillis)
            XCTAssertEqual(outcome.actualStart.mendMillis, start.mendMillis)
            XCTAssertEqual(outcome.actualEnd.mendMillis, start.addingTimeInterval(50 * 60).mendMillis)

            // An end before the start is refused before anything is written.
            outcome.actualStart = start.addingTimeInterval(5 * 60)
            outcome.actualEnd = start
            XCTAssertEqual(outcome.errors, [FieldError("actual end", "must not be before the actual start")])
            XCTAssertThrowsError(try timeline.recordOutcome(outcome)) { error in
                XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["actual end"])
            }
            XCTAssertEqual(try vault.session(id: id).status, .scheduled, "nothing was written")

            outcome.actualEnd = start.addingTimeInterval(55 * 60)
            try timeline.recordOutcome(outcome)
            XCTAssertNil(timeline.errorMessage)
            let held = try vault.session(id: id)
            XCTAssertEqual(held.status, .completed)
            XCTAssertEqual(held.actualStart, start.addingTimeInterval(5 * 60).mendMillis)
            XCTAssertEqual(held.actualEnd, start.addingTimeInterval(55 * 60).mendMillis)
            XCTAssertEqual(timeline.rows.first { $0.id == id }?.title, "Session · Completed")

            // Mend holds the same rule against the stored start when only an end is sent.
            XCTAssertThrowsError(try mend { try vault.setSessionStatus(id: id, status: .completed, actualStart: nil, actualEnd: start.mendMillis) }) {
                guard case let .validation(field, _)? = $0 as? VaultError else { return XCTFail("\($0)") }
                XCTAssertEqual(field, "actual_end")
            }

            // A no-show takes no times (whatever the pickers hold).
            var missed = SessionForm(start: start.addingTimeInterval(7 * 86_400))
            missed.status = .scheduled
            other = try timeline.addSession(missed)
            var noShow = try timeline.sessionOutcome(id: other)
            noShow.status = .noShow
            noShow.actualEnd = noShow.actualStart.addingTimeInterval(-60)
            XCTAssertFalse(noShow.takesTimes)
            XCTAssertEqual(noShow.errors, [])
            try timeline.recordOutcome(noShow)
            let gone = try vault.session(id: other)
            XCTAssertEqual(gone.status, .noShow)
            XCTAssertNil(gone.actualStart)
            XCTAssertNil(gone.actualEnd)
            XCTAssertEqual(timeline.rows.first?.title, "Session · No-show")
        }
        // The block's handles (session, models, vault) are gone: one handle per vault file.

        // Reopened from the file, the form shows what was recorded.
        d.app.lock()
        await d.app.unlock()
        let again = try d.session.timeline(clientId: client).sessionOutcome(id: id)
        XCTAssertEqual(again.status, .completed)
        XCTAssertEqual(again.actualStart.mendMillis, start.addingTimeInterval(5 * 60).mendMillis)
        XCTAssertEqual(again.actualEnd.mendMillis, start.addingTimeInterval(55 * 60).mendMillis)
        XCTAssertEqual(try d.session.timeline(clientId: client).sessionOutcome(id: other).status, .noShow)
    }
}
