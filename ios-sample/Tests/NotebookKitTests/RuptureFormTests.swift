// The rupture log form: validation before anything is written (and Mend's own checks behind it),
// movement/marker warnings, saving, repair attempts, significance and status.
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class RuptureFormTests: NotebookTestCase {
    func testValidationBlocksSavingAndNamesFieldsNotText() async throws {
        let (d, s, client) = try await notebookWithClient()
        let form = s.newRupture(clientId: client)
        form.narrative = "SECRET-NARRATIVE"
        form.significance = 6
        XCTAssertEqual(Set(form.errors.map(\.field)), ["significance", "markers"])
        XCTAssertThrowsError(try form.save()) { error in
            let errors = (error as? FormErrors)?.errors ?? []
            XCTAssertEqual(errors.first { $0.field == "significance" }?.reason, "must be between 1 and 5")
            XCTAssertFalse(UserMessage.describe(error).contains("SECRET"))
        }
        form.significance = 0
        XCTAssertTrue(form.errors.contains { $0.field == "significance" })
        form.significance = 5
        form.toggle(.wdMinimalResponse)
        XCTAssertEqual(form.errors, [])
        form.occurredAt = d.clock.now.addingTimeInterval(3600)
        XCTAssertEqual(form.errors.map(\.field), ["date"])
        form.occurredAt = d.clock.now
        XCTAssertNil(form.ruptureId)
        XCTAssertEqual(s.timeline(clientId: client).rows.count, 0, "nothing was written")
    }

    func testWarningsForMarkersThatDoNotMatchTheMovement() async throws {
        let (_, s, client) = try await notebookWithClient()
        let form = s.newRupture(clientId: client)
        form.movement = .withdrawal
        form.toggle(.cfRejectsIntervention)
        XCTAssertEqual(form.warnings.count, 1)
        form.movement = .mixed
        XCTAssertEqual(form.warnings, [])
        form.toggle(.thWithdrawal)
        XCTAssertEqual(form.warnings.count, 1, "therapist marker on a client-initiated rupture")
        form.initiatedBy = .both
        XCTAssertEqual(form.warnings, [])
        form.toggle(.cfRejectsIntervention)
        XCTAssertFalse(form.markers.contains(.cfRejectsIntervention), "toggle removes")
    }

    func testSaveRepairAndStatus() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let sessionId = try addSession(timeline)
        let form = s.newRupture(clientId: client, sessionId: sessionId)
        form.movement = .confrontation
        form.toggle(.cfComplaintAboutTherapist)
        form.toggle(.cfComplaintAboutProgress)
        form.toggle(.disagreement as Precipitant)
        form.toggle(.therapistBurnoutFatigue as Precipitant)
        form.significance = 4
        form.narrative = "Client questioned whether therapy helps"
        let id = try form.save()
        XCTAssertTrue(form.isLogged)
        XCTAssertEqual(form.status, .unaddressed)
        XCTAssertThrowsError(try form.save(), "saving twice is refused")

        // The timeline (which observes changes) shows it, unresolved.
        XCTAssertEqual(timeline.unresolvedRuptureIds, [id])
        guard case let .rupture(movement, status, significance) = try XCTUnwrap(timeline.rows.first { $0.id == id }).kind else {
            return XCTFail()
        }
        XCTAssertEqual(movement, .confrontation)
        XCTAssertEqual(status, .unaddressed)
        XCTAssertEqual(significance, 4)

        let logged = s.rupture(id: id)
        XCTAssertEqual(logged.markers, [.cfComplaintAboutTherapist, .cfComplaintAboutProgress])
        XCTAssertEqual(logged.precipitants, [.disagreement, .therapistBurnoutFatigue])
        XCTAssertEqual(logged.narrative, "Client questioned whether therapy helps")
        XCTAssertEqual(logged.sessionId, sessionId)

        // Repair attempts: validated, then logged and classified.
        XCTAssertThrowsError(try logged.addRepairAttempt()) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["strategies"])
        }
        logged.repairDraft.strategies = [.rsClarifyMisunderstanding]
        logged.repairDraft.effect = 7
        XCTAssertThrowsError(try logged.addRepairAttempt()) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["effect"])
        }
        XCTAssertTrue(logged.repairDraft.isImmediate)
        logged.repairDraft.strategies.insert(.rsInviteDiscussionOfRelationship)
        XCTAssertFalse(logged.repairDraft.isImmediate)
        logged.repairDraft.effect = 4
        logged.repairDraft.clientResponse = [.expressedDisappointmentHurt]
        _ = try logged.addRepairAttempt()
        XCTAssertEqual(logged.repairAttempts.count, 1)
        XCTAssertEqual(logged.repairAttempts[0].effect, 4)
        XCTAssertFalse(logged.repairAttempts[0].immediate)
        XCTAssertEqual(logged.repairDraft, RepairDraft())

        // Significance and status.
        logged.significance = 2
        try logged.saveSignificance()
        XCTAssertEqual(s.rupture(id: id).significance, 2)
        logged.significance = 9
        XCTAssertThrowsError(try logged.saveSignificance())
        try logged.setStatus(.resolved)
        XCTAssertEqual(logged.status, .resolved)
        XCTAssertEqual(timeline.unresolvedRuptureIds, [])
        XCTAssertEqual(form.status, .resolved, "the first form observed the change")
    }
}
