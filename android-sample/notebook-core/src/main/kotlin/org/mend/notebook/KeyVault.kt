package org.mend.notebook

import java.security.SecureRandom

/** Where the 32-byte vault key lives between launches. On Android it is wrapped by a key in the
 *  Android Keystore (the app module's `KeystoreKeyVault`); tests use [InMemoryKeyVault].
 *  Implementations never log or put the key in an exception. Callers wipe the arrays they get. */
interface KeyVault {
    /** Whether a vault key has been stored. */
    fun hasKey(): Boolean

    /** Generates a fresh random vault key, stores it (replacing any earlier one) and returns a copy. */
    fun createKey(): ByteArray

    /** The stored vault key. Throws [KeyUnavailableException] when there is none or the platform
     *  refuses to unwrap it (for example, the user has not authenticated recently). */
    fun loadKey(): ByteArray

    /** Forgets the stored key; a vault it opened can no longer be opened on this device. */
    fun deleteKey()
}

/** The key store could not hand out the vault key. [reason] never contains key material. */
class KeyUnavailableException(val reason: String, cause: Throwable? = null) : Exception(reason, cause)

/** The size of a vault key, in bytes. */
const val VAULT_KEY_BYTES = 32

/** A [KeyVault] in memory, for tests and previews. */
class InMemoryKeyVault(key: ByteArray? = null) : KeyVault {
    private var key: ByteArray? = key?.copyOf()
    private val random = SecureRandom()

    @Synchronized override fun hasKey(): Boolean = key != null

    @Synchronized override fun createKey(): ByteArray {
        val fresh = ByteArray(VAULT_KEY_BYTES).also(random::nextBytes)
        key?.fill(0)
        key = fresh
        return fresh.copyOf()
    }

    @Synchronized override fun loadKey(): ByteArray =
        key?.copyOf() ?: throw KeyUnavailableException("no vault key is stored on this device")

    @Synchronized override fun deleteKey() {
        key?.fill(0)
        key = null
    }
}
