//! The vault registry: a small Automerge document every device of a vault shares, under the vault
//! sync key. It lists the devices allowed to sign bundles (with their Ed25519 public keys and the
//! X25519 keys that key shares are sealed to), the revoked ones, issued invites, and erased clients (ids and key ids only — never key material,
//! because this document is never erased). Add-wins maps, so a revocation or erasure made on one
//! device cannot be undone by a concurrent edit elsewhere.

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

use super::am::Reader;
use crate::error::Result;
use crate::ids::{DeviceId, KeyId, RecordId};

/// What the registry says, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// Device → Ed25519 public key.
    pub devices: HashMap<DeviceId, [u8; 32]>,
    /// Revoked devices, each with the last of its sequence numbers still accepted (what the
    /// revoking device had already applied, so every device keeps the same edits).
    pub revoked: HashMap<DeviceId, u64>,
    /// Erased clients → their key ids.
    pub erased: HashMap<RecordId, Vec<KeyId>>,
    /// Device → the name its owner gave it ("Clinic iPad"), if any.
    pub names: HashMap<DeviceId, String>,
    /// Device → when it joined (milliseconds since the epoch).
    pub added_at: HashMap<DeviceId, i64>,
    /// Device → its X25519 receiving key (absent until a device made before epochs publishes
    /// one).
    pub receive_keys: HashMap<DeviceId, [u8; 32]>,
}

impl Registry {
    /// The public key of a device allowed to sign its bundle `seq`, or why not.
    pub fn signer(
        &self,
        device: &DeviceId,
        seq: u64,
    ) -> std::result::Result<&[u8; 32], SignerState> {
        if self.revoked.get(device).is_some_and(|upto| seq > *upto) {
            return Err(SignerState::Revoked);
        }
        self.devices.get(device).ok_or(SignerState::Unknown)
    }

    /// The devices keys may be sealed to: listed, not revoked, with a receiving key, other than
    /// `except` (this device), in id order.
    pub fn receivers(&self, except: DeviceId) -> Vec<(DeviceId, [u8; 32])> {
        let mut out: Vec<(DeviceId, [u8; 32])> = self
            .receive_keys
            .iter()
            .filter(|(d, _)| {
                **d != except && self.devices.contains_key(d) && !self.revoked.contains_key(d)
            })
            .map(|(d, k)| (*d, *k))
            .collect();
        out.sort_by_key(|(d, _)| *d);
        out
    }

    /// The key epoch: how many devices are revoked. A key generation is made in the epoch its
    /// maker knew, so it was sealed to none of that many revoked devices; revocations are never
    /// undone, so a generation from an older epoch may have reached a device revoked since, and
    /// nothing is sent under it any more. (Two devices revoking different devices at once each
    /// make generations of epoch 1; once both revocations merge, the epoch is 2 and they renew.)
    pub fn required_epoch(&self) -> u32 {
        self.revoked.len().min(u32::MAX as usize) as u32
    }
}

/// Why a device may not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerState {
    /// Not (yet) in the registry.
    Unknown,
    /// Revoked.
    Revoked,
}

/// What a device signs to publish its receiving key: no other device can substitute one.
pub fn receive_key_message(registry: RecordId, device: DeviceId, receive: &[u8; 32]) -> Vec<u8> {
    let mut m = b"mend-receive-key-v1".to_vec();
    m.extend_from_slice(registry.as_bytes());
    m.extend_from_slice(device.as_bytes());
    m.extend_from_slice(receive);
    m
}

/// Writes a new registry listing its first device, with its receiving key and the signature
/// over [`receive_key_message`].
pub fn create(
    doc: &mut AutoCommit,
    device: DeviceId,
    public: &[u8; 32],
    receive: (&[u8; 32], &[u8; 64]),
    at: i64,
) -> Result<()> {
    doc.put_object(ROOT, "devices", ObjType::Map)?;
    doc.put_object(ROOT, "revoked", ObjType::Map)?;
    doc.put_object(ROOT, "erased", ObjType::Map)?;
    doc.put_object(ROOT, "invites", ObjType::Map)?;
    add_device(doc, RecordId::from_bytes([0; 16]), device, public, device, at)?;
    set_receive_key(doc, device, receive.0, receive.1)
}

