// The note editor against a real vault: live typing saved as splices and read back after a
// relock, signing, NoteLocked after signing, addenda, and the formats' sections.
package org.mend.notebook

import java.nio.file.Path
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.mend.model.AddendumKind
import org.mend.model.NoteFormat
import org.mend.model.NoteState
import org.mend.model.RiskLevel
import org.mend.model.SignerRole
import org.mend.signed

class NoteEditorViewModelTest {
    @TempDir
    lateinit var dir: Path

    private suspend fun newNote(nb: Notebook, format: NoteFormat): String {
        val client = ClientListViewModel(nb).addClient("C-0201", "US-CA").getOrThrow()
        val timeline = TimelineViewModel(nb, client)
        val session = timeline.addSession(nb.clock.nowMillis() - 3_600_000).getOrThrow()
        return timeline.startNote(session, format).getOrThrow()
    }

    private fun NoteEditorViewModel.text(key: String) = state.value.sections.first { it.key == key }.text

    @Test
    fun liveTypingIsSavedKeystrokeByKeystrokeAndReloads() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val noteId = newNote(nb, NoteFormat.SOAP)
        val editor = NoteEditorViewModel(nb, noteId)
        editor.refresh().getOrThrow()
        assertEquals(listOf("subjective", "objective", "assessment", "plan"), editor.state.value.sections.map { it.key })
        assertEquals("Subjective", editor.state.value.sections.first().label)

        // Type "Slept badly", one keystroke at a time, then fix a typo in the middle and add an emoji.
        var typed = ""
        for (ch in "Slept badly") {
            typed += ch
            editor.edit("subjective", typed).getOrThrow()
        }
        editor.edit("subjective", "Slept very badly").getOrThrow()
        editor.edit("subjective", "Slept very badly 😴, tired").getOrThrow()
        editor.edit("subjective", "Slept very badly 😴; tired").getOrThrow() // an edit after the emoji
        editor.edit("plan", "Sleep diary").getOrThrow()
        assertEquals("Slept very badly 😴; tired", editor.text("subjective"))

        // Read back from the vault file after locking and unlocking: every keystroke was stored.
        device.gate.lock()
        val reopened = device.unlock()
        val again = NoteEditorViewModel(reopened, noteId)
        again.refresh().getOrThrow()
        assertEquals("Slept very badly 😴; tired", again.text("subjective"))
        assertEquals("Sleep diary", again.text("plan"))
        assertEquals("", again.text("objective"))
        assertFalse(again.state.value.locked)

