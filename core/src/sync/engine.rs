//! The sync engine: push the outbox, pull pages after a cursor, verify and apply each page in one
//! transaction. See the module docs of [`crate::sync`] for the guarantees.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::AutoCommit;

use super::bundle::{Bundle, BundleKind};
use super::transport::{PageItem, Transport, TransportError};
use super::wire;
use super::{bundle_aad, doc_payload};
use crate::crypto::{envelope, signing, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, KeyId, RecordId};
use crate::records::registry::SignerState;
use crate::records::{summary, Kind};
use crate::store::db::{self, DocHeader, KeyRow};
use crate::vault::{Cached, Inner, Vault, VAULT_OWNER};

/// How a sync runs.
#[derive(Clone, Copy)]
pub struct SyncOptions<'a> {
    /// Bundles per push request and per pulled page.
    pub page_size: u32,
    /// Called after every pushed batch and applied page, for a progress bar.
    pub progress: Option<&'a (dyn Fn(&SyncProgress) + Sync)>,
    /// Set to stop between pages; the sync returns with `cancelled` and resumes next time.
    pub cancel: Option<&'a AtomicBool>,
}

impl Default for SyncOptions<'_> {
    fn default() -> Self {
        SyncOptions { page_size: 200, progress: None, cancel: None }
    }
}

impl std::fmt::Debug for SyncOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions").field("page_size", &self.page_size).finish_non_exhaustive()
    }
}

/// Counts so far, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Bundles pushed.
    pub pushed: u64,
    /// Local bundles still to push.
    pub to_push: u64,
    /// Bundles pulled.
    pub pulled: u64,
    /// Bundles the relay says remain to pull.
    pub remaining: u64,
}

/// Why a pulled bundle was refused. A refused bundle changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Not a bundle of a known version (truncated, garbage, oversized).
    Malformed,
    /// Addressed to another vault.
    OtherVault,
    /// Signed by a device this vault revoked.
    RevokedDevice,
    /// The signature does not verify.
    BadSignature,
    /// The payload does not decrypt under the key it names (tampered or moved).
    Undecryptable,
    /// It names another kind, client or key than the local copy of the record.
    Mismatch,
    /// Its Automerge content does not load.
    BadChanges,
    /// It would have to wait (unknown signer or key) but too many bundles already wait.
    PendingFull,
}

/// One refused bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The relay's sequence number of the bundle.
    pub relay_seq: u64,
    /// Why.
    pub reason: RejectReason,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Local bundles pushed.
    pub pushed: u64,
    /// Bundles pulled.
    pub pulled: u64,
    /// Bundles applied (new content).
    pub applied: u64,
    /// Bundles already applied, or this device's own.
    pub duplicates: u64,
    /// Bundles of erased clients, ignored.
    pub erased: u64,
    /// Bundles kept for later (unknown signer or key not yet shared), after this sync.
    pub pending: u64,
    /// Refused bundles.
    pub rejected: Vec<Rejection>,
    /// Erased key ids the relay was told to drop.
    pub dropped_keys: u64,
    /// The pull cursor after this sync.
    pub cursor: u64,
    /// The sync stopped early because it was cancelled; run it again to resume.
    pub cancelled: bool,
    /// Records that changed because of what was pulled (for observers and UI refresh).
    pub changed: Vec<RecordId>,
    /// Bundles were found missing (or the relay's sequence numbers could not be trusted) and
    /// everything was pulled again from the start.
    pub repaired: bool,
}

enum Outcome {
    Applied {
        registry: bool,
    },
    /// Checked and decrypted, merged with the rest of its record's page when the page ends.
    Staged,
    Duplicate,
    Erased,
    Deferred,
    Rejected(RejectReason),
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::InviteAlreadyClaimed => Error::InviteUsed,
            other => Error::Transport(other.to_string()),
        }
    }
}

fn cancelled(opts: &SyncOptions<'_>) -> bool {
    opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}

fn bundle_kind(code: u8) -> BundleKind {
    match code {
        1 => BundleKind::Snapshot,
        2 => BundleKind::KeyShare,
        _ => BundleKind::Change,
    }
}

