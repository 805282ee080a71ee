//! The vault: one therapist's encrypted records in one SQLite file, behind one thread-safe handle.
//!
//! This is where the layers meet: the vault unwraps keys ([`crate::keyring`]), loads and saves
//! envelopes ([`crate::store`]), hands Automerge documents to the record code
//! ([`crate::records`]) and queues every save for the other devices ([`crate::outbox`]). It must
//! never write plaintext to the store, never delete a record because it failed to open, and
//! never let a bad record stop the others from reading. It knows nothing of the relay: sync
//! ([`crate::sync`]) builds on it, not the other way round.
//!
//! One file per concern: `open` creates and opens vault files, `docs` is the document
//! cache and the save path every edit takes, and the public API is grouped by what it is about
//! (`clients`, `notes`, `alliance`, `devices`, `conflicts`, `queries`).

mod alliance;
mod clients;
mod conflicts;
mod devices;
pub(crate) mod docs;
mod epochs;
mod notes;
pub(crate) mod open;
mod queries;
pub(crate) mod tallies;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::crypto::kdf::{self, KdfParams};
use crate::crypto::signing::DeviceKey;
use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId, VaultId};
use crate::keyring::Keyring;
use crate::outbox::Outbox;
use crate::records::model::Timestamp;
use crate::records::registry::Registry;
use crate::store::{self, Durability};

pub(crate) use docs::Cached;

/// How the app unlocks a vault.
pub enum VaultSecret {
    /// A 32-byte key the app keeps in the iOS Keychain or Android Keystore.
    Key(SecretKey),
    /// A passphrase, stretched with Argon2id (parameters stored in the vault).
    Passphrase(zeroize::Zeroizing<String>),
}

impl VaultSecret {
    /// The vault key, deriving it from a passphrase with `kdf` (returned so it can be stored).
    pub(crate) fn into_key(self, kdf: &KdfParams) -> Result<(SecretKey, Option<KdfParams>)> {
        match self {
            VaultSecret::Key(k) => Ok((k, None)),
            VaultSecret::Passphrase(p) => {
                let k = kdf::derive_key(&p, kdf)
                    .map_err(|_| Error::invalid("kdf", "Argon2id parameters were rejected"))?;
                Ok((k, Some(*kdf)))
            }
        }
    }

    /// A raw 32-byte key.
    pub fn key(bytes: [u8; 32]) -> Self {
        VaultSecret::Key(SecretKey::from_bytes(bytes))
    }
    /// A passphrase.
    pub fn passphrase(p: impl Into<String>) -> Self {
        VaultSecret::Passphrase(zeroize::Zeroizing::new(p.into()))
    }
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultSecret(<redacted>)")
    }
}

/// Settings for opening or creating a vault.
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// Durability of acknowledged saves.
    pub durability: Durability,
    /// Argon2id parameters for a new passphrase vault (ignored on open: the stored ones are used).
    pub kdf: KdfParams,
    /// Fold a record's incremental changes into a new snapshot after this many.
    pub compact_after: u64,
    /// Most documents kept decrypted in memory.
    pub cache_docs: usize,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions {
            durability: Durability::Full,
            kdf: KdfParams::recommended(),
            compact_after: 256,
            cache_docs: 256,
        }
    }
}

/// A device of the vault, as the shared registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// The name its owner gave it, if any.
    pub name: Option<String>,
    /// When it joined (milliseconds since the epoch), if recorded.
    pub added_at: Option<Timestamp>,
    /// Revoked: its later bundles are refused everywhere.
    pub revoked: bool,
}

/// The state behind a [`Vault`] handle, used under its lock.
pub(crate) struct Inner {
    pub(crate) conn: Connection,
    pub(crate) vault_id: VaultId,
    pub(crate) device_id: DeviceId,
    pub(crate) device_key: DeviceKey,
    /// This device's X25519 key for receiving key shares (see [`crate::shares`]).
    pub(crate) receive_key: crate::crypto::seal::ReceiveKey,
    /// The vault key and the data keys it wraps.
    pub(crate) keys: Keyring,
    /// Decrypted documents, by record.
    pub(crate) docs: HashMap<RecordId, Cached>,
    pub(crate) opts: VaultOptions,
    /// The shared registry document.
    pub(crate) registry_id: RecordId,
    /// The registry as last read.
    pub(crate) registry: Registry,
    /// This device's saves waiting for the relay, and their numbering.
    pub(crate) outbox: Outbox,
    /// The key epoch this handle last renewed stale keys for (see `vault::epochs`).
    pub(crate) renewed_for: u32,
    /// This handle's hold on the file; declared last so the connection closes before it goes.
    pub(crate) _lock: store::lock::FileLock,
}

/// An open vault. `Send + Sync`: share it between threads (calls are serialised inside).
pub struct Vault {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

/// Wall-clock time in milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Vault {
    pub(crate) fn from_inner(inner: Inner) -> Vault {
        Vault { inner: Mutex::new(inner) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a panic inside the core; the SQLite state is transactional, but
        // the in-memory caches may be stale, so drop them and carry on.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            g.docs.clear();
            // A transaction left open by the interrupted call is rolled back.
            store::db::rollback(&g.conn);
            g
        })
    }

    /// This vault's id.
    pub fn id(&self) -> VaultId {
        self.lock().vault_id
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.lock().device_id
    }

    /// This device's Ed25519 public key.
    pub fn device_public_key(&self) -> [u8; 32] {
        self.lock().device_key.public()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Vault>();
}
