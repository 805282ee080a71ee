//! Creating and opening vault files: the header (vault id, KDF parameters, canary, this device's
//! identity, the sync key and the registry), the key check before anything is written, and the
//! one-time upgrade of files written before sync existed. Creating never touches a file that
//! already holds something; opening with a wrong key writes nothing.

use std::path::Path;

use rusqlite::Connection;

use super::{now_ms, Inner, Vault, VaultOptions, VaultSecret};
use crate::crypto::kdf::{self, KdfParams};
use crate::crypto::seal::ReceiveKey;
use crate::crypto::signing::DeviceKey;
use crate::crypto::{envelope, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::keyring::{self, Keyring, VAULT_OWNER};
use crate::outbox::Outbox;
use crate::records::am;
use crate::records::registry::{self, Registry};
use crate::records::Kind;
use crate::store::db::{self, DocHeader, Meta};
use crate::store::{self, schema};

/// Creating a vault never touches a file that already holds something.
pub(crate) fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(true) {
        return Err(Error::InvalidState("a file already exists at this path".into()));
    }
    Ok(())
}

/// A new, empty vault file at `path` with Mend's schema, held under this process's lock, and the
/// vault key for it (with the KDF parameters to store for a passphrase). Refuses a path that
/// already holds something, before deriving the key and again under the lock (another creator, or
/// another device joining, may have finished meanwhile).
fn fresh_file(
    path: &Path,
    secret: VaultSecret,
    opts: &VaultOptions,
) -> Result<(Connection, store::lock::FileLock, SecretKey, Option<KdfParams>)> {
    refuse_existing(path)?;
    let (vault_key, kdf_params) = secret.into_key(&opts.kdf)?;
    let lock = store::lock::FileLock::acquire(path)?;
    refuse_existing(path)?;
    let mut conn = store::open_connection(path, true, opts.durability)?;
    schema::migrate(&mut conn, &|_, _| Ok(()))?;
    Ok((conn, lock, vault_key, kdf_params))
}

/// Who a vault file belongs to, as its header says.
struct Identity {
    vault_id: VaultId,
    device_id: DeviceId,
    device_key: DeviceKey,
    receive_key: ReceiveKey,
    registry_id: RecordId,
}

/// What a device joining by invite brings to its new vault file (see `sync::invite`).
pub(crate) struct Joining {
    pub(crate) vault_id: VaultId,
    pub(crate) device_id: DeviceId,
    pub(crate) device_key: DeviceKey,
    /// Made by the joining device itself (the inviting device never sees it).
    pub(crate) receive_key: ReceiveKey,
    /// The newest sync key generation (the registry is stored under it).
    pub(crate) sync_key_id: KeyId,
    pub(crate) registry_id: RecordId,
    /// The registry document as the inviting device saved it.
    pub(crate) registry: Vec<u8>,
    /// Every live key the inviting device held, sync key generations included.
    pub(crate) keys: Vec<crate::shares::SharedKey>,
}

impl Vault {
    /// Creates a new vault file at `path`. Refuses to touch an existing file.
    pub fn create(path: &Path, secret: VaultSecret, opts: VaultOptions) -> Result<Vault> {
        let (conn, lock, vault_key, kdf_params) = fresh_file(path, secret, &opts)?;
        let device_id = DeviceId::random();
        let device_key = DeviceKey::generate();
        let public = device_key.public();
        let receive_key = ReceiveKey::generate();
        let receive = receive_key.public();
        let sync_key_id = KeyId::random();
        let registry_id = RecordId::random();
        let receive_sig =
            device_key.sign(&registry::receive_key_message(registry_id, device_id, &receive));
        let id = Identity {
            vault_id: VaultId::random(),
            device_id,
            device_key,
            receive_key,
            registry_id,
        };
        let mut inner = Inner::new_file(conn, lock, id, vault_key, kdf_params, sync_key_id, opts)?;
        inner.make_sync_key(sync_key_id)?;
        inner.create_doc(registry_id, Kind::Registry, VAULT_OWNER, sync_key_id, |doc| {
            registry::create(doc, device_id, &public, (&receive, &receive_sig), now_ms())
        })?;
        inner.refresh_registry();
        Ok(Vault::from_inner(inner))
    }

