// The idiomatic Kotlin layer over the generated bindings: a Flow of changed records, and
// lambdas where the generated API takes a callback interface.
package org.mend

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import org.mend.core.SyncListener
import org.mend.core.SyncProgress
import org.mend.core.Vault
import org.mend.core.VaultObserver
import org.mend.core.isImmediateRepair
import org.mend.model.Addendum
import org.mend.model.RepairAttempt

/** Record ids that change, after local edits and after syncs, as a cold Flow. One collector
 *  at a time: collecting replaces any observer set with [Vault.setObserver]. */
fun Vault.changes(): Flow<List<String>> = callbackFlow {
    setObserver(object : VaultObserver {
        override fun recordsChanged(ids: List<String>) {
            trySend(ids)
        }
    })
    awaitClose { setObserver(null) }
}

/** A sync listener from a lambda; return false from it to cancel the sync. */
fun syncListener(onProgress: (SyncProgress) -> Boolean): SyncListener = object : SyncListener {
    override fun progress(progress: SyncProgress): Boolean = onProgress(progress)
}

/** Whether every strategy of the attempt was an immediate one (else it was exploratory). */
val RepairAttempt.immediate: Boolean get() = isImmediateRepair(this)

/** Whether the addendum is signed (a draft has no signatures yet). */
val Addendum.signed: Boolean get() = signatures.isNotEmpty()
