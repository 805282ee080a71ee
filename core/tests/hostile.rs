//! A hostile relay: it replays, reorders, drops, duplicates, truncates and flips bits in bundles,
//! moves them between documents and vaults, forges signers, serves garbage and lies about what
//! remains. Each test checks the victim's typed report, that its store is intact (records read as
//! on an honestly synced control device, the file reopens), and that honest syncs afterwards
//! converge every device.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use mend_core::crypto::signing::DeviceKey;
use mend_core::query::TimelineEntry;
use mend_core::sync::bundle::{Bundle, BundleKind, MAX_PAYLOAD};
use mend_core::sync::{
    MemoryRelay, Page, PageItem, RejectReason, SyncOptions, SyncReport, Transport, TransportError,
};
use mend_core::*;
use mend_testkit::*;

const T0: Timestamp = 1_767_600_000_000;
const MIN: Timestamp = 60_000;
const DAY: Timestamp = 24 * 60 * MIN;

/// The key `mend_testkit::join` gives joined devices ([`JOIN_KEY`]).
const JOINED_KEY: [u8; 32] = JOIN_KEY;

// ----- the hostile relay ---------------------------------------------------------------------

type Tamper = Box<dyn Fn(&[u8]) -> Vec<Vec<u8>> + Send + Sync>;
type ScriptFn = Box<dyn Fn(&[PageItem], &[PageItem]) -> Vec<PageItem> + Send + Sync>;
/// Where in a bundle to flip a bit.
type Position = fn(&[u8]) -> usize;

/// How the relay misbehaves on `pull`. "Fresh" bundles are those the honest relay holds after
/// the victim's cursor; the relay builds its whole answer from them on the first pull and then
/// pages through it, whatever cursor the victim sends.
enum Mode {
    /// The fresh bundles, then every bundle the relay holds again, under the last fresh seq.
    Replay,
    /// The fresh bundles, then every bundle again under new seqs above the relay's highest.
    ReplayAbove,
    /// The fresh bundles newest first, relabelled with ascending seqs.
    Reverse,
    /// The fresh bundles shuffled (seeded), relabelled with ascending seqs.
    Shuffle(u64),
    /// The first fresh bundle and those at these indices, all under the first one's seq; the rest
    /// is omitted (an honest relay serves it after that seq).
    Early(Vec<usize>),
    /// Only the first n fresh bundles, under their own seqs.
    Tail(usize),
    /// The fresh bundles under their own seqs, except those at these indices.
    Gap(Vec<usize>),
    /// Every fresh bundle twice.
    Duplicate,
    /// Before each fresh bundle, the tampered copies the function makes of it, under its seq.
    Tamper(Tamper),
    /// The fresh bundles, plus these items, the k-th under the seq of fresh bundle k mod n.
    Inject(Vec<Vec<u8>>),
    /// A script built by the test from (fresh, all).
    Script(ScriptFn),
    /// An empty page claiming that u64::MAX bundles remain.
    EmptyHuge,
    /// Only bundles at or before the cursor, claiming that u64::MAX remain.
    StaleHuge,
    /// Honest pages, each claiming that u64::MAX bundles remain.
    LyingRemaining,
}

struct HostileRelay<'a> {
    inner: &'a MemoryRelay,
    mode: Mode,
    script: Mutex<Option<(Vec<PageItem>, usize)>>,
    fresh: AtomicUsize,
    pulls: AtomicU64,
}

impl<'a> HostileRelay<'a> {
    fn new(inner: &'a MemoryRelay, mode: Mode) -> Self {
        HostileRelay {
            inner,
            mode,
            script: Mutex::new(None),
            fresh: AtomicUsize::new(0),
            pulls: AtomicU64::new(0),
        }
    }

    /// How many fresh bundles the honest relay held when the script was built.
    fn fresh(&self) -> usize {
        self.fresh.load(Ordering::Relaxed)
    }

    fn build(&self, fresh: &[PageItem], all: &[PageItem]) -> Vec<PageItem> {
        let item = |seq: u64, bundle: &[u8]| PageItem { seq, bundle: bundle.to_vec() };
        if let Mode::Script(f) = &self.mode {
            return f(fresh, all);
        }
        let (Some(first), Some(last)) = (fresh.first(), fresh.last()) else { return vec![] };
        let (first, last) = (first.seq, last.seq);
        match &self.mode {
            Mode::Replay => {
                fresh.iter().cloned().chain(all.iter().map(|i| item(last, &i.bundle))).collect()
            }
            Mode::ReplayAbove => {
                let top = all.last().map_or(last, |i| i.seq);
                fresh
                    .iter()
                    .cloned()
                    .chain(all.iter().enumerate().map(|(k, i)| item(top + 1 + k as u64, &i.bundle)))
                    .collect()
            }
            Mode::Reverse => {
                fresh.iter().zip(fresh.iter().rev()).map(|(s, b)| item(s.seq, &b.bundle)).collect()
            }
            Mode::Shuffle(seed) => {
                let mut order: Vec<usize> = (0..fresh.len()).collect();
                let mut x = seed | 1;
                for i in (1..order.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    order.swap(i, (x % (i as u64 + 1)) as usize);
                }
                fresh.iter().zip(order).map(|(s, k)| item(s.seq, &fresh[k].bundle)).collect()
            }
            Mode::Early(indices) => std::iter::once(&0)
                .chain(indices)
                .filter(|i| **i < fresh.len())
                .map(|i| item(first, &fresh[*i].bundle))
                .collect(),
            Mode::Tail(n) => fresh.iter().take(*n).cloned().collect(),
            Mode::Gap(omit) => fresh
                .iter()
                .enumerate()
                .filter(|(i, _)| !omit.contains(i))
                .map(|(_, i)| i.clone())
                .collect(),
            Mode::Duplicate => fresh.iter().flat_map(|i| [i.clone(), i.clone()]).collect(),
            Mode::Tamper(f) => fresh
                .iter()
                .flat_map(|i| {
                    let mut out: Vec<PageItem> =
                        f(&i.bundle).into_iter().map(|b| item(i.seq, &b)).collect();
                    out.push(i.clone());
                    out
                })
                .collect(),
            Mode::Inject(extra) => {
                let mut out: Vec<PageItem> = fresh.to_vec();
                for (k, b) in extra.iter().enumerate() {
                    out.push(item(fresh[k % fresh.len()].seq, b));
                }
                out.sort_by_key(|i| i.seq);
                out
            }
            Mode::Script(_) | Mode::EmptyHuge | Mode::StaleHuge | Mode::LyingRemaining => {
                unreachable!()
            }
        }
    }
}

