//! The devices of the vault as the shared registry lists them: their names, and revocation of a
//! lost one (recorded in the registry, which every device syncs, and queued for the relay).

use super::{Device, Vault};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};
use crate::records::{registry, Kind};
use crate::store::db::{self, RelayOp};

impl Vault {
    /// The devices of this vault (from the shared registry), in the order they joined.
    pub fn devices(&self) -> Vec<Device> {
        let g = self.lock();
        let r = &g.registry;
        let mut out: Vec<Device> = r
            .devices
            .keys()
            .map(|d| Device {
                id: *d,
                name: r.names.get(d).cloned(),
                added_at: r.added_at.get(d).copied(),
                revoked: r.revoked.contains_key(d),
            })
            .collect();
        out.sort_by_key(|d| (d.added_at, d.id));
        out
    }

    /// Names this device for the other devices' lists ("Clinic iPad"); it syncs like any edit.
    /// Up to 64 characters on one line.
    pub fn set_device_name(&self, name: &str) -> Result<()> {
        crate::records::validate::label("device name", name, 64)?;
        let mut g = self.lock();
        let (registry_id, me) = (g.registry_id, g.device_id);
        g.edit(registry_id, Kind::Registry, |doc| registry::set_name(doc, me, name))?;
        g.refresh_registry();
        Ok(())
    }

    /// Revokes a device (a lost phone): every device refuses its bundles from their next sync,
    /// and everything written from now on goes under new keys sealed only to the remaining
    /// devices (a new epoch: see `vault::epochs`). What the revoked device already held stays
    /// readable to it.
    pub fn revoke_device(&self, device: DeviceId) -> Result<()> {
        let mut g = self.lock();
        if device == g.device_id {
            return Err(Error::InvalidState("a device cannot revoke itself".into()));
        }
        if !g.registry.devices.contains_key(&device) {
            return Err(Error::NotFound {
                kind: "device",
                id: RecordId::from_bytes(*device.as_bytes()),
            });
        }
        let registry_id = g.registry_id;
        let upto = db::applied_max(&g.conn, &device)?;
        // From here on, generations the device made count for nothing (it may have planted one
        // with any epoch while it was listed).
        let mut untrusted: std::collections::HashSet<DeviceId> =
            g.registry.revoked.keys().copied().collect();
        untrusted.insert(device);
        g.keys.set_untrusted(untrusted);
        // The revocation itself goes under the sync key every device holds, the revoked one
        // included: it learns it was removed (an app can wipe it), and a device that cannot
        // receive the new keys yet (one that just joined or upgraded) still stops accepting it.
        g.edit(registry_id, Kind::Registry, |doc| registry::revoke(doc, device, upto))?;
        db::relay_queue_put(&g.conn, RelayOp::Revoke, &device, &[0; 32])?;
        g.refresh_registry();
        // A new epoch: every key is renewed and sealed to the remaining devices only; nothing
        // written from now on goes under a key the revoked device holds.
        g.renew_stale_keys()?;
        Ok(())
    }
}
