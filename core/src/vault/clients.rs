//! Clients: their records, treatment status and goals, and erasure. A new client gets fresh
//! data keys (one for the record, one for psychotherapy notes), shared with the other devices
//! through the outbox; erasing a client destroys them on every device (crypto-shredding), with
//! the erasure carried by the shared registry.

use super::{now_ms, Inner, Vault};
use crate::crypto::KeyPurpose;
use crate::error::{Error, Result};
use crate::ids::{KeyId, RecordId};
use crate::outbox::Outbox;
use crate::records::enums::*;
use crate::records::model::*;
use crate::records::{client, registry, Kind};
use crate::shares::SharedKey;
use crate::store::db::{self, Meta};

impl Vault {
    /// Adds a client, with fresh data keys for the record and for psychotherapy notes.
    pub fn create_client(&self, c: &NewClient) -> Result<RecordId> {
        client::validate(c)?;
        let mut guard = self.lock();
        let g: &mut Inner = &mut guard;
        let id = RecordId::random();
        // New clients start in the current epoch: their keys are sealed to no revoked device.
        let epoch = g.registry.required_epoch();
        let recipients = g.registry.receivers(g.device_id);
        let first = g.outbox.next_seq();
        let tx = g.conn.transaction()?;
        let record_key = g.keys.create(&tx, id, KeyPurpose::Record, epoch)?;
        let process_key = g.keys.create(&tx, id, KeyPurpose::Process, epoch)?;
        // Both keys travel to the other devices sealed to each, queued with them.
        let shared = [(&record_key, KeyPurpose::Record), (&process_key, KeyPurpose::Process)].map(
            |((key_id, key), purpose)| SharedKey {
                key_id: *key_id,
                client: id,
                purpose,
                epoch,
                key: key.clone(),
                maker: None,
            },
        );
        let taken = Inner::share_new_keys(
            &tx,
            &g.outbox,
            (g.vault_id, g.device_id),
            &recipients,
            first,
            &shared,
        )?;
        tx.commit()?;
        if taken > 0 {
            g.outbox.committed(first + taken - 1);
        }
        let kid = record_key.0;
        g.keys.remember(record_key.0, record_key.1);
        g.keys.remember(process_key.0, process_key.1);
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
}

impl Inner {
    /// Destroys a client's keys here (crypto-shredding): wrapped keys overwritten, unpushed
    /// changes under them dropped, the relay drop queued, caches cleared, the WAL truncated.
    pub(crate) fn destroy_client_keys(
        &mut self,
        client: RecordId,
        key_ids: &[KeyId],
    ) -> Result<()> {
        // Every generation: the ones the erasing device named, and any this device holds that
        // it did not know of (renewed here, say, after a revocation).
        let mut key_ids = key_ids.to_vec();
        for k in db::keys_of_client(&self.conn, &client)? {
            if !key_ids.contains(&k.key_id) {
                key_ids.push(k.key_id);
            }
        }
        let key_ids = key_ids.as_slice();
        let tx = self.conn.transaction()?;
        db::keys_destroy(&tx, &client)?;
        Outbox::drop_keys(&tx, key_ids)?;
        db::relay_drops_add(&tx, key_ids)?;
        // Copies of the client's key shares may outlive the relay's drop (a backup): the
        // receiving key that opens them is replaced after the next sync.
        db::meta_put(&tx, Meta::ReceiveKeyStale, &[1])?;
        tx.commit()?;
        self.keys.forget(key_ids);
        self.docs.retain(|_, c| c.header.client_id != client);
        db::checkpoint_truncate(&self.conn)?;
        Ok(())
    }

    /// Destroys locally the keys of clients the registry lists as erased (an erasure made on
    /// another device).
    ///
    /// Key generations of the client this device holds and the registry does not list yet (one
    /// it renewed while the erasure was on its way) are added to the registry entry, so every
    /// other device learns their ids too; ids the registry lists that this device never had are
    /// kept as destroyed keys, so bundles sent under them read as erased instead of waiting for
    /// a key forever.
    pub(crate) fn apply_registry_erasures(&mut self) -> Result<()> {
        let erased: Vec<(RecordId, Vec<KeyId>)> =
            self.registry.erased.iter().map(|(c, k)| (*c, k.clone())).collect();
        for (client, keys) in erased {
            let held = db::keys_of_client(&self.conn, &client)?;
            for k in &keys {
                if !held.iter().any(|h| h.key_id == *k) {
                    self.keys.store_destroyed(&self.conn, *k, client, KeyPurpose::Record, 0)?;
                }
            }
            if held.iter().any(|k| k.wrapped.is_some()) {
                let unlisted: Vec<KeyId> =
                    held.iter().map(|k| k.key_id).filter(|k| !keys.contains(k)).collect();
                // The registry first: were the keys destroyed first and the process killed
                // before the registry edit, the next pass would find no key held and the other
                // devices would never learn these ids.
                if !unlisted.is_empty() && !self.registry.revoked.contains_key(&self.device_id) {
                    let registry_id = self.registry_id;
                    self.edit(registry_id, Kind::Registry, |doc| {
                        registry::mark_erased(doc, client, &unlisted, now_ms())
                    })?;
                    self.refresh_registry();
                }
                self.destroy_client_keys(client, &keys)?;
            }
        }
        Ok(())
    }
}
