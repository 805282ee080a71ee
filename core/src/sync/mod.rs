//! Sync between a therapist's devices through an untrusted relay.
//!
//! Local changes become bundles when they are saved: the change bytes are encrypted under the
//! record's data key and queued in the outbox in the same transaction as the save. `sync` pushes
//! the outbox, tells the relay to drop erased key ids, then pulls pages of other devices' bundles
//! after a cursor and applies each page in one SQLite transaction. Applying is idempotent (a
//! `(device, seq)` table) and order-independent (incoming change bytes are stored as they came
//! and Automerge queues changes whose dependencies are missing). Every bundle is checked before
//! anything is written: vault, signer in the registry and not revoked, Ed25519 signature, AEAD,
//! and that it names the same record kind, client and key as the local copy. A rejected bundle is
//! counted in the report with a typed reason and never touches the store; one that cannot be
//! applied yet (unknown signer or key) is kept encrypted in `pending` and retried.

pub mod bundle;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod invite;
pub mod memory;
pub mod transport;
pub mod wire;

use crate::crypto::{envelope, Aad, Part, SecretKey};
use crate::ids::{KeyId, RecordId, VaultId};
use crate::records::Kind;
use crate::vault::KeyPurpose;

pub use engine::{RejectReason, Rejection, SyncOptions, SyncProgress, SyncReport};
pub use memory::MemoryRelay;
pub use transport::{Page, PageItem, Transport, TransportError};

/// Associated data of a bundle payload: bound to vault, record and the device's sequence number
/// (the device and everything else are bound by the bundle signature).
pub(crate) fn bundle_aad(vault: VaultId, doc: RecordId, seq: u64, part: Part) -> Aad {
    Aad { vault, record: doc, kind: 0, seq, part }
}

/// The encrypted payload of a record bundle: `kind u8 | client 16 | Automerge bytes`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn doc_payload(
    vault: VaultId,
    key: &SecretKey,
    key_id: KeyId,
    doc: RecordId,
    kind: Kind,
    client: RecordId,
    bytes: &[u8],
    seq: u64,
) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(17 + bytes.len()));
    plain.push(kind as u8);
    plain.extend_from_slice(client.as_bytes());
    plain.extend_from_slice(bytes);
    envelope::seal(key, &key_id, &bundle_aad(vault, doc, seq, Part::Bundle), &plain)
}

/// The encrypted payload of a key share: `client 16 | purpose u8 | key 32`, under the sync key.
#[allow(clippy::too_many_arguments)]
pub(crate) fn key_share_payload(
    vault: VaultId,
    sync_key: &SecretKey,
    sync_key_id: KeyId,
    shared: KeyId,
    client: RecordId,
    purpose: KeyPurpose,
    key: &SecretKey,
    seq: u64,
) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(49));
    plain.extend_from_slice(client.as_bytes());
    plain.push(purpose as u8);
    plain.extend_from_slice(key.expose());
    let doc = RecordId::from_bytes(*shared.as_bytes());
    envelope::seal(sync_key, &sync_key_id, &bundle_aad(vault, doc, seq, Part::KeyShare), &plain)
}