        failureOf<NotebookError.Validation>(again.edit("data", "not a SOAP section"))
    }

    @Test
    fun typingAroundEmojiAccentsAndCjkStoresWhatTheFieldShows() = runBlocking<Unit> {
        val nb = Device(dir, "phone").unlock()
        val noteId = newNote(nb, NoteFormat.SOAP)
        val editor = NoteEditorViewModel(nb, noteId)
        editor.refresh().getOrThrow()
        // Each text as a Compose text field reports it after a keystroke, in order: the splices
        // count UTF-16 units, so nothing lands inside an emoji or after the wrong character.
        val steps = listOf(
            "OK 👍🏽", "OK 👍🏽!", "OK 👍!", "OK 👍🏿!", "OK 👍🏿! 😔 ", "OK 👍🏿! 😔 tired",
            "OK 👍🏿! 😔 tired 👨‍👩‍👧", "OK 👍🏿! 😔 tired 👨‍👩‍👧 cafe\u0301", "OK 👍🏿! 😔 tired 👨‍👩‍👧 café",
            "漢OK 👍🏿! 😔 tired  café字", "漢x😀字", "漢x😁字", "漢x🈀字", "漢字",
        )
        for (text in steps) {
            editor.edit("subjective", text).getOrThrow()
            val stored = NoteEditorViewModel(nb, noteId)
            stored.refresh().getOrThrow()
            assertEquals(text, stored.text("subjective"))
        }
    }

    @Test
    fun signingLocksTheNoteAndLaterEditsAreNoteLocked() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val noteId = newNote(nb, NoteFormat.BIRP)
        val editor = NoteEditorViewModel(nb, noteId)
        editor.refresh().getOrThrow()
        assertEquals(listOf("behavior", "intervention", "response", "plan"), editor.state.value.sections.map { it.key })
        editor.edit("behavior", "Arrived late, guarded").getOrThrow()
        editor.setRisk(RiskLevel.DENIED, RiskLevel.DENIED, "screened").getOrThrow()

        device.clock.advance(60_000)
        editor.sign().getOrThrow()
        val note = editor.state.value.note!!
        assertEquals(NoteState.SIGNED, note.state)
        assertTrue(editor.state.value.locked)
        val signature = note.signatures.single()
        assertEquals("Dr. phone", signature.signerName)
        assertEquals(SignerRole.AUTHOR, signature.role)
        assertEquals(device.clock.nowMillis(), signature.signedAt)

        // A later edit is refused with a typed error, and the editor shows the signed text again.
        val refused = editor.edit("behavior", "Arrived late, guarded, then warmer")
        assertEquals(noteId, failureOf<NotebookError.NoteLocked>(refused).noteId)
        assertEquals("Arrived late, guarded", editor.state.value.sections.first { it.key == "behavior" }.text)
        failureOf<NotebookError.NoteLocked>(editor.setRisk(RiskLevel.PASSIVE, RiskLevel.DENIED, "changed"))

        // Changes go into an addendum, which is signed in turn.
        failureOf<NotebookError.Validation>(editor.addAddendum(AddendumKind.CLARIFICATION, "", "x"))
        val addendum = editor.addAddendum(AddendumKind.CLARIFICATION, "Later observation", "Warmer by the end.", listOf("behavior")).getOrThrow()
        assertFalse(editor.state.value.note!!.addenda.single().signed)
        editor.signAddendum(addendum).getOrThrow()
        val signedAddendum = editor.state.value.note!!.addenda.single()
        assertTrue(signedAddendum.signed)
        assertEquals("Warmer by the end.", signedAddendum.body)
        // The signed sections did not change.
        assertEquals("Arrived late, guarded", editor.state.value.sections.first { it.key == "behavior" }.text)
    }

    @Test
    fun signingNeedsTheClinicianName() = runBlocking<Unit> {
        val device = Device(dir, "phone", settings = InMemorySettingsStore(clinicianName = "  "))
        val nb = device.unlock()
        val editor = NoteEditorViewModel(nb, newNote(nb, NoteFormat.DAP))
        editor.refresh().getOrThrow()
        assertEquals("clinicianName", failureOf<NotebookError.Validation>(editor.sign()).field)
        assertEquals(NoteState.DRAFT, editor.state.value.note!!.state)
    }

    @Test
    fun everyFormatHasItsSections() = runBlocking<Unit> {
        val nb = Device(dir, "phone").unlock()
        for ((format, first) in listOf(NoteFormat.SOAP to "subjective", NoteFormat.DAP to "data", NoteFormat.BIRP to "behavior",
            NoteFormat.GIRP to "goal", NoteFormat.FREE to "body")) {
            val editor = NoteEditorViewModel(nb, newNote(nb, format))
            editor.refresh().getOrThrow()
            assertEquals(Labels.sections(format), editor.state.value.sections.map { it.key })
            editor.edit(first, "x").getOrThrow()
            editor.refresh().getOrThrow()
            assertEquals("x", editor.state.value.sections.first().text, "$format")
        }
    }

    @Test
    fun fastTypingWithARefreshInTheMiddleLosesNothing() = runBlocking<Unit> {
        val device = Device(dir, "phone")
        val nb = device.unlock()
        val noteId = newNote(nb, NoteFormat.FREE)
        val editor = NoteEditorViewModel(nb, noteId)
        editor.refresh().getOrThrow()
        // Every keystroke is launched at once (as a text field's callbacks are), and a change
        // notification's refresh lands in the middle; the saves queue up in typing order.
        val sentence = "Client described the week as 'heavy' 😔 but hopeful."
        // Prefixes end at code-point boundaries: a keyboard never produces half an emoji.
        val ends = (1..sentence.codePointCount(0, sentence.length)).map { sentence.offsetByCodePoints(0, it) }
        val jobs = ends.mapIndexed { i, end ->
            if (i == ends.size / 2) launch { editor.refresh().getOrThrow() }
            launch { editor.edit("body", sentence.substring(0, end)).getOrThrow() }
        }
        jobs.forEach { it.join() }
        assertEquals(sentence, editor.text("body"))
        editor.refresh().getOrThrow()
        assertEquals(sentence, editor.text("body"), "the vault has every keystroke")
        // A backspace burst in the middle of the text.
        val shorter = sentence.replace(" but hopeful", "")
        editor.edit("body", shorter).getOrThrow()
        editor.refresh().getOrThrow()
        assertEquals(shorter, editor.text("body"))
    }
}
