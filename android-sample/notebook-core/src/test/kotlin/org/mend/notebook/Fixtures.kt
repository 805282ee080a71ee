// Test helpers: a clock the tests move by hand, and notebooks on real encrypted vault files.
package org.mend.notebook

import java.nio.file.Path
import java.util.concurrent.atomic.AtomicLong
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.fail

/** A clock that only moves when told to (it starts at the real time: invite expiry is checked
 *  by Mend against the system clock). */
class ManualClock(start: Long = System.currentTimeMillis()) : Clock {
    private val now = AtomicLong(start)
    override fun nowMillis(): Long = now.get()

    /** Moves the clock forward. */
    fun advance(millis: Long) {
        now.addAndGet(millis)
    }
}

/** One device: its key store, settings and unlock gate, over a vault file in [dir]. */
class Device(
    dir: Path,
    name: String,
    val clock: ManualClock = ManualClock(),
    val keys: KeyVault = InMemoryKeyVault(),
    val settings: SettingsStore = InMemorySettingsStore(clinicianName = "Dr. $name"),
) {
    val path: String = dir.resolve("$name.mend").toString()
    val gate = UnlockViewModel(path, keys, settings, clock, idleTimeoutMillis = 5 * 60_000, io = Dispatchers.IO)

    /** Unlocks (creating on first use) and returns the notebook. */
    fun unlock(): Notebook = runBlocking { gate.unlock() }.getOrThrow()
}

/** The failure of [result], checked to be an [E]. */
inline fun <reified E : NotebookError> failureOf(result: Result<*>): E {
    val e = result.exceptionOrNull() ?: fail("expected a failure, got ${result.getOrNull()}")
    return assertInstanceOf(E::class.java, e)
}
