package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.core.AlliancePoint
import org.mend.model.ClientStatus
import org.mend.core.MeasureItem
import org.mend.model.Modality
import org.mend.core.NewMeasure
import org.mend.core.NewNote
import org.mend.model.NewSession
import org.mend.model.NoteFormat
import org.mend.model.SessionStatus
import org.mend.model.Setting
import org.mend.core.TimelineEntry

/** A session-to-session fall of the WAI-SR total by at least the screen's threshold: the
 *  actionable signal for a possible rupture (clinical-model §4.5, query 4). */
data class AllianceDrop(val fromMeasureId: String, val toMeasureId: String, val at: Long, val fall: Long)

/** The timeline screen's state: newest first, and the alliance trend oldest first (for the chart).
 *  Voided ruptures stay in [entries] (`TimelineEntry.Rupture.voided`) but are not counted in
 *  [ruptures] or [unresolvedRuptures]. */
data class TimelineState(
    val clientId: String,
    val alias: String? = null,
    val status: ClientStatus? = null,
    val entries: List<TimelineEntry> = emptyList(),
    val trend: List<AlliancePoint> = emptyList(),
    val drops: List<AllianceDrop> = emptyList(),
    val unresolvedRuptures: Int = 0,
    /** Ruptures logged, not counting voided ones. */
    val ruptures: Int = 0,
    val loaded: Boolean = false,
)

/**
 * What became of a session: completed with its actual start and end, cancelled (by the client or
 * the therapist, or late) or a no-show. Filled by [TimelineViewModel.sessionOutcome], saved by
 * [TimelineViewModel.recordOutcome].
 */
data class SessionOutcome(
    /** The session. */
    val id: String,
    /** When it was scheduled to start (epoch ms). */
    val scheduledStart: Long,
    val status: SessionStatus,
    /** When it actually started (sent for a completed session only). */
    val actualStart: Long,
    /** When it actually ended (sent for a completed session only). */
    val actualEnd: Long,
) {
    /** Whether the actual start and end are recorded with this status (a completed session).
     *  For any other status they are not sent, and Mend keeps the ones stored, if any. */
    val takesTimes: Boolean get() = status == SessionStatus.COMPLETED

    /** What must be fixed before saving, by field. */
    val errors: Map<String, String>
        get() = if (takesTimes && actualEnd < actualStart) mapOf("actualEnd" to "The end cannot be before the start.") else emptyMap()
}

/**
 * A client's timeline: sessions, notes, ruptures (voided ones marked) and WAI-SR
 * administrations by date (from Mend's encrypted summaries, without loading documents), the
 * alliance trend for the chart, and actions to add a session, start a note or record a measure;
 * and what became of a session (completed with its actual start and end, cancelled, or a
 * no-show), which is also what tells the rupture form when a session really ended.
 */
