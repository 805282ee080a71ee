package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.core.ClientResponse
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

/** The fields of a new rupture (3RS-based, clinical-model §4.3). Nulls are not chosen yet. */
data class RuptureForm(
    val sessionId: String? = null,
    val occurredAt: Long? = null,
    val recordClass: RecordClass = RecordClass.PSYCHOTHERAPY_NOTE,
    val movement: Movement? = null,
    val initiatedBy: InitiatedBy? = null,
    val markers: Set<RuptureMarker> = emptySet(),
    val precipitants: Set<Precipitant> = emptySet(),
    val significance: Int? = null,
    val narrative: String = "",
    val clientWords: String = "",
    val therapistContribution: String = "",
)

/** A repair attempt being written. */
data class RepairForm(
    val strategies: Set<RepairStrategy> = emptySet(),
    val responses: Set<ClientResponse> = emptySet(),
    val effect: Int? = null,
    val note: String = "",
)

/** The rupture screen: the form for a new rupture, or an existing one ([saved]) with its repair
 *  attempts, status and significance. [errors] maps field names to messages. */
data class RuptureFormState(
    val form: RuptureForm = RuptureForm(),
    val repair: RepairForm = RepairForm(),
    val errors: Map<String, String> = emptyMap(),
    val saved: RuptureEvent? = null,
)

/**
 * The rupture log form: movement (withdrawal, confrontation, mixed), who initiated it, 3RS
 * markers, precipitants, significance 1–5 and narrative; once saved, repair attempts (strategies,
 * client response, effect 1–5) and status changes. Checks the form before anything is written;
 * Mend's own validation errors land on the same fields.
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

    override suspend fun refresh(): Result<Unit> {
        val id = ruptureId ?: return Result.success(Unit)
        return vault { v -> v.rupture(id) }.map { r -> _state.value = _state.value.copy(saved = r) }
    }

    /** Changes the form (the screen passes a copy with one field changed). */
    fun update(change: (RuptureForm) -> RuptureForm) {
        _state.value = _state.value.copy(form = change(_state.value.form))
    }

    /** Adds or removes a 3RS marker. */
    fun toggle(marker: RuptureMarker) = update { f -> f.copy(markers = f.markers.toggled(marker)) }

    /** Adds or removes a precipitant. */
    fun toggle(precipitant: Precipitant) = update { f -> f.copy(precipitants = f.precipitants.toggled(precipitant)) }

    /** Changes the repair attempt being written. */
    fun updateRepair(change: (RepairForm) -> RepairForm) {
        _state.value = _state.value.copy(repair = change(_state.value.repair))
    }

    /** The form's problems, by field; empty when it can be saved. */
    fun validate(form: RuptureForm = _state.value.form): Map<String, String> = buildMap {
        if (form.movement == null) put("movement", "Choose withdrawal, confrontation or mixed.")
        if (form.initiatedBy == null) put("initiatedBy", "Say who initiated the rupture.")
        when (val s = form.significance) {
            null -> put("significance", "Rate the significance from 1 (low) to 5 (high).")
            !in 1..5 -> put("significance", "Significance is 1 to 5.")
        }
        if (form.markers.isEmpty()) put("markers", "Choose at least one 3RS marker.")
        val patient = form.markers.filterNot { it.name.startsWith("TH_") }
        when (form.movement) {
            Movement.WITHDRAWAL -> if (patient.any { it.name.startsWith("CF_") }) {
                put("markers", "Confrontation markers on a withdrawal rupture: choose Mixed, or remove them.")
            }
            Movement.CONFRONTATION -> if (patient.any { it.name.startsWith("WD_") }) {
                put("markers", "Withdrawal markers on a confrontation rupture: choose Mixed, or remove them.")
            }
            else -> {}
        }
        if (form.occurredAt != null && form.occurredAt > notebook.clock.nowMillis() + FUTURE_SLACK_MILLIS) {
            put("occurredAt", "A rupture cannot be in the future.")
        }
    }

    /** Checks and saves the new rupture; returns its id. Field errors go to [RuptureFormState.errors]. */
    suspend fun save(): Result<String> {
        if (ruptureId != null) return reject(NotebookError.InvalidState("this rupture is already saved"))
        val form = _state.value.form
        val errors = validate(form)
        _state.value = _state.value.copy(errors = errors)
        if (errors.isNotEmpty()) {
            val (field, reason) = errors.entries.first()
            return reject(NotebookError.Validation(field, reason))
        }
        val rupture = NewRupture(
            clientId, form.sessionId, form.occurredAt ?: notebook.clock.nowMillis(), form.recordClass,
            form.movement!!, form.initiatedBy!!, form.markers.sortedBy { it.ordinal }, form.precipitants.sortedBy { it.ordinal },
            form.significance!!.toLong(), form.narrative, form.clientWords, form.therapistContribution,
        )
        return vault { v -> v.createRupture(rupture, notebook.settings.clinicianId) }
            .onSuccess { id ->
                ruptureId = id
                refresh()
            }
            .onFailure { e -> fieldError(e) }
    }

    private fun fieldError(e: Throwable) {
        if (e is NotebookError.Validation) _state.value = _state.value.copy(errors = _state.value.errors + (e.field to e.reason))
    }

    /** Logs the repair attempt being written; clears it on success. */
    suspend fun addRepairAttempt(sessionId: String? = null): Result<String> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        val r = _state.value.repair
        val errors = buildMap {
            if (r.strategies.isEmpty()) put("strategies", "Choose at least one repair strategy.")
            r.effect?.let { if (it !in 1..5) put("effect", "Effect is 1 to 5.") }
        }
        _state.value = _state.value.copy(errors = errors)
        if (errors.isNotEmpty()) {
            val (field, reason) = errors.entries.first()
            return reject(NotebookError.Validation(field, reason))
        }
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

    /** Moves the rupture to [status] (unaddressed → in progress → resolved, …). */
    suspend fun setStatus(status: RuptureStatus): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        return vault { v -> v.setRuptureStatus(id, status, notebook.clock.nowMillis(), notebook.settings.clinicianId) }
            .onSuccess { refresh() }
    }

    /** Re-rates a saved rupture's significance (1–5). Concurrent ratings on two devices become
     *  a conflict in the inbox rather than one silently winning. */
    suspend fun setSignificance(significance: Int): Result<Unit> {
        val id = ruptureId ?: return reject(NotebookError.InvalidState("save the rupture first"))
        if (significance !in 1..5) return reject(NotebookError.Validation("significance", "Significance is 1 to 5."))
        return vault { v -> v.setRuptureSignificance(id, significance.toLong()) }
            .onSuccess { refresh() }
            .onFailure { fieldError(it) }
    }

    private companion object {
        /** Clock skew tolerated for "in the future". */
        const val FUTURE_SLACK_MILLIS = 5 * 60 * 1000L
    }
}

private fun <T> Set<T>.toggled(item: T): Set<T> = if (item in this) this - item else this + item
