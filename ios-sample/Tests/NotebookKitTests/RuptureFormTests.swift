// The rupture log form: validation before anything is written (and Mend's own checks behind it),
// movement/marker warnings, saving every field and reading it back, editing a logged rupture as
// one update of what changed, repair attempts, significance and status.
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
        XCTAssertEqual(logged.pendingUpdate, RuptureUpdate(significance: 2))
        try logged.saveChanges()
        XCTAssertEqual(s.rupture(id: id).significance, 2)
        logged.significance = 9
        XCTAssertThrowsError(try logged.saveChanges())
        logged.discardChanges()
        XCTAssertEqual(logged.significance, 2)
        try logged.setStatus(.resolved)
        XCTAssertEqual(logged.status, .resolved)
        XCTAssertEqual(timeline.unresolvedRuptureIds, [])
        XCTAssertEqual(form.status, .resolved, "the first form observed the change")
    }

    func testEveryFieldIsStoredAndShownWhenReopened() async throws {
        let (d, s, client) = try await notebookWithClient()
        let sessionId = try addSession(s.timeline(clientId: client))

        // Rules for the fields only a new rupture sets.
        let loose = s.newRupture(clientId: client)
        loose.toggle(.wdDenial)
        loose.atMinute = 12
        XCTAssertEqual(loose.errors, [FieldError("minute in session", "only for a rupture in a session")])
        let form = s.newRupture(clientId: client, sessionId: sessionId)
        form.toggle(.cfRejectsIntervention)
        form.atMinute = 601
        form.therapistContributionRating = 6
        XCTAssertEqual(Set(form.errors.map(\.field)), ["minute in session", "therapist contribution rating"])

        form.movement = .confrontation
        form.initiatedBy = .both
        form.recordClass = .progressRecord
        form.atMinute = 38
        form.detectedBy = .clientRaised
        form.toggle(.bond as AllianceDimension)
        form.toggle(.task as AllianceDimension)
        form.toggle(.culturalDifference as Precipitant)
        form.significance = 4
        form.narrative = "Pushed back on the exposure plan"
        form.clientWords = "You don't get what this is like"
        form.therapistContribution = "I kept to the plan after the first objection"
        form.therapistContributionRating = 3
        let id = try form.save()

        // Reopened, after locking and unlocking (a fresh read of the vault file).
        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.rupture(id: id)
        XCTAssertNil(reopened.errorMessage)
        XCTAssertTrue(reopened.isLogged)
        XCTAssertEqual(reopened.clientId, client)
        XCTAssertEqual(reopened.sessionId, sessionId)
        XCTAssertEqual(reopened.movement, .confrontation)
        XCTAssertEqual(reopened.initiatedBy, .both)
        XCTAssertEqual(reopened.recordClass, .progressRecord)
        XCTAssertEqual(reopened.atMinute, 38)
        XCTAssertEqual(reopened.detectedBy, .clientRaised)
        XCTAssertEqual(reopened.allianceDimensions, [.bond, .task])
        XCTAssertEqual(reopened.markers, [.cfRejectsIntervention])
        XCTAssertEqual(reopened.precipitants, [.culturalDifference])
        XCTAssertEqual(reopened.significance, 4)
        XCTAssertEqual(reopened.narrative, "Pushed back on the exposure plan")
        XCTAssertEqual(reopened.clientWords, "You don't get what this is like")
        XCTAssertEqual(reopened.therapistContribution, "I kept to the plan after the first objection")
        XCTAssertEqual(reopened.therapistContributionRating, 3)
        XCTAssertNil(reopened.clientReportedIntensity)
        XCTAssertNil(reopened.resolutionRating)
        XCTAssertEqual(reopened.clientResponse, [])
        XCTAssertNil(reopened.pendingUpdate, "a reopened rupture has nothing to save")
        reopened.toggle(.goal as AllianceDimension)
        XCTAssertEqual(reopened.allianceDimensions, [.bond, .task], "dimensions are read-only once logged")
    }

    func testEditingALoggedRuptureSendsOnlyWhatChanged() async throws {
        let (d, s, client) = try await notebookWithClient()
        let form = s.newRupture(clientId: client)
        form.toggle(.wdMinimalResponse)
        form.toggle(.wdAbstractCommunication)
        form.toggle(.misunderstanding as Precipitant)
        form.narrative = "Went quiet"
        let id = try form.save()

        let logged = s.rupture(id: id)
        XCTAssertNil(logged.pendingUpdate)
        logged.toggle(.wdMinimalResponse)
        logged.toggle(.wdGivingUp)
        logged.toggle(.externalEvent as Precipitant)
        logged.toggle(.withdrewFurther as ClientResponse)
        logged.narrative = "Went quiet after the homework review"
        logged.clientReportedIntensity = 2
        logged.movement = .mixed
        XCTAssertEqual(logged.pendingUpdate, RuptureUpdate(
            clientReportedIntensity: 2, movement: .mixed, addMarkers: [.wdGivingUp], removeMarkers: [.wdMinimalResponse],
            addPrecipitants: [.externalEvent], addClientResponse: [.withdrewFurther],
            narrative: "Went quiet after the homework review"))
        XCTAssertTrue(logged.hasUnsavedChanges)

        // What Mend cannot do is refused by the form, before writing.
        logged.toggle(.misunderstanding as Precipitant)
        XCTAssertTrue(logged.precipitants.contains(.misunderstanding), "a logged precipitant stays")
        XCTAssertFalse(logged.canRemove(.misunderstanding as Precipitant))
        XCTAssertTrue(logged.canRemove(.externalEvent as Precipitant), "an unsaved one can go")
        logged.resolutionRating = 0
        XCTAssertThrowsError(try logged.saveChanges()) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["resolution rating"])
        }
        logged.resolutionRating = nil
        try logged.saveChanges()
        XCTAssertNil(logged.pendingUpdate)
        XCTAssertNil(logged.errorMessage)

        // Read back from the vault file by a fresh form after locking.
        d.app.lock()
        await d.app.unlock()
        let again = try d.session.rupture(id: id)
        XCTAssertEqual(again.markers, [.wdAbstractCommunication, .wdGivingUp])
        XCTAssertEqual(again.precipitants, [.misunderstanding, .externalEvent])
        XCTAssertEqual(again.clientResponse, [.withdrewFurther])
        XCTAssertEqual(again.narrative, "Went quiet after the homework review")
        XCTAssertEqual(again.clientReportedIntensity, 2)
        XCTAssertEqual(again.movement, .mixed)
        XCTAssertEqual(again.significance, 3, "unchanged")

        again.clientReportedIntensity = nil
        XCTAssertEqual(again.errors, [FieldError("client-reported intensity", "cannot be cleared once saved")])
        again.precipitants = [.externalEvent]
        XCTAssertTrue(again.errors.contains(FieldError("precipitants", "a logged precipitant cannot be removed")))
        again.discardChanges()
        XCTAssertEqual(again.errors, [])
        again.markers = []
        XCTAssertThrowsError(try again.saveChanges(), "a rupture keeps at least one marker")
        again.discardChanges()

        // Edits kept while the rupture changes underneath: a status change and a repair attempt
        // reload it without dropping an unsaved edit.
        again.narrative = "Went quiet after the homework review; picked up when I named it"
        try again.setStatus(.inProgress)
        XCTAssertEqual(again.status, .inProgress)
        XCTAssertEqual(again.narrative, "Went quiet after the homework review; picked up when I named it")
        XCTAssertEqual(again.pendingUpdate, RuptureUpdate(narrative: "Went quiet after the homework review; picked up when I named it"))
        XCTAssertEqual(try d.session.timeline(clientId: client).unresolvedRuptureIds, [id])
    }
}
