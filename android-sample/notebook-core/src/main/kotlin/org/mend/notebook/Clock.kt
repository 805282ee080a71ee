package org.mend.notebook

/** Wall-clock time in milliseconds since the epoch. Injected so that the inactivity lock and the
 *  times written into records (signatures, status changes) can be driven by tests. */
fun interface Clock {
    /** Milliseconds since 1970-01-01T00:00:00Z. */
    fun nowMillis(): Long
}

/** The system clock. */
object SystemClock : Clock {
    override fun nowMillis(): Long = System.currentTimeMillis()
}
