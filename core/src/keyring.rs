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
//! - The **sync key** is vault-wide: it encrypts the registry.
//! - Keys come in **generations** ([`KeyRow::epoch`]): revoking a device starts a new epoch, with a
//!   new sync key and a new generation of every client's keys, sealed only to the remaining
//!   devices (`crate::sync::shares`). Everything sent from then on goes under the newest
//!   generation of its client and purpose ([`Keyring::send_key`]); older generations stay to read
//!   what was written under them. A record stored on this device stays under the key it was
//!   created with: the local file is protected by the vault key, the generations by who holds
//!   them.
//!
//! Every key is a random 256-bit key ([`SecretKey`]); every wrap is an XChaCha20-Poly1305
//! envelope whose associated data binds the vault and the key id, so a wrapped key moved to
//! another row or vault does not open. Unwrapped keys are cached in memory (zeroized on drop).
//! The keyring never decides *when* a key is made or destroyed; the vault does. Its SQL is in
//! [`crate::store::db`].

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use crate::crypto::{envelope, Aad, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
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

/// Seals a number about a record (`part`: [`Part::Head`] or [`Part::Tally`]) under the vault key,
/// bound to the vault, the record (or client) and the kind: see `migrations/0005_heads.sql`.
pub(crate) fn seal_count(
    vault_key: &SecretKey,
    vault: VaultId,
    (record, kind, part): (RecordId, u8, Part),
    n: u64,
) -> Vec<u8> {
    let aad = Aad { vault, record, kind, seq: 0, part };
    envelope::seal(vault_key, &VAULT_KEY_ID, &aad, &n.to_be_bytes())
}

/// The number sealed by [`seal_count`] for the same record, kind and part; `None` if it does not
/// open.
pub(crate) fn open_count(
    vault_key: &SecretKey,
    vault: VaultId,
    (record, kind, part): (RecordId, u8, Part),
    sealed: &[u8],
) -> Option<u64> {
    let aad = Aad { vault, record, kind, seq: 0, part };
    let plain = envelope::open(vault_key, &VAULT_KEY_ID, &aad, sealed).ok()?;
    Some(u64::from_be_bytes(plain.as_slice().try_into().ok()?))
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
    /// Unwrapped keys, by id.
    cache: HashMap<KeyId, SecretKey>,
    /// A key → the newest generation of its client and purpose (cleared when keys change).
    newest: HashMap<KeyId, KeyId>,
    /// This device (the maker of the keys it creates).
    device: DeviceId,
    /// Revoked devices: a generation one of them made is never sent under, since it chose the
    /// key (a device may plant a generation with any epoch before it is revoked).
    untrusted: HashSet<DeviceId>,
}

impl Keyring {
    /// The keyring of a vault whose key has been checked against its canary.
    pub(crate) fn new(vault: VaultId, device: DeviceId, vault_key: SecretKey) -> Keyring {
        Keyring {
            vault,
            vault_key,
            cache: HashMap::new(),
            newest: HashMap::new(),
            device,
            untrusted: HashSet::new(),
        }
    }

    /// Tells the keyring which devices are revoked (after every registry read).
    pub(crate) fn set_untrusted(&mut self, revoked: HashSet<DeviceId>) {
        if revoked != self.untrusted {
            self.untrusted = revoked;
            self.newest.clear();
        }
    }

    /// Stores a key received from another device (`maker`: the share's signer, or what an
    /// invite says), wrapped under the vault key (it is not cached: see [`Keyring::remember`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn store(
        &mut self,
        conn: &Connection,
        key_id: KeyId,
        client: RecordId,
        purpose: KeyPurpose,
        epoch: u32,
        maker: Option<DeviceId>,
        key: &SecretKey,
    ) -> Result<()> {
        self.insert(conn, (key_id, client, purpose, epoch), false, maker, Some(key))
    }

    /// Stores a key this device made.
    pub(crate) fn store_own(
        &mut self,
        conn: &Connection,
        key_id: KeyId,
        client: RecordId,
        purpose: KeyPurpose,
        epoch: u32,
        key: &SecretKey,
    ) -> Result<()> {
        let me = Some(self.device);
        self.insert(conn, (key_id, client, purpose, epoch), true, me, Some(key))
    }

    /// Records a key that arrived for a client already erased here, as destroyed, so that what
    /// was sent under it reads as erased instead of waiting for a key forever.
    pub(crate) fn store_destroyed(
        &mut self,
        conn: &Connection,
        key_id: KeyId,
        client: RecordId,
        purpose: KeyPurpose,
        epoch: u32,
    ) -> Result<()> {
        self.insert(conn, (key_id, client, purpose, epoch), false, None, None)
    }

    fn insert(
        &mut self,
        conn: &Connection,
        (key_id, client, purpose, epoch): (KeyId, RecordId, KeyPurpose, u32),
        mine: bool,
        maker: Option<DeviceId>,
        key: Option<&SecretKey>,
    ) -> Result<()> {
        let wrapped = key.map(|k| {
            envelope::seal(
                &self.vault_key,
                &VAULT_KEY_ID,
                &wrap_aad(self.vault, key_id),
                k.expose(),
            )
        });
        db::key_insert(
            conn,
            &key_id,
            &client,
            purpose,
            epoch,
            mine,
            maker.as_ref(),
            wrapped.as_deref(),
        )?;
        self.newest.clear();
        Ok(())
    }

    /// Makes and stores a fresh key of generation `epoch` (not cached until the caller's
    /// transaction commits; call [`Keyring::remember`] then).
    pub(crate) fn create(
        &mut self,
        conn: &Connection,
        client: RecordId,
        purpose: KeyPurpose,
        epoch: u32,
    ) -> Result<(KeyId, SecretKey)> {
        let (key_id, key) = (KeyId::random(), SecretKey::random());
        self.store_own(conn, key_id, client, purpose, epoch, &key)?;
        Ok((key_id, key))
    }

    /// Whether a key's maker is not revoked (unknown makers, from before epochs, count as
    /// trusted: those keys are all of epoch 0 and renewed at the first revocation).
    pub(crate) fn trusted(&self, row: &KeyRow) -> bool {
        row.maker.is_none_or(|m| !self.untrusted.contains(&m))
    }

    /// The vault key, for the header values sealed under it (this device's receiving key).
    pub(crate) fn vault_key(&self) -> &SecretKey {
        &self.vault_key
    }

    /// The newest live generation of `client`'s key for `purpose`: the one everything sent
    /// from now on goes under. [`Error::Erased`] once destroyed.
    pub(crate) fn newest_row(
        &self,
        conn: &Connection,
        client: RecordId,
        purpose: KeyPurpose,
    ) -> Result<KeyRow> {
        // Rows come ordered by purpose, epoch and key id: the last of a purpose is the newest,
        // the same choice on every device; a generation a revoked device made does not count
        // while there is any other.
        let rows: Vec<KeyRow> = db::keys_of_client(conn, &client)?
            .into_iter()
            .filter(|k| k.purpose == Some(purpose))
            .collect();
        let trusted = rows.iter().rposition(|k| self.trusted(k));
        let row = match trusted {
            Some(i) => rows[i].clone(),
            None => rows.last().cloned().ok_or(Error::NotFound { kind: "client", id: client })?,
        };
        if row.wrapped.is_none() {
            return Err(Error::Erased(client));
        }
        Ok(row)
    }

    /// The key to send a record stored under `key_id` with: the newest generation of the same
    /// client and purpose, as `(id, key)`.
    pub(crate) fn send_key(
        &mut self,
        conn: &Connection,
        key_id: KeyId,
        for_record: RecordId,
    ) -> Result<(KeyId, SecretKey)> {
        let newest = match self.newest.get(&key_id) {
            Some(k) => *k,
            None => {
                let row = db::key_get(conn, &key_id)?
                    .ok_or_else(|| Error::corrupt(for_record, "unknown key"))?;
                let purpose =
                    row.purpose.ok_or_else(|| Error::corrupt(for_record, "key purpose"))?;
                let newest = match self.newest_row(conn, row.client_id, purpose) {
                    Ok(r) => r.key_id,
                    Err(Error::Erased(_)) => return Err(Error::Erased(for_record)),
                    Err(e) => return Err(e),
                };
                self.newest.insert(key_id, newest);
                newest
            }
        };
        let key = self.get(conn, newest, for_record)?.ok_or(Error::Erased(for_record))?;
        Ok((newest, key))
    }

    /// Keeps an unwrapped key in memory (after the transaction that stored it committed).
    pub(crate) fn remember(&mut self, key_id: KeyId, key: SecretKey) {
        self.cache.insert(key_id, key);
        self.newest.clear();
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

    /// The newest generation of the vault-wide sync key, as `(id, key)`.
    pub(crate) fn sync_key(&mut self, conn: &Connection) -> Result<(KeyId, SecretKey)> {
        let row = match self.newest_row(conn, VAULT_OWNER, KeyPurpose::Sync) {
            Ok(r) => r,
            Err(Error::NotFound { .. }) | Err(Error::Erased(_)) => {
                return Err(Error::NotAVault("sync key missing"))
            }
            Err(e) => return Err(e),
        };
        let key =
            self.get(conn, row.key_id, VAULT_OWNER)?.ok_or(Error::NotAVault("sync key missing"))?;
        Ok((row.key_id, key))
    }

    /// The id of the newest generation of a client's key for `purpose`; [`Error::Erased`] once
    /// destroyed.
    pub(crate) fn of_client(
        &self,
        conn: &Connection,
        client: RecordId,
        purpose: KeyPurpose,
    ) -> Result<KeyId> {
        Ok(self.newest_row(conn, client, purpose)?.key_id)
    }

    /// The live keys this device made itself after key number `after`, with their rows.
    pub(crate) fn own_keys_after(
        &mut self,
        conn: &Connection,
        after: i64,
    ) -> Result<Vec<(KeyRow, SecretKey)>> {
        self.unwrap_rows(conn, db::own_keys_after(conn, after)?)
    }

    /// Every live key added after key number `after`, whoever made it, with its row.
    pub(crate) fn live_keys_after(
        &mut self,
        conn: &Connection,
        after: i64,
    ) -> Result<Vec<(KeyRow, SecretKey)>> {
        self.unwrap_rows(conn, db::live_keys_after(conn, after)?)
    }

    fn unwrap_rows(
        &mut self,
        conn: &Connection,
        rows: Vec<KeyRow>,
    ) -> Result<Vec<(KeyRow, SecretKey)>> {
        let mut out = Vec::new();
        for row in rows {
            if row.purpose.is_none() {
                continue;
            }
            if let Some(k) = self.get(conn, row.key_id, row.client_id)? {
                out.push((row, k));
            }
        }
        Ok(out)
    }

    /// Every live key of any purpose with its row (what a catch-up share or an invite hands a
    /// device).
    pub(crate) fn live_keys(&mut self, conn: &Connection) -> Result<Vec<(KeyRow, SecretKey)>> {
        self.unwrap_rows(conn, db::live_keys(conn)?)
    }

    /// Drops destroyed keys from memory.
    pub(crate) fn forget(&mut self, key_ids: &[KeyId]) {
        for k in key_ids {
            self.cache.remove(k);
        }
        self.newest.clear();
    }

    /// Drops every unwrapped key from memory (after a rolled-back transaction).
    pub(crate) fn forget_all(&mut self) {
        self.cache.clear();
        self.newest.clear();
    }
}
