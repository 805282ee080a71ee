//! The vault: one therapist's encrypted records in one SQLite file, behind one thread-safe handle.
//!
//! This is where the layers meet: the vault unwraps keys (crypto), loads and saves envelopes
//! (store), and hands Automerge documents to the record code (records). It must never write
//! plaintext to the store, never delete a record because it failed to open, and never let a bad
//! record stop the others from reading.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash};
use rusqlite::Connection;

use crate::crypto::kdf::{self, KdfParams};
use crate::crypto::signing::DeviceKey;
use crate::crypto::{envelope, Aad, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::query;
use crate::records::am::Stamp;
use crate::records::conflict::{self, Conflict};
use crate::records::enums::*;
use crate::records::model::*;
use crate::records::note::{CodeSet, Divergence, DivergenceChoice, Signer};
use crate::records::registry::{self, Registry};
use crate::records::summary;
use crate::records::{client, measure, note, rupture, session, Kind};
use crate::store::db::{self, DocHeader, KeyRow};
use crate::store::{self, schema, Durability};

const CANARY: &[u8] = b"mend vault canary v1";
/// The vault key's own id in envelopes (it is not stored in the `keys` table).
const VAULT_KEY_ID: KeyId = KeyId::from_bytes([0; 16]);

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

/// Purpose of a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum KeyPurpose {
    /// The client's record, sessions, notes, measures.
    Record = 1,
    /// Psychotherapy-note content (ruptures classed as psychotherapy notes).
    Process = 2,
    /// The vault sync key (registry and key shares); never erased.
    Sync = 3,
}

/// The "client" that owns vault-wide records and keys (the registry, the sync key).
pub(crate) const VAULT_OWNER: RecordId = RecordId::from_bytes([0; 16]);

pub(crate) struct Cached {
    pub(crate) doc: AutoCommit,
    pub(crate) header: DocHeader,
    pub(crate) saved_heads: Vec<ChangeHash>,
    pub(crate) summary: Vec<u8>,
    /// The note section last typed in, checked (draft, section of the note's format) at
    /// `.heads`; see [`Inner::splice_section_text`].
    pub(crate) typing: Option<TypingTarget>,
}

/// A note section whose checks hold as long as the document is at `heads`.
pub(crate) struct TypingTarget {
    heads: Vec<ChangeHash>,
    section: String,
    text: automerge::ObjId,
}

