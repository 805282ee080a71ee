package org.mend.notebook

import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.mend.core.SyncProgress
import org.mend.core.SyncReport
import org.mend.syncListener

/**
 * Runs syncs for a notebook, one at a time, over the relay that [relay] returns (from the
 * Settings address; null means sync is off). The sync screen and the WorkManager worker share
 * one instance so a background sync and a tap on "Sync now" never overlap.
 */
class SyncService(
    private val notebook: Notebook,
    private val relay: () -> RelayConnection?,
) {
    private val running = Mutex()

    /** Whether a sync is running. */
    val isRunning: Boolean get() = running.isLocked

    /**
     * Syncs once. [onProgress] hears the counts as they change; returning false cancels (the
     * next sync resumes where this one stopped). Fails with [NotebookError.NoRelay] when no relay
     * is set, and [NotebookError.Transport] when it cannot be reached.
     */
    suspend fun sync(onProgress: (SyncProgress) -> Boolean = { true }): Result<SyncReport> = running.withLock {
        val connection = relay() ?: return@withLock Result.failure(NotebookError.NoRelay())
        notebook.call { v -> connection.sync(v, syncListener(onProgress)) }.onSuccess { report ->
            // The relay knows the notebook now: a registration token has done its work, so it
            // is not kept (it is spent, and it need not sit in the preferences or their backups).
            if (!report.cancelled && notebook.settings.registrationToken != null) notebook.settings.registrationToken = null
        }
    }

    /** Local changes saved but not yet pushed. */
    suspend fun pendingChanges(): Result<Long> = notebook.call { v -> v.pendingChanges().toLong() }
}
