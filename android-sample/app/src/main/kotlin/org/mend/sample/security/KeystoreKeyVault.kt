package org.mend.sample.security

import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.UserNotAuthenticatedException
import android.util.AtomicFile
import java.io.File
import java.security.GeneralSecurityException
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.mend.notebook.KeyUnavailableException
import org.mend.notebook.KeyVault
import org.mend.notebook.VAULT_KEY_BYTES

/**
 * The vault key, wrapped by the Android Keystore.
 *
 * A 256-bit AES-GCM key is generated inside the AndroidKeyStore (never exportable, hardware-backed
 * where the device has it) and can be used only within [authWindowSeconds] after the user passed
 * a biometric or device-credential check (the unlock screen's BiometricPrompt). It encrypts the
 * random 32-byte vault key; the result is stored in app-private storage as
 * `version(1) ‖ iv(12) ‖ ciphertext+tag(48)`. The vault key itself is never stored in clear and
 * never logged.
 */
class KeystoreKeyVault(
    private val file: File,
    private val alias: String = "mend-vault-key-wrap",
    private val authWindowSeconds: Int = 30,
) : KeyVault {
    private val blob = AtomicFile(file)
    private val random = SecureRandom()

    override fun hasKey(): Boolean = file.exists() && keyStore().containsAlias(alias)

    override fun createKey(): ByteArray {
        val vaultKey = ByteArray(VAULT_KEY_BYTES).also(random::nextBytes)
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, newWrappingKey())
            val sealed = cipher.doFinal(vaultKey)
            val out = blob.startWrite()
            try {
                out.write(VERSION.toInt())
                out.write(cipher.iv)
                out.write(sealed)
                blob.finishWrite(out)
            } catch (e: Exception) {
                blob.failWrite(out)
                throw e
            }
            return vaultKey
        } catch (e: UserNotAuthenticatedException) {
            vaultKey.fill(0)
            throw KeyUnavailableException("authenticate to create the notebook key", e)
        } catch (e: GeneralSecurityException) {
            vaultKey.fill(0)
            throw KeyUnavailableException("the key store refused to create the key (${e::class.simpleName})", e)
        }
    }

    override fun loadKey(): ByteArray {
        if (!file.exists()) throw KeyUnavailableException("no notebook key on this device")
        val bytes = blob.readFully()
        if (bytes.size != 1 + IV_BYTES + VAULT_KEY_BYTES + TAG_BYTES || bytes[0] != VERSION) {
            throw KeyUnavailableException("the stored notebook key has an unknown format")
        }
        val wrapping = keyStore().getKey(alias, null) as? SecretKey
            ?: throw KeyUnavailableException("the key store no longer has the wrapping key")
        return try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, wrapping, GCMParameterSpec(TAG_BYTES * 8, bytes, 1, IV_BYTES))
            cipher.doFinal(bytes, 1 + IV_BYTES, bytes.size - 1 - IV_BYTES)
        } catch (e: UserNotAuthenticatedException) {
            throw KeyUnavailableException("authenticate first", e)
        } catch (e: KeyPermanentlyInvalidatedException) {
            // A new fingerprint or a removed screen lock invalidates the key: the notebook on this
            // device can only be restored by joining again from another device.
            throw KeyUnavailableException("the device's screen lock or biometrics changed", e)
        } catch (e: GeneralSecurityException) {
            throw KeyUnavailableException("the key store could not unwrap the key (${e::class.simpleName})", e)
        } finally {
            bytes.fill(0)
        }
    }

    override fun deleteKey() {
        blob.delete()
        keyStore().deleteEntry(alias)
    }

    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private fun newWrappingKey(): SecretKey {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setUserAuthenticationRequired(true)
            .setInvalidatedByBiometricEnrollment(true)
            .apply {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                    setUserAuthenticationParameters(
                        authWindowSeconds,
                        KeyProperties.AUTH_BIOMETRIC_STRONG or KeyProperties.AUTH_DEVICE_CREDENTIAL,
                    )
                } else {
                    @Suppress("DEPRECATION")
                    setUserAuthenticationValidityDurationSeconds(authWindowSeconds)
                }
            }
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        generator.init(spec)
        return generator.generateKey()
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val VERSION: Byte = 1
        const val IV_BYTES = 12
        const val TAG_BYTES = 16
    }
}
