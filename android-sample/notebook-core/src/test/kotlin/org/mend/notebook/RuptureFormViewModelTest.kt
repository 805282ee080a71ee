// The rupture log form: local validation (significance out of range, missing movement,
// markers that contradict the movement), saving with every field, reopening, editing a logged
// rupture through updateRupture (only the changes), repair attempts and status.
package org.mend.notebook

import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.core.AllianceDimension
import org.mend.core.ClientResponse
import org.mend.core.DetectedBy
import org.mend.core.InitiatedBy
import org.mend.core.Movement
import org.mend.core.Precipitant
import org.mend.core.RecordClass
import org.mend.core.RepairStrategy
import org.mend.core.RuptureMarker
import org.mend.core.RuptureStatus
import org.mend.core.RuptureUpdate
import org.mend.core.TimelineEntry

class RuptureFormViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun validationNamesTheFieldsAndStoresNothing() = runBlocking<Unit> {
        val nb = Device(dir, "phone").unlock()
        val client = ClientListViewModel(nb).addClient("C-0301", "US-NY").getOrThrow()
        val form = RuptureFormViewModel(nb, client)

        val empty = form.save()
        failureOf<NotebookError.Validation>(empty)
        val errors = form.state.value.errors
        assertEquals(setOf("movement", "initiatedBy", "significance", "markers"), errors.keys)

