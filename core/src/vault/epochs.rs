//! Keys that follow membership: who this device seals keys to, and when keys are renewed.
//!
//! - A new client's keys are sealed to every device the registry lists as a receiver (listed,
//!   not revoked, with a receiving key): [`Inner::share_new_keys`].
//! - Revoking a device starts a new epoch (the epoch is the number of revoked devices, see
//!   [`crate::records::registry::Registry::required_epoch`]): every device that finds a live key
//!   from an older epoch makes a new generation of it and seals it to the remaining devices
//!   ([`Inner::renew_stale_keys`]). The revoking device does so at once; the others at the end of
//!   their next sync, which also covers a client some device created before it heard of the
//!   revocation, and two revocations made at once on two devices. Two devices renewing the same
//!   key both succeed; every device then sends under the same newest generation (highest epoch,
//!   then key id).
//! - A device that appears in the registry with a receiving key this device has not sealed to
//!   (one that joined, or one made before epochs that just published its key) is sent, once,
//!   the keys this device made itself that it may lack ([`Inner::catch_up`]).
//!
//! What a revoked device already held stays readable to it: nothing can take back a key. What
//! it cannot read is anything sent after the revocation, because that goes under keys it never
//! received.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::Inner;
use crate::crypto::{KeyPurpose, SecretKey};
use crate::error::Result;
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::outbox::Outbox;
use crate::shares::{self, SharedKey};
use crate::store::db;

/// Queues one share of `keys` sealed to `recipients`, numbered `seq`, in the caller's transaction.
pub(crate) fn queue_share(
    tx: &Connection,
    outbox: &Outbox,
    vault: VaultId,
    seq: u64,
    keys: &[SharedKey],
    recipients: &[(DeviceId, [u8; 32])],
) -> Result<()> {
    let doc = RecordId::random();
    // Labelled with the client's record key (the key id an erasure tells the relay to drop).
    let label = keys
        .iter()
        .find(|k| k.purpose != KeyPurpose::Process)
        .or(keys.first())
        .map(|k| k.key_id)
        .unwrap_or(KeyId::from_bytes([0; 16]));
    let payload = shares::seal_share(vault, doc, seq, recipients, keys)?;
    Outbox::put(tx, &outbox.share(seq, doc, label, payload))
}

/// Groups keys by client, in client order.
fn by_client(keys: Vec<SharedKey>) -> BTreeMap<RecordId, Vec<SharedKey>> {
    let mut out: BTreeMap<RecordId, Vec<SharedKey>> = BTreeMap::new();
    for k in keys {
        out.entry(k.client).or_default().push(k);
    }
    out
}

impl Inner {
    /// Queues the shares of a new client's keys to every receiver (nothing if there is none),
    /// starting at sequence number `seq`; returns how many numbers it took.
    pub(crate) fn share_new_keys(
        tx: &Connection,
        outbox: &Outbox,
        vault: VaultId,
        recipients: &[(DeviceId, [u8; 32])],
        seq: u64,
        keys: &[SharedKey],
    ) -> Result<u64> {
        if recipients.is_empty() || keys.is_empty() {
            return Ok(0);
        }
        queue_share(tx, outbox, vault, seq, keys, recipients)?;
        Ok(1)
    }

    /// Makes a new generation of every live key from an older epoch than the registry's and
    /// seals it to the remaining devices, in one transaction. Returns how many keys
    /// were renewed.
    pub(crate) fn renew_stale_keys(&mut self) -> Result<u64> {
        let required = self.registry.required_epoch();
        self.renew_keys(required, None)
    }

    /// Makes a new generation, of epoch `required`, of every live key from an older epoch, and
    /// seals it to the registry's receivers except `leaving` (a device about to be revoked).
    pub(crate) fn renew_keys(&mut self, required: u32, leaving: Option<DeviceId>) -> Result<u64> {
        // A revoked device has no one to renew keys for: nothing it sends is accepted.
        if required == 0 || self.registry.revoked.contains_key(&self.device_id) {
            return Ok(0);
        }
        // Newest epoch per client and purpose (rows come oldest first).
        let mut newest: BTreeMap<(RecordId, u8), (KeyPurpose, u32)> = BTreeMap::new();
        for row in db::live_keys(&self.conn)? {
            if let Some(p) = row.purpose {
                newest.insert((row.client_id, p as u8), (p, row.epoch));
            }
        }
        let mut stale: BTreeMap<RecordId, Vec<KeyPurpose>> = BTreeMap::new();
        for ((client, _), (purpose, epoch)) in newest {
            if epoch < required && !self.registry.erased.contains_key(&client) {
                stale.entry(client).or_default().push(purpose);
            }
        }
        if stale.is_empty() {
            return Ok(0);
        }
        let mut recipients = self.registry.receivers(self.device_id);
        recipients.retain(|(d, _)| Some(*d) != leaving);
        let first = self.outbox.next_seq();
        let mut seq = first;
        let mut made: Vec<(KeyId, SecretKey)> = Vec::new();
        let tx = self.conn.transaction()?;
        for (client, purposes) in stale {
            let mut keys = Vec::with_capacity(purposes.len());
            for purpose in purposes {
                let (key_id, key) = self.keys.create(&tx, client, purpose, required)?;
                made.push((key_id, key.clone()));
                keys.push(SharedKey { key_id, client, purpose, epoch: required, key });
            }
            seq +=
                Inner::share_new_keys(&tx, &self.outbox, self.vault_id, &recipients, seq, &keys)?;
        }
        tx.commit()?;
        if seq > first {
            self.outbox.committed(seq - 1);
        }
        let renewed = made.len() as u64;
        for (key_id, key) in made {
            self.keys.remember(key_id, key);
        }
        Ok(renewed)
    }

    /// Catches up each receiver this device has not sealed to yet (one that joined, or one
    /// made before epochs that just published its receiving key): seals it the keys this device
    /// made itself, one share per client, leaving out those an invite it exported for that
    /// device already carried. Keys other devices made are theirs to send. One transaction;
    /// returns how many devices were caught up.
    pub(crate) fn catch_up(&mut self) -> Result<u64> {
        if self.registry.revoked.contains_key(&self.device_id) {
            return Ok(0);
        }
        let mut due = Vec::new();
        for (d, public) in self.registry.receivers(self.device_id) {
            if !db::sealed_for_contains(&self.conn, &d, &public)? {
                due.push((d, public));
            }
        }
        if due.is_empty() {
            return Ok(0);
        }
        let first = self.outbox.next_seq();
        let mut seq = first;
        let mut sends = Vec::new();
        for (d, public) in &due {
            let after = db::invited_upto(&self.conn, d)?;
            let held = shares::from_rows(self.keys.own_keys_after(&self.conn, after)?)?;
            let held: Vec<SharedKey> = held
                .into_iter()
                .filter(|k| !self.registry.erased.contains_key(&k.client))
                .collect();
            sends.push(((*d, *public), by_client(held)));
        }
        let tx = self.conn.transaction()?;
        for (to, groups) in &sends {
            for keys in groups.values() {
                queue_share(&tx, &self.outbox, self.vault_id, seq, keys, std::slice::from_ref(to))?;
                seq += 1;
            }
            db::sealed_for_put(&tx, &to.0, &to.1)?;
        }
        tx.commit()?;
        if seq > first {
            self.outbox.committed(seq - 1);
        }
        Ok(due.len() as u64)
    }
}
