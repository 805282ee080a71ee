package org.mend.sample.data

import android.content.Context
import java.util.UUID
import org.mend.notebook.RelayAddress
import org.mend.sample.BuildConfig
import org.mend.notebook.SettingsStore

/** [SettingsStore] in SharedPreferences. Holds no clinical content: a URL, a name, an id, and a
 *  relay registration token (good for registering one notebook, spent by the first sync). */
class PrefsSettingsStore(context: Context) : SettingsStore {
    private val prefs = context.getSharedPreferences("mend-settings", Context.MODE_PRIVATE)

    override var relayAddress: RelayAddress?
        get() = prefs.getString(RELAY, null)?.let { RelayAddress.parse(it, emulatorHost = BuildConfig.DEBUG).getOrNull() }
        set(value) {
            prefs.edit().putString(RELAY, value?.url).apply()
        }

    override var registrationToken: String?
        get() = prefs.getString(TOKEN, null)
        set(value) {
            prefs.edit().putString(TOKEN, value).apply()
        }

    override var clinicianName: String
        get() = prefs.getString(NAME, "") ?: ""
        set(value) {
            prefs.edit().putString(NAME, value).apply()
        }

    override val clinicianId: String
        get() = prefs.getString(ID, null) ?: UUID.randomUUID().toString().also { prefs.edit().putString(ID, it).apply() }

    private companion object {
        const val RELAY = "relay_address"
        const val TOKEN = "registration_token"
        const val NAME = "clinician_name"
        const val ID = "clinician_id"
    }
}
