// The Kotlin developer's first hour: calls that block are `suspend` and never block the caller's
// thread; a cancelled Job reaches the core and the app's HTTP call; any number of collectors;
// watches of the lists an app shows; an observable sync status; errors split into retryable and
// permanent; a throwing observer never fails or duplicates a save.
package org.mend

import java.io.IOException
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.drop
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import org.mend.core.*
import org.mend.model.*

class AsyncAndObserveTest {
    @TempDir
    lateinit var dir: Path

    private val key = ByteArray(32) { 3 }

    private suspend fun vault(name: String) = Vault.create(dir.resolve(name).toString(), key, null)

    /** An HTTP stack that answers every request with [answer] (or throws what it throws). */
    private fun sender(answer: suspend (String) -> HttpResponse) = object : HttpSender {
        override suspend fun send(method: String, url: String, headers: List<HttpHeader>, body: ByteArray) = answer(url)
    }

    private fun json(status: Int, code: String) =
        HttpResponse(status.toUShort(), """{"error":"$code","message":"test"}""".toByteArray())

    private val relayUrl = "http://127.0.0.1:9"

    @Test
    fun aSyncSuspendsWithoutBlockingTheCallersThread(): Unit = runBlocking {
        // runBlocking is one thread: the ticker only advances if syncHttp leaves that thread free.
        vault("a.mend").use { v ->
            v.createClient(NewClient("C-0100", null, "US", null))
            val ticks = AtomicInteger()
            val ticker = launch { while (true) { delay(10); ticks.incrementAndGet() } }
            val slow = sender { delay(400); throw IOException("no route to host") }
            val e = assertThrows<MendException.Transport> { v.syncHttp(relayUrl, slow, null) }
            ticker.cancelAndJoin()
            assertTrue(e.retryable)
            assertTrue(ticks.get() >= 10, "the caller's thread ran only ${ticks.get()} ticks during the sync")
            // So does opening with a passphrase (Argon2id).
            val ticks2 = AtomicInteger()
            val ticker2 = launch { while (true) { delay(5); ticks2.incrementAndGet() } }
            Vault.create(dir.resolve("p.mend").toString(), null, "a long passphrase here").close()
            ticker2.cancelAndJoin()
            assertTrue(ticks2.get() >= 1, "create with a passphrase blocked the caller's thread")
        }
    }

    @Test
    fun cancellingTheJobStopsTheSyncAndCancelsTheAppsHttpCall(): Unit = runBlocking {
        vault("c.mend").use { v ->
            v.createClient(NewClient("C-0101", null, "US", null))
            val entered = CompletableDeferred<Unit>()
            val httpCancelled = CompletableDeferred<Unit>()
            val hanging = sender {
                entered.complete(Unit)
                try { awaitCancellation() } finally { httpCancelled.complete(Unit) }
            }
            val job = launch(Dispatchers.Default) { v.syncHttp(relayUrl, hanging, null) }
            withTimeout(10_000) { entered.await() }
            assertTrue(v.syncStatus().state is SyncState.Syncing)
            job.cancelAndJoin()
            // The core drops the request in flight, which cancels the app's coroutine.
            withTimeout(10_000) { httpCancelled.await() }
            withTimeout(10_000) { while (v.syncStatus().state !is SyncState.Idle) delay(10) }
            assertEquals(null, v.syncStatus().lastSyncedAt, "a cancelled sync is not a completed one")
            // Nothing was lost: the change is still waiting to be pushed, and the next sync runs.
            assertTrue(v.pendingChanges() > 0uL)
            val relay = InMemoryRelay()
            val report = v.syncInMemory(relay, null)
            assertTrue(report.pushed > 0uL)
            assertNotNull(v.syncStatus().lastSyncedAt)
        }
    }

    @Test
    fun transportFailuresAreSplitIntoRetryableAndPermanent(): Unit = runBlocking {
        vault("e.mend").use { v ->
            v.createClient(NewClient("C-0102", null, "US", null))
            val offline = assertThrows<MendException.Transport> { v.syncHttp(relayUrl, sender { throw IOException("offline") }, null) }
            assertTrue(offline.retryable, "offline is retryable")
            assertTrue(v.syncStatus().state is SyncState.Offline, "${v.syncStatus()}")
            assertTrue(assertThrows<MendException.Transport> { v.syncHttp(relayUrl, sender { json(503, "unavailable") }, null) }.retryable, "503")

            val revoked = assertThrows<MendException.Revoked> { v.syncHttp(relayUrl, sender { json(403, "revoked") }, null) }
            assertFalse(revoked.retryable)
            assertTrue(v.syncStatus().state is SyncState.Failed, "${v.syncStatus()}")
            val rejected = assertThrows<MendException.RelayRejected> { v.syncHttp(relayUrl, sender { json(400, "bad_request") }, null) }
            assertFalse(rejected.retryable)
            val quota = assertThrows<MendException.RelayRefused> { v.syncHttp(relayUrl, sender { json(403, "quota_exceeded") }, null) }
            assertEquals(RelayRefusal.QUOTA_EXCEEDED, quota.refusal)
            // Every one has a message for logs (Mend's own, from the core; toString()).
            assertEquals("this device was revoked", revoked.toString())
            assertTrue(offline.toString().startsWith("sync transport failed"), offline.toString())
            assertTrue(rejected.toString().startsWith("the relay rejected the request"), rejected.toString())
            assertTrue(MendException.WrongKey().toString().isNotBlank())
        }
    }