impl Transport for HostileRelay<'_> {
    fn push(&self, vault: &VaultId, bundles: Vec<Vec<u8>>) -> Result<(), TransportError> {
        self.inner.push(vault, bundles)
    }

    fn pull(&self, vault: &VaultId, since: u64, limit: u32) -> Result<Page, TransportError> {
        // A sync that never stops pulling fails the test instead of hanging it.
        if self.pulls.fetch_add(1, Ordering::Relaxed) > 1_000 {
            return Err(TransportError::Unavailable("the victim never stopped pulling".into()));
        }
        match &self.mode {
            Mode::EmptyHuge => return Ok(Page { items: vec![], remaining: u64::MAX, head: 0 }),
            Mode::StaleHuge => {
                let all = self.inner.pull(vault, 0, u32::MAX)?.items;
                let items = all.into_iter().filter(|i| i.seq <= since).collect();
                return Ok(Page { items, remaining: u64::MAX, head: 0 });
            }
            Mode::LyingRemaining => {
                let mut page = self.inner.pull(vault, since, limit)?;
                page.remaining = u64::MAX;
                return Ok(page);
            }
            _ => {}
        }
        let mut guard = self.script.lock().unwrap();
        if guard.is_none() {
            let fresh = self.inner.pull(vault, since, u32::MAX)?.items;
            let all = self.inner.pull(vault, 0, u32::MAX)?.items;
            self.fresh.store(fresh.len(), Ordering::Relaxed);
            *guard = Some((self.build(&fresh, &all), 0));
        }
        let (script, pos) = guard.as_mut().unwrap();
        let end = (*pos + limit as usize).min(script.len());
        let items = script[*pos..end].to_vec();
        *pos = end;
        Ok(Page { items, remaining: (script.len() - end) as u64, head: 0 })
    }

    fn upload_snapshot(
        &self,
        vault: &VaultId,
        doc: &RecordId,
        covers: u64,
        bundle: Vec<u8>,
    ) -> Result<(), TransportError> {
        self.inner.upload_snapshot(vault, doc, covers, bundle)
    }

    fn drop_key_ids(&self, vault: &VaultId, key_ids: &[KeyId]) -> Result<(), TransportError> {
        self.inner.drop_key_ids(vault, key_ids)
    }

    fn claim_invite(&self, vault: &VaultId, invite_id: &[u8; 16]) -> Result<(), TransportError> {
        self.inner.claim_invite(vault, invite_id)
    }

    fn enroll(
        &self,
        vault: &VaultId,
        device: &DeviceId,
        public: &[u8; 32],
    ) -> Result<(), TransportError> {
        self.inner.enroll(vault, device, public)
    }

    fn revoke(&self, vault: &VaultId, device: &DeviceId) -> Result<(), TransportError> {
        self.inner.revoke(vault, device)
    }
}

// ----- three devices of one vault, made once and copied per test ----------------------------

/// Three synced devices (A created the vault, B and C joined by invite), as file bytes, and the
/// relay's bundles. Made once: joining runs Argon2id, which is slow in debug builds.
struct Template {
    files: Vec<(String, Vec<u8>)>,
    relay: Vec<Vec<u8>>,
    vault: VaultId,
    devices: Vec<(DeviceId, [u8; 32])>,
    client: RecordId,
    session: RecordId,
    note: RecordId,
    rupture: RecordId,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let relay = MemoryRelay::new();
        let a = new_vault(&dir);
        let client = a.create_client(&new_client("C-2000")).unwrap();
        let session = a.create_session(&new_session(client, T0)).unwrap();
        let note = a.create_note(&soap(session)).unwrap();
        let rupture =
            a.create_rupture(&new_rupture(client, Some(session), T0 + 20 * MIN), "t").unwrap();
        let b = join(&a, &relay, &dir, "b.mend");
        let c = join(&a, &relay, &dir, "c.mend");
        for _ in 0..2 {
            for v in [&a, &b, &c] {
                sync(v, &relay);
            }
        }
        for v in [&a, &b, &c] {
            let r = sync(v, &relay);
            assert_eq!((r.pushed, r.pulled, r.pending), (0, 0, 0), "template not settled");
        }
        let devices = [&a, &b, &c].map(|v| (v.device_id(), v.device_public_key())).to_vec();
        let vault = a.id();
        drop((a, b, c));
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if !name.ends_with("-shm") {
                files.push((name, std::fs::read(entry.path()).unwrap()));
            }
        }
        Template { files, relay: relay.dump(), vault, devices, client, session, note, rupture }
    })
}

fn open_joined(p: &Path) -> Vault {
    Vault::open(p, VaultSecret::key(JOINED_KEY), opts()).unwrap()
}

/// A fresh copy of the template: A, the victim B, and C, an honestly synced control device.
struct World {
    dir: tempfile::TempDir,
    relay: MemoryRelay,
    a: Vault,
    b: Vault,
    c: Vault,
    t: &'static Template,
}

impl World {
    fn new() -> World {
        let t = template();
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in &t.files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        // Same bundles under the same seqs (1..n): the devices' cursors stay valid.
        let relay = MemoryRelay::new();
        relay.push(&t.vault, t.relay.clone()).unwrap();
        for (device, public) in &t.devices {
            relay.enroll(&t.vault, device, public).unwrap();
        }
        let a = reopen(&path(&dir));
        let b = open_joined(&dir.path().join("b.mend"));
        let c = open_joined(&dir.path().join("c.mend"));
        World { dir, relay, a, b, c, t }
    }

    /// A works on existing and new records of two clients (a new client brings key shares), then
    /// pushes; C pulls honestly.
    fn a_edits(&self) {
        let (a, t) = (&self.a, self.t);
        // A pushes after every save, so each save is its own bundle (saves pushed together are
        // coalesced into one bundle per record; `coalesced_bundles_are_checked_like_any_other`
        // covers those).
        let push = || sync(a, &self.relay);
        a.splice_note_section(t.note, "subjective", 0, 0, "Tired. ").unwrap();
        push();
        a.splice_note_section(t.note, "subjective", 7, 0, "Slept four hours. ").unwrap();
        push();
        a.set_note_section(t.note, "objective", "Flat affect").unwrap();
        push();
        a.update_rupture(
            t.rupture,
            &RuptureUpdate {
                significance: Some(4),
                add_markers: vec![RuptureMarker::WdAbstractCommunication],
                ..Default::default()
            },
        )
        .unwrap();
        push();
        a.add_repair_attempt(t.rupture, &repair(T0 + 30 * MIN)).unwrap();
        push();
        a.set_rupture_status(t.rupture, RuptureStatus::InProgress, T0 + 31 * MIN, "t", None)
            .unwrap();
        push();
        a.create_session(&new_session(t.client, T0 + 7 * DAY)).unwrap();
        push();
        a.record_measure(&wai(t.client, T0 + 7 * DAY, 4)).unwrap();
        push();
        let c2 = a.create_client(&new_client("C-2001")).unwrap();
        push();
        let s2 = a.create_session(&new_session(c2, T0 + DAY)).unwrap();
        push();
        let n2 = a.create_note(&soap(s2)).unwrap();
        push();
        a.splice_note_section(n2, "plan", 0, 0, "Review ").unwrap();
        push();
        a.create_rupture(&new_rupture(c2, Some(s2), T0 + DAY + 10 * MIN), "t").unwrap();
        push();
        a.splice_note_section(t.note, "plan", 0, 0, "Call GP. ").unwrap();
        push();
        sync(&self.c, &self.relay);
    }

