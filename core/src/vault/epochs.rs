//! Keys that follow membership: who this device seals keys to, and when keys are renewed.
//!
//! - A new client's keys are sealed to every device the registry lists as a receiver (listed,
//!   not revoked, with a receiving key): [`Inner::share_new_keys`].
//! - Revoking a device starts a new epoch (the epoch is the number of revoked devices, see
//!   [`crate::records::registry::Registry::required_epoch`]): every device that finds a live key
//!   from an older epoch makes a new generation of it and seals it to the remaining devices
//!   ([`Inner::renew_stale_keys`]). The revoking device does so at once; the others before they
//!   send anything else ([`Inner::send_key`]: a save, fold or snapshot, or the end of a sync),
//!   which also covers a client some device created before it heard of the revocation, and two
//!   revocations made at once on two devices. A generation a revoked device made never counts
//!   (`Keyring::trusted`). Two devices renewing the same key both succeed; every device then
//!   sends under the same newest generation (highest epoch, then key id).
//! - A device that appears in the registry with a receiving key this device has not sealed to
//!   (one that joined, one made before epochs that just published its key, one that replaced its
//!   key) is sent, once, the keys this device made itself, and by its inviter every key added
//!   since the invite ([`Inner::catch_up`]).
//! - A device that destroyed client keys (an erasure, made here or applied from the registry)
//!   replaces its receiving key at the end of its next complete sync
//!   ([`Inner::rotate_receive_key`]), so the boxes of the erased client's key shares in any copy
//!   of the relay (a backup) are sealed to private keys no device holds any more. Shares sealed
//!   meanwhile to the old key are skipped (their key hint names it) and sealed again by their
//!   maker once it sees the new key.
//!
//! What a revoked device already held stays readable to it: nothing can take back a key. What
//! it cannot read is anything sent after the revocation, because that goes under keys it never
//! received.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::Inner;
use crate::crypto::seal::ReceiveKey;
use crate::crypto::{KeyPurpose, Part, SecretKey};
use crate::error::Result;
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::keyring;
use crate::outbox::Outbox;
use crate::shares::{self, SharedKey};
use crate::store::db::{self, Meta};

/// Queues one share of `keys` sealed to `recipients`, numbered `seq`, in the caller's
/// transaction, labelled `label` (the key id an erasure tells the relay to drop it by).
fn queue_share(
    tx: &Connection,
    outbox: &Outbox,
    (vault, sender): (VaultId, DeviceId),
    seq: u64,
    label: KeyId,
    keys: &[SharedKey],
    recipients: &[(DeviceId, [u8; 32])],
) -> Result<()> {
    let doc = RecordId::random();
    let at = shares::Slot { vault, doc, sender, seq };
    let payload = shares::seal_share(at, recipients, keys)?;
    Outbox::put(tx, &outbox.share(seq, doc, label, payload))
}

/// The label of one client's share: its record key (the sync key for the vault's own).
fn client_label(keys: &[SharedKey]) -> KeyId {
    keys.iter()
        .find(|k| k.purpose != KeyPurpose::Process)
        .or(keys.first())
        .map(|k| k.key_id)
        .unwrap_or(NO_LABEL)
}

/// The label of a share carrying many clients' keys: no erasure drops it (once a client is
/// erased, every device replaces the receiving key its box was sealed to).
const NO_LABEL: KeyId = KeyId::from_bytes([0; 16]);

/// Most keys in one catch-up share (about 70 bytes each, well inside a push).
const CATCH_UP_KEYS: usize = 4096;

impl Inner {
    /// Queues the shares of a new client's keys to every receiver (nothing if there is none),
    /// starting at sequence number `seq`; returns how many numbers it took.
    pub(crate) fn share_new_keys(
        tx: &Connection,
        outbox: &Outbox,
        vault: (VaultId, DeviceId),
        recipients: &[(DeviceId, [u8; 32])],
        seq: u64,
        keys: &[SharedKey],
    ) -> Result<u64> {
        if recipients.is_empty() || keys.is_empty() {
            return Ok(0);
        }
        queue_share(tx, outbox, vault, seq, client_label(keys), keys, recipients)?;
        Ok(1)
    }

    /// Makes a new generation of every live key from an older epoch than the registry's and
    /// seals it to the remaining devices, in one transaction. Returns how many keys
    /// were renewed.
    pub(crate) fn renew_stale_keys(&mut self) -> Result<u64> {
        let required = self.registry.required_epoch();
        let renewed = self.renew_keys(required, None)?;
        self.renewed_for = required;
        Ok(renewed)
    }

