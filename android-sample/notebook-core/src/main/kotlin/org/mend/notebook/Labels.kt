package org.mend.notebook

import org.mend.model.ClientStatus
import org.mend.model.NoteFormat
import org.mend.model.NoteState
import org.mend.model.RuptureMarker
import org.mend.model.RuptureStatus

/** Human labels for Mend's vocabularies, shared by the screens and the conflict inbox. English
 *  only in this sample; an app would move them to string resources. */
object Labels {
    /** Section keys per note format, in display order (clinical-model §4.3). */
    fun sections(format: NoteFormat): List<String> = when (format) {
        NoteFormat.SOAP -> listOf("subjective", "objective", "assessment", "plan")
        NoteFormat.DAP -> listOf("data", "assessment", "plan")
        NoteFormat.BIRP -> listOf("behavior", "intervention", "response", "plan")
        NoteFormat.GIRP -> listOf("goal", "intervention", "response", "plan")
        NoteFormat.FREE -> listOf("body")
    }

    /** A section key as a heading ("subjective" → "Subjective"). */
    fun section(key: String): String = words(key)

    /** An enum constant or snake_case value as words ("ON_HOLD", "on_hold" → "On hold"). */
    fun words(name: String): String =
        name.lowercase().replace('_', ' ').replaceFirstChar { it.uppercase() }

    /** A note format's short name. */
    fun format(f: NoteFormat): String = if (f == NoteFormat.FREE) "Free text" else f.name

    /** A note state. */
    fun state(s: NoteState): String = words(s.name)

    /** A client status. */
    fun status(s: ClientStatus): String = words(s.name)

    /** A rupture status. */
    fun status(s: RuptureStatus): String = words(s.name)

    /** A 3RS marker without its group prefix, with its group ("Withdrawal: Minimal response"). */
    fun marker(m: RuptureMarker): String {
        val n = m.name
        return when {
            n.startsWith("WD_") -> "Withdrawal: " + words(n.removePrefix("WD_"))
            n.startsWith("CF_") -> "Confrontation: " + words(n.removePrefix("CF_"))
            else -> "Therapist: " + words(n.removePrefix("TH_"))
        }
    }

    /** A device as a short label: "This device", the name its owner gave it (from [names], by
     *  id), or "Device" and the first 8 characters of its id. */
    fun device(id: String?, thisDevice: String, names: Map<String, String> = emptyMap()): String = when (id) {
        null -> "Unknown device"
        thisDevice -> "This device"
        else -> names[id] ?: shortDevice(id)
    }

    /** A device without a name: "Device" and the first 8 characters of its id. */
    fun shortDevice(id: String): String = "Device " + id.take(8)
}
