//! The vault's keys, in one place.
//!
//! Why each layer exists:
//! - The **vault key** (from the app's Keychain/Keystore, or Argon2id of a passphrase) never
//!   encrypts a record. It wraps everything else kept in the file: the data keys, this device's
//!   signing key, and a canary whose opening proves that the key is right before anything is
//!   written.
//! - **Data keys** are per client and purpose ([`KeyPurpose`]): one for the client's record,
//!   sessions, notes and measures, one for psychotherapy-note content. Erasing a client destroys
//!   its wrapped data keys, which makes every copy of its records unreadable (crypto-shredding).
//! - The **sync key** is vault-wide: it carries the registry and the key shares that give other
//!   devices a new client's data keys.
//!
//! Every key is a random 256-bit key ([`SecretKey`]); every wrap is an XChaCha20-Poly1305
//! envelope whose associated data binds the vault and the key id, so a wrapped key moved to
//! another row or vault does not open. Unwrapped keys are cached in memory (zeroized on drop).
//! The keyring never decides *when* a key is made or destroyed; the vault does. Its SQL is in
//! [`crate::store::db`].

use std::collections::HashMap;

use rusqlite::Connection;

use crate::crypto::{envelope, Aad, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{KeyId, RecordId, VaultId};
use crate::store::db::{self, KeyRow};

/// The vault key's own id in envelopes (it is not stored in the `keys` table).
const VAULT_KEY_ID: KeyId = KeyId::from_bytes([0; 16]);

/// The plaintext of the canary sealed under the vault key.
const CANARY: &[u8] = b"mend vault canary v1";

/// The "client" that owns vault-wide records and keys (the registry, the sync key).
pub(crate) const VAULT_OWNER: RecordId = RecordId::from_bytes([0; 16]);

fn header_aad(vault: VaultId, part: Part) -> Aad {
    Aad { vault, record: RecordId::from_bytes([0; 16]), kind: 0, seq: 0, part }
}

fn wrap_aad(vault: VaultId, key_id: KeyId) -> Aad {
    Aad {
        vault,
        record: RecordId::from_bytes(*key_id.as_bytes()),
        kind: 0,
        seq: 0,
        part: Part::WrappedKey,
    }
}

/// Seals a value of the file header (the canary, the device key) under the vault key.
pub(crate) fn seal_header(
    vault_key: &SecretKey,
    vault: VaultId,
    part: Part,
    plain: &[u8],
) -> Vec<u8> {
    envelope::seal(vault_key, &VAULT_KEY_ID, &header_aad(vault, part), plain)
}

/// Opens a value of the file header sealed by [`seal_header`].
pub(crate) fn open_header(
    vault_key: &SecretKey,
    vault: VaultId,
    part: Part,
    sealed: &[u8],
) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, crate::crypto::CryptoError> {
    envelope::open(vault_key, &VAULT_KEY_ID, &header_aad(vault, part), sealed)
}

/// The canary of a new vault file.
pub(crate) fn seal_canary(vault_key: &SecretKey, vault: VaultId) -> Vec<u8> {
    seal_header(vault_key, vault, Part::Canary, CANARY)
}

/// Whether `vault_key` opens the stored canary, i.e. is this vault's key.
pub(crate) fn opens_canary(vault_key: &SecretKey, vault: VaultId, canary: &[u8]) -> bool {
    open_header(vault_key, vault, Part::Canary, canary).is_ok()
}

/// The vault key and the data keys it wraps.
pub(crate) struct Keyring {
    vault: VaultId,
    vault_key: SecretKey,
    sync_key_id: KeyId,
    /// Unwrapped keys, by id.
    cache: HashMap<KeyId, SecretKey>,
}

impl Keyring {
    /// The keyring of a vault whose key has been checked against its canary.
    pub(crate) fn new(vault: VaultId, vault_key: SecretKey, sync_key_id: KeyId) -> Keyring {
        Keyring { vault, vault_key, sync_key_id, cache: HashMap::new() }
    }

    /// The id of the vault-wide sync key.
    pub(crate) fn sync_key_id(&self) -> KeyId {
        self.sync_key_id
    }

    /// Stores `key` wrapped under the vault key (it is not cached: see [`Keyring::remember`]).
    pub(crate) fn store(
        &self,
        conn: &Connection,
        key_id: KeyId,
        client: RecordId,
        purpose: KeyPurpose,
        key: &SecretKey,
    ) -> Result<()> {
        let wrapped = envelope::seal(
            &self.vault_key,
            &VAULT_KEY_ID,
            &wrap_aad(self.vault, key_id),
            key.expose(),
        );
        db::key_insert(conn, &key_id, &client, purpose, &wrapped)
    }

    /// Makes and stores a fresh key (not cached until the caller's transaction commits).
    pub(crate) fn create(
        &self,
        conn: &Connection,
        client: RecordId,
        purpose: KeyPurpose,
    ) -> Result<(KeyId, SecretKey)> {
        let (key_id, key) = (KeyId::random(), SecretKey::random());
        self.store(conn, key_id, client, purpose, &key)?;
        Ok((key_id, key))
    }

    /// Keeps an unwrapped key in memory (after the transaction that stored it committed).
    pub(crate) fn remember(&mut self, key_id: KeyId, key: SecretKey) {
        self.cache.insert(key_id, key);
    }

    /// The data key, or `None` once destroyed by erasure. A key the file does not list, or one
    /// that does not unwrap, makes `for_record` corrupt.
    pub(crate) fn get(
        &mut self,
        conn: &Connection,
        key_id: KeyId,
        for_record: RecordId,
    ) -> Result<Option<SecretKey>> {
        if let Some(k) = self.cache.get(&key_id) {
            return Ok(Some(k.clone()));
        }
        let row =
            db::key_get(conn, &key_id)?.ok_or_else(|| Error::corrupt(for_record, "unknown key"))?;
        let Some(wrapped) = row.wrapped else { return Ok(None) };
        let bytes =
            envelope::open(&self.vault_key, &VAULT_KEY_ID, &wrap_aad(self.vault, key_id), &wrapped)
                .map_err(|_| Error::corrupt(for_record, "wrapped key"))?;
        let key = SecretKey::from_slice(&bytes)
            .ok_or_else(|| Error::corrupt(for_record, "wrapped key"))?;
        self.cache.insert(key_id, key.clone());
        Ok(Some(key))
    }

    /// The vault-wide sync key.
    pub(crate) fn sync_key(&mut self, conn: &Connection) -> Result<SecretKey> {
        self.get(conn, self.sync_key_id, VAULT_OWNER)?.ok_or(Error::NotAVault("sync key destroyed"))
    }

    /// The id of a client's key for `purpose`; [`Error::Erased`] once destroyed.
    pub(crate) fn of_client(
        &self,
        conn: &Connection,
        client: RecordId,
        purpose: KeyPurpose,
    ) -> Result<KeyId> {
        let row = db::keys_of_client(conn, &client)?
            .into_iter()
            .find(|k| k.purpose == Some(purpose))
            .ok_or(Error::NotFound { kind: "client", id: client })?;
        if row.wrapped.is_none() {
            return Err(Error::Erased(client));
        }
        Ok(row.key_id)
    }

    /// Every live client data key with its row (what an invite hands a new device).
    pub(crate) fn live_data_keys(&mut self, conn: &Connection) -> Result<Vec<(KeyRow, SecretKey)>> {
        let mut out = Vec::new();
        for row in db::live_data_keys(conn)? {
            if let Some(k) = self.get(conn, row.key_id, row.client_id)? {
                out.push((row, k));
            }
        }
        Ok(out)
    }

    /// Drops destroyed keys from memory.
    pub(crate) fn forget(&mut self, key_ids: &[KeyId]) {
        for k in key_ids {
            self.cache.remove(k);
        }
    }

    /// Drops every unwrapped key from memory (after a rolled-back transaction).
    pub(crate) fn forget_all(&mut self) {
        self.cache.clear();
    }
}