pub(crate) struct Inner {
    pub(crate) conn: Connection,
    pub(crate) vault_id: VaultId,
    pub(crate) vault_key: SecretKey,
    pub(crate) device_id: DeviceId,
    pub(crate) device_key: DeviceKey,
    pub(crate) keys: HashMap<KeyId, SecretKey>,
    pub(crate) docs: HashMap<RecordId, Cached>,
    pub(crate) opts: VaultOptions,
    /// The vault-wide key that carries key shares and the registry between devices.
    pub(crate) sync_key_id: KeyId,
    /// The shared registry document.
    pub(crate) registry_id: RecordId,
    /// The registry as last read.
    pub(crate) registry: Registry,
    /// The last per-device sequence number handed to a bundle.
    pub(crate) device_seq: u64,
    /// The highest queued sequence number a push has read (in flight, pushed, or failed): queued
    /// rows up to it are never folded, so a push never has its rows rewritten under it.
    pub(crate) push_high: u64,
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

fn meta_aad(vault: VaultId, part: Part) -> Aad {
    Aad { vault, record: RecordId::from_bytes([0; 16]), kind: 0, seq: 0, part }
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

/// Creating a vault never touches a file that already holds something.
pub(crate) fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(true) {
        return Err(Error::InvalidState("a file already exists at this path".into()));
    }
    Ok(())
}

impl Vault {
    /// Creates a new vault file at `path`. Refuses to touch an existing file.
    pub fn create(path: &Path, secret: VaultSecret, opts: VaultOptions) -> Result<Vault> {
        refuse_existing(path)?;
        let (vault_key, kdf_params) = secret.into_key(&opts.kdf)?;
        let lock = store::lock::FileLock::acquire(path)?;
        // Again under the lock: another creator may have finished while the key was derived.
        refuse_existing(path)?;
        let mut conn = store::open_connection(path, true, opts.durability)?;
        schema::migrate(&mut conn)?;
        let device_id = DeviceId::random();
        let device_key = DeviceKey::generate();
        let public = device_key.public();
        let sync_key_id = KeyId::random();
        let registry_id = RecordId::random();
        let mut inner = Inner::new_file(
            conn,
            lock,
            VaultId::random(),
            vault_key,
            kdf_params,
            device_id,
            device_key,
            sync_key_id,
            registry_id,
            opts,
        )?;
        let sync_key = SecretKey::random();
        inner.insert_key(sync_key_id, VAULT_OWNER, KeyPurpose::Sync, &sync_key)?;
        inner.keys.insert(sync_key_id, sync_key);
        inner.create_doc(registry_id, Kind::Registry, VAULT_OWNER, sync_key_id, |doc| {
            registry::create(doc, device_id, &public, now_ms())
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
        fn need(conn: &Connection, name: &str) -> Result<Vec<u8>> {
            db::meta_get(conn, name)?.ok_or(Error::NotAVault("vault header is incomplete"))
        }
        let vault_id = VaultId::from_slice(&need(&conn, "vault_id")?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let vault_key = match secret {
            VaultSecret::Key(k) => k,
            VaultSecret::Passphrase(p) => {
                let params: KdfParams = match db::meta_get(&conn, "kdf")? {
                    Some(json) => serde_json::from_slice(&json)
                        .map_err(|_| Error::NotAVault("vault header is incomplete"))?,
                    // A key vault opened with a passphrase: the passphrase is simply wrong.
                    None => return Err(Error::WrongKey),
                };
                kdf::derive_key(&p, &params).map_err(|_| Error::WrongKey)?
            }
        };
        envelope::open(
            &vault_key,
            &VAULT_KEY_ID,
            &meta_aad(vault_id, Part::Canary),
            &need(&conn, "canary")?,
        )
        .map_err(|_| Error::WrongKey)?;
        // The key is right: now it is safe to upgrade the file.
        schema::migrate(&mut conn)?;
        let device_id = DeviceId::from_slice(&need(&conn, "device_id")?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let seed = envelope::open(
            &vault_key,
            &VAULT_KEY_ID,
            &meta_aad(vault_id, Part::DeviceKey),
            &need(&conn, "device_key")?,
        )
        .map_err(|_| Error::NotAVault("device key does not open"))?;
        let device_key =
            DeviceKey::from_seed(&seed).map_err(|_| Error::NotAVault("device key is malformed"))?;
        // Vaults written before sync existed (schema 2) get their sync key and registry now.
        if db::meta_get(&conn, "sync_key_id")?.is_none() {
            db::meta_put(&conn, "sync_key_id", KeyId::random().as_bytes())?;
            db::meta_put(&conn, "registry_id", RecordId::random().as_bytes())?;
        }
        let sync_key_id = KeyId::from_slice(&need(&conn, "sync_key_id")?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let registry_id = RecordId::from_slice(&need(&conn, "registry_id")?)
            .ok_or(Error::NotAVault("vault header is incomplete"))?;
        let pushed = db::meta_get(&conn, "device_seq")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let device_seq = pushed.max(db::outbox_max_seq(&conn)?);
        let mut inner = Inner {
            conn,
            vault_id,
            vault_key,
            device_id,
            device_key,
            keys: HashMap::new(),
            docs: HashMap::new(),
            opts,
            sync_key_id,
            registry_id,
            registry: Registry::default(),
            device_seq,
            push_high: 0,
            _lock: lock,
        };
        if db::key_get(&inner.conn, &sync_key_id)?.is_none() {
            let sync_key = SecretKey::random();
            inner.insert_key(sync_key_id, VAULT_OWNER, KeyPurpose::Sync, &sync_key)?;
            inner.keys.insert(sync_key_id, sync_key);
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
            inner.create_doc(registry_id, Kind::Registry, VAULT_OWNER, sync_key_id, |doc| {
                registry::create(doc, device_id, &public, now_ms())
            })?;
        }
        inner.refresh_registry();
        Ok(Vault::from_inner(inner))
    }

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
            if !g.conn.is_autocommit() {
                let _ = g.conn.execute_batch("ROLLBACK");
            }
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

    // ----- clients -------------------------------------------------------------------------

    /// Adds a client, with fresh data keys for the record and for psychotherapy notes.
    pub fn create_client(&self, c: &NewClient) -> Result<RecordId> {
        client::validate(c)?;
        let mut guard = self.lock();
        let g: &mut Inner = &mut guard;
        let id = RecordId::random();
        let sync_key_id = g.sync_key_id;
        let sync_key =
            g.data_key(sync_key_id, VAULT_OWNER)?.ok_or(Error::NotAVault("sync key destroyed"))?;
        let tx = g.conn.transaction()?;
        let record_key = Inner::new_key(&tx, g.vault_id, &g.vault_key, id, KeyPurpose::Record)?;
        let process_key = Inner::new_key(&tx, g.vault_id, &g.vault_key, id, KeyPurpose::Process)?;
        for (kid, key, purpose) in [
            (record_key.0, &record_key.1, KeyPurpose::Record),
            (process_key.0, &process_key.1, KeyPurpose::Process),
        ] {
            g.device_seq += 1;
            let payload = crate::sync::key_share_payload(
                g.vault_id,
                &sync_key,
                g.sync_key_id,
                kid,
                id,
                purpose,
                key,
                g.device_seq,
            );
            db::outbox_put(
                &tx,
                g.device_seq,
                crate::sync::bundle::BundleKind::KeyShare as u8,
                &RecordId::from_bytes(*kid.as_bytes()),
                &kid,
                &payload,
            )?;
        }
        tx.commit()?;
        g.keys.insert(record_key.0, record_key.1);
        g.keys.insert(process_key.0, process_key.1);
        let kid = record_key.0;
        let stamp = g.stamp();
        g.create_doc(id, Kind::Client, id, kid, |doc| client::create(doc, id, c, &stamp))?;
        Ok(id)
    }

    /// Reads a client.
    pub fn client(&self, id: RecordId) -> Result<Client> {
        self.lock().read(id, Kind::Client, |doc| client::read(doc, id))
    }

    /// Changes a client's treatment status.
    pub fn set_client_status(&self, id: RecordId, status: ClientStatus) -> Result<()> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Client, |doc| client::set_status(doc, status, &stamp))
    }

    /// Appends a treatment goal; returns its id.
    pub fn add_treatment_goal(
        &self,
        client_id: RecordId,
        text: &str,
        domain: &str,
    ) -> Result<RecordId> {
        self.lock().edit(client_id, Kind::Client, |doc| client::add_goal(doc, text, domain))
    }

    /// Erases a client by destroying its keys (crypto-shredding). Its records then read as
    /// [`Error::Erased`]; other clients are untouched. The wrapped keys are overwritten in the
    /// file and the write-ahead log is checkpointed and truncated, so no copy of them remains.
    pub fn erase_client(&self, client_id: RecordId) -> Result<()> {
        let mut g = self.lock();
        let keys = db::keys_of_client(&g.conn, &client_id)?;
        if keys.is_empty() {
            return Err(Error::NotFound { kind: "client", id: client_id });
        }
        let key_ids: Vec<KeyId> = keys.iter().map(|k| k.key_id).collect();
        // Tell the other devices (through the registry) and queue the relay drop.
        let registry_id = g.registry_id;
        g.edit(registry_id, Kind::Registry, |doc| {
            registry::mark_erased(doc, client_id, &key_ids, now_ms())
        })?;
        g.destroy_client_keys(client_id, &key_ids)?;
        g.refresh_registry();
        Ok(())
    }

    // ----- devices -------------------------------------------------------------------------

    /// The devices of this vault (from the shared registry), in the order they joined.
    pub fn devices(&self) -> Vec<Device> {
        let g = self.lock();
        let r = &g.registry;
        let mut out: Vec<Device> = r
            .devices
            .keys()
            .map(|d| Device {
                id: *d,
                name: r.names.get(d).cloned(),
                added_at: r.added_at.get(d).copied(),
                revoked: r.revoked.contains_key(d),
            })
            .collect();
        out.sort_by_key(|d| (d.added_at, d.id));
        out
    }

    /// Names this device for the other devices' lists ("Clinic iPad"); it syncs like any edit.
    /// Up to 64 characters on one line.
    pub fn set_device_name(&self, name: &str) -> Result<()> {
        crate::records::validate::label("device name", name, 64)?;
        let mut g = self.lock();
        let (registry_id, me) = (g.registry_id, g.device_id);
        g.edit(registry_id, Kind::Registry, |doc| registry::set_name(doc, me, name))?;
        g.refresh_registry();
        Ok(())
    }

    /// Revokes a device (a lost phone): every device refuses its bundles from their next sync.
    pub fn revoke_device(&self, device: DeviceId) -> Result<()> {
        let mut g = self.lock();
        if device == g.device_id {
            return Err(Error::InvalidState("a device cannot revoke itself".into()));
        }
        if !g.registry.devices.contains_key(&device) {
            return Err(Error::NotFound {
                kind: "device",
                id: RecordId::from_bytes(*device.as_bytes()),
            });
        }
        let registry_id = g.registry_id;
        let upto = db::applied_max(&g.conn, &device)?;
        g.edit(registry_id, Kind::Registry, |doc| registry::revoke(doc, device, upto))?;
        db::relay_queue_put(&g.conn, 2, &device, &[0; 32])?;
        g.refresh_registry();
        Ok(())
    }

    // ----- sessions ------------------------------------------------------------------------

    /// Adds a session for a client.
    pub fn create_session(&self, s: &NewSession) -> Result<RecordId> {
        session::validate(s)?;
        let mut g = self.lock();
        g.read(s.client_id, Kind::Client, |_| Ok(()))?;
        let kid = g.client_key(s.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        g.create_doc(id, Kind::Session, s.client_id, kid, |doc| session::create(doc, id, s))?;
        Ok(id)
    }

    /// Reads a session.
    pub fn session(&self, id: RecordId) -> Result<Session> {
        self.lock().read(id, Kind::Session, |doc| session::read(doc, id))
    }

    /// Records whether a session took place, with its actual times.
    pub fn set_session_status(
        &self,
        id: RecordId,
        status: SessionStatus,
        actual_start: Option<Timestamp>,
        actual_end: Option<Timestamp>,
    ) -> Result<()> {
        self.lock().edit(id, Kind::Session, |doc| {
            session::set_status(doc, id, status, actual_start, actual_end)
        })
    }

    // ----- notes ---------------------------------------------------------------------------

    /// Starts a note for a session.
    pub fn create_note(&self, n: &NewNote) -> Result<RecordId> {
        note::validate(n)?;
        let mut g = self.lock();
        let s = g.read(n.session_id, Kind::Session, |doc| session::read(doc, n.session_id))?;
        let kid = g.client_key(s.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        let stamp = g.stamp();
        g.create_doc(id, Kind::Note, s.client_id, kid, |doc| {
            note::create(doc, id, s.client_id, s.scheduled_start, n, &stamp)
        })?;
        Ok(id)
    }

    /// Reads a note (current content, signatures, addenda and derived state).
    pub fn note(&self, id: RecordId) -> Result<SessionNote> {
        self.lock().read(id, Kind::Note, |doc| note::read(doc, id))
    }

    /// Live typing: delete `delete` characters at `pos` in a section, then insert `insert`.
    pub fn splice_note_section(
        &self,
        id: RecordId,
        section: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        self.lock().splice_section_text(id, section, pos, delete, insert)
    }

    /// Replaces a section's text (stored as a minimal diff).
    pub fn set_note_section(&self, id: RecordId, section: &str, text: &str) -> Result<()> {
        self.lock().edit_text(id, Kind::Note, |doc| note::set_section(doc, id, section, text))
    }

    /// Sets the note's risk assessment.
    pub fn set_note_risk(&self, id: RecordId, risk: &Risk) -> Result<()> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::set_risk(doc, id, risk, &stamp))
    }

    /// Changes a note's format while it has no content yet.
    pub fn set_note_format(&self, id: RecordId, format: NoteFormat) -> Result<()> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::set_format(doc, id, format, &stamp))
    }

    /// Adds or removes a diagnosis, intervention or addressed goal.
    pub fn set_note_code(
        &self,
        id: RecordId,
        set: CodeSet,
        code: &str,
        present: bool,
    ) -> Result<()> {
        self.lock().edit(id, Kind::Note, |doc| note::set_code(doc, id, set, code, present))
    }

    /// Signs a note with this device's key (author signature, co-signature or return).
    pub fn sign_note(&self, id: RecordId, req: &SignRequest) -> Result<()> {
        let mut g = self.lock();
        let signer_key = DeviceKey::from_seed(&g.device_key.seed()[..])
            .map_err(|_| Error::Internal("device key".into()))?;
        let device_id = g.device_id;
        g.edit(id, Kind::Note, |doc| {
            note::sign(doc, id, &Signer { key: &signer_key, device_id }, req)
        })
    }

    /// The note's content exactly as signed, verified against its signature.
    pub fn signed_content(&self, id: RecordId) -> Result<SignedContent> {
        self.lock().read(id, Kind::Note, |doc| note::signed_content(doc, id))
    }

    /// Late edits to a signed note made on a device that had not yet seen the signature, if
    /// any are unresolved. The signed content is unaffected.
    pub fn note_divergence(&self, id: RecordId) -> Result<Option<Divergence>> {
        self.lock().read(id, Kind::Note, |doc| note::divergence(doc, id))
    }

    /// Turns a divergence into a draft addendum (returned) or discards it; the choice syncs.
    pub fn resolve_divergence(
        &self,
        id: RecordId,
        choice: &DivergenceChoice,
    ) -> Result<Option<RecordId>> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::resolve_divergence(doc, id, choice, &stamp))
    }

