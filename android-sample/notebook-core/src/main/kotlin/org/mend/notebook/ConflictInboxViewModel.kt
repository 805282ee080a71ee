package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.core.Conflict
import org.mend.model.ConflictValue
import org.mend.model.ConflictChoice as TypedChoice
import org.mend.core.RecordKind

/** One competing value, labelled for the screen; [device] is "This device", the writing
 *  device's name, or a short id; [typed] is what resolving with it passes to Mend. */
data class ConflictChoice(val value: String, val label: String, val device: String, val at: Long?, val typed: TypedChoice? = null)

/** One conflict as the inbox lists it: which record ([subject], of [recordKind], belonging to
 *  [clientId]), which field, and the values. */
data class ConflictRow(
    val recordId: String,
    val recordKind: RecordKind,
    val clientId: String,
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
 * until the clinician picks one here; the choice syncs to the other devices. Each conflict says
 * which kind of record it is on and whose, so rows are named by kind and the client's alias code
 * (one read of the client list) without opening the records or showing clinical text; each value
 * names the device that wrote it (one read of the device registry).
 */
class ConflictInboxViewModel(notebook: Notebook) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(ConflictInboxState())

    /** The inbox. */
    val state: StateFlow<ConflictInboxState> = _state.asStateFlow()

    override suspend fun refresh(): Result<Unit> = vault { v ->
        val conflicts = v.conflicts()
        val aliases = if (conflicts.isEmpty()) emptyMap() else v.clients().filter { !it.erased }.mapNotNull { s -> s.aliasCode?.let { s.id to it } }.toMap()
        val devices = if (conflicts.isEmpty()) emptyMap() else v.devices().mapNotNull { d -> d.name?.let { d.id to it } }.toMap()
        conflicts.map { row(it, aliases, devices) }.sortedWith(compareBy({ it.subject }, { it.field }))
    }.map { _state.value = ConflictInboxState(it, loaded = true) }

    /** Settles a conflict with [value], one of the row's choices. */
    suspend fun resolve(row: ConflictRow, value: String): Result<Unit> {
        val choice = row.choices.firstOrNull { it.value == value }
            ?: return reject(NotebookError.Validation(row.field, "Choose one of the listed values."))
        val typed = choice.typed
            ?: return reject(NotebookError.Validation(row.field, "This value cannot be chosen (it is not valid for the field)."))
        return vault { v -> v.resolveConflictWith(row.recordId, typed) }.onSuccess { refresh() }
    }

    private fun row(c: Conflict, aliases: Map<String, String>, devices: Map<String, String>): ConflictRow {
        val me = notebook.deviceId
        val choices = c.values
            .sortedWith(compareBy<ConflictValue> { it.at ?: Long.MAX_VALUE }.thenBy { it.value })
            .map { ConflictChoice(it.value, Labels.words(it.value), Labels.device(it.deviceId, me, devices), it.at, it.choice) }
        return ConflictRow(c.recordId, c.recordKind, c.clientId, c.field, subject(c, aliases), Labels.section(c.field), choices)
    }

    /** "Rupture · C-0701", "Client C-0701"…: the record's kind and its client's alias code. */
    private fun subject(c: Conflict, aliases: Map<String, String>): String {
        val alias = aliases[c.clientId] ?: "unknown client"
        return when (c.recordKind) {
            RecordKind.CLIENT -> "Client $alias"
            RecordKind.REGISTRY -> "Devices"
            else -> "${Labels.words(c.recordKind.name)} · $alias"
        }
    }
}
