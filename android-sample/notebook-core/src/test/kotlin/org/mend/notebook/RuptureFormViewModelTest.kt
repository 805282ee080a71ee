// The rupture log form: local validation (significance out of range, missing movement,
// markers that contradict the movement), saving, repair attempts and status.
package org.mend.notebook

import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.core.ClientResponse
import org.mend.core.InitiatedBy
import org.mend.core.Movement
import org.mend.core.Precipitant
import org.mend.core.RepairStrategy
import org.mend.core.RuptureMarker
import org.mend.core.RuptureStatus
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
        failureOf<NotebookError.Validation>(form.setSignificance(0))
        form.setSignificance(2).getOrThrow()
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
}
