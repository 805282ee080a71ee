// The rupture log form: local validation (significance out of range, missing movement,
// markers that contradict the movement), saving with every field, reopening, correcting every
// field of a logged rupture through updateRupture (only the changes, including clears and
// removals), texts typed as splices, voiding, repair attempts, and status changes with the
// session happening now.
package org.mend.notebook

import java.nio.file.Path
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import java.time.ZoneOffset
import java.time.ZonedDateTime
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.model.AllianceDimension
import org.mend.model.ClientResponse
import org.mend.model.DetectedBy
import org.mend.model.InitiatedBy
import org.mend.model.Movement
import org.mend.model.Precipitant
import org.mend.model.RecordClass
import org.mend.model.RepairStrategy
import org.mend.model.RuptureField
import org.mend.model.RuptureMarker
import org.mend.model.RuptureStatus
import org.mend.model.RuptureText
import org.mend.model.RuptureUpdate
import org.mend.model.SessionStatus
import org.mend.core.TimelineEntry
import org.mend.immediate

class RuptureFormViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun validationNamesTheFieldsAndStoresNothing() = runBlocking<Unit> {
        val (_, nb, client) = phoneWithClient("C-0301")
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
        val (device, nb, client) = phoneWithClient("C-0302")
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
        val (device, nb, client) = phoneWithClient("C-0303")
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
    fun correctingALoggedRuptureSendsOnlyTheChangesAndReadsBack() = runBlocking<Unit> {
        val (device, nb, client) = phoneWithClient("C-0304")
        val timeline = TimelineViewModel(nb, client)
        val now = nb.clock.nowMillis()
        val first = timeline.addSession(now - 2 * DAY).getOrThrow()
        val second = timeline.addSession(now - DAY).getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        form.update {
            it.copy(sessionId = first, atMinute = 10, occurredAt = now - 2 * DAY + 10 * MINUTE, movement = Movement.WITHDRAWAL,
                initiatedBy = InitiatedBy.CLIENT, detectedBy = DetectedBy.THERAPIST_IN_SESSION, significance = 3,
                therapistContributionRating = 2, narrative = "Went quiet", clientWords = "Fine")
        }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.toggle(Precipitant.MISUNDERSTANDING)
        form.toggle(AllianceDimension.TASK)
        val id = form.save().getOrThrow()
        val logged = form.state.value.saved!!
        assertEquals(RuptureForm.of(logged), form.state.value.form, "the form now shows the logged rupture")
        assertEquals(listOf(second, first), form.state.value.sessions.map { it.id }, "the client's sessions, newest first")

        // Every field but the record class is corrected in place.
        val zone = ZoneId.of("America/New_York")
        val dayBefore = LocalDate.ofInstant(Instant.ofEpochMilli(now - 3 * DAY), zone).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli()
        form.setDay(dayBefore, zone)
        val movedTo = form.state.value.form.occurredAt!!
        assertEquals(RuptureFormViewModel.onDay(logged.occurredAt, dayBefore, zone), movedTo)
        form.update {
            it.copy(sessionId = second, atMinute = 25, initiatedBy = InitiatedBy.THERAPIST, detectedBy = DetectedBy.CLIENT_RAISED,
                movement = Movement.MIXED, therapistContributionRating = 4, clientReportedIntensity = 2, resolutionRating = 4,
                followUpPlanned = true, recordClass = RecordClass.PROGRESS_RECORD)
        }
        assertEquals(RecordClass.PSYCHOTHERAPY_NOTE, form.state.value.form.recordClass, "the record class decides the key and stays")
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.toggle(RuptureMarker.WD_GIVING_UP)
        form.toggle(RuptureMarker.CF_REJECTS_INTERVENTION)
        form.toggle(AllianceDimension.TASK)
        form.toggle(AllianceDimension.BOND)
        form.toggle(Precipitant.MISUNDERSTANDING)
        form.toggle(Precipitant.EXTERNAL_EVENT)
        form.toggle(ClientResponse.REENGAGED)
        // Texts do not go through the update: on a logged rupture they are typed (see below).
        form.update { it.copy(clientWords = "Not fine") }
        assertEquals("Fine", form.state.value.form.clientWords)

        val update = RuptureFormViewModel.changes(form.state.value.saved!!, form.state.value.form)
        assertEquals(
            RuptureUpdate(
                clientReportedIntensity = 2L, resolutionRating = 4L, movement = Movement.MIXED,
                addMarkers = listOf(RuptureMarker.WD_GIVING_UP, RuptureMarker.CF_REJECTS_INTERVENTION),
                removeMarkers = listOf(RuptureMarker.WD_MINIMAL_RESPONSE),
                addPrecipitants = listOf(Precipitant.EXTERNAL_EVENT),
                addClientResponse = listOf(ClientResponse.REENGAGED),
                occurredAt = movedTo, sessionId = second, atMinute = 25L, initiatedBy = InitiatedBy.THERAPIST,
                detectedBy = DetectedBy.CLIENT_RAISED, therapistContributionRating = 4L,
                addAllianceDimensions = listOf(AllianceDimension.BOND), removeAllianceDimensions = listOf(AllianceDimension.TASK),
                removePrecipitants = listOf(Precipitant.MISUNDERSTANDING), followUpPlanned = true,
            ),
            update,
            "significance is unchanged, so it is not sent",
        )

        // A status change in between keeps the unsaved corrections.
        form.setStatus(RuptureStatus.IN_PROGRESS).getOrThrow()
        assertTrue(form.state.value.hasUnsavedChanges)
        assertEquals(Movement.MIXED, form.state.value.form.movement)
        form.saveChanges().getOrThrow()
        assertFalse(form.state.value.hasUnsavedChanges)

        // Reopened after a lock, the corrections are what the vault holds.
        device.gate.lock()
        val reopened = RuptureFormViewModel(device.unlock(), client, id)
        reopened.refresh().getOrThrow()
        val r = reopened.state.value.saved!!
        assertEquals(movedTo, r.occurredAt)
        assertEquals(second, r.sessionId)
        assertEquals(25L, r.atMinute)
        assertEquals(InitiatedBy.THERAPIST, r.initiatedBy)
        assertEquals(DetectedBy.CLIENT_RAISED, r.detectedBy)
        assertEquals(Movement.MIXED, r.movement)
        assertEquals(setOf(RuptureMarker.WD_GIVING_UP, RuptureMarker.CF_REJECTS_INTERVENTION), r.markers.toSet())
        assertEquals(listOf(AllianceDimension.BOND), r.allianceDimensions)
        assertEquals(listOf(Precipitant.EXTERNAL_EVENT), r.precipitants)
        assertEquals(listOf(ClientResponse.REENGAGED), r.clientResponse)
        assertEquals(4L, r.therapistContributionRating)
        assertEquals(2L, r.clientReportedIntensity)
        assertEquals(4L, r.resolutionRating)
        assertTrue(r.followUpPlanned)
        assertEquals(3L, r.significance)
        assertEquals(RecordClass.PSYCHOTHERAPY_NOTE, r.recordClass)
        assertEquals(RuptureStatus.IN_PROGRESS, r.status)
        assertEquals("Fine", r.clientWords)

        // The last marker cannot go; discarding restores the stored values.
        reopened.toggle(RuptureMarker.WD_GIVING_UP)
        reopened.toggle(RuptureMarker.CF_REJECTS_INTERVENTION)
        reopened.update { it.copy(significance = 5) }
        assertEquals("markers", failureOf<NotebookError.Validation>(reopened.saveChanges()).field, "a rupture keeps a marker")
        reopened.discardChanges()
        assertEquals(RuptureForm.of(r), reopened.state.value.form)
        assertFalse(reopened.state.value.hasUnsavedChanges)
    }