    /// Starts an addendum on a signed note.
    pub fn add_addendum(&self, id: RecordId, a: &NewAddendum) -> Result<RecordId> {
        self.lock().edit(id, Kind::Note, |doc| note::add_addendum(doc, id, a))
    }

    /// Replaces a draft addendum's body.
    pub fn set_addendum_body(&self, id: RecordId, addendum: RecordId, body: &str) -> Result<()> {
        self.lock().edit(id, Kind::Note, |doc| note::set_addendum_body(doc, id, addendum, body))
    }

    /// Signs an addendum, which locks it.
    pub fn sign_addendum(&self, id: RecordId, addendum: RecordId, req: &SignRequest) -> Result<()> {
        let mut g = self.lock();
        let signer_key = DeviceKey::from_seed(&g.device_key.seed()[..])
            .map_err(|_| Error::Internal("device key".into()))?;
        let device_id = g.device_id;
        g.edit(id, Kind::Note, |doc| {
            note::sign_addendum(doc, id, addendum, &Signer { key: &signer_key, device_id }, req)
        })
    }

    /// Checks every addendum signature of a note.
    pub fn verify_addenda(&self, id: RecordId) -> Result<()> {
        self.lock().read(id, Kind::Note, |doc| note::verify_addenda(doc, id))
    }

