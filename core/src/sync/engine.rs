//! The sync engine: make sure the relay knows this device and the devices it invited or revoked,
//! push the outbox, tell the relay what to drop, pull pages after a cursor and apply each in one
//! transaction ([`super::apply`]), repair when bundles seem withheld ([`super::repair`]). See the
//! module docs of [`crate::sync`] for the guarantees. The vault is locked per batch, never across
//! a network call.

use std::sync::atomic::Ordering;

use super::apply::Applier;
use super::bundle::{Bundle, BundleKind};
use super::repair::{self, GapPulls, GAP_PULLS};
use super::report::{SyncOptions, SyncProgress, SyncReport};
use super::transport::{PageItem, Refusal, Transport, TransportError};
use super::wire;
use crate::error::{Error, Result};
use crate::ids::RecordId;
use crate::outbox::{doc_payload, EntryKind, Outbox, Outgoing};
use crate::records::Kind;
use crate::store::db::{self, Meta, RelayOp};
use crate::vault::{Inner, Vault};

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::InviteAlreadyClaimed => Error::InviteUsed,
            TransportError::Denied(r) => Error::RelayRefused(r),
            TransportError::Insecure => Error::invalid(
                "relay_url",
                "must use https:// (plain http:// only to this device's loopback or a host the app allowed)",
            ),
            TransportError::Refused(m) => Error::RelayRejected(m),
            TransportError::Unavailable(m) => Error::Transport(m),
        }
    }
}

fn cancelled(opts: &SyncOptions<'_>) -> bool {
    opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}

/// The bundle a queued outbox row becomes.
fn bundle_kind(kind: EntryKind) -> BundleKind {
    match kind {
        EntryKind::Change => BundleKind::Change,
        EntryKind::KeyShare => BundleKind::KeyShare,
    }
}

/// Signs the next push's payloads as this device's bundles.
fn sign_push(g: &Inner, items: Vec<Outgoing>) -> Vec<Vec<u8>> {
    items
        .into_iter()
        .map(|o| {
            Bundle::signed(
                bundle_kind(o.kind),
                g.vault_id,
                o.doc,
                g.device_id,
                o.seq,
                o.key_id,
                o.payload,
                &g.device_key,
            )
            .encode()
        })
        .collect()
}

impl Vault {
    /// Makes sure the relay knows this device: the vault's first device registers the vault
    /// (at a relay that asks for one, over a transport carrying the operator's registration
    /// token, [`super::http::HttpTransport::with_registration_token`]), a joined device enrolls
    /// itself. Done once; [`Vault::sync`] does it first, so an app calls this only to register
    /// with a token before its first sync.
    pub fn register_at_relay(&self, transport: &dyn Transport) -> Result<()> {
        let vault = self.id();
        let (me, public, enrolled) = {
            let g = self.lock();
            transport.bind_identity(g.device_id, &g.device_key);
            let enrolled = db::meta_get(&g.conn, Meta::RelayEnrolled)?.is_some();
            (g.device_id, g.device_key.public(), enrolled)
        };
        if !enrolled {
            transport.enroll(&vault, &me, &public)?;
            db::meta_put(&self.lock().conn, Meta::RelayEnrolled, &[1])?;
        }
        Ok(())
    }