impl Vault {
    /// Pushes local changes, then pulls and applies what other devices pushed. Safe to call
    /// from any thread while the vault is in use: the vault is locked per batch, never across a
    /// network call.
    pub fn sync(&self, transport: &dyn Transport, opts: &SyncOptions<'_>) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut progress = SyncProgress::default();
        let page_size = opts.page_size.clamp(1, 10_000);
        let report_progress = |p: &SyncProgress| {
            if let Some(f) = opts.progress {
                f(p)
            }
        };

        // 0. Make sure the relay knows this device, then the devices it invited or revoked.
        let vault = self.id();
        let (me, public, enrolled, queue) = {
            let g = self.lock();
            transport.bind_identity(g.device_id, &g.device_key);
            let enrolled = db::meta_get(&g.conn, "relay_enrolled")?.is_some();
            (g.device_id, g.device_key.public(), enrolled, db::relay_queue_all(&g.conn)?)
        };
        if !enrolled {
            transport.enroll(&vault, &me, &public)?;
            db::meta_put(&self.lock().conn, "relay_enrolled", &[1])?;
        }
        for (op, device, key) in queue {
            match op {
                1 => transport.enroll(&vault, &device, &key)?,
                _ => transport.revoke(&vault, &device)?,
            }
            db::relay_queue_delete(&self.lock().conn, op, &device)?;
        }

        // 1. Push the outbox, a batch at a time, each within the relay's limits.
        let push_rows = page_size.min(wire::MAX_BUNDLES_PER_REQUEST as u32);
        loop {
            if cancelled(opts) {
                report.cancelled = true;
                return Ok(report);
            }
            let (bundles, last, rows, left) = {
                let mut g = self.lock();
                let batch = push_batch(db::outbox_batch(&g.conn, push_rows)?);
                let left = db::outbox_len(&g.conn)?;
                let last = batch.last().map(|r| r.0);
                g.push_high = g.push_high.max(last.unwrap_or(0));
                let rows = batch.len() as u64;
                (g.outbox_bundles(batch)?, last, rows, left)
            };
            let Some(last) = last else { break };
            let n = bundles.len() as u64;
            transport.push(&vault, bundles)?;
            {
                let g = self.lock();
                db::outbox_delete_upto(&g.conn, last)?;
                let high = g.device_seq.max(last);
                db::meta_put(&g.conn, "device_seq", &high.to_be_bytes())?;
            }
            report.pushed += n;
            progress.pushed = report.pushed;
            progress.to_push = left.saturating_sub(rows);
            report_progress(&progress);
        }

        // 2. Tell the relay to drop what it holds for erased clients.
        let drops = db::relay_drops_all(&self.lock().conn)?;
        if !drops.is_empty() {
            transport.drop_key_ids(&vault, &drops)?;
            db::relay_drops_clear(&self.lock().conn)?;
            report.dropped_keys = drops.len() as u64;
        }

        // 3. Pull pages after the cursor and apply each in one transaction.
        let start = self.lock().pull_cursor()?;
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
            let (gaps, waiting) = self.lock().holes()?;
            let (seen, deps_head) = {
                let g = self.lock();
                (
                    db::meta_get(&g.conn, "gaps_repaired")?.and_then(|b| GapPulls::decode(&b)),
                    db::meta_get(&g.conn, "deps_repair_head")?,
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
                db::meta_put(&self.lock().conn, "deps_repair_head", &head_bytes)?;
            }
            let gaps_now = self.lock().holes()?.0;
            if let (Some(gaps), false) = (gaps_now, report.cancelled) {
                let pulls = match &seen {
                    Some(s) if s.gaps == gaps => s.pulls + u8::from(full),
                    _ => u8::from(full),
                };
                let record = GapPulls { gaps, pulls, head }.encode();
                db::meta_put(&self.lock().conn, "gaps_repaired", &record)?;
            }
        }
        let mut g = self.lock();
        g.retry_pending(&mut report)?;
        g.apply_registry_erasures()?;
        report.pending = db::pending_all(&g.conn)?.len() as u64;
        report.cursor = cursor;
        Ok(report)
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
            self.lock().apply_page(&fresh, next, report)?;
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
            if db::outbox_len(&g.conn)? > 0 || !db::pending_all(&g.conn)?.is_empty() {
                return Err(Error::InvalidState("sync first: local changes are not pushed".into()));
            }
            (g.vault_id, g.pull_cursor()?, db::doc_ids(&g.conn)?)
        };
        let mut uploaded = 0;
        for id in ids {
            let bundle = {
                let mut g = self.lock();
                match g.snapshot_bundle(id) {
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
        db::outbox_len(&self.lock().conn)
    }
}

/// Full pulls made for one set of gaps in other devices' sequence numbers.
const GAP_PULLS: u8 = 2;

/// What was pulled for the current gaps: their fingerprint, how many full pulls saw them, and
/// the relay head at the last one. Stored as `pulls u8 | head u64 | fingerprint`.
struct GapPulls {
    gaps: Vec<u8>,
    pulls: u8,
    head: u64,
}

impl GapPulls {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.pulls];
        out.extend_from_slice(&self.head.to_be_bytes());
        out.extend_from_slice(&self.gaps);
        out
    }

