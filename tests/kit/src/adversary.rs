//! The attacker's tools: everything a lost or revoked device holds, taken straight from its vault
//! file with its vault key (as a thief who also learned the passcode would), and a try at opening
//! relay bytes with it. Written from Mend's documented formats only, not through the vault API, so
//! a test that uses them shows what the bytes give away, not what the API chooses to return.

use std::path::Path;

use mend_core::crypto::seal::ReceiveKey;
use mend_core::crypto::signing::DeviceKey;
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
    /// The device's Ed25519 signing key (what it signs bundles with).
    pub signing: DeviceKey,
    /// The vault's registry record (its bundles carry the device list and revocations).
    pub registry: RecordId,
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
    let header = Aad { part: Part::DeviceKey, ..header };
    let seed = envelope::open(&vk, &zero, &header, &meta(&conn, "device_key"))
        .expect("the signing key opens under the vault key");
    let signing = DeviceKey::from_seed(&seed).expect("signing key");
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
    let registry = RecordId::from_slice(&meta(&conn, "registry_id")).expect("registry id");
    KeyMaterial { vault, device, keys, receive, signing, registry }
}

fn bundle_aad(vault: VaultId, doc: RecordId, seq: u64, part: Part) -> Aad {
    Aad { vault, record: doc, kind: 0, seq, part }
}

/// Whether anything in `m` opens the payload of the relay's bundle `bytes`: a record's changes
/// or snapshot under any key it holds, an old-style key share under any key, or any box of a key
/// share sealed to any device with its receiving key.
pub fn opens(m: &KeyMaterial, bytes: &[u8]) -> bool {
    !revealed_clients(m, bytes).is_empty()
}

/// The clients whose content or keys `m` recovers from the relay's bundle `bytes` (empty: it
/// opens nothing; the vault's own id for the registry or sync keys). A record's payload names
/// its client after the kind byte; a key share's plaintext lists
/// `key id 16 | client 16 | purpose 1 | epoch 4 | key 32` per key.
pub fn revealed_clients(m: &KeyMaterial, bytes: &[u8]) -> Vec<RecordId> {
    let Ok(b) = Bundle::decode(bytes) else { return Vec::new() };
    let under_keys = |part: Part, at: std::ops::Range<usize>| -> Vec<RecordId> {
        m.keys
            .iter()
            .filter_map(|(id, k)| {
                let plain =
                    envelope::open(k, id, &bundle_aad(m.vault, b.doc, b.seq, part), &b.payload)
                        .ok()?;
                RecordId::from_slice(plain.get(at.clone())?)
            })
            .collect()
    };
    match b.kind {
        BundleKind::Change | BundleKind::Snapshot => under_keys(Part::Bundle, 1..17),
        BundleKind::KeyShare => {
            let mut out = under_keys(Part::KeyShare, 0..16);
            for (slot, sealed) in share_boxes(&b.payload) {
                // Try the box as addressed, and as if it were addressed to the thief's device.
                for to in [slot, m.device] {
                    let mut info = b"mend key share v2".to_vec();
                    info.extend_from_slice(m.vault.as_bytes());
                    let mut aad = b"mend-share".to_vec();
                    aad.extend_from_slice(m.vault.as_bytes());
                    aad.extend_from_slice(b.doc.as_bytes());
                    aad.extend_from_slice(b.device.as_bytes());
                    aad.extend_from_slice(&b.seq.to_be_bytes());
                    aad.extend_from_slice(to.as_bytes());
                    if let Ok(plain) = m.receive.open(&info, &aad, &sealed) {
                        let keys = plain.get(2..).unwrap_or_default();
                        out.extend(
                            keys.chunks_exact(69).filter_map(|e| RecordId::from_slice(&e[16..32])),
                        );
                        if keys.is_empty() {
                            out.push(RecordId::from_bytes([0; 16]));
                        }
                    }
                }
            }
            out
        }
    }
}