    @Test
    fun optionalFieldsAreClearedAndSetMembersRemoved() = runBlocking<Unit> {
        val (_, nb, client) = phoneWithClient("C-0305")
        val session = TimelineViewModel(nb, client).addSession(nb.clock.nowMillis() - DAY).getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        form.update {
            it.copy(sessionId = session, atMinute = 30, movement = Movement.CONFRONTATION, initiatedBy = InitiatedBy.BOTH,
                detectedBy = DetectedBy.SUPERVISOR, significance = 4, therapistContributionRating = 3)
        }
        form.toggle(RuptureMarker.CF_COMPLAINT_ABOUT_THERAPIST)
        form.toggle(Precipitant.MISUNDERSTANDING)
        form.toggle(Precipitant.DISAGREEMENT)
        form.toggle(AllianceDimension.TASK)
        form.toggle(AllianceDimension.GOAL)
        val id = form.save().getOrThrow()
        form.update { it.copy(clientReportedIntensity = 3, resolutionRating = 2) }
        form.toggle(ClientResponse.REENGAGED)
        form.toggle(ClientResponse.CLARIFIED_CONCERN)
        form.saveChanges().getOrThrow()

        // Out-of-range values are caught before anything is written.
        form.update { it.copy(atMinute = 601, resolutionRating = 6) }
        assertEquals(setOf("atMinute", "resolutionRating"), form.validate().keys)
        form.discardChanges()

        // Empty every optional field, untick one member of each set.
        form.update {
            it.copy(sessionId = null, detectedBy = null, therapistContributionRating = null, clientReportedIntensity = null,
                resolutionRating = null)
        }
        assertNull(form.state.value.form.atMinute, "leaving the session drops the minute in it")
        form.toggle(Precipitant.DISAGREEMENT)
        form.toggle(AllianceDimension.GOAL)
        form.toggle(ClientResponse.CLARIFIED_CONCERN)
        assertTrue(form.validate().isEmpty(), "a saved rating can be cleared now")
        assertEquals(
            RuptureUpdate(
                removePrecipitants = listOf(Precipitant.DISAGREEMENT),
                removeAllianceDimensions = listOf(AllianceDimension.GOAL),
                removeClientResponse = listOf(ClientResponse.CLARIFIED_CONCERN),
                clear = listOf(
                    RuptureField.SESSION_ID, RuptureField.AT_MINUTE, RuptureField.DETECTED_BY,
                    RuptureField.CLIENT_REPORTED_INTENSITY, RuptureField.THERAPIST_CONTRIBUTION_RATING, RuptureField.RESOLUTION_RATING,
                ),
            ),
            RuptureFormViewModel.changes(form.state.value.saved!!, form.state.value.form),
        )
        form.saveChanges().getOrThrow()

        val r = RuptureFormViewModel(nb, client, id).apply { refresh().getOrThrow() }.state.value.saved!!
        assertNull(r.sessionId)
        assertNull(r.atMinute)
        assertNull(r.detectedBy)
        assertNull(r.therapistContributionRating)
        assertNull(r.clientReportedIntensity)
        assertNull(r.resolutionRating)
        assertEquals(listOf(Precipitant.MISUNDERSTANDING), r.precipitants)
        assertEquals(listOf(AllianceDimension.TASK), r.allianceDimensions)
        assertEquals(listOf(ClientResponse.REENGAGED), r.clientResponse)

        // Mend refuses an update that sets and clears (or adds and removes) the same thing, as a
        // validation error on that field; the form's diff never builds one.
        val setAndClear = nb.call { v -> v.updateRupture(id, RuptureUpdate(detectedBy = DetectedBy.SUPERVISOR, clear = listOf(RuptureField.DETECTED_BY))) }
        assertEquals("detected_by", failureOf<NotebookError.Validation>(setAndClear).field)
        val addAndRemove = nb.call { v ->
            v.updateRupture(id, RuptureUpdate(addPrecipitants = listOf(Precipitant.OTHER), removePrecipitants = listOf(Precipitant.OTHER)))
        }
        assertEquals("precipitants", failureOf<NotebookError.Validation>(addAndRemove).field)
        assertEquals(listOf(Precipitant.MISUNDERSTANDING), nb.call { v -> v.rupture(id).precipitants }.getOrThrow(), "nothing was written")
    }

