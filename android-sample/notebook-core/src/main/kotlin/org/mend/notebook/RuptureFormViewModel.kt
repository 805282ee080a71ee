package org.mend.notebook

import java.time.Instant
import java.time.ZoneId
import java.time.ZoneOffset
import java.time.ZonedDateTime
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.abs
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.mend.model.AllianceDimension
import org.mend.model.ClientResponse
import org.mend.model.DetectedBy
import org.mend.model.InitiatedBy
import org.mend.model.Movement
import org.mend.model.NewRepairAttempt
import org.mend.model.NewRupture
import org.mend.model.Precipitant
import org.mend.model.RecordClass
import org.mend.model.RepairAttempt
import org.mend.model.RepairStrategy
import org.mend.model.RuptureEvent
import org.mend.model.RuptureField
import org.mend.model.RuptureMarker
import org.mend.model.RuptureStatus
import org.mend.model.RuptureText
import org.mend.model.RuptureUpdate
import org.mend.model.SessionStatus
import org.mend.core.TimelineEntry

/**
 * The rupture's fields (3RS-based, clinical-model §4.3). Nulls are not chosen yet (or, on a
 * logged rupture, cleared). For a new rupture every field is the user's; for a logged one the
 * form starts as the stored rupture and every field but [recordClass] (it decides the key) can
 * differ from it. On a logged rupture the four texts are typed through
 * [RuptureFormViewModel.editText], which saves them keystroke by keystroke; the other fields are
 * saved together by [RuptureFormViewModel.saveChanges].
 */
data class RuptureForm(
    val sessionId: String? = null,
    val occurredAt: Long? = null,
    /** Minute within the session, 0–600; only for a rupture in a session. */
    val atMinute: Int? = null,
    val recordClass: RecordClass = RecordClass.PSYCHOTHERAPY_NOTE,
    val movement: Movement? = null,
    val initiatedBy: InitiatedBy? = null,
    /** How the rupture was noticed. */
    val detectedBy: DetectedBy? = null,
    /** The alliance dimensions strained (Bordin: task, goal, bond). */
    val allianceDimensions: Set<AllianceDimension> = emptySet(),
    val markers: Set<RuptureMarker> = emptySet(),
    val precipitants: Set<Precipitant> = emptySet(),
    val significance: Int? = null,
    val narrative: String = "",
    /** The client's words, verbatim. */
    val clientWords: String = "",
    /** The therapist's reflection on their own part. */
    val therapistContribution: String = "",
    /** The 3RS rating of the therapist's contribution, 1–5. */
    val therapistContributionRating: Int? = null,
    /** How intense the client said it was (PSQ), 1–5; logged ruptures only. */
    val clientReportedIntensity: Int? = null,
    /** How far it was resolved, 1–5; logged ruptures only. */
    val resolutionRating: Int? = null,
    /** How the client responded over the rupture's course; logged ruptures only. */
    val clientResponses: Set<ClientResponse> = emptySet(),
    /** Whether a follow-up is planned (the plan itself is [followUpNote]). */
    val followUpPlanned: Boolean = false,
    /** The follow-up plan. */
    val followUpNote: String = "",
) {
    /** The text of [field]. */
    fun text(field: RuptureText): String = when (field) {
        RuptureText.NARRATIVE -> narrative
        RuptureText.CLIENT_WORDS -> clientWords
        RuptureText.THERAPIST_CONTRIBUTION -> therapistContribution
        RuptureText.FOLLOW_UP_NOTE -> followUpNote
    }

    /** This form with [field] reading [text]. */
    fun withText(field: RuptureText, text: String): RuptureForm = when (field) {
        RuptureText.NARRATIVE -> copy(narrative = text)
        RuptureText.CLIENT_WORDS -> copy(clientWords = text)
        RuptureText.THERAPIST_CONTRIBUTION -> copy(therapistContribution = text)
        RuptureText.FOLLOW_UP_NOTE -> copy(followUpNote = text)
    }

    /** This form with [other]'s four texts. */
    fun withTextsOf(other: RuptureForm): RuptureForm = copy(
        narrative = other.narrative, clientWords = other.clientWords,
        therapistContribution = other.therapistContribution, followUpNote = other.followUpNote,
    )

    /** Building forms. */
    companion object {
        /** The form showing a logged rupture. */
        fun of(r: RuptureEvent) = RuptureForm(
            sessionId = r.sessionId, occurredAt = r.occurredAt, atMinute = r.atMinute?.toInt(),
            recordClass = r.recordClass, movement = r.movement, initiatedBy = r.initiatedBy, detectedBy = r.detectedBy,
            allianceDimensions = r.allianceDimensions.toSet(), markers = r.markers.toSet(), precipitants = r.precipitants.toSet(),
            significance = r.significance.toInt(), narrative = r.narrative, clientWords = r.clientWords,
            therapistContribution = r.therapistContribution, therapistContributionRating = r.therapistContributionRating?.toInt(),
            clientReportedIntensity = r.clientReportedIntensity?.toInt(), resolutionRating = r.resolutionRating?.toInt(),
            clientResponses = r.clientResponse.toSet(), followUpPlanned = r.followUpPlanned, followUpNote = r.followUpNote,
        )
    }
}

