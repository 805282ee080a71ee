package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.mend.core.AddendumKind
import org.mend.core.NewAddendum
import org.mend.core.NoteDivergence
import org.mend.core.NoteState
import org.mend.core.Risk
import org.mend.core.RiskLevel
import org.mend.core.SessionNote
import org.mend.core.SignRequest
import org.mend.core.SignatureMeaning
import org.mend.core.SignerRole

/** One section as the editor shows it. */
data class SectionField(val key: String, val label: String, val text: String)

/** The note editor's state. [note] is the last note read from the vault; [sections] include
 *  typing not yet read back. */
data class NoteEditorState(
    val note: SessionNote? = null,
    val sections: List<SectionField> = emptyList(),
    val divergence: NoteDivergence? = null,
) {
    /** Whether the note is signed (sections are read-only; write an addendum). */
    val locked: Boolean get() = note != null && note.state != NoteState.DRAFT
}

/**
 * The note editor for SOAP, DAP, BIRP, GIRP and free notes. Typing is saved keystroke by
 * keystroke as minimal splices (so another device's concurrent typing merges character by
 * character), the note is signed by this clinician, and after signing changes go into signed
 * addenda. Late edits from a device that had not seen the signature show as a divergence to keep
 * as an addendum or discard.
 */
class NoteEditorViewModel(
    notebook: Notebook,
    /** The note edited. */
    val noteId: String,
) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(NoteEditorState())

    /** The editor. */
    val state: StateFlow<NoteEditorState> = _state.asStateFlow()

    // Keystrokes are applied one at a time, in the order they were typed.
    private val typing = Mutex()

    override fun concerns(ids: List<String>): Boolean = noteId in ids

    override suspend fun refresh(): Result<Unit> = typing.withLock { reload() }

    private suspend fun reload(): Result<Unit> = vault { v -> Pair(v.note(noteId), v.noteDivergence(noteId)) }
        .map { (note, divergence) ->
            val texts = note.sections.associate { it.key to it.text }
            val sections = Labels.sections(note.format).map { SectionField(it, Labels.section(it), texts[it] ?: "") }
            _state.value = NoteEditorState(note, sections, divergence)
        }

    /**
     * Live typing: the text field of section [key] now reads [text]. The screen shows [text] at
     * once; the change is saved as one splice. If the note was signed meanwhile (here or by a
     * sync), the edit fails with [NotebookError.NoteLocked] and the editor reloads the signed text.
     */
    suspend fun edit(key: String, text: String): Result<Unit> = typing.withLock {
        val current = _state.value.sections.firstOrNull { it.key == key }
            ?: return@withLock reject(NotebookError.Validation(key, "This note has no such section."))
        val splice = TextSplice.between(current.text, text)
        if (splice.isEmpty) return@withLock Result.success(Unit)
        _state.value = _state.value.copy(sections = _state.value.sections.map { if (it.key == key) it.copy(text = text) else it })
        vault { v -> v.spliceNoteSection(noteId, key, splice.pos.toULong(), splice.delete.toULong(), splice.insert) }
            .onFailure { reload() }
    }

    /** Sets the risk assessment (suicidal and homicidal ideation, with a note). */
    suspend fun setRisk(si: RiskLevel, hi: RiskLevel, note: String): Result<Unit> = typing.withLock {
        vault { v -> v.setNoteRisk(noteId, Risk(si, hi, note)) }.also { reload() }
    }

    private fun signRequest(): SignRequest? {
        val name = notebook.settings.clinicianName.trim()
        if (name.isEmpty()) return null
        return SignRequest(
            notebook.settings.clinicianId, name, SignerRole.AUTHOR, SignatureMeaning.AUTHORED, false,
            notebook.clock.nowMillis(),
        )
    }

    /** Signs the note as its author; afterwards its sections are locked. Needs the clinician's
     *  name in Settings (it is printed with the signature). */
    suspend fun sign(): Result<Unit> = typing.withLock {
        val request = signRequest()
            ?: return@withLock reject(NotebookError.Validation("clinicianName", "Set your name in Settings before signing."))
        vault { v -> v.signNote(noteId, request) }.also { reload() }
    }

    /** Starts an addendum on the signed note. Returns its id. */
    suspend fun addAddendum(kind: AddendumKind, reason: String, body: String, targets: List<String> = emptyList()): Result<String> =
        typing.withLock {
            if (reason.isBlank()) return@withLock reject(NotebookError.Validation("reason", "Say why the addendum is written."))
            if (body.isBlank()) return@withLock reject(NotebookError.Validation("body", "The addendum is empty."))
            val add = NewAddendum(kind, reason.trim(), body, targets, notebook.settings.clinicianId, notebook.clock.nowMillis())
            vault { v -> v.addAddendum(noteId, add) }.also { reload() }
        }

    /** Signs an addendum. */
    suspend fun signAddendum(addendumId: String): Result<Unit> = typing.withLock {
        val request = signRequest()
            ?: return@withLock reject(NotebookError.Validation("clinicianName", "Set your name in Settings before signing."))
        vault { v -> v.signAddendum(noteId, addendumId, request) }.also { reload() }
    }

    /** Keeps late edits from another device as a draft addendum (its id is returned) or
     *  discards them. The signed content does not change either way. */
    suspend fun resolveDivergence(keepAsAddendum: Boolean): Result<String?> = typing.withLock {
        vault { v -> v.resolveDivergence(noteId, keepAsAddendum, notebook.settings.clinicianId, notebook.clock.nowMillis()) }
            .also { reload() }
    }
}
