//! The one place core errors become errors Swift and Kotlin code can catch and act on.

#![allow(missing_docs)] // Record fields are named after the clinical model; the types carry the docs.

use mend_core::sync::Refusal;
use mend_core::Error as CoreError;

/// Why the relay turned a request down, for the refusals an app acts on instead of retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RelayRefusal {
    /// The relay registers new vaults only with its operator's registration token: call
    /// `registerHttp` with the token the practice was given, then sync.
    RegistrationRequired,
    /// The vault holds as much as the relay allows; erasures still go through.
    QuotaExceeded,
    /// The vault has as many devices as the relay allows.
    DeviceLimit,
    /// The vault has dropped as many erased keys as the relay allows.
    TombstoneLimit,
    /// The relay knows neither this vault nor this device (another relay, or one restored from
    /// a backup older than the vault).
    Unknown,
}

/// A relay's refusal as the app sees it: a revoked device is its own case, `Revoked`.
fn refused(r: Refusal) -> MendError {
    let refusal = match r {
        Refusal::RegistrationRequired => RelayRefusal::RegistrationRequired,
        Refusal::QuotaExceeded => RelayRefusal::QuotaExceeded,
        Refusal::DeviceLimit => RelayRefusal::DeviceLimit,
        Refusal::TombstoneLimit => RelayRefusal::TombstoneLimit,
        Refusal::Revoked => return MendError::Revoked,
        Refusal::Unknown => RelayRefusal::Unknown,
    };
    MendError::RelayRefused { refusal }
}

impl From<RelayRefusal> for Refusal {
    fn from(r: RelayRefusal) -> Self {
        match r {
            RelayRefusal::RegistrationRequired => Refusal::RegistrationRequired,
            RelayRefusal::QuotaExceeded => Refusal::QuotaExceeded,
            RelayRefusal::DeviceLimit => Refusal::DeviceLimit,
            RelayRefusal::TombstoneLimit => Refusal::TombstoneLimit,
            RelayRefusal::Unknown => Refusal::Unknown,
        }
    }
}

/// An error from Mend. Messages never contain clinical text or key material; every case has
/// one (Kotlin `toString()`, Swift `description`), for logs.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum MendError {
    /// The key or passphrase does not open the vault; nothing was written.
    #[error("wrong key or passphrase")]
    WrongKey,
    /// The vault was written by a newer Mend.
    #[error("vault schema {found} is newer than this build ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// The file is not a Mend vault.
    #[error("not a Mend vault: {reason}")]
    NotAVault { reason: String },
    /// A record is damaged; others are unaffected.
    #[error("record {id} is corrupt ({what})")]
    Corrupt { id: String, what: String },
    /// The record's client was erased.
    #[error("record {id} belongs to an erased client")]
    Erased { id: String },
    /// No such record.
    #[error("no {kind} with id {id}")]
    NotFound { kind: String, id: String },
    /// The note is signed; write an addendum.
    #[error("note {id} is signed and locked")]
    NoteLocked { id: String },
    /// Input failed validation; nothing was stored.
    #[error("invalid {field}: {reason}")]
    Validation { field: String, reason: String },
    /// The operation does not fit the record's state.
    #[error("not allowed: {reason}")]
    InvalidState { reason: String },
    /// Storage failed.
    #[error("storage error: {reason}")]
    Storage { reason: String },
    /// A signature did not verify.
    #[error("signature check failed for {id}")]
    BadSignature { id: String },
    /// Not a valid invite.
    #[error("not a valid invite")]
    InvalidInvite,
    /// Wrong invite code.
    #[error("wrong invite code")]
    InviteCode,
    /// The invite expired.
    #[error("the invite has expired")]
    InviteExpired,
    /// The invite was already used.
    #[error("the invite was already used")]
    InviteUsed,
    /// Retryable: the relay could not be reached, timed out or was overloaded (no network, a
    /// 5xx, a 429, the app's HTTP stack threw). Nothing is lost; sync again later.
    #[error("sync transport failed: {reason}")]
    Transport { reason: String },
    /// Permanent: the relay refused for a reason to act on, not to retry (see [`RelayRefusal`]).
    #[error("the relay refused: {refusal:?}")]
    RelayRefused { refusal: RelayRefusal },
    /// Permanent: this device was revoked by another device of the vault; it can no longer
    /// sync. Its local data stays readable on it.
    #[error("this device was revoked")]
    Revoked,
    /// Permanent: the relay rejected the request as malformed, too large or not
    /// authenticated, or answered with bytes that do not decode (another server at that
    /// address, a hostile relay). Retrying the same will not help; check the relay address.
    #[error("the relay rejected the request: {reason}")]
    RelayRejected { reason: String },
    /// An argument from the app is malformed (an id that is not a UUID, a key of the wrong size).
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },
    /// The vault is already open in this process: share that handle instead of a second one.
    #[error("this vault is already open in this process")]
    AlreadyOpen,
    /// Another process (an app extension, a widget, a background sync process) has the vault
    /// open; nothing was read or written. Try again once it has closed it.
    #[error("this vault is open in another process")]
    OpenInAnotherProcess,
    /// An internal error; please report it.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<CoreError> for MendError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::WrongKey => MendError::WrongKey,
            CoreError::SchemaTooNew { found, supported } => {
                MendError::SchemaTooNew { found, supported }
            }
            CoreError::NotAVault(r) => MendError::NotAVault { reason: r.into() },
            CoreError::Corrupt { id, what } => MendError::Corrupt { id: id.to_string(), what },
            CoreError::Erased(id) => MendError::Erased { id: id.to_string() },
            CoreError::NotFound { kind, id } => {
                MendError::NotFound { kind: kind.into(), id: id.to_string() }
            }
            CoreError::NoteLocked(id) => MendError::NoteLocked { id: id.to_string() },
            CoreError::Validation { field, reason } => MendError::Validation { field, reason },
            CoreError::InvalidState(reason) => MendError::InvalidState { reason },
            CoreError::Storage(reason) => MendError::Storage { reason },
            CoreError::BadSignature(id) => MendError::BadSignature { id: id.to_string() },
            CoreError::InvalidInvite => MendError::InvalidInvite,
            CoreError::InviteCode => MendError::InviteCode,
            CoreError::InviteExpired => MendError::InviteExpired,
            CoreError::InviteUsed => MendError::InviteUsed,
            CoreError::Transport(reason) => MendError::Transport { reason },
            CoreError::RelayRefused(r) => refused(r),
            CoreError::RelayRejected(reason) => MendError::RelayRejected { reason },
            CoreError::AlreadyOpen => MendError::AlreadyOpen,
            CoreError::OpenInAnotherProcess => MendError::OpenInAnotherProcess,
            CoreError::Internal(reason) => MendError::Internal { reason },
            other => MendError::Internal { reason: other.to_string() },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for MendError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        MendError::Transport {
            reason: format!("callback failed: {}", e.reason.chars().take(100).collect::<String>()),
        }
    }
}
