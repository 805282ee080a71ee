package org.mend.notebook

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.mend.core.DeviceInfo
import org.mend.core.generateInviteCode

/** One of the vault's devices as Settings lists it. [name] is what its owner called it (synced
 *  through the device registry), [addedAt] when it joined, if recorded. */
data class DeviceRow(
    val id: String,
    val name: String?,
    val addedAt: Long?,
    val thisDevice: Boolean,
    val revoked: Boolean,
) {
    /** The name, or "Device" and the first 8 characters of the id for a device not named. */
    val label: String get() = name ?: Labels.shortDevice(id)

    /** Rows from Mend's device list. */
    companion object {
        /** The row for [d]. */
        fun of(d: DeviceInfo) = DeviceRow(d.id, d.name?.takeIf { it.isNotBlank() }, d.addedAt, d.thisDevice, d.revoked)
    }
}

/** The settings screen's state. */
data class SettingsState(
    /** The relay address field as typed. */
    val relayText: String = "",
    /** Why the typed address is refused, if it is. */
    val relayError: String? = null,
    /** Whether a registration token is saved (the token itself is not shown again). */
    val hasRegistrationToken: Boolean = false,
    /** Why the typed registration token is refused, if it is. */
    val registrationTokenError: String? = null,
    val clinicianName: String = "",
    /** This device's name as the vault has it ("" when not named yet). */
    val deviceName: String = "",
    /** Why the typed device name is refused, if it is. */
    val deviceNameError: String? = null,
    /** This vault's devices in the order they joined; [DeviceRow.thisDevice] marks this one. */
    val devices: List<DeviceRow> = emptyList(),
    /** The invite last created, to show as text or a QR code with its code. */
    val invite: InviteTicket? = null,
)

/**
 * Settings: the relay address (checked before it is saved), the clinician's signing name, this
 * device's name (shown on the other devices once synced), the vault's devices in join order
 * (revoke a lost one), invites for a new device, and erasing a client everywhere
 * (crypto-shredding: its keys are destroyed here and, at their next sync, on every device).
 */