/** A repair attempt being written. */
data class RepairForm(
    val strategies: Set<RepairStrategy> = emptySet(),
    val responses: Set<ClientResponse> = emptySet(),
    val effect: Int? = null,
    val note: String = "",
)

/** One change of the rupture's status, as the history shows it. [byMe] says whether this
 *  clinician made it; [sessionAt] is the start of the session it was made in, when that session
 *  is one of the client's listed sessions. */
data class StatusRow(
    val status: RuptureStatus,
    val at: Long,
    val byMe: Boolean,
    val sessionId: String?,
    val sessionAt: Long?,
)

/** One logged repair attempt, as the screen lists it, with the session it was made in
 *  ([sessionId]; null: between sessions) and that session's start ([sessionAt]), when that
 *  session is one of the client's listed sessions. */
data class RepairRow(
    val attempt: RepairAttempt,
    val sessionId: String?,
    val sessionAt: Long?,
)

/** What the therapist recorded of a session's actual times (from the timeline's session
 *  outcome; nulls: not recorded). */
data class SessionTimes(val start: Long?, val end: Long?)

/** The rupture screen: the form (a new rupture, or the edits of the logged one, [saved]), the
 *  repair attempt being written, the client's [sessions] (newest first) to choose from, the
 *  session happening now, and the status history. [errors] maps form field names to messages. */
data class RuptureFormState(
    val form: RuptureForm = RuptureForm(),
    val repair: RepairForm = RepairForm(),
    val errors: Map<String, String> = emptyMap(),
    val saved: RuptureEvent? = null,
    val sessions: List<TimelineEntry.Session> = emptyList(),
    /** The client's session happening now (see [RuptureFormViewModel.currentSession]); status
     *  changes and repair attempts record it. */
    val currentSession: TimelineEntry.Session? = null,
    /** Every status change, oldest first. */
    val statusHistory: List<StatusRow> = emptyList(),
    /** Every repair attempt, in the order logged, with its session. */
    val repairHistory: List<RepairRow> = emptyList(),
    /** The recorded actual times of the client's sessions near the time of the last load (see
     *  [RuptureFormViewModel.SESSION_REACH_MILLIS]); [RuptureFormViewModel.currentSession] reads
     *  them. */
    val sessionTimes: Map<String, SessionTimes> = emptyMap(),
) {
    /** Whether a logged rupture has edits not saved yet (texts save as they are typed). */
    val hasUnsavedChanges: Boolean get() = saved != null && RuptureFormViewModel.changes(saved, form) != null

    /** Whether the rupture was voided (logged in error): it is shown read-only. */
    val isVoided: Boolean get() = saved?.voided != null
}

/**
 * The rupture log form: movement (withdrawal, confrontation, mixed), who initiated it and how it
 * was noticed, the date, the session and minute, alliance dimensions, 3RS markers, precipitants,
 * significance 1–5, narrative, the client's words and the therapist's contribution with its
 * rating, and whether a follow-up is planned with the plan; once logged also client-reported
 * intensity, resolution and the client's responses.
 *
 * A logged rupture is corrected in the same form: every field but the record class. The texts
 * are saved as they are typed, as minimal splices (`spliceRuptureText`), so typing on two devices
 * merges by character. The other fields are saved as one `updateRupture` holding only what
 * differs from the stored rupture (set, cleared, added or removed), so a save never rewrites a
 * field another device changed meanwhile. Repair attempts and status changes are logged with the
 * session happening now (by its recorded actual start and end, when the therapist recorded them)
 * and listed with the session each was made in. Mend refuses a session of another client; the
 * form only offers the client's own. A rupture logged in error is voided with a reason and is
 * read-only from then on. Checks the form before anything is written; Mend's own validation errors land on
 * the same fields. Error messages name fields and rules, never the text typed.
 */
