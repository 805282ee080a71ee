package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.core.Conflict
import org.mend.core.MendException
import org.mend.core.Vault

/** One competing value, labelled for the screen. */
data class ConflictChoice(val value: String, val label: String, val device: String, val at: Long?)

/** One conflict as the inbox lists it: which record ([subject]), which field, and the values. */
data class ConflictRow(
    val recordId: String,
    val field: String,
    val subject: String,
    val fieldLabel: String,
    val choices: List<ConflictChoice>,
)

/** The inbox's state. */
data class ConflictInboxState(val conflicts: List<ConflictRow> = emptyList(), val loaded: Boolean = false)

/**
 * The conflict inbox: clinically meaningful values (a rupture's significance, a client's status…)
 * that two devices changed concurrently. Mend keeps every value with the device that wrote it
 * until the clinician picks one here; the choice syncs to the other devices.
 */
class ConflictInboxViewModel(notebook: Notebook) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(ConflictInboxState())

    /** The inbox. */
    val state: StateFlow<ConflictInboxState> = _state.asStateFlow()

    override suspend fun refresh(): Result<Unit> = vault { v ->
        v.conflicts().map { row(v, it) }.sortedWith(compareBy({ it.subject }, { it.field }))
    }.map { _state.value = ConflictInboxState(it, loaded = true) }

    /** Settles a conflict with [value], one of the row's choices. */
    suspend fun resolve(row: ConflictRow, value: String): Result<Unit> {
        if (row.choices.none { it.value == value }) {
            return reject(NotebookError.Validation(row.field, "Choose one of the listed values."))
        }
        return vault { v -> v.resolveConflict(row.recordId, row.field, value) }.onSuccess { refresh() }
    }

    private fun row(v: Vault, c: Conflict): ConflictRow {
        val me = notebook.deviceId
        val choices = c.values
            .sortedWith(compareBy<org.mend.core.ConflictValue> { it.at ?: Long.MAX_VALUE }.thenBy { it.value })
            .map { ConflictChoice(it.value, Labels.words(it.value), Labels.device(it.deviceId, me), it.at) }
        return ConflictRow(c.recordId, c.field, subject(v, c.recordId), Labels.section(c.field), choices)
    }

    /**
     * Names the record without showing clinical text: the client's alias code, and what kind of
     * record it is. A Conflict does not carry its record's kind, so the kinds are tried in turn
     * (asking for a record as the wrong kind fails without side effects).
     */
    private fun subject(v: Vault, id: String): String {
        fun alias(clientId: String) = attempt { v.client(clientId).aliasCode } ?: "unknown client"
        attempt { v.client(id).aliasCode }?.let { return "Client $it" }
        attempt { v.rupture(id) }?.let { return "Rupture · ${alias(it.clientId)}" }
        attempt { v.note(id) }?.let { return "Note · ${alias(it.clientId)}" }
        return "Record ${id.take(8)}"
    }

    private inline fun <T> attempt(block: () -> T): T? = try {
        block()
    } catch (_: MendException) {
        null
    }
}
