//! Device invites: how a new phone or tablet joins a vault.
//!
//! An existing device exports an invite encrypted under a key derived (Argon2id) from a one-time
//! code the therapist reads from one screen and types on the other. The invite carries the vault
//! id, a device identity made for the new device (already added to the shared registry, so the
//! other devices accept its bundles), the registry itself, the vault sync key and every live data
//! key. The relay marks an invite used the first time it is claimed; expiry is checked on the new
//! device. Wire layout:
//!
//! ```text
//! "MENDINV1" | salt 16 | m_cost u32 | t_cost u32 | p_cost u32 | invite id 16 | envelope
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::transport::Transport;
use crate::crypto::kdf::{derive_key, KdfParams};
use crate::crypto::seal::ReceiveKey;
use crate::crypto::signing::DeviceKey;
use crate::crypto::{envelope, Aad, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};
use crate::keyring::VAULT_OWNER;
use crate::records::model::Timestamp;
use crate::records::{registry, Kind};
use crate::shares::SharedKey;
use crate::store::db::{self, RelayOp};
use crate::vault::open::Joining;
use crate::vault::{now_ms, Vault, VaultOptions, VaultSecret};

const MAGIC: &[u8; 8] = b"MENDINV1";
const HEADER_LEN: usize = 8 + 16 + 12 + 16;

/// Zeroized when dropped: it holds a data key (hex).
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct InvitedKey {
    key_id: String,
    client_id: String,
    purpose: u8,
    key: String,
    /// The key's generation (absent in invites made before epochs: 0).
    #[serde(default)]
    epoch: u32,
    /// The device that made it, as the inviting device knows (absent: unknown).
    #[serde(default)]
    maker: Option<String>,
}

/// Zeroized when dropped: it holds the new device's signing seed and every live key (hex).
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct Contents {
    vault_id: String,
    expires_at: Timestamp,
    device_id: String,
    device_seed: String,
    sync_key_id: String,
    sync_key: String,
    registry_id: String,
    registry: String,
    /// Every live key, sync key generations included (before epochs: client keys only).
    keys: Vec<InvitedKey>,
}

/// A fresh one-time code: 12 characters of Crockford base32 (60 bits), grouped for reading.
pub fn generate_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 12];
    crate::crypto::fill_random(&mut bytes);
    let chars: String = bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

fn normalise(code: &str) -> Zeroizing<String> {
    Zeroizing::new(
        code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_uppercase(),
    )
}

fn invite_aad(invite: [u8; 16]) -> Aad {
    Aad {
        vault: VaultId::from_bytes([0; 16]),
        record: RecordId::from_bytes(invite),
        kind: 0,
        seq: 0,
        part: Part::Invite,
    }
}

fn code_params() -> KdfParams {
    // OWASP's Argon2id minimum (19 MiB, 2 passes): the code is short-lived and single-use.
    KdfParams::with_cost(19 * 1024, 2, 1)
}

