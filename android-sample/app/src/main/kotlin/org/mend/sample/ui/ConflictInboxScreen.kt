package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.TextButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.core.RecordKind
import org.mend.notebook.ConflictInboxViewModel
import org.mend.notebook.ConflictRow
import org.mend.notebook.Notebook

/** The conflict inbox: each value two devices set concurrently, with who set it and when; the
 *  clinician picks one and the choice syncs. Each row names its record by kind and client alias
 *  and, for a client, note or rupture, links to it ([open]) to look before choosing. */
@Composable
fun ConflictInboxScreen(notebook: Notebook, onBack: () -> Unit, open: (ConflictRow) -> Unit) {
    val model = screenModel(notebook) { ConflictInboxViewModel(notebook) }
    val state by model.core.state.collectAsStateWithLifecycle()
    NotebookScaffold(title = "Conflicts", model = model.core, onBack = onBack) { padding ->
        if (state.loaded && state.conflicts.isEmpty()) {
            Text("No conflicts. Values changed on two devices at once will appear here.", Modifier.padding(padding).padding(16.dp))
        }
        LazyColumn(Modifier.padding(padding).padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            items(state.conflicts, key = { it.recordId + "/" + it.field }) { row ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
                        Text(row.subject, style = MaterialTheme.typography.titleMedium)
                        if (row.recordKind in setOf(RecordKind.CLIENT, RecordKind.NOTE, RecordKind.RUPTURE)) {
                            TextButton(onClick = { open(row) }) { Text("Open the " + row.recordKind.name.lowercase()) }
                        }
                        Text("${row.fieldLabel}: choose the value to keep")
                        row.choices.forEach { choice ->
                            OutlinedButton(onClick = { model.launch { resolve(row, choice.value) } }, modifier = Modifier.fillMaxWidth()) {
                                Text("${choice.label} — ${choice.device}" + (choice.at?.let { " · " + formatTime(it) } ?: ""))
                            }
                        }
                    }
                }
            }
        }
    }
}
