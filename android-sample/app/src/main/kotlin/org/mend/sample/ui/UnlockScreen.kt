package org.mend.sample.ui

import android.os.Build
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_WEAK
import androidx.biometric.BiometricManager.Authenticators.DEVICE_CREDENTIAL
import androidx.biometric.BiometricPrompt
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import kotlinx.coroutines.launch
import org.mend.notebook.HttpRelay
import org.mend.notebook.LockState
import org.mend.notebook.NotebookError
import org.mend.notebook.RelayAddress
import org.mend.sample.BuildConfig
import org.mend.sample.MendApp

/** Which authenticators unlock the Keystore key: strong biometrics or the device passcode. */
private fun authenticators(): Int =
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) BIOMETRIC_STRONG or DEVICE_CREDENTIAL else BIOMETRIC_WEAK or DEVICE_CREDENTIAL

/** Shows the system biometric / passcode prompt and calls [onAuthenticated] on success. */
private fun authenticate(activity: FragmentActivity, title: String, onAuthenticated: () -> Unit, onError: (String) -> Unit) {
    val prompt = BiometricPrompt(
        activity,
        ContextCompat.getMainExecutor(activity),
        object : BiometricPrompt.AuthenticationCallback() {
            override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) = onAuthenticated()
            override fun onAuthenticationError(errorCode: Int, errString: CharSequence) = onError(errString.toString())
        },
    )
    val info = BiometricPrompt.PromptInfo.Builder()
        .setTitle(title)
        .setSubtitle("Use your fingerprint, face or device PIN")
        .setAllowedAuthenticators(authenticators())
        .build()
    prompt.authenticate(info)
}

/**
 * The unlock screen: a biometric or passcode check, then the vault opens with the
 * Keystore-wrapped key. On a device without a notebook it offers to create one or to join one
 * from another device with an invite and its one-time code.
 */
@Composable
fun UnlockScreen(app: MendApp, activity: FragmentActivity, state: LockState) {
    val scope = rememberCoroutineScope()
    var message by remember { mutableStateOf<String?>(null) }
    var invite by remember { mutableStateOf("") }
    var code by remember { mutableStateOf("") }
    var relayText by remember { mutableStateOf(app.settings.relayAddress?.url ?: "") }
    val gate = app.gate
    val canAuthenticate = BiometricManager.from(activity).canAuthenticate(authenticators()) == BiometricManager.BIOMETRIC_SUCCESS

    fun afterAuth(action: suspend () -> Unit) {
        message = null
        authenticate(activity, "Unlock your notebook", onAuthenticated = { scope.launch { action() } }, onError = { message = it })
    }

    Column(
        Modifier.fillMaxSize().padding(24.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text("Mend Notebook", style = MaterialTheme.typography.headlineMedium)
        if (!canAuthenticate) {
            Text("Set a screen lock (PIN, pattern or password) on this device: the notebook key is protected by it.")
        }
        when (state) {
            is LockState.Working -> CircularProgressIndicator()
            is LockState.Failed -> Text(
                when (val e = state.error) {
                    is NotebookError.WrongKey -> "This device's key does not open the notebook. Nothing was changed."
                    else -> e.message ?: "Could not unlock."
                },
                color = MaterialTheme.colorScheme.error,
            )
            else -> {}
        }
        message?.let { Text(it, color = MaterialTheme.colorScheme.error) }

        if (gate.hasVault) {
            Button(onClick = { afterAuth { gate.unlock() } }, enabled = canAuthenticate && state !is LockState.Working) { Text("Unlock") }
        } else {
            Button(onClick = { afterAuth { gate.unlock() } }, enabled = canAuthenticate && state !is LockState.Working) {
                Text("Create a new notebook")
            }
            HorizontalDivider()
            Text("Or join the notebook of your other device", style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(relayText, { relayText = it }, label = { Text("Relay address") }, singleLine = true, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(invite, { invite = it }, label = { Text("Invite (mend-invite:…)") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(code, { code = it }, label = { Text("One-time code") }, singleLine = true, modifier = Modifier.fillMaxWidth())
            OutlinedButton(
                enabled = canAuthenticate && invite.isNotBlank() && code.isNotBlank() && state !is LockState.Working,
                onClick = {
                    RelayAddress.parse(relayText, emulatorHost = BuildConfig.DEBUG).fold(
                        onSuccess = { address ->
                            app.settings.relayAddress = address
                            afterAuth { gate.join(invite, code, HttpRelay(address)) }
                        },
                        onFailure = { message = (it as? NotebookError.Validation)?.reason ?: it.message },
                    )
                },
            ) { Text("Join") }
        }
    }
}