    // ----- ruptures ------------------------------------------------------------------------

    /// Logs a rupture. Ruptures classed as psychotherapy notes are encrypted under the client's
    /// separate process key.
    pub fn create_rupture(&self, r: &NewRupture, by: &str) -> Result<RecordId> {
        rupture::validate(r)?;
        crate::records::validate::label("by", by, 128)?;
        let mut g = self.lock();
        g.read(r.client_id, Kind::Client, |_| Ok(()))?;
        g.check_session(r.session_id, r.client_id)?;
        let purpose = match r.record_class {
            RecordClass::PsychotherapyNote => KeyPurpose::Process,
            RecordClass::ProgressRecord => KeyPurpose::Record,
        };
        let kid = g.client_key(r.client_id, purpose)?;
        let id = RecordId::random();
        let stamp = g.stamp();
        g.create_doc(id, Kind::Rupture, r.client_id, kid, |doc| {
            rupture::create(doc, id, r, by, &stamp)
        })?;
        Ok(id)
    }

    /// Reads a rupture with its repair attempts and derived status.
    pub fn rupture(&self, id: RecordId) -> Result<RuptureEvent> {
        self.lock().read(id, Kind::Rupture, |doc| rupture::read(doc, id))
    }

    /// Corrects a logged rupture: ratings, sets, texts, session and time. A session of another
    /// client is refused.
    pub fn update_rupture(&self, id: RecordId, u: &RuptureUpdate) -> Result<()> {
        let mut g = self.lock();
        g.check_rupture_session(id, u.session_id)?;
        let stamp = g.stamp();
        g.edit(id, Kind::Rupture, |doc| rupture::update(doc, id, u, &stamp))
    }

    /// Splices one of a rupture's texts, for live typing: concurrent edits on other devices
    /// merge by character.
    pub fn splice_rupture_text(
        &self,
        id: RecordId,
        field: RuptureText,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        self.lock().edit_text(id, Kind::Rupture, |doc| {
            rupture::splice_text(doc, id, field, pos, delete, insert)
        })
    }

    /// Marks a rupture as logged in error. It stays readable (and on the timeline, marked
    /// voided) but leaves the unresolved list and the counts, and takes no further edits.
    pub fn void_rupture(&self, id: RecordId, reason: &str, by: &str, at: Timestamp) -> Result<()> {
        self.lock().edit(id, Kind::Rupture, |doc| rupture::void(doc, id, reason, by, at))
    }

    /// Logs a repair attempt.
    pub fn add_repair_attempt(&self, id: RecordId, a: &NewRepairAttempt) -> Result<RecordId> {
        let mut g = self.lock();
        g.check_rupture_session(id, a.session_id)?;
        g.edit(id, Kind::Rupture, |doc| rupture::add_repair(doc, id, a))
    }

    /// Appends a status change (the status is the latest change by time).
    pub fn set_rupture_status(
        &self,
        id: RecordId,
        to: RuptureStatus,
        at: Timestamp,
        by: &str,
        session_id: Option<RecordId>,
    ) -> Result<()> {
        let mut g = self.lock();
        g.check_rupture_session(id, session_id)?;
        g.edit(id, Kind::Rupture, |doc| rupture::change_status(doc, id, to, at, by, session_id))
    }

    // ----- alliance measures ---------------------------------------------------------------

