// Boundary tests of the Kotlin bindings, run on the JVM against the host-built libmend_ffi:
// construct, call, throw, catch, observe, and use from many threads.
package org.mend

import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import org.mend.core.*
import org.mend.model.*

class VaultTest {
    @TempDir
    lateinit var dir: Path

    private val key = ByteArray(32) { 7 }

    private suspend fun vault(name: String = "vault.mend") = Vault.create(dir.resolve(name).toString(), key, null)

    private fun session(v: Vault, client: String) = v.createSession(
        NewSession(client, 1_700_000_000_000, null, null, SessionStatus.COMPLETED, Modality.INDIVIDUAL, Setting.IN_PERSON, "90834"),
    )

    private fun soap(v: Vault, sessionId: String) = v.createNote(
        NewNote(sessionId, "t-1", NoteFormat.SOAP, listOf(NoteSection("subjective", "Slept badly")), 1L),
    )

    private fun sign(at: Long) = SignRequest("t-1", "Dr. Example", SignerRole.AUTHOR, SignatureMeaning.AUTHORED, false, at)

    @Test
    fun createReopenAndWrongKey(): Unit = runBlocking {
        val path = dir.resolve("v.mend").toString()
        val id = Vault.create(path, key, null).use { it.createClient(NewClient("C-0001", 1990, "US-CA", "2026-01-05")) }
        Vault.open(path, key, null).use { assertEquals("C-0001", it.client(id).aliasCode) }
        assertThrows<MendException.WrongKey> { Vault.open(path, ByteArray(32) { 8 }, null) }
        assertThrows<MendException.InvalidArgument> { Vault.open(path, ByteArray(5), null) }
        val pass = dir.resolve("p.mend").toString()
        Vault.create(pass, null, "tide pool lantern").close()
        assertThrows<MendException.WrongKey> { Vault.open(pass, null, "wrong") }
        Vault.open(pass, null, "tide pool lantern").close()
    }

    @Test
    fun aSecondHandleOnOneFileIsRefusedUntilTheFirstIsClosed(): Unit = runBlocking {
        val path = dir.resolve("one.mend").toString()
        val first = Vault.create(path, key, null)
        val a = first.createClient(NewClient("C-0701", null, "US-CA", null))
        assertThrows<MendException.AlreadyOpen> { Vault.open(path, key, null) }
        // The first handle keeps writing; nothing is lost.
        val b = first.createClient(NewClient("C-0702", null, "US-CA", null))
        first.close()
        Vault.open(path, key, null).use {
            assertEquals("C-0701", it.client(a).aliasCode)
            assertEquals("C-0702", it.client(b).aliasCode)
        }
    }