    /// Opens an existing vault. A wrong key or passphrase gives [`Error::WrongKey`] and writes
    /// nothing; a file from a newer Mend gives [`Error::SchemaTooNew`]. One handle per file: a
    /// vault this process already has open gives [`Error::AlreadyOpen`], one another process
    /// holds [`Error::OpenInAnotherProcess`] (see `store::lock`).
    pub fn open(path: &Path, secret: VaultSecret, opts: VaultOptions) -> Result<Vault> {
        if !path.exists() {
            return Err(Error::NotAVault("no vault file at this path"));
        }
        let lock = store::lock::FileLock::acquire(path)?;
        let mut conn = store::open_connection(path, false, opts.durability)?;
        let version = schema::check_supported(&conn)?;
        if version == 0 {
            return Err(Error::NotAVault("no Mend schema in this file"));
        }
        fn need(conn: &Connection, key: Meta) -> Result<Vec<u8>> {
            db::meta_get(conn, key)?.ok_or(Error::NotAVault("vault header is incomplete"))
        }
        let vault_id = VaultId::from_slice(&need(&conn, Meta::VaultId)?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let vault_key = match secret {
            VaultSecret::Key(k) => k,
            VaultSecret::Passphrase(p) => {
                let params: KdfParams = match db::meta_get(&conn, Meta::Kdf)? {
                    Some(json) => serde_json::from_slice(&json)
                        .map_err(|_| Error::NotAVault("vault header is incomplete"))?,
                    // A key vault opened with a passphrase: the passphrase is simply wrong.
                    None => return Err(Error::WrongKey),
                };
                // A forged header must not make the phone allocate without bound.
                if !params.within_limits() {
                    return Err(Error::NotAVault("passphrase parameters out of range"));
                }
                kdf::derive_key(&p, &params).map_err(|_| Error::WrongKey)?
            }
        };
        if !keyring::opens_canary(&vault_key, vault_id, &need(&conn, Meta::Canary)?) {
            return Err(Error::WrongKey);
        }
        // The key is right: now it is safe to upgrade the file. Records stored before heads
        // get theirs in the same step (trusting the file as it is at that moment).
        schema::migrate(&mut conn, &|tx, version| {
            if version == schema::HEADS_VERSION {
                for (id, kind, top) in db::doc_tops(tx)? {
                    let head =
                        keyring::seal_count(&vault_key, vault_id, (id, kind, Part::Head), top);
                    db::head_put(tx, &id, &head)?;
                }
                super::tallies::count_existing(tx, (&vault_key, vault_id))?;
            }
            Ok(())
        })?;
        let device_id = DeviceId::from_slice(&need(&conn, Meta::DeviceId)?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let seed = keyring::open_header(
            &vault_key,
            vault_id,
            Part::DeviceKey,
            &need(&conn, Meta::DeviceKey)?,
        )
        .map_err(|_| Error::NotAVault("device key does not open"))?;
        let device_key =
            DeviceKey::from_seed(&seed).map_err(|_| Error::NotAVault("device key is malformed"))?;
        // Files written before epochs get this device's receiving key now (published in the
        // registry below).
        let receive_key = match db::meta_get(&conn, Meta::ReceiveKey)? {
            Some(sealed) => {
                let private = keyring::open_header(&vault_key, vault_id, Part::ReceiveKey, &sealed)
                    .map_err(|_| Error::NotAVault("receiving key does not open"))?;
                ReceiveKey::from_private(&private)
                    .map_err(|_| Error::NotAVault("receiving key is malformed"))?
            }
            None => {
                let k = ReceiveKey::generate();
                let sealed = keyring::seal_header(
                    &vault_key,
                    vault_id,
                    Part::ReceiveKey,
                    &k.private_bytes(),
                );
                db::meta_put(&conn, Meta::ReceiveKey, &sealed)?;
                k
            }
        };
        // Vaults written before sync existed (schema 2) get their sync key and registry now.
        if db::meta_get(&conn, Meta::SyncKeyId)?.is_none() {
            db::meta_put(&conn, Meta::SyncKeyId, KeyId::random().as_bytes())?;
            db::meta_put(&conn, Meta::RegistryId, RecordId::random().as_bytes())?;
        }
        let sync_key_id = KeyId::from_slice(&need(&conn, Meta::SyncKeyId)?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let registry_id = RecordId::from_slice(&need(&conn, Meta::RegistryId)?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let outbox = Outbox::open(&conn, vault_id)?;
        let id = Identity { vault_id, device_id, device_key, receive_key, registry_id };
        let mut inner = Inner::assemble(conn, lock, id, vault_key, opts, outbox);
        if db::key_get(&inner.conn, &sync_key_id)?.is_none() {
            inner.make_sync_key(sync_key_id)?;
        }
        if db::doc_header(&inner.conn, &registry_id)?.is_none() {
            // Records written before sync were never queued: queue each whole, once.
            for id in db::doc_ids(&inner.conn)? {
                match inner.enqueue_whole(id) {
                    Ok(()) | Err(Error::Erased(_)) | Err(Error::Corrupt { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let public = inner.device_key.public();
            let receive = inner.receive_key.public();
            let sig = inner.device_key.sign(&registry::receive_key_message(
                registry_id,
                device_id,
                &receive,
            ));
            inner.create_doc(registry_id, Kind::Registry, VAULT_OWNER, sync_key_id, |doc| {
                registry::create(doc, device_id, &public, (&receive, &sig), now_ms())
            })?;
        }
        inner.refresh_registry();
        // Finish an erasure cut short here (the registry marks the client erased, its keys are
        // still held: the process died between the two writes). One pass over the key table;
        // nothing more unless an erased client still holds a key.
        let holding = db::clients_holding_keys(&inner.conn)?;
        if inner.registry.erased.keys().any(|c| holding.contains(c)) {
            inner.apply_registry_erasures()?;
        }
        inner.publish_receive_key()?;
        Ok(Vault::from_inner(inner))
    }

    /// Creates the vault file of a device joining by invite at `path`, under this device's own
    /// key or passphrase, holding the keys and registry the invite carried (all in one
    /// transaction: a failure leaves no half-joined vault behind the handle).
    pub(crate) fn create_joined(
        path: &Path,
        secret: VaultSecret,
        opts: VaultOptions,
        j: Joining,
    ) -> Result<Vault> {
        let (conn, lock, vault_key, kdf_params) = fresh_file(path, secret, &opts)?;
        let sync_key = j
            .keys
            .iter()
            .find(|k| k.key_id == j.sync_key_id && k.purpose == KeyPurpose::Sync)
            .map(|k| k.key.clone())
            .ok_or(Error::InvalidInvite)?;
        let id = Identity {
            vault_id: j.vault_id,
            device_id: j.device_id,
            device_key: j.device_key,
            receive_key: j.receive_key,
            registry_id: j.registry_id,
        };
        let mut inner =
            Inner::new_file(conn, lock, id, vault_key, kdf_params, j.sync_key_id, opts)?;
        let listed = inner.registry_from(&j.registry)?.receive_keys;
        let tx = inner.conn.transaction()?;
        for k in &j.keys {
            inner.keys.store(&tx, k.key_id, k.client, k.purpose, k.epoch, k.maker, &k.key)?;
        }
        // The devices already listed got their keys from the devices they joined through; this
        // device only catches up the ones that appear later.
        for (d, public) in listed {
            db::sealed_for_put(&tx, &d, &public)?;
        }
        let header = DocHeader {
            doc_id: j.registry_id,
            kind: Kind::Registry as u8,
            client_id: VAULT_OWNER,
            key_id: j.sync_key_id,
            next_seq: 1,
            snapshot_seq: 0,
        };
        let aad = super::docs::record_aad(j.vault_id, &header, 0, Part::Snapshot);
        let snap = envelope::seal(&sync_key, &j.sync_key_id, &aad, &j.registry);
        db::doc_insert(&tx, &header, &snap)?;
        let head = keyring::seal_count(
            inner.keys.vault_key(),
            j.vault_id,
            (j.registry_id, header.kind, Part::Head),
            0,
        );
        db::head_put(&tx, &j.registry_id, &head)?;
        super::tallies::count_new(
            &tx,
            (inner.keys.vault_key(), j.vault_id),
            VAULT_OWNER,
            header.kind,
        )?;
        tx.commit()?;
        inner.refresh_registry();
        inner.publish_receive_key()?;
        Ok(Vault::from_inner(inner))
    }
}

impl Inner {
    /// Writes the header of a new vault file (vault id, KDF parameters, canary, this device's
    /// identity, sync key id and registry id) and returns the handle's state.
    #[allow(clippy::too_many_arguments)]
    fn new_file(
        mut conn: Connection,
        lock: store::lock::FileLock,
        id: Identity,
        vault_key: SecretKey,
        kdf_params: Option<KdfParams>,
        sync_key_id: KeyId,
        opts: VaultOptions,
    ) -> Result<Inner> {
        let (vault_id, device_id, registry_id) = (id.vault_id, id.device_id, id.registry_id);
        let tx = conn.transaction()?;
        db::meta_put(&tx, Meta::VaultId, vault_id.as_bytes())?;
        if let Some(p) = kdf_params {
            let json = serde_json::to_vec(&p).map_err(|_| Error::Internal("kdf params".into()))?;
            db::meta_put(&tx, Meta::Kdf, &json)?;
        }
        db::meta_put(&tx, Meta::Canary, &keyring::seal_canary(&vault_key, vault_id))?;
        db::meta_put(&tx, Meta::DeviceId, device_id.as_bytes())?;
        let wrapped =
            keyring::seal_header(&vault_key, vault_id, Part::DeviceKey, &id.device_key.seed()[..]);
        db::meta_put(&tx, Meta::DeviceKey, &wrapped)?;
        let wrapped = keyring::seal_header(
            &vault_key,
            vault_id,
            Part::ReceiveKey,
            &id.receive_key.private_bytes(),
        );
        db::meta_put(&tx, Meta::ReceiveKey, &wrapped)?;
        db::meta_put(&tx, Meta::SyncKeyId, sync_key_id.as_bytes())?;
        db::meta_put(&tx, Meta::RegistryId, registry_id.as_bytes())?;
        tx.commit()?;
        Ok(Inner::assemble(conn, lock, id, vault_key, opts, Outbox::new(vault_id)))
    }

    /// The handle's state once the header is read or written.
    fn assemble(
        conn: Connection,
        lock: store::lock::FileLock,
        id: Identity,
        vault_key: SecretKey,
        opts: VaultOptions,
        outbox: Outbox,
    ) -> Inner {
        Inner {
            conn,
            vault_id: id.vault_id,
            device_id: id.device_id,
            device_key: id.device_key,
            receive_key: id.receive_key,
            keys: Keyring::new(id.vault_id, id.device_id, vault_key),
            docs: Default::default(),
            opts,
            registry_id: id.registry_id,
            registry: Registry::default(),
            outbox,
            renewed_for: 0,
            _lock: lock,
        }
    }

    /// Makes the first sync key of a vault (a new one, or one from before sync existed).
    fn make_sync_key(&mut self, sync_key_id: KeyId) -> Result<()> {
        let sync_key = SecretKey::random();
        self.keys.store_own(
            &self.conn,
            sync_key_id,
            VAULT_OWNER,
            KeyPurpose::Sync,
            0,
            &sync_key,
        )?;
        self.keys.remember(sync_key_id, sync_key);
        Ok(())
    }

    /// Reads a registry document from its saved bytes.
    fn registry_from(&self, bytes: &[u8]) -> Result<Registry> {
        let doc = am::load_doc(bytes).ok_or(Error::InvalidInvite)?;
        registry::read(&doc, self.registry_id)
    }

    /// Lists this device's receiving key in the registry if it is not (a file from before
    /// epochs, or a device that just joined), so the other devices can seal keys to it.
    pub(crate) fn publish_receive_key(&mut self) -> Result<()> {
        let (me, receive) = (self.device_id, self.receive_key.public());
        if !self.registry.devices.contains_key(&me)
            || self.registry.receive_keys.get(&me) == Some(&receive)
        {
            return Ok(());
        }
        let registry_id = self.registry_id;
        let sig = self.device_key.sign(&registry::receive_key_message(registry_id, me, &receive));
        // The publication goes under the sync key the others already hold, never one renewed
        // first: a device renewing keys before it knows the others' receiving keys could seal
        // to none of them, and if each then published under its own renewed key, no device
        // would ever learn another's (two devices upgraded from before epochs, say).
        let renewed_for = std::mem::replace(&mut self.renewed_for, u32::MAX);
        let published = self.edit(registry_id, Kind::Registry, |doc| {
            registry::set_receive_key(doc, me, &receive, &sig)
        });
        self.renewed_for = renewed_for;
        published?;
        self.refresh_registry();
        Ok(())
    }

    /// Queues a whole record (its full Automerge save) for push: how records written before sync
    /// existed reach the other devices.
    fn enqueue_whole(&mut self, id: RecordId) -> Result<()> {
        self.load(id)?;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        let bytes = zeroize::Zeroizing::new(c.doc.save());
        let header = c.header.clone();
        let kind = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        let (key_id, key) = self.send_key(header.key_id, id)?;
        let seq = self.outbox.next_seq();
        let entry = self.outbox.change(seq, &key, key_id, id, kind, header.client_id, &bytes);
        Outbox::put(&self.conn, &entry)?;
        self.outbox.committed(seq);
        Ok(())
    }
}