    @Test
    fun loggedRuptureTextsAreTypedAsSplices() = runBlocking<Unit> {
        val (_, nb, client) = phoneWithClient("C-0306")
        val form = RuptureFormViewModel(nb, client)
        form.update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 2) }
        form.toggle(RuptureMarker.WD_AVOIDANT_STORYTELLING_TOPIC_SHIFT)
        // Before logging, typing only fills the form (the follow-up plan too).
        form.editText(RuptureText.NARRATIVE, "Went quiet").getOrThrow()
        assertEquals("Went quiet", form.state.value.form.narrative)
        form.editText(RuptureText.FOLLOW_UP_NOTE, "Ask").getOrThrow()
        assertEquals("Ask", form.state.value.form.followUpNote)
        val id = form.save().getOrThrow()
        suspend fun stored() = nb.call { v -> v.rupture(id) }.getOrThrow()
        assertEquals("Went quiet", stored().narrative)
        assertEquals("Ask", stored().followUpNote)
        assertFalse(stored().followUpPlanned)

        // Once logged, each keystroke is in the vault at once, without saving the form.
        val typed = "Went quiet 🙂 after the review"
        for (n in "Went quiet".length + 1..typed.length) {
            val text = typed.substring(0, n)
            if (text.last().isHighSurrogate()) continue // an emoji arrives whole
            form.editText(RuptureText.NARRATIVE, text).getOrThrow()
        }
        assertEquals(typed, stored().narrative)
        // A deletion in the middle, after the emoji (positions count code points).
        form.editText(RuptureText.NARRATIVE, "Went quiet 🙂 after review").getOrThrow()
        assertEquals("Went quiet 🙂 after review", stored().narrative)
        for ((field, text) in listOf(
            RuptureText.CLIENT_WORDS to "“Whatever”",
            RuptureText.THERAPIST_CONTRIBUTION to "I pressed on the homework",
            RuptureText.FOLLOW_UP_NOTE to "Check in at the start of next session",
        )) {
            form.editText(field, text.take(5)).getOrThrow()
            form.editText(field, text).getOrThrow()
        }
        val r = stored()
        assertEquals("“Whatever”", r.clientWords)
        assertEquals("I pressed on the homework", r.therapistContribution)
        assertEquals("Check in at the start of next session", r.followUpNote)
        assertFalse(form.state.value.hasUnsavedChanges, "texts are never part of the form's update")
        assertNull(RuptureFormViewModel.changes(r, form.state.value.form))

        // A reload (as after a sync) shows the vault's texts, and discarding keeps them.
        form.refresh().getOrThrow()
        assertEquals(RuptureForm.of(r), form.state.value.form)
        form.update { it.copy(significance = 4) }
        form.discardChanges()
        assertEquals("Check in at the start of next session", form.state.value.form.followUpNote)
        assertEquals(2, form.state.value.form.significance)
    }

    @Test
    fun aVoidedRuptureStaysReadableButReadOnly() = runBlocking<Unit> {
        val (device, nb, client) = phoneWithClient("C-0307")
        suspend fun log(narrative: String): RuptureFormViewModel = RuptureFormViewModel(nb, client).apply {
            update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3, narrative = narrative) }
            toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
            save().getOrThrow()
        }
        val form = log("Logged for the wrong client")
        log("The real one")
        val id = form.state.value.saved!!.id
        val timeline = TimelineViewModel(nb, client)
        timeline.refresh().getOrThrow()
        assertEquals(2, timeline.state.value.ruptures)
        assertEquals(2, timeline.state.value.unresolvedRuptures)
        // A second screen opened before the void, with an unsaved correction.
        val stale = RuptureFormViewModel(nb, client, id).apply { refresh().getOrThrow() }
        stale.update { it.copy(significance = 5) }

        // A reason is required.
        assertEquals("voidReason", failureOf<NotebookError.Validation>(form.voidRupture("   ")).field)
        assertTrue("voidReason" in form.state.value.errors)
        assertNull(nb.call { v -> v.rupture(id).voided }.getOrThrow())

        device.clock.advance(60_000)
        form.update { it.copy(significance = 4) }
        form.voidRupture("  Logged for the wrong client ").getOrThrow()
        val voided = form.state.value.saved!!.voided!!
        assertEquals("Logged for the wrong client", voided.reason)
        assertEquals(nb.settings.clinicianId, voided.by)
        assertEquals(device.clock.nowMillis(), voided.at)
        assertTrue(form.state.value.isVoided)
        assertEquals(3, form.state.value.form.significance, "unsaved corrections are dropped")
        assertEquals("Logged for the wrong client", form.state.value.form.narrative, "it stays readable")

        // Read-only: every edit is refused before reaching the vault, on the field "rupture".
        form.update { it.copy(significance = 1) }
        assertEquals(3, form.state.value.form.significance)
        assertEquals("rupture", (form.error.value as NotebookError.Validation).field)
        assertEquals("rupture", failureOf<NotebookError.Validation>(form.editText(RuptureText.NARRATIVE, "x")).field)
        assertEquals("rupture", failureOf<NotebookError.Validation>(form.setStatus(RuptureStatus.RESOLVED)).field)
        form.updateRepair { it.copy(strategies = setOf(RepairStrategy.RS_PROVIDE_RATIONALE)) }
        assertEquals("rupture", failureOf<NotebookError.Validation>(form.addRepairAttempt()).field)
        assertEquals("rupture", failureOf<NotebookError.Validation>(form.voidRupture("again")).field)
        assertEquals("rupture", failureOf<NotebookError.Validation>(form.saveChanges()).field)

        // Mend refuses too: the screen opened before the void has not seen it; its save is
        // refused and it then shows the voided rupture.
        assertEquals("rupture", failureOf<NotebookError.Validation>(stale.saveChanges()).field)
        assertTrue(stale.state.value.isVoided)
        assertEquals(3, stale.state.value.form.significance)
        val r = nb.call { v -> v.rupture(id) }.getOrThrow()
        assertEquals(3L, r.significance)
        assertEquals("Logged for the wrong client", r.narrative)
        assertEquals(RuptureStatus.UNADDRESSED, r.status)
        assertTrue(r.repairAttempts.isEmpty())

        // It stays on the timeline, marked, and leaves the counts.
        timeline.refresh().getOrThrow()
        val entries = timeline.state.value.entries.filterIsInstance<TimelineEntry.Rupture>()
        assertEquals(2, entries.size)
        assertTrue(entries.single { it.id == id }.voided)
        assertFalse(entries.single { it.id != id }.voided)
        assertEquals(1, timeline.state.value.ruptures)
        assertEquals(1, timeline.state.value.unresolvedRuptures)
    }

    @Test
    fun statusChangesRecordTheSessionHappeningNow() = runBlocking<Unit> {
        val (device, nb, client) = phoneWithClient("C-0308")
        val timeline = TimelineViewModel(nb, client)
        val start = nb.clock.nowMillis()
        val earlier = timeline.addSession(start - DAY).getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        form.update {
            it.copy(sessionId = earlier, occurredAt = start - DAY + 20 * MINUTE, movement = Movement.WITHDRAWAL,
                initiatedBy = InitiatedBy.CLIENT, significance = 3)
        }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.save().getOrThrow()
        assertNull(form.state.value.currentSession, "yesterday's session is over")

        form.setStatus(RuptureStatus.IN_PROGRESS).getOrThrow()
        val today = timeline.addSession(start - 10 * MINUTE).getOrThrow()
        device.clock.advance(MINUTE)
        form.refresh().getOrThrow()
        assertEquals(today, form.state.value.currentSession?.id)
        form.setStatus(RuptureStatus.PARTIALLY_RESOLVED).getOrThrow()

        // Hours later that session is over too, even if the screen stayed open.
        device.clock.advance(4 * HOUR)
        form.setStatus(RuptureStatus.RESOLVED).getOrThrow()
        assertNull(form.state.value.currentSession)

        val log = form.state.value.saved!!.statusLog
        assertEquals(
            listOf(RuptureStatus.UNADDRESSED, RuptureStatus.IN_PROGRESS, RuptureStatus.PARTIALLY_RESOLVED, RuptureStatus.RESOLVED),
            log.map { it.to },
        )
        assertEquals(listOf(earlier, null, today, null), log.map { it.sessionId })
        val history = form.state.value.statusHistory
        assertEquals(log.map { it.to }, history.map { it.status })
        assertEquals(listOf(start - DAY, null, start - 10 * MINUTE, null), history.map { it.sessionAt })
        assertTrue(history.all { it.byMe })
        assertEquals(listOf(start - DAY + 20 * MINUTE, start, start + MINUTE, start + MINUTE + 4 * HOUR), history.map { it.at })
    }

    @Test
    fun aNewRuptureTakesItsFollowUpPlanAndRepairsShowTheirSession() = runBlocking<Unit> {
        val (device, nb, client) = phoneWithClient("C-0309")
        val timeline = TimelineViewModel(nb, client)
        val start = nb.clock.nowMillis()
        val session = timeline.addSession(start - 5 * MINUTE, status = SessionStatus.SCHEDULED).getOrThrow()

        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        form.update {
            it.copy(sessionId = session, movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3,
                followUpPlanned = true)
        }
        form.toggle(RuptureMarker.WD_AVOIDANT_STORYTELLING_TOPIC_SHIFT)
        form.editText(RuptureText.FOLLOW_UP_NOTE, "Open next session by asking about today").getOrThrow()
        val id = form.save().getOrThrow()
        val stored = nb.call { v -> v.rupture(id) }.getOrThrow()
        assertTrue(stored.followUpPlanned, "the plan is logged with the rupture")
        assertEquals("Open next session by asking about today", stored.followUpNote)
        assertEquals(stored, form.state.value.saved)
        assertFalse(form.state.value.hasUnsavedChanges)

        // One attempt in the session happening now, one between sessions.
        assertEquals(session, form.state.value.currentSession?.id)
        form.updateRepair { it.copy(strategies = setOf(RepairStrategy.RS_ACKNOWLEDGE_OWN_CONTRIBUTION), effect = 3) }
        form.addRepairAttempt().getOrThrow()
        device.clock.advance(MINUTE)
        form.updateRepair { it.copy(strategies = setOf(RepairStrategy.RS_PROVIDE_RATIONALE)) }
        form.addRepairAttempt(sessionId = null).getOrThrow()
        val rows = form.state.value.repairHistory
        assertEquals(form.state.value.saved!!.repairAttempts, rows.map { it.attempt })
        assertEquals(listOf(session, null), rows.map { it.sessionId })
        assertEquals(listOf(start - 5 * MINUTE, null), rows.map { it.sessionAt })

        // A session of another client is refused by Mend for a repair, nothing is written.
        val other = ClientListViewModel(nb).addClient("C-0310", "US-NY").getOrThrow()
        val theirs = TimelineViewModel(nb, other).addSession(start).getOrThrow()
        form.updateRepair { it.copy(strategies = setOf(RepairStrategy.RS_PROVIDE_RATIONALE)) }
        assertEquals("session_id", failureOf<NotebookError.Validation>(form.addRepairAttempt(sessionId = theirs)).field)
        assertTrue("sessionId" in form.state.value.errors, "shown on the form's session field")
        assertEquals(2, nb.call { v -> v.rupture(id) }.getOrThrow().repairAttempts.size)
    }

    @Test
    fun theSessionHappeningNowEndsWhenItsRecordedEndSays() = runBlocking<Unit> {
        val (device, nb, client) = phoneWithClient("C-0311")
        val timeline = TimelineViewModel(nb, client)
        val start = nb.clock.nowMillis()
        val session = timeline.addSession(start, status = SessionStatus.SCHEDULED).getOrThrow()
        val form = RuptureFormViewModel(nb, client)
        form.refresh().getOrThrow()
        form.update { it.copy(sessionId = session, movement = Movement.CONFRONTATION, initiatedBy = InitiatedBy.CLIENT, significance = 2) }
        form.toggle(RuptureMarker.CF_COMPLAINT_ABOUT_THERAPIST)
        form.save().getOrThrow()

        // No end recorded: two hours in, the 3-hour window still counts it as under way.
        device.clock.advance(2 * HOUR)
        form.refresh().getOrThrow()
        assertEquals(session, form.state.value.currentSession?.id)

        // The therapist records that it ran from 5 to 55 minutes past: it is over, and a status
        // change made now is between sessions. The open form reloads on the session's change.
        val job = form.observeChanges(this)
        delay(200) // let the collector subscribe before anything changes
        val outcome = timeline.sessionOutcome(session).getOrThrow()
        assertEquals(SessionStatus.COMPLETED, outcome.status, "a scheduled session is offered as completed")
        assertEquals(start, outcome.actualStart)
        assertEquals(start + TimelineViewModel.DEFAULT_MINUTES * MINUTE, outcome.actualEnd)
        timeline.recordOutcome(outcome.copy(actualStart = start + 5 * MINUTE, actualEnd = start + 55 * MINUTE)).getOrThrow()
        val recorded = SessionTimes(start + 5 * MINUTE, start + 55 * MINUTE)
        withTimeout(10_000) { form.state.first { it.sessionTimes[session] == recorded } }
        job.cancel()
        assertNull(form.state.value.currentSession)
        form.setStatus(RuptureStatus.IN_PROGRESS).getOrThrow()
        assertEquals(listOf(session, null), form.state.value.saved!!.statusLog.map { it.sessionId })

        // Recorded as running long (to 3 h 30 past), it is under way again.
        timeline.recordOutcome(timeline.sessionOutcome(session).getOrThrow().copy(actualEnd = start + 3 * HOUR + 30 * MINUTE)).getOrThrow()
        form.refresh().getOrThrow()
        assertEquals(session, form.state.value.currentSession?.id)

        // Cancelled after all: never the session happening now, and its recorded times stay.
        timeline.recordOutcome(timeline.sessionOutcome(session).getOrThrow().copy(status = SessionStatus.CANCELLED_CLIENT)).getOrThrow()
        form.refresh().getOrThrow()
        assertNull(form.state.value.currentSession)
        val s = nb.call { v -> v.session(session) }.getOrThrow()
        assertEquals(SessionStatus.CANCELLED_CLIENT, s.status)
        assertEquals(start + 5 * MINUTE, s.actualStart)
        assertEquals(SessionStatus.CANCELLED_CLIENT, timeline.state.value.entries.filterIsInstance<TimelineEntry.Session>().single().status)
    }

    @Test
    fun theCurrentSessionAndTheDayPickerArithmetic() {
        val now = 1_800_000_000_000L
        fun s(id: String, at: Long, status: SessionStatus = SessionStatus.COMPLETED) = TimelineEntry.Session(id, at, status)
        val sessions = listOf(
            s("yesterday", now - DAY),
            s("cancelled", now - 5 * MINUTE, SessionStatus.CANCELLED_CLIENT),
            s("earlier today", now - 2 * HOUR),
            s("soon", now + 10 * MINUTE, SessionStatus.SCHEDULED),
            s("later", now + HOUR, SessionStatus.SCHEDULED),
        )
        assertEquals("soon", RuptureFormViewModel.currentSession(sessions, now)?.id, "the latest one under way or about to start")
        assertEquals("earlier today", RuptureFormViewModel.currentSession(sessions.filter { it.id != "soon" }, now)?.id)
        assertNull(RuptureFormViewModel.currentSession(sessions.filter { it.id == "yesterday" || it.id == "cancelled" }, now))
        // Recorded times win over the window: "soon" started early and "earlier today" ended.
        val times = mapOf(
            "soon" to SessionTimes(now - 30 * MINUTE, null),
            "earlier today" to SessionTimes(now - 2 * HOUR, now - HOUR),
        )
        assertEquals("soon", RuptureFormViewModel.currentSession(sessions, now, times)?.id)
        assertNull(RuptureFormViewModel.currentSession(sessions.filter { it.id != "soon" }, now, times), "it ended an hour ago")
        // A session that ran long is under way past the 3-hour window (which ended at now + 1 h).
        val past = sessions.filter { it.id == "yesterday" || it.id == "earlier today" }
        assertNull(RuptureFormViewModel.currentSession(past, now + 90 * MINUTE))
        val long = mapOf("earlier today" to SessionTimes(null, now + 2 * HOUR))
        assertEquals("earlier today", RuptureFormViewModel.currentSession(past, now + 90 * MINUTE, long)?.id)
        // Yesterday's session is out of reach whatever is recorded for it.
        assertNull(RuptureFormViewModel.currentSession(sessions.filter { it.id == "yesterday" }, now, mapOf("yesterday" to SessionTimes(now - DAY, now + HOUR))))
        assertNull(RuptureFormViewModel.span(sessions[0], SessionTimes(null, now - 2 * DAY)), "an end before the start contradicts the schedule")

        // Moving 14:30 on 10 March (New York, after the clocks changed) to 2 March keeps 14:30.
        val zone = ZoneId.of("America/New_York")
        val at = ZonedDateTime.of(2026, 3, 10, 14, 30, 0, 0, zone).toInstant().toEpochMilli()
        val day = LocalDate.of(2026, 3, 2).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli()
        assertEquals(ZonedDateTime.of(2026, 3, 2, 14, 30, 0, 0, zone).toInstant().toEpochMilli(), RuptureFormViewModel.onDay(at, day, zone))
        // 22:30 in New York is already the next day in UTC; the picker still opens on the local day.
        val late = ZonedDateTime.of(2026, 3, 2, 22, 30, 0, 0, zone).toInstant().toEpochMilli()
        assertEquals(day, RuptureFormViewModel.dayUtcMillis(late, zone))
        assertEquals(late, RuptureFormViewModel.onDay(late, RuptureFormViewModel.dayUtcMillis(late, zone), zone))
    }

    /** A device called "phone", its unlocked notebook, and a new client [alias] in it. */
    private data class Phone(val device: Device, val nb: Notebook, val client: String)

    private suspend fun phoneWithClient(alias: String): Phone {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        return Phone(device, nb, ClientListViewModel(nb).addClient(alias, "US-NY").getOrThrow())
    }

    private companion object {
        const val MINUTE = 60_000L
        const val HOUR = 60 * MINUTE
        const val DAY = 24 * HOUR
    }
}
