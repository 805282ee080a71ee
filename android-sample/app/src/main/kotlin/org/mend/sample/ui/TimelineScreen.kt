package org.mend.sample.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.AssistChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateMapOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.style.TextDecoration
import androidx.compose.ui.unit.dp
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.model.NoteFormat
import org.mend.model.SessionStatus
import org.mend.core.TimelineEntry
import org.mend.notebook.Labels
import org.mend.notebook.Notebook
import org.mend.notebook.SessionOutcome
import org.mend.notebook.TimelineViewModel
import org.mend.notebook.id

/**
 * A client's timeline: the alliance-trend chart on top, then sessions, notes, ruptures (voided
 * ones struck through) and measures, newest first. Actions: add a session, write a note for a session, record what
 * became of a session (completed with when it really started and ended, cancelled, no-show), log a rupture,
 * record a WAI-SR administration.
 */
@Composable
fun TimelineScreen(notebook: Notebook, clientId: String, onBack: () -> Unit, openNote: (String) -> Unit, openRupture: (String?) -> Unit) {
    val model = screenModel(notebook, clientId) { TimelineViewModel(notebook, clientId) }
    val state by model.core.state.collectAsStateWithLifecycle()
    var noteForSession by remember { mutableStateOf<String?>(null) }
    var measuring by remember { mutableStateOf(false) }
    var outcome by remember { mutableStateOf<SessionOutcome?>(null) }

    NotebookScaffold(title = state.alias ?: "Client", model = model.core, onBack = onBack) { padding ->
        LazyColumn(Modifier.padding(padding).padding(horizontal = 16.dp)) {
            item {
                Text("Alliance (WAI-SR)", style = MaterialTheme.typography.titleMedium)
                if (state.trend.isEmpty()) {
                    Text("No measures yet.")
                } else {
                    AllianceTrendChart(state.trend, state.drops)
                }
                state.drops.lastOrNull()?.let { Text("Total fell by ${it.fall} on ${formatTime(it.at)}: a possible rupture.", color = MaterialTheme.colorScheme.error) }
                if (state.ruptures > 0) Text("${state.ruptures} rupture(s) logged, ${state.unresolvedRuptures} unresolved (voided ones not counted)")
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    AssistChip(onClick = { model.launch { addSession(notebook.clock.nowMillis()) } }, label = { Text("Add session") })
                    AssistChip(onClick = { openRupture(null) }, label = { Text("Log rupture") })
                    AssistChip(onClick = { measuring = true }, label = { Text("Record WAI-SR") })
                }
                HorizontalDivider()
            }
            items(state.entries, key = { it.id() }) { entry ->
                when (entry) {
                    is TimelineEntry.Session -> ListItem(
                        headlineContent = { Text("Session · ${Labels.words(entry.status.name)}") },
                        supportingContent = { Text(formatTime(entry.at) + " · tap to write a note or record what became of it") },
                        modifier = Modifier.clickable { noteForSession = entry.id },
                    )
                    is TimelineEntry.Note -> ListItem(
                        headlineContent = { Text("${Labels.format(entry.format)} note · ${Labels.words(entry.state)}") },
                        supportingContent = { Text(formatTime(entry.at) + if (entry.diverged) " · late edits to review" else "") },
                        modifier = Modifier.clickable { openNote(entry.id) },
                    )
                    // A voided rupture (logged in error) stays listed, struck through, and opens read-only.
                    is TimelineEntry.Rupture -> ListItem(
                        headlineContent = {
                            Text(
                                "Rupture · ${Labels.words(entry.movement.name)} · significance ${entry.significance}",
                                textDecoration = if (entry.voided) TextDecoration.LineThrough else null,
                            )
                        },
                        supportingContent = {
                            Text(formatTime(entry.at) + " · " + if (entry.voided) "Voided (logged in error)" else Labels.status(entry.status))
                        },
                        modifier = Modifier.clickable { openRupture(entry.id) },
                    )
                    is TimelineEntry.Measure -> ListItem(
                        headlineContent = { Text("WAI-SR · total ${entry.point.total ?: "incomplete"}") },
                        supportingContent = {
                            Text("${formatTime(entry.point.administeredAt)} · task ${entry.point.task ?: "–"} · bond ${entry.point.bond ?: "–"} · goal ${entry.point.goal ?: "–"}")
                        },
                    )
                    is TimelineEntry.Unreadable -> ListItem(
                        headlineContent = { Text(if (entry.erased) "Erased record" else "Unreadable record") },
                    )
                }
                HorizontalDivider()
            }
        }
    }

    noteForSession?.let { sessionId ->
        AlertDialog(
            onDismissRequest = { noteForSession = null },
            title = { Text("Session") },
            text = {
                Column {
                    TextButton(onClick = {
                        noteForSession = null
                        model.launch { sessionOutcome(sessionId).onSuccess { outcome = it } }
                    }) { Text("What became of this session…") }
                    HorizontalDivider()
                    NoteFormat.entries.forEach { format ->
                        TextButton(onClick = {
                            noteForSession = null
                            model.launch { startNote(sessionId, format).onSuccess(openNote) }
                        }) { Text(Labels.format(format) + " (" + Labels.sections(format).joinToString(", ", transform = Labels::section) + ")") }
                    }
                }
            },
            confirmButton = {},
            dismissButton = { TextButton(onClick = { noteForSession = null }) { Text("Cancel") } },
        )
    }

    outcome?.let { o ->
        // The actual times as minutes: started this many minutes after the scheduled start (negative: early), lasted this long.
        var lateBy by remember(o.id) { mutableStateOf(((o.actualStart - o.scheduledStart) / 60_000).toString()) }
        var lasted by remember(o.id) { mutableStateOf(((o.actualEnd - o.actualStart) / 60_000).toString()) }
        var status by remember(o.id) { mutableStateOf(o.status) }
        val startMinutes = lateBy.trim().toLongOrNull()
        val lengthMinutes = lasted.trim().toLongOrNull()
        val edited = o.copy(
            status = status,
            actualStart = o.scheduledStart + (startMinutes ?: 0) * 60_000,
            actualEnd = o.scheduledStart + ((startMinutes ?: 0) + (lengthMinutes ?: 0)) * 60_000,
        )
        val minutesError = if (edited.takesTimes && (startMinutes == null || lengthMinutes == null)) "Enter whole minutes." else null
        AlertDialog(
            onDismissRequest = { outcome = null },
            title = { Text("Session of ${formatTime(o.scheduledStart)}") },
            text = {
                Column(Modifier.verticalScroll(rememberScrollState())) {
                    SingleChoice("What became of it", SessionStatus.entries, status, { Labels.words(it.name) }) { status = it }
                    if (edited.takesTimes) {
                        // A plain text keyboard: number pads often have no minus sign.
                        OutlinedTextField(lateBy, { lateBy = it }, label = { Text("Started, minutes after the scheduled time (negative: early)") })
                        OutlinedTextField(lasted, { lasted = it }, label = { Text("Lasted, minutes") },
                            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number), isError = edited.errors["actualEnd"] != null)
                        FieldError(minutesError ?: edited.errors["actualEnd"])
                        Text("The rupture log takes the end as the end of the session happening now.", style = MaterialTheme.typography.bodySmall)
                    }
                }
            },
            confirmButton = {
                TextButton(enabled = minutesError == null, onClick = { model.launch { recordOutcome(edited).onSuccess { outcome = null } } }) { Text("Save") }
            },
            dismissButton = { TextButton(onClick = { outcome = null }) { Text("Cancel") } },
        )
    }

    if (measuring) {
        val scores = remember { mutableStateMapOf<Int, Int>() }
        AlertDialog(
            onDismissRequest = { measuring = false },
            title = { Text("WAI-SR (client-rated)") },
            text = {
                Column(Modifier.verticalScroll(rememberScrollState())) {
                    Text("Enter the client's score for each item number (1 seldom – 5 always). Item wording stays on the licensed form.")
                    (1..12).forEach { item -> Rating("Item $item", scores[item]) { scores[item] = it } }
                }
            },
            confirmButton = {
                TextButton(onClick = { model.launch { recordAllianceMeasure(scores.toMap()).onSuccess { measuring = false } } }) { Text("Save") }
            },
            dismissButton = { TextButton(onClick = { measuring = false }) { Text("Cancel") } },
        )
    }
}
