//! Entry points for the coverage-guided fuzz targets in `fuzz/` (feature `fuzzing`, off by
//! default; not an API). They reach the crate-internal decoders that meet outside bytes — a
//! bundle's decrypted payload, key shares, invites — and the bytes a vault saves, for seeds. Each
//! wrapper calls the real decoder; none has logic of its own beyond what a seed needs.

use zeroize::Zeroizing;

use crate::crypto::seal::ReceiveKey;
use crate::crypto::{Aad, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::records::{am, conflict, summary, Kind};
use crate::shares::{self, Opened, SharedKey, Slot};
use crate::vault::Vault;

/// A decrypted record payload of bundle `seq` (`sync::apply`): kind, client, first sequence
/// number covered and the Automerge bytes, or `None` if malformed.
pub fn parse_doc_plain(plain: &[u8], seq: u64) -> Option<(Kind, RecordId, u64, &[u8])> {
    crate::outbox::parse_doc_plain(plain, seq).map(|p| (p.kind, p.client, p.first, p.bytes))
}

/// A decrypted version 1 key share: client, purpose, and whether it parsed.
pub fn parse_key_share_v1(plain: &[u8]) -> Option<(RecordId, KeyPurpose)> {
    crate::outbox::parse_key_share(plain).map(|(c, p, _)| (c, p))
}

/// The decrypted keys of a version 2 share: `(key id, client, purpose, epoch)` each.
pub fn parse_share_keys(plain: &[u8]) -> Option<Vec<(KeyId, RecordId, KeyPurpose, u32)>> {
    shares::parse_keys(plain)
        .map(|keys| keys.iter().map(|k| (k.key_id, k.client, k.purpose, k.epoch)).collect())
}

/// What [`open_share`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareOutcome {
    /// Not sealed to this device.
    NotForUs,
    /// Sealed to a receiving key this device replaced.
    Stale,
    /// The keys' ids.
    Keys(Vec<KeyId>),
    /// Not a well-formed share.
    Malformed,
    /// Sealed to this device but does not open.
    Undecryptable,
}

/// Opens the box sealed to `me` in a version 2 share payload, as a pulled key share bundle is.
pub fn open_share(
    slot: (VaultId, RecordId, DeviceId, u64),
    me: DeviceId,
    receive: &ReceiveKey,
    payload: &[u8],
) -> ShareOutcome {
    let at = Slot { vault: slot.0, doc: slot.1, sender: slot.2, seq: slot.3 };
    match shares::open_share(at, me, receive, payload) {
        Ok(Opened::NotForUs) => ShareOutcome::NotForUs,
        Ok(Opened::Stale) => ShareOutcome::Stale,
        Ok(Opened::Keys(k)) => ShareOutcome::Keys(k.iter().map(|k| k.key_id).collect()),
        Err(shares::ShareError::Malformed) => ShareOutcome::Malformed,
        Err(shares::ShareError::Undecryptable) => ShareOutcome::Undecryptable,
    }
}

/// Seals `keys` (`(key id, client, purpose, epoch, key)`) to `recipients` as a share payload,
/// for seeds.
pub fn seal_share(
    slot: (VaultId, RecordId, DeviceId, u64),
    recipients: &[(DeviceId, [u8; 32])],
    keys: &[(KeyId, RecordId, KeyPurpose, u32, [u8; 32])],
) -> Result<Vec<u8>> {
    let at = Slot { vault: slot.0, doc: slot.1, sender: slot.2, seq: slot.3 };
    let keys: Vec<SharedKey> = keys
        .iter()
        .map(|(key_id, client, purpose, epoch, key)| SharedKey {
            key_id: *key_id,
            client: *client,
            purpose: *purpose,
            epoch: *epoch,
            key: SecretKey::from_bytes(*key),
            maker: None,
        })
        .collect();
    shares::seal_share(at, recipients, &keys)
}

/// The plaintext form of a share's keys, as [`parse_share_keys`] reads it, for seeds.
pub fn share_keys_plain(keys: &[(KeyId, RecordId, KeyPurpose, u32, [u8; 32])]) -> Vec<u8> {
    let mut p = (keys.len() as u16).to_be_bytes().to_vec();
    for (key_id, client, purpose, epoch, key) in keys {
        p.extend_from_slice(key_id.as_bytes());
        p.extend_from_slice(client.as_bytes());
        p.push(*purpose as u8);
        p.extend_from_slice(&epoch.to_be_bytes());
        p.extend_from_slice(key);
    }
    p
}

/// Opens an invite with `code` (`Vault::join`'s first step): its id and plaintext.
pub fn open_invite(invite: &[u8], code: &str) -> Result<([u8; 16], Zeroizing<Vec<u8>>)> {
    crate::sync::invite::open_invite(invite, code)
}

/// Decodes and checks an opened invite's contents at time `now` (`Vault::join`'s second step,
/// the registry it carries loaded and read): the vault id and how many keys it carries.
pub fn read_invite_contents(plain: &[u8], now: i64) -> Result<(VaultId, usize)> {
    crate::sync::invite::read_contents(plain, now).map(|i| (i.vault_id, i.keys.len()))
}

/// The associated data of invite `id`'s envelope (`sync::invite`), for seeds.
pub fn invite_aad(id: [u8; 16]) -> Aad {
    Aad {
        vault: VaultId::from_bytes([0; 16]),
        record: RecordId::from_bytes(id),
        kind: 0,
        seq: 0,
        part: Part::Invite,
    }
}

/// What a device does with a decrypted record payload of a record it does not hold yet
/// (`sync::apply` → `Inner::insert_remote`): parse it, load its changes into a new document, and
/// compute the record's summary and conflicts. `None` where the device refuses it.
pub fn apply_doc_plain(plain: &[u8], seq: u64, id: RecordId) -> Option<Vec<u8>> {
    let (kind, _, _, bytes) = parse_doc_plain(plain, seq)?;
    let mut doc = am::new_doc();
    if !am::load_incremental_safely(&mut doc, bytes) {
        return None;
    }
    let _ = conflict::of(kind, &doc, id);
    summary::encoded(kind, &doc, id).ok()
}

/// The saved Automerge bytes of a record of `vault` and its kind, as its stored snapshot holds
/// them after compaction (seeds for the stored-document targets).
pub fn record_bytes(vault: &Vault, id: RecordId) -> Result<(Kind, Vec<u8>)> {
    let mut g = vault.lock();
    let c = g.cached_any(id)?;
    let kind = Kind::from_code(c.header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
    Ok((kind, c.doc.save()))
}

/// The id of `vault`'s registry document (for [`record_bytes`]).
pub fn registry_id(vault: &Vault) -> RecordId {
    vault.lock().registry_id
}
