// The minimal splice between two texts, counted in code points as Mend counts them.
package org.mend.notebook

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class TextSpliceTest {
    private fun apply(before: String, s: TextSplice): String {
        val cps = before.codePoints().toArray().toMutableList()
        repeat(s.delete.toInt()) { cps.removeAt(s.pos.toInt()) }
        val out = StringBuilder()
        cps.take(s.pos.toInt()).forEach { out.appendCodePoint(it) }
        out.append(s.insert)
        cps.drop(s.pos.toInt()).forEach { out.appendCodePoint(it) }
        return out.toString()
    }

    @Test
    fun findsTheTypedPart() {
        assertEquals(TextSplice(5, 0, "!"), TextSplice.between("hello", "hello!"))
        assertEquals(TextSplice(4, 1, ""), TextSplice.between("hello", "hell"))
        assertEquals(TextSplice(1, 1, "a"), TextSplice.between("hello", "hallo"))
        assertEquals(TextSplice(0, 0, "Oh "), TextSplice.between("hello", "Oh hello"))
        assertTrue(TextSplice.between("same", "same").isEmpty)
    }

    @Test
    fun countsCodePointsNotUtf16Units() {
        // "😴" is two UTF-16 chars but one code point: the insert after it is at 2, not 3.
        assertEquals(TextSplice(2, 0, "x"), TextSplice.between("a😴", "a😴x"))
        assertEquals(TextSplice(1, 1, ""), TextSplice.between("a😴b", "ab"))
        // A repeated emoji is matched whole: no half surrogate pair is ever inserted.
        assertEquals(TextSplice(2, 0, "😴"), TextSplice.between("a😴", "a😴😴"))
    }

    @Test
    fun applyingTheSpliceGivesTheNewText() {
        val pairs = listOf("" to "abc", "abc" to "", "abcabc" to "abc", "aaa" to "aaaa", "x😴y" to "x😀y", "the cat" to "the black cat")
        for ((a, b) in pairs) assertEquals(b, apply(a, TextSplice.between(a, b)), "$a -> $b")
    }
}
