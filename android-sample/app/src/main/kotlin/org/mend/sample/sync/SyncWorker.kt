package org.mend.sample.sync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import androidx.work.workDataOf
import java.util.concurrent.TimeUnit
import org.mend.notebook.NotebookError
import org.mend.sample.MendApp

/**
 * Background sync with WorkManager: every 15 minutes (the platform minimum) on a network, and
 * once on demand. It syncs only while the notebook is unlocked in this process: the vault key is
 * wrapped by a Keystore key that needs a recent biometric or passcode check, so a locked notebook
 * stays locked (the next sync after unlock catches up). Transport failures retry with backoff;
 * nothing about the records is logged or put in the output data, only counts.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val app = applicationContext as MendApp
        val service = app.syncService() ?: return Result.success(workDataOf(KEY_SKIPPED to true))
        return service.sync().fold(
            onSuccess = { report -> Result.success(workDataOf(KEY_PUSHED to report.pushed.toLong(), KEY_PULLED to report.pulled.toLong())) },
            onFailure = { e ->
                when (e) {
                    is NotebookError.Transport -> Result.retry()
                    is NotebookError.NoRelay, is NotebookError.Locked -> Result.success(workDataOf(KEY_SKIPPED to true))
                    else -> Result.failure()
                }
            },
        )
    }

    /** Scheduling. */
    companion object {
        private const val PERIODIC = "mend-sync-periodic"
        private const val NOW = "mend-sync-now"
        const val KEY_PUSHED = "pushed"
        const val KEY_PULLED = "pulled"
        const val KEY_SKIPPED = "skipped"

        private val constraints = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Schedules the periodic sync (kept if already scheduled). */
        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
                .setConstraints(constraints)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** Runs one sync soon (after edits, or when the app returns to the foreground). */
        fun syncSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(constraints)
                .setInitialDelay(5, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(NOW, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