    @Test
    fun manyCollectorsEachWithItsOwnObserver(): Unit = runBlocking {
        vault("m.mend").use { v ->
            val listA = CopyOnWriteArrayList<String>()
            val listB = CopyOnWriteArrayList<String>()
            val a = launch(Dispatchers.Default) { v.changes().collect { listA.addAll(it) } }
            val b = launch(Dispatchers.Default) { v.changes().collect { listB.addAll(it) } }
            withTimeout(10_000) { while (v.observerCount() < 2uL) delay(5) }
            val c1 = v.createClient(NewClient("C-0103", null, "US", null))
            withTimeout(10_000) { while (!(listA.contains(c1) && listB.contains(c1))) delay(5) }
            // Ending one collection leaves the other listening.
            a.cancelAndJoin()
            withTimeout(10_000) { while (v.observerCount() != 1uL) delay(5) }
            val c2 = v.createClient(NewClient("C-0104", null, "US", null))
            withTimeout(10_000) { while (!listB.contains(c2)) delay(5) }
            assertFalse(listA.contains(c2))
            b.cancelAndJoin()
            withTimeout(10_000) { while (v.observerCount() != 0uL) delay(5) }
        }
    }

    @Test
    fun aThrowingObserverNeverFailsOrDuplicatesASave(): Unit = runBlocking {
        vault("t.mend").use { v ->
            val heard = CopyOnWriteArrayList<String>()
            val bad = v.observe(object : VaultObserver {
                override fun recordsChanged(ids: List<String>) = throw IllegalStateException("app bug in a badge")
            })
            val good = v.observe(object : VaultObserver {
                override fun recordsChanged(ids: List<String>) { heard.addAll(ids) }
            })
            // The save returns normally: nothing invites a retry that would save twice.
            val id = v.createClient(NewClient("C-0105", null, "US", null))
            assertEquals(listOf("C-0105"), v.clients().mapNotNull { it.aliasCode })
            assertTrue(heard.contains(id), "the other observer was still told")
            val failures = v.callbackFailures()
            assertEquals(1, failures.size)
            assertEquals("VaultObserver.recordsChanged", failures[0].callback)
            assertTrue(failures[0].reason.contains("app bug in a badge"))
            assertTrue(v.callbackFailures().isEmpty(), "each failure is reported once")
            // A throwing progress listener does not stop a sync either.
            val relay = InMemoryRelay()
            val report = v.syncInMemory(relay, syncListener { throw IllegalStateException("listener bug") })
            assertFalse(report.cancelled)
            assertEquals(0uL, v.pendingChanges())
            assertTrue(v.callbackFailures().any { it.callback == "SyncListener.progress" })
            bad.close(); good.close()
        }
    }

    @Test
    fun watchesEmitTheListsAnAppShowsAfterEditsAndSyncs(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("w1.mend").use { phone ->
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            Vault.joinInMemory(dir.resolve("w2.mend").toString(), key, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                val seen = CopyOnWriteArrayList<List<String>>()
                val watcher = launch(Dispatchers.Default) {
                    tablet.watchClients().collect { list -> seen.add(list.mapNotNull { it.aliasCode }) }
                }
                withTimeout(10_000) { while (seen.isEmpty()) delay(5) }
                assertEquals(listOf<String>(), seen.first(), "the current value comes first")
                tablet.createClient(NewClient("C-0106", null, "US", null))
                withTimeout(10_000) { while (seen.none { "C-0106" in it }) delay(5) }
                // A client created on the phone shows up on the tablet after a sync.
                phone.createClient(NewClient("C-0107", null, "US", null))
                phone.syncInMemory(relay, null)
                tablet.syncInMemory(relay, null)
                withTimeout(10_000) { while (seen.none { "C-0107" in it && "C-0106" in it }) delay(5) }
                watcher.cancelAndJoin()
                val conflicts = tablet.watchConflicts().first()
                assertEquals(0, conflicts.size)
            }
        }
    }

    @Test
    fun recordsAreImmutableValues() {
        // `val` fields only: no setters on the records an app reads or builds.
        val records = listOf(ClientSummary::class.java, Client::class.java, NewClient::class.java, SessionNote::class.java,
            RuptureEvent::class.java, SyncStatus::class.java, SyncReport::class.java, Conflict::class.java)
        for (r in records) {
            assertEquals(listOf<String>(), r.methods.map { it.name }.filter { it.startsWith("set") }, r.simpleName)
        }
        val c = NewClient("C-0109", null, "US", null)
        assertEquals("C-0110", c.copy(aliasCode = "C-0110").aliasCode)
        assertEquals("C-0109", c.aliasCode)
    }

    @Test
    fun theSyncStatusFlowsToAStatusBar(): Unit = runBlocking {
        vault("s.mend").use { v ->
            v.createClient(NewClient("C-0108", null, "US", null))
            val states = CopyOnWriteArrayList<SyncStatus>()
            val ready = CompletableDeferred<Unit>()
            val collector = launch(Dispatchers.Default) {
                v.syncStatusFlow().collect { states.add(it); ready.complete(Unit) }
            }
            withTimeout(10_000) { ready.await() }
            assertTrue(states.first().state is SyncState.Idle)
            assertEquals(null, states.first().lastSyncedAt)
            v.syncInMemory(InMemoryRelay(), null)
            withTimeout(10_000) { while (states.last().lastSyncedAt == null) delay(5) }
            collector.cancelAndJoin()
            assertTrue(states.any { it.state is SyncState.Syncing }, "the status went through syncing: $states")
            assertTrue(states.last().state is SyncState.Idle)
        }
    }
}
