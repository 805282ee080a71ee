// Relay-address validation, the clinician's name, and the HTTP sender that carries Mend's
// signed requests (against a JDK HTTP server on loopback).
package org.mend.notebook

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import org.mend.core.HttpHeader
import org.mend.core.MendException

class SettingsAndRelayTest {
    @TempDir
    lateinit var dir: Path

    private fun problem(text: String) = failureOf<NotebookError.Validation>(RelayAddress.parse(text)).reason

    @Test
    fun relayAddressesAreCheckedAndNormalised() {
        assertEquals("https://relay.example.org", RelayAddress.parse(" https://Relay.Example.org/ ").getOrThrow().url)
        assertEquals("https://relay.example.org:8443/mend", RelayAddress.parse("https://relay.example.org:8443/mend/").getOrThrow().url)
        assertEquals("http://127.0.0.1:8080", RelayAddress.parse("http://127.0.0.1:8080").getOrThrow().url)
        // The emulator's host only when the app allows it (a debug build); in a release build
        // it is an address on the phone's network like any other, so it needs TLS.
        assertEquals(RelayAddressProblem.INSECURE.message, problem("http://10.0.2.2:8080"))
        assertEquals("http://10.0.2.2:8080", RelayAddress.parse("http://10.0.2.2:8080", emulatorHost = true).getOrThrow().url)
        assertEquals("https://10.0.2.2:8443", RelayAddress.parse("https://10.0.2.2:8443").getOrThrow().url)

        assertEquals(RelayAddressProblem.BLANK.message, problem("   "))
        assertEquals(RelayAddressProblem.NOT_A_URL.message, problem("relay example org"))
        assertEquals(RelayAddressProblem.NOT_A_URL.message, problem("relay.example.org"))
        assertEquals(RelayAddressProblem.UNSUPPORTED_SCHEME.message, problem("ftp://relay.example.org"))
        assertEquals(RelayAddressProblem.INSECURE.message, problem("http://relay.example.org"))
        assertEquals(RelayAddressProblem.CREDENTIALS.message, problem("https://user:pw@relay.example.org"))
        assertEquals(RelayAddressProblem.QUERY_OR_FRAGMENT.message, problem("https://relay.example.org/?token=1"))
        assertEquals(RelayAddressProblem.MISSING_HOST.message, problem("https:///path"))
    }

    @Test
    fun settingsSaveOnlyValidAddresses() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val settings = SettingsViewModel(nb, SyncService(nb) { null })
        settings.saveRelayAddress("https://relay.example.org/").getOrThrow()
        assertEquals("https://relay.example.org", device.settings.relayAddress?.url)
        assertNull(settings.state.value.relayError)

        failureOf<NotebookError.Validation>(settings.saveRelayAddress("http://relay.example.org"))
        assertEquals(RelayAddressProblem.INSECURE.message, settings.state.value.relayError)
        assertEquals("https://relay.example.org", device.settings.relayAddress?.url, "a bad address does not replace a good one")
        // A release build's settings refuse the emulator's host over plain http; a debug
        // build's accept it.
        failureOf<NotebookError.Validation>(settings.saveRelayAddress("http://10.0.2.2:8787"))
        assertEquals(RelayAddressProblem.INSECURE.message, settings.state.value.relayError)
        assertEquals("https://relay.example.org", device.settings.relayAddress?.url)
        SettingsViewModel(nb, SyncService(nb) { null }, emulatorHost = true).saveRelayAddress("http://10.0.2.2:8787").getOrThrow()
        assertEquals("http://10.0.2.2:8787", device.settings.relayAddress?.url)
        settings.clearRelayAddress()
        assertNull(device.settings.relayAddress)

        failureOf<NotebookError.Validation>(settings.saveClinicianName(" "))
        settings.saveClinicianName(" Dr. Rivera ").getOrThrow()
        assertEquals("Dr. Rivera", device.settings.clinicianName)
        failureOf<NotebookError.Validation>(settings.createInvite(validForMillis = 0))
    }

    @Test
    fun theHttpSenderCarriesRequestsAndStatuses(): Unit = runBlocking {
        val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        server.createContext("/echo") { ex ->
            val body = ex.requestBody.readBytes()
            val status = if (ex.requestHeaders.getFirst("X-Mend-Test") == "yes") 200 else 401
            val reply = ex.requestMethod.toByteArray() + body
            ex.sendResponseHeaders(status, reply.size.toLong())
            ex.responseBody.use { it.write(reply) }
        }
        server.start()
        try {
            val url = "http://127.0.0.1:${server.address.port}/echo"
            val sender = UrlConnectionHttpSender(connectTimeoutMillis = 2_000, readTimeoutMillis = 2_000)
            val ok = sender.send("POST", url, listOf(HttpHeader("X-Mend-Test", "yes")), byteArrayOf(1, 2, 3))
            assertEquals(200.toUShort(), ok.status)
            assertArrayEquals("POST".toByteArray() + byteArrayOf(1, 2, 3), ok.body)
            val refused = sender.send("GET", url, emptyList(), ByteArray(0))
            assertEquals(401.toUShort(), refused.status)
            assertArrayEquals("GET".toByteArray(), refused.body)
        } finally {
            server.stop(0)
        }
        assertThrows<MendException.Transport> {
            UrlConnectionHttpSender(connectTimeoutMillis = 2_000).send("GET", "http://127.0.0.1:9/none", emptyList(), ByteArray(0))
        }
    }
}
