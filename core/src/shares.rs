//! Key shares: how a device hands keys to the vault's other devices, each sealed to the
//! recipient's own X25519 receiving key with HPKE (RFC 9180, [`crate::crypto::seal`]).
//!
//! A share carries one client's keys of one generation (or the sync key generations, or, for a
//! device that just joined, everything the sender holds, one share per client), sealed once per
//! recipient: the devices listed in the registry, not revoked, with a receiving key. No key that
//! outlives a revocation opens a share: a revoked device keeps the receiving key it had, but
//! nothing is sealed to it after the revocation, and the shares before it only carried what it
//! already held. Payload layout (version 2), every integer big-endian:
//!
//! ```text
//! "MKS2" | recipients u16 | recipients × (device 16 | key hint 8 | sealed_len u32 | sealed)
//! sealed = HPKE enc 32 ‖ ChaCha20-Poly1305 ciphertext of:
//!          keys u16 | keys × (key id 16 | client 16 | purpose u8 | epoch u32 | key 32)
//! ```
//!
//! The key hint (the first 8 bytes of SHA-256 over a domain tag and the recipient's public key)
//! tells a device whether a box was sealed to its current receiving key or to one it has since
//! replaced (see `vault::epochs`: the sender seals the keys again once it learns the new one).
//! The HPKE `info` names the format and the vault; the associated data binds the bundle's record
//! id, sender and sequence number and the recipient, so a box moved to another bundle or slot does not
//! open. The bundle itself is signed by the sender. Version 1 shares (one key under the
//! vault-wide sync key, written before epochs) are still read ([`crate::outbox::parse_key_share`]).

use zeroize::Zeroizing;

use crate::crypto::seal::{self, ReceiveKey};
use crate::crypto::{KeyPurpose, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::keyring::VAULT_OWNER;

const MAGIC: &[u8; 4] = b"MKS2";
const INFO: &[u8] = b"mend key share v2";
const KEY_LEN: usize = 16 + 16 + 1 + 4 + 32;
const ENTRY_HEAD: usize = 16 + 8 + 4;
/// Most recipients of one share (far above a practice's devices; bounds decoding).
const MAX_RECIPIENTS: usize = 1024;

/// One key in a share.
pub(crate) struct SharedKey {
    pub(crate) key_id: KeyId,
    pub(crate) client: RecordId,
    pub(crate) purpose: KeyPurpose,
    pub(crate) epoch: u32,
    pub(crate) key: SecretKey,
    /// Who made it: not in a share (its signer is), but in an invite, as the inviter knows.
    pub(crate) maker: Option<DeviceId>,
}

/// Whether a payload is a version 2 share (anything else is read as version 1).
pub(crate) fn is_v2(payload: &[u8]) -> bool {
    payload.starts_with(MAGIC)
}

fn info(vault: VaultId) -> Vec<u8> {
    let mut i = INFO.to_vec();
    i.extend_from_slice(vault.as_bytes());
    i
}

/// Which receiving key a box was sealed to, without naming the key.
pub(crate) fn key_hint(public: &[u8; 32]) -> [u8; 8] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"mend-receive-hint");
    h.update(public);
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Where a box belongs: the bundle (vault, record id, sender, sequence number) and its recipient.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) vault: VaultId,
    pub(crate) doc: RecordId,
    pub(crate) sender: DeviceId,
    pub(crate) seq: u64,
}

fn aad(at: Slot, recipient: DeviceId) -> Vec<u8> {
    let mut a = b"mend-share".to_vec();
    a.extend_from_slice(at.vault.as_bytes());
    a.extend_from_slice(at.doc.as_bytes());
    a.extend_from_slice(at.sender.as_bytes());
    a.extend_from_slice(&at.seq.to_be_bytes());
    a.extend_from_slice(recipient.as_bytes());
    a
}

/// Seals `keys` to every recipient, as the payload of share bundle `doc`, number `seq`.
pub(crate) fn seal_share(
    at: Slot,
    recipients: &[(DeviceId, [u8; 32])],
    keys: &[SharedKey],
) -> Result<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(2 + keys.len() * KEY_LEN));
    plain.extend_from_slice(&(keys.len().min(u16::MAX as usize) as u16).to_be_bytes());
    for k in keys.iter().take(u16::MAX as usize) {
        plain.extend_from_slice(k.key_id.as_bytes());
        plain.extend_from_slice(k.client.as_bytes());
        plain.push(k.purpose as u8);
        plain.extend_from_slice(&k.epoch.to_be_bytes());
        plain.extend_from_slice(k.key.expose());
    }
    let info = info(at.vault);
    let mut boxes = Vec::new();
    for (device, public) in recipients.iter().take(MAX_RECIPIENTS) {
        // A malformed public key in the registry cannot receive: skip it rather than fail the
        // sender's save.
        if let Ok(sealed) = seal::seal(public, &info, &aad(at, *device), &plain) {
            boxes.push((*device, key_hint(public), sealed));
        }
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(boxes.len() as u16).to_be_bytes());
    for (device, hint, sealed) in boxes {
        out.extend_from_slice(device.as_bytes());
        out.extend_from_slice(&hint);
        out.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        out.extend_from_slice(&sealed);
    }
    Ok(out)
}

/// What a share holds for this device.
pub(crate) enum Opened {
    /// The share was not sealed to this device.
    NotForUs,
    /// Sealed to a receiving key this device has replaced: its sender seals the keys again.
    Stale,
    /// The keys it carries.
    Keys(Vec<SharedKey>),
}

