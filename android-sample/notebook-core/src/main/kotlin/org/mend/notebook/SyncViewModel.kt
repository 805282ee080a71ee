package org.mend.notebook

import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.mend.core.SyncProgress
import org.mend.core.SyncReport

/** Where the sync screen is. */
sealed interface SyncPhase {
    /** No sync since unlock. */
    data object Idle : SyncPhase

    /** Syncing; [fraction] is 0–1 once the amount of work is known. */
    data class Running(val progress: SyncProgress?, val fraction: Float?) : SyncPhase

    /** The last sync finished (or was cancelled: [SyncReport.cancelled]). */
    data class Done(val report: SyncReport, val at: Long) : SyncPhase

    /** The last sync failed; local work is safe and the next sync retries. */
    data class Failed(val error: NotebookError, val at: Long) : SyncPhase
}

/** The sync status screen's state. */
data class SyncState(
    val phase: SyncPhase = SyncPhase.Idle,
    /** Local changes not yet pushed. */
    val pendingChanges: Long = 0,
    /** When a sync last completed. */
    val lastSuccessAt: Long? = null,
    /** The relay used, for display; null when sync is off. */
    val relay: String? = null,
    /** The last progress report of the last sync (kept after it ends). */
    val lastProgress: SyncProgress? = null,
)

/** Sync status with progress: runs a sync now, shows its progress and result, and how many
 *  local changes wait to be pushed. */
class SyncViewModel(notebook: Notebook, private val service: SyncService) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(SyncState())

    /** The status. */
    val state: StateFlow<SyncState> = _state.asStateFlow()

    private val cancelRequested = AtomicBoolean(false)

    override fun concerns(ids: List<String>): Boolean = _state.value.phase !is SyncPhase.Running

    override suspend fun refresh(): Result<Unit> = service.pendingChanges()
        .map { pending ->
            _state.update { it.copy(pendingChanges = pending, relay = notebook.settings.relayAddress?.url) }
        }

    /** Syncs now, publishing progress; returns the report. */
    suspend fun syncNow(): Result<SyncReport> {
        cancelRequested.set(false)
        _state.update { it.copy(phase = SyncPhase.Running(null, null), relay = notebook.settings.relayAddress?.url, lastProgress = null) }
        val result = service.sync { p ->
            _state.update { it.copy(phase = SyncPhase.Running(p, fraction(p)), lastProgress = p) }
            !cancelRequested.get()
        }
        val now = notebook.clock.nowMillis()
        result.fold(
            onSuccess = { r -> _state.update { it.copy(phase = SyncPhase.Done(r, now), lastSuccessAt = if (r.cancelled) it.lastSuccessAt else now) } },
            onFailure = { e -> _state.update { it.copy(phase = SyncPhase.Failed(e.toNotebookError(), now)) } },
        )
        refresh()
        return result.onFailure { reject<Unit>(it.toNotebookError()) }
    }

    /** Asks the running sync to stop at its next step. */
    fun cancel() {
        cancelRequested.set(true)
    }

    /** Progress formulas. */
    companion object {
        /** Work done over work known: bundles pushed of those to push, plus pulled of pulled and
         *  remaining. Null before anything is known. */
        fun fraction(p: SyncProgress): Float? {
            val total = p.toPush + p.pulled + p.remaining
            if (total == 0uL) return null
            return ((p.pushed + p.pulled).toDouble() / total.toDouble()).toFloat().coerceIn(0f, 1f)
        }
    }
}
