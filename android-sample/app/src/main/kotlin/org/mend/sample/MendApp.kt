package org.mend.sample

import android.app.Application
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import java.io.File
import org.mend.notebook.HttpRelay
import org.mend.notebook.LockState
import org.mend.notebook.Notebook
import org.mend.notebook.RelayConnection
import org.mend.notebook.SyncService
import org.mend.notebook.UnlockViewModel
import org.mend.sample.data.PrefsSettingsStore
import org.mend.sample.security.KeystoreKeyVault
import org.mend.sample.sync.SyncWorker

/**
 * The app's object graph, made once per process and passed down (no other singletons): the
 * unlock gate over the vault file and its Keystore-wrapped key, the settings, and one
 * [SyncService] per unlocked notebook, shared by the sync screen and the background worker.
 */
class MendApp : Application() {
    lateinit var settings: PrefsSettingsStore
        private set

    /** The unlock gate; every screen reads the unlocked notebook from its state. */
    lateinit var gate: UnlockViewModel
        private set

    private var syncFor: Pair<Notebook, SyncService>? = null

    override fun onCreate() {
        super.onCreate()
        settings = PrefsSettingsStore(this)
        gate = UnlockViewModel(
            vaultPath = File(noBackupFilesDir, "notebook.mend").path,
            keys = KeystoreKeyVault(File(noBackupFilesDir, "notebook.key")),
            settings = settings,
        )
        // Lock when the app has been in the background for the idle timeout; the foreground
        // check happens on return, and a ticker (MainActivity) covers an idle foreground.
        ProcessLifecycleOwner.get().lifecycle.addObserver(object : DefaultLifecycleObserver {
            override fun onStart(owner: LifecycleOwner) {
                gate.lockIfIdle()
            }
        })
        SyncWorker.schedule(this)
    }

    /** The relay from Settings, or null when sync is off. */
    fun relay(): RelayConnection? = settings.relayAddress?.let { HttpRelay(it, registrationToken = settings.registrationToken) }

    /** The sync service of the unlocked notebook, or null while locked. */
    @Synchronized
    fun syncService(): SyncService? {
        val nb = (gate.state.value as? LockState.Unlocked)?.notebook ?: return null
        syncFor?.let { (owner, service) -> if (owner === nb) return service }
        return SyncService(nb, ::relay).also { syncFor = nb to it }
    }
}
