// Two devices through the bindings' in-memory relay: an invite made in Settings and joined on
// the unlock screen, device names and join order, sync progress, conflicts listed (by record
// kind, client and device name) and resolved in the inbox, one rupture edited on both devices,
// both typing into one narrative offline, a void reaching the other device, a signed note's late
// edits surfacing as a divergence, live refresh from the change flow, and revocation.
package org.mend.notebook

import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.model.ClientStatus
import org.mend.core.InMemoryRelay
import org.mend.model.InitiatedBy
import org.mend.model.Movement
import org.mend.model.NoteFormat
import org.mend.model.NoteState
import org.mend.model.Precipitant
import org.mend.core.RecordKind
import org.mend.model.RuptureMarker
import org.mend.model.RuptureText
import org.mend.core.SyncProgress
import org.mend.core.TimelineEntry

class TwoDevicesTest {
    @TempDir
    lateinit var dir: Path

    private val relay = InMemoryRelayConnection(InMemoryRelay())

    /** A device whose sync goes through the shared in-memory relay. */
    private inner class Phone(name: String) {
        val device = Device(dir, name)
        lateinit var nb: Notebook
        lateinit var sync: SyncService
        fun open(notebook: Notebook) = apply {
            nb = notebook
            sync = SyncService(nb) { relay }
        }
        suspend fun syncOnce() = sync.sync().getOrThrow()
    }

    private suspend fun pair(): Pair<Phone, Phone> {
        val phone = Phone("phone").apply { open(device.unlock()) }
        val settings = SettingsViewModel(phone.nb, phone.sync)
        val ticket = settings.createInvite(validForMillis = 3_600_000).getOrThrow()
        assertEquals(ticket, settings.state.value.invite)
        assertTrue(ticket.payload.startsWith("mend-invite:"))

        val tablet = Phone("tablet")
        val wrong = tablet.device.gate.join(ticket.payload, ticket.code.reversed(), relay)
        assertEquals(InviteProblem.WRONG_CODE, failureOf<NotebookError.Invite>(wrong).problem)
        tablet.open(tablet.device.gate.join(ticket.payload, ticket.code, relay).getOrThrow())
        tablet.syncOnce()
        return phone to tablet
    }

    @Test
    fun inviteJoinAndNamedDevicesInJoinOrder() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val phoneSettings = SettingsViewModel(phone.nb, phone.sync)
        phone.syncOnce()
        phoneSettings.refresh().getOrThrow()
        val unnamed = phoneSettings.state.value.devices
        assertEquals(listOf(phone.nb.deviceId, tablet.nb.deviceId), unnamed.map { it.id }, "listed in the order they joined")
        assertEquals(listOf(true, false), unnamed.map { it.thisDevice })
        assertEquals(listOf(null, null), unnamed.map { it.name })
        assertEquals("Device " + tablet.nb.deviceId.take(8), unnamed[1].label, "a device without a name shows a short id")
        val (phoneJoined, tabletJoined) = unnamed.map { assertNotNull(it.addedAt, "join time recorded"); it.addedAt!! }
        assertTrue(phoneJoined <= tabletJoined)
        assertEquals("", phoneSettings.state.value.deviceName)

        // A name is one line of 1 to 64 characters (counted as Mend counts them: code points).
        for (bad in listOf("   ", "x".repeat(65), "Clinic\nphone")) {
            assertEquals("deviceName", failureOf<NotebookError.Validation>(phoneSettings.saveDeviceName(bad)).field)
            assertNotNull(phoneSettings.state.value.deviceNameError)
        }
        val emoji = "🙂".repeat(64)
        phoneSettings.saveDeviceName(emoji).getOrThrow()
        assertEquals(emoji, phoneSettings.state.value.devices[0].name, "64 emoji are 64 characters, 128 UTF-16 units")
        phoneSettings.saveDeviceName("  Clinic phone ").getOrThrow()
        assertEquals("Clinic phone", phoneSettings.state.value.deviceName)
        assertNull(phoneSettings.state.value.deviceNameError)
        val tabletSettings = SettingsViewModel(tablet.nb, tablet.sync)
        tabletSettings.saveDeviceName("Home tablet").getOrThrow()