    /// Pushes local changes, then pulls and applies what other devices pushed. Safe to call
    /// from any thread while the vault is in use: the vault is locked per batch, never across a
    /// network call.
    pub fn sync(&self, transport: &dyn Transport, opts: &SyncOptions<'_>) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut progress = SyncProgress::default();

        // 0. Make sure the relay knows this device, then the devices it invited or revoked.
        let vault = self.id();
        self.register_at_relay(transport)?;
        let queue = db::relay_queue_all(&self.lock().conn)?;
        for (op, device, key) in queue {
            match op {
                RelayOp::Enroll => transport.enroll(&vault, &device, &key)?,
                RelayOp::Revoke => transport.revoke(&vault, &device)?,
            }
            db::relay_queue_delete(&self.lock().conn, op, &device)?;
        }

        // 1. Tell the relay to drop what it holds for erased clients, before anything is
        // pushed: an erasure reaches the relay first, even when the vault is at its storage
        // quota and the push would be refused (the drop frees the space).
        // A relay that will take no more erasures for this vault (its tombstone cap) keeps the
        // drops queued and does not stop the sync: everything else is pushed and pulled, and
        // the sync then fails with that refusal so the app can say so.
        let drops = db::relay_drops_all(&self.lock().conn)?;
        let mut drops_refused = None;
        if !drops.is_empty() {
            for chunk in drops.chunks(super::wire::MAX_DROPS_PER_REQUEST) {
                match transport.drop_key_ids(&vault, chunk) {
                    Ok(()) => {}
                    Err(TransportError::Denied(r @ Refusal::TombstoneLimit)) => {
                        drops_refused = Some(r);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if drops_refused.is_none() {
                db::relay_drops_clear(&self.lock().conn)?;
                report.dropped_keys = drops.len() as u64;
            }
        }

        // 2. Push the outbox, a batch at a time, each within the relay's limits.
        if !self.push_outbox(transport, opts, &mut report, &mut progress)? {
            return Ok(report);
        }

        // 3. Pull pages after the cursor and apply each in one transaction.
        let start = db::meta_u64(&self.lock().conn, Meta::PullCursor)?;
        let (mut cursor, head) =
            self.pull_pages(transport, &vault, start, opts, &mut report, &mut progress)?;

        // 4. Repair: the cursor is the relay's word. Changes waiting for a missing dependency
        // are a sure sign that bundles were withheld: while any wait, pull everything again from
        // the start once per new relay head. Gaps in another device's sequence numbers may be
        // legitimate (snapshots and erasures let the relay drop bundles), so a given set of gaps
        // triggers at most `GAP_PULLS` full pulls, each at a new relay head (a relay that
        // withheld a bundle during one sync's repair pull is asked again once it has moved on).
        // Duplicates are skipped; an honest relay fills the holes.
        if !report.cancelled {
            let (gaps, waiting) = repair::holes(&mut self.lock())?;
            let (seen, deps_head) = {
                let g = self.lock();
                (
                    db::meta_get(&g.conn, Meta::GapsRepaired)?.and_then(|b| GapPulls::decode(&b)),
                    db::meta_get(&g.conn, Meta::DepsRepairHead)?,
                )
            };
            let head_bytes = head.to_be_bytes().to_vec();
            let for_gaps = start != 0
                && gaps.as_ref().is_some_and(|g| match &seen {
                    Some(s) if s.gaps == *g => s.pulls < GAP_PULLS && s.head != head,
                    _ => true,
                });
            let for_deps = waiting && deps_head.as_deref() != Some(head_bytes.as_slice());
            let full = start == 0 || for_gaps || for_deps;
            if for_gaps || for_deps {
                cursor = self.pull_pages(transport, &vault, 0, opts, &mut report, &mut progress)?.0;
                report.repaired = true;
                db::meta_put(&self.lock().conn, Meta::DepsRepairHead, &head_bytes)?;
            }
            let gaps_now = repair::holes(&mut self.lock())?.0;
            if let (Some(gaps), false) = (gaps_now, report.cancelled) {
                let pulls = match &seen {
                    Some(s) if s.gaps == gaps => s.pulls + u8::from(full),
                    _ => u8::from(full),
                };
                let record = GapPulls { gaps, pulls, head }.encode();
                db::meta_put(&self.lock().conn, Meta::GapsRepaired, &record)?;
            }
        }
        let queued = {
            let mut g = self.lock();
            // Erasures first: they settle what was waiting for a key of an erased client.
            g.apply_registry_erasures()?;
            Applier::new(&mut g).retry_pending(&mut report)?;
            // 5. Keys follow membership (`vault::epochs`): renew what a revocation made stale,
            // catch up devices that appeared, and send those shares now rather than next time.
            let queued = if report.cancelled {
                0
            } else {
                g.rotate_receive_key()?;
                report.keys_renewed = g.renew_stale_keys()?;
                g.catch_up()?;
                Outbox::len(&g.conn)?
            };
            report.pending = db::pending_size(&g.conn)?.0;
            queued
        };
        if queued > 0 {
            self.push_outbox(transport, opts, &mut report, &mut progress)?;
        }
        report.cursor = cursor;
        match drops_refused {
            Some(r) => Err(Error::RelayRefused(r)),
            None => Ok(report),
        }
    }

    /// Pushes the outbox, a batch at a time, each within the relay's limits. `false`: cancelled.
    fn push_outbox(
        &self,
        transport: &dyn Transport,
        opts: &SyncOptions<'_>,
        report: &mut SyncReport,
        progress: &mut SyncProgress,
    ) -> Result<bool> {
        let vault = self.id();
        let page_size = opts.page_size.clamp(1, 10_000);
        let push_rows = page_size.min(wire::MAX_BUNDLES_PER_REQUEST as u32);
        loop {
            if cancelled(opts) {
                report.cancelled = true;
                return Ok(false);
            }
            let (bundles, last, rows, left) = {
                let mut guard = self.lock();
                let g: &mut Inner = &mut guard;
                let push =
                    g.outbox.next_push(&g.conn, &mut g.keys, push_rows, wire::MAX_PUSH_BYTES)?;
                (sign_push(g, push.items), push.last, push.rows, push.queued)
            };
            let Some(last) = last else { return Ok(true) };
            let n = bundles.len() as u64;
            transport.push(&vault, bundles)?;
            {
                let g = self.lock();
                g.outbox.pushed(&g.conn, last)?;
            }
            report.pushed += n;
            progress.pushed = report.pushed;
            progress.to_push = left.saturating_sub(rows);
            if let Some(f) = opts.progress {
                f(progress)
            }
        }
    }

    /// Pulls and applies pages after `cursor` until the relay has nothing new; returns the new
    /// cursor and the relay's head. A cursor above the relay's head (made-up sequence numbers
    /// served earlier) starts over from zero, once.
    fn pull_pages(
        &self,
        transport: &dyn Transport,
        vault: &crate::ids::VaultId,
        mut cursor: u64,
        opts: &SyncOptions<'_>,
        report: &mut SyncReport,
        progress: &mut SyncProgress,
    ) -> Result<(u64, u64)> {
        let page_size = opts.page_size.clamp(1, 10_000);
        let mut restarted = false;
        let mut head = 0;
        loop {
            if cancelled(opts) {
                report.cancelled = true;
                break;
            }
            let page = transport.pull(vault, cursor, page_size)?;
            head = page.head;
            if page.head != 0 && cursor > page.head && !restarted {
                restarted = true;
                report.repaired = true;
                cursor = 0;
                continue;
            }
            // Only items after the cursor count; a relay that returns nothing new is done.
            let Some(next) = page.items.iter().map(|i| i.seq).filter(|s| *s > cursor).max() else {
                break;
            };
            let fresh: Vec<&PageItem> = page.items.iter().filter(|i| i.seq > cursor).collect();
            report.pulled += fresh.len() as u64;
            Applier::new(&mut self.lock()).apply_page(&fresh, next, report)?;
            cursor = next;
            progress.pulled = report.pulled;
            progress.remaining = page.remaining;
            if let Some(f) = opts.progress {
                f(progress)
            }
            if page.remaining == 0 {
                break;
            }
        }
        Ok((cursor, head))
    }

    /// Uploads an encrypted, compacted snapshot of every record so the relay can drop the
    /// bundles it covers; a new device's first sync then downloads one item per record.
    /// Requires a completed sync (nothing to push, nothing pending).
    pub fn upload_snapshots(&self, transport: &dyn Transport) -> Result<u64> {
        let (vault, cursor, ids) = {
            let g = self.lock();
            // Signed as this device even if the transport last carried another one's requests.
            transport.bind_identity(g.device_id, &g.device_key);
            if Outbox::len(&g.conn)? > 0 || db::pending_size(&g.conn)?.0 > 0 {
                return Err(Error::InvalidState("sync first: local changes are not pushed".into()));
            }
            (g.vault_id, db::meta_u64(&g.conn, Meta::PullCursor)?, db::doc_ids(&g.conn)?)
        };
        let mut uploaded = 0;
        for id in ids {
            let bundle = {
                let mut g = self.lock();
                match snapshot_bundle(&mut g, id) {
                    Ok(Some(b)) => b,
                    Ok(None) | Err(Error::Erased(_)) | Err(Error::Corrupt { .. }) => continue,
                    Err(e) => return Err(e),
                }
            };
            transport.upload_snapshot(&vault, &id, cursor, bundle)?;
            uploaded += 1;
        }
        Ok(uploaded)
    }

    /// Local changes not yet pushed, as queued rows: a record's saves count one each until its
    /// next compaction folds them into one row (so the count can drop while offline).
    pub fn unpushed(&self) -> Result<u64> {
        Outbox::len(&self.lock().conn)
    }
}

/// A signed snapshot bundle of one record (`None` while changes wait for missing dependencies).
fn snapshot_bundle(g: &mut Inner, id: RecordId) -> Result<Option<Vec<u8>>> {
    let (kind, client, key_id, bytes) = {
        let c = g.cached_any(id)?;
        if !c.doc.get_missing_deps(&[]).is_empty() {
            return Ok(None);
        }
        let kind = Kind::from_code(c.header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        (kind, c.header.client_id, c.header.key_id, zeroize::Zeroizing::new(c.doc.save()))
    };
    let (key_id, key) = g.send_key(key_id, id)?;
    let seq = g.outbox.take_unqueued(&g.conn)?;
    let payload = doc_payload(g.vault_id, &key, key_id, id, kind, client, &bytes, seq, None);
    let b = Bundle::signed(
        BundleKind::Snapshot,
        g.vault_id,
        id,
        g.device_id,
        seq,
        key_id,
        payload,
        &g.device_key,
    );
    Ok(Some(b.encode()))
}