class RuptureFormViewModel(
    notebook: Notebook,
    /** The client the rupture belongs to. */
    val clientId: String,
    ruptureId: String? = null,
) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(RuptureFormState())

    /** The form. */
    val state: StateFlow<RuptureFormState> = _state.asStateFlow()

    @Volatile
    private var ruptureId: String? = ruptureId

    // Keystrokes are saved one at a time, in the order they were typed (the Mutex is fair);
    // loads take it too, so a splice is always computed from the text the vault has.
    private val typing = Mutex()

    // Keystrokes shown but not yet saved; while there are any, a load keeps the shown texts.
    private val pending = AtomicInteger(0)

    // The four texts as the vault has them (after the last splice or load). Guarded by [typing].
    private val savedTexts = HashMap<RuptureText, String>()

    // The rupture, and the client's sessions: recording a session's outcome on the timeline (here
    // or by a sync) moves the end of "the session happening now".
    override fun concerns(ids: List<String>): Boolean {
        if (ruptureId?.let { it in ids } == true) return true
        val sessions = _state.value.sessions
        return ids.any { id -> sessions.any { it.id == id } }
    }

    /** Reloads the client's sessions and the logged rupture, keeping edits not saved yet (a
     *  field edited here keeps its value; the others take the stored one). */
    override suspend fun refresh(): Result<Unit> = typing.withLock { load(keepEdits = true, forceTexts = false) }

    /** Loads; the caller holds [typing]. [forceTexts] replaces the texts shown even while
     *  keystrokes wait to be saved. */
    private suspend fun load(keepEdits: Boolean, forceTexts: Boolean): Result<Unit> {
        val id = ruptureId
        val now = notebook.clock.nowMillis()
        return vault { v ->
            val sessions = v.timeline(clientId).filterIsInstance<TimelineEntry.Session>().sortedByDescending { it.at }
            // Only sessions near now can be happening now, so only theirs are read.
            val times = sessions.filter { abs(now - it.at) <= SESSION_REACH_MILLIS }.associate { s ->
                val full = v.session(s.id)
                s.id to SessionTimes(full.actualStart, full.actualEnd)
            }
            Triple(sessions, times, id?.let { v.rupture(it) })
        }.map { (sessions, times, r) ->
            val current = currentSession(sessions, now, times)
            if (r == null) {
                _state.update { it.copy(sessions = sessions, sessionTimes = times, currentSession = current) }
                return@map
            }
            val stored = RuptureForm.of(r)
            val before = HashMap(savedTexts)
            savedTexts.clear()
            RuptureText.entries.forEach { savedTexts[it] = stored.text(it) }
            // While keystrokes wait to be saved, a text that shows typing not yet saved keeps
            // what the user sees (replacing it would make the next keystroke delete it). A remote
            // edit to that text landing inside such a burst is shown at the next load; the
            // burst's splices are computed from the vault's text, so remote characters in the
            // same text can be overwritten: the same known limit as the note editor's (a real
            // editor rebases the cursor).
            val typingIn = if (forceTexts || pending.get() == 0 || r.voided != null) emptySet() else
                RuptureText.entries.filter { f -> before[f] != null && _state.value.form.text(f) != before[f] }.toSet()
            _state.update { s ->
                val was = s.saved
                val fields = when {
                    r.voided != null -> stored
                    keepEdits && was != null -> merged(s.form, RuptureForm.of(was), stored)
                    else -> stored
                }
                val form = RuptureText.entries.fold(fields.withTextsOf(stored)) { f, t ->
                    if (t in typingIn) f.withText(t, s.form.text(t)) else f
                }
                s.copy(
                    saved = r, form = form, sessions = sessions, sessionTimes = times, currentSession = current,
                    statusHistory = history(r, sessions), repairHistory = repairs(r, sessions),
                )
            }
        }
    }

    private fun history(r: RuptureEvent, sessions: List<TimelineEntry.Session>): List<StatusRow> {
        val starts = sessions.associate { it.id to it.at }
        val me = notebook.settings.clinicianId
        return r.statusLog.map { StatusRow(it.to, it.at, it.by == me, it.sessionId, it.sessionId?.let(starts::get)) }
    }

    private fun repairs(r: RuptureEvent, sessions: List<TimelineEntry.Session>): List<RepairRow> {
        val starts = sessions.associate { it.id to it.at }
        return r.repairAttempts.map { RepairRow(it, it.sessionId, it.sessionId?.let(starts::get)) }
    }

    /** The session happening now, by the clock at the call (a screen can stay open past the
     *  end of the session it was opened in). */
    private fun sessionNow(): String? = _state.value.let { currentSession(it.sessions, notebook.clock.nowMillis(), it.sessionTimes)?.id }

    private fun voided(): Result<Nothing>? =
        if (_state.value.isVoided) reject(NotebookError.Validation("rupture", VOIDED)) else null

    /**
     * Changes the form (the screen passes a copy with one field changed). A minute without a
     * session is dropped. On a logged rupture the record class stays as logged and the texts
     * stay as shown (type them with [editText]); a voided rupture takes no change.
     */
    fun update(change: (RuptureForm) -> RuptureForm) {
        if (voided() != null) return
        _state.update { s ->
            var next = change(s.form)
            val stored = s.saved
            if (stored != null) next = next.copy(recordClass = stored.recordClass).withTextsOf(s.form)
            if (next.sessionId == null) next = next.copy(atMinute = null)
            s.copy(form = next)
        }
    }

    /**
     * Live typing: the text field for [field] now reads [text]. The form shows [text] at once.
     * On a new rupture that is all (the texts, the follow-up plan too, are saved with it). On a
     * logged one the change is
     * saved at once as one splice from the text the vault has, so another device's concurrent
     * typing in the same text merges by character. If the rupture was voided meanwhile (here or
     * by a sync), the edit fails with a [NotebookError.Validation] on "rupture" and the form
     * shows the stored rupture again.
     */
    suspend fun editText(field: RuptureText, text: String): Result<Unit> {
        voided()?.let { return it }
        if (ruptureId == null) {
            _state.update { s -> s.copy(form = s.form.withText(field, text)) }
            return Result.success(Unit)
        }
        // Until the logged rupture is loaded there is no text to splice from.
        if (_state.value.saved == null) return reject(NotebookError.InvalidState("the rupture is still loading"))
        _state.update { s -> s.copy(form = s.form.withText(field, text)) }
        pending.incrementAndGet()
        try {
            return typing.withLock {
                val id = ruptureId ?: return@withLock Result.success(Unit)
                val splice = TextSplice.between(savedTexts[field] ?: "", text)
                if (splice.isEmpty) return@withLock Result.success(Unit)
                vault { v -> v.spliceRuptureText(id, field, splice.pos.toULong(), splice.delete.toULong(), splice.insert) }
                    .onSuccess { savedTexts[field] = text }
                    .onFailure { e ->
                        fieldError(e)
                        load(keepEdits = true, forceTexts = true)
                    }
            }
        } finally {
            pending.decrementAndGet()
        }
    }

    /** Moves the rupture to the calendar day [dayUtcMillis] (what a date picker returns: that
     *  day's midnight UTC), keeping its time of day in [zone]. */
    fun setDay(dayUtcMillis: Long, zone: ZoneId = ZoneId.systemDefault()) {
        val at = _state.value.form.occurredAt ?: notebook.clock.nowMillis()
        update { it.copy(occurredAt = onDay(at, dayUtcMillis, zone)) }
    }

    /** Adds or removes a 3RS marker. */
    fun toggle(marker: RuptureMarker) = update { f -> f.copy(markers = f.markers.toggled(marker)) }

    /** Adds or removes a precipitant. */
    fun toggle(precipitant: Precipitant) = update { f -> f.copy(precipitants = f.precipitants.toggled(precipitant)) }

    /** Adds or removes a strained alliance dimension. */
    fun toggle(dimension: AllianceDimension) = update { f -> f.copy(allianceDimensions = f.allianceDimensions.toggled(dimension)) }

    /** Adds or removes one of the client's responses. */
    fun toggle(response: ClientResponse) = update { f -> f.copy(clientResponses = f.clientResponses.toggled(response)) }

    /** Changes the repair attempt being written. */
    fun updateRepair(change: (RepairForm) -> RepairForm) {
        _state.update { it.copy(repair = change(it.repair)) }
    }

    /** The form's problems, by field; empty when it can be saved (as a new rupture, or as the
     *  corrections of the logged one). */
    fun validate(form: RuptureForm = _state.value.form): Map<String, String> = buildMap {
        val stored = _state.value.saved
        if (stored?.voided != null) put("rupture", VOIDED)
        if (form.movement == null) put("movement", "Choose withdrawal, confrontation or mixed.")
        if (form.initiatedBy == null) put("initiatedBy", "Say who initiated the rupture.")
        when (val s = form.significance) {
            null -> put("significance", "Rate the significance from 1 (low) to 5 (high).")
            !in 1..5 -> put("significance", "Significance is 1 to 5.")
        }
        if (form.markers.isEmpty()) put("markers", "Choose at least one 3RS marker.")
        // A logged rupture is checked for contradicting markers only when its movement or markers
        // are edited: another device may have logged it under a more lenient form.
        val movementOrMarkersEdited = stored == null || stored.movement != form.movement || stored.markers.toSet() != form.markers
        val patient = form.markers.filterNot { it.name.startsWith("TH_") }
        if (movementOrMarkersEdited) when (form.movement) {
            Movement.WITHDRAWAL -> if (patient.any { it.name.startsWith("CF_") }) {
                put("markers", "Confrontation markers on a withdrawal rupture: choose Mixed, or remove them.")
            }
            Movement.CONFRONTATION -> if (patient.any { it.name.startsWith("WD_") }) {
                put("markers", "Withdrawal markers on a confrontation rupture: choose Mixed, or remove them.")
            }
            else -> {}
        }
        val dateEdited = stored == null || form.occurredAt != stored.occurredAt
        if (dateEdited && form.occurredAt != null && form.occurredAt > notebook.clock.nowMillis() + FUTURE_SLACK_MILLIS) {
            put("occurredAt", "A rupture cannot be in the future.")
        }
        form.atMinute?.let { m ->
            if (form.sessionId == null) put("atMinute", "The minute is only for a rupture in a session.")
            else if (m !in 0..600) put("atMinute", "The minute is 0 to 600.")
        }
        rating("therapistContributionRating", form.therapistContributionRating)
        rating("clientReportedIntensity", form.clientReportedIntensity)
        rating("resolutionRating", form.resolutionRating)
    }

    private fun MutableMap<String, String>.rating(field: String, value: Int?) {
        if (value != null && value !in 1..5) put(field, "Rate it from 1 to 5, or leave it unrated.")
    }

    private fun rejectFirst(errors: Map<String, String>): Result<Nothing>? {
        _state.update { it.copy(errors = errors) }
        if (errors.isEmpty()) return null
        val (field, reason) = errors.entries.first()
        return reject(NotebookError.Validation(field, reason))
    }

    /** Checks and saves the new rupture, with its follow-up plan; returns its id. Field errors go to [RuptureFormState.errors]. */
    suspend fun save(): Result<String> {
        if (ruptureId != null) return reject(NotebookError.InvalidState("this rupture is already saved; save changes instead"))
        val form = _state.value.form
        rejectFirst(validate(form))?.let { return it }
        val rupture = NewRupture(
            clientId, form.sessionId, form.occurredAt ?: notebook.clock.nowMillis(), form.recordClass,
            form.movement!!, form.initiatedBy!!, form.markers.sortedBy { it.ordinal }, form.precipitants.sortedBy { it.ordinal },
            form.significance!!.toLong(), form.narrative, form.clientWords, form.therapistContribution,
            atMinute = form.atMinute?.toLong(),
            allianceDimensions = form.allianceDimensions.sortedBy { it.ordinal },
            detectedBy = form.detectedBy,
            therapistContributionRating = form.therapistContributionRating?.toLong(),
            followUpPlanned = form.followUpPlanned,
            followUpNote = form.followUpNote,
        )
        return vault { v -> v.createRupture(rupture, notebook.settings.clinicianId) }
            .onSuccess { id ->
                ruptureId = id
                typing.withLock { load(keepEdits = false, forceTexts = true) }
            }
            .onFailure { e -> fieldError(e) }
    }

    /**
     * Saves the corrections of the logged rupture as one `updateRupture` of the fields that
     * differ from the stored rupture (nothing is written when nothing differs). A significance
     * changed concurrently on another device becomes a conflict in the inbox rather than a
     * silent winner; set members added or removed merge with the other device's.
     */
    suspend fun saveChanges(): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        val stored = _state.value.saved ?: return reject(NotebookError.InvalidState("the rupture is still loading"))
        val form = _state.value.form
        rejectFirst(validate(form))?.let { return it }
        val update = changes(stored, form) ?: return Result.success(Unit)
        return vault { v -> v.updateRupture(id, update) }
            .onSuccess { typing.withLock { load(keepEdits = false, forceTexts = false) } }
            .onFailure { e ->
                fieldError(e)
                // Voided on another device since the last load: show it as it is now.
                if (e is NotebookError.Validation && e.field == "rupture") refresh()
            }
    }

    /** Drops the unsaved corrections of the logged rupture (texts are already saved). */
    fun discardChanges() {
        _state.update { s ->
            val stored = s.saved ?: return@update s
            s.copy(form = RuptureForm.of(stored).withTextsOf(s.form), errors = emptyMap())
        }
    }

    private fun fieldError(e: Throwable) {
        if (e is NotebookError.Validation) {
            _state.update { it.copy(errors = it.errors + (formField(e.field) to e.reason)) }
        }
    }

    /** Logs the repair attempt being written, in [sessionId] (by default the session happening
     *  now, if any); clears it on success. */
    suspend fun addRepairAttempt(sessionId: String? = sessionNow()): Result<String> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        voided()?.let { return it }
        val r = _state.value.repair
        val errors = buildMap {
            if (r.strategies.isEmpty()) put("strategies", "Choose at least one repair strategy.")
            r.effect?.let { if (it !in 1..5) put("effect", "Effect is 1 to 5.") }
        }
        rejectFirst(errors)?.let { return it }
        val attempt = NewRepairAttempt(
            sessionId, notebook.clock.nowMillis(), r.strategies.sortedBy { it.ordinal },
            r.responses.sortedBy { it.ordinal }, r.effect?.toLong(), r.note,
        )
        return vault { v -> v.addRepairAttempt(id, attempt) }
            .onSuccess {
                _state.update { it.copy(repair = RepairForm()) }
                refresh()
            }
            .onFailure { fieldError(it) }
    }

    /** Moves the rupture to [status] (unaddressed → in progress → resolved, …), recorded as made
     *  in [sessionId] (by default the session happening now, if any); unsaved edits stay. */
    suspend fun setStatus(status: RuptureStatus, sessionId: String? = sessionNow()): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        voided()?.let { return it }
        return vault { v -> v.setRuptureStatus(id, status, notebook.clock.nowMillis(), notebook.settings.clinicianId, sessionId) }
            .onSuccess { refresh() }
            .onFailure { fieldError(it) }
    }

    /**
     * Voids the rupture as logged in error, saying why ([reason], required). Nothing is deleted:
     * it stays readable and on the timeline, marked voided, leaves the unresolved list and the
     * counts, and takes no further edit. Unsaved corrections are dropped. The screen asks for
     * confirmation first: a void cannot be undone.
     */
    suspend fun voidRupture(reason: String): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        voided()?.let { return it }
        val why = reason.trim()
        if (why.isEmpty()) {
            _state.update { it.copy(errors = mapOf("voidReason" to "Say why this rupture is voided.")) }
            return reject(NotebookError.Validation("voidReason", "Say why this rupture is voided."))
        }
        return vault { v -> v.voidRupture(id, why, notebook.settings.clinicianId, notebook.clock.nowMillis()) }
            .onSuccess {
                _state.update { it.copy(errors = emptyMap()) }
                typing.withLock { load(keepEdits = false, forceTexts = true) }
            }
            .onFailure { fieldError(it) }
    }

    /** Computations shared by the state, the screen and the tests. */
    companion object {
        /** Clock skew tolerated for "in the future". */
        private const val FUTURE_SLACK_MILLIS = 5 * 60 * 1000L

        /** How long before its scheduled start a session with no recorded start counts as
         *  happening now. */
        const val SESSION_EARLY_MILLIS = 15 * 60 * 1000L

        /** How long after its start a session with no recorded end counts as happening now (it
         *  stands in for the end until the therapist records one on the timeline). */
        const val SESSION_WINDOW_MILLIS = 3 * 60 * 60 * 1000L

        /** How far from its scheduled start a session may be and still be happening now, whatever
         *  times are recorded for it. Only sessions this close have their recorded times read. */
        const val SESSION_REACH_MILLIS = 12 * 60 * 60 * 1000L

        private const val VOIDED = "This rupture was voided; it can no longer be edited."

        /**
         * The session happening at [now], if any: of [sessions] not cancelled or missed and
         * scheduled within [SESSION_REACH_MILLIS] of [now], whose [span] (by its recorded [times])
         * holds [now], the one that started last.
         */
        fun currentSession(
            sessions: List<TimelineEntry.Session>,
            now: Long,
            times: Map<String, SessionTimes> = emptyMap(),
        ): TimelineEntry.Session? =
            sessions
                .filter { it.status == SessionStatus.SCHEDULED || it.status == SessionStatus.COMPLETED }
                .filter { abs(now - it.at) <= SESSION_REACH_MILLIS }
                .mapNotNull { s -> span(s, times[s.id])?.let { s to it } }
                .filter { (_, span) -> now in span }
                .maxByOrNull { (_, span) -> span.first }?.first

        /**
         * When [session] counts as happening: from its recorded actual start (or
         * [SESSION_EARLY_MILLIS] before its scheduled start when none is recorded) to its recorded
         * actual end (or, with no end recorded, [SESSION_WINDOW_MILLIS] after its start). Null when
         * the recorded times contradict the schedule (an end before the start they fall back to).
         */
        fun span(session: TimelineEntry.Session, times: SessionTimes?): LongRange? {
            val start = times?.start ?: (session.at - SESSION_EARLY_MILLIS)
            val end = times?.end ?: ((times?.start ?: session.at) + SESSION_WINDOW_MILLIS)
            return if (start <= end) start..end else null
        }

        /** The calendar day of [at] in [zone], as a date picker takes it (that day's midnight UTC). */
        fun dayUtcMillis(at: Long, zone: ZoneId): Long =
            Instant.ofEpochMilli(at).atZone(zone).toLocalDate().atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli()

        /** [at] moved to the calendar day of [dayUtcMillis] (midnight UTC of that day, as a date
         *  picker reports it), keeping its time of day in [zone]. */
        fun onDay(at: Long, dayUtcMillis: Long, zone: ZoneId): Long {
            val day = Instant.ofEpochMilli(dayUtcMillis).atZone(ZoneOffset.UTC).toLocalDate()
            val time = Instant.ofEpochMilli(at).atZone(zone).toLocalTime()
            return ZonedDateTime.of(day, time, zone).toInstant().toEpochMilli()
        }

        /**
         * What differs between [form] and the stored rupture [r], as Mend's update; null when
         * nothing does. Only changed fields are set; an optional field emptied in the form is
         * cleared, a set member unticked is removed. Never sets and clears (or adds and removes)
         * the same thing, which Mend refuses. The texts are not part of it: they are saved as
         * they are typed ([editText]). The record class never changes.
         */
        fun changes(r: RuptureEvent, form: RuptureForm): RuptureUpdate? {
            val clear = mutableListOf<RuptureField>()
            fun <T> optional(now: T?, stored: T?, field: RuptureField): T? = when {
                now == stored -> null
                now == null -> { clear += field; null }
                else -> now
            }
            fun <T : Enum<T>> added(entries: List<T>, now: Set<T>, stored: List<T>) = entries.filter { it in now && it !in stored }
            fun <T : Enum<T>> removed(entries: List<T>, now: Set<T>, stored: List<T>) = entries.filter { it !in now && it in stored }

            val sessionId = optional(form.sessionId, r.sessionId, RuptureField.SESSION_ID)
            val atMinute = optional(form.atMinute?.toLong(), r.atMinute, RuptureField.AT_MINUTE)
            val detectedBy = optional(form.detectedBy, r.detectedBy, RuptureField.DETECTED_BY)
            val intensity = optional(form.clientReportedIntensity?.toLong(), r.clientReportedIntensity, RuptureField.CLIENT_REPORTED_INTENSITY)
            val contribution = optional(form.therapistContributionRating?.toLong(), r.therapistContributionRating, RuptureField.THERAPIST_CONTRIBUTION_RATING)
            val resolution = optional(form.resolutionRating?.toLong(), r.resolutionRating, RuptureField.RESOLUTION_RATING)
            val u = RuptureUpdate(
                significance = form.significance?.toLong()?.takeIf { it != r.significance },
                clientReportedIntensity = intensity,
                resolutionRating = resolution,
                movement = form.movement?.takeIf { it != r.movement },
                addMarkers = added(RuptureMarker.entries, form.markers, r.markers),
                removeMarkers = removed(RuptureMarker.entries, form.markers, r.markers),
                addPrecipitants = added(Precipitant.entries, form.precipitants, r.precipitants),
                addClientResponse = added(ClientResponse.entries, form.clientResponses, r.clientResponse),
                occurredAt = form.occurredAt?.takeIf { it != r.occurredAt },
                sessionId = sessionId,
                atMinute = atMinute,
                initiatedBy = form.initiatedBy?.takeIf { it != r.initiatedBy },
                detectedBy = detectedBy,
                therapistContributionRating = contribution,
                addAllianceDimensions = added(AllianceDimension.entries, form.allianceDimensions, r.allianceDimensions),
                removeAllianceDimensions = removed(AllianceDimension.entries, form.allianceDimensions, r.allianceDimensions),
                removePrecipitants = removed(Precipitant.entries, form.precipitants, r.precipitants),
                removeClientResponse = removed(ClientResponse.entries, form.clientResponses, r.clientResponse),
                followUpPlanned = form.followUpPlanned.takeIf { it != r.followUpPlanned },
                clear = clear.sortedBy { it.ordinal },
            )
            return u.takeIf { it != RuptureUpdate() }
        }

        /** The form after a reload: a field edited here ([form] differs from [was]) keeps its
         *  value, the others take [now]'s; a set keeps this form's additions and removals on top
         *  of [now]. Texts are [now]'s (the caller decides about typing in flight). */
        private fun merged(form: RuptureForm, was: RuptureForm, now: RuptureForm): RuptureForm {
            fun <T> pick(f: T, w: T, n: T) = if (f == w) n else f
            fun <T> set(f: Set<T>, w: Set<T>, n: Set<T>) = (n + (f - w)) - (w - f)
            val merged = now.copy(
                sessionId = pick(form.sessionId, was.sessionId, now.sessionId),
                occurredAt = pick(form.occurredAt, was.occurredAt, now.occurredAt),
                atMinute = pick(form.atMinute, was.atMinute, now.atMinute),
                movement = pick(form.movement, was.movement, now.movement),
                initiatedBy = pick(form.initiatedBy, was.initiatedBy, now.initiatedBy),
                detectedBy = pick(form.detectedBy, was.detectedBy, now.detectedBy),
                allianceDimensions = set(form.allianceDimensions, was.allianceDimensions, now.allianceDimensions),
                markers = set(form.markers, was.markers, now.markers),
                precipitants = set(form.precipitants, was.precipitants, now.precipitants),
                significance = pick(form.significance, was.significance, now.significance),
                therapistContributionRating = pick(form.therapistContributionRating, was.therapistContributionRating, now.therapistContributionRating),
                clientReportedIntensity = pick(form.clientReportedIntensity, was.clientReportedIntensity, now.clientReportedIntensity),
                resolutionRating = pick(form.resolutionRating, was.resolutionRating, now.resolutionRating),
                clientResponses = set(form.clientResponses, was.clientResponses, now.clientResponses),
                followUpPlanned = pick(form.followUpPlanned, was.followUpPlanned, now.followUpPlanned),
            )
            // A minute edited here on a session cleared elsewhere has nothing to belong to.
            return if (merged.sessionId == null) merged.copy(atMinute = null) else merged
        }

        /** Mend's field names ("at_minute", "client_response", "void reason") as the form's. */
        private fun formField(name: String): String = when (name) {
            "client_response" -> "clientResponses"
            "void reason" -> "voidReason"
            else -> name.split('_').mapIndexed { i, w -> if (i == 0) w else w.replaceFirstChar { it.uppercase() } }.joinToString("")
        }
    }
}

private fun <T> Set<T>.toggled(item: T): Set<T> = if (item in this) this - item else this + item