impl Vault {
    /// Exports an invite for a new device, encrypted under `code` (see [`generate_code`]),
    /// valid until `expires_at`. The new device is added to the registry now; sync afterwards so
    /// the other devices learn of it.
    pub fn export_invite(&self, code: &str, expires_at: Timestamp) -> Result<Vec<u8>> {
        let code = normalise(code);
        if code.len() < 8 {
            return Err(Error::invalid("code", "must have at least 8 letters or digits"));
        }
        let mut g = self.lock();
        let invite_id: [u8; 16] = *RecordId::random().as_bytes();
        let new_device = DeviceId::random();
        let new_key = DeviceKey::generate();
        let registry_id = g.registry_id;
        let by = g.device_id;
        g.edit(registry_id, Kind::Registry, |doc| {
            registry::add_device(
                doc,
                RecordId::from_bytes(invite_id),
                new_device,
                &new_key.public(),
                by,
                now_ms(),
            )
        })?;
        g.refresh_registry();
        db::relay_queue_put(&g.conn, RelayOp::Enroll, &new_device, &new_key.public())?;
        // The invite carries every key held now: catching the device up later sends only
        // what came after.
        db::invited_put(&g.conn, &new_device)?;
        let registry_bytes =
            Zeroizing::new(g.read_mut(registry_id, Kind::Registry, |doc| Ok(doc.save()))?);
        let g = &mut *g;
        let (sync_key_id, sync_key) = g.keys.sync_key(&g.conn)?;
        let keys = g
            .keys
            .live_keys(&g.conn)?
            .into_iter()
            .filter_map(|(row, k)| {
                Some(InvitedKey {
                    key_id: hex::encode(row.key_id.as_bytes()),
                    client_id: row.client_id.to_string(),
                    purpose: row.purpose? as u8,
                    key: hex::encode(k.expose()),
                    epoch: row.epoch,
                    maker: row.maker.map(|d| d.to_string()),
                })
            })
            .collect();
        let contents = Contents {
            vault_id: g.vault_id.to_string(),
            expires_at,
            device_id: new_device.to_string(),
            device_seed: hex::encode(&new_key.seed()[..]),
            sync_key_id: hex::encode(sync_key_id.as_bytes()),
            sync_key: hex::encode(sync_key.expose()),
            registry_id: registry_id.to_string(),
            registry: hex::encode(&registry_bytes),
            keys,
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(&contents).map_err(|_| Error::Internal("invite encoding".into()))?,
        );
        drop(contents);
        let params = code_params();
        let key = derive_key(&code, &params).map_err(|_| Error::Internal("kdf".into()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&params.salt);
        for v in [params.m_cost_kib, params.t_cost, params.p_cost] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&invite_id);
        out.extend_from_slice(&envelope::seal(
            &key,
            &KeyId::from_bytes([0; 16]),
            &invite_aad(invite_id),
            &plain,
        ));
        Ok(out)
    }

    /// Joins the vault an invite belongs to, creating this device's vault file at `path` under
    /// this device's own key or passphrase. Wrong code → [`Error::InviteCode`]; expired →
    /// [`Error::InviteExpired`]; already used → [`Error::InviteUsed`]. Sync afterwards to download
    /// the records.
    pub fn join(
        path: &Path,
        secret: VaultSecret,
        opts: VaultOptions,
        invite: &[u8],
        code: &str,
        transport: &dyn Transport,
    ) -> Result<Vault> {
        let (invite_id, plain) = open_invite(invite, code)?;
        let Invited {
            vault_id,
            device_id,
            device_key,
            sync_key_id,
            registry_id,
            registry: registry_bytes,
            keys,
        } = read_contents(&plain, now_ms())?;

        transport.bind_identity(device_id, &device_key);
        transport.claim_invite(&vault_id, &invite_id)?;

        let joining = Joining {
            vault_id,
            device_id,
            device_key,
            // The receiving key is made here, on the joining device, and only its public half
            // ever leaves it (published in the registry when the vault opens).
            receive_key: ReceiveKey::generate(),
            sync_key_id,
            registry_id,
            registry: registry_bytes,
            keys,
        };
        Vault::create_joined(path, secret, opts, joining)
    }
}

/// What an opened invite holds, checked: everything [`Vault::join`] needs before it claims the
/// invite at the relay (the joining device makes its receiving key itself).
pub(crate) struct Invited {
    pub(crate) vault_id: VaultId,
    pub(crate) device_id: DeviceId,
    pub(crate) device_key: DeviceKey,
    pub(crate) sync_key_id: KeyId,
    pub(crate) registry_id: RecordId,
    pub(crate) registry: Vec<u8>,
    pub(crate) keys: Vec<SharedKey>,
}