    /// The victim syncs through a hostile relay; returns its report and the fresh count.
    fn victim_sync(&self, mode: Mode, page_size: u32) -> (SyncReport, usize) {
        let hostile = HostileRelay::new(&self.relay, mode);
        let report = self
            .b
            .sync(&hostile, &SyncOptions { page_size, ..Default::default() })
            .unwrap_or_else(|e| panic!("the victim's sync failed: {e}"));
        (report, hostile.fresh())
    }

    /// Closes the victim and opens its file again.
    fn reopen_b(self) -> World {
        let World { dir, relay, a, b, c, t } = self;
        drop(b);
        let b = open_joined(&dir.path().join("b.mend"));
        World { dir, relay, a, b, c, t }
    }

    /// Every device keeps working, then all sync honestly: every device must read the same.
    fn converge(&self) {
        let t = self.t;
        self.a.splice_note_section(t.note, "assessment", 0, 0, "Improving. ").unwrap();
        self.b
            .set_rupture_status(
                t.rupture,
                RuptureStatus::PartiallyResolved,
                T0 + 14 * DAY,
                "t",
                None,
            )
            .unwrap();
        self.c.create_session(&new_session(t.client, T0 + 14 * DAY)).unwrap();
        for _ in 0..2 {
            for v in [&self.a, &self.b, &self.c] {
                sync(v, &self.relay);
            }
        }
        let a = state(&self.a);
        assert_readable(&a);
        assert_eq!(a, state(&self.c), "the control device diverged");
        assert_eq!(a, state(&self.b), "the victim did not converge after honest syncs");
        let note = self.b.note(t.note).unwrap();
        assert_eq!(note.section("assessment"), Some("Improving. "));
    }
}

fn repair(at: Timestamp) -> NewRepairAttempt {
    NewRepairAttempt {
        session_id: None,
        at,
        strategies: vec![RepairStrategy::RsAcknowledgeOwnContribution],
        client_response: vec![ClientResponse::Reengaged],
        effect: Some(4),
        note: "Named my part".into(),
    }
}

fn wai(client_id: RecordId, at: Timestamp, score: i64) -> NewMeasure {
    NewMeasure {
        client_id,
        session_id: None,
        instrument: Instrument::WaiSr,
        rater: Rater::Client,
        administered_at: at,
        items: wai_items(score),
        supersedes: None,
    }
}

/// Everything a device shows: clients, each client's record, timeline, every record on it, the
/// alliance trend, conflicts (sorted) and devices. Errors are kept as text so states compare.
fn state(v: &Vault) -> Vec<String> {
    let mut out = Vec::new();
    let clients = v.clients().unwrap();
    out.push(format!("{clients:?}"));
    for c in &clients {
        out.push(format!("{:?}", v.client(c.id)));
        let timeline = v.timeline(c.id);
        out.push(format!("{timeline:?}"));
        for e in timeline.iter().flatten() {
            out.push(match e {
                TimelineEntry::Session { id, .. } => format!("{:?}", v.session(*id)),
                TimelineEntry::Note { id, .. } => {
                    format!("{:?} {:?}", v.note(*id), v.note_divergence(*id))
                }
                TimelineEntry::Rupture(r) => format!("{:?}", v.rupture(r.id)),
                TimelineEntry::Measure(m) => format!("{:?}", v.measure(m.measure_id)),
                TimelineEntry::Unreadable { id, reason } => format!("unreadable {id:?} {reason:?}"),
            });
        }
        out.push(format!("{:?}", v.alliance_trend(c.id)));
    }
    let mut conflicts = v.conflicts().unwrap();
    conflicts.sort_by_key(|c| (c.record_id, c.field.clone()));
    out.push(format!("{conflicts:?}"));
    out.push(format!("{:?}", v.devices()));
    out
}

fn assert_readable(state: &[String]) {
    for s in state {
        assert!(!s.contains("Err(") && !s.contains("unreadable"), "unreadable: {s}");
    }
}

/// The template's records, which every device held before any hostile sync, still read.
fn assert_template_records_read(v: &Vault, t: &Template) {
    v.client(t.client).unwrap();
    v.session(t.session).unwrap();
    v.note(t.note).unwrap();
    v.rupture(t.rupture).unwrap();
    v.timeline(t.client).unwrap();
}

fn reasons(r: &SyncReport) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for rej in &r.rejected {
        *out.entry(format!("{:?}", rej.reason)).or_insert(0) += 1;
    }
    out
}