        // The names travel through the device registry.
        phone.syncOnce()
        tablet.syncOnce()
        phone.syncOnce()
        for ((settings, me) in listOf(phoneSettings to 0, tabletSettings to 1)) {
            settings.refresh().getOrThrow()
            val rows = settings.state.value.devices
            assertEquals(listOf("Clinic phone", "Home tablet"), rows.map { it.label })
            assertEquals(me, rows.indexOfFirst { it.thisDevice })
            assertEquals(listOf(phoneJoined, tabletJoined), rows.map { it.addedAt })
        }

        // A device cannot revoke itself; revoking the tablet is seen by both devices.
        failureOf<NotebookError.InvalidState>(phoneSettings.revokeDevice(phone.nb.deviceId))
        phone.nb.settings.relayAddress = RelayAddress.parse("https://relay.example.org").getOrThrow()
        phoneSettings.revokeDevice(tablet.nb.deviceId).getOrThrow()
        assertTrue(phoneSettings.state.value.devices.single { it.id == tablet.nb.deviceId }.revoked)
        tablet.syncOnce()
        tabletSettings.refresh().getOrThrow()
        assertTrue(tabletSettings.state.value.devices.single { it.thisDevice }.revoked)
    }

    @Test
    fun syncProgressAndPendingChanges() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val list = ClientListViewModel(phone.nb)
        repeat(3) { list.addClient("C-05%02d".format(it), "US-CA").getOrThrow() }
        val status = SyncViewModel(phone.nb, phone.sync)
        status.refresh().getOrThrow()
        assertTrue(status.state.value.pendingChanges >= 3, "three new clients wait to be pushed: ${status.state.value.pendingChanges}")

        val report = status.syncNow().getOrThrow()
        assertTrue(report.pushed >= 3uL)
        val done = assertInstanceOf(SyncPhase.Done::class.java, status.state.value.phase)
        assertEquals(report, done.report)
        assertEquals(phone.device.clock.nowMillis(), status.state.value.lastSuccessAt)
        assertEquals(0L, status.state.value.pendingChanges)
        val shown = status.state.value.lastProgress
        assertNotNull(shown, "the screen was given progress")
        assertEquals(report.pushed, shown!!.pushed)
        assertEquals(1f, SyncViewModel.fraction(shown))

        // Progress: the tablet pulls the three clients and hears counts that reach the total.
        val progress = CopyOnWriteArrayList<SyncProgress>()
        tablet.sync.sync { progress.add(it); true }.getOrThrow()
        assertTrue(progress.isNotEmpty())
        val last = progress.last()
        assertTrue(last.pulled >= 3uL, "$last")
        assertEquals(1f, SyncViewModel.fraction(last))
        assertEquals(null, SyncViewModel.fraction(SyncProgress(0uL, 0uL, 0uL, 0uL)))
        assertEquals(0.25f, SyncViewModel.fraction(SyncProgress(1uL, 2uL, 0uL, 2uL)))
        val tabletList = ClientListViewModel(tablet.nb)
        tabletList.refresh().getOrThrow()
        assertEquals(3, tabletList.state.value.clients.size)

        // Returning false from a progress report cancels; the next sync finishes the work.
        repeat(3) { tabletList.addClient("C-06%02d".format(it), "US-CA").getOrThrow() }
        val cancelled = tablet.sync.sync { false }.getOrThrow()
        assertTrue(cancelled.cancelled)
        val resumed = tablet.sync.sync().getOrThrow()
        assertFalse(resumed.cancelled)
        assertEquals(0L, tablet.sync.pendingChanges().getOrThrow())
    }

    @Test
    fun aSyncWithoutRelayOrReachableRelayIsATypedError() = runBlocking<Unit> {
        val nb = Device(dir, "solo").unlock()
        val off = SyncViewModel(nb, SyncService(nb) { null })
        failureOf<NotebookError.NoRelay>(off.syncNow())
        assertInstanceOf(SyncPhase.Failed::class.java, off.state.value.phase)
        // Nothing listens on port 9 of this machine: the built-in HTTP path reports Transport.
        val down = HttpRelay(RelayAddress.parse("http://127.0.0.1:9").getOrThrow())
        val failing = SyncViewModel(nb, SyncService(nb) { down })
        failureOf<NotebookError.Transport>(failing.syncNow())
        assertInstanceOf(NotebookError.Transport::class.java, failing.error.value)
    }

    @Test
    fun conflictInboxListsAndResolvesAConflictFromTwoDevices() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val client = ClientListViewModel(phone.nb).addClient("C-0701", "US-CA").getOrThrow()
        val form = RuptureFormViewModel(phone.nb, client)
        form.update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3) }
        form.toggle(RuptureMarker.WD_DEFERENTIAL_APPEASING)
        val rupture = form.save().getOrThrow()
        SettingsViewModel(phone.nb, phone.sync).saveDeviceName("Clinic phone").getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()

        // Both devices re-rate the significance offline, and set the client's status.
        form.update { it.copy(significance = 4) }
        form.saveChanges().getOrThrow()
        val tabletForm = RuptureFormViewModel(tablet.nb, client, rupture)
        tabletForm.refresh().getOrThrow()
        tabletForm.update { it.copy(significance = 2) }
        tabletForm.saveChanges().getOrThrow()
        ClientListViewModel(phone.nb).setStatus(client, ClientStatus.ON_HOLD).getOrThrow()
        ClientListViewModel(tablet.nb).setStatus(client, ClientStatus.DISCHARGED).getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()
        phone.syncOnce()

        // The tablet never logged the client or the rupture: each row is named from the
        // conflict's record kind and client id.
        val inbox = ConflictInboxViewModel(tablet.nb)
        inbox.refresh().getOrThrow()
        val (clientRow, row) = inbox.state.value.conflicts.also { assertEquals(2, it.size) }
        assertEquals(RecordKind.CLIENT, clientRow.recordKind)
        assertEquals(client, clientRow.recordId)
        assertEquals(client, clientRow.clientId)
        assertEquals("Client C-0701", clientRow.subject)
        assertEquals("status", clientRow.field)
        assertEquals(setOf("On hold", "Discharged"), clientRow.choices.map { it.label }.toSet())
        assertEquals(rupture, row.recordId)
        assertEquals(RecordKind.RUPTURE, row.recordKind)
        assertEquals(client, row.clientId)
        assertEquals("significance", row.field)
        assertEquals("Rupture · C-0701", row.subject)
        assertEquals(setOf("2", "4"), row.choices.map { it.value }.toSet())
        assertEquals(setOf("This device", "Clinic phone"), row.choices.map { it.device }.toSet(), "the other device by its name")

        failureOf<NotebookError.Validation>(inbox.resolve(row, "5"))
        inbox.resolve(row, "4").getOrThrow()
        inbox.state.value.conflicts.single().let { r -> inbox.resolve(r, r.choices.first { it.label == "On hold" }.value).getOrThrow() }
        assertTrue(inbox.state.value.conflicts.isEmpty())
        tablet.syncOnce()
        phone.syncOnce()
        val phoneInbox = ConflictInboxViewModel(phone.nb)
        phoneInbox.refresh().getOrThrow()
        assertTrue(phoneInbox.state.value.conflicts.isEmpty())
        form.refresh().getOrThrow()
        assertEquals(4L, form.state.value.saved!!.significance)
    }

    @Test
    fun editsOfOneRuptureOnTwoDevicesMerge() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val client = ClientListViewModel(phone.nb).addClient("C-0702", "US-CA").getOrThrow()
        val form = RuptureFormViewModel(phone.nb, client)
        form.update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3, narrative = "Went quiet") }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        val rupture = form.save().getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()

        // Offline, the phone swaps a marker while the tablet adds a precipitant and extends the
        // narrative. Each sends only its own changes, so neither undoes the other.
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        form.toggle(RuptureMarker.WD_GIVING_UP)
        form.saveChanges().getOrThrow()
        val tabletForm = RuptureFormViewModel(tablet.nb, client, rupture)
        tabletForm.refresh().getOrThrow()
        tabletForm.toggle(Precipitant.EXTERNAL_EVENT)
        tabletForm.saveChanges().getOrThrow()
        tabletForm.editText(RuptureText.NARRATIVE, "Went quiet after the homework review").getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()
        phone.syncOnce()

        for (f in listOf(form, tabletForm)) {
            f.refresh().getOrThrow()
            val r = f.state.value.saved!!
            assertEquals(listOf(RuptureMarker.WD_GIVING_UP), r.markers)
            assertEquals(listOf(Precipitant.EXTERNAL_EVENT), r.precipitants)
            assertEquals("Went quiet after the homework review", r.narrative)
            assertEquals(RuptureForm.of(r), f.state.value.form)
        }
        val inbox = ConflictInboxViewModel(phone.nb)
        inbox.refresh().getOrThrow()
        assertTrue(inbox.state.value.conflicts.isEmpty(), "no field was written on both devices")
    }

    @Test
    fun twoDevicesTypeIntoOneNarrativeOfflineAndConverge() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val client = ClientListViewModel(phone.nb).addClient("C-0703", "US-CA").getOrThrow()
        val form = RuptureFormViewModel(phone.nb, client)
        form.update { it.copy(movement = Movement.WITHDRAWAL, initiatedBy = InitiatedBy.CLIENT, significance = 3, narrative = "Went quiet.") }
        form.toggle(RuptureMarker.WD_MINIMAL_RESPONSE)
        val rupture = form.save().getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()
        val tabletForm = RuptureFormViewModel(tablet.nb, client, rupture).apply { refresh().getOrThrow() }

        // Offline, keystroke by keystroke: the phone adds a sentence at the end, the tablet
        // writes a heading (with an emoji) at the start and corrects a word in the middle.
        val ending = " Looked at the floor."
        for (n in 1..ending.length) form.editText(RuptureText.NARRATIVE, "Went quiet." + ending.take(n)).getOrThrow()
        val heading = "🙂 Review: "
        var tabletText = "Went quiet."
        for (cp in heading.codePoints().toArray().reversed()) {
            tabletText = String(Character.toChars(cp)) + tabletText
            tabletForm.editText(RuptureText.NARRATIVE, tabletText).getOrThrow()
        }
        tabletForm.editText(RuptureText.NARRATIVE, tabletText.replace("quiet", "silent")).getOrThrow()
        // Both also start the follow-up plan.
        form.editText(RuptureText.FOLLOW_UP_NOTE, "Ask about it.").getOrThrow()
        tabletForm.editText(RuptureText.FOLLOW_UP_NOTE, "Bring a worksheet.").getOrThrow()

        phone.syncOnce()
        tablet.syncOnce()
        phone.syncOnce()

        val expected = "🙂 Review: Went silent. Looked at the floor."
        val notes = mutableSetOf<String>()
        for (f in listOf(form, tabletForm)) {
            f.refresh().getOrThrow()
            assertEquals(expected, f.state.value.saved!!.narrative)
            assertEquals(expected, f.state.value.form.narrative)
            notes += f.state.value.form.followUpNote
        }
        // Two inserts at the same place both survive, in one order on both devices.
        val note = notes.single()
        assertTrue(note == "Ask about it.Bring a worksheet." || note == "Bring a worksheet.Ask about it.", note)
        val inbox = ConflictInboxViewModel(phone.nb)
        inbox.refresh().getOrThrow()
        assertTrue(inbox.state.value.conflicts.isEmpty(), "texts merge by character, never as a conflict")
    }

    @Test
    fun aVoidOnOneDeviceReachesTheOther() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val client = ClientListViewModel(phone.nb).addClient("C-0704", "US-CA").getOrThrow()
        val form = RuptureFormViewModel(phone.nb, client)
        form.update { it.copy(movement = Movement.CONFRONTATION, initiatedBy = InitiatedBy.CLIENT, significance = 3) }
        form.toggle(RuptureMarker.CF_COMPLAINT_ABOUT_PARAMETERS)
        val rupture = form.save().getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()
        val tabletTimeline = TimelineViewModel(tablet.nb, client)
        tabletTimeline.refresh().getOrThrow()
        assertEquals(1, tabletTimeline.state.value.unresolvedRuptures)
        // The tablet has the rupture open with a correction not saved yet.
        val tabletForm = RuptureFormViewModel(tablet.nb, client, rupture).apply { refresh().getOrThrow() }
        tabletForm.update { it.copy(significance = 5) }

        form.voidRupture("Logged for the wrong client").getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()

        // The tablet's save is refused by Mend; the screen then shows the void.
        assertEquals("rupture", failureOf<NotebookError.Validation>(tabletForm.saveChanges()).field)
        val voided = tabletForm.state.value.saved!!.voided!!
        assertEquals("Logged for the wrong client", voided.reason)
        assertEquals(phone.nb.settings.clinicianId, voided.by)
        assertTrue(tabletForm.state.value.isVoided)
        assertFalse(tabletForm.state.value.hasUnsavedChanges)
        assertEquals("rupture", failureOf<NotebookError.Validation>(tabletForm.editText(RuptureText.NARRATIVE, "x")).field)
        tabletTimeline.refresh().getOrThrow()
        assertTrue(tabletTimeline.state.value.entries.filterIsInstance<TimelineEntry.Rupture>().single().voided)
        assertEquals(0, tabletTimeline.state.value.unresolvedRuptures)
        assertEquals(0, tabletTimeline.state.value.ruptures)
        assertEquals(3L, tablet.nb.call { v -> v.rupture(rupture).significance }.getOrThrow())
    }

    @Test
    fun lateEditsToASignedNoteBecomeADivergence() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val client = ClientListViewModel(phone.nb).addClient("C-0801", "US-CA").getOrThrow()
        val timeline = TimelineViewModel(phone.nb, client)
        val session = timeline.addSession(phone.nb.clock.nowMillis()).getOrThrow()
        val noteId = timeline.startNote(session, NoteFormat.SOAP).getOrThrow()
        val phoneEditor = NoteEditorViewModel(phone.nb, noteId).apply { refresh().getOrThrow() }
        phoneEditor.edit("plan", "Review in a week").getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()

        // The phone signs while the tablet, offline, keeps typing.
        phoneEditor.sign().getOrThrow()
        val tabletEditor = NoteEditorViewModel(tablet.nb, noteId).apply { refresh().getOrThrow() }
        tabletEditor.edit("plan", "Review in a week; call GP").getOrThrow()
        tablet.syncOnce()
        phone.syncOnce()
        tablet.syncOnce()

        phoneEditor.refresh().getOrThrow()
        assertEquals(NoteState.SIGNED, phoneEditor.state.value.note!!.state)
        assertEquals("Review in a week", phoneEditor.state.value.sections.first { it.key == "plan" }.text)
        val divergence = phoneEditor.state.value.divergence
        assertNotNull(divergence, "the tablet's late edit is a divergence")
        assertEquals("Review in a week; call GP", divergence!!.sections.single { it.section == "plan" }.current)

        val addendum = phoneEditor.resolveDivergence(keepAsAddendum = true).getOrThrow()
        assertNotNull(addendum)
        assertNull(phoneEditor.state.value.divergence)
        assertTrue(phoneEditor.state.value.note!!.addenda.any { it.id == addendum })
    }

    @Test
    fun screensRefreshFromTheChangeFlowAfterASync() = runBlocking<Unit> {
        val (phone, tablet) = pair()
        val tabletList = ClientListViewModel(tablet.nb)
        tabletList.refresh().getOrThrow()
        val job = tabletList.observeChanges(this)
        // Let the collector subscribe before anything changes.
        kotlinx.coroutines.delay(200)
        ClientListViewModel(phone.nb).addClient("C-0901", "US-CA").getOrThrow()
        phone.syncOnce()
        tablet.syncOnce()
        withTimeout(10_000) { tabletList.state.first { s -> s.clients.any { it.alias == "C-0901" } } }
        job.cancel()
    }
}
