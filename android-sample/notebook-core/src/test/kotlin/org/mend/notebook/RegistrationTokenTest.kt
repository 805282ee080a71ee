// A clinic's relay registers a notebook only with the registration token its operator issued:
// against the real mend-relay binary (built by scripts/kotlin.sh), on a throwaway SQLite store.
package org.mend.notebook

import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.core.RelayRefusal

/** A `mend-relay` process that needs registration tokens, on a store in [dir]. */
class TokenRelay(dir: Path) : AutoCloseable {
    private val binary = File(System.getProperty("mend.relay.bin") ?: "../../target/debug/mend-relay")
    private val storage = "sqlite://${dir.resolve("relay.db")}"
    private val process: Process
    val url: String

    init {
        check(binary.canExecute()) { "no relay binary at $binary: run `cargo build -p mend-relay` (scripts/kotlin.sh does)" }
        process = ProcessBuilder(binary.path, "--listen", "127.0.0.1:0", "--storage", storage)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val first = process.inputStream.bufferedReader().readLine() ?: error("the relay did not start")
        check(first.startsWith("listening on ")) { first }
        url = "http://" + first.removePrefix("listening on ").trim()
    }

    /** A new registration token, as the operator's `mend-relay issue-token` prints it. */
    fun issueToken(): String {
        val p = ProcessBuilder(binary.path, "issue-token", "--storage", storage)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val token = p.inputStream.bufferedReader().readText().trim()
        check(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) { "issue-token failed" }
        return token
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

class RegistrationTokenTest {
    @TempDir
    lateinit var dir: Path

    private fun refusalOf(result: Result<*>): RelayRefusal = failureOf<NotebookError.RelayRefused>(result).refusal

    @Test
    fun aClinicRelayRegistersANotebookOnlyWithItsOperatorsToken() = runBlocking<Unit> {
        TokenRelay(dir).use { relay ->
            val token = relay.issueToken()
            assertTrue(token.startsWith("mrt_"), "a token as the operator hands it out")
            val address = RelayAddress.parse(relay.url).getOrThrow()
            val phone = Device(dir, "phone").unlock()
            ClientListViewModel(phone).addClient("C-3100", "US-CA").getOrThrow()

            // No token, or a made-up one: a typed refusal the screen can explain, not a retry.
            assertEquals(RelayRefusal.REGISTRATION_REQUIRED, refusalOf(SyncService(phone) { HttpRelay(address) }.sync()))
            val madeUp = "mrt_" + "0".repeat(64)
            assertEquals(
                RelayRefusal.REGISTRATION_REQUIRED,
                refusalOf(SyncService(phone) { HttpRelay(address, registrationToken = madeUp) }.sync()),
            )
            assertTrue(
                NotebookError.RelayRefused(RelayRefusal.REGISTRATION_REQUIRED).message!!.contains("registration token"),
            )

            // The operator's token registers the notebook; later syncs need nothing more.
            val sync = SyncService(phone) { HttpRelay(address, registrationToken = " $token ") }
            assertTrue(sync.sync().getOrThrow().pushed > 0u)
            SyncService(phone) { HttpRelay(address) }.sync().getOrThrow()

            // Settings keep a token only when it looks like one; the app's relay uses it.
            val settings = SettingsViewModel(phone, SyncService(phone) { null })
            failureOf<NotebookError.Validation>(settings.saveRegistrationToken("  "))
            failureOf<NotebookError.Validation>(settings.saveRegistrationToken("two words"))
            assertTrue(settings.state.value.registrationTokenError != null)
            settings.saveRegistrationToken(" $token\n").getOrThrow()
            assertEquals(token, phone.settings.registrationToken)
            assertTrue(settings.state.value.hasRegistrationToken)
            // Once a sync succeeded the token has done its work and is not kept.
            SyncService(phone) { HttpRelay(address, registrationToken = phone.settings.registrationToken) }.sync().getOrThrow()
            assertEquals(null, phone.settings.registrationToken)

            // The token is spent: another practice's notebook cannot register with it.
            val other = Device(dir, "other").unlock()
            assertEquals(
                RelayRefusal.REGISTRATION_REQUIRED,
                refusalOf(SyncService(other) { HttpRelay(address, registrationToken = token) }.sync()),
            )
        }
    }
}