    /**
     * Positions cross the boundary in UTF-16 code units: Kotlin `String` indices and lengths, as
     * Compose `TextRange` and `EditText` selections count. One inside a surrogate pair throws
     * `Validation` and changes nothing.
     */
    @Test
    fun splicePositionsAreKotlinStringIndices(): Unit = runBlocking {
        vault().use { v ->
            val c = v.createClient(NewClient("C-0901", null, "US-CA", null))
            val n = v.createNote(NewNote(session(v, c), "t-1", NoteFormat.FREE, emptyList(), 1L))
            fun body() = v.note(n).sections.first { it.key == "body" }.text

            v.spliceNoteSection(n, "body", 0uL, 0uL, "OK 👍🏽")
            assertEquals(7, body().length)
            // The case: "!" at the end is index 7, which Mend now takes as the end.
            v.spliceNoteSection(n, "body", body().length.toULong(), 0uL, "!")
            assertEquals("OK 👍🏽!", body())
            val at = body().indexOf("!")
            v.spliceNoteSection(n, "body", at.toULong(), 0uL, " 👨‍👩‍👧 cafe\u0301 漢字")
            assertEquals("OK 👍🏽 👨‍👩‍👧 cafe\u0301 漢字!", body())
            // Inside the thumb's pair, inside the family's last pair, a delete ending in a pair.
            for ((pos, delete) in listOf(4 to 0, 15 to 0, 3 to 1)) {
                val e = assertThrows<MendException.Validation> {
                    v.spliceNoteSection(n, "body", pos.toULong(), delete.toULong(), "x")
                }
                assertEquals("sections.body", e.field)
            }
            assertEquals("OK 👍🏽 👨‍👩‍👧 cafe\u0301 漢字!", body())
            // Backspace over the family, over the accent alone, then type between the CJK.
            val family = body().indexOf("👨")
            v.spliceNoteSection(n, "body", family.toULong(), "👨‍👩‍👧".length.toULong(), "")
            v.spliceNoteSection(n, "body", body().indexOf("\u0301").toULong(), 1uL, "")
            v.spliceNoteSection(n, "body", body().indexOf("字").toULong(), 0uL, "・")
            assertEquals("OK 👍🏽  cafe 漢・字!", body())
            assertThrows<MendException.Validation> {
                v.spliceNoteSection(n, "body", (body().length + 1).toULong(), 0uL, "x")
            }

            // Rupture texts count the same way: after "😔 " the next word is at index 3.
            val r = v.createRupture(
                NewRupture(c, null, 5L, RecordClass.PSYCHOTHERAPY_NOTE, Movement.WITHDRAWAL, InitiatedBy.CLIENT,
                    listOf(RuptureMarker.WD_DENIAL), listOf(Precipitant.MISUNDERSTANDING), 3L, "😔 quiet", "", ""),
                "t-1",
            )
            v.spliceRuptureText(r, RuptureText.NARRATIVE, "😔 ".length.toULong(), 0uL, "very ")
            assertEquals("😔 very quiet", v.rupture(r).narrative)
            assertThrows<MendException.Validation> { v.spliceRuptureText(r, RuptureText.NARRATIVE, 1uL, 0uL, "x") }
            assertEquals("😔 very quiet", v.rupture(r).narrative)
        }
    }

    @Test
    fun recordsRoundTrip(): Unit = runBlocking {
        vault().use { v ->
            val c = v.createClient(NewClient("C-0002", null, "US-NY", null))
            val s = session(v, c)
            val n = soap(v, s)
            v.spliceNoteSection(n, "subjective", 0uL, 0uL, "Reports: ")
            v.setNoteRisk(n, Risk(RiskLevel.DENIED, RiskLevel.DENIED, "none"))
            val note = v.note(n)
            assertEquals("Reports: Slept badly", note.sections.first { it.key == "subjective" }.text)
            assertEquals(listOf("subjective", "objective", "assessment", "plan"), note.sections.map { it.key })
            assertEquals(NoteState.DRAFT, note.state)

            val r = v.createRupture(
                NewRupture(c, s, 5L, RecordClass.PSYCHOTHERAPY_NOTE, Movement.WITHDRAWAL, InitiatedBy.CLIENT,
                    listOf(RuptureMarker.WD_MINIMAL_RESPONSE), listOf(Precipitant.MISUNDERSTANDING), 3L,
                    "went quiet", "fine", "I pushed", followUpPlanned = true, followUpNote = "ask next week"),
                "t-1",
            )
            v.addRepairAttempt(r, NewRepairAttempt(s, 6L, listOf(RepairStrategy.RS_CLARIFY_MISUNDERSTANDING),
                listOf(ClientResponse.REENGAGED), 4L, "clarified"))
            val rupture = v.rupture(r)
            assertEquals(listOf(RuptureMarker.WD_MINIMAL_RESPONSE), rupture.markers)
            assertTrue(rupture.repairAttempts.single().immediate)
            assertEquals(s, rupture.repairAttempts.single().sessionId)
            assertTrue(rupture.followUpPlanned)
            assertEquals("ask next week", rupture.followUpNote)
            assertEquals(listOf(r), v.unresolvedRuptures(c))

            v.recordMeasure(NewMeasure(c, s, 7L, (1..12).map { MeasureItem(it.toUByte(), 4L) }))
            val point = v.allianceTrend(c).single()
            assertEquals(48L, point.total)
            assertEquals(16L, point.task)
            assertFalse(point.incomplete)
            assertEquals(4, v.timeline(c).size)
        }
    }

