package org.mend.notebook

import java.net.URI
import java.net.URISyntaxException

/** A checked relay address: an `https` URL with a host (plain `http` only for this machine, or
 *  the Android emulator's alias for the development computer when the app allows it: a debug
 *  build), no credentials, query or fragment. Normalised without a trailing slash, so the same
 *  relay always compares equal. */
@ConsistentCopyVisibility
data class RelayAddress private constructor(val url: String) {
    override fun toString(): String = url

    /** Parsing and its errors. */
    companion object {
        /** Hosts that may be reached over plain `http`: loopback. Everything else must use TLS. */
        private val LOCAL_HOSTS = setOf("localhost", "127.0.0.1", "[::1]", "::1")

        /** The emulator's alias for the development computer's loopback. On a real phone it is
         *  an ordinary address on whatever network the phone is on, so plain `http` to it is
         *  allowed only when the caller says so (the sample passes `BuildConfig.DEBUG`). */
        const val EMULATOR_HOST = "10.0.2.2"

        /** Checks [text] and returns the address, or the reason it is not one. With
         *  [emulatorHost], `http://10.0.2.2` is allowed too. */
        fun parse(text: String, emulatorHost: Boolean = false): Result<RelayAddress> {
            val trimmed = text.trim()
            if (trimmed.isEmpty()) return failure(RelayAddressProblem.BLANK)
            val uri = try {
                URI(trimmed)
            } catch (_: URISyntaxException) {
                return failure(RelayAddressProblem.NOT_A_URL)
            }
            val scheme = uri.scheme?.lowercase() ?: return failure(RelayAddressProblem.NOT_A_URL)
            if (scheme != "https" && scheme != "http") return failure(RelayAddressProblem.UNSUPPORTED_SCHEME)
            val host = uri.host?.lowercase()
            if (host.isNullOrEmpty()) return failure(RelayAddressProblem.MISSING_HOST)
            val local = host in LOCAL_HOSTS || host.startsWith("127.") || (emulatorHost && host == EMULATOR_HOST)
            if (scheme == "http" && !local) {
                return failure(RelayAddressProblem.INSECURE)
            }
            if (uri.rawUserInfo != null) return failure(RelayAddressProblem.CREDENTIALS)
            if (uri.rawQuery != null || uri.rawFragment != null) return failure(RelayAddressProblem.QUERY_OR_FRAGMENT)
            if (uri.port != -1 && uri.port !in 1..65535) return failure(RelayAddressProblem.BAD_PORT)
            val port = if (uri.port == -1) "" else ":${uri.port}"
            val path = (uri.rawPath ?: "").trimEnd('/')
            return Result.success(RelayAddress("$scheme://$host$port$path"))
        }

        private fun failure(p: RelayAddressProblem): Result<RelayAddress> =
            Result.failure(NotebookError.Validation("relayAddress", p.message))
    }
}

/** Why a relay address was refused; [message] is shown under the field. */
enum class RelayAddressProblem(val message: String) {
    BLANK("Enter the relay address."),
    NOT_A_URL("This is not a URL, e.g. https://relay.example.org."),
    UNSUPPORTED_SCHEME("The address must start with https://."),
    MISSING_HOST("The address has no host name."),
    INSECURE("Use https:// (plain http is only allowed for this device, and for the emulator's host in a debug build)."),
    CREDENTIALS("Remove the user name or password from the address; devices sign their requests."),
    QUERY_OR_FRAGMENT("Remove the ?query or #fragment from the address."),
    BAD_PORT("The port must be between 1 and 65535."),
}
