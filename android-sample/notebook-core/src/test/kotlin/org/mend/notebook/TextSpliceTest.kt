// The minimal splice between two texts, counted in UTF-16 code units as Compose and Mend count
// them, never cutting a surrogate pair.
package org.mend.notebook

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class TextSpliceTest {
    private fun apply(before: String, s: TextSplice): String =
        before.substring(0, s.pos.toInt()) + s.insert + before.substring((s.pos + s.delete).toInt())

    private fun cutsAPair(text: String, at: Int): Boolean =
        at in 1 until text.length && text[at].isLowSurrogate()

    @Test
    fun findsTheTypedPart() {
        assertEquals(TextSplice(5, 0, "!"), TextSplice.between("hello", "hello!"))
        assertEquals(TextSplice(4, 1, ""), TextSplice.between("hello", "hell"))
        assertEquals(TextSplice(1, 1, "a"), TextSplice.between("hello", "hallo"))
        assertEquals(TextSplice(0, 0, "Oh "), TextSplice.between("hello", "Oh hello"))
        assertTrue(TextSplice.between("same", "same").isEmpty)
    }

    @Test
    fun countsUtf16UnitsAsComposeDoes() {
        // "👍🏽" is two surrogate pairs: "!" typed after "OK 👍🏽" is at 7, the end, not 5.
        assertEquals(TextSplice(7, 0, "!"), TextSplice.between("OK 👍🏽", "OK 👍🏽!"))
        // After "😔 " the next word starts at 3 (two units for the emoji, one for the space).
        assertEquals(TextSplice(3, 0, "ok"), TextSplice.between("😔 ", "😔 ok"))
        assertEquals(TextSplice(1, 2, ""), TextSplice.between("a😴b", "ab"))
        // A repeated emoji is matched whole: no half surrogate pair is ever inserted.
        assertEquals(TextSplice(3, 0, "😴"), TextSplice.between("a😴", "a😴😴"))
        // ZWJ family (8 units), a combining accent, CJK: one unit per UTF-16 code unit.
        assertEquals(TextSplice(9, 0, "!"), TextSplice.between("A👨‍👩‍👧", "A👨‍👩‍👧!"))
        assertEquals(TextSplice(1, 8, ""), TextSplice.between("A👨‍👩‍👧B", "AB"))
        assertEquals(TextSplice(4, 0, "\u0301"), TextSplice.between("cafe", "cafe\u0301"))
        assertEquals(TextSplice(1, 0, "・"), TextSplice.between("漢字", "漢・字"))
    }

    @Test
    fun neverCutsASurrogatePair() {
        // 😀 U+D83D U+DE00 and 😁 U+D83D U+DE01 share their high surrogate: the whole pair goes.
        assertEquals(TextSplice(1, 2, "😁"), TextSplice.between("x😀", "x😁"))
        // 😀 U+D83D U+DE00 and 🈀 U+D83C U+DE00 share their low surrogate.
        assertEquals(TextSplice(0, 2, "🈀"), TextSplice.between("😀y", "🈀y"))
        // A skin tone swapped: only the modifier is replaced, whole.
        assertEquals(TextSplice(5, 2, "🏿"), TextSplice.between("OK 👍🏽", "OK 👍🏿"))
    }

    @Test
    fun applyingTheSpliceGivesTheNewText() {
        val pairs = listOf(
            "" to "abc", "abc" to "", "abcabc" to "abc", "aaa" to "aaaa", "x😴y" to "x😀y",
            "the cat" to "the black cat", "😀😀" to "😀😁😀", "👍🏽" to "👍", "👍" to "👍🏽",
            "café" to "cafe\u0301", "漢字" to "字", "𠀋𠀋" to "𠀋",
        )
        for ((a, b) in pairs) {
            val s = TextSplice.between(a, b)
            assertEquals(b, apply(a, s), "$a -> $b")
            assertFalse(cutsAPair(a, s.pos.toInt()) || cutsAPair(a, (s.pos + s.delete).toInt()), "$a -> $b: $s")
        }
    }
}