    @Test
    fun validationErrorsAreTypedExceptions(): Unit = runBlocking {
        vault().use { v ->
            val c = v.createClient(NewClient("C-0003", null, "US", null))
            val bad = NewRupture(c, null, 1L, RecordClass.PROGRESS_RECORD, Movement.MIXED, InitiatedBy.BOTH,
                listOf(), listOf(), 7L, "", "", "")
            val e = assertThrows<MendException.Validation> { v.createRupture(bad, "t") }
            assertEquals("significance", e.field)
            val items = (1..13).map { MeasureItem(it.toUByte(), 3L) }
            assertThrows<MendException.Validation> { v.recordMeasure(NewMeasure(c, null, 1L, items)) }
            val s = session(v, c)
            assertThrows<MendException.Validation> {
                v.createNote(NewNote(s, "t", NoteFormat.DAP, listOf(NoteSection("objective", "x")), 1L))
            }
            val early = assertThrows<MendException.Validation> {
                v.setSessionStatus(s, SessionStatus.COMPLETED, 1_700_000_600_000, 1_700_000_000_000)
            }
            assertEquals("actual_end", early.field)
            v.setSessionStatus(s, SessionStatus.COMPLETED, 1_700_000_600_000, 1_700_003_600_000)
            val held = v.session(s)
            assertEquals(c, held.clientId)
            assertEquals(1_700_003_600_000, held.actualEnd)
            assertThrows<MendException.InvalidArgument> { v.client("not-a-uuid") }
            // An id inside a record is core's id type, checked as uniffi lifts the record: a
            // malformed one throws uniffi's InternalException naming the argument (core's id
            // cannot name the bindings' MendException), nothing is written, the vault stays usable.
            val malformed = assertThrows<org.mend.core.InternalException> {
                v.createSession(
                    NewSession("not-a-uuid", 1L, null, null, SessionStatus.COMPLETED, Modality.INDIVIDUAL, Setting.IN_PERSON, null),
                )
            }
            assertTrue(malformed.message.orEmpty().contains("session"), malformed.message)
            assertTrue(malformed.message.orEmpty().contains("not a UUID"), malformed.message)
            assertEquals(listOf(s), v.timeline(c).filterIsInstance<TimelineEntry.Session>().map { it.id })
            assertThrows<MendException.NotFound> { v.client("00000000-0000-4000-8000-000000000000") }
            assertEquals(1, v.clients().size)
        }
    }

    @Test
    fun signingLocksTheNote(): Unit = runBlocking {
        vault().use { v ->
            val n = soap(v, session(v, v.createClient(NewClient("C-0004", null, "US", null))))
            v.signNote(n, sign(10L))
            assertEquals(NoteState.SIGNED, v.note(n).state)
            assertThrows<MendException.NoteLocked> { v.setNoteSection(n, "plan", "late") }
            val a = v.addAddendum(n, NewAddendum(AddendumKind.CLARIFICATION, "detail", "More.", listOf("plan"), "t-1", 20L))
            v.signAddendum(n, a, sign(21L))
            assertTrue(v.note(n).addenda.single().signed)
        }
    }

