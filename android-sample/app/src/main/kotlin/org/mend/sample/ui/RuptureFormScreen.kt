package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.DatePicker
import androidx.compose.material3.DatePickerDialog
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.rememberDatePickerState
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.ZoneId
import org.mend.model.AllianceDimension
import org.mend.model.ClientResponse
import org.mend.model.DetectedBy
import org.mend.model.InitiatedBy
import org.mend.model.Movement
import org.mend.model.Precipitant
import org.mend.model.RecordClass
import org.mend.model.RepairStrategy
import org.mend.model.RuptureMarker
import org.mend.model.RuptureStatus
import org.mend.model.RuptureText
import org.mend.notebook.Labels
import org.mend.notebook.Notebook
import org.mend.notebook.RuptureForm
import org.mend.notebook.RuptureFormViewModel
import org.mend.notebook.StatusRow
import org.mend.immediate

/**
 * The rupture log. A new rupture: date, session (or none) and the minute in it, initiator, how
 * it was noticed, alliance dimensions, movement, 3RS markers, precipitants, significance, record
 * class, narrative, the client's words and the therapist's contribution with its rating, and a
 * follow-up plan.
 *
 * A logged rupture: the same form with every field but the record class correctable (optional
 * fields cleared by tapping the chosen chip again, set members ticked and unticked), plus
 * client-reported intensity, resolution and the client's responses; the
 * corrections are saved as one update of the changes, while the four texts save as they are
 * typed (and merge with typing on other devices). Then its status (recorded with the session
 * happening now) with the history of changes, and repair attempts, each with the session it was
 * made in. A rupture logged in error is
 * voided with a reason after a confirmation, and is read-only from then on. Field errors show
 * under each field.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun RuptureFormScreen(notebook: Notebook, clientId: String, ruptureId: String?, onBack: () -> Unit) {
    val model = screenModel(notebook, "$clientId/${ruptureId ?: "new"}") { RuptureFormViewModel(notebook, clientId, ruptureId) }
    val state by model.core.state.collectAsStateWithLifecycle()
    val form = state.form
    val errors = state.errors
    val saved = state.saved
    val editable = !state.isVoided
    val edit: ((RuptureForm) -> RuptureForm) -> Unit = { model.core.update(it) }
    val type: (RuptureText, String) -> Unit = { field, text -> model.launch { editText(field, text) } }
    var pickingDay by remember { mutableStateOf(false) }
    var voiding by remember { mutableStateOf(false) }
    val me = notebook.settings.clinicianId

    NotebookScaffold(
        title = when {
            saved == null -> "Log a rupture"
            state.isVoided -> "Rupture (voided)"
            else -> "Rupture"
        },
        model = model.core,
        onBack = onBack,
        actions = {
            if (saved != null && editable) TextButton(onClick = { voiding = true }) { Text("Void", color = MaterialTheme.colorScheme.error) }
        },
    ) { padding ->
        Column(Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            saved?.voided?.let { v ->
                Card(colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer), modifier = Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp)) {
                        Text("Voided — logged in error", style = MaterialTheme.typography.titleSmall)
                        Text("${formatTime(v.at)} by ${if (v.by == me) "you" else "another clinician"}: ${v.reason}")
                        Text("It stays on record, read-only, and is not counted.", style = MaterialTheme.typography.bodySmall)
                    }
                }
            }

            // When and where.
            Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(formatTime(form.occurredAt ?: notebook.clock.nowMillis()), style = MaterialTheme.typography.titleMedium)
                if (editable) TextButton(onClick = { pickingDay = true }) { Text("Change date") }
            }
            FieldError(errors["occurredAt"])
            if (state.sessions.isNotEmpty() || form.sessionId != null) {
                // "None", then the client's sessions newest first (and the logged one, should it not be listed).
                val starts = state.sessions.associate { it.id to it.at }
                val options = listOf<String?>(null) + state.sessions.map { it.id } + listOfNotNull(form.sessionId?.takeIf { it !in starts })
                SingleChoice("In session", options, form.sessionId, { id -> if (id == null) "None" else starts[id]?.let(::formatTime) ?: "Another session" },
                    errors["sessionId"], editable) { id -> edit { it.copy(sessionId = id) } }
            }
            if (form.sessionId != null) {
                OutlinedTextField(
                    form.atMinute?.toString() ?: "", { t -> edit { it.copy(atMinute = t.filter(Char::isDigit).take(3).toIntOrNull()) } },
                    label = { Text("Minute in session (empty: not recorded)") }, keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
                    isError = errors["atMinute"] != null, enabled = editable, modifier = Modifier.fillMaxWidth(),
                )
                FieldError(errors["atMinute"])
            }

            // What happened.
            SingleChoice("Initiated by", InitiatedBy.entries, form.initiatedBy, { Labels.words(it.name) }, errors["initiatedBy"], editable) { i ->
                edit { it.copy(initiatedBy = i) }
            }
            SingleChoice("Noticed (tap again to clear)", DetectedBy.entries, form.detectedBy, { Labels.words(it.name) }, errors["detectedBy"], editable) { d ->
                edit { it.copy(detectedBy = if (it.detectedBy == d) null else d) }
            }
            ChipGroup("Alliance dimensions strained", AllianceDimension.entries, form.allianceDimensions, { Labels.words(it.name) }, errors["allianceDimensions"], editable) {
                model.core.toggle(it)
            }
            SingleChoice("Movement", Movement.entries, form.movement, { Labels.words(it.name) }, errors["movement"], editable) { m -> edit { it.copy(movement = m) } }
            ChipGroup("3RS markers", RuptureMarker.entries, form.markers, Labels::marker, errors["markers"], editable) { model.core.toggle(it) }
            ChipGroup("Precipitants", Precipitant.entries, form.precipitants, { Labels.words(it.name) }, errors["precipitants"], editable) {
                model.core.toggle(it)
            }
            Rating("Significance (1 low – 5 high)", form.significance, errors["significance"], editable) { s -> edit { it.copy(significance = s) } }
            if (saved == null) {
                SingleChoice("Record class", RecordClass.entries, form.recordClass, { Labels.words(it.name) }) { c -> edit { it.copy(recordClass = c) } }
            } else {
                LabelledText("Record class", Labels.words(saved.recordClass.name) + " (decides who can read it; fixed once logged)")
            }

            // The texts: on a logged rupture each keystroke is saved as a splice.
            RuptureTextField("What happened", form.narrative, errors["narrative"], editable) { type(RuptureText.NARRATIVE, it) }
            RuptureTextField("Client's words", form.clientWords, errors["clientWords"], editable) { type(RuptureText.CLIENT_WORDS, it) }
            RuptureTextField("My contribution", form.therapistContribution, errors["therapistContribution"], editable) { type(RuptureText.THERAPIST_CONTRIBUTION, it) }
            Rating("My contribution (1–5; tap again to clear)", form.therapistContributionRating, errors["therapistContributionRating"], editable) { r ->
                edit { it.copy(therapistContributionRating = if (it.therapistContributionRating == r) null else r) }
            }

            Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Switch(checked = form.followUpPlanned, onCheckedChange = { p -> edit { it.copy(followUpPlanned = p) } }, enabled = editable)
                Text("Follow-up planned")
            }
            RuptureTextField("Follow-up plan", form.followUpNote, errors["followUpNote"], editable) { type(RuptureText.FOLLOW_UP_NOTE, it) }

            if (saved == null) {
                Button(onClick = { model.launch { save() } }) { Text("Save") }
            } else {
                // Known once logged.
                Rating("Client-reported intensity (1–5; tap again to clear)", form.clientReportedIntensity, errors["clientReportedIntensity"], editable) { r ->
                    edit { it.copy(clientReportedIntensity = if (it.clientReportedIntensity == r) null else r) }
                }
                Rating("Resolution (1–5; tap again to clear)", form.resolutionRating, errors["resolutionRating"], editable) { r ->
                    edit { it.copy(resolutionRating = if (it.resolutionRating == r) null else r) }
                }
                ChipGroup("Client's response", ClientResponse.entries, form.clientResponses, { Labels.words(it.name) }, errors["clientResponses"], editable) {
                    model.core.toggle(it)
                }
                FieldError(errors["rupture"])
                if (state.hasUnsavedChanges) {
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        Button(onClick = { model.launch { saveChanges() } }) { Text("Save changes") }
                        OutlinedButton(onClick = { model.core.discardChanges() }) { Text("Discard") }
                    }
                }

                HorizontalDivider()
                SingleChoice("Status", RuptureStatus.entries, saved.status, Labels::status, enabled = editable) { s -> model.launch { setStatus(s) } }
                state.currentSession?.let { if (editable) Text("Changes now are recorded in the session of ${formatTime(it.at)}.", style = MaterialTheme.typography.bodySmall) }
                Text("History", style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 12.dp))
                state.statusHistory.forEach { Text(historyLine(it), style = MaterialTheme.typography.bodyMedium) }

                HorizontalDivider()
                Text("Repair attempts", style = MaterialTheme.typography.titleMedium)
                state.repairHistory.forEach { row ->
                    val a = row.attempt
                    Card(Modifier.fillMaxWidth()) {
                        Column(Modifier.padding(12.dp)) {
                            Text((if (a.immediate) "Immediate" else "Exploratory") + " · " + formatTime(a.at), style = MaterialTheme.typography.titleSmall)
                            Text(sessionLine(row.sessionId, row.sessionAt), style = MaterialTheme.typography.bodySmall)
                            Text(a.strategies.joinToString { Labels.words(it.name.removePrefix("RS_")) })
                            a.effect?.let { Text("Effect $it/5") }
                            if (a.note.isNotEmpty()) Text(a.note)
                        }
                    }
                }
                if (editable) {
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

    if (pickingDay) {
        val zone = ZoneId.systemDefault()
        val picker = rememberDatePickerState(
            initialSelectedDateMillis = RuptureFormViewModel.dayUtcMillis(form.occurredAt ?: notebook.clock.nowMillis(), zone),
        )
        DatePickerDialog(
            onDismissRequest = { pickingDay = false },
            confirmButton = {
                TextButton(onClick = {
                    picker.selectedDateMillis?.let { model.core.setDay(it, zone) }
                    pickingDay = false
                }) { Text("OK") }
            },
            dismissButton = { TextButton(onClick = { pickingDay = false }) { Text("Cancel") } },
        ) { DatePicker(picker) }
    }

    if (voiding) {
        var reason by remember { mutableStateOf("") }
        AlertDialog(
            onDismissRequest = { voiding = false },
            title = { Text("Void this rupture?") },
            text = {
                Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text("For a rupture logged in error. It stays on record and on the timeline, marked voided, but leaves the counts and can no longer be edited. This cannot be undone.")
                    OutlinedTextField(
                        reason, { reason = it }, label = { Text("Reason (required)") },
                        isError = errors["voidReason"] != null, modifier = Modifier.fillMaxWidth(),
                    )
                    FieldError(errors["voidReason"])
                }
            },
            confirmButton = {
                TextButton(onClick = { model.launch { voidRupture(reason).onSuccess { voiding = false } } }) {
                    Text("Void", color = MaterialTheme.colorScheme.error)
                }
            },
            dismissButton = { TextButton(onClick = { voiding = false }) { Text("Cancel") } },
        )
    }
}

/** "In progress · 3 Mar 2026, 10:05 · by you · in the session of 3 Mar 2026, 10:00". */
private fun historyLine(row: StatusRow): String = buildString {
    append(Labels.status(row.status)).append(" · ").append(formatTime(row.at))
    append(if (row.byMe) " · by you" else " · by another clinician")
    if (row.sessionId != null) append(" · ").append(sessionLine(row.sessionId, row.sessionAt).replaceFirstChar { it.lowercase() })
}

/** "In the session of 3 Mar 2026, 10:00", "In a session" (not listed) or "Between sessions". */
private fun sessionLine(sessionId: String?, sessionAt: Long?): String = when {
    sessionAt != null -> "In the session of " + formatTime(sessionAt)
    sessionId != null -> "In a session"
    else -> "Between sessions"
}

/** A multi-line text field with its error. */
@Composable
private fun RuptureTextField(label: String, value: String, error: String?, enabled: Boolean, onChange: (String) -> Unit) {
    OutlinedTextField(value, onChange, label = { Text(label) }, isError = error != null, enabled = enabled, modifier = Modifier.fillMaxWidth())
    FieldError(error)
}

/** A read-only field: a small title over its text. */
@Composable
private fun LabelledText(title: String, text: String) {
    Text(title, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 12.dp))
    Text(text)
}
