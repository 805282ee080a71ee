package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.core.ClientResponse
import org.mend.core.InitiatedBy
import org.mend.core.Movement
import org.mend.core.Precipitant
import org.mend.core.RecordClass
import org.mend.core.RepairStrategy
import org.mend.core.RuptureMarker
import org.mend.core.RuptureStatus
import org.mend.notebook.Labels
import org.mend.notebook.Notebook
import org.mend.notebook.RuptureFormViewModel

/**
 * The rupture log: a new rupture's movement, initiator, 3RS markers, precipitants, significance
 * and narrative; once saved, its repair attempts and status. Field errors show under each field.
 */
@Composable
fun RuptureFormScreen(notebook: Notebook, clientId: String, ruptureId: String?, onBack: () -> Unit) {
    val model = screenModel(notebook, "$clientId/${ruptureId ?: "new"}") { RuptureFormViewModel(notebook, clientId, ruptureId) }
    val state by model.core.state.collectAsStateWithLifecycle()
    val form = state.form
    val errors = state.errors
    val saved = state.saved

    NotebookScaffold(title = if (saved == null) "Log a rupture" else "Rupture", model = model.core, onBack = onBack) { padding ->
        Column(Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            if (saved == null) {
                SingleChoice("Movement", Movement.entries, form.movement, { Labels.words(it.name) }, errors["movement"]) { m ->
                    model.core.update { it.copy(movement = m) }
                }
                SingleChoice("Initiated by", InitiatedBy.entries, form.initiatedBy, { Labels.words(it.name) }, errors["initiatedBy"]) { i ->
                    model.core.update { it.copy(initiatedBy = i) }
                }
                ChipGroup("3RS markers", RuptureMarker.entries, form.markers, Labels::marker, errors["markers"]) { model.core.toggle(it) }
                ChipGroup("Precipitants", Precipitant.entries, form.precipitants, { Labels.words(it.name) }) { model.core.toggle(it) }
                Rating("Significance (1 low – 5 high)", form.significance, errors["significance"]) { s -> model.core.update { it.copy(significance = s) } }
                SingleChoice("Record class", RecordClass.entries, form.recordClass, { Labels.words(it.name) }) { c ->
                    model.core.update { it.copy(recordClass = c) }
                }
                OutlinedTextField(form.narrative, { t -> model.core.update { it.copy(narrative = t) } }, label = { Text("What happened") }, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(form.clientWords, { t -> model.core.update { it.copy(clientWords = t) } }, label = { Text("Client's words") }, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(
                    form.therapistContribution, { t -> model.core.update { it.copy(therapistContribution = t) } },
                    label = { Text("My contribution") }, modifier = Modifier.fillMaxWidth(),
                )
                FieldError(errors["occurredAt"])
                Button(onClick = { model.launch { save() } }) { Text("Save") }
            } else {
                Text("${Labels.words(saved.movement.name)} · initiated by ${Labels.words(saved.initiatedBy.name)}", style = MaterialTheme.typography.titleMedium)
                Text(formatTime(saved.occurredAt))
                Text(saved.markers.joinToString(transform = Labels::marker))
                if (saved.narrative.isNotEmpty()) Text(saved.narrative)
                Rating("Significance", saved.significance.toInt(), errors["significance"]) { s -> model.launch { setSignificance(s) } }
                SingleChoice("Status", RuptureStatus.entries, saved.status, Labels::status) { s -> model.launch { setStatus(s) } }
                HorizontalDivider()
                Text("Repair attempts", style = MaterialTheme.typography.titleMedium)
                saved.repairAttempts.forEach { a ->
                    Card(Modifier.fillMaxWidth()) {
                        Column(Modifier.padding(12.dp)) {
                            Text((if (a.immediate) "Immediate" else "Exploratory") + " · " + formatTime(a.at), style = MaterialTheme.typography.titleSmall)
                            Text(a.strategies.joinToString { Labels.words(it.name.removePrefix("RS_")) })
                            a.effect?.let { Text("Effect $it/5") }
                            if (a.note.isNotEmpty()) Text(a.note)
                        }
                    }
                }
                val repair = state.repair
                ChipGroup("Strategies", RepairStrategy.entries, repair.strategies, { Labels.words(it.name.removePrefix("RS_")) }, errors["strategies"]) { s ->
                    model.core.updateRepair { r -> r.copy(strategies = if (s in r.strategies) r.strategies - s else r.strategies + s) }
                }
                ChipGroup("Client response", ClientResponse.entries, repair.responses, { Labels.words(it.name) }) { c ->
                    model.core.updateRepair { r -> r.copy(responses = if (c in r.responses) r.responses - c else r.responses + c) }
                }
                Rating("Effect (1–5)", repair.effect, errors["effect"]) { e -> model.core.updateRepair { it.copy(effect = e) } }
                OutlinedTextField(repair.note, { t -> model.core.updateRepair { it.copy(note = t) } }, label = { Text("Note") }, modifier = Modifier.fillMaxWidth())
                Button(onClick = { model.launch { addRepairAttempt() } }) { Text("Add repair attempt") }
            }
        }
    }
}
