// The idiomatic Kotlin layer over the generated bindings: Flows of changed records, of the lists
// an app shows and of the sync status, each collector with its own observer; lambdas where the
// generated API takes a callback interface; and which errors are worth a retry.
//
// What can block — create or open with a passphrase, join, sync, register, export an invite —
// is a `suspend fun` in the generated API itself: it runs on a Mend worker thread and never
// blocks the caller, the main thread included. Cancelling the calling coroutine's Job stops a
// sync at its next safe point and cancels the app's HTTP call in flight (`HttpSender.send`).
package org.mend

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.map
import org.mend.core.ClientSummary
import org.mend.core.Conflict
import org.mend.core.MendException
import org.mend.core.SyncListener
import org.mend.core.SyncProgress
import org.mend.core.SyncStatus
import org.mend.core.SyncStatusObserver
import org.mend.core.TimelineEntry
import org.mend.core.Vault
import org.mend.core.VaultObserver
import org.mend.core.isImmediateRepair
import org.mend.model.Addendum
import org.mend.model.RepairAttempt

/** Record ids that change, after local edits and after syncs, as a cold Flow. Any number of
 *  collectors: each registers its own observer, removed when its collection ends. */
fun Vault.changes(): Flow<List<String>> = callbackFlow {
    val token = observe(object : VaultObserver {
        override fun recordsChanged(ids: List<String>) {
            trySend(ids)
        }
    })
    awaitClose { token.cancel(); token.close() }
}.buffer(Channel.UNLIMITED) // a slow collector gets every id, late, never fewer

/** A signal now and after every change, with the observer registered before the first one. */
private fun Vault.changeSignals(): Flow<Unit> = callbackFlow {
    val token = observe(object : VaultObserver {
        override fun recordsChanged(ids: List<String>) {
            trySend(Unit)
        }
    })
    send(Unit)
    awaitClose { token.cancel(); token.close() }
}.conflate()

/** The value of [query] now, and again after every change to the vault (local edits and syncs),
 *  skipping repeats; the query runs on [Dispatchers.IO]. Bursts of changes are conflated: a
 *  slow collector sees the latest value, never a stale one. */
fun <T> Vault.watch(query: Vault.() -> T): Flow<T> =
    changeSignals()
        .map { query() }
        .flowOn(Dispatchers.IO)
        .distinctUntilChanged()

/** The client list, kept current. */
fun Vault.watchClients(): Flow<List<ClientSummary>> = watch { clients() }

/** One client's timeline (sessions, notes, ruptures, measures), kept current. */
fun Vault.watchTimeline(clientId: String): Flow<List<TimelineEntry>> = watch { timeline(clientId) }

/** The open merge conflicts, kept current (they appear after syncs). */
fun Vault.watchConflicts(): Flow<List<Conflict>> = watch { conflicts() }

/** The sync status for a status bar: the current one first, then each change (syncing with
 *  progress, idle, offline, failed; and when a sync last completed), never an older one after a
 *  newer (by [SyncStatus.version]). A collector slower than the sync sees the latest 64.
 *  Any number of collectors. */
fun Vault.syncStatusFlow(): Flow<SyncStatus> = callbackFlow {
    val token = observeSyncStatus(object : SyncStatusObserver {
        override fun syncStatusChanged(status: SyncStatus) {
            trySend(status)
        }
    })
    send(syncStatus())
    awaitClose { token.cancel(); token.close() }
}.buffer(64, BufferOverflow.DROP_OLDEST).newerOnly()

private fun Flow<SyncStatus>.newerOnly(): Flow<SyncStatus> = flow {
    var shown: ULong? = null
    collect { s ->
        if (shown == null || s.version > shown!!) {
            shown = s.version
            emit(s)
        }
    }
}

/** Whether retrying the same call later may succeed: no network, a relay that timed out or was
 *  overloaded. Every other error needs something else first (a new token, the user, a fix). */
val MendException.retryable: Boolean get() = this is MendException.Transport

/** A sync listener from a lambda; return false from it to cancel the sync. */
fun syncListener(onProgress: (SyncProgress) -> Boolean): SyncListener = object : SyncListener {
    override fun progress(progress: SyncProgress): Boolean = onProgress(progress)
}

/** Whether every strategy of the attempt was an immediate one (else it was exploratory). */
val RepairAttempt.immediate: Boolean get() = isImmediateRepair(this)

/** Whether the addendum is signed (a draft has no signatures yet). */
val Addendum.signed: Boolean get() = signatures.isNotEmpty()
