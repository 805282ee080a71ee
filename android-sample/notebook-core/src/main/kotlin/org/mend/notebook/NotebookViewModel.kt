package org.mend.notebook

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.mend.core.Vault

/**
 * What every screen's view model shares: the [Notebook] it works on and the last error, as a
 * StateFlow a screen shows in a snackbar. Actions are `suspend` and return a [Result] whose
 * failure is always a [NotebookError]; the Android wrappers launch them in `viewModelScope`.
 */
abstract class NotebookViewModel(protected val notebook: Notebook) {
    private val _error = MutableStateFlow<NotebookError?>(null)

    /** The last error not yet dismissed. */
    val error: StateFlow<NotebookError?> = _error.asStateFlow()

    /** Hides the current error. */
    fun dismissError() {
        _error.value = null
    }

    /** Runs a vault call, publishing its error (if any) to [error]. */
    protected suspend fun <T> vault(block: suspend (Vault) -> T): Result<T> =
        notebook.call(block).onFailure { _error.value = it.toNotebookError() }

    /** Publishes an error found before calling the vault (local validation). */
    protected fun <T> reject(error: NotebookError): Result<T> {
        _error.value = error
        return Result.failure(error)
    }

    /** Reloads the screen's state from the vault. */
    abstract suspend fun refresh(): Result<Unit>

    /** Whether a change to these record ids concerns this screen (default: any change). */
    protected open fun concerns(ids: List<String>): Boolean = true

    /** Refreshes whenever [Notebook.changes] reports a record this screen shows, until [scope]
     *  ends (an Android ViewModel passes its viewModelScope). */
    fun observeChanges(scope: CoroutineScope): Job = scope.launch {
        notebook.changes.collect { ids -> if (concerns(ids)) refresh() }
    }
}