fn map(doc: &AutoCommit, key: &str, id: RecordId) -> Result<automerge::ObjId> {
    Reader::new(doc, id).obj(&ROOT, key, ObjType::Map)
}

/// Adds a device (and the invite it was issued with).
pub fn add_device(
    doc: &mut AutoCommit,
    invite: RecordId,
    device: DeviceId,
    public: &[u8; 32],
    added_by: DeviceId,
    at: i64,
) -> Result<()> {
    let devices = map(doc, "devices", RecordId::from_bytes([0; 16]))?;
    let d = doc.put_object(&devices, device.to_string(), ObjType::Map)?;
    doc.put(&d, "public", hex::encode(public))?;
    doc.put(&d, "added_by", added_by.to_string())?;
    doc.put(&d, "added_at", at)?;
    doc.put(&d, "invite", invite.to_string())?;
    Ok(())
}

fn device_entry(doc: &AutoCommit, device: DeviceId) -> Result<automerge::ObjId> {
    let devices = map(doc, "devices", RecordId::from_bytes([0; 16]))?;
    let Some((automerge::Value::Object(ObjType::Map), d)) =
        doc.get(&devices, device.to_string())?
    else {
        return Err(crate::error::Error::NotFound {
            kind: "device",
            id: RecordId::from_bytes(*device.as_bytes()),
        });
    };
    Ok(d)
}

/// Names a listed device (the last name written wins).
pub fn set_name(doc: &mut AutoCommit, device: DeviceId, name: &str) -> Result<()> {
    let d = device_entry(doc, device)?;
    doc.put(&d, "name", name)?;
    Ok(())
}

/// Publishes a listed device's X25519 receiving key, signed by that device
/// ([`receive_key_message`]).
pub fn set_receive_key(
    doc: &mut AutoCommit,
    device: DeviceId,
    receive: &[u8; 32],
    signature: &[u8; 64],
) -> Result<()> {
    let d = device_entry(doc, device)?;
    doc.put(&d, "receive", hex::encode(receive))?;
    doc.put(&d, "receive_sig", hex::encode(signature))?;
    Ok(())
}

/// Revokes a device: its bundles after sequence number `upto` are refused everywhere (and the
/// key epoch advances: see [`Registry::required_epoch`]).
pub fn revoke(doc: &mut AutoCommit, device: DeviceId, upto: u64) -> Result<()> {
    let revoked = map(doc, "revoked", RecordId::from_bytes([0; 16]))?;
    doc.put(&revoked, device.to_string(), upto.min(i64::MAX as u64) as i64)?;
    Ok(())
}

/// Records that a client was erased, with its key ids, so every device destroys them.
pub fn mark_erased(doc: &mut AutoCommit, client: RecordId, keys: &[KeyId], at: i64) -> Result<()> {
    let erased = map(doc, "erased", RecordId::from_bytes([0; 16]))?;
    let e = doc.put_object(&erased, client.to_string(), ObjType::Map)?;
    let ids: Vec<String> = keys.iter().map(|k| hex::encode(k.as_bytes())).collect();
    doc.put(&e, "key_ids", ids.join(","))?;
    doc.put(&e, "at", at)?;
    Ok(())
}

