package org.mend.notebook

import java.util.UUID

/** Non-secret preferences: the relay address and who signs. Android keeps them in
 *  SharedPreferences (no clinical content goes here); tests use [InMemorySettingsStore]. */
interface SettingsStore {
    /** The checked relay address, or null when none is set (sync is then off). */
    var relayAddress: RelayAddress?

    /** The registration token a clinic's relay needs to register this notebook (from the
     *  practice's administrator), or null. Good for one notebook: spent by the first sync, after
     *  which the relay knows the notebook and the token opens nothing; [SyncService] then
     *  forgets it. */
    var registrationToken: String?

    /** The clinician's name as printed on signatures. */
    var clinicianName: String

    /** The clinician's stable id, used as author and signer id. */
    val clinicianId: String
}

/** [SettingsStore] in memory. */
class InMemorySettingsStore(
    override var relayAddress: RelayAddress? = null,
    override var registrationToken: String? = null,
    override var clinicianName: String = "",
    override val clinicianId: String = UUID.randomUUID().toString(),
) : SettingsStore