class TimelineViewModel(
    notebook: Notebook,
    /** The client shown. */
    val clientId: String,
    /** The fall of the WAI-SR total (12–60) between consecutive administrations that is flagged. */
    private val dropThreshold: Long = 5,
) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(TimelineState(clientId))

    /** The timeline. */
    val state: StateFlow<TimelineState> = _state.asStateFlow()

    override suspend fun refresh(): Result<Unit> = vault { v ->
        val client = v.client(clientId)
        val entries = v.timeline(clientId)
        val trend = v.allianceTrend(clientId).sortedBy { it.administeredAt }
        val unresolved = v.unresolvedRuptures(clientId).size
        TimelineState(
            clientId = clientId,
            alias = client.aliasCode,
            status = client.status,
            entries = entries.sortedByDescending { it.at() },
            trend = trend,
            drops = drops(trend, dropThreshold),
            unresolvedRuptures = unresolved,
            ruptures = entries.count { it is TimelineEntry.Rupture && !it.voided },
            loaded = true,
        )
    }.map { _state.value = it }

    /** Adds a session at [start] (epoch ms). Returns its id. */
    suspend fun addSession(
        start: Long,
        status: SessionStatus = SessionStatus.COMPLETED,
        modality: Modality = Modality.INDIVIDUAL,
        setting: Setting = Setting.IN_PERSON,
        durationMinutes: Int? = DEFAULT_MINUTES,
        cptCode: String? = null,
    ): Result<String> {
        val end = durationMinutes?.let { start + it * 60_000L }
        val actualStart = if (status == SessionStatus.COMPLETED) start else null
        val actualEnd = if (status == SessionStatus.COMPLETED) end else null
        return vault { v ->
            v.createSession(NewSession(clientId, start, actualStart, actualEnd, status, modality, setting, cptCode))
        }.onSuccess { refresh() }
    }

    /** The outcome form for one of the client's sessions, filled from what Mend holds: its
     *  status (completed, while it is still scheduled), its recorded actual start and end, or
     *  else the scheduled start and [DEFAULT_MINUTES]. */
    suspend fun sessionOutcome(sessionId: String): Result<SessionOutcome> = vault { v -> v.session(sessionId) }.map { s ->
        val start = s.actualStart ?: s.scheduledStart
        SessionOutcome(
            id = s.id,
            scheduledStart = s.scheduledStart,
            status = if (s.status == SessionStatus.SCHEDULED) SessionStatus.COMPLETED else s.status,
            actualStart = start,
            actualEnd = s.actualEnd ?: (start + DEFAULT_MINUTES * 60_000L),
        )
    }

    /** Records what became of a session: its status and, for a completed one, its actual start
     *  and end (an end before the start is refused here, and by Mend as "actual_end"). The
     *  rupture form then takes the recorded end as the end of "the session happening now". */
    suspend fun recordOutcome(outcome: SessionOutcome): Result<Unit> {
        outcome.errors.entries.firstOrNull()?.let { (field, reason) -> return reject(NotebookError.Validation(field, reason)) }
        return vault { v ->
            v.setSessionStatus(
                outcome.id, outcome.status,
                outcome.actualStart.takeIf { outcome.takesTimes }, outcome.actualEnd.takeIf { outcome.takesTimes },
            )
        }.onSuccess { refresh() }
    }

    /** Starts an empty note in [format] for a session, authored by this clinician. Returns its id. */
    suspend fun startNote(sessionId: String, format: NoteFormat): Result<String> = vault { v ->
        v.createNote(NewNote(sessionId, notebook.settings.clinicianId, format, emptyList(), notebook.clock.nowMillis()))
    }.onSuccess { refresh() }

    /**
     * Records a client-rated WAI-SR administration: [scores] maps item numbers (1–12) to scores
     * (1–5). Missing items are allowed (the point is then marked incomplete). Returns its id.
     */
    suspend fun recordAllianceMeasure(scores: Map<Int, Int>, sessionId: String? = null): Result<String> {
        scores.entries.firstOrNull { it.key !in 1..12 }?.let {
            return reject(NotebookError.Validation("items", "WAI-SR items are numbered 1 to 12."))
        }
        scores.entries.firstOrNull { it.value !in 1..5 }?.let {
            return reject(NotebookError.Validation("item ${it.key}", "Scores are 1 (seldom) to 5 (always)."))
        }
        val items = scores.toSortedMap().map { (k, s) -> MeasureItem(k.toUByte(), s.toLong()) }
        return vault { v -> v.recordMeasure(NewMeasure(clientId, sessionId, notebook.clock.nowMillis(), items)) }
            .onSuccess { refresh() }
    }

    /** Computations on the trend, public so the chart and tests share them. */
    companion object {
        /** A session's length when none is given or recorded. */
        const val DEFAULT_MINUTES = 50

        /** Falls of the total of at least [threshold] between consecutive complete points. */
        fun drops(trend: List<AlliancePoint>, threshold: Long): List<AllianceDrop> =
            trend.filter { it.total != null }.zipWithNext().mapNotNull { (a, b) ->
                val fall = a.total!! - b.total!!
                if (fall >= threshold) AllianceDrop(a.measureId, b.measureId, b.administeredAt, fall) else null
            }
    }
}

/** When a timeline entry happened (epoch ms; 0 for unreadable ones). */
fun TimelineEntry.at(): Long = when (this) {
    is TimelineEntry.Session -> at
    is TimelineEntry.Note -> at
    is TimelineEntry.Rupture -> at
    is TimelineEntry.Measure -> point.administeredAt
    is TimelineEntry.Unreadable -> 0
}

/** The record id of a timeline entry. */
fun TimelineEntry.id(): String = when (this) {
    is TimelineEntry.Session -> id
    is TimelineEntry.Note -> id
    is TimelineEntry.Rupture -> id
    is TimelineEntry.Measure -> point.measureId
    is TimelineEntry.Unreadable -> id
}
