// The rupture log form: validation before anything is written (and Mend's own checks behind it),
// movement/marker warnings, saving every field and reading it back, correcting every field of a
// logged rupture as one update of what changed (sets, clears, additions and removals), texts typed
// as splices, a follow-up plan logged with a new rupture, voiding (read-only afterwards), repair
// attempts with the session each was made in, and the status history with the session happening
// now (by its recorded start and end once the timeline records them, else by a window).
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class RuptureFormTests: NotebookTestCase {
    /// The field of a Mend validation error, or nil for any other error.
    func validationField(_ error: Error) -> String? {
        if case let .validation(field, _)? = error as? VaultError { field } else { nil }
    }

    /// Types `text` into `field` one character at a time at the end, as a keyboard would.
    func type(_ text: String, into field: RuptureText, of form: RuptureFormModel) {
        for ch in text { form.edit(field, to: form.text(field) + String(ch)) }
    }

    func testValidationBlocksSavingAndNamesFieldsNotText() async throws {
        let (d, s, client) = try await notebookWithClient()
        let form = s.newRupture(clientId: client)
        form.edit(.narrative, to: "SECRET-NARRATIVE")
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
        XCTAssertEqual(form.errors, [])
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
        form.edit(.narrative, to: "Client questioned whether therapy helps")
        let id = try form.save()
        XCTAssertTrue(form.isLogged)
        XCTAssertEqual(form.status, .unaddressed)
        XCTAssertThrowsError(try form.save(), "saving twice is refused")

        // The timeline (which observes changes) shows it, unresolved.
        XCTAssertEqual(timeline.unresolvedRuptureIds, [id])
        XCTAssertEqual(timeline.ruptureCount, 1)
        guard case let .rupture(movement, status, significance, voided) = try XCTUnwrap(timeline.rows.first { $0.id == id }).kind else {
            return XCTFail()
        }
        XCTAssertEqual(movement, .confrontation)
        XCTAssertEqual(status, .unaddressed)
        XCTAssertEqual(significance, 4)
        XCTAssertFalse(voided)

        let logged = s.rupture(id: id)
        XCTAssertEqual(logged.markers, [.cfComplaintAboutTherapist, .cfComplaintAboutProgress])
        XCTAssertEqual(logged.precipitants, [.disagreement, .therapistBurnoutFatigue])
        XCTAssertEqual(logged.narrative, "Client questioned whether therapy helps")
        XCTAssertEqual(logged.sessionId, sessionId)
        XCTAssertEqual(logged.sessions.map(\.id), [sessionId], "the client's sessions, for the picker")

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

        // Rules for the minute and the ratings.
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
        form.edit(.narrative, to: "Pushed back on the exposure plan")
        form.edit(.clientWords, to: "You don't get what this is like")
        form.edit(.therapistContribution, to: "I kept to the plan after the first objection")
        form.therapistContributionRating = 3
        let id = try form.save()

        // Reopened, after locking and unlocking (a fresh read of the vault file).
        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.rupture(id: id)
        XCTAssertNil(reopened.errorMessage)
        XCTAssertTrue(reopened.isLogged)
        XCTAssertTrue(reopened.isEditable)
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
        XCTAssertFalse(reopened.followUpPlanned)
        XCTAssertEqual(reopened.followUpNote, "")
        XCTAssertNil(reopened.voided)
        XCTAssertEqual(reopened.statusHistory.map(\.status), [.unaddressed], "the log starts when it is logged")
        XCTAssertEqual(reopened.statusHistory.first?.sessionId, sessionId)
        XCTAssertNil(reopened.pendingUpdate, "a reopened rupture has nothing to save")
    }

    func testEveryFieldOfALoggedRuptureCanBeCorrected() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let now = d.clock.now
        let first = now.addingTimeInterval(-7 * 86_400), second = now.addingTimeInterval(-3 * 86_400)
        let sessionA = try addSession(timeline, at: first)
        let sessionB = try addSession(timeline, at: second)
        let form = s.newRupture(clientId: client, sessionId: sessionA)
        form.occurredAt = first.addingTimeInterval(12 * 60)
        form.atMinute = 12
        form.toggle(.wdMinimalResponse)
        form.detectedBy = .therapistInSession
        form.toggle(.bond as AllianceDimension)
        form.toggle(.misunderstanding as Precipitant)
        form.toggle(.disagreement as Precipitant)
        form.therapistContributionRating = 2
        let id = try form.save()

        let logged = s.rupture(id: id)
        XCTAssertEqual(logged.sessions.map(\.id), [sessionB, sessionA], "newest first")
        logged.occurredAt = second.addingTimeInterval(30 * 60)
        logged.sessionId = sessionB
        logged.atMinute = 30
        logged.initiatedBy = .therapist
        logged.detectedBy = nil
        logged.toggle(.goal as AllianceDimension)
        logged.toggle(.bond as AllianceDimension)
        logged.toggle(.disagreement as Precipitant)
        logged.toggle(.externalEvent as Precipitant)
        logged.toggle(.reengaged as ClientResponse)
        logged.toggle(.withdrewFurther as ClientResponse)
        logged.toggle(.withdrewFurther as ClientResponse)
        logged.clientReportedIntensity = 4
        logged.therapistContributionRating = nil
        logged.resolutionRating = 3
        logged.followUpPlanned = true
        logged.recordClass = .progressRecord
        XCTAssertEqual(logged.pendingUpdate, RuptureUpdate(
            clientReportedIntensity: 4, resolutionRating: 3, addPrecipitants: [.externalEvent], addClientResponse: [.reengaged],
            occurredAt: second.addingTimeInterval(30 * 60).mendMillis, sessionId: sessionB, atMinute: 30, initiatedBy: .therapist,
            addAllianceDimensions: [.goal], removeAllianceDimensions: [.bond], removePrecipitants: [.disagreement],
            followUpPlanned: true, clear: [.detectedBy, .therapistContributionRating]),
            "one update of exactly what changed; a member ticked and unticked again is no change; never the record class")
        try logged.saveChanges()
        XCTAssertNil(logged.errorMessage)
        XCTAssertNil(logged.pendingUpdate)

        d.app.lock()
        await d.app.unlock()
        let again = try d.session.rupture(id: id)
        XCTAssertEqual(again.occurredAt.mendMillis, second.addingTimeInterval(30 * 60).mendMillis)
        XCTAssertEqual(again.sessionId, sessionB)
        XCTAssertEqual(again.atMinute, 30)
        XCTAssertEqual(again.initiatedBy, .therapist)
        XCTAssertNil(again.detectedBy)
        XCTAssertEqual(again.allianceDimensions, [.goal])
        XCTAssertEqual(again.precipitants, [.misunderstanding, .externalEvent])
        XCTAssertEqual(again.clientResponse, [.reengaged])
        XCTAssertEqual(again.clientReportedIntensity, 4)
        XCTAssertNil(again.therapistContributionRating)
        XCTAssertEqual(again.resolutionRating, 3)
        XCTAssertTrue(again.followUpPlanned)
        XCTAssertEqual(again.recordClass, .psychotherapyNote, "the record class is fixed")
        XCTAssertEqual(again.markers, [.wdMinimalResponse], "unchanged")

        // The form's rules hold for a logged rupture too.
        again.atMinute = 700
        XCTAssertEqual(again.errors, [FieldError("minute in session", "must be between 0 and 600")])
        again.occurredAt = d.clock.now.addingTimeInterval(86_400)
        XCTAssertEqual(again.errors.map(\.field), ["date", "minute in session"])
        again.discardChanges()
        XCTAssertEqual(again.errors, [])

        // Moved between sessions: the minute goes with the session; ratings and a response cleared.
        again.sessionId = nil
        XCTAssertNil(again.atMinute, "a minute needs a session")
        again.clientReportedIntensity = nil
        again.resolutionRating = nil
        again.toggle(.reengaged as ClientResponse)
        again.detectedBy = .supervisor
        XCTAssertEqual(again.pendingUpdate, RuptureUpdate(
            detectedBy: .supervisor, removeClientResponse: [.reengaged],
            clear: [.sessionId, .atMinute, .clientReportedIntensity, .resolutionRating]))
        try again.saveChanges()
        let r = try d.session.context.vault().rupture(id: id)
        XCTAssertNil(r.sessionId)
        XCTAssertNil(r.atMinute)
        XCTAssertNil(r.clientReportedIntensity)
        XCTAssertNil(r.resolutionRating)
        XCTAssertEqual(r.clientResponse, [])
        XCTAssertEqual(r.detectedBy, .supervisor)

        // What the form never sends, Mend refuses: setting and clearing, or adding and removing,
        // the same thing in one update.
        let vault = try d.session.context.vault()
        XCTAssertThrowsError(try mend { try vault.updateRupture(id: id, update: RuptureUpdate(detectedBy: .supervisor, clear: [.detectedBy])) }) {
            XCTAssertEqual(self.validationField($0), "detected_by")
        }
        XCTAssertThrowsError(try mend { try vault.updateRupture(id: id, update: RuptureUpdate(addMarkers: [.wdDenial], removeMarkers: [.wdDenial])) }) {
            XCTAssertEqual(self.validationField($0), "markers")
        }
        again.markers = []
        XCTAssertThrowsError(try again.saveChanges(), "a rupture keeps at least one marker")
    }

    func testCorrectionsKeptWhileTheRuptureChangesUnderneath() async throws {
        let (_, s, client) = try await notebookWithClient()
        let form = s.newRupture(clientId: client)
        form.toggle(.wdMinimalResponse)
        form.toggle(.misunderstanding as Precipitant)
        let id = try form.save()

        // Another form on the same rupture saves a marker and a precipitant; this one keeps its
        // unsaved corrections on top.
        let mine = s.rupture(id: id)
        mine.toggle(.misunderstanding as Precipitant)
        mine.initiatedBy = .both
        let other = s.rupture(id: id)
        other.toggle(.wdGivingUp)
        other.toggle(.externalEvent as Precipitant)
        try other.saveChanges()
        XCTAssertEqual(mine.markers, [.wdMinimalResponse, .wdGivingUp], "the other form's change arrived")
        XCTAssertEqual(mine.precipitants, [.externalEvent], "its addition, and this form's removal kept")
        XCTAssertEqual(mine.initiatedBy, .both)
        XCTAssertEqual(mine.pendingUpdate, RuptureUpdate(initiatedBy: .both, removePrecipitants: [.misunderstanding]))
        try mine.setStatus(.inProgress)
        XCTAssertEqual(mine.status, .inProgress)
        XCTAssertEqual(mine.initiatedBy, .both, "a status change keeps unsaved corrections")
        try mine.saveChanges()
        XCTAssertEqual(other.precipitants, [.externalEvent])
        XCTAssertEqual(other.initiatedBy, .both)
    }

    func testTextsAreTypedAsSplicesAndStoredAtOnce() async throws {
        let (_, s, client) = try await notebookWithClient()
        let vault = try s.context.vault()
        let form = s.newRupture(clientId: client)
        form.toggle(.wdDenial)
        form.edit(.narrative, to: "Went quiet")
        let id = try form.save()
        XCTAssertEqual(try vault.rupture(id: id).narrative, "Went quiet")

        let other = s.rupture(id: id)
        type(" after the homework review", into: .narrative, of: form)
        XCTAssertEqual(try vault.rupture(id: id).narrative, "Went quiet after the homework review", "every keystroke is stored")
        XCTAssertEqual(other.narrative, "Went quiet after the homework review", "another open form follows the typing")
        XCTAssertNil(form.pendingUpdate, "texts are not part of the update")
        XCTAssertNil(form.errorMessage)

        // An insertion in the middle and a deletion, each one splice.
        form.edit(.narrative, to: "Went very quiet after the homework review")
        form.edit(.narrative, to: "Went very quiet after the review")
        // Positions count UTF-16 units, as NSRange does (an emoji is two units, one scalar, four bytes).
        form.edit(.clientWords, to: "🙃 “Ça ne sert à rien”")
        form.edit(.clientWords, to: "🙃 “Ça ne sert à rien”, she said")
        form.edit(.clientWords, to: "🙃🙃 “Ça ne sert à rien”, she said")
        type("I pressed on", into: .therapistContribution, of: form)
        type("Check in at the start of next session", into: .followUpNote, of: form)
        form.followUpPlanned = true
        XCTAssertEqual(form.pendingUpdate, RuptureUpdate(followUpPlanned: true))
        try form.saveChanges()

        let r = try vault.rupture(id: id)
        XCTAssertEqual(r.narrative, "Went very quiet after the review")
        XCTAssertEqual(r.clientWords, "🙃🙃 “Ça ne sert à rien”, she said")
        XCTAssertEqual(r.therapistContribution, "I pressed on")
        XCTAssertEqual(r.followUpNote, "Check in at the start of next session")
        XCTAssertTrue(r.followUpPlanned)
        XCTAssertEqual(other.clientWords, r.clientWords)
        XCTAssertEqual(other.followUpNote, r.followUpNote)
        XCTAssertTrue(other.followUpPlanned)
    }

    func testVoidingKeepsTheRuptureReadableAndReadOnly() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let form = s.newRupture(clientId: client)
        form.toggle(.wdMinimalResponse)
        form.edit(.narrative, to: "Went quiet")
        let id = try form.save()
        let kept = s.newRupture(clientId: client)
        kept.toggle(.cfDefendsSelf)
        let keptId = try kept.save()
        XCTAssertEqual(Set(timeline.unresolvedRuptureIds), [id, keptId])

        XCTAssertThrowsError(try form.voidRupture(reason: "  \n")) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["void reason"])
        }
        XCTAssertFalse(form.isVoided, "nothing was written")

        form.significance = 5
        d.clock.advance(by: 60)
        try form.voidRupture(reason: " Logged for the wrong client ")
        XCTAssertTrue(form.isVoided)
        XCTAssertFalse(form.isEditable)
        XCTAssertEqual(form.voided?.reason, "Logged for the wrong client")
        XCTAssertEqual(form.voided?.at, d.clock.nowMillis)
        XCTAssertTrue(form.voidedByMe)
        XCTAssertEqual(form.significance, 3, "unsaved corrections are dropped")
        XCTAssertEqual(form.narrative, "Went quiet", "still readable")

        // On the timeline, marked; out of the unresolved list and the count.
        let row = try XCTUnwrap(timeline.rows.first { $0.id == id })
        XCTAssertTrue(row.isVoided)
        XCTAssertTrue(row.title.hasSuffix("voided"), row.title)
        XCTAssertFalse(try XCTUnwrap(timeline.rows.first { $0.id == keptId }).isVoided)
        XCTAssertEqual(timeline.unresolvedRuptureIds, [keptId])
        XCTAssertEqual(timeline.ruptureCount, 1)
        XCTAssertEqual(timeline.voidedRuptureCount, 1)

        // Every further edit is refused by Mend, and the form shows the stored rupture again.
        form.edit(.narrative, to: "Went quiet again")
        XCTAssertEqual(form.lastError.flatMap { self.validationField($0) }, "rupture")
        XCTAssertEqual(form.narrative, "Went quiet")
        form.significance = 4
        XCTAssertThrowsError(try form.saveChanges()) { XCTAssertEqual(self.validationField($0), "rupture") }
        XCTAssertEqual(form.significance, 3)
        XCTAssertThrowsError(try form.setStatus(.resolved)) { XCTAssertEqual(self.validationField($0), "rupture") }
        form.repairDraft.strategies = [.apology]
        XCTAssertThrowsError(try form.addRepairAttempt()) { XCTAssertEqual(self.validationField($0), "rupture") }
        XCTAssertThrowsError(try form.voidRupture(reason: "twice")) { XCTAssertEqual(self.validationField($0), "rupture") }
        XCTAssertEqual(form.status, .unaddressed)
        XCTAssertEqual(form.repairAttempts, [])

        // Reopened from the file: still voided, with its reason.
        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.rupture(id: id)
        XCTAssertEqual(reopened.voided?.reason, "Logged for the wrong client")
        XCTAssertEqual(reopened.narrative, "Went quiet")
        XCTAssertEqual(try d.session.timeline(clientId: client).unresolvedRuptureIds, [keptId])
    }

    func testStatusHistoryRecordsTheSessionHappeningNow() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let past = try addSession(timeline, at: d.clock.now.addingTimeInterval(-2 * 86_400))
        let form = s.newRupture(clientId: client, sessionId: past)
        form.occurredAt = d.clock.now.addingTimeInterval(-2 * 86_400 + 600)
        form.toggle(.wdAvoidantStorytellingTopicShift)
        let id = try form.save()
        let logged = s.rupture(id: id)
        XCTAssertNil(logged.currentSession, "a session two days ago is not happening now")
        d.clock.advance(by: 60)
        try logged.setStatus(.inProgress)

        // A session that started 20 minutes ago is happening now; a cancelled one never is.
        let nowStart = d.clock.now.addingTimeInterval(-20 * 60)
        let now = try addSession(timeline, at: nowStart)
        var cancelled = SessionForm(start: d.clock.now.addingTimeInterval(-5 * 60))
        cancelled.status = .cancelledClient
        _ = try timeline.addSession(cancelled)
        XCTAssertEqual(logged.sessions.count, 3, "the open form saw the new sessions")
        XCTAssertEqual(logged.currentSession?.id, now)
        d.clock.advance(by: 60)
        try logged.setStatus(.resolved)

        let history = logged.statusHistory
        XCTAssertEqual(history.map(\.status), [.unaddressed, .inProgress, .resolved])
        XCTAssertEqual(history.map(\.sessionId), [past, nil, now])
        XCTAssertEqual(history[2].sessionDate?.mendMillis, nowStart.mendMillis)
        XCTAssertEqual(history[2].date.mendMillis, d.clock.nowMillis)
        XCTAssertTrue(history.allSatisfy(\.byMe))
        XCTAssertEqual(history[1].by, "clinician-phone")

        // Three hours after it started, the session is over.
        d.clock.advance(by: 3 * 3600)
        XCTAssertNil(logged.currentSession)
    }

    func testANewRuptureIsLoggedWithItsFollowUpPlan() async throws {
        let d: Device, client: String, id: String
        do {
            let (dev, s, c) = try await notebookWithClient()
            d = dev
            client = c
            let vault = try s.context.vault()
            let form = s.newRupture(clientId: client)
            form.toggle(.wdMinimalResponse)
            form.followUpPlanned = true
            type("Ask about the missed homework", into: .followUpNote, of: form)
            XCTAssertEqual(form.followUpNote, "Ask about the missed homework", "kept in the form until it is logged")
            XCTAssertEqual(form.errors, [], "a follow-up can be planned before the rupture is logged")
            XCTAssertNil(form.errorMessage)
            XCTAssertEqual(s.timeline(clientId: client).rows.count, 0, "nothing is written while typing a new rupture")
            id = try form.save()
            var r = try vault.rupture(id: id)
            XCTAssertTrue(r.followUpPlanned)
            XCTAssertEqual(r.followUpNote, "Ask about the missed homework")
            XCTAssertNil(form.pendingUpdate, "the plan went with the new rupture, not a later update")

            // Logged, the same form types the plan as splices, stored at once.
            type(" first", into: .followUpNote, of: form)
            r = try vault.rupture(id: id)
            XCTAssertEqual(r.followUpNote, "Ask about the missed homework first")

            // A plan written but not ticked is kept as written, and not planned.
            let unticked = s.newRupture(clientId: client)
            unticked.toggle(.cfDefendsSelf)
            unticked.edit(.followUpNote, to: "Maybe raise in supervision")
            let other = try unticked.save()
            let u = try vault.rupture(id: other)
            XCTAssertFalse(u.followUpPlanned)
            XCTAssertEqual(u.followUpNote, "Maybe raise in supervision")
        }
        // The block's handles (session, models, vault) are gone: one handle per vault file.

        // Reopened from the file.
        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.rupture(id: id)
        XCTAssertTrue(reopened.followUpPlanned)
        XCTAssertEqual(reopened.followUpNote, "Ask about the missed homework first")
        XCTAssertNil(reopened.pendingUpdate)
    }

    func testRepairAttemptsShowTheSessionTheyWereMadeIn() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let past = try addSession(timeline, at: d.clock.now.addingTimeInterval(-2 * 86_400))
        let form = s.newRupture(clientId: client, sessionId: past)
        form.occurredAt = d.clock.now.addingTimeInterval(-2 * 86_400 + 600)
        form.toggle(.wdMinimalResponse)
        let id = try form.save()
        let logged = s.rupture(id: id)

        // Between sessions: no session is happening now.
        XCTAssertNil(logged.currentSession)
        logged.repairDraft.strategies = [.rsInviteDiscussionOfRelationship]
        let between = try logged.addRepairAttempt()

        // In a session that started ten minutes ago.
        let start = d.clock.now.addingTimeInterval(-10 * 60)
        let now = try addSession(timeline, at: start)
        d.clock.advance(by: 60)
        logged.repairDraft.strategies = [.apology]
        let inSession = try logged.addRepairAttempt()

        let rows = logged.repairHistory
        XCTAssertEqual(rows.map(\.id), [between, inSession])
        XCTAssertEqual(rows.map(\.sessionId), [nil, now])
        XCTAssertNil(rows[0].sessionDate)
        XCTAssertEqual(rows[1].sessionDate?.mendMillis, start.mendMillis)
        XCTAssertEqual(rows[1].date.mendMillis, d.clock.nowMillis)
        XCTAssertEqual(rows[1].attempt.strategies, [.apology])
        XCTAssertEqual(form.repairHistory.map(\.sessionId), [nil, now], "the first form observed both attempts")

        // Reopened from the file, each attempt still names its session.
        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.rupture(id: id)
        XCTAssertEqual(reopened.repairHistory.map(\.sessionId), [nil, now])
        XCTAssertEqual(reopened.repairHistory.map { $0.sessionDate?.mendMillis }, [nil, start.mendMillis])
    }

    func testTheSessionHappeningNowFollowsItsRecordedTimes() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let form = s.newRupture(clientId: client)
        form.toggle(.wdDenial)
        let id = try form.save()
        let logged = s.rupture(id: id)

        // Scheduled half an hour ago, nothing recorded: the window from its start says it is on.
        var scheduled = SessionForm(start: d.clock.now.addingTimeInterval(-30 * 60))
        scheduled.status = .scheduled
        let a = try timeline.addSession(scheduled)
        XCTAssertEqual(logged.currentSession?.id, a)

        // Recorded as ended five minutes ago: over, though the window would still hold it.
        var outcome = try timeline.sessionOutcome(id: a)
        outcome.actualEnd = d.clock.now.addingTimeInterval(-5 * 60)
        try timeline.recordOutcome(outcome)
        XCTAssertEqual(logged.sessions.first { $0.id == a }?.status, .completed, "the open form saw the outcome")
        XCTAssertNil(logged.currentSession, "the recorded end has passed")
        try logged.setStatus(.inProgress)
        logged.repairDraft.strategies = [.rsProvideRationale]
        try logged.addRepairAttempt()
        XCTAssertEqual(logged.statusHistory.last?.sessionId, nil)
        XCTAssertEqual(logged.repairHistory.last?.sessionId, nil)

        // Scheduled four hours ago, past the window, but recorded as still running for ten minutes.
        scheduled.start = d.clock.now.addingTimeInterval(-4 * 3600)
        let b = try timeline.addSession(scheduled)
        XCTAssertNil(logged.currentSession, "by the window alone it is over")
        outcome = try timeline.sessionOutcome(id: b)
        outcome.actualEnd = d.clock.now.addingTimeInterval(10 * 60)
        try timeline.recordOutcome(outcome)
        XCTAssertEqual(logged.currentSession?.id, b)
        XCTAssertEqual(logged.span(of: try XCTUnwrap(logged.currentSession))?.upperBound.mendMillis,
                       d.clock.now.addingTimeInterval(10 * 60).mendMillis)
        d.clock.advance(by: 60)
        try logged.setStatus(.resolved)
        XCTAssertEqual(logged.statusHistory.last?.sessionId, b)

        // Its recorded end passes; a session about to start (no times yet) is on by the window,
        // until it is recorded as a no-show.
        d.clock.advance(by: 10 * 60)
        XCTAssertNil(logged.currentSession)
        scheduled.start = d.clock.now.addingTimeInterval(10 * 60)
        let c = try timeline.addSession(scheduled)
        XCTAssertEqual(logged.currentSession?.id, c)
        outcome = try timeline.sessionOutcome(id: c)
        outcome.status = .noShow
        try timeline.recordOutcome(outcome)
        XCTAssertNil(logged.currentSession, "a no-show is never happening now")
        XCTAssertEqual(logged.statusHistory.map(\.sessionId), [nil, nil, b])
    }
}
