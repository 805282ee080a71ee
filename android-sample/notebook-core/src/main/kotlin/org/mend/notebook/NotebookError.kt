package org.mend.notebook

import org.mend.core.MendException
import org.mend.core.RelayRefusal

/** What went wrong, in terms a screen can act on. Messages never contain clinical text or keys:
 *  they come from Mend's typed errors (which are free of plaintext) or are written here. */
sealed class NotebookError(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /** The key does not open this vault; nothing was written. */
    class WrongKey : NotebookError("The vault key does not open this notebook.")

    /** The device's key store did not release the vault key. */
    class KeyUnavailable(reason: String) : NotebookError("The vault key is not available: $reason")

    /** The notebook was locked (for inactivity or by the user); unlock again. */
    class Locked : NotebookError("The notebook is locked.")

    /** The note is signed; changes go into an addendum. */
    class NoteLocked(val noteId: String) : NotebookError("This note is signed. Write an addendum instead.")

    /** A field failed validation; nothing was stored. [field] names the form field. */
    class Validation(val field: String, val reason: String) : NotebookError("$field: $reason")

    /** The record does not exist (it may have been removed on another device). */
    class NotFound(val id: String) : NotebookError("The record was not found.")

    /** The record belongs to an erased client. */
    class Erased(val id: String) : NotebookError("This client was erased.")

    /** A damaged record; the rest of the notebook is unaffected. */
    class Corrupt(val id: String) : NotebookError("A record is damaged and cannot be read.")

    /** The action does not fit the record's current state. */
    class InvalidState(reason: String) : NotebookError("Not allowed: $reason")

    /** The relay could not be reached (no network, a timeout, an overloaded relay); nothing is
     *  lost, and syncing again later will do. The only sync error worth a retry as it is. */
    class Transport(reason: String) : NotebookError("Sync failed: $reason")

    /** This device was removed from the notebook by another device; it can no longer sync. */
    class Revoked : NotebookError("This device was removed from the notebook and can no longer sync.")

    /** The relay rejected the request (a wrong address, a server that is not a Mend relay);
     *  retrying will not help until the address is fixed. */
    class RelayRejected(reason: String) : NotebookError("The relay rejected the request ($reason). Check the relay address in Settings.")

    /** The relay refused for a reason retrying will not fix: a registration token is needed, or
     *  the notebook is at its storage or device limit. */
    class RelayRefused(val refusal: RelayRefusal) : NotebookError(
        when (refusal) {
            RelayRefusal.REGISTRATION_REQUIRED ->
                "This relay needs a registration token. Ask your practice's administrator and enter it in Settings."
            RelayRefusal.QUOTA_EXCEEDED -> "The relay's storage for this notebook is full. Ask your practice's administrator."
            RelayRefusal.DEVICE_LIMIT -> "This notebook has as many devices as the relay allows."
            RelayRefusal.TOMBSTONE_LIMIT -> "The relay cannot record more erasures for this notebook. Ask your practice's administrator."
            RelayRefusal.UNKNOWN -> "The relay does not know this notebook. Check the relay address in Settings."
        },
    )

    /** The vault is already open: in this process (share that notebook instead of a second
     *  one) or in another (a `:sync` process or a widget); nothing was read or written. */
    class OpenElsewhere(val inThisProcess: Boolean) : NotebookError(
        if (inThisProcess) "This notebook is already open in the app."
        else "This notebook is open in another part of the app. Try again in a moment.",
    )

    /** No relay address is configured. */
    class NoRelay : NotebookError("Set a relay address in Settings first.")

    /** The invite cannot be used: malformed, wrong code, expired or already used. */
    class Invite(val problem: InviteProblem) : NotebookError(problem.message)

    /** Any other failure (storage, internal); safe to show, worth reporting. */
    class Other(message: String, cause: Throwable? = null) : NotebookError(message, cause)
}

/** Why an invite was refused. */
enum class InviteProblem(val message: String) {
    /** Not an invite, or damaged in transit. */
    MALFORMED("This is not a valid invite."),
    /** The one-time code does not match. */
    WRONG_CODE("The invite code is wrong."),
    /** The invite is past its expiry time. */
    EXPIRED("The invite has expired. Ask for a new one."),
    /** Another device already used it. */
    USED("The invite was already used. Ask for a new one."),
}

/** Maps anything thrown by the bindings (or this module) to a [NotebookError]. */
fun Throwable.toNotebookError(): NotebookError = when (this) {
    is NotebookError -> this
    is KeyUnavailableException -> NotebookError.KeyUnavailable(reason)
    is MendException.WrongKey -> NotebookError.WrongKey()
    is MendException.NoteLocked -> NotebookError.NoteLocked(id)
    is MendException.Validation -> NotebookError.Validation(field, reason)
    is MendException.NotFound -> NotebookError.NotFound(id)
    is MendException.Erased -> NotebookError.Erased(id)
    is MendException.Corrupt -> NotebookError.Corrupt(id)
    is MendException.InvalidState -> NotebookError.InvalidState(reason)
    is MendException.Transport -> NotebookError.Transport(reason)
    is MendException.RelayRefused -> NotebookError.RelayRefused(refusal)
    is MendException.Revoked -> NotebookError.Revoked()
    is MendException.RelayRejected -> NotebookError.RelayRejected(reason)
    is MendException.InvalidInvite -> NotebookError.Invite(InviteProblem.MALFORMED)
    is MendException.InviteCode -> NotebookError.Invite(InviteProblem.WRONG_CODE)
    is MendException.InviteExpired -> NotebookError.Invite(InviteProblem.EXPIRED)
    is MendException.InviteUsed -> NotebookError.Invite(InviteProblem.USED)
    is MendException.InvalidArgument -> NotebookError.Validation("input", reason)
    is MendException.AlreadyOpen -> NotebookError.OpenElsewhere(inThisProcess = true)
    is MendException.OpenInAnotherProcess -> NotebookError.OpenElsewhere(inThisProcess = false)
    is MendException -> NotebookError.Other(message ?: "Mend error", this)
    else -> NotebookError.Other("Unexpected error (${this::class.simpleName})", this)
}
