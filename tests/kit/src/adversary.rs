//! The attacker's tools: everything a lost or revoked device holds, taken straight from its vault
//! file with its vault key (as a thief who also learned the passcode would), and a try at opening
//! relay bytes with it. Written from Mend's documented formats only, not through the vault API, so
//! a test that uses them shows what the bytes give away, not what the API chooses to return.

use std::path::Path;

use mend_core::crypto::seal::ReceiveKey;
use mend_core::crypto::{envelope, Aad, Part, SecretKey};
use mend_core::ids::{DeviceId, KeyId, RecordId, VaultId};
use mend_core::sync::bundle::{Bundle, BundleKind};

/// Every key a device holds.
pub struct KeyMaterial {
    /// The vault.
    pub vault: VaultId,
    /// The device.
    pub device: DeviceId,
    /// Every key row that still unwraps (any purpose, any generation).
    pub keys: Vec<(KeyId, SecretKey)>,
    /// The device's X25519 receiving key.
    pub receive: ReceiveKey,
}

fn meta(conn: &rusqlite::Connection, name: &str) -> Vec<u8> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
        .expect("a vault file's header value")
}

/// Reads every key out of the vault file at `path`, unwrapping them with `vault_key`.
pub fn key_material(path: &Path, vault_key: [u8; 32]) -> KeyMaterial {
    let conn = rusqlite::Connection::open(path).expect("open the vault file");
    let vk = SecretKey::from_bytes(vault_key);
    let vault = VaultId::from_slice(&meta(&conn, "vault_id")).expect("vault id");
    let device = DeviceId::from_slice(&meta(&conn, "device_id")).expect("device id");
    let zero = KeyId::from_bytes([0; 16]);
    let header = Aad {
        vault,
        record: RecordId::from_bytes([0; 16]),
        kind: 0,
        seq: 0,
        part: Part::ReceiveKey,
    };
    let private = envelope::open(&vk, &zero, &header, &meta(&conn, "receive_key"))
        .expect("the receiving key opens under the vault key");
    let receive = ReceiveKey::from_private(&private).expect("receiving key");
    let mut st = conn
        .prepare("SELECT key_id, wrapped FROM keys WHERE wrapped IS NOT NULL")
        .expect("the keys table");
    let rows: Vec<(Vec<u8>, Vec<u8>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("the keys table")
        .collect::<Result<_, _>>()
        .expect("key rows");
    let keys = rows
        .into_iter()
        .map(|(id, wrapped)| {
            let key_id = KeyId::from_slice(&id).expect("key id");
            let aad = Aad {
                vault,
                record: RecordId::from_bytes(*key_id.as_bytes()),
                kind: 0,
                seq: 0,
                part: Part::WrappedKey,
            };
            let bytes = envelope::open(&vk, &zero, &aad, &wrapped).expect("a key row unwraps");
            (key_id, SecretKey::from_slice(&bytes).expect("32 bytes"))
        })
        .collect();
    KeyMaterial { vault, device, keys, receive }
}

fn bundle_aad(vault: VaultId, doc: RecordId, seq: u64, part: Part) -> Aad {
    Aad { vault, record: doc, kind: 0, seq, part }
}

/// Whether anything in `m` opens the payload of the relay's bundle `bytes`: a record's changes
/// or snapshot under any key it holds, an old-style key share under any key, or any box of a key
/// share sealed to any device with its receiving key.
pub fn opens(m: &KeyMaterial, bytes: &[u8]) -> bool {
    let Ok(b) = Bundle::decode(bytes) else { return false };
    match b.kind {
        BundleKind::Change | BundleKind::Snapshot => m.keys.iter().any(|(id, k)| {
            envelope::open(k, id, &bundle_aad(m.vault, b.doc, b.seq, Part::Bundle), &b.payload)
                .is_ok()
        }),
        BundleKind::KeyShare => {
            let old = m.keys.iter().any(|(id, k)| {
                envelope::open(
                    k,
                    id,
                    &bundle_aad(m.vault, b.doc, b.seq, Part::KeyShare),
                    &b.payload,
                )
                .is_ok()
            });
            old || share_boxes(&b.payload).iter().any(|(slot, sealed)| {
                // Try the box as if it were addressed to the thief's device, and as addressed.
                [*slot, m.device].iter().any(|to| {
                    let mut info = b"mend key share v2".to_vec();
                    info.extend_from_slice(m.vault.as_bytes());
                    let mut aad = b"mend-share".to_vec();
                    aad.extend_from_slice(m.vault.as_bytes());
                    aad.extend_from_slice(b.doc.as_bytes());
                    aad.extend_from_slice(&b.seq.to_be_bytes());
                    aad.extend_from_slice(to.as_bytes());
                    m.receive.open(&info, &aad, sealed).is_ok()
                })
            })
        }
    }
}

/// The boxes of a version 2 key share: `(recipient, sealed)`.
pub fn share_boxes(payload: &[u8]) -> Vec<(DeviceId, Vec<u8>)> {
    let mut out = Vec::new();
    if !payload.starts_with(b"MKS2") || payload.len() < 6 {
        return out;
    }
    let mut rest = &payload[6..];
    while rest.len() >= 20 {
        let Some(device) = DeviceId::from_slice(&rest[..16]) else { break };
        let len = u32::from_be_bytes([rest[16], rest[17], rest[18], rest[19]]) as usize;
        let Some(sealed) = rest.get(20..20 + len) else { break };
        out.push((device, sealed.to_vec()));
        rest = &rest[20 + len..];
    }
    out
}