/// The bundles of `after` that `m` opens, other than registry changes: what a revoked device
/// reads of what was written after its revocation (it may read the registry change that records
/// its own revocation; see [`opened_registry_changes`]).
pub fn opened_content<'a>(m: &KeyMaterial, after: &'a [Vec<u8>]) -> Vec<&'a Vec<u8>> {
    after
        .iter()
        .filter(|b| opens(m, b) && Bundle::decode(b).is_ok_and(|d| d.doc != m.registry))
        .collect()
}

/// How many registry changes among `after` `m` opens.
pub fn opened_registry_changes(m: &KeyMaterial, after: &[Vec<u8>]) -> usize {
    after
        .iter()
        .filter(|b| opens(m, b) && Bundle::decode(b).is_ok_and(|d| d.doc == m.registry))
        .count()
}

/// The boxes of a version 2 key share: `(recipient, sealed)`.
pub fn share_boxes(payload: &[u8]) -> Vec<(DeviceId, Vec<u8>)> {
    let mut out = Vec::new();
    if !payload.starts_with(b"MKS2") || payload.len() < 6 {
        return out;
    }
    // Each box: recipient 16 | key hint 8 | length 4 | sealed (the hint is ignored: the thief
    // tries every box).
    let mut rest = &payload[6..];
    while rest.len() >= 28 {
        let Some(device) = DeviceId::from_slice(&rest[..16]) else { break };
        let len = u32::from_be_bytes([rest[24], rest[25], rest[26], rest[27]]) as usize;
        let Some(sealed) = rest.get(28..28 + len) else { break };
        out.push((device, sealed.to_vec()));
        rest = &rest[28 + len..];
    }
    out
}

/// A key share as a listed device could make one with any keys it likes (`(key id, client,
/// purpose code, epoch, key)`), sealed to `recipients` (device, receiving key) and signed by
/// `m`'s device as its bundle `seq`: the wire bytes.
pub fn forged_share(
    m: &KeyMaterial,
    seq: u64,
    keys: &[(KeyId, RecordId, u8, u32, [u8; 32])],
    recipients: &[(DeviceId, [u8; 32])],
) -> Vec<u8> {
    use sha2::Digest as _;
    let doc = RecordId::random();
    let mut plain = (keys.len() as u16).to_be_bytes().to_vec();
    for (id, client, purpose, epoch, key) in keys {
        plain.extend_from_slice(id.as_bytes());
        plain.extend_from_slice(client.as_bytes());
        plain.push(*purpose);
        plain.extend_from_slice(&epoch.to_be_bytes());
        plain.extend_from_slice(key);
    }
    let mut payload = b"MKS2".to_vec();
    payload.extend_from_slice(&(recipients.len() as u16).to_be_bytes());
    for (to, public) in recipients {
        let mut info = b"mend key share v2".to_vec();
        info.extend_from_slice(m.vault.as_bytes());
        let mut aad = b"mend-share".to_vec();
        aad.extend_from_slice(m.vault.as_bytes());
        aad.extend_from_slice(doc.as_bytes());
        aad.extend_from_slice(m.device.as_bytes());
        aad.extend_from_slice(&seq.to_be_bytes());
        aad.extend_from_slice(to.as_bytes());
        let sealed = mend_core::crypto::seal::seal(public, &info, &aad, &plain).expect("seal");
        let mut h = sha2::Sha256::new();
        h.update(b"mend-receive-hint");
        h.update(public);
        payload.extend_from_slice(to.as_bytes());
        payload.extend_from_slice(&h.finalize()[..8]);
        payload.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        payload.extend_from_slice(&sealed);
    }
    Bundle::signed(
        BundleKind::KeyShare,
        m.vault,
        doc,
        m.device,
        seq,
        KeyId::from_bytes([0; 16]),
        payload,
        &m.signing,
    )
    .encode()
}