/// Reads an invite's header, derives the code's key with the costs it names (refusing absurd
/// ones) and opens its envelope: the invite id and the plaintext. Wrong code (or any tampering) →
/// [`Error::InviteCode`]; not an invite → [`Error::InvalidInvite`].
pub(crate) fn open_invite(invite: &[u8], code: &str) -> Result<([u8; 16], Zeroizing<Vec<u8>>)> {
    if invite.len() < HEADER_LEN || &invite[..8] != MAGIC {
        return Err(Error::InvalidInvite);
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&invite[8..24]);
    let num = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&invite[at..at + 4]);
        u32::from_be_bytes(b)
    };
    let (m, t, p) = (num(24), num(28), num(32));
    let mut invite_id = [0u8; 16];
    invite_id.copy_from_slice(&invite[36..52]);
    let params = KdfParams { m_cost_kib: m, t_cost: t, p_cost: p, salt };
    // Refuse absurd costs an attacker could put in a forged invite to exhaust the phone.
    if !params.within_limits() {
        return Err(Error::InvalidInvite);
    }
    let key = derive_key(&normalise(code), &params).map_err(|_| Error::InvalidInvite)?;
    let plain =
        envelope::open(&key, &KeyId::from_bytes([0; 16]), &invite_aad(invite_id), &invite[52..])
            .map_err(|_| Error::InviteCode)?;
    Ok((invite_id, plain))
}

/// Decodes and checks an opened invite's contents at time `now` (ms): expired →
/// [`Error::InviteExpired`]; anything malformed, a key of the wrong owner or a registry that does
/// not load and read → [`Error::InvalidInvite`].
pub(crate) fn read_contents(plain: &[u8], now: i64) -> Result<Invited> {
    let c: Contents = serde_json::from_slice(plain).map_err(|_| Error::InvalidInvite)?;
    if c.expires_at < now {
        return Err(Error::InviteExpired);
    }
    let parse_key_id = |h: &str| hex::decode(h).ok().and_then(|b| KeyId::from_slice(&b));
    let vault_id: VaultId = c.vault_id.parse().map_err(|_| Error::InvalidInvite)?;
    let device_id: DeviceId = c.device_id.parse().map_err(|_| Error::InvalidInvite)?;
    let seed = Zeroizing::new(hex::decode(&c.device_seed).map_err(|_| Error::InvalidInvite)?);
    let device_key = DeviceKey::from_seed(&seed).map_err(|_| Error::InvalidInvite)?;
    let sync_key_id = parse_key_id(&c.sync_key_id).ok_or(Error::InvalidInvite)?;
    let sync_key = SecretKey::from_slice(&Zeroizing::new(
        hex::decode(&c.sync_key).map_err(|_| Error::InvalidInvite)?,
    ))
    .ok_or(Error::InvalidInvite)?;
    let registry_id: RecordId = c.registry_id.parse().map_err(|_| Error::InvalidInvite)?;
    let registry_bytes = hex::decode(&c.registry).map_err(|_| Error::InvalidInvite)?;
    let mut keys = Vec::new();
    for k in &c.keys {
        let key_id = parse_key_id(&k.key_id).ok_or(Error::InvalidInvite)?;
        let client: RecordId = k.client_id.parse().map_err(|_| Error::InvalidInvite)?;
        let bytes = Zeroizing::new(hex::decode(&k.key).map_err(|_| Error::InvalidInvite)?);
        let key = SecretKey::from_slice(&bytes).ok_or(Error::InvalidInvite)?;
        let purpose = KeyPurpose::from_code(k.purpose).ok_or(Error::InvalidInvite)?;
        if (purpose == KeyPurpose::Sync) != (client == VAULT_OWNER) {
            return Err(Error::InvalidInvite);
        }
        let maker = match &k.maker {
            Some(m) => Some(m.parse::<DeviceId>().map_err(|_| Error::InvalidInvite)?),
            None => None,
        };
        keys.push(SharedKey { key_id, client, purpose, epoch: k.epoch, key, maker });
    }
    // Invites made before epochs carry the one sync key beside the client keys.
    if !keys.iter().any(|k| k.key_id == sync_key_id) {
        keys.push(SharedKey {
            key_id: sync_key_id,
            client: VAULT_OWNER,
            purpose: KeyPurpose::Sync,
            epoch: 0,
            key: sync_key,
            maker: None,
        });
    }
    let registry_doc = crate::records::am::load_doc(&registry_bytes).ok_or(Error::InvalidInvite)?;
    registry::read(&registry_doc, registry_id).map_err(|_| Error::InvalidInvite)?;
    Ok(Invited {
        vault_id,
        device_id,
        device_key,
        sync_key_id,
        registry_id,
        registry: registry_bytes,
        keys,
    })
}
