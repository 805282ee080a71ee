package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.core.AllianceDimension
import org.mend.core.ClientResponse
import org.mend.core.DetectedBy
import org.mend.core.InitiatedBy
import org.mend.core.Movement
import org.mend.core.NewRepairAttempt
import org.mend.core.NewRupture
import org.mend.core.Precipitant
import org.mend.core.RecordClass
import org.mend.core.RepairStrategy
import org.mend.core.RuptureEvent
import org.mend.core.RuptureMarker
import org.mend.core.RuptureStatus
import org.mend.core.RuptureUpdate
import org.mend.core.TimelineEntry

/**
 * The rupture's fields (3RS-based, clinical-model §4.3). Nulls are not chosen yet. For a new
 * rupture every field is the user's; for a logged one the form starts as the stored rupture and
 * only [editable] fields may differ from it (Mend has no update for the others).
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
) {
    companion object {
        /** The fields a logged rupture can change (through `updateRupture`). */
        val editable = setOf(
            "movement", "markers", "precipitants", "significance", "narrative",
            "clientReportedIntensity", "resolutionRating", "clientResponses",
        )

        /** The form showing a logged rupture. */
        fun of(r: RuptureEvent) = RuptureForm(
            sessionId = r.sessionId, occurredAt = r.occurredAt, atMinute = r.atMinute?.toInt(),
            recordClass = r.recordClass, movement = r.movement, initiatedBy = r.initiatedBy, detectedBy = r.detectedBy,
            allianceDimensions = r.allianceDimensions.toSet(), markers = r.markers.toSet(), precipitants = r.precipitants.toSet(),
            significance = r.significance.toInt(), narrative = r.narrative, clientWords = r.clientWords,
            therapistContribution = r.therapistContribution, therapistContributionRating = r.therapistContributionRating?.toInt(),
            clientReportedIntensity = r.clientReportedIntensity?.toInt(), resolutionRating = r.resolutionRating?.toInt(),
            clientResponses = r.clientResponse.toSet(),
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

/** The rupture screen: the form (a new rupture, or the edits of the logged one, [saved]), the
 *  repair attempt being written, and the client's [sessions] to choose from for a new rupture.
 *  [errors] maps form field names to messages. */
data class RuptureFormState(
    val form: RuptureForm = RuptureForm(),
    val repair: RepairForm = RepairForm(),
    val errors: Map<String, String> = emptyMap(),
    val saved: RuptureEvent? = null,
    val sessions: List<TimelineEntry.Session> = emptyList(),
) {
    /** Whether a logged rupture has edits not saved yet. */
    val hasUnsavedChanges: Boolean get() = saved != null && RuptureFormViewModel.changes(saved, form) != null
}

/**
 * The rupture log form: movement (withdrawal, confrontation, mixed), who initiated it and how it
 * was noticed, the session and minute, alliance dimensions, 3RS markers, precipitants,
 * significance 1–5, narrative, the client's words and the therapist's contribution with its
 * rating. Once logged, the fields Mend lets change (movement, markers, precipitants, significance,
 * narrative, the client's responses, client-reported intensity and resolution rating) are edited
 * in the same form and saved as one `updateRupture` holding only what differs from the stored
 * rupture, so a save never rewrites a field another device changed meanwhile; repair attempts and
 * status changes are logged. Checks the form before anything is written; Mend's own validation
 * errors land on the same fields. Error messages name fields and rules, never the text typed.
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

    private var ruptureId: String? = ruptureId

    override fun concerns(ids: List<String>): Boolean = ruptureId?.let { it in ids } ?: false

    /** Reloads the logged rupture, keeping edits not saved yet (a field edited here keeps its
     *  value; the others take the stored one). For a new rupture, loads the client's sessions. */
    override suspend fun refresh(): Result<Unit> = reload(keepEdits = true)

    private suspend fun reload(keepEdits: Boolean): Result<Unit> {
        val id = ruptureId ?: return vault { v -> v.timeline(clientId) }.map { entries ->
            val sessions = entries.filterIsInstance<TimelineEntry.Session>().sortedByDescending { it.at }
            _state.value = _state.value.copy(sessions = sessions)
        }
        return vault { v -> v.rupture(id) }.map { r ->
            val s = _state.value
            val was = s.saved
            val form = if (keepEdits && was != null) merged(s.form, RuptureForm.of(was), RuptureForm.of(r)) else RuptureForm.of(r)
            _state.value = s.copy(saved = r, form = form)
        }
    }

    /** Changes the form (the screen passes a copy with one field changed). On a logged rupture,
     *  fields Mend cannot update keep their stored values. */
    fun update(change: (RuptureForm) -> RuptureForm) {
        val s = _state.value
        var next = change(s.form)
        val stored = s.saved
        if (stored != null) next = lockUneditable(next, RuptureForm.of(stored))
        else if (next.sessionId == null) next = next.copy(atMinute = null)
        _state.value = s.copy(form = next)
    }

    /** Adds or removes a 3RS marker. */
    fun toggle(marker: RuptureMarker) = update { f -> f.copy(markers = f.markers.toggled(marker)) }

    /** Adds a precipitant, or removes one not yet logged (see [canRemove]). */
    fun toggle(precipitant: Precipitant) {
        if (precipitant in _state.value.form.precipitants && !canRemove(precipitant)) return
        update { f -> f.copy(precipitants = f.precipitants.toggled(precipitant)) }
    }

    /** Adds or removes a strained alliance dimension (new ruptures). */
    fun toggle(dimension: AllianceDimension) = update { f -> f.copy(allianceDimensions = f.allianceDimensions.toggled(dimension)) }

    /** Adds one of the client's responses, or removes one not yet logged (see [canRemove]). */
    fun toggle(response: ClientResponse) {
        if (response in _state.value.form.clientResponses && !canRemove(response)) return
        update { f -> f.copy(clientResponses = f.clientResponses.toggled(response)) }
    }

    /** Whether a precipitant can be unticked: not once it is part of the logged rupture (Mend's
     *  update adds precipitants but cannot remove one). */
    fun canRemove(precipitant: Precipitant): Boolean = _state.value.saved?.precipitants?.contains(precipitant) != true

    /** Whether a client response can be unticked: not once it is part of the logged rupture. */
    fun canRemove(response: ClientResponse): Boolean = _state.value.saved?.clientResponse?.contains(response) != true

    /** Changes the repair attempt being written. */
    fun updateRepair(change: (RepairForm) -> RepairForm) {
        _state.value = _state.value.copy(repair = change(_state.value.repair))
    }

    /** The form's problems, by field; empty when it can be saved (as a new rupture, or as the
     *  edits of the logged one). */
    fun validate(form: RuptureForm = _state.value.form): Map<String, String> = buildMap {
        val stored = _state.value.saved
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
        if (stored == null) {
            if (form.occurredAt != null && form.occurredAt > notebook.clock.nowMillis() + FUTURE_SLACK_MILLIS) {
                put("occurredAt", "A rupture cannot be in the future.")
            }
            form.atMinute?.let { m ->
                if (form.sessionId == null) put("atMinute", "The minute is only for a rupture in a session.")
                else if (m !in 0..600) put("atMinute", "The minute is 0 to 600.")
            }
            rating("therapistContributionRating", form.therapistContributionRating, null)
        } else {
            rating("clientReportedIntensity", form.clientReportedIntensity, stored.clientReportedIntensity)
            rating("resolutionRating", form.resolutionRating, stored.resolutionRating)
            if (!form.precipitants.containsAll(stored.precipitants)) put("precipitants", "A logged precipitant cannot be removed.")
            if (!form.clientResponses.containsAll(stored.clientResponse)) put("clientResponses", "A logged client response cannot be removed.")
        }
    }

    private fun MutableMap<String, String>.rating(field: String, value: Int?, stored: Long?) {
        if (value != null && value !in 1..5) put(field, "Rate it from 1 to 5.")
        else if (value == null && stored != null) put(field, "A saved rating cannot be cleared; choose 1 to 5.")
    }

    private fun rejectFirst(errors: Map<String, String>): Result<Nothing>? {
        _state.value = _state.value.copy(errors = errors)
        if (errors.isEmpty()) return null
        val (field, reason) = errors.entries.first()
        return reject(NotebookError.Validation(field, reason))
    }

    /** Checks and saves the new rupture; returns its id. Field errors go to [RuptureFormState.errors]. */
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
        )
        return vault { v -> v.createRupture(rupture, notebook.settings.clinicianId) }
            .onSuccess { id ->
                ruptureId = id
                reload(keepEdits = false)
            }
            .onFailure { e -> fieldError(e) }
    }

    /**
     * Saves the edits of the logged rupture as one `updateRupture` of the fields that differ from
     * the stored rupture (nothing is written when nothing differs). A significance changed
     * concurrently on another device becomes a conflict in the inbox rather than a silent
     * winner; marker and precipitant changes merge with the other device's.
     */
    suspend fun saveChanges(): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        val stored = _state.value.saved ?: return reject(NotebookError.InvalidState("the rupture is still loading"))
        val form = _state.value.form
        rejectFirst(validate(form))?.let { return it }
        val update = changes(stored, form) ?: return Result.success(Unit)
        return vault { v -> v.updateRupture(id, update) }
            .onSuccess { reload(keepEdits = false) }
            .onFailure { fieldError(it) }
    }

    /** Drops the unsaved edits of the logged rupture. */
    fun discardChanges() {
        val stored = _state.value.saved ?: return
        _state.value = _state.value.copy(form = RuptureForm.of(stored), errors = emptyMap())
    }

    private fun fieldError(e: Throwable) {
        if (e is NotebookError.Validation) {
            _state.value = _state.value.copy(errors = _state.value.errors + (formField(e.field) to e.reason))
        }
    }

    /** Logs the repair attempt being written; clears it on success. */
    suspend fun addRepairAttempt(sessionId: String? = null): Result<String> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
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
                _state.value = _state.value.copy(repair = RepairForm())
                refresh()
            }
            .onFailure { fieldError(it) }
    }

    /** Moves the rupture to [status] (unaddressed → in progress → resolved, …); unsaved edits stay. */
    suspend fun setStatus(status: RuptureStatus): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        return vault { v -> v.setRuptureStatus(id, status, notebook.clock.nowMillis(), notebook.settings.clinicianId) }
            .onSuccess { refresh() }
    }

    companion object {
        /** Clock skew tolerated for "in the future". */
        private const val FUTURE_SLACK_MILLIS = 5 * 60 * 1000L

        /** What differs between [form] and the stored rupture [r], as Mend's update; null when
         *  nothing does. Only changed fields are set. */
        fun changes(r: RuptureEvent, form: RuptureForm): RuptureUpdate? {
            val storedMarkers = r.markers.toSet()
            val u = RuptureUpdate(
                significance = form.significance?.toLong()?.takeIf { it != r.significance },
                clientReportedIntensity = form.clientReportedIntensity?.toLong()?.takeIf { it != r.clientReportedIntensity },
                resolutionRating = form.resolutionRating?.toLong()?.takeIf { it != r.resolutionRating },
                movement = form.movement?.takeIf { it != r.movement },
                addMarkers = RuptureMarker.entries.filter { it in form.markers && it !in storedMarkers },
                removeMarkers = RuptureMarker.entries.filter { it in storedMarkers && it !in form.markers },
                addPrecipitants = Precipitant.entries.filter { it in form.precipitants && it !in r.precipitants },
                addClientResponse = ClientResponse.entries.filter { it in form.clientResponses && it !in r.clientResponse },
                narrative = form.narrative.takeIf { it != r.narrative },
            )
            return u.takeIf { it != RuptureUpdate() }
        }

        /** [form] with every field Mend cannot update set back to [stored]'s. */
        private fun lockUneditable(form: RuptureForm, stored: RuptureForm) = stored.copy(
            movement = form.movement, markers = form.markers, precipitants = form.precipitants,
            significance = form.significance, narrative = form.narrative,
            clientReportedIntensity = form.clientReportedIntensity, resolutionRating = form.resolutionRating,
            clientResponses = form.clientResponses,
        )

        /** The form after a reload: a field edited here ([form] differs from [was]) keeps its
         *  value, the others take [now]'s; a set keeps this form's additions and removals on top
         *  of [now]. A narrative edited on both sides keeps this form's text. */
        private fun merged(form: RuptureForm, was: RuptureForm, now: RuptureForm): RuptureForm {
            fun <T> pick(f: T, w: T, n: T) = if (f == w) n else f
            fun <T> set(f: Set<T>, w: Set<T>, n: Set<T>) = (n + (f - w)) - (w - f)
            return now.copy(
                movement = pick(form.movement, was.movement, now.movement),
                markers = set(form.markers, was.markers, now.markers),
                precipitants = set(form.precipitants, was.precipitants, now.precipitants),
                significance = pick(form.significance, was.significance, now.significance),
                narrative = pick(form.narrative, was.narrative, now.narrative),
                clientReportedIntensity = pick(form.clientReportedIntensity, was.clientReportedIntensity, now.clientReportedIntensity),
                resolutionRating = pick(form.resolutionRating, was.resolutionRating, now.resolutionRating),
                clientResponses = set(form.clientResponses, was.clientResponses, now.clientResponses),
            )
        }

        /** Mend's field names are snake_case ("at_minute"); the form's are camelCase. */
        private fun formField(name: String): String =
            name.split('_').mapIndexed { i, w -> if (i == 0) w else w.replaceFirstChar { it.uppercase() } }.joinToString("")
    }
}

private fun <T> Set<T>.toggled(item: T): Set<T> = if (item in this) this - item else this + item