/// Why a share does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShareError {
    /// Not a well-formed version 2 share, or a key entry that makes no sense.
    Malformed,
    /// Sealed to this device, but not to its current receiving key (or tampered with).
    Undecryptable,
}

/// Opens the box sealed to `me` in a share payload.
pub(crate) fn open_share(
    at: Slot,
    me: DeviceId,
    receive: &ReceiveKey,
    payload: &[u8],
) -> std::result::Result<Opened, ShareError> {
    if !is_v2(payload) || payload.len() < 6 {
        return Err(ShareError::Malformed);
    }
    let n = u16::from_be_bytes([payload[4], payload[5]]) as usize;
    let mut rest = &payload[6..];
    let (mut mine, mut addressed) = (None, false);
    let hint = key_hint(&receive.public());
    for _ in 0..n {
        if rest.len() < ENTRY_HEAD {
            return Err(ShareError::Malformed);
        }
        let device = DeviceId::from_slice(&rest[..16]).ok_or(ShareError::Malformed)?;
        let len = u32::from_be_bytes([rest[24], rest[25], rest[26], rest[27]]) as usize;
        let end = ENTRY_HEAD.checked_add(len).ok_or(ShareError::Malformed)?;
        let sealed = rest.get(ENTRY_HEAD..end).ok_or(ShareError::Malformed)?;
        if device == me {
            addressed = true;
            if rest[16..24] == hint && mine.is_none() {
                mine = Some(sealed);
            }
        }
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        return Err(ShareError::Malformed);
    }
    let Some(sealed) = mine else {
        return Ok(if addressed { Opened::Stale } else { Opened::NotForUs });
    };
    let plain = receive
        .open(&info(at.vault), &aad(at, me), sealed)
        .map_err(|_| ShareError::Undecryptable)?;
    parse_keys(&plain).map(Opened::Keys).ok_or(ShareError::Malformed)
}

pub(crate) fn parse_keys(plain: &[u8]) -> Option<Vec<SharedKey>> {
    let n = u16::from_be_bytes(plain.get(..2)?.try_into().ok()?) as usize;
    let body = &plain[2..];
    if body.len() != n.checked_mul(KEY_LEN)? {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for e in body.chunks_exact(KEY_LEN) {
        let key_id = KeyId::from_slice(&e[..16])?;
        let client = RecordId::from_slice(&e[16..32])?;
        let purpose = KeyPurpose::from_code(e[32])?;
        // The sync key belongs to the vault, client keys to a client: never the other way.
        if (purpose == KeyPurpose::Sync) != (client == VAULT_OWNER) {
            return None;
        }
        let epoch = u32::from_be_bytes(e[33..37].try_into().ok()?);
        let key = SecretKey::from_slice(&e[37..69])?;
        out.push(SharedKey { key_id, client, purpose, epoch, key, maker: None });
    }
    Some(out)
}

/// The keys of a share from what the keyring lists: `(row, key)` pairs.
pub(crate) fn from_rows(
    rows: Vec<(crate::store::db::KeyRow, SecretKey)>,
) -> Result<Vec<SharedKey>> {
    rows.into_iter()
        .map(|(row, key)| {
            let purpose = row.purpose.ok_or_else(|| Error::Internal("key purpose".into()))?;
            Ok(SharedKey {
                key_id: row.key_id,
                client: row.client_id,
                purpose,
                epoch: row.epoch,
                key,
                maker: row.maker,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn key(client: RecordId, purpose: KeyPurpose) -> SharedKey {
        SharedKey {
            key_id: KeyId::random(),
            client,
            purpose,
            epoch: 3,
            key: SecretKey::random(),
            maker: None,
        }
    }

    #[test]
    fn each_recipient_opens_its_own_box_and_nobody_else_does() {
        let vault = VaultId::random();
        let (doc, client) = (RecordId::random(), RecordId::random());
        let at = Slot { vault, doc, sender: DeviceId::random(), seq: 7 };
        let moved = Slot { seq: 8, ..at };
        let (a, b, c) = (DeviceId::random(), DeviceId::random(), DeviceId::random());
        let (ka, kb, kc) = (ReceiveKey::generate(), ReceiveKey::generate(), ReceiveKey::generate());
        let keys = vec![key(client, KeyPurpose::Record), key(client, KeyPurpose::Process)];
        let payload = seal_share(at, &[(a, ka.public()), (b, kb.public())], &keys).unwrap();
        for (d, k) in [(a, &ka), (b, &kb)] {
            let Ok(Opened::Keys(got)) = open_share(at, d, k, &payload) else {
                panic!("recipient cannot open")
            };
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].key.expose(), keys[1].key.expose());
            assert_eq!(got[0].epoch, 3);
        }
        assert!(matches!(open_share(at, c, &kc, &payload), Ok(Opened::NotForUs)));
        // B's box, tried with another receiving key, is for a key that device does not hold;
        // moved to another bundle, A's box does not open.
        assert!(matches!(open_share(at, b, &ka, &payload), Ok(Opened::Stale)));
        assert_eq!(open_share(moved, a, &ka, &payload).err(), Some(ShareError::Undecryptable));
        assert_eq!(
            open_share(at, a, &ka, &payload[..payload.len() - 1]).err(),
            Some(ShareError::Malformed)
        );
    }
}
