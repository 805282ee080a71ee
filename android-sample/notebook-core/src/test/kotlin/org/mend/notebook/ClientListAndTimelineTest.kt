// The client list (add, statuses, erase with confirmation) and a client's timeline with the
// alliance trend, its drops and the chart geometry.
package org.mend.notebook

import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.core.AlliancePoint
import org.mend.model.ClientStatus
import org.mend.model.NoteFormat
import org.mend.model.SessionStatus
import org.mend.core.TimelineEntry

class ClientListAndTimelineTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun addListAndEraseClients() = runBlocking<Unit> {
        val nb = Device(dir, "phone").unlock()
        val list = ClientListViewModel(nb)
        failureOf<NotebookError.Validation>(list.addClient("  ", "US-CA"))
        val a = list.addClient("C-0401", "US-CA", birthYear = 1990).getOrThrow()
        val b = list.addClient("C-0402", "US-CA").getOrThrow()
        assertEquals(listOf("C-0401", "C-0402"), list.state.value.clients.map { it.alias })

        list.setStatus(b, ClientStatus.DISCHARGED).getOrThrow()
        list.setShowDischarged(false)
        assertEquals(listOf(a), list.state.value.clients.map { it.id })
        list.setShowDischarged(true)

        val settings = SettingsViewModel(nb, SyncService(nb) { null })
        val refused = settings.eraseClient(a, "C-040")
        assertEquals("confirmAlias", failureOf<NotebookError.Validation>(refused).field)
        list.refresh().getOrThrow()
        assertEquals(2, list.state.value.clients.size, "a mistyped confirmation erases nothing")

        settings.eraseClient(a, "C-0401").getOrThrow()
        list.refresh().getOrThrow()
        assertEquals(listOf("C-0402"), list.state.value.clients.map { it.alias })
        // The erased client's records are gone for good.
        failureOf<NotebookError>(TimelineViewModel(nb, a).refresh())
    }

    @Test
    fun timelineTrendAndDrops() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val client = ClientListViewModel(nb).addClient("C-0403", "US-CA").getOrThrow()
        val timeline = TimelineViewModel(nb, client, dropThreshold = 5)
        val s1 = timeline.addSession(device.clock.nowMillis() - 7 * 86_400_000).getOrThrow()
        timeline.addSession(device.clock.nowMillis() + 86_400_000, status = SessionStatus.SCHEDULED).getOrThrow()
        timeline.startNote(s1, NoteFormat.GIRP).getOrThrow()

        failureOf<NotebookError.Validation>(timeline.recordAllianceMeasure(mapOf(13 to 3)))
        failureOf<NotebookError.Validation>(timeline.recordAllianceMeasure(mapOf(1 to 6)))
        timeline.recordAllianceMeasure((1..12).associateWith { 4 }, s1).getOrThrow() // 48
        device.clock.advance(86_400_000)
        timeline.recordAllianceMeasure((1..12).associateWith { 3 }).getOrThrow() // 36: a fall of 12
        device.clock.advance(86_400_000)
        timeline.recordAllianceMeasure((1..11).associateWith { 3 }).getOrThrow() // incomplete
        device.clock.advance(86_400_000)
        timeline.recordAllianceMeasure((1..12).associateWith { if (it <= 2) 4 else 3 }).getOrThrow() // 38

        val st = timeline.state.value
        assertEquals("C-0403", st.alias)
        assertEquals(listOf(48L, 36L, null, 38L), st.trend.map { it.total })
        assertTrue(st.trend[2].incomplete)
        assertEquals(listOf(12L), st.drops.map { it.fall })
        assertEquals(st.trend[1].measureId, st.drops.single().toMeasureId)
        assertEquals(2, st.entries.count { it is TimelineEntry.Session })
        assertEquals(1, st.entries.count { it is TimelineEntry.Note })
        assertEquals(4, st.entries.count { it is TimelineEntry.Measure })
        assertEquals(st.entries.sortedByDescending { it.at() }, st.entries, "newest first")

        // The chart: x spread over the dates, y scaled per series, a gap at the incomplete point.
        val chart = AllianceChart.layout(st.trend, width = 320f, height = 120f, padding = 10f)
        assertEquals(4, chart.xs.size)
        assertEquals(10f, chart.xs.first(), 0.01f)
        assertEquals(310f, chart.xs.last(), 0.01f)
        val total = chart.lines.getValue(AllianceSeries.TOTAL)
        assertEquals(2, total.size, "the incomplete administration splits the line")
        assertEquals(2, total[0].size)
        // 48 of 12..60 is 75% up; 36 is 50% up.
        assertEquals(10f + 100f * 0.25f, total[0][0].y, 0.01f)
        assertEquals(10f + 100f * 0.5f, total[0][1].y, 0.01f)
    }

    @Test
    fun chartEdgeCases() {
        assertTrue(AllianceChart.layout(emptyList(), 100f, 100f).xs.isEmpty())
        val one = AlliancePoint("m", 5L, 20L, 20L, 20L, 60L, false)
        val chart = AllianceChart.layout(listOf(one), 100f, 50f)
        assertEquals(listOf(50f), chart.xs, "a single point is centred")
        assertEquals(0f, chart.lines.getValue(AllianceSeries.TOTAL).single().single().y, 0.01f)
        assertFalse(AllianceChart.layout(listOf(one), 10f, 10f, padding = 6f).xs.isNotEmpty())
    }
}