class SettingsViewModel(
    notebook: Notebook,
    private val sync: SyncService,
    /** Whether plain `http://10.0.2.2` (the emulator's host) is accepted: debug builds only. */
    private val emulatorHost: Boolean = false,
) : NotebookViewModel(notebook) {
    private val _state = MutableStateFlow(
        SettingsState(
            relayText = notebook.settings.relayAddress?.url ?: "",
            hasRegistrationToken = notebook.settings.registrationToken != null,
            clinicianName = notebook.settings.clinicianName,
        ),
    )

    /** The screen. */
    val state: StateFlow<SettingsState> = _state.asStateFlow()

    override suspend fun refresh(): Result<Unit> = vault { v -> v.devices() }.map { devices ->
        val rows = devices.map(DeviceRow::of)
        _state.update { s -> s.copy(devices = rows, deviceName = rows.firstOrNull { it.thisDevice }?.name ?: "") }
    }

    /**
     * Names this device ("Clinic phone"): one line of 1 to 64 characters, trimmed. The other
     * devices show it after their next sync. On failure the field shows why and the name stays.
     */
    suspend fun saveDeviceName(name: String): Result<Unit> {
        val n = name.trim()
        val problem = when {
            n.isEmpty() -> "Enter a name for this device."
            n.codePointCount(0, n.length) > MAX_DEVICE_NAME -> "A device name is at most $MAX_DEVICE_NAME characters."
            n.any { it.isISOControl() } -> "A device name is a single line."
            else -> null
        }
        if (problem != null) {
            _state.update { it.copy(deviceNameError = problem) }
            return reject(NotebookError.Validation("deviceName", problem))
        }
        return vault { v -> v.setDeviceName(n) }
            .onSuccess {
                _state.update { it.copy(deviceNameError = null) }
                refresh()
            }
            .onFailure { e -> if (e is NotebookError.Validation) _state.update { it.copy(deviceNameError = e.reason) } }
    }

    /** Checks and saves the relay address; on failure the field shows why. */
    fun saveRelayAddress(text: String): Result<RelayAddress> {
        val parsed = RelayAddress.parse(text, emulatorHost)
        parsed.fold(
            onSuccess = { address ->
                notebook.settings.relayAddress = address
                _state.update { it.copy(relayText = address.url, relayError = null) }
            },
            onFailure = { e -> _state.update { it.copy(relayText = text, relayError = (e as NotebookError.Validation).reason) } },
        )
        return parsed
    }

    /**
     * Saves the registration token a clinic's relay asks for (the sync error says so): one word
     * of printable characters, trimmed, as the relay's operator handed it out. The next sync
     * registers the notebook with it.
     */
    fun saveRegistrationToken(text: String): Result<Unit> {
        val t = text.trim()
        val problem = when {
            t.isEmpty() -> "Enter the registration token from your practice's administrator."
            t.length > MAX_REGISTRATION_TOKEN -> "A registration token is at most $MAX_REGISTRATION_TOKEN characters."
            t.any { it.code !in 0x21..0x7e } -> "A registration token is one word of letters, digits and punctuation."
            else -> null
        }
        if (problem != null) {
            _state.update { it.copy(registrationTokenError = problem) }
            return reject(NotebookError.Validation("registrationToken", problem))
        }
        notebook.settings.registrationToken = t
        _state.update { it.copy(hasRegistrationToken = true, registrationTokenError = null) }
        return Result.success(Unit)
    }

    /** Turns sync off by forgetting the relay address. */
    fun clearRelayAddress() {
        notebook.settings.relayAddress = null
        _state.update { it.copy(relayText = "", relayError = null) }
    }

    /** Saves the name printed with signatures. */
    fun saveClinicianName(name: String): Result<Unit> {
        val n = name.trim()
        if (n.isEmpty()) return reject(NotebookError.Validation("clinicianName", "Enter your name as it appears on signatures."))
        notebook.settings.clinicianName = n
        _state.update { it.copy(clinicianName = n) }
        return Result.success(Unit)
    }

    /** Revokes another device (a lost phone): its changes are refused from then on. */
    suspend fun revokeDevice(deviceId: String): Result<Unit> {
        if (deviceId == notebook.deviceId) return reject(NotebookError.InvalidState("this device cannot revoke itself"))
        return vault { v -> v.revokeDevice(deviceId) }.onSuccess {
            refresh()
            // Tell the relay and the other devices now if sync is on; a later sync does it otherwise.
            if (notebook.settings.relayAddress != null) sync.sync()
        }
    }

    /**
     * Creates an invite for a new device, valid for [validForMillis], and syncs so the relay
     * holds what the new device needs. Show [InviteTicket.payload] (text or QR) and tell the
     * [InviteTicket.code] separately.
     */
    suspend fun createInvite(validForMillis: Long = 24 * 60 * 60 * 1000L): Result<InviteTicket> {
        if (validForMillis <= 0) return reject(NotebookError.Validation("validFor", "An invite must be valid for some time."))
        val expires = notebook.clock.nowMillis() + validForMillis
        val code = generateInviteCode()
        return vault { v -> v.exportInvite(code, expires) }
            .map { bytes -> InviteTicket(InviteTicket.encode(bytes), code, expires) }
            .onSuccess { ticket ->
                _state.update { it.copy(invite = ticket) }
                sync.sync().onFailure { e -> reject<Unit>(e.toNotebookError()) }
            }
    }

    /** Forgets the invite shown. */
    fun dismissInvite() {
        _state.update { it.copy(invite = null) }
    }

    /**
     * Erases a client on every device by destroying its keys. Irreversible, so the clinician
     * must type the client's alias code as [confirmAlias]; a mismatch erases nothing.
     */
    suspend fun eraseClient(clientId: String, confirmAlias: String): Result<Unit> {
        val alias = vault { v -> v.client(clientId).aliasCode }.getOrElse { return Result.failure(it) }
        if (confirmAlias.trim() != alias) {
            return reject(NotebookError.Validation("confirmAlias", "Type the client's alias code exactly to confirm."))
        }
        return vault { v -> v.eraseClient(clientId) }
    }

    /** Limits. */
    companion object {
        /** The longest device name Mend accepts, in characters (code points). */
        const val MAX_DEVICE_NAME = 64

        /** Longest registration token accepted (the relay's own are 68 characters). */
        const val MAX_REGISTRATION_TOKEN = 200
    }
}