    /// Records an alliance measure (immutable afterwards).
    pub fn record_measure(&self, m: &NewMeasure) -> Result<RecordId> {
        measure::validate(m)?;
        let mut g = self.lock();
        g.read(m.client_id, Kind::Client, |_| Ok(()))?;
        let kid = g.client_key(m.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        g.create_doc(id, Kind::Measure, m.client_id, kid, |doc| measure::create(doc, id, m))?;
        Ok(id)
    }

    /// Reads an alliance measure with its derived scores.
    pub fn measure(&self, id: RecordId) -> Result<AllianceMeasure> {
        self.lock().read(id, Kind::Measure, |doc| measure::read(doc, id))
    }

    // ----- conflicts -----------------------------------------------------------------------

    /// Every open conflict in the vault. Only records whose (encrypted) summary is flagged as
    /// conflicted are loaded.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut g = self.lock();
        let mut rows = Vec::new();
        for kind in [Kind::Client, Kind::Note, Kind::Rupture] {
            rows.extend(db::summaries_of_kind(&g.conn, kind as u8)?);
        }
        let rows = g.open_summaries(rows)?;
        let mut out = Vec::new();
        for row in rows.iter().filter(|r| r.conflicted) {
            let (id, client) = (row.header.doc_id, row.header.client_id);
            let Some(kind) = Kind::from_code(row.header.kind) else { continue };
            match g.read(id, kind, |doc| conflict::of(kind, doc, id, client)) {
                Ok(c) => out.extend(c),
                Err(Error::Corrupt { .. }) | Err(Error::Erased(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The open conflicts of one record.
    pub fn conflicts_of(&self, id: RecordId) -> Result<Vec<Conflict>> {
        let mut g = self.lock();
        let h = db::doc_header(&g.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        let kind = Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        g.read(id, kind, |doc| conflict::of(kind, doc, id, h.client_id))
    }

    /// Resolves a conflict by choosing a value; the choice is recorded and syncs.
    pub fn resolve_conflict(&self, id: RecordId, field: &str, value: &str) -> Result<()> {
        let mut g = self.lock();
        let kind = g.kind_of(id)?;
        let stamp = g.stamp();
        if kind == Kind::Note {
            g.read(id, kind, |doc| note::ensure_draft(doc, id))?;
        }
        g.edit(id, kind, |doc| conflict::resolve(kind, doc, id, field, value, &stamp))
    }

    // ----- queries (from summaries; no document is loaded) --------------------------------

    /// Every client, erased and unreadable ones included (flagged), ordered by alias.
    pub fn clients(&self) -> Result<Vec<query::ClientSummary>> {
        let mut g = self.lock();
        let rows = db::summaries_of_kind(&g.conn, Kind::Client as u8)?;
        let rows = g.open_summaries(rows)?;
        Ok(query::clients(rows))
    }

    /// A client's timeline: sessions, notes, ruptures and measures by date.
    pub fn timeline(&self, client_id: RecordId) -> Result<Vec<query::TimelineEntry>> {
        let rows = self.client_summaries(client_id, None)?;
        Ok(query::timeline(rows))
    }

    /// A client's notes by date of service.
    pub fn notes_of_client(&self, client_id: RecordId) -> Result<Vec<query::TimelineEntry>> {
        let rows = self.client_summaries(client_id, Some(Kind::Note))?;
        Ok(query::timeline(rows))
    }

    /// A client's unresolved ruptures, oldest first.
    pub fn unresolved_ruptures(&self, client_id: RecordId) -> Result<Vec<query::RuptureSummary>> {
        let rows = self.client_summaries(client_id, Some(Kind::Rupture))?;
        Ok(query::unresolved_ruptures(rows))
    }

    /// Rupture counts by movement for each of a client's sessions, in session order.
    pub fn rupture_counts(&self, client_id: RecordId) -> Result<Vec<query::SessionRuptureCounts>> {
        let rows = self.client_summaries(client_id, None)?;
        Ok(query::rupture_counts(rows))
    }

    /// A client's alliance trend: WAI-SR subscales per administration, superseded ones left out.
    pub fn alliance_trend(&self, client_id: RecordId) -> Result<Vec<query::AlliancePoint>> {
        let rows = self.client_summaries(client_id, Some(Kind::Measure))?;
        Ok(query::alliance_trend(rows))
    }

    fn client_summaries(&self, client_id: RecordId, kind: Option<Kind>) -> Result<Vec<query::Row>> {
        let mut g = self.lock();
        let rows = db::summaries_of_client(&g.conn, &client_id, kind.map(|k| k as u8))?;
        if rows.is_empty() && db::keys_of_client(&g.conn, &client_id)?.is_empty() {
            return Err(Error::NotFound { kind: "client", id: client_id });
        }
        g.open_summaries(rows)
    }

    /// Folds every record's incremental changes into a fresh snapshot.
    pub fn compact_all(&self) -> Result<()> {
        let mut g = self.lock();
        let ids: Vec<RecordId> = g
            .conn
            .prepare("SELECT doc_id FROM docs")?
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|r| r.ok().and_then(|b| RecordId::from_slice(&b)))
            .collect();
        for id in ids {
            match g.load(id) {
                Ok(()) => g.compact(id)?,
                Err(Error::Erased(_)) | Err(Error::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Inner {
    /// Writes the header of a new vault file (vault id, KDF parameters, canary, this device's
    /// identity, sync key id and registry id) and returns the handle's state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_file(
        mut conn: Connection,
        lock: store::lock::FileLock,
        vault_id: VaultId,
        vault_key: SecretKey,
        kdf_params: Option<KdfParams>,
        device_id: DeviceId,
        device_key: DeviceKey,
        sync_key_id: KeyId,
        registry_id: RecordId,
        opts: VaultOptions,
    ) -> Result<Inner> {
        let tx = conn.transaction()?;
        db::meta_put(&tx, "vault_id", vault_id.as_bytes())?;
        if let Some(p) = kdf_params {
            let json = serde_json::to_vec(&p).map_err(|_| Error::Internal("kdf params".into()))?;
            db::meta_put(&tx, "kdf", &json)?;
        }
        let canary =
            envelope::seal(&vault_key, &VAULT_KEY_ID, &meta_aad(vault_id, Part::Canary), CANARY);
        db::meta_put(&tx, "canary", &canary)?;
        db::meta_put(&tx, "device_id", device_id.as_bytes())?;
        let wrapped = envelope::seal(
            &vault_key,
            &VAULT_KEY_ID,
            &meta_aad(vault_id, Part::DeviceKey),
            &device_key.seed()[..],
        );
        db::meta_put(&tx, "device_key", &wrapped)?;
        db::meta_put(&tx, "sync_key_id", sync_key_id.as_bytes())?;
        db::meta_put(&tx, "registry_id", registry_id.as_bytes())?;
        tx.commit()?;
        Ok(Inner {
            conn,
            vault_id,
            vault_key,
            device_id,
            device_key,
            keys: HashMap::new(),
            docs: HashMap::new(),
            opts,
            sync_key_id,
            registry_id,
            registry: Registry::default(),
            device_seq: 0,
            push_high: 0,
            _lock: lock,
        })
    }

    /// Stores a data key wrapped under the vault key.
    pub(crate) fn insert_key(
        &self,
        key_id: KeyId,
        client: RecordId,
        purpose: KeyPurpose,
        key: &SecretKey,
    ) -> Result<()> {
        let wrapped = envelope::seal(
            &self.vault_key,
            &VAULT_KEY_ID,
            &Self::wrap_aad(self.vault_id, key_id),
            key.expose(),
        );
        db::key_insert(
            &self.conn,
            &KeyRow { key_id, client_id: client, purpose: purpose as u8, wrapped: Some(wrapped) },
        )
    }

    pub(crate) fn new_key(
        conn: &Connection,
        vault: VaultId,
        vault_key: &SecretKey,
        client: RecordId,
        purpose: KeyPurpose,
    ) -> Result<(KeyId, SecretKey)> {
        let key_id = KeyId::random();
        let key = SecretKey::random();
        let wrapped =
            envelope::seal(vault_key, &VAULT_KEY_ID, &Self::wrap_aad(vault, key_id), key.expose());
        db::key_insert(
            conn,
            &KeyRow { key_id, client_id: client, purpose: purpose as u8, wrapped: Some(wrapped) },
        )?;
        Ok((key_id, key))
    }

    pub(crate) fn wrap_aad(vault: VaultId, key_id: KeyId) -> Aad {
        Aad {
            vault,
            record: RecordId::from_bytes(*key_id.as_bytes()),
            kind: 0,
            seq: 0,
            part: Part::WrappedKey,
        }
    }

    /// The data key, or `None` once destroyed by erasure.
    pub(crate) fn data_key(
        &mut self,
        key_id: KeyId,
        for_record: RecordId,
    ) -> Result<Option<SecretKey>> {
        if let Some(k) = self.keys.get(&key_id) {
            return Ok(Some(k.clone()));
        }
        let row = db::key_get(&self.conn, &key_id)?
            .ok_or_else(|| Error::corrupt(for_record, "unknown key"))?;
        let Some(wrapped) = row.wrapped else { return Ok(None) };
        let bytes = envelope::open(
            &self.vault_key,
            &VAULT_KEY_ID,
            &Self::wrap_aad(self.vault_id, key_id),
            &wrapped,
        )
        .map_err(|_| Error::corrupt(for_record, "wrapped key"))?;
        let key = SecretKey::from_slice(&bytes)
            .ok_or_else(|| Error::corrupt(for_record, "wrapped key"))?;
        self.keys.insert(key_id, key.clone());
        Ok(Some(key))
    }

    pub(crate) fn client_key(&mut self, client: RecordId, purpose: KeyPurpose) -> Result<KeyId> {
        let rows = db::keys_of_client(&self.conn, &client)?;
        let row = rows
            .into_iter()
            .find(|k| k.purpose == purpose as u8)
            .ok_or(Error::NotFound { kind: "client", id: client })?;
        if row.wrapped.is_none() {
            return Err(Error::Erased(client));
        }
        Ok(row.key_id)
    }

    /// Destroys a client's keys here (crypto-shredding): wrapped keys overwritten, unpushed
    /// changes under them dropped, the relay drop queued, caches cleared, the WAL truncated.
    pub(crate) fn destroy_client_keys(
        &mut self,
        client: RecordId,
        key_ids: &[KeyId],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        db::keys_destroy(&tx, &client)?;
        db::outbox_delete_keys(&tx, key_ids)?;
        db::relay_drops_add(&tx, key_ids)?;
        tx.commit()?;
        for k in key_ids {
            self.keys.remove(k);
        }
        self.docs.retain(|_, c| c.header.client_id != client);
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Queues a whole record (its full Automerge save) for push.
    fn enqueue_whole(&mut self, id: RecordId) -> Result<()> {
        self.load(id)?;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        let bytes = c.doc.save();
        let header = c.header.clone();
        let kind = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        let key = self.data_key(header.key_id, id)?.ok_or(Error::Erased(id))?;
        let seq = self.device_seq + 1;
        let payload = crate::sync::doc_payload(
            self.vault_id,
            &key,
            header.key_id,
            id,
            kind,
            header.client_id,
            &bytes,
            seq,
            None,
        );
        db::outbox_put(&self.conn, seq, 0, &id, &header.key_id, &payload)?;
        self.device_seq = seq;
        Ok(())
    }

    /// Re-reads the registry document into memory (an unreadable registry trusts no one).
    pub(crate) fn refresh_registry(&mut self) {
        let id = self.registry_id;
        self.registry =
            self.read(id, Kind::Registry, |doc| registry::read(doc, id)).unwrap_or_default();
    }

    pub(crate) fn kind_of(&self, id: RecordId) -> Result<Kind> {
        let h = db::doc_header(&self.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(id, "kind"))
    }

    /// This device and the current time, for stamped registers.
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp { device: self.device_id, at: now_ms() }
    }

    pub(crate) fn aad(&self, h: &DocHeader, seq: u64, part: Part) -> Aad {
        Aad { vault: self.vault_id, record: h.doc_id, kind: h.kind, seq, part }
    }

    pub(crate) fn create_doc(
        &mut self,
        id: RecordId,
        kind: Kind,
        client_id: RecordId,
        key_id: KeyId,
        write: impl FnOnce(&mut AutoCommit) -> Result<()>,
    ) -> Result<()> {
        let key = self.data_key(key_id, id)?.ok_or(Error::Erased(client_id))?;
        let mut doc = AutoCommit::new();
        write(&mut doc)?;
        let header = DocHeader {
            doc_id: id,
            kind: kind as u8,
            client_id,
            key_id,
            next_seq: 1,
            snapshot_seq: 0,
        };
        let snapshot = doc.save();
        let summary = summary::encoded(kind, &doc, id)?;
        let sealed =
            envelope::seal(&key, &key_id, &self.aad(&header, 0, Part::Snapshot), &snapshot);
        let sealed_summary =
            envelope::seal(&key, &key_id, &self.aad(&header, 0, Part::Summary), &summary);
        let out_seq = self.device_seq + 1;
        let bundle_payload = crate::sync::doc_payload(
            self.vault_id,
            &key,
            key_id,
            id,
            kind,
            client_id,
            &snapshot,
            out_seq,
            None,
        );
        let tx = self.conn.transaction()?;
        db::doc_insert(&tx, &header, &sealed)?;
        db::summary_put(&tx, &id, 0, &sealed_summary)?;
        db::outbox_put(&tx, out_seq, 0, &id, &key_id, &bundle_payload)?;
        tx.commit()?;
        self.device_seq = out_seq;
        let saved_heads = doc.get_heads();
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(())
    }

    pub(crate) fn cache(&mut self, id: RecordId, c: Cached) {
        if self.docs.len() >= self.opts.cache_docs.max(1) {
            // Simple bound: drop everything but keep the record being worked on.
            self.docs.clear();
        }
        self.docs.insert(id, c);
    }

    /// Loads a record into the cache (decrypting its snapshot and changes).
    pub(crate) fn load(&mut self, id: RecordId) -> Result<()> {
        if self.docs.contains_key(&id) {
            return Ok(());
        }
        let mut header =
            db::doc_header(&self.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        let key = self.data_key(header.key_id, id)?.ok_or(Error::Erased(id))?;
        let (snapshot, changes) = db::doc_parts(&self.conn, &id)?;
        if let Some((last, _)) = changes.last() {
            header.next_seq = header.next_seq.max(last + 1);
        }
        let bytes = envelope::open(
            &key,
            &header.key_id,
            &self.aad(&header, header.snapshot_seq, Part::Snapshot),
            &snapshot,
        )
        .map_err(|_| Error::corrupt(id, "snapshot"))?;
        let mut doc = AutoCommit::load(&bytes).map_err(|_| Error::corrupt(id, "snapshot"))?;
        // Decrypt every change, then hand them to Automerge in one call (one call per row is
        // much slower on long notes); if that fails, apply row by row to name the bad one.
        let mut all = zeroize::Zeroizing::new(Vec::new());
        let mut parts = Vec::with_capacity(changes.len());
        for (seq, data) in changes {
            let bytes =
                envelope::open(&key, &header.key_id, &self.aad(&header, seq, Part::Change), &data)
                    .map_err(|_| Error::corrupt(id, format!("change {seq}")))?;
            all.extend_from_slice(&bytes);
            parts.push((seq, bytes));
        }
        if !all.is_empty() {
            let mut joined = doc.clone();
            if crate::records::am::load_incremental_safely(&mut joined, &all) {
                doc = joined;
            } else {
                for (seq, bytes) in parts {
                    if !crate::records::am::load_incremental_safely(&mut doc, &bytes) {
                        return Err(Error::corrupt(id, format!("change {seq}")));
                    }
                }
            }
        }
        let saved_heads = doc.get_heads();
        let kind = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        let summary = summary::encoded(kind, &doc, id)?;
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(())
    }

    pub(crate) fn cached(&mut self, id: RecordId, kind: Kind) -> Result<&mut Cached> {
        self.load(id)?;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        if c.header.kind != kind as u8 {
            return Err(Error::NotFound { kind: kind.name(), id });
        }
        Ok(c)
    }

    /// Refuses a session that is missing or belongs to another client.
    fn check_session(&mut self, session_id: Option<RecordId>, client: RecordId) -> Result<()> {
        let Some(s) = session_id else { return Ok(()) };
        let owner = self.read(s, Kind::Session, |doc| session::read(doc, s))?.client_id;
        if owner != client {
            return Err(Error::invalid("session_id", "belongs to another client"));
        }
        Ok(())
    }

    /// `check_session` against the client of a logged rupture.
    fn check_rupture_session(&mut self, id: RecordId, session_id: Option<RecordId>) -> Result<()> {
        if session_id.is_none() {
            return Ok(());
        }
        let client = self.read(id, Kind::Rupture, |doc| rupture::client_of(doc, id))?;
        self.check_session(session_id, client)
    }

    pub(crate) fn read<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&AutoCommit) -> Result<T>,
    ) -> Result<T> {
        f(&self.cached(id, kind)?.doc)
    }

    pub(crate) fn read_mut<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        f(&mut self.cached(id, kind)?.doc)
    }

    /// Runs an edit and saves what it changed as one encrypted incremental change (plus the
    /// summary if it changed), in one transaction. On any error the in-memory copy is dropped,
    /// so nothing unsaved lingers.
    pub(crate) fn edit<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let result = self.edit_inner(id, kind, true, f);
        if result.is_err() {
            self.docs.remove(&id);
        }
        result
    }

    /// An edit of free text only (note sections): it cannot change the record's summary or its
    /// conflicts, so the summary is not recomputed — the hot path of live typing.
    pub(crate) fn edit_text<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let result = self.edit_inner(id, kind, false, f);
        if result.is_err() {
            self.docs.remove(&id);
        }
        result
    }

    /// Live typing in a note section. The checks (`note::splice_section`: the note is a draft,
    /// the section belongs to its format) are made once and kept with the cached document at its
    /// heads; the next keystroke in the same section skips them while the document is still at
    /// the heads this path left it at (a text splice changes neither). Any other change — an
    /// edit, a signature, a merged sync — moves the heads and the checks run again.
    pub(crate) fn splice_section_text(
        &mut self,
        id: RecordId,
        section: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        let c = self.cached(id, Kind::Note)?;
        let heads = c.doc.get_heads();
        let known = c.typing.take().filter(|t| t.section == section && t.heads == heads);
        let text = match known {
            Some(t) => t.text,
            None => {
                note::ensure_draft(&c.doc, id)?;
                note::section_obj(&c.doc, id, section)?
            }
        };
        let field = format!("sections.{section}");
        self.edit_text(id, Kind::Note, |doc| {
            crate::records::am::splice_text(doc, &text, &field, pos, delete, insert)
        })?;
        if let Some(c) = self.docs.get_mut(&id) {
            let heads = c.doc.get_heads();
            c.typing = Some(TypingTarget { heads, section: section.to_owned(), text });
        }
        Ok(())
    }

    fn edit_inner<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        summary_may_change: bool,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let c = self.cached(id, kind)?;
        let out = f(&mut c.doc)?;
        if c.doc.pending_ops() == 0 {
            // Nothing changed: close the empty transaction without a change (committing an
            // empty one leaves Automerge unable to merge later changes).
            c.doc.rollback();
            return Ok(out);
        }
        let bytes = c.doc.save_after(&c.saved_heads);
        if bytes.is_empty() {
            return Ok(out);
        }
        let header = c.header.clone();
        let summary = if summary_may_change {
            summary::encoded(kind, &c.doc, id)?
        } else {
            c.summary.clone()
        };
        let summary_changed = summary != c.summary;
        let key = self.data_key(header.key_id, id)?.ok_or(Error::Erased(id))?;
        let seq = header.next_seq;
        let sealed =
            envelope::seal(&key, &header.key_id, &self.aad(&header, seq, Part::Change), &bytes);
        let sealed_summary = summary_changed.then(|| {
            envelope::seal(&key, &header.key_id, &self.aad(&header, seq, Part::Summary), &summary)
        });
        let out_seq = self.device_seq + 1;
        let kind_of = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        let bundle_payload = crate::sync::doc_payload(
            self.vault_id,
            &key,
            header.key_id,
            id,
            kind_of,
            header.client_id,
            &bytes,
            out_seq,
            None,
        );
        let tx = self.conn.transaction()?;
        db::change_append(&tx, &id, seq, &sealed)?;
        if let Some(s) = &sealed_summary {
            db::summary_put(&tx, &id, seq, s)?;
        }
        db::outbox_put(&tx, out_seq, 0, &id, &header.key_id, &bundle_payload)?;
        tx.commit()?;
        self.device_seq = out_seq;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        c.saved_heads = c.doc.get_heads();
        c.header.next_seq = seq + 1;
        if summary_changed {
            c.summary = summary;
        }
        if seq.saturating_sub(c.header.snapshot_seq) >= self.opts.compact_after {
            // The edit is already durable; a failed compaction only means it is retried after
            // the next save, so it must not turn this acknowledged save into an error.
            let _ = self.compact(id);
        }
        Ok(out)
    }

    /// Folds the record's changes into a new snapshot, keeping the full history inside it, and,
    /// once the saves queued since the last fold outweigh the record, the newest run of them into
    /// one bundle holding that snapshot (so a vault that does not sync for a long time queues at
    /// most about twice each record's size, not one change per keystroke; see
    /// [`Inner::outbox_fold`]). Skipped while changes wait for missing dependencies (a snapshot
    /// would not contain them).
    pub(crate) fn compact(&mut self, id: RecordId) -> Result<()> {
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        if !c.doc.get_missing_deps(&[]).is_empty() {
            return Ok(());
        }
        let snapshot = c.doc.save();
        let header = c.header.clone();
        let seq = header.next_seq;
        let key = self.data_key(header.key_id, id)?.ok_or(Error::Erased(id))?;
        let sealed = envelope::seal(
            &key,
            &header.key_id,
            &self.aad(&header, seq, Part::Snapshot),
            &snapshot,
        );
        let fold = self.outbox_fold(&header, &key, &snapshot)?;
        let tx = self.conn.transaction()?;
        db::snapshot_replace(&tx, &id, seq, &sealed)?;
        if let Some((from, to, payload)) = &fold {
            db::outbox_replace_run(&tx, *from, *to, &id, &header.key_id, payload)?;
        }
        tx.commit()?;
        if let Some(c) = self.docs.get_mut(&id) {
            c.header.snapshot_seq = seq;
            c.header.next_seq = seq + 1;
        }
        Ok(())
    }

    pub(crate) fn open_summaries(&mut self, rows: Vec<db::SummaryRow>) -> Result<Vec<query::Row>> {
        let mut out = Vec::with_capacity(rows.len());
        for (h, data) in rows {
            let summary = match self.data_key(h.key_id, h.doc_id) {
                Ok(None) => Err(query::Unreadable::Erased),
                Err(Error::Corrupt { .. }) => Err(query::Unreadable::Corrupt),
                Err(e) => return Err(e),
                Ok(Some(key)) => match data {
                    None => Err(query::Unreadable::Corrupt),
                    Some((seq, bytes)) => {
                        envelope::open(&key, &h.key_id, &self.aad(&h, seq, Part::Summary), &bytes)
                            .map_err(|_| query::Unreadable::Corrupt)
                            .and_then(|b| {
                                summary::decode(h.doc_id, &b)
                                    .map_err(|_| query::Unreadable::Corrupt)
                            })
                    }
                },
            };
            let conflicted = matches!(summary, Ok((_, true)));
            out.push(query::Row { header: h, summary: summary.map(|(s, _)| s), conflicted });
        }
        Ok(out)
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Vault>();
}
