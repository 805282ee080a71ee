package org.mend.notebook

/**
 * The single splice that turns [before] into [after]: delete [delete] characters at [pos], then
 * insert [insert]. Positions count Unicode code points (what Mend's `spliceNoteSection` counts),
 * not Kotlin's UTF-16 chars, so an emoji is one character. A text field reports whole new text
 * per keystroke; this finds the common prefix and suffix so only the typed part is sent, which
 * keeps concurrent edits from other devices intact when they merge.
 */
data class TextSplice(val pos: Long, val delete: Long, val insert: String) {
    /** Whether applying it changes nothing. */
    val isEmpty: Boolean get() = delete == 0L && insert.isEmpty()

    /** Computing splices. */
    companion object {
        /** The minimal splice from [before] to [after]. */
        fun between(before: String, after: String): TextSplice {
            val a = before.codePoints().toArray()
            val b = after.codePoints().toArray()
            var prefix = 0
            val max = minOf(a.size, b.size)
            while (prefix < max && a[prefix] == b[prefix]) prefix++
            var suffix = 0
            while (suffix < max - prefix && a[a.size - 1 - suffix] == b[b.size - 1 - suffix]) suffix++
            val inserted = String(b, prefix, b.size - prefix - suffix)
            return TextSplice(prefix.toLong(), (a.size - prefix - suffix).toLong(), inserted)
        }
    }
}
