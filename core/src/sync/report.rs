//! What a sync is asked to do and what it did: options (page size, progress callback, cancel
//! flag), progress counts, and the report with every refused bundle and its reason.

use std::sync::atomic::AtomicBool;

use crate::ids::RecordId;

/// How a sync runs.
#[derive(Clone, Copy)]
pub struct SyncOptions<'a> {
    /// Bundles per push request and per pulled page.
    pub page_size: u32,
    /// Called after every pushed batch and applied page, for a progress bar.
    pub progress: Option<&'a (dyn Fn(&SyncProgress) + Sync)>,
    /// Set to stop between pages; the sync returns with `cancelled` and resumes next time.
    pub cancel: Option<&'a AtomicBool>,
}

impl Default for SyncOptions<'_> {
    fn default() -> Self {
        SyncOptions { page_size: 200, progress: None, cancel: None }
    }
}

impl std::fmt::Debug for SyncOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions").field("page_size", &self.page_size).finish_non_exhaustive()
    }
}

/// Counts so far, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Bundles pushed.
    pub pushed: u64,
    /// Local bundles still to push.
    pub to_push: u64,
    /// Bundles pulled.
    pub pulled: u64,
    /// Bundles the relay says remain to pull.
    pub remaining: u64,
}

/// Why a pulled bundle was refused. A refused bundle changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Not a bundle of a known version (truncated, garbage, oversized).
    Malformed,
    /// Addressed to another vault.
    OtherVault,
    /// Signed by a device this vault revoked.
    RevokedDevice,
    /// The signature does not verify.
    BadSignature,
    /// The payload does not decrypt under the key it names (tampered or moved).
    Undecryptable,
    /// It names another kind, client or key than the local copy of the record.
    Mismatch,
    /// Its Automerge content does not load.
    BadChanges,
    /// It would have to wait (unknown signer or key) but too many bundles already wait.
    PendingFull,
}

/// One refused bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The relay's sequence number of the bundle.
    pub relay_seq: u64,
    /// Why.
    pub reason: RejectReason,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Local bundles pushed.
    pub pushed: u64,
    /// Bundles pulled.
    pub pulled: u64,
    /// Bundles applied (new content).
    pub applied: u64,
    /// Bundles already applied, or this device's own.
    pub duplicates: u64,
    /// Bundles of erased clients, ignored.
    pub erased: u64,
    /// Bundles kept for later (unknown signer or key not yet shared), after this sync.
    pub pending: u64,
    /// Refused bundles.
    pub rejected: Vec<Rejection>,
    /// Erased key ids the relay was told to drop.
    pub dropped_keys: u64,
    /// The pull cursor after this sync.
    pub cursor: u64,
    /// The sync stopped early because it was cancelled; run it again to resume.
    pub cancelled: bool,
    /// Records that changed because of what was pulled (for observers and UI refresh).
    pub changed: Vec<RecordId>,
    /// Bundles were found missing (or the relay's sequence numbers could not be trusted) and
    /// everything was pulled again from the start.
    pub repaired: bool,
    /// Keys this device renewed because a revocation made them stale (see `vault::epochs`).
    pub keys_renewed: u64,
}
