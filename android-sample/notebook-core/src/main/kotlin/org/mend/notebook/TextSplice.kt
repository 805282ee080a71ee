package org.mend.notebook

/**
 * The single splice that turns [before] into [after]: delete [delete] UTF-16 code units at [pos],
 * then insert [insert]. Positions and lengths are in UTF-16 code units, as Compose `TextRange`,
 * Android `EditText` and Kotlin `String` indices count, and as Mend's `spliceNoteSection` and
 * `spliceRuptureText` take them. A text field reports whole new text per keystroke; this finds
 * the common prefix and suffix so only the typed part is sent, which keeps concurrent edits from
 * other devices intact when they merge. Neither end ever falls between the two halves of a
 * surrogate pair (Mend refuses such a position): a prefix or suffix that would is shortened by
 * one unit, so the whole character is replaced.
 */
data class TextSplice(val pos: Long, val delete: Long, val insert: String) {
    /** Whether applying it changes nothing. */
    val isEmpty: Boolean get() = delete == 0L && insert.isEmpty()

    /** Computing splices. */
    companion object {
        /** The minimal splice from [before] to [after], in UTF-16 code units. */
        fun between(before: String, after: String): TextSplice {
            val max = minOf(before.length, after.length)
            var prefix = 0
            while (prefix < max && before[prefix] == after[prefix]) prefix++
            // Ending on a high surrogate would cut its pair (in either text, which share it).
            if (prefix > 0 && before[prefix - 1].isHighSurrogate()) prefix--
            var suffix = 0
            while (suffix < max - prefix && before[before.length - 1 - suffix] == after[after.length - 1 - suffix]) suffix++
            // Starting on a low surrogate would cut its pair.
            if (suffix > 0 && before[before.length - suffix].isLowSurrogate()) suffix--
            val inserted = after.substring(prefix, after.length - suffix)
            return TextSplice(prefix.toLong(), (before.length - prefix - suffix).toLong(), inserted)
        }
    }
}
