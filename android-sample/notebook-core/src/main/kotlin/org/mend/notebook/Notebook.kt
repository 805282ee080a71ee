package org.mend.notebook

import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.shareIn
import kotlinx.coroutines.withContext
import org.mend.changes
import org.mend.core.Vault

/**
 * An unlocked notebook: the open [Vault], the settings, the clock and the dispatcher that every
 * view model goes through. It exists only between unlock and lock; after [close] every call fails
 * with [NotebookError.Locked] and the vault is closed, so no key stays in memory.
 *
 * All vault calls block (SQLite, crypto); [call] moves them to [io]. Vault calls do not count
 * as user activity for the inactivity lock (a background sync, or a screen refreshing after one,
 * must not keep an unattended notebook open); the UI reports input with [UnlockViewModel.touch].
 */
class Notebook internal constructor(
    private val vault: Vault,
    /** Relay address and signer identity. */
    val settings: SettingsStore,
    /** The clock used for record times and the inactivity lock. */
    val clock: Clock,
    /** Where blocking vault calls run. */
    val io: CoroutineDispatcher,
) : AutoCloseable {
    private val closed = AtomicBoolean(false)
    private val scope = CoroutineScope(SupervisorJob() + io)

    /** Ids of records that changed (local edits and syncs), shared by every screen (the vault
     *  takes any number of observers; sharing one keeps a single callback for the app). */
    val changes: SharedFlow<List<String>> = vault.changes().shareIn(scope, SharingStarted.WhileSubscribed())

    /** This device's id in the vault. */
    val deviceId: String by lazy { vault.deviceId() }

    /** Whether [close] was called. */
    val isClosed: Boolean get() = closed.get()

    /**
     * Runs [block] with the vault on [io]. Mend's typed errors become
     * [NotebookError]s in the returned [Result]; nothing else is caught. Mend's own long calls
     * (sync, join, invites) are `suspend` and leave [io]'s thread free while they run.
     */
    suspend fun <T> call(block: suspend (Vault) -> T): Result<T> = withContext(io) { guarded { block(vault) } }

    /** [call] for code that is already on a background thread and calls no `suspend` API. */
    fun <T> callBlocking(block: (Vault) -> T): Result<T> = guarded { block(vault) }

    private inline fun <T> guarded(block: () -> T): Result<T> {
        if (closed.get()) return Result.failure(NotebookError.Locked())
        return try {
            Result.success(block())
        } catch (e: IllegalStateException) {
            // The generated bindings throw this when the vault was closed under a running call.
            if (closed.get()) Result.failure(NotebookError.Locked()) else throw e
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            Result.failure(e.toNotebookError())
        }
    }

    /** Closes the vault; later calls fail with [NotebookError.Locked]. */
    override fun close() {
        if (closed.compareAndSet(false, true)) {
            scope.cancel()
            vault.close()
        }
    }
}