fn expect(pairs: &[(RejectReason, usize)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (reason, n) in pairs {
        if *n > 0 {
            *out.entry(format!("{reason:?}")).or_insert(0) += n;
        }
    }
    out
}

/// The victim reads exactly what the honestly synced control device reads: every hostile
/// addition changed nothing, and every honest bundle was applied.
fn assert_victim_matches_control(w: &World) {
    let b = state(&w.b);
    assert_readable(&b);
    assert_eq!(b, state(&w.c), "the victim's records differ from the control's");
}

fn payload_len(bundle: &[u8]) -> usize {
    u32::from_be_bytes(bundle[76..80].try_into().unwrap()) as usize
}

fn flip(bundle: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut b = bundle.to_vec();
    b[at] ^= mask;
    b
}

fn with_len(bundle: &[u8], len: u32) -> Vec<u8> {
    let mut b = bundle.to_vec();
    b[76..80].copy_from_slice(&len.to_be_bytes());
    b
}

/// A second, unrelated vault with records of every kind; returns its bundles as pushed.
fn other_vault_bundles(dir: &tempfile::TempDir) -> (Vault, Vec<Vec<u8>>) {
    let other =
        Vault::create(&dir.path().join("other.mend"), VaultSecret::key([3; 32]), opts()).unwrap();
    let c = other.create_client(&new_client("X-1")).unwrap();
    let s = other.create_session(&new_session(c, T0)).unwrap();
    let n = other.create_note(&soap(s)).unwrap();
    other.splice_note_section(n, "plan", 0, 0, "other vault ").unwrap();
    other.create_rupture(&new_rupture(c, Some(s), T0), "t").unwrap();
    other.record_measure(&wai(c, T0, 2)).unwrap();
    let relay = MemoryRelay::new();
    sync(&other, &relay);
    (other, relay.dump())
}

// ----- replay --------------------------------------------------------------------------------

#[test]
fn replayed_bundles_count_as_duplicates_and_change_nothing() {
    let w = World::new();
    w.a_edits();
    let (r, fresh) = w.victim_sync(Mode::Replay, 200);
    let replayed = w.relay.len();
    assert!(fresh > 10, "{fresh}");
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(r.pending, 0, "{r:?}");
    assert_eq!(r.pulled as usize, fresh + replayed);
    assert_eq!(r.applied as usize, fresh, "{r:?}");
    assert_eq!(r.duplicates as usize, replayed, "{r:?}");
    let w = w.reopen_b();
    assert_victim_matches_control(&w);

    // A relay replaying everything under seqs the victim already passed is not even looked at.
    let (r, _) = w.victim_sync(Mode::StaleHuge, 200);
    assert_eq!((r.pulled, r.applied, r.duplicates), (0, 0, 0), "{r:?}");
    assert_victim_matches_control(&w);
    w.converge();
}

/// The relay replays old bundles under seqs above anything it holds. They are harmless as
/// bundles (duplicates), but the victim's cursor jumps past seqs the honest relay will give to
/// the next bundles.
#[test]
fn replayed_bundles_under_inflated_seqs_do_not_hide_later_bundles() {
    let w = World::new();
    w.a_edits();
    let (r, fresh) = w.victim_sync(Mode::ReplayAbove, 200);
    let replayed = w.relay.len();
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(r.applied as usize, fresh, "{r:?}");
    assert_eq!(r.duplicates as usize, replayed, "{r:?}");
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    w.converge();
}

// ----- reorder -------------------------------------------------------------------------------

#[test]
fn reordered_bundles_apply_to_the_same_records() {
    for (mode, page_size) in [
        (Mode::Reverse, 200),
        (Mode::Reverse, 1),
        (Mode::Shuffle(7), 200),
        (Mode::Shuffle(0x5eed), 3),
        (Mode::Shuffle(42), 1),
    ] {
        let w = World::new();
        w.a_edits();
        let (r, fresh) = w.victim_sync(mode, page_size);
        assert!(r.rejected.is_empty(), "{r:?}");
        assert_eq!(r.pulled as usize, fresh);
        // Bundles that waited for their key share or dependencies were all applied by the end.
        assert_eq!(r.pending, 0, "{r:?}");
        assert_eq!(r.applied as usize, fresh, "{r:?}");
        let w = w.reopen_b();
        assert_victim_matches_control(&w);
        w.converge();
    }
}

// ----- drop ----------------------------------------------------------------------------------

/// Later bundles arrive before the ones they depend on, which are omitted; Automerge queues them
/// and a later honest sync delivers the rest.
#[test]
fn dropped_bundles_are_filled_in_by_a_later_honest_sync() {
    for mode in [Mode::Early(vec![2, 5, 8, 11, 14]), Mode::Early(vec![14]), Mode::Tail(6)] {
        let w = World::new();
        w.a_edits();
        let (r, fresh) = w.victim_sync(mode, 200);
        assert!(fresh >= 15, "{fresh}");
        assert!(r.rejected.is_empty(), "{r:?}");
        let w = w.reopen_b();
        assert_template_records_read(&w.b, w.t);
        w.converge();
    }
}

/// The relay omits bundles in the middle of a page but serves later ones under their own seqs.
/// The omitted bundles sit below the victim's new cursor: an honest relay never offers them again.
#[test]
fn a_gap_in_a_page_is_filled_in_by_a_later_honest_sync() {
    let w = World::new();
    w.a_edits();
    let (r, _) = w.victim_sync(Mode::Gap(vec![1, 4]), 200);
    assert!(r.rejected.is_empty(), "{r:?}");
    let w = w.reopen_b();
    assert_template_records_read(&w.b, w.t);
    w.converge();
}

/// The relay withholds a bundle nothing later depends on (a new alliance measure), also during
/// the repair pull of that sync. Only the gap in A's sequence numbers shows it; once the relay is
/// honest again, the next sync that finds the relay moved on pulls it.
#[test]
fn a_withheld_bundle_without_dependents_is_fetched_once_the_relay_is_honest() {
    let w = World::new();
    w.a_edits();
    let (r, _) = w.victim_sync(Mode::Gap(vec![7]), 200);
    assert!(r.rejected.is_empty(), "{r:?}");
    assert!(r.repaired, "the gap should trigger a repair pull: {r:?}");
    let w = w.reopen_b();
    assert_template_records_read(&w.b, w.t);
    w.converge();
}

/// Saves pushed together travel as one bundle per record, covering a run of A's sequence
/// numbers. Such bundles are checked like any other (tampered copies refused, duplicates and
/// reordering harmless) and mark every covered number applied, so no gap and no repair pull.
#[test]
fn coalesced_bundles_are_checked_like_any_other() {
    let tamper = || -> Tamper {
        Box::new(|b: &[u8]| {
            vec![
                flip(b, 59, 0x01),
                flip(b, 80 + payload_len(b) / 2, 0x20),
                flip(b, b.len() - 1, 0x80),
            ]
        })
    };
    for mode in [Mode::Tamper(tamper()), Mode::Duplicate, Mode::Reverse] {
        let w = World::new();
        let t = w.t;
        let typed = "Slept badly; worried about work.";
        for (i, ch) in typed.chars().enumerate() {
            w.a.splice_note_section(t.note, "objective", i, 0, &ch.to_string()).unwrap();
        }
        for s in [3, 5, 2] {
            w.a.update_rupture(
                t.rupture,
                &RuptureUpdate { significance: Some(s), ..Default::default() },
            )
            .unwrap();
        }
        let pushed = sync(&w.a, &w.relay).pushed as usize;
        assert_eq!(pushed, 2, "one bundle per record for {} saves", typed.len() + 3);
        sync(&w.c, &w.relay);
        let tampering = matches!(mode, Mode::Tamper(_));
        let (r, fresh) = w.victim_sync(mode, 200);
        assert_eq!(fresh, 2);
        assert_eq!(r.applied, 2, "{r:?}");
        assert!(!r.repaired, "covered sequence numbers must not look like gaps: {r:?}");
        if tampering {
            assert_eq!(reasons(&r), expect(&[(RejectReason::BadSignature, 6)]), "{r:?}");
        } else {
            assert!(r.rejected.is_empty(), "{r:?}");
        }
        assert_eq!(w.b.note(t.note).unwrap().section("objective"), Some(typed));
        assert_eq!(w.b.rupture(t.rupture).unwrap().significance, 2);
        let w = w.reopen_b();
        assert_victim_matches_control(&w);
        w.converge();
    }
}

// ----- duplicate -----------------------------------------------------------------------------

#[test]
fn every_bundle_twice_applies_once() {
    for page_size in [200, 2] {
        let w = World::new();
        w.a_edits();
        let (r, fresh) = w.victim_sync(Mode::Duplicate, page_size);
        assert!(r.rejected.is_empty(), "{r:?}");
        assert_eq!(r.pending, 0, "{r:?}");
        assert_eq!(r.pulled as usize, 2 * fresh, "{r:?}");
        assert_eq!(r.applied as usize, fresh, "{r:?}");
        assert_eq!(r.duplicates as usize, fresh, "{r:?}");
        let w = w.reopen_b();
        assert_victim_matches_control(&w);
        w.converge();
    }
    // One item per page: the copy comes alone under a seq the victim just passed, so the page
    // holds nothing new and the sync ends there; the next honest sync carries on.
    let w = World::new();
    w.a_edits();
    let (r, _) = w.victim_sync(Mode::Duplicate, 1);
    assert_eq!((r.pulled, r.applied, r.duplicates), (1, 1, 0), "{r:?}");
    assert!(r.rejected.is_empty(), "{r:?}");
    let w = w.reopen_b();
    assert_template_records_read(&w.b, w.t);
    w.converge();
}

// ----- truncate, bit flips, oversized length, garbage ---------------------------------------

#[test]
fn truncated_bundles_are_malformed() {
    let w = World::new();
    w.a_edits();
    let cuts: Tamper = Box::new(|b: &[u8]| {
        vec![
            b[..b.len() - 1].to_vec(),
            b[..b.len() - 64].to_vec(),
            b[..80].to_vec(),
            b[..10].to_vec(),
            b[..2].to_vec(),
            vec![],
        ]
    });
    let (r, fresh) = w.victim_sync(Mode::Tamper(cuts), 200);
    assert_eq!(reasons(&r), expect(&[(RejectReason::Malformed, 6 * fresh)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh, "{r:?}");
    assert_eq!(r.pending, 0);
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    w.converge();
}

/// Where a flipped bit lands decides the typed reason; wherever it lands, nothing is applied.
#[test]
fn flipped_bits_are_refused_with_a_typed_reason() {
    // (what, where in the bundle, bit mask, outcome). Outcome `None` is an unknown signer: the
    // copy waits in `pending` and is never applied.
    let flips: Vec<(&str, Position, u8, Option<RejectReason>)> = vec![
        ("magic", |_| 0, 0x01, Some(RejectReason::Malformed)),
        ("version", |_| 2, 0x01, Some(RejectReason::Malformed)),
        ("kind", |_| 3, 0x80, Some(RejectReason::Malformed)),
        ("vault", |_| 4, 0x01, Some(RejectReason::OtherVault)),
        ("vault end", |_| 19, 0x80, Some(RejectReason::OtherVault)),
        ("doc", |_| 20, 0x01, Some(RejectReason::BadSignature)),
        ("doc end", |_| 35, 0x40, Some(RejectReason::BadSignature)),
        ("device", |_| 36, 0x01, None),
        ("seq high", |_| 52, 0x01, Some(RejectReason::BadSignature)),
        ("seq low", |_| 59, 0x01, Some(RejectReason::BadSignature)),
        ("key id", |_| 60, 0x01, Some(RejectReason::BadSignature)),
        ("length high", |_| 76, 0x80, Some(RejectReason::Malformed)),
        ("length low", |_| 79, 0x01, Some(RejectReason::Malformed)),
        ("payload start", |_| 80, 0x01, Some(RejectReason::BadSignature)),
        ("payload middle", |b| 80 + payload_len(b) / 2, 0x20, Some(RejectReason::BadSignature)),
        ("payload end", |b| 79 + payload_len(b), 0x01, Some(RejectReason::BadSignature)),
        ("signature start", |b| b.len() - 64, 0x01, Some(RejectReason::BadSignature)),
        ("signature middle", |b| b.len() - 32, 0x01, Some(RejectReason::BadSignature)),
        ("signature end", |b| b.len() - 1, 0x80, Some(RejectReason::BadSignature)),
    ];
    // All positions at once, each tampered copy before its original under the same seq.
    let all: Vec<(Position, u8)> = flips.iter().map(|f| (f.1, f.2)).collect();
    let w = World::new();
    w.a_edits();
    let tamper: Tamper =
        Box::new(move |b: &[u8]| all.iter().map(|(at, m)| flip(b, at(b), *m)).collect());
    let (r, fresh) = w.victim_sync(Mode::Tamper(tamper), 200);
    let mut want = Vec::new();
    for (_, _, _, outcome) in &flips {
        if let Some(reason) = outcome {
            want.push((*reason, fresh));
        }
    }
    assert_eq!(reasons(&r), expect(&want), "{r:?}");
    assert_eq!(r.applied as usize, fresh, "{r:?}");
    // One copy per fresh bundle names an unknown device: kept pending (under its seq), never used.
    assert_eq!(r.pending as usize, fresh, "{r:?}");
    let w = w.reopen_b();
    assert_victim_matches_control(&w);

    // One position at a time, each on a new edit of A's, to pin each reason.
    let mut pending = r.pending;
    for (what, at, mask, outcome) in flips {
        w.a.splice_note_section(w.t.note, "objective", 0, 0, what).unwrap();
        sync(&w.a, &w.relay);
        sync(&w.c, &w.relay);
        let tamper: Tamper = Box::new(move |b: &[u8]| vec![flip(b, at(b), mask)]);
        let (r, fresh) = w.victim_sync(Mode::Tamper(tamper), 200);
        assert_eq!((fresh, r.applied), (1, 1), "{what}: {r:?}");
        match outcome {
            Some(reason) => assert_eq!(reasons(&r), expect(&[(reason, 1)]), "{what}: {r:?}"),
            None => {
                assert!(r.rejected.is_empty(), "{what}: {r:?}");
                pending += 1;
            }
        }
        assert_eq!(r.pending, pending, "{what}: {r:?}");
        assert_victim_matches_control(&w);
    }
    w.converge();
}

#[test]
fn oversized_length_fields_are_malformed() {
    let w = World::new();
    w.a_edits();
    let lengths: Tamper = Box::new(|b: &[u8]| {
        let len = payload_len(b) as u32;
        vec![
            with_len(b, u32::MAX),
            with_len(b, MAX_PAYLOAD as u32 + 1),
            with_len(b, len + 1),
            with_len(b, len - 1),
            with_len(b, 0),
        ]
    });
    let (r, fresh) = w.victim_sync(Mode::Tamper(lengths), 200);
    assert_eq!(reasons(&r), expect(&[(RejectReason::Malformed, 5 * fresh)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh);

    // A bundle really as large as its too-large length field says.
    let mut huge = w.relay.dump()[0][..80].to_vec();
    huge[76..80].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_be_bytes());
    huge.resize(80 + MAX_PAYLOAD + 1 + 64, 0x5a);
    w.a.splice_note_section(w.t.note, "plan", 0, 0, "More. ").unwrap();
    sync(&w.a, &w.relay);
    sync(&w.c, &w.relay);
    let (r, fresh) = w.victim_sync(Mode::Inject(vec![huge]), 200);
    assert_eq!(reasons(&r), expect(&[(RejectReason::Malformed, 1)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh);
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    w.converge();
}

#[test]
fn garbage_is_malformed() {
    let w = World::new();
    w.a_edits();
    let real = w.relay.dump()[0].clone();
    let mut version2 = real.clone();
    version2[2] = 2;
    let mut kind9 = real.clone();
    kind9[3] = 9;
    let mut trailing = real.clone();
    trailing.push(0);
    let mut noise = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push(x as u8);
    }
    noise[0] = 0xff;
    let garbage = vec![
        vec![],
        vec![0],
        b"MB".to_vec(),
        b"MB\x01".to_vec(),
        vec![0xff; 10],
        noise[..200].to_vec(),
        noise.clone(),
        vec![0xaa; 100_000],
        b"not a bundle at all, just text that a broken proxy might send".to_vec(),
        version2,
        kind9,
        trailing,
    ];
    let n = garbage.len();
    let (r, fresh) = w.victim_sync(Mode::Inject(garbage), 200);
    assert!(fresh >= n);
    assert_eq!(reasons(&r), expect(&[(RejectReason::Malformed, n)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh);
    assert_eq!(r.pending, 0);
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    w.converge();
}

// ----- bundles moved between documents and vaults, forged and revoked signers ---------------

#[test]
fn bundles_moved_to_another_document_fail_their_signature() {
    let w = World::new();
    w.a_edits();
    let note = w.t.note;
    let fresh_bundles = w.relay.dump()[w.t.relay.len()..].to_vec();
    let fresh_count = fresh_bundles.len();
    let other = fresh_bundles[0].clone();
    let moves: Tamper = Box::new(move |raw: &[u8]| {
        let b = Bundle::decode(raw).unwrap();
        let donor = Bundle::decode(&other).unwrap();
        let mut to_doc = b.clone();
        to_doc.doc = if b.doc == note { RecordId::random() } else { note };
        let mut to_random_doc = b.clone();
        to_random_doc.doc = RecordId::random();
        let mut reseq = b.clone();
        reseq.seq += 1_000;
        let mut rekey = b.clone();
        rekey.key_id = KeyId::random();
        let mut rekind = b.clone();
        rekind.kind =
            if b.kind == BundleKind::Snapshot { BundleKind::Change } else { BundleKind::Snapshot };
        let mut payload = b.clone();
        payload.payload = if donor.payload == b.payload {
            vec![0; b.payload.len()]
        } else {
            donor.payload.clone()
        };
        let mut signature = b.clone();
        signature.signature =
            if donor.signature == b.signature { [1; 64] } else { donor.signature };
        [to_doc, to_random_doc, reseq, rekey, rekind, payload, signature]
            .iter()
            .map(Bundle::encode)
            .collect()
    });
    let (r, fresh) = w.victim_sync(Mode::Tamper(moves), 200);
    assert_eq!(fresh, fresh_count);
    assert_eq!(reasons(&r), expect(&[(RejectReason::BadSignature, 7 * fresh)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh);
    assert_eq!(r.pending, 0);
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    w.converge();
}

#[test]
fn validly_signed_bundles_of_another_vault_are_refused() {
    let w = World::new();
    let (_other, theirs) = other_vault_bundles(&w.dir);
    assert!(theirs.len() >= 6);
    w.a_edits();
    let n = theirs.len();
    let (r, fresh) = w.victim_sync(Mode::Inject(theirs), 200);
    assert!(fresh >= n);
    assert_eq!(reasons(&r), expect(&[(RejectReason::OtherVault, n)]), "{r:?}");
    assert_eq!(r.applied as usize, fresh);
    assert_eq!(r.pending, 0);
    let w = w.reopen_b();
    assert_victim_matches_control(&w);
    assert!(w.b.clients().unwrap().iter().all(|c| !matches!(&c.info, Ok((a, _)) if a == "X-1")));
    w.converge();
}

/// Bundles signed by devices that are not in the registry: another vault's device relabelled
/// with this vault's id, and a made-up device. They wait in `pending` and are never applied.
/// A made-up key claiming a registered device fails its signature; one claiming the victim
/// itself is skipped as its own.
#[test]
fn bundles_of_unknown_devices_are_never_applied() {
    let w = World::new();
    let (_other, theirs) = other_vault_bundles(&w.dir);
    w.a_edits();
    let vault = w.t.vault;
    let template_bundle = Bundle::decode(&w.relay.dump()[0]).unwrap();
    let mut unknown: Vec<Vec<u8>> = theirs
        .iter()
        .map(|raw| {
            let mut b = Bundle::decode(raw).unwrap();
            b.vault = vault;
            b.encode()
        })
        .collect();
    let stranger = DeviceKey::generate();
    let stranger_id = DeviceId::random();
    // A well-signed bundle by a stranger, aimed at the real note under its real key id.
    let note_bundle = w
        .relay
        .dump()
        .iter()
        .map(|raw| Bundle::decode(raw).unwrap())
        .find(|b| b.doc == w.t.note)
        .unwrap();
    for (kind, doc, key_id) in [
        (BundleKind::Change, note_bundle.doc, note_bundle.key_id),
        (BundleKind::Snapshot, note_bundle.doc, note_bundle.key_id),
        (BundleKind::KeyShare, RecordId::from_bytes([4; 16]), KeyId::from_bytes([4; 16])),
        (BundleKind::Change, template_bundle.doc, template_bundle.key_id),
    ] {
        let b = Bundle::signed(
            kind,
            vault,
            doc,
            stranger_id,
            1,
            key_id,
            note_bundle.payload.clone(),
            &stranger,
        );
        unknown.push(b.encode());
    }
    let pending_kinds = unknown.len();
    // A stranger's key claiming the registered A, and claiming the victim itself.
    let claims = |device: DeviceId| {
        Bundle::signed(
            BundleKind::Change,
            vault,
            note_bundle.doc,
            device,
            999_999,
            note_bundle.key_id,
            note_bundle.payload.clone(),
            &stranger,
        )
        .encode()
    };
    let mut extra = unknown;
    extra.push(claims(w.a.device_id()));
    extra.push(claims(w.b.device_id()));
    let (r, fresh) = w.victim_sync(Mode::Inject(extra), 200);
    assert!(fresh >= pending_kinds + 2, "each injected item needs its own seq: {fresh}");
    assert_eq!(reasons(&r), expect(&[(RejectReason::BadSignature, 1)]), "{r:?}");
    assert_eq!(r.pending as usize, pending_kinds, "{r:?}");
    assert_eq!(r.applied as usize, fresh, "{r:?}");
    assert_eq!(r.duplicates, 1, "the bundle claiming the victim's own id is skipped: {r:?}");
    let w = w.reopen_b();
    assert_victim_matches_control(&w);

    // Honest syncs later retry them and still apply none.
    w.converge();
    let again = sync(&w.b, &w.relay);
    assert_eq!(again.pending as usize, pending_kinds);
    assert!(w.b.clients().unwrap().iter().all(|c| !matches!(&c.info, Ok((a, _)) if a == "X-1")));
}

/// A lost phone is revoked; what it pushes afterwards is refused by every device, with the
/// typed reason, also when a relay replays it.
#[test]
fn bundles_of_a_revoked_device_are_refused() {
    let w = World::new();
    let (t, lost) = (w.t, &w.c);
    w.a.revoke_device(lost.device_id()).unwrap();
    sync(&w.a, &w.relay);
    sync(&w.b, &w.relay);
    assert!(w.b.devices().iter().any(|d| d.id == lost.device_id() && d.revoked));
    let before = state(&w.b);

    // The lost phone keeps writing and pushing (to a relay that stores whatever it is given).
    lost.splice_note_section(t.note, "plan", 0, 0, "Written on a stolen phone. ").unwrap();
    lost.update_rupture(t.rupture, &RuptureUpdate { significance: Some(1), ..Default::default() })
        .unwrap();
    let c3 = lost.create_client(&new_client("C-STOLEN")).unwrap();
    lost.create_session(&new_session(c3, T0)).unwrap();
    let side = MemoryRelay::new();
    let pushed = sync(lost, &side).pushed as usize;
    // Two edits, the new client's key share, the client and its session.
    assert_eq!(pushed, 5);
    w.relay.push(&t.vault, side.dump()).unwrap();

    let (r, fresh) = w.victim_sync(Mode::Duplicate, 200);
    assert_eq!(fresh, pushed);
    assert_eq!(reasons(&r), expect(&[(RejectReason::RevokedDevice, 2 * pushed)]), "{r:?}");
    assert_eq!((r.applied, r.pending), (0, 0), "{r:?}");
    let w = w.reopen_b();
    assert_eq!(state(&w.b), before);
    let r = sync(&w.a, &w.relay);
    assert_eq!(reasons(&r), expect(&[(RejectReason::RevokedDevice, pushed)]), "{r:?}");
    let a = state(&w.a);
    assert_readable(&a);
    assert_eq!(a, state(&w.b));
    assert!(!a.concat().contains("stolen"));
    assert!(w.b.clients().unwrap().iter().all(|c| c.id != c3));
}

/// The lost phone's last edits reached A before A revoked it, and A kept editing the same note
/// (its new changes depend on the revoked device's). B learns of the revocation in the same
/// page as those bundles: every device must still end up with the same note.
#[test]
fn revoking_a_device_whose_edits_were_merged_keeps_devices_converged() {
    let w = World::new();
    let (t, lost) = (w.t, &w.c);
    lost.splice_note_section(t.note, "plan", 0, 0, "Seen before the loss. ").unwrap();
    sync(lost, &w.relay);
    sync(&w.a, &w.relay);
    w.a.revoke_device(lost.device_id()).unwrap();
    w.a.splice_note_section(t.note, "assessment", 0, 0, "Written after the revocation. ").unwrap();
    sync(&w.a, &w.relay);
    let r = sync(&w.b, &w.relay);
    assert!(w.b.devices().iter().any(|d| d.id == lost.device_id() && d.revoked));
    for _ in 0..2 {
        sync(&w.a, &w.relay);
        sync(&w.b, &w.relay);
    }
    let (na, nb) = (w.a.note(t.note).unwrap(), w.b.note(t.note).unwrap());
    assert_eq!(na, nb, "A and B disagree on the note after B's sync {r:?}");
    assert_eq!(state(&w.a), state(&w.b));
}

// ----- lies about what remains -----------------------------------------------------------

#[test]
fn empty_or_stale_pages_claiming_more_remain_end_the_sync() {
    let w = World::new();
    w.a_edits();
    let before = state(&w.b);
    for mode in [Mode::EmptyHuge, Mode::StaleHuge] {
        let hostile = HostileRelay::new(&w.relay, mode);
        let r = w.b.sync(&hostile, &SyncOptions::default()).unwrap();
        assert_eq!((r.pulled, r.applied), (0, 0), "{r:?}");
        assert_eq!(hostile.pulls.load(Ordering::Relaxed), 1, "one pull, then the sync ends");
        assert_eq!(state(&w.b), before);
    }
    // Honest pages that always claim more: the sync ends at the first page with nothing new.
    for page_size in [200, 4] {
        let w = World::new();
        w.a_edits();
        let hostile = HostileRelay::new(&w.relay, Mode::LyingRemaining);
        let r = w.b.sync(&hostile, &SyncOptions { page_size, ..Default::default() }).unwrap();
        assert_eq!(r.pulled as usize, w.relay.len() - template().relay.len(), "{r:?}");
        assert!(r.rejected.is_empty());
        let w = w.reopen_b();
        assert_victim_matches_control(&w);
        w.converge();
    }
    let w = w.reopen_b();
    assert_eq!(state(&w.b), before);
    w.converge();
}

// ----- Automerge's queue of changes waiting for a dependency -------------------------------

/// C and A each edit the note on top of C's earlier edit. The relay serves A's and C's later
/// edits without the edit both depend on, which an honest sync brings right after: Automerge
/// queues both and applies them when it arrives, so the note reads right at once. Both waiting
/// edits must also have been stored: the note must read the same after a restart.
#[test]
fn changes_that_waited_for_a_dependency_are_stored() {
    let w = World::new();
    let t = w.t;
    w.a.update_rupture(t.rupture, &RuptureUpdate { significance: Some(2), ..Default::default() })
        .unwrap();
    sync(&w.a, &w.relay);
    w.c.splice_note_section(t.note, "plan", 0, 0, "C1 ").unwrap();
    sync(&w.c, &w.relay);
    sync(&w.a, &w.relay);
    w.a.splice_note_section(t.note, "plan", 0, 0, "A2 ").unwrap();
    sync(&w.a, &w.relay);
    w.c.splice_note_section(t.note, "plan", 3, 0, "C2 ").unwrap();
    sync(&w.c, &w.relay);
    sync(&w.a, &w.relay);
    let want = w.a.note(t.note).unwrap();

    let (r, _) = w.victim_sync(Mode::Early(vec![2, 3]), 200);
    assert!(r.rejected.is_empty(), "{r:?}");
    sync(&w.b, &w.relay);
    assert_eq!(w.b.note(t.note).unwrap(), want);
    let w = w.reopen_b();
    assert_eq!(w.b.note(t.note).unwrap(), want, "a change that waited was never stored");
    w.converge();
}

/// A bundle that cannot be applied yet (its key share comes later) waits in `pending`; a forged
/// bundle the relay serves under the same relay seq must not push it out.
#[test]
fn a_forged_bundle_does_not_evict_a_deferred_one() {
    let w = World::new();
    let c2 = w.a.create_client(&new_client("C-2002")).unwrap();
    sync(&w.a, &w.relay);
    sync(&w.c, &w.relay);
    let stranger = DeviceKey::generate();
    let forged = Bundle::signed(
        BundleKind::Change,
        w.t.vault,
        c2,
        DeviceId::random(),
        1,
        KeyId::random(),
        vec![0; 100],
        &stranger,
    )
    .encode();
    // fresh = [key share, client]: the client first, with the forgery under its seq.
    let script = move |fresh: &[PageItem], _: &[PageItem]| {
        assert_eq!(fresh.len(), 2);
        let seq = fresh[0].seq;
        vec![
            PageItem { seq, bundle: fresh[1].bundle.clone() },
            PageItem { seq, bundle: forged.clone() },
            PageItem { seq: fresh[1].seq, bundle: fresh[0].bundle.clone() },
        ]
    };
    let (r, _) = w.victim_sync(Mode::Script(Box::new(script)), 2);
    assert!(r.rejected.is_empty(), "{r:?}");
    let w = w.reopen_b();
    assert_eq!(
        w.b.client(c2).map(|c| c.alias_code),
        Ok("C-2002".to_owned()),
        "the deferred client bundle was lost: {r:?}"
    );
    w.converge();
}

// ----- the relay learns no plaintext -------------------------------------------------------

/// A distinct marker in every text field of every record kind, written on one device and synced
/// (with snapshots uploaded): no marker appears in anything the relay holds.
#[test]
fn the_relay_holds_no_plaintext_of_any_field() {
    let w = World::new();
    let v = &w.a;
    let mut markers: Vec<String> = Vec::new();
    let mut m = |tag: &str| {
        let s = format!("ZQX{tag}MARK");
        markers.push(s.clone());
        s
    };
    let c = v
        .create_client(&NewClient {
            alias_code: m("alias"),
            birth_year: Some(1977),
            jurisdiction: m("jur"),
            intake_date: Some("2026-03-04".into()),
        })
        .unwrap();
    v.add_treatment_goal(c, &m("goaltext"), &m("goaldomain")).unwrap();
    let mut ns = new_session(c, T0);
    ns.cpt_code = Some(m("cpt"));
    let s = v.create_session(&ns).unwrap();
    let mut note = soap(s);
    note.author_id = m("author");
    note.sections = vec![("subjective".into(), m("subjective")), ("plan".into(), m("plan"))];
    let n = v.create_note(&note).unwrap();
    v.splice_note_section(n, "objective", 0, 0, &m("typed")).unwrap();
    v.set_note_section(n, "assessment", &m("assessment")).unwrap();
    v.set_note_code(n, CodeSet::Interventions, &m("intervention"), true).unwrap();
    v.set_note_code(n, CodeSet::Diagnoses, "F32.1", true).unwrap();
    v.set_note_risk(n, &Risk { si: RiskLevel::Passive, hi: RiskLevel::Denied, note: m("risk") })
        .unwrap();
    let mut sign = author_sign(T0 + MIN, false);
    sign.signer_id = m("signerid");
    sign.signer_name = m("signer");
    v.sign_note(n, &sign).unwrap();
    let a = v
        .add_addendum(
            n,
            &NewAddendum {
                kind: AddendumKind::Addendum,
                reason: m("reason"),
                body: m("body"),
                targets: vec!["plan".into()],
                author_id: m("addendumauthor"),
                created_at: T0 + 2 * MIN,
            },
        )
        .unwrap();
    v.set_addendum_body(n, a, &m("newbody")).unwrap();
    v.sign_addendum(n, a, &author_sign(T0 + 3 * MIN, false)).unwrap();
    for class in [RecordClass::PsychotherapyNote, RecordClass::ProgressRecord] {
        let mut r = new_rupture(c, Some(s), T0 + 20 * MIN);
        r.record_class = class;
        r.narrative = m("narrative");
        r.client_words = m("words");
        r.therapist_contribution = m("contribution");
        let r = v.create_rupture(&r, &m("by")).unwrap();
        v.update_rupture(
            r,
            &RuptureUpdate { narrative: Some(m("renarrated")), ..Default::default() },
        )
        .unwrap();
        let mut attempt = repair(T0 + 25 * MIN);
        attempt.note = m("repairnote");
        v.add_repair_attempt(r, &attempt).unwrap();
        v.set_rupture_status(r, RuptureStatus::Resolved, T0 + 26 * MIN, &m("statusby"), Some(s))
            .unwrap();
    }
    v.record_measure(&wai(c, T0, 3)).unwrap();
    sync(v, &w.relay);
    sync(&w.b, &w.relay);
    sync(&w.c, &w.relay);
    assert_eq!(w.b.client(c).unwrap().alias_code, "ZQXaliasMARK");
    v.upload_snapshots(&w.relay).unwrap();
    // Enum names, codes and dates are clinical content too.
    markers.extend(
        [
            "2026-03-04",
            "F32.1",
            "1977",
            "wd_minimal_response",
            "withdrawal",
            "soap",
            "passive",
            "resolved",
            "rs_acknowledge_own_contribution",
            "reengaged",
            "wai_sr",
            "psychotherapy_note",
            "US-CA",
            "90834",
            "therapist-1",
        ]
        .map(String::from),
    );
    let dump = w.relay.dump();
    assert!(dump.len() >= 10, "{}", dump.len());
    let all: Vec<u8> = dump.concat();
    for marker in &markers {
        assert!(!contains(&all, marker.as_bytes()), "the relay holds plaintext {marker:?}");
    }
}
