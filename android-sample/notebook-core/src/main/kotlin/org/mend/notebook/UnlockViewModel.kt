package org.mend.notebook

import java.io.File
import java.util.Base64
import java.util.concurrent.atomic.AtomicLong
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.isActive
import kotlinx.coroutines.withContext
import org.mend.core.Vault

/** Where the unlock screen is. */
sealed interface LockState {
    /** Locked; the unlock screen shows (after the biometric or passcode prompt on Android). */
    data object Locked : LockState

    /** Opening, creating or joining the vault. */
    data object Working : LockState

    /** Unlocked; screens use [notebook]. */
    data class Unlocked(val notebook: Notebook) : LockState

    /** The last attempt failed; [error] says why (for example [NotebookError.WrongKey]). */
    data class Failed(val error: NotebookError) : LockState
}

/**
 * The unlock gate: opens the vault with the key from [keys] (creating both on first run, or
 * joining an existing vault with an invite), and locks it again after [idleTimeoutMillis] without
 * activity, measured with [clock]. Activity is what the user does: the UI reports every tap and
 * key press through [touch]. Vault calls alone (a background sync) do not keep it unlocked.
 *
 * The Android app shows a BiometricPrompt (biometric or device passcode) before [unlock]; the
 * Keystore key that wraps the vault key is usable only shortly after that authentication.
 */
class UnlockViewModel(
    private val vaultPath: String,
    private val keys: KeyVault,
    private val settings: SettingsStore,
    private val clock: Clock = SystemClock,
    /** How long without activity before the notebook locks itself. */
    val idleTimeoutMillis: Long = DEFAULT_IDLE_TIMEOUT_MILLIS,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val _state = MutableStateFlow<LockState>(LockState.Locked)

    /** The current lock state. */
    val state: StateFlow<LockState> = _state.asStateFlow()

    private val lastActivity = AtomicLong(0)

    /** Whether this device already has a notebook (else the screen offers create or join). */
    val hasVault: Boolean get() = File(vaultPath).exists()

    /** The unlocked notebook, or null. */
    val notebook: Notebook? get() = (state.value as? LockState.Unlocked)?.notebook

    /**
     * Opens the notebook with the stored key, or on first run creates a key and an empty vault.
     * A key that does not open the vault gives [NotebookError.WrongKey] and changes nothing.
     */
    suspend fun unlock(): Result<Notebook> = open { key ->
        if (File(vaultPath).exists()) Vault.open(vaultPath, key, null) else Vault.create(vaultPath, key, null)
    }

    /**
     * Joins an existing notebook from another device: [invite] is the text that device shared
     * ([InviteTicket.payload]) and [code] the one-time code read out separately.
     */
    suspend fun join(invite: String, code: String, relay: RelayConnection): Result<Notebook> {
        if (hasVault) return Result.failure(NotebookError.InvalidState("this device already has a notebook"))
        val bytes = InviteTicket.decode(invite) ?: run {
            val error = NotebookError.Invite(InviteProblem.MALFORMED)
            _state.value = LockState.Failed(error)
            return Result.failure(error)
        }
        return open(freshKey = true) { key -> relay.join(vaultPath, key, bytes, code.trim()) }
    }

    private suspend fun open(freshKey: Boolean = false, make: suspend (ByteArray) -> Vault): Result<Notebook> {
        lock()
        _state.value = LockState.Working
        val result = withContext(io) {
            runCatching {
                val key = when {
                    freshKey || (!keys.hasKey() && !File(vaultPath).exists()) -> keys.createKey()
                    else -> keys.loadKey()
                }
                try {
                    make(key)
                } finally {
                    key.fill(0)
                }
            }
        }
        return result.fold(
            onSuccess = { vault ->
                lastActivity.set(clock.nowMillis())
                val nb = Notebook(vault, settings, clock, io)
                _state.value = LockState.Unlocked(nb)
                Result.success(nb)
            },
            onFailure = { e ->
                val error = e.toNotebookError()
                _state.value = LockState.Failed(error)
                Result.failure(error)
            },
        )
    }

    /** Records user activity (a tap, a key press) so the inactivity lock waits longer. */
    fun touch() {
        lastActivity.set(clock.nowMillis())
    }

    /** Locks now: closes the vault; the next vault call of any screen fails with [NotebookError.Locked]. */
    fun lock() {
        (state.value as? LockState.Unlocked)?.notebook?.close()
        if (state.value !is LockState.Working) _state.value = LockState.Locked
    }

    /** Locks if the notebook has been idle for [idleTimeoutMillis]; returns whether it locked. */
    fun lockIfIdle(): Boolean {
        if (state.value !is LockState.Unlocked) return false
        if (clock.nowMillis() - lastActivity.get() < idleTimeoutMillis) return false
        lock()
        return true
    }

    /** Checks for inactivity every [everyMillis] until cancelled (run it while the app is visible). */
    suspend fun watchInactivity(everyMillis: Long = 15_000) {
        while (currentCoroutineContext().isActive) {
            lockIfIdle()
            delay(everyMillis)
        }
    }

    /** Defaults. */
    companion object {
        /** Five minutes, a common clinical-app default. */
        const val DEFAULT_IDLE_TIMEOUT_MILLIS: Long = 5 * 60 * 1000
    }
}

/** An invite for another device: [payload] (text, safe to send by any channel: it is encrypted)
 *  and [code] (the one-time code, to pass separately, e.g. read aloud). Expires at [expiresAt]. */
data class InviteTicket(val payload: String, val code: String, val expiresAt: Long) {
    /** Encoding of the payload. */
    companion object {
        private const val PREFIX = "mend-invite:"

        /** The shareable text for invite bytes. */
        fun encode(bytes: ByteArray): String = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes)

        /** The invite bytes in shared text, or null if it is not an invite. */
        fun decode(text: String): ByteArray? {
            val t = text.trim()
            if (!t.startsWith(PREFIX)) return null
            return try {
                Base64.getUrlDecoder().decode(t.removePrefix(PREFIX))
            } catch (_: IllegalArgumentException) {
                null
            }
        }
    }
}