    /// The key to send a record stored under `key_id` with: the newest generation of its client
    /// and purpose, after renewing whatever a revocation this device has learned of made stale
    /// (so a save made in the middle of a sync, or after one that stopped early, never goes
    /// under a key the revoked device holds).
    pub(crate) fn send_key(&mut self, key_id: KeyId, id: RecordId) -> Result<(KeyId, SecretKey)> {
        if self.registry.required_epoch() > self.renewed_for {
            self.renew_stale_keys()?;
        }
        self.keys.send_key(&self.conn, key_id, id)
    }

    /// Makes a new generation, of epoch `required`, of every live key from an older epoch, and
    /// seals it to the registry's receivers except `leaving` (a device about to be revoked).
    pub(crate) fn renew_keys(&mut self, required: u32, leaving: Option<DeviceId>) -> Result<u64> {
        // A revoked device has no one to renew keys for: nothing it sends is accepted.
        if required == 0 || self.registry.revoked.contains_key(&self.device_id) {
            return Ok(0);
        }
        // Newest epoch per client and purpose (rows come oldest first), counting only the
        // generations no revoked device made: one it made may have any epoch it chose.
        let mut newest: BTreeMap<(RecordId, u8), (KeyPurpose, Option<u32>)> = BTreeMap::new();
        for row in db::live_keys(&self.conn)? {
            let Some(p) = row.purpose else { continue };
            let planted = !self.keys.trusted(&row) || (row.maker.is_some() && row.maker == leaving);
            let entry = newest.entry((row.client_id, p as u8)).or_insert((p, None));
            if !planted {
                entry.1 = Some(row.epoch);
            }
        }
        let mut stale: BTreeMap<RecordId, Vec<KeyPurpose>> = BTreeMap::new();
        for ((client, _), (purpose, epoch)) in newest {
            let old = epoch.is_none_or(|e| e < required);
            if old && !self.registry.erased.contains_key(&client) {
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
                keys.push(SharedKey { key_id, client, purpose, epoch: required, key, maker: None });
            }
            seq += Inner::share_new_keys(
                &tx,
                &self.outbox,
                (self.vault_id, self.device_id),
                &recipients,
                seq,
                &keys,
            )?;
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

    /// Catches up each receiver this device has not sealed to yet — one that joined, one made
    /// before epochs that just published its receiving key, or one that replaced its receiving
    /// key after an erasure: seals it every live key this device made itself (each key is sent
    /// by its maker) and, to a device it invited, every key added since the invite, whoever made
    /// it; in as few shares as fit. One transaction; returns how many devices were caught up.
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
            // A device this device invited gets everything added since the invite, whoever
            // made it (its maker may never sync again); any other only what this device made.
            let held = match db::invited_upto(&self.conn, d)? {
                0 => self.keys.own_keys_after(&self.conn, 0)?,
                upto => self.keys.live_keys_after(&self.conn, upto)?,
            };
            let held = shares::from_rows(held)?;
            let held: Vec<SharedKey> = held
                .into_iter()
                .filter(|k| !self.registry.erased.contains_key(&k.client))
                .collect();
            sends.push(((*d, *public), held));
        }
        let from = (self.vault_id, self.device_id);
        let tx = self.conn.transaction()?;
        for (to, held) in &sends {
            for keys in held.chunks(CATCH_UP_KEYS) {
                let to = std::slice::from_ref(to);
                queue_share(&tx, &self.outbox, from, seq, NO_LABEL, keys, to)?;
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

    /// Replaces this device's receiving key once it destroyed client keys (an erasure, here or
    /// elsewhere) and has pulled what the relay held: the old private half is overwritten in the
    /// file (secure_delete, log checkpointed), so no key left on any device opens a copy of the
    /// erased client's key shares from an old relay backup. The new public half goes to the
    /// registry; devices that sealed to the old one meanwhile seal again ([`Inner::catch_up`]).
    /// Returns whether the key was replaced.
    pub(crate) fn rotate_receive_key(&mut self) -> Result<bool> {
        if db::meta_get(&self.conn, Meta::ReceiveKeyStale)?.is_none()
            || self.registry.revoked.contains_key(&self.device_id)
        {
            return Ok(false);
        }
        let next = ReceiveKey::generate();
        let sealed = keyring::seal_header(
            self.keys.vault_key(),
            self.vault_id,
            Part::ReceiveKey,
            &next.private_bytes(),
        );
        let tx = self.conn.transaction()?;
        db::meta_put(&tx, Meta::ReceiveKey, &sealed)?;
        db::meta_delete(&tx, Meta::ReceiveKeyStale)?;
        tx.commit()?;
        self.receive_key = next;
        db::checkpoint_truncate(&self.conn)?;
        self.publish_receive_key()?;
        Ok(true)
    }
}
