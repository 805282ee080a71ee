package org.mend.sample.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.Settings
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.notebook.ClientListViewModel
import org.mend.notebook.Labels
import org.mend.notebook.Notebook

/** The client list: alias codes and statuses, live as records change here or by sync. */
@Composable
fun ClientListScreen(
    notebook: Notebook,
    openClient: (String) -> Unit,
    openConflicts: () -> Unit,
    openSync: () -> Unit,
    openSettings: () -> Unit,
) {
    val model = screenModel(notebook) { ClientListViewModel(notebook) }
    val state by model.core.state.collectAsStateWithLifecycle()
    var adding by remember { mutableStateOf(false) }

    NotebookScaffold(
        title = "Clients",
        model = model.core,
        actions = {
            IconButton(onClick = openConflicts) { Icon(Icons.Default.Warning, contentDescription = "Conflicts") }
            IconButton(onClick = openSync) { Icon(Icons.Default.Refresh, contentDescription = "Sync") }
            IconButton(onClick = openSettings) { Icon(Icons.Default.Settings, contentDescription = "Settings") }
        },
        floatingActionButton = {
            FloatingActionButton(onClick = { adding = true }) { Icon(Icons.Default.Add, contentDescription = "Add client") }
        },
    ) { padding ->
        LazyColumn(Modifier.padding(padding)) {
            item {
                ListItem(
                    headlineContent = { Text("Show discharged clients") },
                    trailingContent = {
                        Switch(checked = state.showDischarged, onCheckedChange = { show -> model.launch { setShowDischarged(show) } })
                    },
                )
            }
            items(state.clients, key = { it.id }) { row ->
                ListItem(
                    headlineContent = { Text(row.alias ?: "Unreadable record") },
                    supportingContent = { Text(row.status?.let(Labels::status) ?: "Damaged: other records are unaffected") },
                    modifier = if (row.readable) Modifier.clickable { openClient(row.id) } else Modifier,
                )
                HorizontalDivider()
            }
        }
    }

    if (adding) {
        var alias by remember { mutableStateOf("") }
        var jurisdiction by remember { mutableStateOf("US-CA") }
        AlertDialog(
            onDismissRequest = { adding = false },
            title = { Text("New client") },
            text = {
                Column {
                    Text("Use a pseudonymous code, never a name.")
                    OutlinedTextField(alias, { alias = it }, label = { Text("Alias code, e.g. C-0142") }, singleLine = true)
                    OutlinedTextField(jurisdiction, { jurisdiction = it }, label = { Text("Jurisdiction (ISO 3166-2)") }, singleLine = true)
                }
            },
            confirmButton = {
                TextButton(onClick = {
                    model.launch { addClient(alias, jurisdiction).onSuccess { adding = false } }
                }) { Text("Add") }
            },
            dismissButton = { TextButton(onClick = { adding = false }) { Text("Cancel") } },
        )
    }
}
