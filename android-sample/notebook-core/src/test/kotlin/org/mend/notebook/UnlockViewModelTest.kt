// The unlock gate against real vault files: first run, reopen, wrong key, missing key, the
// inactivity lock with an injected clock, and what screens see after locking.
package org.mend.notebook

import java.io.File
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

class UnlockViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun firstRunCreatesKeyAndVaultThenReopens() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        assertFalse(device.gate.hasVault)
        assertFalse(device.keys.hasKey())
        val nb = device.unlock()
        assertTrue(device.gate.hasVault)
        assertTrue(device.keys.hasKey())
        val list = ClientListViewModel(nb)
        list.addClient("C-0101", "US-CA").getOrThrow()
        device.gate.lock()
        assertEquals(LockState.Locked, device.gate.state.value)
        assertTrue(nb.isClosed)

        val again = device.unlock()
        val list2 = ClientListViewModel(again)
        list2.refresh().getOrThrow()
        assertEquals(listOf("C-0101"), list2.state.value.clients.map { it.alias })
    }

    @Test
    fun aWrongKeyIsATypedErrorAndWritesNothing() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        device.unlock()
        device.gate.lock()
        val before = File(device.path).readBytes()

        val other = InMemoryKeyVault(ByteArray(32) { 3 })
        val thief = UnlockViewModel(device.path, other, InMemorySettingsStore(), device.clock)
        val result = thief.unlock()
        failureOf<NotebookError.WrongKey>(result)
        val state = assertInstanceOf(LockState.Failed::class.java, thief.state.value)
        assertInstanceOf(NotebookError.WrongKey::class.java, state.error)
        assertArrayEquals(before, File(device.path).readBytes(), "a failed unlock must not write to the vault file")

        // The right key still opens it.
        assertTrue(device.gate.unlock().isSuccess)
    }

    @Test
    fun aSecondHandleOnAnOpenNotebookIsATypedErrorAndWritesNothing() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        ClientListViewModel(nb).addClient("C-0102", "US-CA").getOrThrow()
        val before = File(device.path).readBytes()

        // A second unlock gate on the same file (a widget, a second screen) while it is open.
        val second = UnlockViewModel(device.path, device.keys, InMemorySettingsStore(), device.clock)
        val error = failureOf<NotebookError.OpenElsewhere>(second.unlock())
        assertTrue(error.inThisProcess)
        assertArrayEquals(before, File(device.path).readBytes(), "a refused open must not write to the vault file")

        // Once the first is locked (its handle closed), the second opens it with nothing lost.
        device.gate.lock()
        assertTrue(second.unlock().isSuccess)
    }

    @Test
    fun aMissingKeyForAnExistingVaultIsKeyUnavailable() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        device.unlock()
        device.gate.lock()
        device.keys.deleteKey()
        failureOf<NotebookError.KeyUnavailable>(device.gate.unlock())
        // It did not silently create a new key and a new vault over the old one.
        assertFalse(device.keys.hasKey())
    }

    @Test
    fun locksAfterInactivityMeasuredByTheInjectedClock() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val list = ClientListViewModel(nb)
        device.clock.advance(4 * 60_000)
        assertFalse(device.gate.lockIfIdle(), "4 minutes idle: still unlocked")
        device.gate.touch() // a tap is activity
        device.clock.advance(4 * 60_000)
        assertFalse(device.gate.lockIfIdle(), "4 minutes since the last tap: still unlocked")
        // Vault calls alone (a background sync, a screen refreshing after it) are not activity.
        list.refresh().getOrThrow()
        device.clock.advance(59_999)
        assertFalse(device.gate.lockIfIdle())
        device.clock.advance(1)
        assertTrue(device.gate.lockIfIdle(), "5 minutes without a tap: locked")
        assertEquals(LockState.Locked, device.gate.state.value)
        assertFalse(device.gate.lockIfIdle(), "already locked")

        // A screen still holding the old notebook gets a typed error, not a crash.
        failureOf<NotebookError.Locked>(list.refresh())
        assertInstanceOf(NotebookError.Locked::class.java, list.error.value)
        failureOf<NotebookError.Locked>(list.addClient("C-0102", "US"))
    }

    @Test
    fun joinRefusesAMalformedInviteAndAnExistingVault() = runBlocking<Unit> {
        val device = Device(dir, "tablet")
        val relay = InMemoryRelayConnection(org.mend.core.InMemoryRelay())
        val bad = device.gate.join("not an invite", "ABCD", relay)
        assertEquals(InviteProblem.MALFORMED, failureOf<NotebookError.Invite>(bad).problem)
        assertFalse(device.gate.hasVault)

        device.unlock()
        failureOf<NotebookError.InvalidState>(device.gate.join(InviteTicket.encode(ByteArray(8)), "x", relay))
    }

    @Test
    fun inviteTextRoundTrips() {
        val bytes = ByteArray(300) { it.toByte() }
        val text = InviteTicket.encode(bytes)
        assertTrue(text.startsWith("mend-invite:"))
        assertArrayEquals(bytes, InviteTicket.decode("  $text\n"))
        assertEquals(null, InviteTicket.decode("mend-invite:***"))
        assertEquals(null, InviteTicket.decode(text.removePrefix("mend-invite:")))
    }
}