/// Reads the registry. Entries that do not parse are ignored (they cannot grant anything).
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<Registry> {
    let r = Reader::new(doc, id);
    let mut reg = Registry::default();
    let devices = r.obj(&ROOT, "devices", ObjType::Map)?;
    for item in doc.map_range(&devices, ..) {
        let Ok(device) = item.key.parse::<DeviceId>() else { continue };
        let Ok(Some(d)) = r.opt_obj(&devices, &item.key, ObjType::Map) else { continue };
        let Ok(Some(public)) = r.opt_str(&d, "public") else { continue };
        let Ok(bytes) = hex::decode(public) else { continue };
        let Ok(public) = <[u8; 32]>::try_from(bytes.as_slice()) else { continue };
        reg.devices.insert(device, public);
        if let Ok(Some(name)) = r.opt_str(&d, "name") {
            reg.names.insert(device, name);
        }
        if let Ok(Some(at)) = r.opt_int(&d, "added_at") {
            reg.added_at.insert(device, at);
        }
        // A receiving key counts only with its device's signature: another device (or a
        // forged registry edit) cannot make keys be sealed to a key it holds.
        let receive = r.opt_str(&d, "receive").ok().flatten().and_then(|h| hex::decode(h).ok());
        let sig = r.opt_str(&d, "receive_sig").ok().flatten().and_then(|h| hex::decode(h).ok());
        if let (Some(k), Some(sig)) = (receive, sig) {
            if let Ok(k) = <[u8; 32]>::try_from(k) {
                let msg = receive_key_message(id, device, &k);
                if crate::crypto::signing::verify(&public, &msg, &sig).is_ok() {
                    reg.receive_keys.insert(device, k);
                }
            }
        }
    }
    let revoked = r.obj(&ROOT, "revoked", ObjType::Map)?;
    for item in doc.map_range(&revoked, ..) {
        let Ok(d) = item.key.parse::<DeviceId>() else { continue };
        // Concurrent revocations keep every boundary; the largest wins, on every device alike.
        let upto = doc
            .get_all(&revoked, item.key.as_ref())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(v, _)| match v {
                automerge::Value::Scalar(s) => match s.as_ref() {
                    automerge::ScalarValue::Int(i) => Some((*i).max(0) as u64),
                    _ => Some(0),
                },
                _ => None,
            })
            .max()
            .unwrap_or(0);
        reg.revoked.insert(d, upto);
    }
    let erased = r.obj(&ROOT, "erased", ObjType::Map)?;
    for item in doc.map_range(&erased, ..) {
        let Ok(client) = item.key.parse::<RecordId>() else { continue };
        let mut keys = Vec::new();
        for e in doc.get_all(&erased, item.key.as_ref()).unwrap_or_default() {
            if let (automerge::Value::Object(ObjType::Map), obj) = e {
                if let Ok(Some(ids)) = r.opt_str(&obj, "key_ids") {
                    for h in ids.split(',') {
                        if let Some(k) = hex::decode(h).ok().and_then(|b| KeyId::from_slice(&b)) {
                            keys.push(k);
                        }
                    }
                }
            }
        }
        reg.erased.insert(client, keys);
    }
    Ok(reg)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::signing::DeviceKey;

    /// Another listed device writes its own receiving key (signed by itself, or unsigned) into a
    /// device's entry: the registry does not take it, so no key is ever sealed to it.
    #[test]
    fn a_receiving_key_counts_only_with_its_own_devices_signature() {
        let id = RecordId::random();
        let (a, b) = (DeviceId::random(), DeviceId::random());
        let (ka, kb) = (DeviceKey::generate(), DeviceKey::generate());
        let (ra, rb) = ([0xA0; 32], [0xB0; 32]);
        let mut doc = AutoCommit::new();
        let sig = ka.sign(&receive_key_message(id, a, &ra));
        create(&mut doc, a, &ka.public(), (&ra, &sig), 1).unwrap();
        add_device(&mut doc, RecordId::random(), b, &kb.public(), a, 2).unwrap();
        set_receive_key(&mut doc, b, &rb, &kb.sign(&receive_key_message(id, b, &rb))).unwrap();
        let r = read(&doc, id).unwrap();
        assert_eq!((r.receive_keys.get(&a), r.receive_keys.get(&b)), (Some(&ra), Some(&rb)));
        // B overwrites A's receiving key with its own, signed by B.
        set_receive_key(&mut doc, a, &rb, &kb.sign(&receive_key_message(id, a, &rb))).unwrap();
        assert_eq!(read(&doc, id).unwrap().receive_keys.get(&a), None);
        // A's own signature over a key, replayed in another vault's registry, does not count.
        let other = RecordId::random();
        set_receive_key(&mut doc, a, &ra, &sig).unwrap();
        assert_eq!(read(&doc, other).unwrap().receive_keys.get(&a), None);
        assert_eq!(read(&doc, id).unwrap().receive_keys.get(&a), Some(&ra));
    }
}