    @Test
    fun devicesPendingChangesDivergenceAndRevocation(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("phone.mend").use { phone ->
            val n = soap(phone, session(phone, phone.createClient(NewClient("C-0009", null, "US", null))))
            assertTrue(phone.pendingChanges() > 0uL)
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            assertEquals(0uL, phone.pendingChanges())
            Vault.joinInMemory(dir.resolve("tablet.mend").toString(), ByteArray(32) { 9 }, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                phone.syncInMemory(relay, null)
                val seen = phone.devices()
                assertEquals(2, seen.size)
                assertEquals(phone.deviceId(), seen.single { it.thisDevice }.id)
                assertFalse(seen.any { it.revoked })

                // The tablet edits offline while the phone signs: a divergence, not a changed record.
                tablet.spliceNoteSection(n, "plan", 0uL, 0uL, "late thought")
                phone.signNote(n, sign(30L))
                repeat(2) {
                    tablet.syncInMemory(relay, null)
                    phone.syncInMemory(relay, null)
                }
                val d = phone.noteDivergence(n) ?: error("expected a divergence")
                assertEquals("plan", d.sections.single().section)
                assertEquals("late thought", d.sections.single().current)
                val addendum = phone.resolveDivergence(n, true, "t-1", 31L)
                assertTrue(addendum != null)
                assertEquals(null, phone.noteDivergence(n))
                assertEquals("", phone.note(n).sections.first { it.key == "plan" }.text)

                val tabletId = tablet.deviceId()
                phone.revokeDevice(tabletId)
                assertTrue(phone.devices().single { it.id == tabletId }.revoked)
                assertThrows<MendException.InvalidState> { phone.revokeDevice(phone.deviceId()) }
                assertThrows<MendException.InvalidArgument> { phone.revokeDevice("not-a-device") }
            }
        }
    }

    @Test
    fun ruptureDetailsUpdatesAndConflictContext(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("phone.mend").use { phone ->
            val c = phone.createClient(NewClient("C-0010", null, "US", null))
            val s = session(phone, c)
            val r = phone.createRupture(
                NewRupture(c, s, 5L, RecordClass.PSYCHOTHERAPY_NOTE, Movement.WITHDRAWAL, InitiatedBy.CLIENT,
                    listOf(RuptureMarker.WD_MINIMAL_RESPONSE), listOf(Precipitant.MISUNDERSTANDING), 3L,
                    "went quiet", "fine", "I pushed",
                    atMinute = 12L, allianceDimensions = listOf(AllianceDimension.BOND),
                    detectedBy = DetectedBy.CLIENT_RAISED, therapistContributionRating = 4L),
                "t-1",
            )
            val logged = phone.rupture(r)
            assertEquals(12L, logged.atMinute)
            assertEquals(listOf(AllianceDimension.BOND), logged.allianceDimensions)
            assertEquals(DetectedBy.CLIENT_RAISED, logged.detectedBy)
            assertEquals(4L, logged.therapistContributionRating)
            assertEquals("fine", logged.clientWords)
            assertEquals("I pushed", logged.therapistContribution)
            assertEquals(RecordClass.PSYCHOTHERAPY_NOTE, logged.recordClass)

            phone.updateRupture(r, RuptureUpdate(
                addMarkers = listOf(RuptureMarker.WD_GIVING_UP),
                removeMarkers = listOf(RuptureMarker.WD_MINIMAL_RESPONSE),
                addPrecipitants = listOf(Precipitant.EXTERNAL_EVENT),
                clientReportedIntensity = 2L,
                narrative = "went quiet after the homework review",
            ))
            val updated = phone.rupture(r)
            assertEquals(listOf(RuptureMarker.WD_GIVING_UP), updated.markers)
            assertEquals(setOf(Precipitant.MISUNDERSTANDING, Precipitant.EXTERNAL_EVENT), updated.precipitants.toSet())
            assertEquals(2L, updated.clientReportedIntensity)
            assertEquals("went quiet after the homework review", updated.narrative)
            assertThrows<MendException.Validation> { phone.updateRupture(r, RuptureUpdate(significance = 9L)) }

            // Concurrent significance on two devices: the conflict names the record's kind and client.
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            Vault.joinInMemory(dir.resolve("tablet.mend").toString(), ByteArray(32) { 9 }, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                phone.setRuptureSignificance(r, 2L)
                tablet.setRuptureSignificance(r, 5L)
                repeat(2) {
                    phone.syncInMemory(relay, null)
                    tablet.syncInMemory(relay, null)
                }
                val conflict = phone.conflicts().single()
                assertEquals(r, conflict.recordId)
                assertEquals(RecordKind.RUPTURE, conflict.recordKind)
                assertEquals(c, conflict.clientId)
                assertEquals(setOf("2", "5"), conflict.values.map { it.value }.toSet())
            }
        }
    }

