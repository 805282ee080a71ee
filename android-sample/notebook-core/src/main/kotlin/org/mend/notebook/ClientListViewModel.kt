package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.mend.model.ClientStatus
import org.mend.model.NewClient

/** One row of the client list. [alias] is null for a record that cannot be read (damaged). */
data class ClientRow(val id: String, val alias: String?, val status: ClientStatus?) {
    /** Whether the row can be opened. */
    val readable: Boolean get() = alias != null
}

/** The client list screen's state. Erased clients are not listed. */
data class ClientListState(
    val clients: List<ClientRow> = emptyList(),
    val loaded: Boolean = false,
    val showDischarged: Boolean = true,
)

/** The client list: pseudonymous clients (alias codes, no names), newest changes live. */
class ClientListViewModel(notebook: Notebook) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(ClientListState())

    /** The list. */
    val state: StateFlow<ClientListState> = _state.asStateFlow()

    override suspend fun refresh(): Result<Unit> = vault { v -> v.clients() }.map { summaries ->
        val rows = summaries.filter { !it.erased }.map { ClientRow(it.id, it.aliasCode, it.status) }
        val shown = if (_state.value.showDischarged) rows else rows.filter { it.status != ClientStatus.DISCHARGED }
        _state.value = _state.value.copy(clients = shown, loaded = true)
    }

    /** Shows or hides discharged clients. */
    suspend fun setShowDischarged(show: Boolean) {
        _state.value = _state.value.copy(showDischarged = show)
        refresh()
    }

    /**
     * Adds a client under a pseudonymous [alias] (e.g. "C-0142"; never a name) in [jurisdiction]
     * (ISO 3166-2, e.g. "US-CA"). Returns the new client's id.
     */
    suspend fun addClient(alias: String, jurisdiction: String, birthYear: Int? = null, intakeDate: String? = null): Result<String> {
        val a = alias.trim()
        if (a.isEmpty()) return reject(NotebookError.Validation("alias", "Enter an alias code."))
        if (jurisdiction.isBlank()) return reject(NotebookError.Validation("jurisdiction", "Enter a jurisdiction, e.g. US-CA."))
        return vault { v -> v.createClient(NewClient(a, birthYear?.toLong(), jurisdiction.trim(), intakeDate)) }
            .onSuccess { refresh() }
    }

    /** Changes a client's status (active, on hold, discharged…). */
    suspend fun setStatus(clientId: String, status: ClientStatus): Result<Unit> =
        vault { v -> v.setClientStatus(clientId, status) }.onSuccess { refresh() }
}
