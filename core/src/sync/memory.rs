//! An in-memory relay implementing [`Transport`], for tests, examples and benchmarks. It behaves
//! like the real relay: it reads only the plaintext bundle headers, pages by its own sequence
//! numbers (and by [`wire::MAX_PAGE_BYTES`]), refuses pushes over the relay's default limits,
//! replaces covered bundles by snapshots, and drops erased key ids. `dump()` returns
//! every byte it holds, so tests can prove it learned no plaintext.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use super::bundle::Bundle;
use super::transport::{Page, PageItem, Transport, TransportError};
use super::wire;
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};

/// The real relay's default request body limit.
const MAX_BODY: usize = 16 << 20;

#[derive(Default)]
struct State {
    next: u64,
    /// seq → (vault, doc, key id, bytes)
    items: BTreeMap<u64, (VaultId, RecordId, KeyId, Vec<u8>)>,
    claimed: HashSet<(VaultId, [u8; 16])>,
    devices: std::collections::HashMap<(VaultId, DeviceId), ([u8; 32], bool)>,
    offline: bool,
}

/// Something to run when the next push arrives.
type PushHook = Box<dyn FnOnce() + Send>;

/// An in-memory relay.
#[derive(Default)]
pub struct MemoryRelay {
    state: Mutex<State>,
    next_push: Mutex<Option<PushHook>>,
}

impl MemoryRelay {
    /// An empty relay.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every byte string the relay holds, in order.
    pub fn dump(&self) -> Vec<Vec<u8>> {
        self.lock().items.values().map(|(_, _, _, b)| b.clone()).collect()
    }

    /// Number of stored items.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether the relay holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Simulates an outage: every call fails with `Unavailable` while set.
    pub fn set_offline(&self, offline: bool) {
        self.lock().offline = offline;
    }

    /// Runs `f` once, when the next push arrives and before it is stored: what a device does
    /// while its push is on the wire (the device's lock is not held then).
    pub fn on_next_push(&self, f: impl FnOnce() + Send + 'static) {
        *self.next_push.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(f));
    }

    fn check(&self, s: &State) -> Result<(), TransportError> {
        if s.offline {
            Err(TransportError::Unavailable("relay offline".into()))
        } else {
            Ok(())
        }
    }
}

impl Transport for MemoryRelay {
    fn push(&self, vault: &VaultId, bundles: Vec<Vec<u8>>) -> Result<(), TransportError> {
        let hook = self.next_push.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = hook {
            f();
        }
        let mut s = self.lock();
        self.check(&s)?;
        // The real relay's default limits: 500 bundles and a 16 MiB body.
        let body: usize = bundles.iter().map(|b| b.len() + 4).sum::<usize>() + 4;
        if bundles.len() > wire::MAX_BUNDLES_PER_REQUEST || body > MAX_BODY {
            return Err(TransportError::Refused("push too large".into()));
        }
        let mut parsed = Vec::with_capacity(bundles.len());
        for b in bundles {
            let h = Bundle::decode(&b).map_err(|e| TransportError::Refused(e.to_string()))?;
            if h.vault != *vault {
                return Err(TransportError::Refused("bundle for another vault".into()));
            }
            parsed.push((h.doc, h.key_id, b));
        }
        for (doc, key, b) in parsed {
            s.next += 1;
            let n = s.next;
            s.items.insert(n, (*vault, doc, key, b));
        }
        Ok(())
    }

    fn pull(&self, vault: &VaultId, since: u64, limit: u32) -> Result<Page, TransportError> {
        let s = self.lock();
        self.check(&s)?;
        let mut items = Vec::new();
        let mut remaining = 0u64;
        let mut bytes = 0usize;
        let mut full = false;
        for (seq, (v, _, _, b)) in s.items.range(since + 1..) {
            if v != vault {
                continue;
            }
            bytes = bytes.saturating_add(b.len());
            full |= items.len() >= limit as usize
                || (bytes > wire::MAX_PAGE_BYTES && !items.is_empty());
            if full {
                remaining += 1;
            } else {
                items.push(PageItem { seq: *seq, bundle: b.clone() });
            }
        }
        Ok(Page { items, remaining, head: s.next })
    }

    fn upload_snapshot(
        &self,
        vault: &VaultId,
        doc: &RecordId,
        covers: u64,
        bundle: Vec<u8>,
    ) -> Result<(), TransportError> {
        let mut s = self.lock();
        self.check(&s)?;
        let h = Bundle::decode(&bundle).map_err(|e| TransportError::Refused(e.to_string()))?;
        if h.vault != *vault || h.doc != *doc {
            return Err(TransportError::Refused("snapshot header does not match".into()));
        }
        s.items.retain(|seq, (v, d, _, _)| !(v == vault && d == doc && *seq <= covers));
        s.next += 1;
        let n = s.next;
        s.items.insert(n, (*vault, *doc, h.key_id, bundle));
        Ok(())
    }

    fn drop_key_ids(&self, vault: &VaultId, key_ids: &[KeyId]) -> Result<(), TransportError> {
        let mut s = self.lock();
        self.check(&s)?;
        s.items.retain(|_, (v, _, k, _)| !(v == vault && key_ids.contains(k)));
        Ok(())
    }

    fn enroll(
        &self,
        vault: &VaultId,
        device: &DeviceId,
        public: &[u8; 32],
    ) -> Result<(), TransportError> {
        let mut s = self.lock();
        self.check(&s)?;
        match s.devices.get(&(*vault, *device)) {
            Some((p, _)) if p != public => {
                Err(TransportError::Refused("device key mismatch".into()))
            }
            Some(_) => Ok(()),
            None => {
                s.devices.insert((*vault, *device), (*public, false));
                Ok(())
            }
        }
    }

    fn revoke(&self, vault: &VaultId, device: &DeviceId) -> Result<(), TransportError> {
        let mut s = self.lock();
        self.check(&s)?;
        if let Some(d) = s.devices.get_mut(&(*vault, *device)) {
            d.1 = true;
        }
        Ok(())
    }

    fn claim_invite(&self, vault: &VaultId, invite_id: &[u8; 16]) -> Result<(), TransportError> {
        let mut s = self.lock();
        self.check(&s)?;
        if s.claimed.insert((*vault, *invite_id)) {
            Ok(())
        } else {
            Err(TransportError::InviteAlreadyClaimed)
        }
    }
}