    fn decode(b: &[u8]) -> Option<GapPulls> {
        let (&pulls, rest) = b.split_first()?;
        let head = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        Some(GapPulls { gaps: rest[8..].to_vec(), pulls, head })
    }
}

/// A checked, decrypted change bundle waiting for the end of its page.
struct Staged {
    relay_seq: u64,
    device: DeviceId,
    first: u64,
    seq: u64,
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

/// The change bundles of one page, grouped by record in the order records first appear.
#[derive(Default)]
struct Stage {
    /// The public key the bundle being applied was already verified under, if any.
    verified: Option<[u8; 32]>,
    seen: HashSet<(DeviceId, u64)>,
    index: HashMap<RecordId, usize>,
    docs: Vec<(RecordId, Kind, SecretKey, Vec<Staged>)>,
}

impl Stage {
    fn add(&mut self, id: RecordId, kind: Kind, key: SecretKey, s: Staged) {
        self.seen.insert((s.device, s.seq));
        match self.index.get(&id) {
            Some(&i) => self.docs[i].3.push(s),
            None => {
                self.index.insert(id, self.docs.len());
                self.docs.push((id, kind, key, vec![s]));
            }
        }
    }
}

/// Most encrypted bytes of saves coalesced into one bundle.
const MAX_COALESCED: usize = 1 << 20;

/// What a fold's payload carries besides the document: kind, client, span and envelope.
const FOLD_OVERHEAD: usize = 128;

/// Room for a bundle's header and signature next to its payload (the header is under 100 bytes).
const BUNDLE_OVERHEAD: usize = 256;

/// The leading rows of an outbox batch that fit in one push of [`wire::MAX_PUSH_BYTES`]; the
/// first row always goes, so one very large save is sent alone (and a relay that refuses it
/// says so with a typed error) instead of stalling every save behind it.
fn push_batch(mut rows: Vec<db::OutboxRow>) -> Vec<db::OutboxRow> {
    let mut bytes = 0usize;
    let keep = rows
        .iter()
        .position(|r| {
            bytes = bytes.saturating_add(r.4.len() + BUNDLE_OVERHEAD);
            bytes > wire::MAX_PUSH_BYTES
        })
        .unwrap_or(rows.len())
        .max(1);
    rows.truncate(keep);
    rows
}

impl Inner {
    /// Turns a batch of outbox rows (in sequence order) into signed bundles. A run of
    /// consecutive saves of one record (a note typed offline, keystroke by keystroke) becomes
    /// one bundle covering their sequence numbers: one signature, one envelope and one
    /// Automerge load on every receiving device instead of one per save.
    fn outbox_bundles(&mut self, rows: Vec<db::OutboxRow>) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut i = 0;
        while i < rows.len() {
            let (first, kind, doc, key_id, _) = &rows[i];
            let mut j = i + 1;
            let mut size = rows[i].4.len();
            while *kind == BundleKind::Change as u8 && j < rows.len() {
                let (seq, k, d, kid, payload) = &rows[j];
                size += payload.len();
                let joins = k == kind
                    && d == doc
                    && kid == key_id
                    && *seq == rows[j - 1].0 + 1
                    && seq - first < super::MAX_SPAN
                    && size <= MAX_COALESCED;
                if !joins {
                    break;
                }
                j += 1;
            }
            let run = &rows[i..j];
            let coalesced = if run.len() > 1 { self.coalesce(run)? } else { None };
            let sign = |g: &Self, seq: u64, kind: u8, doc, key, payload| {
                Bundle::signed(
                    bundle_kind(kind),
                    g.vault_id,
                    doc,
                    g.device_id,
                    seq,
                    key,
                    payload,
                    &g.device_key,
                )
                .encode()
            };
            match coalesced {
                Some((last, payload)) => out.push(sign(self, last, *kind, *doc, *key_id, payload)),
                None => {
                    for (seq, kind, doc, key, payload) in run {
                        out.push(sign(self, *seq, *kind, *doc, *key, payload.clone()));
                    }
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// One payload holding the changes of a run of saves of one record, sealed for the run's
    /// last sequence number; `None` (push them one by one) if the key is gone, a row does not
    /// open as expected, or the run would cover more than [`super::MAX_SPAN`] numbers. The run's
    /// first row may itself cover earlier numbers (a fold, see [`Inner::outbox_fold`]).
    fn coalesce(&mut self, run: &[db::OutboxRow]) -> Result<Option<(u64, Vec<u8>)>> {
        let (_, _, doc, key_id, _) = &run[0];
        let Some(key) = self.data_key(*key_id, *doc)? else { return Ok(None) };
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        let mut head = None;
        let mut first = None;
        for (seq, _, _, _, payload) in run {
            let aad = bundle_aad(self.vault_id, *doc, *seq, Part::Bundle);
            let Ok(plain) = envelope::open(&key, key_id, &aad, payload) else { return Ok(None) };
            let Some(p) = super::parse_doc_plain(&plain, *seq) else { return Ok(None) };
            let spans = p.first != *seq;
            if (spans && first.is_some()) || head.is_some_and(|h| h != (p.kind, p.client)) {
                return Ok(None);
            }
            head = Some((p.kind, p.client));
            first = first.or(Some(p.first));
            bytes.extend_from_slice(p.bytes);
        }
        let (Some((kind, client)), Some(first), Some(last)) =
            (head, first, run.last().map(|r| r.0))
        else {
            return Ok(None);
        };
        if last - first >= super::MAX_SPAN {
            return Ok(None);
        }
        let payload = doc_payload(
            self.vault_id,
            &key,
            *key_id,
            *doc,
            kind,
            client,
            &bytes,
            last,
            Some(first),
        );
        Ok(Some((last, payload)))
    }

    /// Plans the fold of a record's queued saves: the newest unbroken run of them (see
    /// [`db::outbox_tail_run`]) not yet read by a push becomes one row, numbered like the run's
    /// last, covering the run's numbers and holding `document` (the whole record as just saved,
    /// which contains every change of the run). Returns the rows to replace and the new payload;
    /// `None` if there is nothing to fold, or if the saves queued since the last fold are smaller
    /// than the document (a long record with a short queue stays as it is). A receiver merges the
    /// document like any other bundle.
    pub(crate) fn outbox_fold(
        &self,
        h: &DocHeader,
        key: &SecretKey,
        document: &[u8],
    ) -> Result<Option<(u64, u64, Vec<u8>)>> {
        let span = super::MAX_SPAN as usize - 1;
        let run = db::outbox_tail_run(&self.conn, &h.doc_id, &h.key_id, self.push_high, span)?;
        let (Some(&(last, _)), Some(&(oldest, oldest_len))) = (run.first(), run.last()) else {
            return Ok(None);
        };
        // Fold once the saves queued since the last fold outweigh the document: the queue stays
        // within about twice the record's size, and a long record is rewritten only every so
        // many keystrokes, not at every compaction. The oldest row may be that last fold (only
        // the oldest can be: a fold's number is its run's last, so nothing before it is
        // consecutive with it); opening it tells, and is skipped when the sum decides anyway.
        let threshold = document.len() + FOLD_OVERHEAD;
        let newer: usize = run[..run.len() - 1].iter().map(|&(_, n)| n).sum();
        if run.len() < 2 || newer + oldest_len <= threshold {
            return Ok(None);
        }
        let opened = db::outbox_payload(&self.conn, oldest)?.and_then(|payload| {
            let aad = bundle_aad(self.vault_id, h.doc_id, oldest, Part::Bundle);
            let plain = envelope::open(key, &h.key_id, &aad, &payload).ok()?;
            super::parse_doc_plain(&plain, oldest).map(|p| p.first)
        });
        let Some(covered) = opened else { return Ok(None) };
        let singles = if covered < oldest { newer } else { newer + oldest_len };
        if singles <= threshold {
            return Ok(None);
        }
        let (from, first) = if last - covered < super::MAX_SPAN {
            (oldest, covered)
        } else {
            // The older fold is full: leave it and fold the rest.
            let next = run[run.len() - 2].0;
            (next, next)
        };
        if from >= last {
            return Ok(None);
        }
        let kind = Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(h.doc_id, "kind"))?;
        let payload = super::doc_payload(
            self.vault_id,
            key,
            h.key_id,
            h.doc_id,
            kind,
            h.client_id,
            document,
            last,
            Some(first),
        );
        Ok(Some((from, last, payload)))
    }

    /// What seems missing: a fingerprint of the gaps in other devices' sequence numbers (`None`
    /// if there are none), and whether any loaded record has changes waiting for dependencies.
    fn holes(&mut self) -> Result<(Option<Vec<u8>>, bool)> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let mut any = false;
        let mut st = self.conn.prepare_cached(
            "SELECT device_id, max(seq) - min(seq) + 1 - count(*) FROM applied GROUP BY device_id ORDER BY device_id",
        )?;
        let gaps = st
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (device, gap) in gaps {
            if gap > 0 {
                any = true;
                h.update(&device);
                h.update(gap.to_be_bytes());
            }
        }
        let waiting = self.docs.values_mut().any(|c| !c.doc.get_missing_deps(&[]).is_empty());
        Ok((any.then(|| h.finalize().to_vec()), waiting))
    }

    pub(crate) fn pull_cursor(&self) -> Result<u64> {
        Ok(db::meta_get(&self.conn, "pull_cursor")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    fn snapshot_bundle(&mut self, id: RecordId) -> Result<Option<Vec<u8>>> {
        let (kind, client, key_id, bytes) = {
            let c = self.cached_any(id)?;
            if !c.doc.get_missing_deps(&[]).is_empty() {
                return Ok(None);
            }
            let kind = Kind::from_code(c.header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
            (kind, c.header.client_id, c.header.key_id, c.doc.save())
        };
        let key = self.data_key(key_id, id)?.ok_or(Error::Erased(id))?;
        self.device_seq += 1;
        let seq = self.device_seq;
        db::meta_put(&self.conn, "device_seq", &seq.to_be_bytes())?;
        let payload = doc_payload(self.vault_id, &key, key_id, id, kind, client, &bytes, seq, None);
        let b = Bundle::signed(
            BundleKind::Snapshot,
            self.vault_id,
            id,
            self.device_id,
            seq,
            key_id,
            payload,
            &self.device_key,
        );
        Ok(Some(b.encode()))
    }

    fn cached_any(&mut self, id: RecordId) -> Result<&mut Cached> {
        self.load(id)?;
        self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))
    }

    /// Applies one page inside one transaction, then records the new cursor in it.
    fn apply_page(
        &mut self,
        items: &[&PageItem],
        cursor: u64,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut decoded = Vec::with_capacity(items.len());
        for item in items {
            match Bundle::decode(&item.bundle) {
                Ok(b) => decoded.push((item.seq, b, &item.bundle)),
                Err(_) => report
                    .rejected
                    .push(Rejection { relay_seq: item.seq, reason: RejectReason::Malformed }),
            }
        }
        // Registry changes and key shares first: they decide what the rest may do.
        let sync_key = self.sync_key_id;
        decoded.sort_by_key(|(seq, b, _)| {
            (b.key_id != sync_key && b.kind != BundleKind::KeyShare, *seq)
        });
        // Signatures of known signers are checked together up front; the registry may still
        // change within the page, so each bundle's signer is looked up again when it is applied.
        let verified = {
            let signers: Vec<Option<[u8; 32]>> = decoded
                .iter()
                .map(|(_, b, _)| {
                    let theirs = b.vault == self.vault_id && b.device != self.device_id;
                    theirs.then(|| self.registry.signer(&b.device, b.seq).ok().copied()).flatten()
                })
                .collect();
            let inputs: Vec<Vec<u8>> = decoded.iter().map(|(_, b, _)| b.signing_input()).collect();
            let (mut at, mut items) = (Vec::new(), Vec::<signing::Signed<'_>>::new());
            for (i, signer) in signers.iter().enumerate() {
                if let Some(k) = signer {
                    at.push(i);
                    items.push((k, inputs[i].as_slice(), &decoded[i].1.signature));
                }
            }
            let mut verified = vec![None; decoded.len()];
            for (i, good) in at.into_iter().zip(signing::verify_many(&items)) {
                if good {
                    verified[i] = signers[i];
                }
            }
            verified
        };
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| -> Result<bool> {
            let mut registry_changed = false;
            let mut stage = Stage::default();
            for (i, (seq, b, raw)) in decoded.iter().enumerate() {
                stage.verified = verified[i];
                if let Outcome::Applied { registry: true } =
                    self.apply_one(*seq, b, raw, report, Some(&mut stage))?
                {
                    registry_changed = true;
                    self.refresh_registry();
                }
            }
            self.merge_staged(stage, report)?;
            db::meta_put(&self.conn, "pull_cursor", &cursor.to_be_bytes())?;
            Ok(registry_changed)
        })();
        match result {
            Ok(_) => {
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.forget_caches();
                    return Err(e.into());
                }
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.forget_caches();
                Err(e)
            }
        }
    }

    fn forget_caches(&mut self) {
        self.docs.clear();
        self.keys.clear();
        self.refresh_registry();
    }

    /// Retries pending bundles until no more can be applied.
    fn retry_pending(&mut self, report: &mut SyncReport) -> Result<()> {
        loop {
            let pending = db::pending_all(&self.conn)?;
            let mut progressed = false;
            for (relay_seq, raw) in pending {
                let Ok(b) = Bundle::decode(&raw) else {
                    db::pending_delete(&self.conn, &raw)?;
                    continue;
                };
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
                let outcome = self.apply_one(relay_seq, &b, &raw, report, None);
                match outcome {
                    Ok(Outcome::Deferred) => {
                        self.conn.execute_batch("COMMIT")?;
                    }
                    Ok(o) => {
                        db::pending_delete(&self.conn, &raw)?;
                        self.conn.execute_batch("COMMIT")?;
                        progressed = true;
                        if let Outcome::Applied { registry: true } = o {
                            self.refresh_registry();
                        }
                    }
                    Err(e) => {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        self.forget_caches();
                        return Err(e);
                    }
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    /// Destroys locally the keys of clients the registry lists as erased.
    pub(crate) fn apply_registry_erasures(&mut self) -> Result<()> {
        let erased: Vec<(RecordId, Vec<KeyId>)> =
            self.registry.erased.iter().map(|(c, k)| (*c, k.clone())).collect();
        for (client, keys) in erased {
            let live = db::keys_of_client(&self.conn, &client)?.iter().any(|k| k.wrapped.is_some());
            if live {
                self.destroy_client_keys(client, &keys)?;
            }
        }
        Ok(())
    }

    fn apply_one(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        raw: &[u8],
        report: &mut SyncReport,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        let outcome = self.check_and_apply(relay_seq, b, stage)?;
        match &outcome {
            Outcome::Staged => {}
            Outcome::Applied { .. } => {
                db::applied_insert(&self.conn, &b.device, b.seq)?;
                report.applied += 1;
                if b.kind != BundleKind::KeyShare && !report.changed.contains(&b.doc) {
                    report.changed.push(b.doc);
                }
            }
            Outcome::Duplicate => report.duplicates += 1,
            Outcome::Erased => {
                db::applied_insert(&self.conn, &b.device, b.seq)?;
                report.erased += 1;
            }
            Outcome::Deferred => {
                if !db::pending_put(&self.conn, relay_seq, raw)? {
                    report
                        .rejected
                        .push(Rejection { relay_seq, reason: RejectReason::PendingFull });
                }
            }
            Outcome::Rejected(reason) => {
                report.rejected.push(Rejection { relay_seq, reason: *reason })
            }
        }
        Ok(outcome)
    }

    fn check_and_apply(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        if b.vault != self.vault_id {
            return Ok(Outcome::Rejected(RejectReason::OtherVault));
        }
        if b.device == self.device_id {
            return Ok(Outcome::Duplicate);
        }
        let public = match self.registry.signer(&b.device, b.seq) {
            Ok(p) => *p,
            Err(SignerState::Unknown) => return Ok(Outcome::Deferred),
            Err(SignerState::Revoked) => return Ok(Outcome::Rejected(RejectReason::RevokedDevice)),
        };
        let pre_verified = stage.as_ref().is_some_and(|s| s.verified == Some(public));
        if !pre_verified && b.verify(&public).is_err() {
            return Ok(Outcome::Rejected(RejectReason::BadSignature));
        }
        if db::applied_contains(&self.conn, &b.device, b.seq)?
            || stage.as_ref().is_some_and(|s| s.seen.contains(&(b.device, b.seq)))
        {
            return Ok(Outcome::Duplicate);
        }
        match b.kind {
            BundleKind::KeyShare => self.apply_key_share(b),
            BundleKind::Change | BundleKind::Snapshot => self.apply_doc(relay_seq, b, stage),
        }
    }

    fn apply_key_share(&mut self, b: &Bundle) -> Result<Outcome> {
        if b.doc.as_bytes() != b.key_id.as_bytes() {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        let sync_key = self
            .data_key(self.sync_key_id, VAULT_OWNER)?
            .ok_or(Error::NotAVault("sync key destroyed"))?;
        let aad = bundle_aad(self.vault_id, b.doc, b.seq, Part::KeyShare);
        let Ok(plain) = envelope::open(&sync_key, &self.sync_key_id, &aad, &b.payload) else {
            return Ok(Outcome::Rejected(RejectReason::Undecryptable));
        };
        if plain.len() != 49 || !(1..=2).contains(&plain[16]) {
            return Ok(Outcome::Rejected(RejectReason::Malformed));
        }
        let client = RecordId::from_slice(&plain[..16]).ok_or(Error::Internal("id".into()))?;
        if self.registry.erased.contains_key(&client) {
            return Ok(Outcome::Erased);
        }
        if db::key_get(&self.conn, &b.key_id)?.is_some() {
            // Known already (from an invite): nothing to do, but the sequence number is
            // accounted for, so that it does not look like a withheld bundle.
            db::applied_insert(&self.conn, &b.device, b.seq)?;
            return Ok(Outcome::Duplicate);
        }
        let key = SecretKey::from_slice(&plain[17..]).ok_or(Error::Internal("key".into()))?;
        let wrapped = envelope::seal(
            &self.vault_key,
            &KeyId::from_bytes([0; 16]),
            &Inner::wrap_aad(self.vault_id, b.key_id),
            key.expose(),
        );
        db::key_insert(
            &self.conn,
            &KeyRow {
                key_id: b.key_id,
                client_id: client,
                purpose: plain[16],
                wrapped: Some(wrapped),
            },
        )?;
        self.keys.insert(b.key_id, key);
        Ok(Outcome::Applied { registry: false })
    }

    fn apply_doc(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        let row = match db::key_get(&self.conn, &b.key_id)? {
            None => return Ok(Outcome::Deferred),
            Some(r) if r.wrapped.is_none() => return Ok(Outcome::Erased),
            Some(r) => r,
        };
        let key = self.data_key(b.key_id, b.doc)?.ok_or(Error::Erased(b.doc))?;
        let aad = bundle_aad(self.vault_id, b.doc, b.seq, Part::Bundle);
        let Ok(plain) = envelope::open(&key, &b.key_id, &aad, &b.payload) else {
            return Ok(Outcome::Rejected(RejectReason::Undecryptable));
        };
        let Some(super::DocPlain { kind, client, first, bytes }) =
            super::parse_doc_plain(&plain, b.seq)
        else {
            return Ok(Outcome::Rejected(RejectReason::Malformed));
        };
        let is_registry = kind == Kind::Registry;
        // Clinical content never rides under the never-erased sync key, and the registry only
        // under it; the key must belong to the client the payload names.
        if client != row.client_id || is_registry != (b.key_id == self.sync_key_id) {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        if is_registry && b.doc != self.registry_id {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        let outcome = match db::doc_header(&self.conn, &b.doc)? {
            Some(h) => {
                if h.kind != kind as u8 || h.client_id != client || h.key_id != b.key_id {
                    return Ok(Outcome::Rejected(RejectReason::Mismatch));
                }
                if let Err(e) = self.load(b.doc) {
                    return match e {
                        // A damaged local copy: keep the bundle for when it is restored.
                        Error::Corrupt { .. } => Ok(Outcome::Deferred),
                        other => Err(other),
                    };
                }
                // Changes to a record are merged together at the end of the page: one
                // Automerge load, one stored change and one summary per record, not per bundle.
                if let (Some(stage), BundleKind::Change, false) = (stage, b.kind, is_registry) {
                    stage.add(
                        b.doc,
                        kind,
                        key,
                        Staged {
                            relay_seq,
                            device: b.device,
                            first,
                            seq: b.seq,
                            bytes: zeroize::Zeroizing::new(bytes.to_vec()),
                        },
                    );
                    return Ok(Outcome::Staged);
                }
                self.merge_into_cached(b.doc, kind, &key, bytes, b.kind == BundleKind::Snapshot)?
            }
            None => self.create_from_bundle(b.doc, kind, client, b.key_id, &key, bytes)?,
        };
        // A bundle covering several saves marks all their sequence numbers applied (the
        // caller marks `b.seq`).
        if matches!(outcome, Outcome::Applied { .. }) && first < b.seq {
            db::applied_insert_range(&self.conn, &b.device, first, b.seq - 1)?;
        }
        Ok(outcome)
    }

    /// Merges the staged changes of a page, one Automerge load per record. If a record's
    /// combined changes do not load, its bundles are merged one by one so that only the bad ones
    /// are refused.
    fn merge_staged(&mut self, stage: Stage, report: &mut SyncReport) -> Result<()> {
        for (id, kind, key, members) in stage.docs {
            let together = members.len() > 1;
            if together {
                let all = zeroize::Zeroizing::new(
                    members.iter().flat_map(|m| m.bytes.iter().copied()).collect::<Vec<u8>>(),
                );
                self.cached_any(id)?;
                if let Outcome::Applied { .. } =
                    self.merge_into_cached(id, kind, &key, &all, false)?
                {
                    for m in &members {
                        Self::staged_applied(&self.conn, id, m, report)?;
                    }
                    continue;
                }
            }
            for m in &members {
                self.cached_any(id)?;
                match self.merge_into_cached(id, kind, &key, &m.bytes, false)? {
                    Outcome::Applied { .. } => Self::staged_applied(&self.conn, id, m, report)?,
                    Outcome::Rejected(reason) => {
                        report.rejected.push(Rejection { relay_seq: m.relay_seq, reason })
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn staged_applied(
        conn: &rusqlite::Connection,
        id: RecordId,
        m: &Staged,
        report: &mut SyncReport,
    ) -> Result<()> {
        db::applied_insert_range(conn, &m.device, m.first, m.seq)?;
        report.applied += 1;
        if !report.changed.contains(&id) {
            report.changed.push(id);
        }
        Ok(())
    }

    fn merge_into_cached(
        &mut self,
        id: RecordId,
        kind: Kind,
        key: &SecretKey,
        bytes: &[u8],
        whole: bool,
    ) -> Result<Outcome> {
        let vault = self.vault_id;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        let heads = c.doc.get_heads();
        let missing = c.doc.get_missing_deps(&[]);
        if !crate::records::am::load_incremental_safely(&mut c.doc, bytes) {
            self.docs.remove(&id);
            return Ok(Outcome::Rejected(RejectReason::BadChanges));
        }
        // A whole-document snapshot that brought nothing new need not be stored. Change bundles
        // always are: one may wait on the same missing dependency as another, leaving heads and
        // missing dependencies unchanged, and must still survive a restart.
        if whole && c.doc.get_heads() == heads && c.doc.get_missing_deps(&[]) == missing {
            return Ok(Outcome::Applied { registry: kind == Kind::Registry });
        }
        let seq = c.header.next_seq;
        let aad =
            crate::crypto::Aad { vault, record: id, kind: c.header.kind, seq, part: Part::Change };
        let sealed = envelope::seal(key, &c.header.key_id, &aad, bytes);
        db::change_append(&self.conn, &id, seq, &sealed)?;
        c.header.next_seq = seq + 1;
        c.saved_heads = c.doc.get_heads();
        if let Ok(s) = summary::encoded(kind, &c.doc, id) {
            if s != c.summary {
                let aad = crate::crypto::Aad {
                    vault,
                    record: id,
                    kind: c.header.kind,
                    seq,
                    part: Part::Summary,
                };
                db::summary_put(
                    &self.conn,
                    &id,
                    seq,
                    &envelope::seal(key, &c.header.key_id, &aad, &s),
                )?;
                c.summary = s;
            }
        }
        Ok(Outcome::Applied { registry: kind == Kind::Registry })
    }

    fn create_from_bundle(
        &mut self,
        id: RecordId,
        kind: Kind,
        client: RecordId,
        key_id: KeyId,
        key: &SecretKey,
        bytes: &[u8],
    ) -> Result<Outcome> {
        let mut doc = AutoCommit::new();
        if !crate::records::am::load_incremental_safely(&mut doc, bytes) {
            return Ok(Outcome::Rejected(RejectReason::BadChanges));
        }
        let header = DocHeader {
            doc_id: id,
            kind: kind as u8,
            client_id: client,
            key_id,
            next_seq: 2,
            snapshot_seq: 0,
        };
        let empty = AutoCommit::new().save();
        let snap = envelope::seal(key, &key_id, &self.aad(&header, 0, Part::Snapshot), &empty);
        let change = envelope::seal(key, &key_id, &self.aad(&header, 1, Part::Change), bytes);
        db::doc_insert(&self.conn, &header, &snap)?;
        db::change_append(&self.conn, &id, 1, &change)?;
        let summary = summary::encoded(kind, &doc, id).unwrap_or_default();
        if !summary.is_empty() {
            let s = envelope::seal(key, &key_id, &self.aad(&header, 1, Part::Summary), &summary);
            db::summary_put(&self.conn, &id, 1, &s)?;
        }
        let saved_heads = doc.get_heads();
        let header = DocHeader { next_seq: 2, ..header };
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(Outcome::Applied { registry: kind == Kind::Registry })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sizes: &[usize]) -> Vec<db::OutboxRow> {
        let (doc, key) = (RecordId::from_bytes([1; 16]), KeyId::from_bytes([2; 16]));
        sizes.iter().enumerate().map(|(i, n)| (i as u64 + 1, 0, doc, key, vec![0; *n])).collect()
    }

    #[test]
    fn a_push_stays_within_the_byte_budget_but_always_carries_one_save() {
        let mb = 1 << 20;
        let seqs = |b: Vec<db::OutboxRow>| b.iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(seqs(push_batch(rows(&[3 * mb, 3 * mb, 3 * mb, 1]))), vec![1, 2]);
        assert_eq!(seqs(push_batch(rows(&[20 * mb, 1]))), vec![1], "a huge save goes alone");
        assert_eq!(seqs(push_batch(rows(&[10; 400]))).len(), 400);
        assert!(push_batch(Vec::new()).is_empty());
    }
}
