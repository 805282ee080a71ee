package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.model.AddendumKind
import org.mend.model.NoteState
import org.mend.model.RiskLevel
import org.mend.notebook.Labels
import org.mend.notebook.NoteEditorViewModel
import org.mend.notebook.Notebook
import org.mend.signed

/**
 * The note editor: one text field per section of the note's format (SOAP, DAP, BIRP, GIRP,
 * free), saved keystroke by keystroke; the risk assessment; Sign; and, once signed, addenda
 * (written and signed in turn) and any late edits from another device to keep or discard.
 */
@Composable
fun NoteEditorScreen(notebook: Notebook, noteId: String, onBack: () -> Unit) {
    val model = screenModel(notebook, noteId) { NoteEditorViewModel(notebook, noteId) }
    val state by model.core.state.collectAsStateWithLifecycle()
    val note = state.note
    var confirmSign by remember { mutableStateOf(false) }
    var writingAddendum by remember { mutableStateOf(false) }

    val title = note?.let { "${Labels.format(it.format)} note · ${Labels.state(it.state)}" } ?: "Note"
    NotebookScaffold(title = title, model = model.core, onBack = onBack) { padding ->
        Column(Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            state.divergence?.let { d ->
                Card {
                    Column(Modifier.padding(12.dp)) {
                        Text("Another device edited this note after it was signed.", style = MaterialTheme.typography.titleSmall)
                        Text("Sections: " + d.sections.joinToString { Labels.section(it.section) } + if (d.otherFields) " (and other fields)" else "")
                        Text("The signed note does not change. Keep the late edits as an addendum, or discard them.")
                        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                            Button(onClick = { model.launch { resolveDivergence(keepAsAddendum = true) } }) { Text("Keep as addendum") }
                            OutlinedButton(onClick = { model.launch { resolveDivergence(keepAsAddendum = false) } }) { Text("Discard") }
                        }
                    }
                }
            }
            state.sections.forEach { section ->
                OutlinedTextField(
                    value = section.text,
                    onValueChange = { text -> model.launch { edit(section.key, text) } },
                    label = { Text(section.label) },
                    readOnly = state.locked,
                    modifier = Modifier.fillMaxWidth().heightIn(min = 96.dp),
                )
            }
            note?.let { n ->
                SingleChoice("Suicidal ideation", RiskLevel.entries, n.risk.si, { Labels.words(it.name) }) { si ->
                    if (!state.locked) model.launch { setRisk(si, n.risk.hi, n.risk.note) }
                }
                SingleChoice("Homicidal ideation", RiskLevel.entries, n.risk.hi, { Labels.words(it.name) }) { hi ->
                    if (!state.locked) model.launch { setRisk(n.risk.si, hi, n.risk.note) }
                }
                n.signatures.forEach { s -> Text("Signed by ${s.signerName} (${Labels.words(s.meaning.name)}) · ${formatTime(s.signedAt)}") }
                if (n.state == NoteState.DRAFT) {
                    Button(onClick = { confirmSign = true }) { Text("Sign") }
                } else {
                    Text("Addenda", style = MaterialTheme.typography.titleMedium)
                    n.addenda.forEach { a ->
                        Card(Modifier.fillMaxWidth()) {
                            Column(Modifier.padding(12.dp)) {
                                Text("${Labels.words(a.kind.name)} · ${a.reason}", style = MaterialTheme.typography.titleSmall)
                                Text(a.body)
                                if (a.signed) Text("Signed") else TextButton(onClick = { model.launch { signAddendum(a.id) } }) { Text("Sign addendum") }
                            }
                        }
                    }
                    OutlinedButton(onClick = { writingAddendum = true }) { Text("Write an addendum") }
                }
            }
        }
    }

    if (confirmSign) {
        AlertDialog(
            onDismissRequest = { confirmSign = false },
            title = { Text("Sign this note?") },
            text = { Text("After signing, the note cannot be edited; changes go into signed addenda.") },
            confirmButton = { TextButton(onClick = { confirmSign = false; model.launch { sign() } }) { Text("Sign") } },
            dismissButton = { TextButton(onClick = { confirmSign = false }) { Text("Cancel") } },
        )
    }

    if (writingAddendum) {
        var kind by remember { mutableStateOf(AddendumKind.ADDENDUM) }
        var reason by remember { mutableStateOf("") }
        var body by remember { mutableStateOf("") }
        AlertDialog(
            onDismissRequest = { writingAddendum = false },
            title = { Text("Addendum") },
            text = {
                Column(Modifier.verticalScroll(rememberScrollState())) {
                    SingleChoice("Kind", AddendumKind.entries, kind, { Labels.words(it.name) }) { kind = it }
                    OutlinedTextField(reason, { reason = it }, label = { Text("Reason") }, modifier = Modifier.fillMaxWidth())
                    OutlinedTextField(body, { body = it }, label = { Text("Text") }, modifier = Modifier.fillMaxWidth().heightIn(min = 120.dp))
                }
            },
            confirmButton = {
                TextButton(onClick = { model.launch { addAddendum(kind, reason, body).onSuccess { writingAddendum = false } } }) { Text("Save draft") }
            },
            dismissButton = { TextButton(onClick = { writingAddendum = false }) { Text("Cancel") } },
        )
    }
}
