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
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.ListItem
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
import androidx.compose.ui.platform.LocalClipboardManager
import androidx.compose.ui.text.AnnotatedString
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.mend.notebook.ClientListViewModel
import org.mend.notebook.ClientRow
import org.mend.notebook.Notebook
import org.mend.notebook.SettingsViewModel
import org.mend.notebook.SyncService
import org.mend.sample.BuildConfig
import org.mend.sample.MendApp

/** Settings: relay address, signing name, this device's name, devices in join order (named,
 *  with join dates; revoke a lost one), invites, and erasing a client. */
@Composable
fun SettingsScreen(app: MendApp, notebook: Notebook, onBack: () -> Unit) {
    val model = screenModel(notebook) { SettingsViewModel(notebook, app.syncService() ?: SyncService(notebook, app::relay), emulatorHost = BuildConfig.DEBUG) }
    val clients = screenModel(notebook, "settings") { ClientListViewModel(notebook) }
    val state by model.core.state.collectAsStateWithLifecycle()
    val clientList by clients.core.state.collectAsStateWithLifecycle()
    var relay by remember(state.relayText) { mutableStateOf(state.relayText) }
    var token by remember { mutableStateOf("") }
    var name by remember(state.clinicianName) { mutableStateOf(state.clinicianName) }
    var deviceName by remember(state.deviceName) { mutableStateOf(state.deviceName) }
    var erasing by remember { mutableStateOf<ClientRow?>(null) }
    val clipboard = LocalClipboardManager.current

    NotebookScaffold(title = "Settings", model = model.core, onBack = onBack) { padding ->
        Column(Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Relay", style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(
                relay, { relay = it }, label = { Text("https://relay.example.org") }, singleLine = true,
                isError = state.relayError != null, supportingText = { state.relayError?.let { Text(it) } }, modifier = Modifier.fillMaxWidth(),
            )
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { model.core.saveRelayAddress(relay) }) { Text("Save") }
                OutlinedButton(onClick = { model.core.clearRelayAddress() }) { Text("Turn sync off") }
            }
            // A clinic's relay registers a new notebook only with its administrator's token.
            OutlinedTextField(
                token, { token = it }, singleLine = true,
                label = { Text(if (state.hasRegistrationToken) "Registration token (saved)" else "Registration token (if your relay asks)") },
                isError = state.registrationTokenError != null, supportingText = { state.registrationTokenError?.let { Text(it) } },
                // A credential: hidden as typed, kept out of the keyboard's suggestions.
                visualTransformation = PasswordVisualTransformation(),
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
                modifier = Modifier.fillMaxWidth(),
            )
            Button(onClick = { if (model.core.saveRegistrationToken(token).isSuccess) token = "" }) { Text("Save token") }
            HorizontalDivider()

            Text("Signature", style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(name, { name = it }, label = { Text("Your name as signed") }, singleLine = true, modifier = Modifier.fillMaxWidth())
            Button(onClick = { model.core.saveClinicianName(name) }) { Text("Save name") }
            HorizontalDivider()

            Text("Devices", style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(
                deviceName, { deviceName = it }, label = { Text("This device's name, e.g. Clinic phone") }, singleLine = true,
                isError = state.deviceNameError != null, supportingText = { Text(state.deviceNameError ?: "Shown on your other devices after they sync.") },
                modifier = Modifier.fillMaxWidth(),
            )
            Button(onClick = { model.launch { saveDeviceName(deviceName) } }) { Text("Save device name") }
            // In the order they joined; names fall back to a short id.
            state.devices.forEach { d ->
                ListItem(
                    headlineContent = { Text(d.label + if (d.thisDevice) " (this device)" else "") },
                    supportingContent = {
                        Text((d.addedAt?.let { "Joined ${formatDate(it)}" } ?: "Join date not recorded") + " · " + if (d.revoked) "Revoked" else "Active")
                    },
                    trailingContent = {
                        if (!d.thisDevice && !d.revoked) TextButton(onClick = { model.launch { revokeDevice(d.id) } }) { Text("Revoke") }
                    },
                )
            }
            OutlinedButton(onClick = { model.launch { createInvite() } }) { Text("Invite a new device") }
            state.invite?.let { ticket ->
                Text("On the new device, paste the invite and type the code. Send them by different channels.")
                Text("Code: ${ticket.code}", style = MaterialTheme.typography.titleLarge)
                Text("Valid until ${formatTime(ticket.expiresAt)}")
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Button(onClick = { clipboard.setText(AnnotatedString(ticket.payload)) }) { Text("Copy invite") }
                    OutlinedButton(onClick = { model.core.dismissInvite() }) { Text("Done") }
                }
            }
            HorizontalDivider()

            Text("Erase a client", style = MaterialTheme.typography.titleMedium)
            Text("Destroys the client's keys here and, at their next sync, on every device. This cannot be undone.")
            clientList.clients.filter { it.readable }.forEach { c ->
                ListItem(
                    headlineContent = { Text(c.alias ?: "") },
                    trailingContent = { TextButton(onClick = { erasing = c }) { Text("Erase", color = MaterialTheme.colorScheme.error) } },
                )
            }
        }
    }

    erasing?.let { client ->
        var typed by remember { mutableStateOf("") }
        AlertDialog(
            onDismissRequest = { erasing = null },
            title = { Text("Erase ${client.alias}?") },
            text = {
                Column {
                    Text("Type the alias code to confirm.")
                    OutlinedTextField(typed, { typed = it }, singleLine = true)
                }
            },
            confirmButton = {
                TextButton(onClick = {
                    model.launch {
                        eraseClient(client.id, typed).onSuccess {
                            erasing = null
                            clients.launch { refresh() }
                        }
                    }
                }) { Text("Erase", color = MaterialTheme.colorScheme.error) }
            },
            dismissButton = { TextButton(onClick = { erasing = null }) { Text("Cancel") } },
        )
    }
}
