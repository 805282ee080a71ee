//! Errors of the Mend core.
//!
//! One public [`Error`] type, shaped so a caller (and later the Swift and Kotlin bindings) can act
//! on it: `WrongKey` means ask for the key again, `Corrupt` names the damaged record, `NoteLocked`
//! means write an addendum instead. Error texts never carry plaintext clinical content, key bytes
//! or nonces: they name fields, ids and counts only. Library errors from SQLite or Automerge are
//! reduced to a short category by [`From`] impls here, so their messages (which may quote data)
//! never reach a log.

use crate::ids::RecordId;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key or passphrase does not open this vault. Nothing was written.
    #[error("wrong key or passphrase for this vault")]
    WrongKey,

    /// The vault file was written by a newer version of Mend; upgrade the app to open it.
    #[error("vault schema version {found} is newer than this build supports ({supported}); upgrade Mend")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build understands.
        supported: i64,
    },

    /// The file is not a Mend vault (or its header rows are damaged).
    #[error("not a Mend vault: {0}")]
    NotAVault(&'static str),

    /// A stored record failed authentication or decoding. Other records are unaffected and nothing
    /// was deleted; restore this record from another device or a backup.
    #[error("record {id} is corrupt ({what}); other records are unaffected")]
    Corrupt {
        /// The damaged record.
        id: RecordId,
        /// Which stored part failed, e.g. "snapshot", "change 4", "summary".
        what: String,
    },

    /// The record's client was erased (crypto-shredded); its content can never be read again.
    #[error("record {0} belongs to an erased client")]
    Erased(RecordId),

    /// No record with this id (of the expected kind) exists in the vault.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// The id asked for.
        id: RecordId,
    },

    /// The note is signed; its content can no longer change. Write an addendum instead.
    #[error("note {0} is signed and locked; add an addendum instead")]
    NoteLocked(RecordId),

    /// Input failed clinical validation; nothing was stored.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The offending field, e.g. `significance` or `sections.objective`.
        field: String,
        /// Why it was refused (never quotes free text).
        reason: String,
    },

    /// The operation does not fit the record's current state (e.g. co-signing an unsigned note).
    #[error("not allowed: {0}")]
    InvalidState(String),

    /// The SQLite store failed (disk full, I/O error, locked database).
    #[error("storage error: {0}")]
    Storage(String),

    /// A signature did not verify, or signed content no longer matches its hash.
    #[error("signature check failed for record {0}")]
    BadSignature(RecordId),

    /// The invite is not a Mend invite, or is damaged.
    #[error("not a valid invite")]
    InvalidInvite,

    /// The one-time code does not open this invite.
    #[error("wrong invite code")]
    InviteCode,

    /// The invite has expired; ask for a new one.
    #[error("the invite has expired")]
    InviteExpired,

    /// The invite was already used by another device; ask for a new one.
    #[error("the invite was already used")]
    InviteUsed,

    /// The relay could not be reached, timed out or was overloaded (no network, a 5xx, a 429):
    /// local data is intact; retry later. The only sync error worth a retry as it is.
    #[error("sync transport failed: {0}")]
    Transport(String),

    /// The relay (or the app's own transport) turned the request down as malformed, too large
    /// or not authenticated, or answered with bytes that do not decode: retrying the same
    /// request will not help. Local data is intact. The message carries no clinical content.
    #[error("the relay rejected the request: {0}")]
    RelayRejected(String),

    /// The relay refused the request for a reason the app should act on, not retry: a
    /// registration token needed, the vault's quota or device cap reached, this device revoked.
    #[error("the relay refused: {0}")]
    RelayRefused(crate::sync::Refusal),

    /// This vault is already open in this process. Share that handle (it is `Send + Sync`)
    /// instead of opening a second one: two handles would overwrite each other's writes.
    #[error("this vault is already open in this process; share that handle")]
    AlreadyOpen,

    /// Another process (an app extension, a widget, a background sync process) has this vault
    /// open. Nothing was read or written; try again once it has closed the vault.
    #[error("this vault is open in another process")]
    OpenInAnotherProcess,

    /// An internal invariant was broken; please report this.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn corrupt(id: RecordId, what: impl Into<String>) -> Self {
        Error::Corrupt { id, what: what.into() }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite messages can quote SQL but never bound values; keep only the SQLite code
        // category so nothing else leaks.
        match &e {
            rusqlite::Error::SqliteFailure(code, _) => Error::Storage(format!("{:?}", code.code)),
            rusqlite::Error::QueryReturnedNoRows => Error::Storage("missing row".into()),
            _ => Error::Storage("sqlite call failed".into()),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(_: automerge::AutomergeError) -> Self {
        // Automerge errors can quote values; report the category only.
        Error::Internal("document operation failed".into())
    }
}
