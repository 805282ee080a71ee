package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.notebook.Notebook
import org.mend.notebook.SyncPhase
import org.mend.notebook.SyncService
import org.mend.notebook.SyncViewModel
import org.mend.sample.MendApp

/** Sync status: the relay, changes waiting to be pushed, a running sync's progress (with
 *  cancel), and the last result. Background sync runs every 15 minutes while unlocked. */
@Composable
fun SyncStatusScreen(app: MendApp, notebook: Notebook, onBack: () -> Unit) {
    val model = screenModel(notebook) { SyncViewModel(notebook, app.syncService() ?: SyncService(notebook, app::relay)) }
    val state by model.core.state.collectAsStateWithLifecycle()
    NotebookScaffold(title = "Sync", model = model.core, onBack = onBack) { padding ->
        Column(Modifier.padding(padding).padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Text("Relay: ${state.relay ?: "not set (Settings)"}")
            Text("Changes waiting to be pushed: ${state.pendingChanges}")
            state.lastSuccessAt?.let { Text("Last synced ${formatTime(it)}") }
            when (val phase = state.phase) {
                is SyncPhase.Idle -> {}
                is SyncPhase.Running -> {
                    val f = phase.fraction
                    if (f == null) LinearProgressIndicator(Modifier.fillMaxWidth()) else LinearProgressIndicator(progress = { f }, modifier = Modifier.fillMaxWidth())
                    phase.progress?.let { p -> Text("Pushed ${p.pushed} of ${p.toPush} · pulled ${p.pulled}, ${p.remaining} to go") }
                    OutlinedButton(onClick = { model.core.cancel() }) { Text("Cancel") }
                }
                is SyncPhase.Done -> Text(
                    if (phase.report.cancelled) "Cancelled; the next sync continues." else
                        "Pushed ${phase.report.pushed}, pulled ${phase.report.pulled}, applied ${phase.report.applied}" +
                            if (phase.report.rejected > 0uL) ", refused ${phase.report.rejected} invalid" else "",
                )
                is SyncPhase.Failed -> Text(phase.error.message ?: "Sync failed", color = MaterialTheme.colorScheme.error)
            }
            Button(onClick = { model.launch { syncNow() } }, enabled = state.phase !is SyncPhase.Running) { Text("Sync now") }
        }
    }
}