    @Test
    fun aLoggedRuptureIsCorrectedTypedIntoAndVoided(): Unit = runBlocking {
        vault().use { v ->
            val c = v.createClient(NewClient("C-0011", null, "US", null))
            val s1 = session(v, c)
            val s2 = session(v, c)
            val r = v.createRupture(
                NewRupture(c, s1, 5L, RecordClass.PSYCHOTHERAPY_NOTE, Movement.WITHDRAWAL, InitiatedBy.CLIENT,
                    listOf(RuptureMarker.WD_DENIAL), listOf(Precipitant.MISUNDERSTANDING, Precipitant.OTHER), 3L,
                    "went quiet", "", "", atMinute = 12L, detectedBy = DetectedBy.CLIENT_RAISED),
                "t-1",
            )
            v.updateRupture(r, RuptureUpdate(
                occurredAt = 6L,
                sessionId = s2,
                initiatedBy = InitiatedBy.THERAPIST,
                removePrecipitants = listOf(Precipitant.OTHER),
                addAllianceDimensions = listOf(AllianceDimension.TASK),
                followUpPlanned = true,
                followUpNote = "Check in first",
                clear = listOf(RuptureField.AT_MINUTE, RuptureField.DETECTED_BY),
            ))
            v.spliceRuptureText(r, RuptureText.CLIENT_WORDS, 0uL, 0uL, "“I’m fine”")
            val got = v.rupture(r)
            assertEquals(Pair(6L, s2), Pair(got.occurredAt, got.sessionId))
            assertEquals(InitiatedBy.THERAPIST, got.initiatedBy)
            assertEquals(listOf(Precipitant.MISUNDERSTANDING), got.precipitants)
            assertEquals(listOf(AllianceDimension.TASK), got.allianceDimensions)
            assertEquals(Pair(null, null), Pair(got.atMinute, got.detectedBy))
            assertTrue(got.followUpPlanned)
            assertEquals("Check in first", got.followUpNote)
            assertEquals("“I’m fine”", got.clientWords)
            val both = assertThrows<MendException.Validation> {
                v.updateRupture(r, RuptureUpdate(atMinute = 3L, clear = listOf(RuptureField.AT_MINUTE)))
            }
            assertEquals("at_minute", both.field)

            v.setRuptureStatus(r, RuptureStatus.IN_PROGRESS, 6L, "t-1", s2)
            assertEquals(
                listOf(RuptureStatus.UNADDRESSED, RuptureStatus.IN_PROGRESS),
                v.rupture(r).statusLog.map { it.to },
            )
            v.voidRupture(r, "Logged for the wrong client", "t-1", 7L)
            assertEquals("Logged for the wrong client", v.rupture(r).voided?.reason)
            val entry = v.timeline(c).filterIsInstance<TimelineEntry.Rupture>().single()
            assertTrue(entry.voided)
            assertThrows<MendException.Validation> { v.spliceRuptureText(r, RuptureText.NARRATIVE, 0uL, 0uL, "x") }

            v.setDeviceName("Clinic iPad")
            val me = v.devices().single()
            assertEquals("Clinic iPad", me.name)
            assertTrue(me.thisDevice && me.addedAt != null)
            assertThrows<MendException.Validation> { v.setDeviceName("two\nlines") }
        }
    }

    @Test
    fun aConflictIsResolvedWithATypedChoice(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("c1.mend").use { phone ->
            val c = phone.createClient(NewClient("C-0013", null, "US", null))
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            Vault.joinInMemory(dir.resolve("c2.mend").toString(), key, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                phone.setClientStatus(c, ClientStatus.ON_HOLD)
                tablet.setClientStatus(c, ClientStatus.DISCHARGED)
                phone.syncInMemory(relay, null)
                tablet.syncInMemory(relay, null)
                val conflict = tablet.conflicts().single()
                val offered = conflict.values.map { it.choice }.toSet()
                assertEquals(setOf(ConflictChoice.ClientStatus(ClientStatus.ON_HOLD), ConflictChoice.ClientStatus(ClientStatus.DISCHARGED)), offered)
                // A choice for a field a client does not have is refused.
                assertThrows<MendException.Validation> { tablet.resolveConflictWith(c, ConflictChoice.Significance(3L)) }
                tablet.resolveConflictWith(c, ConflictChoice.ClientStatus(ClientStatus.ON_HOLD))
                tablet.syncInMemory(relay, null)
                phone.syncInMemory(relay, null)
                assertEquals(listOf<Conflict>(), phone.conflicts())
                assertEquals(ClientStatus.ON_HOLD, phone.client(c).status)
            }
        }
    }

