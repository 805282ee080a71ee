package org.mend.notebook

import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.mend.model.AddendumKind
import org.mend.model.NewAddendum
import org.mend.model.Divergence
import org.mend.model.NoteState
import org.mend.model.Risk
import org.mend.model.RiskLevel
import org.mend.core.SessionNote
import org.mend.model.SignRequest
import org.mend.model.SignatureMeaning
import org.mend.model.SignerRole

/** One section as the editor shows it. */
data class SectionField(val key: String, val label: String, val text: String)

/** The note editor's state. [note] is the last note read from the vault; [sections] include
 *  typing not yet read back. */
data class NoteEditorState(
    val note: SessionNote? = null,
    val sections: List<SectionField> = emptyList(),
    val divergence: Divergence? = null,
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

    // Keystrokes are saved one at a time, in the order they were typed (the Mutex is fair).
    private val typing = Mutex()

    // Keystrokes shown but not yet saved; while there are any, a reload keeps the shown text.
    private val pending = AtomicInteger(0)

    // Per section, the text the vault has (after the last saved splice or reload). Guarded by [typing].
    private val saved = HashMap<String, String>()

    override fun concerns(ids: List<String>): Boolean = noteId in ids

    override suspend fun refresh(): Result<Unit> = typing.withLock { reload(force = false) }

    private suspend fun reload(force: Boolean): Result<Unit> = vault { v -> Pair(v.note(noteId), v.noteDivergence(noteId)) }
        .map { (note, divergence) ->
            val texts = note.sections.associate { it.key to it.text }
            saved.clear()
            saved.putAll(texts)
            // While keystrokes wait to be saved, the field keeps what the user sees (replacing it
            // would make the next keystroke delete them). A remote edit that lands inside such a
            // burst is shown at the next reload; the burst's splices are computed from the
            // vault's text, so the remote characters in the same section can be overwritten:
            // a known limit of this sample's simple approach (a real editor rebases the cursor).
            val keepShown = !force && pending.get() > 0
            val shown = _state.value.sections.associate { it.key to it.text }
            val sections = Labels.sections(note.format).map { key ->
                val text = if (keepShown) shown[key] ?: texts[key] ?: "" else texts[key] ?: ""
                SectionField(key, Labels.section(key), text)
            }
            _state.value = NoteEditorState(note, sections, divergence)
        }

    /**
     * Live typing: the text field of section [key] now reads [text]. The state shows [text] at
     * once (before anything is saved, so fast typing never loses a character), then the change
     * is saved as one splice from the text last saved. If the note was signed meanwhile (here
     * or by a sync), the edit fails with [NotebookError.NoteLocked] and the editor shows the
     * signed text again.
     */
    suspend fun edit(key: String, text: String): Result<Unit> {
        if (_state.value.sections.none { it.key == key }) {
            return reject(NotebookError.Validation(key, "This note has no such section."))
        }
        _state.update { s -> s.copy(sections = s.sections.map { if (it.key == key) it.copy(text = text) else it }) }
        pending.incrementAndGet()
        try {
            return typing.withLock {
                val splice = TextSplice.between(saved[key] ?: "", text)
                if (splice.isEmpty) return@withLock Result.success(Unit)
                vault { v -> v.spliceNoteSection(noteId, key, splice.pos.toULong(), splice.delete.toULong(), splice.insert) }
                    .onSuccess { saved[key] = text }
                    .onFailure { reload(force = true) }
            }
        } finally {
            pending.decrementAndGet()
        }
    }

    /** Sets the risk assessment (suicidal and homicidal ideation, with a note). */
    suspend fun setRisk(si: RiskLevel, hi: RiskLevel, note: String): Result<Unit> = typing.withLock {
        vault { v -> v.setNoteRisk(noteId, Risk(si, hi, note)) }.also { reload(force = false) }
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
        vault { v -> v.signNote(noteId, request) }.also { reload(force = true) }
    }

    /** Starts an addendum on the signed note. Returns its id. */
    suspend fun addAddendum(kind: AddendumKind, reason: String, body: String, targets: List<String> = emptyList()): Result<String> =
        typing.withLock {
            if (reason.isBlank()) return@withLock reject(NotebookError.Validation("reason", "Say why the addendum is written."))
            if (body.isBlank()) return@withLock reject(NotebookError.Validation("body", "The addendum is empty."))
            val add = NewAddendum(kind, reason.trim(), body, targets, notebook.settings.clinicianId, notebook.clock.nowMillis())
            vault { v -> v.addAddendum(noteId, add) }.also { reload(force = false) }
        }

    /** Signs an addendum. */
    suspend fun signAddendum(addendumId: String): Result<Unit> = typing.withLock {
        val request = signRequest()
            ?: return@withLock reject(NotebookError.Validation("clinicianName", "Set your name in Settings before signing."))
        vault { v -> v.signAddendum(noteId, addendumId, request) }.also { reload(force = false) }
    }

    /** Keeps late edits from another device as a draft addendum (its id is returned) or
     *  discards them. The signed content does not change either way. */
    suspend fun resolveDivergence(keepAsAddendum: Boolean): Result<String?> = typing.withLock {
        vault { v -> v.resolveDivergence(noteId, keepAsAddendum, notebook.settings.clinicianId, notebook.clock.nowMillis()) }
            .also { reload(force = true) }
    }
}
