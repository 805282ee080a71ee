//! The envelope: Mend's one format for every encrypted byte string, stored or synced.
//!
//! Layout (version 1):
//!
//! ```text
//! version: u8 = 1 | key_id: 16 bytes | nonce: 24 bytes | XChaCha20-Poly1305 ciphertext ‖ 16-byte tag
//! ```
//!
//! The associated data ([`Aad`]) binds what the bytes are — vault, record, record kind, key id,
//! sequence number and which part of the record — so a ciphertext copied to another row, record or
//! vault fails to open. The nonce is 24 random bytes, large enough that random nonces never repeat
//! in practice (XChaCha20, draft-irtf-cfrg-xchacha-03). The version byte, key id and nonce are
//! authenticated too, because they are part of the associated data that is fed to the AEAD.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::{CryptoError, SecretKey};
use crate::ids::{KeyId, RecordId, VaultId};

/// The envelope format version written by this build.
pub const ENVELOPE_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + 24;
const TAG_LEN: usize = 16;

/// Which part of a record an envelope holds; bound into the associated data so parts cannot be
/// swapped (a summary pasted over a snapshot fails to open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Part {
    /// The vault's key canary.
    Canary = 1,
    /// A data key wrapped under the vault key.
    WrappedKey = 2,
    /// A full Automerge snapshot of a record.
    Snapshot = 3,
    /// An incremental Automerge change set of a record.
    Change = 4,
    /// The small index entry of a record used to list without loading documents.
    Summary = 5,
    /// The device's signing key wrapped under the vault key.
    DeviceKey = 6,
    /// The payload of a sync bundle (an Automerge change set or snapshot of a record).
    Bundle = 7,
    /// A data key shared with the vault's other devices, under the vault sync key.
    KeyShare = 8,
    /// A device invite, under a key derived from its one-time code.
    Invite = 9,
    /// The device's X25519 receiving key wrapped under the vault key.
    ReceiveKey = 10,
    /// The sequence number of a record's newest stored part, under the vault key.
    Head = 11,
    /// How many records a client has of one kind, under the vault key.
    Tally = 12,
}

/// Associated data: what an envelope is, bound to its ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad {
    /// The vault the bytes belong to.
    pub vault: VaultId,
    /// The record (or key, for wrapped keys) the bytes belong to.
    pub record: RecordId,
    /// The record kind code.
    pub kind: u8,
    /// The sequence number of this part within the record.
    pub seq: u64,
    /// Which part of the record.
    pub part: Part,
}

impl Aad {
    /// Canonical encoding: a domain tag and fixed-width fields, so no two distinct `Aad`s encode alike.
    fn encode(&self, key_id: &KeyId, nonce: &[u8; 24]) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 1 + 16 + 16 + 1 + 16 + 8 + 1 + 24);
        out.extend_from_slice(b"mend-env");
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(self.vault.as_bytes());
        out.extend_from_slice(self.record.as_bytes());
        out.push(self.kind);
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.push(self.part as u8);
        out.extend_from_slice(nonce);
        out
    }
}

/// Encrypts `plaintext` under `key` (named `key_id`) with a fresh random nonce.
pub fn seal(key: &SecretKey, key_id: &KeyId, aad: &Aad, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    super::fill_random(&mut nonce);
    seal_with_nonce(key, key_id, aad, plaintext, nonce)
}

/// Encrypts with a caller-chosen nonce. Only for producing deterministic test vectors; a nonce must
/// never be reused with the same key.
#[doc(hidden)]
pub fn seal_with_nonce(
    key: &SecretKey,
    key_id: &KeyId,
    aad: &Aad,
    plaintext: &[u8],
    nonce: [u8; 24],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let ad = aad.encode(key_id, &nonce);
    // Encryption with an in-memory buffer cannot fail for inputs below the AEAD's 256 GiB limit.
    let ct = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: &ad })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Reads the key id an envelope claims, without opening it.
pub fn key_id_of(envelope: &[u8]) -> Result<KeyId, CryptoError> {
    if envelope.len() < HEADER_LEN + TAG_LEN || envelope[0] != ENVELOPE_VERSION {
        return Err(CryptoError::Malformed);
    }
    KeyId::from_slice(&envelope[1..17]).ok_or(CryptoError::Malformed)
}

/// Opens an envelope. Fails with [`CryptoError::Open`] on a wrong key, wrong associated data or
/// any tampering, and [`CryptoError::Malformed`] if the bytes are not an envelope of a known version
/// or name another key than `key_id`.
pub fn open(
    key: &SecretKey,
    key_id: &KeyId,
    aad: &Aad,
    envelope: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if key_id_of(envelope)? != *key_id {
        return Err(CryptoError::Malformed);
    }
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&envelope[17..HEADER_LEN]);
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let ad = aad.encode(key_id, &nonce);
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: &envelope[HEADER_LEN..], aad: &ad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad() -> Aad {
        Aad {
            vault: VaultId::from_bytes([1; 16]),
            record: RecordId::from_bytes([2; 16]),
            kind: 3,
            seq: 7,
            part: Part::Change,
        }
    }

    #[test]
    fn round_trip_and_fresh_nonces() {
        let k = SecretKey::random();
        let kid = KeyId::random();
        let a = seal(&k, &kid, &aad(), b"subjective: slept badly");
        let b = seal(&k, &kid, &aad(), b"subjective: slept badly");
        assert_ne!(a, b, "nonces must be random");
        assert_eq!(&open(&k, &kid, &aad(), &a).expect("opens")[..], b"subjective: slept badly");
    }

    #[test]
    fn every_binding_is_checked() {
        let k = SecretKey::random();
        let kid = KeyId::random();
        let env = seal(&k, &kid, &aad(), b"x");
        let mut variants = vec![];
        let mut a = aad();
        a.vault = VaultId::random();
        variants.push(a);
        let mut a = aad();
        a.record = RecordId::random();
        variants.push(a);
        let mut a = aad();
        a.kind = 4;
        variants.push(a);
        let mut a = aad();
        a.seq = 8;
        variants.push(a);
        let mut a = aad();
        a.part = Part::Snapshot;
        variants.push(a);
        for v in variants {
            assert_eq!(open(&k, &kid, &v, &env), Err(CryptoError::Open), "{v:?}");
        }
        assert_eq!(open(&SecretKey::random(), &kid, &aad(), &env), Err(CryptoError::Open));
        assert_eq!(open(&k, &KeyId::random(), &aad(), &env), Err(CryptoError::Malformed));
        for i in 0..env.len() {
            let mut t = env.clone();
            t[i] ^= 0x01;
            assert!(open(&k, &kid, &aad(), &t).is_err(), "flip at byte {i} went unnoticed");
        }
        assert_eq!(open(&k, &kid, &aad(), &env[..20]), Err(CryptoError::Malformed));
    }
}