        form.update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 6) }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        assertEquals("significance", failureOf<NotebookError.Validation>(form.save()).field)
        assertEquals(setOf("significance"), form.state.value.errors.keys)
        form.update { it.copy(significance = 0) }
        assertEquals(setOf("significance"), form.validate().keys)

        // A confrontation marker contradicts a withdrawal rupture; therapist markers do not.
        form.update { it.copy(significance = 3) }
        form.toggle(RuptureMarker.CF_COMPLAINT_ABOUT_THERAPIST)
        assertEquals("markers", failureOf<NotebookError.Validation>(form.save()).field)
        form.update { it.copy(movement = Movement.MIXED) }
        form.toggle(RuptureMarker.TH_WITHDRAWAL)
        assertTrue(form.validate().isEmpty())

        // A rupture dated in the future is refused.
        form.update { it.copy(occurredAt = nb.clock.nowMillis() + 86_400_000) }
        assertEquals(setOf("occurredAt"), form.validate().keys)

        // Nothing reached the vault.
        val timeline = TimelineViewModel(nb, client)
        timeline.refresh().getOrThrow()
        assertTrue(timeline.state.value.entries.none { it is TimelineEntry.Rupture })
    }

    @Test
    fun savesARuptureThenLogsRepairAndStatus() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val client = ClientListViewModel(nb).addClient("C-0302", "US-NY").getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        failureOf<NotebookError.InvalidState>(form.addRepairAttempt())

        form.update {
            it.copy(movement = Movement.CONFRONTATION, initiatedBy = InitiatedBy.CLIENT, significance = 4,
                narrative = "Questioned the homework", clientWords = "This is pointless", therapistContribution = "Pushed too fast")
        }
        form.toggle(RuptureMarker.CF_COMPLAINT_ABOUT_ACTIVITIES)
        form.toggle(Precipitant.DISAGREEMENT)
        form.toggle(Precipitant.MISUNDERSTANDING)
        form.toggle(Precipitant.MISUNDERSTANDING) // toggled off again
        val id = form.save().getOrThrow()
        val saved = form.state.value.saved!!
        assertEquals(id, saved.id)
        assertEquals(Movement.CONFRONTATION, saved.movement)
        assertEquals(listOf(RuptureMarker.CF_COMPLAINT_ABOUT_ACTIVITIES), saved.markers)
        assertEquals(listOf(Precipitant.DISAGREEMENT), saved.precipitants)
        assertEquals(4L, saved.significance)
        assertEquals(RuptureStatus.UNADDRESSED, saved.status)
        failureOf<NotebookError.InvalidState>(form.save())

        // A repair attempt needs a strategy and an effect of 1–5.
        form.updateRepair { it.copy(effect = 9) }
        failureOf<NotebookError.Validation>(form.addRepairAttempt())
        assertEquals(setOf("strategies", "effect"), form.state.value.errors.keys)
        form.updateRepair {
            it.copy(strategies = setOf(RepairStrategy.RS_PROVIDE_RATIONALE, RepairStrategy.RS_INVITE_DISCUSSION_OF_RELATIONSHIP),
                responses = setOf(ClientResponse.ASSERTED_NEED_OR_DISAGREEMENT), effect = 4, note = "Talked it through")
        }
        form.addRepairAttempt().getOrThrow()
        val attempt = form.state.value.saved!!.repairAttempts.single()
        assertEquals(4L, attempt.effect)
        assertEquals(false, attempt.immediate, "an invitation to discuss the relationship is exploratory")
        assertEquals(RepairForm(), form.state.value.repair)

        device.clock.advance(60_000)
        form.setStatus(RuptureStatus.RESOLVED).getOrThrow()
        assertEquals(RuptureStatus.RESOLVED, form.state.value.saved!!.status)
        form.update { it.copy(significance = 0) }
        assertEquals("significance", failureOf<NotebookError.Validation>(form.saveChanges()).field)
        form.update { it.copy(significance = 2) }
        form.saveChanges().getOrThrow()
        assertEquals(2L, form.state.value.saved!!.significance)

        // The timeline shows it, and no unresolved rupture remains.
        val timeline = TimelineViewModel(nb, client)
        timeline.refresh().getOrThrow()
        val entry = timeline.state.value.entries.filterIsInstance<TimelineEntry.Rupture>().single()
        assertEquals(RuptureStatus.RESOLVED, entry.status)
        assertEquals(0, timeline.state.value.unresolvedRuptures)

        // An existing rupture opens in the same view model.
        val reopened = RuptureFormViewModel(nb, client, id)
        reopened.refresh().getOrThrow()
        assertEquals("Questioned the homework", reopened.state.value.saved!!.narrative)
        assertNull(reopened.error.value)
    }

    @Test
    fun everyCreationFieldIsStoredAndShownOnReopen() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val client = ClientListViewModel(nb).addClient("C-0303", "US-NY").getOrThrow()
        val session = TimelineViewModel(nb, client).addSession(nb.clock.nowMillis()).getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        assertEquals(listOf(session), form.state.value.sessions.map { it.id }, "the client's sessions are offered")

        form.update {
            it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.THERAPIST, significance = 3,
                atMinute = 12, therapistContributionRating = 6, detectedBy = DetectedBy.THERAPIST_POST_SESSION,
                recordClass = RecordClass.PROGRESS_RECORD, clientWords = "Whatever you think", therapistContribution = "I lectured")
        }
        form.toggle(RuptureMarker.WD_DEFERENTIAL_APPEASING)
        form.toggle(AllianceDimension.TASK)
        form.toggle(AllianceDimension.BOND)
        assertEquals(null, form.state.value.form.atMinute, "a minute without a session is dropped")
        form.update { it.copy(sessionId = session, atMinute = 601) }
        assertEquals(setOf("atMinute", "therapistContributionRating"), form.validate().keys)
        form.update { it.copy(atMinute = 12, therapistContributionRating = 4) }
        val id = form.save().getOrThrow()

        // Lock, unlock, and open the rupture afresh: everything reads back from the vault.
        device.gate.lock()
        val again = device.unlock()
        val reopened = RuptureFormViewModel(again, client, id)
        reopened.refresh().getOrThrow()
        val saved = reopened.state.value.saved!!
        assertEquals(session, saved.sessionId)
        assertEquals(12L, saved.atMinute)
        assertEquals(setOf(AllianceDimension.TASK, AllianceDimension.BOND), saved.allianceDimensions.toSet())
        assertEquals(DetectedBy.THERAPIST_POST_SESSION, saved.detectedBy)
        assertEquals(4L, saved.therapistContributionRating)
        assertEquals(RecordClass.PROGRESS_RECORD, saved.recordClass)
        val shown = reopened.state.value.form
        assertEquals("Whatever you think", shown.clientWords)
        assertEquals("I lectured", shown.therapistContribution)
        assertEquals(4, shown.therapistContributionRating)
        assertEquals(12, shown.atMinute)
        assertEquals(setOf(AllianceDimension.TASK, AllianceDimension.BOND), shown.allianceDimensions)
        assertFalse(reopened.state.value.hasUnsavedChanges)
    }

    @Test
    fun editingALoggedRuptureSendsOnlyTheChangesAndReadsBack() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val client = ClientListViewModel(nb).addClient("C-0304", "US-NY").getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.update {
            it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3,
                narrative = "Went quiet", clientWords = "Fine")
        }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.toggle(Precipitant.MISUNDERSTANDING)
        val id = form.save().getOrThrow()
        assertEquals(RuptureForm.of(form.state.value.saved!!), form.state.value.form, "the form now shows the logged rupture")

        // Markers, precipitants, movement, narrative, ratings and responses are edited in place.
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.toggle(RuptureMarker.WD_GIVING_UP)
        form.toggle(RuptureMarker.CF_REJECTS_INTERVENTION)
        assertEquals("markers", form.validate().keys.single(), "a confrontation marker on a withdrawal")
        form.update { it.copy(movement = Movement.MIXED, narrative = "Went quiet after the homework review") }
        form.toggle(Precipitant.EXTERNAL_EVENT)
        form.toggle(ClientResponse.REENGAGED)
        form.update { it.copy(clientReportedIntensity = 2, resolutionRating = 4) }
        // What Mend cannot change stays as logged.
        form.update { it.copy(clientWords = "Not fine", initiatedBy = InitiatedBy.THERAPIST) }
        assertEquals("Fine", form.state.value.form.clientWords)
        assertEquals(InitiatedBy.CLIENT, form.state.value.form.initiatedBy)
        // A logged precipitant cannot be removed (the update only adds).
        assertFalse(form.canRemove(Precipitant.MISUNDERSTANDING))
        form.toggle(Precipitant.MISUNDERSTANDING)
        assertTrue(Precipitant.MISUNDERSTANDING in form.state.value.form.precipitants)

        val update = RuptureFormViewModel.changes(form.state.value.saved!!, form.state.value.form)
        assertEquals(
            RuptureUpdate(
                clientReportedIntensity = 2L, resolutionRating = 4L, movement = Movement.MIXED,
                addMarkers = listOf(RuptureMarker.WD_GIVING_UP, RuptureMarker.CF_REJECTS_INTERVENTION),
                removeMarkers = listOf(RuptureMarker.WD_MINIMAL_RESPONSE),
                addPrecipitants = listOf(Precipitant.EXTERNAL_EVENT),
                addClientResponse = listOf(ClientResponse.REENGAGED),
                narrative = "Went quiet after the homework review",
            ),
            update,
            "significance is unchanged, so it is not sent",
        )

        // A status change in between keeps the unsaved edits.
        form.setStatus(RuptureStatus.IN_PROGRESS).getOrThrow()
        assertTrue(form.state.value.hasUnsavedChanges)
        assertEquals(Movement.MIXED, form.state.value.form.movement)
        form.saveChanges().getOrThrow()
        assertFalse(form.state.value.hasUnsavedChanges)

        // Reopened after a lock, the edits are what the vault holds.
        device.gate.lock()
        val reopened = RuptureFormViewModel(device.unlock(), client, id)
        reopened.refresh().getOrThrow()
        val r = reopened.state.value.saved!!
        assertEquals(Movement.MIXED, r.movement)
        assertEquals(setOf(RuptureMarker.WD_GIVING_UP, RuptureMarker.CF_REJECTS_INTERVENTION), r.markers.toSet())
        assertEquals(setOf(Precipitant.MISUNDERSTANDING, Precipitant.EXTERNAL_EVENT), r.precipitants.toSet())
        assertEquals(listOf(ClientResponse.REENGAGED), r.clientResponse)
        assertEquals("Went quiet after the homework review", r.narrative)
        assertEquals(2L, r.clientReportedIntensity)
        assertEquals(4L, r.resolutionRating)
        assertEquals(3L, r.significance)
        assertEquals(RuptureStatus.IN_PROGRESS, r.status)
        assertEquals("Fine", r.clientWords)

        // A saved rating cannot be cleared, nor the last marker removed; discarding restores the stored values.
        reopened.update { it.copy(resolutionRating = null) }
        assertEquals("resolutionRating", failureOf<NotebookError.Validation>(reopened.saveChanges()).field)
        reopened.discardChanges()
        assertEquals(4, reopened.state.value.form.resolutionRating)
        assertEquals(setOf(RuptureMarker.WD_GIVING_UP, RuptureMarker.CF_REJECTS_INTERVENTION), reopened.state.value.form.markers)
        reopened.toggle(RuptureMarker.WD_GIVING_UP)
        reopened.toggle(RuptureMarker.CF_REJECTS_INTERVENTION)
        assertEquals("markers", failureOf<NotebookError.Validation>(reopened.saveChanges()).field, "a rupture keeps a marker")
        assertEquals(2, reopened.state.value.form.clientReportedIntensity)
    }
}
