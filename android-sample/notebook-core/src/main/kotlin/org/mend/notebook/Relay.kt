package org.mend.notebook

import java.io.IOException
import java.net.HttpURLConnection
import java.net.URI
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withContext
import org.mend.core.HttpHeader
import org.mend.core.HttpResponse
import org.mend.core.HttpSender
import org.mend.core.InMemoryRelay
import org.mend.core.MendException
import org.mend.core.SyncListener
import org.mend.core.SyncReport
import org.mend.core.Vault
import org.mend.core.allowCleartextRelayHost

/** How a notebook reaches its relay: the two calls that need one. The app uses [HttpRelay];
 *  tests and demos use [InMemoryRelayConnection]. Both suspend without blocking the caller's
 *  thread (Mend runs them on its own worker); cancelling the caller stops them. */
interface RelayConnection {
    /** Pushes local changes and pulls others', reporting progress to [listener]. */
    suspend fun sync(vault: Vault, listener: SyncListener?): SyncReport

    /** Creates the vault file at [path] under [key] by joining with an invite and its code. */
    suspend fun join(path: String, key: ByteArray, invite: ByteArray, code: String): Vault
}

/** An in-process relay shared by several vaults (tests, demos, previews). */
class InMemoryRelayConnection(private val relay: InMemoryRelay) : RelayConnection {
    override suspend fun sync(vault: Vault, listener: SyncListener?): SyncReport = vault.syncInMemory(relay, listener)

    override suspend fun join(path: String, key: ByteArray, invite: ByteArray, code: String): Vault =
        Vault.joinInMemory(path, key, invite, code, relay)
}

/** A `mend-relay` at [address], reached through [sender] (the app's HTTP stack). Mend builds and
 *  signs every request; the sender only carries bytes.
 *
 *  A clinic's relay registers a new notebook only with a [registrationToken] from its operator
 *  (one per practice, good for one notebook): the first sync registers with it, later syncs send
 *  nothing more for it. Without one, such a relay answers [NotebookError.RelayRefused] with
 *  `REGISTRATION_REQUIRED`. A solo therapist's relay in open registration needs none, and a
 *  device that joined with an invite never does (its notebook is registered already). */
class HttpRelay(
    val address: RelayAddress,
    private val sender: HttpSender = UrlConnectionHttpSender(),
    private val registrationToken: String? = null,
) : RelayConnection {
    init {
        // RelayAddress lets plain http to the emulator's alias of the computer's loopback
        // through only when asked (debug builds); Mend itself refuses http:// off loopback
        // unless the app allows the host.
        if (address.url.startsWith("http://${RelayAddress.EMULATOR_HOST}")) allowCleartextRelayHost(RelayAddress.EMULATOR_HOST)
    }

    override suspend fun sync(vault: Vault, listener: SyncListener?): SyncReport {
        // Registers once; after it succeeded the vault remembers and this sends nothing.
        registrationToken?.takeIf { it.isNotBlank() }?.let { vault.registerHttp(address.url, it.trim(), sender) }
        return vault.syncHttp(address.url, sender, listener)
    }

    override suspend fun join(path: String, key: ByteArray, invite: ByteArray, code: String): Vault =
        Vault.joinHttp(path, key, invite, code, address.url, sender)
}

/** An [HttpSender] over `java.net.HttpURLConnection`, available on the JVM and on Android
 *  without extra dependencies. Failures to connect become `MendException.Transport` (retryable);
 *  any HTTP status, including 4xx and 5xx, is returned for Mend to interpret. The blocking
 *  connection runs on [Dispatchers.IO] and is torn down when Mend cancels the call (a cancelled
 *  sync); an app with OkHttp would suspend on its `Call` instead. */
class UrlConnectionHttpSender(
    private val connectTimeoutMillis: Int = 15_000,
    private val readTimeoutMillis: Int = 60_000,
) : HttpSender {
    override suspend fun send(method: String, url: String, headers: List<HttpHeader>, body: ByteArray): HttpResponse =
        withContext(Dispatchers.IO) { runInterruptible { sendBlocking(method, url, headers, body) } }

    private fun sendBlocking(method: String, url: String, headers: List<HttpHeader>, body: ByteArray): HttpResponse {
        try {
            val connection = URI(url).toURL().openConnection() as HttpURLConnection
            try {
                connection.requestMethod = method
                connection.connectTimeout = connectTimeoutMillis
                connection.readTimeout = readTimeoutMillis
                connection.instanceFollowRedirects = false
                connection.useCaches = false
                headers.forEach { connection.setRequestProperty(it.name, it.value) }
                if (body.isNotEmpty() || method == "POST" || method == "PUT") {
                    connection.doOutput = true
                    connection.setFixedLengthStreamingMode(body.size)
                    connection.outputStream.use { it.write(body) }
                }
                val status = connection.responseCode
                val stream = if (status >= 400) connection.errorStream else connection.inputStream
                val bytes = stream?.use { it.readBytes() } ?: ByteArray(0)
                return HttpResponse(status.toUShort(), bytes)
            } finally {
                connection.disconnect()
            }
        } catch (e: IOException) {
            // The exception's text names the host or the socket error, never a request body.
            throw MendException.Transport("${e::class.simpleName}: ${e.message ?: "I/O error"}")
        } catch (e: IllegalArgumentException) {
            throw MendException.Transport("bad URL")
        }
    }
}