    @Test
    fun twoVaultsSyncThroughAnInProcessRelay(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("phone.mend").use { phone ->
            val c = phone.createClient(NewClient("C-0005", null, "US", null))
            val n = soap(phone, session(phone, c))
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            Vault.joinInMemory(dir.resolve("tablet.mend").toString(), ByteArray(32) { 9 }, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                phone.spliceNoteSection(n, "plan", 0uL, 0uL, "phone")
                tablet.spliceNoteSection(n, "assessment", 0uL, 0uL, "tablet")
                repeat(2) {
                    phone.syncInMemory(relay, null)
                    tablet.syncInMemory(relay, null)
                }
                assertEquals(phone.note(n), tablet.note(n))
                assertEquals("phone", tablet.note(n).sections.first { it.key == "plan" }.text)
                assertThrows<MendException.InviteUsed> {
                    Vault.joinInMemory(dir.resolve("again.mend").toString(), key, invite, code, relay)
                }
            }
            val held = relay.dump().toString(Charsets.ISO_8859_1)
            assertFalse(held.contains("Slept badly"))
            assertFalse(held.contains("C-0005"))
        }
    }

    @Test
    fun aTransportWrittenInKotlin(): Unit = runBlocking {
        // A whole relay in a few lines of Kotlin, through the foreign SyncTransport interface.
        val transport = KotlinRelay()
        vault("a.mend").use { a ->
            val c = a.createClient(NewClient("C-0006", null, "US", null))
            val code = generateInviteCode()
            val invite = a.exportInvite(code, Long.MAX_VALUE)
            val report = a.syncWith(transport, null)
            assertTrue(report.pushed > 0uL)
            Vault.joinWith(dir.resolve("b.mend").toString(), key, invite, code, transport).use { b ->
                b.syncWith(transport, null)
                assertEquals("C-0006", b.client(c).aliasCode)
            }
        }
    }

    @Test
    fun aSyncThatFailsPartWayStillTellsObserversToRefresh(): Unit = runBlocking {
        // A relay that serves one bundle per page and fails on the second page: observers are
        // told to refresh (an empty list) for what the first page applied, and nothing is lost.
        val transport = KotlinRelay()
        vault("p1.mend").use { a ->
            val code = generateInviteCode()
            val invite = a.exportInvite(code, Long.MAX_VALUE)
            a.syncWith(transport, null)
            Vault.joinWith(dir.resolve("p2.mend").toString(), key, invite, code, transport).use { b ->
                b.syncWith(transport, null)
                val first = a.createClient(NewClient("C-0011", null, "US", null))
                a.createClient(NewClient("C-0012", null, "US", null))
                a.syncWith(transport, null)
                val heard = CopyOnWriteArrayList<List<String>>()
                val token = b.observe(object : VaultObserver {
                    override fun recordsChanged(ids: List<String>) { heard.add(ids) }
                })
                transport.failAfterOnePage = true
                assertThrows<MendException.Transport> { b.syncWith(transport, null) }
                assertEquals(listOf(listOf<String>()), heard, "one 'refresh' for the page applied before the failure")
                // Nothing is lost: the next sync picks up where the failed one stopped.
                transport.failAfterOnePage = false
                b.syncWith(transport, null)
                assertEquals("C-0011", b.client(first).aliasCode)
                assertEquals(setOf("C-0011", "C-0012"), b.clients().mapNotNull { it.aliasCode }.toSet())
                token.close()
            }
        }
    }

