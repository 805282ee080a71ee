//! The sync bundle: Mend's wire format between a device and the relay.
//!
//! Layout (version 1), every integer big-endian:
//!
//! ```text
//! "MB" | version u8 = 1 | flags u8 | vault 16 | doc 16 | device 16 | seq u64 | key_id 16
//!      | payload_len u32 | payload (an envelope) | Ed25519 signature 64
//! ```
//!
//! The header is plaintext so the relay can store, page and drop bundles: it holds only random
//! ids, a per-device sequence number, a key id and the size. The payload is an envelope under the
//! record's data key (or, for key shares, the vault sync key); the record kind and client are
//! inside it (and, for a bundle coalescing several saves, the first sequence number it covers;
//! `seq` is the last). The signature covers everything before it under a domain tag, so a relay
//! cannot move a bundle to another document, vault, device or sequence number, or alter any byte.
//! Decoding never panics and bounds every length.

use crate::crypto::signing::{self, DeviceKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};

const MAGIC: &[u8; 2] = b"MB";
/// The bundle format version written by this build.
pub const BUNDLE_VERSION: u8 = 1;
const HEADER_LEN: usize = 2 + 1 + 1 + 16 + 16 + 16 + 8 + 16 + 4;
const SIG_LEN: usize = 64;
/// Largest payload accepted (a compacted snapshot of a very long note fits comfortably).
pub const MAX_PAYLOAD: usize = 16 << 20;
const SIGNING_DOMAIN: &[u8] = b"mend-bundle-v1";

/// What a bundle carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BundleKind {
    /// Incremental Automerge changes of one record.
    Change = 0,
    /// A full snapshot of one record, letting the relay drop the bundles it covers.
    Snapshot = 1,
    /// A data key shared with the vault's devices (doc = the key's id).
    KeyShare = 2,
}

/// A decoded bundle (signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// What it carries.
    pub kind: BundleKind,
    /// The vault.
    pub vault: VaultId,
    /// The record (or, for a key share, the key id as a record id).
    pub doc: RecordId,
    /// The signing device.
    pub device: DeviceId,
    /// Per-device sequence number.
    pub seq: u64,
    /// The key the payload is encrypted under (for key shares: the shared key's id).
    pub key_id: KeyId,
    /// The encrypted payload.
    pub payload: Vec<u8>,
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

/// Why bytes are not a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than its header or its declared payload.
    #[error("truncated bundle")]
    Truncated,
    /// Not a bundle, or a version this build does not know.
    #[error("not a bundle of a known version")]
    BadHeader,
    /// Declared payload is larger than allowed.
    #[error("bundle payload too large")]
    TooLarge,
    /// Bytes after the signature.
    #[error("trailing bytes after bundle")]
    Trailing,
}

impl Bundle {
    fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(MAGIC);
        out.push(BUNDLE_VERSION);
        out.push(self.kind as u8);
        out.extend_from_slice(self.vault.as_bytes());
        out.extend_from_slice(self.doc.as_bytes());
        out.extend_from_slice(self.device.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// The bytes the signature covers.
    pub(crate) fn signing_input(&self) -> Vec<u8> {
        let mut m = SIGNING_DOMAIN.to_vec();
        m.extend_from_slice(&self.header_bytes());
        m
    }

    /// Builds and signs a bundle.
    #[allow(clippy::too_many_arguments)]
    pub fn signed(
        kind: BundleKind,
        vault: VaultId,
        doc: RecordId,
        device: DeviceId,
        seq: u64,
        key_id: KeyId,
        payload: Vec<u8>,
        key: &DeviceKey,
    ) -> Bundle {
        let mut b = Bundle { kind, vault, doc, device, seq, key_id, payload, signature: [0; 64] };
        b.signature = key.sign(&b.signing_input());
        b
    }

    /// Checks the signature against the device's public key.
    pub fn verify(&self, public: &[u8; 32]) -> Result<()> {
        signing::verify(public, &self.signing_input(), &self.signature)
            .map_err(|_| Error::BadSignature(self.doc))
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses wire bytes. Never panics; every length is checked.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Bundle, DecodeError> {
        if bytes.len() < HEADER_LEN + SIG_LEN {
            return Err(DecodeError::Truncated);
        }
        if &bytes[0..2] != MAGIC || bytes[2] != BUNDLE_VERSION {
            return Err(DecodeError::BadHeader);
        }
        let kind = match bytes[3] {
            0 => BundleKind::Change,
            1 => BundleKind::Snapshot,
            2 => BundleKind::KeyShare,
            _ => return Err(DecodeError::BadHeader),
        };
        let id16 = |at: usize| -> [u8; 16] {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes[at..at + 16]);
            a
        };
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[52..60]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[76..80]);
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_PAYLOAD {
            return Err(DecodeError::TooLarge);
        }
        let end = HEADER_LEN + len;
        if bytes.len() < end + SIG_LEN {
            return Err(DecodeError::Truncated);
        }
        if bytes.len() > end + SIG_LEN {
            return Err(DecodeError::Trailing);
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[end..end + SIG_LEN]);
        Ok(Bundle {
            kind,
            vault: VaultId::from_bytes(id16(4)),
            doc: RecordId::from_bytes(id16(20)),
            device: DeviceId::from_bytes(id16(36)),
            seq: u64::from_be_bytes(seq),
            key_id: KeyId::from_bytes(id16(60)),
            payload: bytes[HEADER_LEN..end].to_vec(),
            signature,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(key: &DeviceKey) -> Bundle {
        Bundle::signed(
            BundleKind::Change,
            VaultId::random(),
            RecordId::random(),
            DeviceId::random(),
            42,
            KeyId::random(),
            vec![9; 100],
            key,
        )
    }

    #[test]
    fn round_trip_and_signature() {
        let key = DeviceKey::generate();
        let b = sample(&key);
        let d = Bundle::decode(&b.encode()).unwrap();
        assert_eq!(d, b);
        d.verify(&key.public()).unwrap();
        assert!(d.verify(&DeviceKey::generate().public()).is_err());
        let mut moved = d.clone();
        moved.doc = RecordId::random();
        assert!(moved.verify(&key.public()).is_err());
        let mut reseq = d;
        reseq.seq += 1;
        assert!(reseq.verify(&key.public()).is_err());
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let key = DeviceKey::generate();
        let bytes = sample(&key).encode();
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x10;
            if let Ok(b) = Bundle::decode(&t) {
                assert!(b.verify(&key.public()).is_err(), "flip at {i} verified");
            }
        }
        assert_eq!(Bundle::decode(&bytes[..bytes.len() - 1]), Err(DecodeError::Truncated));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Bundle::decode(&long), Err(DecodeError::Trailing));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Bundle::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_bundles_never_panics(pos in 0usize..300, val in any::<u8>(), cut in 0usize..300) {
            let key = DeviceKey::generate();
            let mut bytes = sample(&key).encode();
            let p = pos % bytes.len();
            bytes[p] = val;
            bytes.truncate(cut.max(1).min(bytes.len()));
            let _ = Bundle::decode(&bytes);
        }
    }
}
