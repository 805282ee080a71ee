package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.core.AllianceDimension
import org.mend.core.ClientResponse
import org.mend.core.DetectedBy
import org.mend.core.InitiatedBy
import org.mend.core.Movement
import org.mend.core.Precipitant
import org.mend.core.RecordClass
import org.mend.core.RepairStrategy
import org.mend.core.RuptureMarker
import org.mend.core.RuptureStatus
import org.mend.notebook.Labels
import org.mend.notebook.Notebook
import org.mend.notebook.RuptureForm
import org.mend.notebook.RuptureFormViewModel

/**
 * The rupture log. A new rupture: movement, initiator, how it was noticed, the session and the
 * minute in it, alliance dimensions, 3RS markers, precipitants, significance, record class,
 * narrative, the client's words and the therapist's contribution with its rating. A logged
 * rupture: the same form, with what Mend can change (movement, markers, precipitants,
 * significance, narrative, the client's responses, client-reported intensity, resolution
 * rating) editable and saved as one update of the changes, the rest shown read-only; then its
 * status and repair attempts. Field errors show under each field.
 */
@Composable
fun RuptureFormScreen(notebook: Notebook, clientId: String, ruptureId: String?, onBack: () -> Unit) {
    val model = screenModel(notebook, "$clientId/${ruptureId ?: "new"}") { RuptureFormViewModel(notebook, clientId, ruptureId) }
    val state by model.core.state.collectAsStateWithLifecycle()
    val form = state.form
    val errors = state.errors
    val saved = state.saved
    val edit: ((RuptureForm) -> RuptureForm) -> Unit = { model.core.update(it) }

    NotebookScaffold(title = if (saved == null) "Log a rupture" else "Rupture", model = model.core, onBack = onBack) { padding ->
        Column(Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            if (saved == null) {
                SingleChoice("Initiated by", InitiatedBy.entries, form.initiatedBy, { Labels.words(it.name) }, errors["initiatedBy"]) { i ->
                    edit { it.copy(initiatedBy = i) }
                }
                SingleChoice("Noticed", DetectedBy.entries, form.detectedBy, { Labels.words(it.name) }) { d ->
                    edit { it.copy(detectedBy = if (it.detectedBy == d) null else d) }
                }
                if (state.sessions.isNotEmpty()) {
                    SingleChoice("In session", state.sessions, state.sessions.firstOrNull { it.id == form.sessionId }, { formatTime(it.at) }) { s ->
                        edit { it.copy(sessionId = if (it.sessionId == s.id) null else s.id) }
                    }
                }
                if (form.sessionId != null) {
                    OutlinedTextField(
                        form.atMinute?.toString() ?: "", { t -> edit { it.copy(atMinute = t.filter(Char::isDigit).take(3).toIntOrNull()) } },
                        label = { Text("Minute in session") }, keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
                        isError = errors["atMinute"] != null, modifier = Modifier.fillMaxWidth(),
                    )
                    FieldError(errors["atMinute"])
                }
                ChipGroup("Alliance dimensions strained", AllianceDimension.entries, form.allianceDimensions, { Labels.words(it.name) }) {
                    model.core.toggle(it)
                }
            } else {
                Text("Initiated by ${Labels.words(saved.initiatedBy.name)}" + (saved.detectedBy?.let { " · noticed: " + Labels.words(it.name).lowercase() } ?: ""),
                    style = MaterialTheme.typography.titleMedium)
                Text(formatTime(saved.occurredAt) + (saved.atMinute?.let { " · minute $it" } ?: "") + " · " + Labels.words(saved.recordClass.name))
                if (saved.allianceDimensions.isNotEmpty()) Text("Strained: " + saved.allianceDimensions.joinToString { Labels.words(it.name).lowercase() })
            }

            // Editable on a new and on a logged rupture.
            SingleChoice("Movement", Movement.entries, form.movement, { Labels.words(it.name) }, errors["movement"]) { m -> edit { it.copy(movement = m) } }
            ChipGroup("3RS markers", RuptureMarker.entries, form.markers, Labels::marker, errors["markers"]) { model.core.toggle(it) }
            ChipGroup("Precipitants" + if (saved != null) " (logged ones stay)" else "", Precipitant.entries, form.precipitants, { Labels.words(it.name) }, errors["precipitants"]) {
                model.core.toggle(it)
            }
            Rating("Significance (1 low – 5 high)", form.significance, errors["significance"]) { s -> edit { it.copy(significance = s) } }
            OutlinedTextField(form.narrative, { t -> edit { it.copy(narrative = t) } }, label = { Text("What happened") }, modifier = Modifier.fillMaxWidth())
            FieldError(errors["narrative"])

            if (saved == null) {
                SingleChoice("Record class", RecordClass.entries, form.recordClass, { Labels.words(it.name) }) { c -> edit { it.copy(recordClass = c) } }
                OutlinedTextField(form.clientWords, { t -> edit { it.copy(clientWords = t) } }, label = { Text("Client's words") }, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(
                    form.therapistContribution, { t -> edit { it.copy(therapistContribution = t) } },
                    label = { Text("My contribution") }, modifier = Modifier.fillMaxWidth(),
                )
                Rating("My contribution (1–5)", form.therapistContributionRating, errors["therapistContributionRating"]) { r ->
                    edit { it.copy(therapistContributionRating = if (it.therapistContributionRating == r) null else r) }
                }
                FieldError(errors["occurredAt"])
                Button(onClick = { model.launch { save() } }) { Text("Save") }
            } else {
                if (saved.clientWords.isNotEmpty()) LabelledText("Client's words", "“${saved.clientWords}”")
                if (saved.therapistContribution.isNotEmpty() || saved.therapistContributionRating != null) {
                    LabelledText("My contribution", saved.therapistContribution + (saved.therapistContributionRating?.let { " ($it/5)" } ?: ""))
                }
                // Ratings and responses known only after logging; once saved they can change, not be cleared.
                Rating("Client-reported intensity (1–5)", form.clientReportedIntensity, errors["clientReportedIntensity"]) { r ->
                    edit { it.copy(clientReportedIntensity = r) }
                }
                Rating("Resolution (1–5)", form.resolutionRating, errors["resolutionRating"]) { r -> edit { it.copy(resolutionRating = r) } }
                ChipGroup("Client's response", ClientResponse.entries, form.clientResponses, { Labels.words(it.name) }, errors["clientResponses"]) {
                    model.core.toggle(it)
                }
                if (state.hasUnsavedChanges) {
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        Button(onClick = { model.launch { saveChanges() } }) { Text("Save changes") }
                        OutlinedButton(onClick = { model.core.discardChanges() }) { Text("Discard") }
                    }
                }
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

/** A read-only field: a small title over its text. */
@Composable
private fun LabelledText(title: String, text: String) {
    Text(title, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 12.dp))
    Text(text)
}