    @Test
    fun observersHearLocalEditsAndSyncs(): Unit = runBlocking {
        val relay = InMemoryRelay()
        vault("o1.mend").use { phone ->
            val seen = CopyOnWriteArrayList<String>()
            val token = phone.observe(object : VaultObserver {
                override fun recordsChanged(ids: List<String>) { seen.addAll(ids) }
            })
            val c = phone.createClient(NewClient("C-0007", null, "US", null))
            assertTrue(seen.contains(c))
            val code = generateInviteCode()
            val invite = phone.exportInvite(code, Long.MAX_VALUE)
            phone.syncInMemory(relay, null)
            Vault.joinInMemory(dir.resolve("o2.mend").toString(), key, invite, code, relay).use { tablet ->
                tablet.syncInMemory(relay, null)
                val changed = run {
                    withTimeout(10_000) {
                        coroutineScope {
                            val first = async { tablet.changes().first() }
                            // Give the collector a moment to register before changing anything.
                            delay(100)
                            phone.setClientStatus(c, ClientStatus.ON_HOLD)
                            phone.syncInMemory(relay, null)
                            tablet.syncInMemory(relay, null)
                            first.await()
                        }
                    }
                }
                assertTrue(changed.contains(c), "the tablet's observer heard about $c: $changed")
                val progress = CopyOnWriteArrayList<SyncProgress>()
                phone.setClientStatus(c, ClientStatus.DISCHARGED)
                phone.syncInMemory(relay, syncListener { progress.add(it); true })
                assertTrue(progress.isNotEmpty())
            }
            token.close()
        }
    }

    @Test
    fun callsFromManyThreads(): Unit = runBlocking {
        vault().use { v ->
            val c = v.createClient(NewClient("C-0008", null, "US", null))
            val n = soap(v, session(v, c))
            val pool = Executors.newFixedThreadPool(8)
            val errors = CopyOnWriteArrayList<Throwable>()
            repeat(8) { t ->
                pool.submit {
                    try {
                        repeat(20) {
                            v.spliceNoteSection(n, "plan", 0uL, 0uL, "x")
                            v.note(n)
                            v.clients()
                            v.createSession(NewSession(c, t.toLong(), null, null, SessionStatus.SCHEDULED, Modality.INDIVIDUAL, Setting.TELEHEALTH_VIDEO, null))
                        }
                    } catch (e: Throwable) { errors.add(e) }
                }
            }
            pool.shutdown()
            assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS))
            assertEquals(listOf<Throwable>(), errors)
            assertEquals(160, v.note(n).sections.first { it.key == "plan" }.text.length)
            assertEquals(161, v.timeline(c).count { it is TimelineEntry.Session })
        }
    }
}

/** A whole relay in a few lines of Kotlin, through the foreign SyncTransport interface. With
 *  [failAfterOnePage], a sync's pulls get one bundle per page and the second pull fails. */
private class KotlinRelay : SyncTransport {
    private val log = CopyOnWriteArrayList<Pair<ULong, ByteArray>>()
    private val claimed = ConcurrentHashMap.newKeySet<String>()
    private var pulls = 0
    var failAfterOnePage = false
        set(value) { field = value; pulls = 0 }

    override fun push(vaultId: String, bundles: List<ByteArray>) {
        synchronized(log) { bundles.forEach { log.add(Pair((log.size + 1).toULong(), it)) } }
    }
    override fun pull(vaultId: String, since: ULong, limit: UInt): TransportPage {
        if (failAfterOnePage && pulls++ >= 1) throw MendException.Transport("connection reset")
        val after = log.filter { it.first > since }
        val page = after.take(if (failAfterOnePage) 1 else limit.toInt())
        return TransportPage(page.map { TransportItem(it.first, it.second) }, (after.size - page.size).toULong(), log.size.toULong())
    }
    override fun uploadSnapshot(vaultId: String, recordId: String, covers: ULong, bundle: ByteArray) {}
    override fun dropKeyIds(vaultId: String, keyIds: List<String>) {}
    override fun claimInvite(vaultId: String, inviteId: String) {
        if (!claimed.add(inviteId)) throw MendException.InviteUsed()
    }
}
