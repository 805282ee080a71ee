// The snippets of docs/getting-started-kotlin.md, compiled and run: each `// [start:NAME]` …
// `// [end:NAME]` region is what the page shows (scripts/doc-snippets.py checks they match).
// Two devices against a real mend-relay (built by scripts/kotlin.sh), in open registration.
package org.mend

import java.io.File
import java.nio.file.Path
import java.security.SecureRandom
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.core.*
import org.mend.model.*

/** A `mend-relay` in open registration on a throwaway SQLite store (a solo therapist's relay). */
private class OpenRelay(dir: Path) : AutoCloseable {
    private val binary = File(System.getProperty("mend.relay.bin") ?: "../../target/debug/mend-relay")
    private val process: Process
    val url: String

    init {
        check(binary.canExecute()) { "no relay binary at $binary: run scripts/kotlin.sh" }
        process = ProcessBuilder(binary.path, "--listen", "127.0.0.1:0", "--storage", "sqlite://${dir.resolve("relay.db")}", "--open-registration")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val first = process.inputStream.bufferedReader().readLine() ?: error("the relay did not start")
        url = "http://" + first.removePrefix("listening on ").trim()
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** Stands in for the app's Keystore-wrapped key (the Android sample's `KeystoreKeyVault`). */
private class KeyVault {
    private var key: ByteArray? = null
    fun loadOrCreateKey(): ByteArray = (key ?: ByteArray(32).also { SecureRandom().nextBytes(it); key = it }).copyOf()
}

class GettingStartedTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun theGettingStartedPageRunsAsWritten(): Unit = runBlocking {
        OpenRelay(dir).use { relay ->
            val relayUrl = relay.url
            val filesDir = dir.resolve("phone").toFile().apply { mkdirs() }
            val keyVault = KeyVault()
            val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
            val shown = CopyOnWriteArrayList<List<ClientSummary>>()
            val statuses = CopyOnWriteArrayList<SyncStatus>()
            fun showClients(list: List<ClientSummary>) { shown.add(list) }
            fun showStatus(s: SyncStatus) { statuses.add(s) }
            val problems = CopyOnWriteArrayList<String>()
            fun scheduleRetry() { problems.add("retry") }
            fun showProblem(message: String) { problems.add(message) }
            val nowMillis = System.currentTimeMillis()
            val startMillis = nowMillis - 3_600_000L

            // [start:open]
            val path = File(filesDir, "notebook.mend").path
            val key: ByteArray = keyVault.loadOrCreateKey() // 32 bytes, kept wrapped by the Keystore
            val vault = if (File(path).exists()) Vault.open(path, key, null) else Vault.create(path, key, null)
            key.fill(0)
            // [end:open]

            // [start:observe]
            scope.launch { vault.watchClients().collect { list -> showClients(list) } }
            scope.launch { vault.syncStatusFlow().collect { status -> showStatus(status) } }
            // [end:observe]
            withTimeout(10_000) { while (shown.isEmpty() || statuses.isEmpty()) delay(5) }

            // [start:write]
            val client = vault.createClient(NewClient("C-1042", null, "US-CA", null))
            val session = vault.createSession(
                NewSession(client, startMillis, null, null, SessionStatus.COMPLETED, Modality.INDIVIDUAL, Setting.IN_PERSON, "90834"),
            )
            val note = vault.createNote(NewNote(session, "t-1", NoteFormat.SOAP, listOf(), nowMillis))
            // Typing: positions and lengths in UTF-16 units, as Compose's TextRange counts them.
            vault.spliceNoteSection(note, "subjective", 0uL, 0uL, "Feeling better 👍🏽")
            vault.spliceNoteSection(note, "subjective", 14uL, 0uL, ", slept well")
            // [end:write]

            // [start:sync]
            try {
                val report = vault.syncHttp(relayUrl, null, null) // suspends; the main thread stays free
                println("pushed ${report.pushed}, pulled ${report.pulled}")
            } catch (e: MendException) {
                if (e.retryable) scheduleRetry() else showProblem(e.toString())
            }
            // [end:sync]
            assertEquals(listOf<String>(), problems)
            withTimeout(10_000) { while (statuses.last().lastSyncedAt == null) delay(5) }
            withTimeout(10_000) { while (shown.none { l -> l.any { it.aliasCode == "C-1042" } }) delay(5) }

            val tabletPath = dir.resolve("tablet.mend").toString()
            val tabletKey = KeyVault().loadOrCreateKey()
            // [start:join]
            // On the phone: an invite under a one-time code, told to the user apart from it.
            val code = generateInviteCode()
            val invite = vault.exportInvite(code, nowMillis + 24 * 3_600_000L)
            vault.syncHttp(relayUrl, null, null)
            // On the tablet, with the invite (a QR code) and the code (typed in):
            val tablet = Vault.joinHttp(tabletPath, tabletKey, invite, code, relayUrl, null)
            tablet.syncHttp(relayUrl, null, null)
            // [end:join]

            val text = tablet.note(note).sections.first { it.key == "subjective" }.text
            assertEquals("Feeling better, slept well 👍🏽", text)
            assertNotNull(tablet.syncStatus().lastSyncedAt)
            assertTrue(statuses.any { it.state is SyncState.Syncing })
            scope.cancel()
            tablet.close()
            vault.close()
        }
    }
}
