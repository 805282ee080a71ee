//! The transport between a device and the relay, as a trait: an in-memory relay for tests, an
//! HTTP client for the real relay, or a foreign implementation (URLSession, OkHttp) through the
//! bindings. A transport moves opaque bundle bytes; it is never trusted with anything else.

use crate::ids::{DeviceId, KeyId, RecordId, VaultId};

/// One stored bundle as the relay returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageItem {
    /// The relay's sequence number for it (the cursor advances past it).
    pub seq: u64,
    /// The bundle bytes.
    pub bundle: Vec<u8>,
}

/// A page of pulled bundles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The bundles, in relay order.
    pub items: Vec<PageItem>,
    /// How many more bundles the relay holds after this page (for a progress bar).
    pub remaining: u64,
    /// The highest sequence number the relay ever gave a bundle of this vault (0 = unknown).
    /// A cursor above it means a relay once served made-up sequence numbers; the device then
    /// pulls again from the start (duplicates are skipped).
    pub head: u64,
}

/// Why the relay turned a device's request down, for the refusals an app must act on (tell the
/// user, ask the practice's operator): not worth retrying as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The relay registers new vaults only with a registration token from its operator
    /// (`registration_required`): register with the token the practice was given.
    RegistrationRequired,
    /// The vault holds as much as the relay allows it (`quota_exceeded`). Erasures still go
    /// through; pushes wait until the operator raises the quota or the vault holds less.
    QuotaExceeded,
    /// The vault has as many devices as the relay allows (`device_limit`); revoked devices keep
    /// their place.
    DeviceLimit,
    /// The vault has dropped as many erased keys as the relay allows (`tombstone_limit`).
    TombstoneLimit,
    /// This device was revoked (`revoked`).
    Revoked,
    /// The relay knows neither this vault nor this device (`unknown`, 404): another relay, or
    /// one restored from a backup older than the vault.
    Unknown,
}

impl Refusal {
    /// The refusal named by a relay error code, if it is one of these.
    pub fn from_code(code: &str) -> Option<Refusal> {
        Some(match code {
            "registration_required" => Refusal::RegistrationRequired,
            "quota_exceeded" => Refusal::QuotaExceeded,
            "device_limit" => Refusal::DeviceLimit,
            "tombstone_limit" => Refusal::TombstoneLimit,
            "revoked" => Refusal::Revoked,
            "unknown" => Refusal::Unknown,
            _ => return None,
        })
    }

    /// The relay's error code for it.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::RegistrationRequired => "registration_required",
            Refusal::QuotaExceeded => "quota_exceeded",
            Refusal::DeviceLimit => "device_limit",
            Refusal::TombstoneLimit => "tombstone_limit",
            Refusal::Revoked => "revoked",
            Refusal::Unknown => "unknown",
        }
    }

    /// The HTTP status the relay answers it with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::Unknown => 404,
            _ => 403,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A transport failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The relay could not be reached or failed; retry later. The message carries no content.
    #[error("relay unavailable: {0}")]
    Unavailable(String),
    /// The invite was already used by another device.
    #[error("invite already claimed")]
    InviteAlreadyClaimed,
    /// The relay refused the request (bad input, unknown vault).
    #[error("relay refused the request: {0}")]
    Refused(String),
    /// The relay refused the request for a reason the app acts on ([`Refusal`]).
    #[error("relay refused the request: {0}")]
    Denied(Refusal),
    /// The relay's address is plain `http://` off this device, which the app did not allow:
    /// nothing was sent. Not worth a retry; the address needs `https://`.
    #[error("the relay address must use https:// (plain http:// only to this device's loopback)")]
    Insecure,
}

/// Moves bundles between a device and the relay.
pub trait Transport: Send + Sync {
    /// Called by the vault before it uses the transport, with the device identity requests must
    /// be signed with. Transports that authenticate requests (HTTP) keep it; others ignore it.
    fn bind_identity(&self, _device: DeviceId, _key: &crate::crypto::signing::DeviceKey) {}

    /// Stores bundles (each already signed and encrypted).
    fn push(&self, vault: &VaultId, bundles: Vec<Vec<u8>>) -> Result<(), TransportError>;

    /// Bundles stored after relay sequence number `since`, at most `limit`.
    fn pull(&self, vault: &VaultId, since: u64, limit: u32) -> Result<Page, TransportError>;

    /// Stores a snapshot of `doc` that covers every bundle of it up to relay sequence `covers`,
    /// which the relay may then drop.
    fn upload_snapshot(
        &self,
        vault: &VaultId,
        doc: &RecordId,
        covers: u64,
        bundle: Vec<u8>,
    ) -> Result<(), TransportError>;

    /// Drops every bundle labelled with one of these key ids (an erased client's).
    fn drop_key_ids(&self, vault: &VaultId, key_ids: &[KeyId]) -> Result<(), TransportError>;

    /// Marks an invite as used; fails with [`TransportError::InviteAlreadyClaimed`] the second time.
    fn claim_invite(&self, vault: &VaultId, invite_id: &[u8; 16]) -> Result<(), TransportError>;

    /// Tells the relay a device's public key. A device enrolling itself in a vault the relay does
    /// not know registers the vault; otherwise an enrolled device vouches for a new one.
    fn enroll(
        &self,
        vault: &VaultId,
        device: &DeviceId,
        public: &[u8; 32],
    ) -> Result<(), TransportError>;

    /// Tells the relay to refuse a device from now on.
    fn revoke(&self, vault: &VaultId, device: &DeviceId) -> Result<(), TransportError>;
}
