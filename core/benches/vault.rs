//! Mend's performance measures (DESIGN.md §8), side by side with baselines, in one run.
//!
//! A plain bench binary (no criterion): every workload times Mend and its baselines in the same
//! process, interleaved where it matters, and prints one Markdown report on stdout (progress goes
//! to stderr). Medians and percentiles are computed here (nearest rank).
//!
//! Baselines:
//! - **floor**: raw Automerge in memory (splice + commit, no storage, no encryption);
//! - **plaintext**: the same Automerge note document in SQLite with the same connection settings
//!   (`mend_core::store::open_connection`: WAL, same `synchronous`, `secure_delete`), the same
//!   scheme (one `save_after` change row per save in one transaction, the same snapshot fold every
//!   256 changes) and no encryption;
//! - **plaintext + record layer**: as plaintext, but the edit goes through Mend's record code
//!   (`records::note::splice_section`); then also the change queued in an outbox row for sync —
//!   Mend's text path minus encryption and key handling (a text splice cannot change a record's
//!   summary, so the vault does not recompute it). One more row recomputes the summary per save
//!   on top of the checks, as the vault does for edits of anything but free text;
//! - **naive**: re-encrypts (XChaCha20-Poly1305) and rewrites the whole `doc.save()` on every save.
//!
//! Run: `cargo bench -p mend-core --bench vault`. Environment: `MEND_BENCH_QUICK=1` shrinks every
//! workload (smoke run); `MEND_BENCH_TRACE_OPS=N|all` sets how much of the editing trace to replay;
//! `MEND_BENCH_ONLY=save,open,long,trace` runs only the named workloads (`long` covers §3 and §4);
//! `MEND_BENCH_DIR` puts the temporary files somewhere else (default: the system temp dir).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ROOT};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use mend_core::records::am::{self, Stamp};
use mend_core::records::{note, summary, Kind};
use mend_core::store::open_connection;
use mend_core::*;
use rand::Rng as _;
use rusqlite::{params, Connection};

const KEY: [u8; 32] = [7; 32];
const T0: Timestamp = 1_767_600_000_000;
const WEEK: Timestamp = 7 * 24 * 3_600_000;
const SECTION: &str = "subjective";
/// The field name `note::splice_section` reports for [`SECTION`] in errors.
const SECTION_FIELD: &str = "sections.subjective";
const TRACE: &str = "/work/shared/data/editing-traces/automerge-paper.json.gz";
/// Mend's default `compact_after`, mirrored by the plaintext baseline.
const COMPACT_AFTER: u64 = 256;

// ----- configuration ----------------------------------------------------------------------------

struct Cfg {
    quick: bool,
    /// Saves per store in workload 1, for Full and Normal durability.
    save_edits_full: usize,
    save_edits_normal: usize,
    /// Saves per store before switching to the next store (interleaving).
    block: usize,
    clients: usize,
    notes_per_client: usize,
    open_iters: usize,
    long_edits: usize,
    load_iters: usize,
    /// `None`: the whole trace.
    trace_ops: Option<usize>,
}

impl Cfg {
    fn from_env() -> Cfg {
        let quick = std::env::var("MEND_BENCH_QUICK").map(|v| v == "1").unwrap_or(false);
        let mut c = if quick {
            Cfg {
                quick,
                save_edits_full: 100,
                save_edits_normal: 200,
                block: 20,
                clients: 10,
                notes_per_client: 10,
                open_iters: 3,
                long_edits: 500,
                load_iters: 3,
                trace_ops: Some(2_000),
            }
        } else {
            Cfg {
                quick,
                save_edits_full: 1_000,
                save_edits_normal: 2_000,
                block: 50,
                clients: 100,
                notes_per_client: 100,
                open_iters: 15,
                long_edits: 5_000,
                load_iters: 10,
                trace_ops: Some(50_000),
            }
        };
        match std::env::var("MEND_BENCH_TRACE_OPS").as_deref() {
            Ok("all") => c.trace_ops = None,
            Ok(n) => {
                c.trace_ops = Some(n.parse().expect("MEND_BENCH_TRACE_OPS: a number or 'all'"))
            }
            Err(_) => {}
        }
        c
    }
}

// ----- statistics -------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Stats {
    n: usize,
    median: Duration,
    p99: Duration,
    mean: Duration,
    min: Duration,
    max: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    assert!(!samples.is_empty(), "no samples");
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2 };
    // Nearest rank: the smallest sample with at least 99% of the samples at or below it.
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    let total: Duration = s.iter().sum();
    Stats { n, median, p99: s[rank - 1], mean: total / n as u32, min: s[0], max: s[n - 1] }
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2} µs")
    } else if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// `a - b`, which may be negative, formatted.
fn fmt_signed(a: Duration, b: Duration) -> String {
    if a >= b {
        fmt_d(a - b)
    } else {
        format!("−{}", fmt_d(b - a))
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

// ----- fixtures ---------------------------------------------------------------------------------

fn new_client(i: usize) -> NewClient {
    NewClient {
        alias_code: format!("C-{i:04}"),
        birth_year: Some(1980 + (i % 30) as i64),
        jurisdiction: "US-CA".into(),
        intake_date: Some("2026-01-05".into()),
    }
}

fn new_session(client_id: RecordId, start: Timestamp) -> NewSession {
    NewSession {
        client_id,
        scheduled_start: start,
        actual_start: Some(start),
        actual_end: Some(start + 50 * 60_000),
        status: SessionStatus::Completed,
        modality: Modality::Individual,
        setting: Setting::InPerson,
        cpt_code: Some("90834".into()),
    }
}

/// A SOAP note of about 600 characters.
fn soap_note(session_id: RecordId, i: usize) -> NewNote {
    NewNote {
        session_id,
        author_id: "therapist-1".into(),
        format: NoteFormat::Soap,
        sections: vec![
            (
                "subjective".into(),
                format!(
                    "Client reports sleeping about five hours a night (session {i}), waking at 4am \
                     with racing thoughts about work. Mood 4/10, appetite reduced. Denies SI/HI."
                ),
            ),
            (
                "objective".into(),
                "Alert and oriented x3, casually dressed, speech of normal rate, affect \
                 constricted and congruent with mood. Fidgeting with sleeve throughout."
                    .into(),
            ),
            (
                "assessment".into(),
                "Symptoms consistent with GAD; sleep worse since last session as a work deadline \
                 approaches. Engaged; alliance strong."
                    .into(),
            ),
            (
                "plan".into(),
                "Continue CBT-I components and the sleep diary; review the thought record next \
                 week."
                    .into(),
            ),
        ],
        created_at: T0,
    }
}

/// A write stamp for notes built outside the vault (the baselines).
fn stamp() -> Stamp {
    Stamp { device: DeviceId::random(), at: T0 }
}

fn opts(durability: Durability, compact_after: u64) -> VaultOptions {
    VaultOptions { durability, compact_after, ..Default::default() }
}

/// A new vault holding one client, one session and one SOAP note.
fn vault_with_note(path: &Path, o: VaultOptions) -> (Vault, RecordId) {
    let v = Vault::create(path, VaultSecret::key(KEY), o).unwrap();
    let c = v.create_client(&new_client(0)).unwrap();
    let s = v.create_session(&new_session(c, T0)).unwrap();
    let n = v.create_note(&soap_note(s, 0)).unwrap();
    (v, n)
}

fn section_len(v: &Vault, id: RecordId) -> usize {
    v.note(id).unwrap().section(SECTION).unwrap().chars().count()
}

fn text_obj(doc: &AutoCommit) -> ObjId {
    let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
    let (_, t) = doc.get(&sections, SECTION).unwrap().unwrap();
    t
}

// ----- stores -----------------------------------------------------------------------------------

/// Anything that can take one splice into the note's section as one acknowledged save.
trait Editor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str);
}

struct MendEditor {
    vault: Vault,
    id: RecordId,
}

impl Editor for MendEditor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.vault.splice_note_section(self.id, SECTION, pos, del, ins).unwrap();
    }
}

/// The floor: raw Automerge in memory; each splice is committed (one change per save, as in
/// every store) but never encoded or stored.
struct RawEditor {
    doc: AutoCommit,
    text: ObjId,
}

impl RawEditor {
    fn note() -> RawEditor {
        let mut doc = AutoCommit::new();
        let id = RecordId::random();
        note::create(
            &mut doc,
            id,
            RecordId::random(),
            T0,
            &soap_note(RecordId::random(), 0),
            &stamp(),
        )
        .unwrap();
        doc.commit();
        let text = text_obj(&doc);
        RawEditor { doc, text }
    }
}

impl Editor for RawEditor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        self.doc.commit();
    }
}

const PLAIN_SCHEMA: &str = "
CREATE TABLE docs (
    doc_id BLOB PRIMARY KEY, next_seq INTEGER NOT NULL, snapshot_seq INTEGER NOT NULL,
    snapshot BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE changes (
    doc_id BLOB NOT NULL REFERENCES docs(doc_id), seq INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
CREATE TABLE summaries (
    doc_id BLOB PRIMARY KEY REFERENCES docs(doc_id), seq INTEGER NOT NULL, data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, doc_id BLOB NOT NULL,
    key_id BLOB NOT NULL, payload BLOB NOT NULL
);";

/// The plaintext baseline: Mend's storage scheme without encryption.
struct PlainStore {
    conn: Connection,
    doc: AutoCommit,
    id: RecordId,
    text: ObjId,
    heads: Vec<ChangeHash>,
    next_seq: u64,
    snapshot_seq: u64,
    compact_after: u64,
    layer: Layer,
    summary: Vec<u8>,
    client: RecordId,
    /// The heads at which the draft and section checks last held (`Checks` and up).
    checked_at: Option<Vec<ChangeHash>>,
}

/// How much of Mend's record layer the plaintext baseline runs per save.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// `splice_text` on the document, nothing else.
    Bare,
    /// The checks of Mend's typing path: `records::note::splice_section` (draft check, section
    /// lookup, range and size checks) when the document moved since the last keystroke, else
    /// only the range and size checks (`records::am::splice_text`), as the vault keeps the rest
    /// between keystrokes of one section.
    Checks,
    /// As `Checks`, plus the summary recomputed and re-stored when it changed, as the vault does
    /// for edits that may change it (not for text splices: informational).
    Summary,
    /// As `Checks`, plus the change queued again in an outbox row for sync (kind, client, bytes),
    /// as the vault does: everything the vault does per text splice except encryption.
    Outbox,
}

impl PlainStore {
    fn create(path: &Path, durability: Durability, compact_after: u64, layer: Layer) -> Self {
        let mut conn = open_connection(path, true, durability).unwrap();
        conn.execute_batch(PLAIN_SCHEMA).unwrap();
        let id = RecordId::random();
        let mut doc = AutoCommit::new();
        let client = RecordId::random();
        note::create(&mut doc, id, client, T0, &soap_note(RecordId::random(), 0), &stamp())
            .unwrap();
        let snapshot = doc.save();
        let summary = summary::encoded(Kind::Note, &doc, id).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO docs(doc_id, next_seq, snapshot_seq, snapshot) VALUES (?1, 1, 0, ?2)",
            params![&id.as_bytes()[..], snapshot],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO summaries(doc_id, seq, data) VALUES (?1, 0, ?2)",
            params![&id.as_bytes()[..], summary],
        )
        .unwrap();
        tx.commit().unwrap();
        let heads = doc.get_heads();
        let text = text_obj(&doc);
        PlainStore {
            conn,
            doc,
            id,
            text,
            heads,
            next_seq: 1,
            snapshot_seq: 0,
            compact_after,
            layer,
            summary,
            client,
            checked_at: None,
        }
    }

    fn compact(&mut self) {
        let snapshot = self.doc.save();
        let seq = self.next_seq;
        let tx = self.conn.transaction().unwrap();
        tx.execute(
            "UPDATE docs SET snapshot = ?2, snapshot_seq = ?3, next_seq = ?3 + 1 WHERE doc_id = ?1",
            params![&self.id.as_bytes()[..], snapshot, seq as i64],
        )
        .unwrap();
        tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1 AND seq < ?2",
            params![&self.id.as_bytes()[..], seq as i64],
        )
        .unwrap();
        tx.commit().unwrap();
        self.snapshot_seq = seq;
        self.next_seq = seq + 1;
    }

    fn checkpoint(&self) {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
}

impl Editor for PlainStore {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        if self.layer >= Layer::Checks {
            if self.checked_at.as_deref() == Some(&self.heads[..]) {
                am::splice_text(&mut self.doc, &self.text, SECTION_FIELD, pos, del, ins).unwrap();
            } else {
                note::splice_section(&mut self.doc, self.id, SECTION, pos, del, ins).unwrap();
            }
        } else {
            self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        }
        let bytes = self.doc.save_after(&self.heads);
        if bytes.is_empty() {
            return;
        }
        let new_summary = if self.layer == Layer::Summary {
            let s = summary::encoded(Kind::Note, &self.doc, self.id).unwrap();
            (s != self.summary).then_some(s)
        } else {
            None
        };
        let seq = self.next_seq;
        let tx = self.conn.transaction().unwrap();
        tx.prepare_cached("INSERT INTO changes(doc_id, seq, data) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], seq as i64, bytes])
            .unwrap();
        if let Some(s) = &new_summary {
            tx.prepare_cached(
                "INSERT INTO summaries(doc_id, seq, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT(doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data",
            )
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], seq as i64, s])
            .unwrap();
        }
        if self.layer == Layer::Outbox {
            let mut payload = Vec::with_capacity(17 + bytes.len());
            payload.push(Kind::Note as u8);
            payload.extend_from_slice(self.client.as_bytes());
            payload.extend_from_slice(&bytes);
            tx.prepare_cached(
                "INSERT INTO outbox(kind, doc_id, key_id, payload) VALUES (0, ?1, ?2, ?3)",
            )
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], &[0u8; 16][..], payload])
            .unwrap();
        }
        tx.commit().unwrap();
        self.heads = self.doc.get_heads();
        if self.layer >= Layer::Checks {
            self.checked_at = Some(self.heads.clone());
        }
        self.next_seq = seq + 1;
        if let Some(s) = new_summary {
            self.summary = s;
        }
        if seq - self.snapshot_seq >= self.compact_after {
            self.compact();
        }
    }
}

/// Loads a record's document from a plaintext store file, as a fresh process would: one
/// `load_incremental` per change row (as the vault does), or one for all rows concatenated.
fn plain_load(path: &Path, id: RecordId, batched: bool) -> AutoCommit {
    let conn = open_connection(path, false, Durability::Full).unwrap();
    let snapshot: Vec<u8> = conn
        .query_row("SELECT snapshot FROM docs WHERE doc_id = ?1", [&id.as_bytes()[..]], |r| {
            r.get(0)
        })
        .unwrap();
    let mut st = conn.prepare("SELECT data FROM changes WHERE doc_id = ?1 ORDER BY seq").unwrap();
    let changes = st
        .query_map([&id.as_bytes()[..]], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let mut doc = AutoCommit::load(&snapshot).unwrap();
    if batched {
        doc.load_incremental(&changes.concat()).unwrap();
    } else {
        for c in changes {
            doc.load_incremental(&c).unwrap();
        }
    }
    doc
}

/// The naive store: every save re-encrypts and rewrites the whole document.
struct NaiveStore {
    conn: Connection,
    doc: AutoCommit,
    id: RecordId,
    text: ObjId,
    cipher: XChaCha20Poly1305,
}

impl NaiveStore {
    fn create(path: &Path, durability: Durability) -> Self {
        let conn = open_connection(path, true, durability).unwrap();
        conn.execute_batch(
            "CREATE TABLE docs (doc_id BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID",
        )
        .unwrap();
        let RawEditor { doc, text } = RawEditor::note();
        let cipher = XChaCha20Poly1305::new_from_slice(&KEY).unwrap();
        let mut s = NaiveStore { conn, doc, id: RecordId::random(), text, cipher };
        let blob = s.seal();
        s.conn
            .execute(
                "INSERT INTO docs(doc_id, data) VALUES (?1, ?2)",
                params![&s.id.as_bytes()[..], blob],
            )
            .unwrap();
        s
    }

    fn seal(&mut self) -> Vec<u8> {
        let plain = self.doc.save();
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: &plain, aad: &self.id.as_bytes()[..] })
            .unwrap();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        blob
    }
}

impl Editor for NaiveStore {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        let blob = self.seal();
        let tx = self.conn.transaction().unwrap();
        tx.prepare_cached("UPDATE docs SET data = ?2 WHERE doc_id = ?1")
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], blob])
            .unwrap();
        tx.commit().unwrap();
    }
}

// ----- files ------------------------------------------------------------------------------------

fn wal_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// Folds the WAL into the main file and truncates it (nothing else may have the file open).
fn checkpoint(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
}

struct Size {
    /// Bytes of the .db file plus its -wal file.
    file: u64,
    /// Bytes of the pages in use (free pages left by deleted rows excluded).
    live: u64,
}

fn size_of(path: &Path) -> Size {
    let file = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal_of(path)).map(|m| m.len()).unwrap_or(0);
    let conn = Connection::open(path).unwrap();
    let q = |p: &str| conn.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0)).unwrap();
    let live = (q("page_count") - q("freelist_count")) * q("page_size");
    Size { file, live: live as u64 }
}

/// Stored bytes of one record: its snapshot and its change rows (same table names in Mend and in
/// the plaintext baseline).
#[derive(Clone, Copy)]
struct Stored {
    snapshot: u64,
    rows: u64,
    row_bytes: u64,
    /// Changes queued for sync (Mend only; the plaintext baseline of §3/§4 has no outbox).
    outbox_rows: u64,
    outbox_bytes: u64,
}

fn payload_of(path: &Path, id: RecordId) -> Stored {
    let conn = Connection::open(path).unwrap();
    let snap: i64 = conn
        .query_row(
            "SELECT length(snapshot) FROM docs WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| r.get(0),
        )
        .unwrap();
    let (n, bytes): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM changes WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (on, ob): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM outbox WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    Stored {
        snapshot: snap as u64,
        rows: n as u64,
        row_bytes: bytes as u64,
        outbox_rows: on as u64,
        outbox_bytes: ob as u64,
    }
}

// ----- workload 1: save one edit ----------------------------------------------------------------

struct SaveRow {
    durability: &'static str,
    name: &'static str,
    st: Stats,
}

fn bench_save(cfg: &Cfg, dir: &Path, durability: Durability, n: usize, out: &mut Vec<SaveRow>) {
    let dname = match durability {
        Durability::Full => "Full",
        Durability::Normal => "Normal",
    };
    eprintln!("[1] save one edit, Durability::{dname}: {n} saves per store");
    let sub = dir.join(format!("save-{dname}"));
    std::fs::create_dir_all(&sub).unwrap();
    let (vault, id) = vault_with_note(&sub.join("mend.mend"), opts(durability, COMPACT_AFTER));
    let start_len = section_len(&vault, id);
    let mut stores: Vec<(&'static str, Box<dyn Editor>)> = vec![
        ("Mend (encrypted, incremental)", Box::new(MendEditor { vault, id })),
        (
            "plaintext SQLite (same scheme, no encryption)",
            Box::new(PlainStore::create(
                &sub.join("plain.db"),
                durability,
                COMPACT_AFTER,
                Layer::Bare,
            )),
        ),
        (
            "plaintext SQLite + `note::splice_section` checks",
            Box::new(PlainStore::create(
                &sub.join("plainchk.db"),
                durability,
                COMPACT_AFTER,
                Layer::Checks,
            )),
        ),
        (
            "plaintext SQLite + checks + summary per save (not on Mend's text path)",
            Box::new(PlainStore::create(
                &sub.join("plainrec.db"),
                durability,
                COMPACT_AFTER,
                Layer::Summary,
            )),
        ),
        (
            "plaintext SQLite + checks + outbox row (all but encryption)",
            Box::new(PlainStore::create(
                &sub.join("plainout.db"),
                durability,
                COMPACT_AFTER,
                Layer::Outbox,
            )),
        ),
        (
            "naive (re-encrypt whole doc per save)",
            Box::new(NaiveStore::create(&sub.join("naive.db"), durability)),
        ),
        ("floor: raw Automerge in memory", Box::new(RawEditor::note())),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); stores.len()];
    let mut lens = vec![start_len; stores.len()];
    let typed = b"the client described feeling calmer after practising the exercise ";
    // Warm-up (not recorded): caches, prepared statements, page cache.
    for (i, (_, s)) in stores.iter_mut().enumerate() {
        for k in 0..10 {
            let c = (typed[k % typed.len()] as char).to_string();
            s.splice(lens[i], 0, &c);
            lens[i] += 1;
        }
    }
    let block = cfg.block.max(1);
    let mut k = 0;
    while k < n {
        let b = block.min(n - k);
        for (i, (_, s)) in stores.iter_mut().enumerate() {
            for j in 0..b {
                let c = (typed[(k + j) % typed.len()] as char).to_string();
                let t = Instant::now();
                s.splice(lens[i], 0, &c);
                samples[i].push(t.elapsed());
                lens[i] += 1;
            }
        }
        k += b;
    }
    for ((name, _), smp) in stores.iter().zip(&samples) {
        out.push(SaveRow { durability: dname, name, st: stats(smp) });
    }
}

fn workload_save(cfg: &Cfg, dir: &Path, r: &mut String) {
    let mut rows = Vec::new();
    bench_save(cfg, dir, Durability::Full, cfg.save_edits_full, &mut rows);
    bench_save(cfg, dir, Durability::Normal, cfg.save_edits_normal, &mut rows);
    writeln!(
        r,
        "## 1. Save one edit (1-character splice into a SOAP section, one acknowledged save)\n"
    )
    .unwrap();
    writeln!(
        r,
        "Stores interleaved in blocks of {} saves; 10 warm-up saves per store not recorded.\n",
        cfg.block
    )
    .unwrap();
    writeln!(r, "| durability | store | saves | median | p99 | mean | max | median vs plaintext |")
        .unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for d in ["Full", "Normal"] {
        let base = rows
            .iter()
            .find(|x| x.durability == d && x.name.starts_with("plaintext SQLite (same"))
            .map(|x| x.st.median)
            .unwrap();
        for x in rows.iter().filter(|x| x.durability == d) {
            writeln!(
                r,
                "| {} | {} | {} | {} | {} | {} | {} | {:.2}× |",
                d,
                x.name,
                x.st.n,
                fmt_d(x.st.median),
                fmt_d(x.st.p99),
                fmt_d(x.st.mean),
                fmt_d(x.st.max),
                ratio(x.st.median, base)
            )
            .unwrap();
        }
    }
    writeln!(r).unwrap();
    for d in ["Full", "Normal"] {
        let get =
            |p: &str| rows.iter().find(|x| x.durability == d && x.name.starts_with(p)).unwrap().st;
        let mend = get("Mend");
        let plain = get("plaintext SQLite (same");
        let rec = get("plaintext SQLite + checks + summary");
        let chk = get("plaintext SQLite + `note");
        let outb = get("plaintext SQLite + checks + outbox");
        let naive = get("naive");
        let floor = get("floor");
        let rm = ratio(mend.median, plain.median);
        let rp = ratio(mend.p99, plain.p99);
        writeln!(
            r,
            "- Durability::{d}: Mend/plaintext = **{rm:.2}×** median, {rp:.2}× p99 \
             (target ≤ 1.3×: {}); Mend median {} (target < 1 ms: {}). \
             Of Mend's extra {} over plaintext (differences of medians, so only indicative), \
             the record layer's checks account for {}, the sync outbox row for {}, and \
             encryption (two seals per save: stored change and outbox bundle) + key handling for \
             the remaining {} (Mend/(plaintext + all but encryption) = {:.2}×); recomputing the \
             summary, which a text splice skips, would add {}. Mend/naive = {:.2}× median, {:.2}× p99; Mend/floor = {:.1}× median.",
            verdict(rm <= 1.3),
            fmt_d(mend.median),
            verdict(mend.median < Duration::from_millis(1)),
            fmt_signed(mend.median, plain.median),
            fmt_signed(chk.median, plain.median),
            fmt_signed(outb.median, chk.median),
            fmt_signed(mend.median, outb.median),
            ratio(mend.median, outb.median),
            fmt_signed(rec.median, chk.median),
            ratio(mend.median, naive.median),
            ratio(mend.p99, naive.p99),
            ratio(mend.median, floor.median),
        )
        .unwrap();
    }
    writeln!(r).unwrap();
}

// ----- workload 2: open a 10k-note vault and list one client ------------------------------------

fn build_vault(
    path: &Path,
    clients: usize,
    per_client: usize,
) -> (Vec<RecordId>, Vec<Vec<RecordId>>) {
    let v = Vault::create(path, VaultSecret::key(KEY), opts(Durability::Normal, COMPACT_AFTER))
        .unwrap();
    let mut cs = Vec::with_capacity(clients);
    let mut notes = Vec::with_capacity(clients);
    for c in 0..clients {
        let cid = v.create_client(&new_client(c)).unwrap();
        let mut ns = Vec::with_capacity(per_client);
        for k in 0..per_client {
            let s = v.create_session(&new_session(cid, T0 + k as i64 * WEEK)).unwrap();
            ns.push(v.create_note(&soap_note(s, c * per_client + k)).unwrap());
        }
        cs.push(cid);
        notes.push(ns);
    }
    drop(v);
    checkpoint(path);
    (cs, notes)
}

fn open_default(path: &Path) -> Vault {
    Vault::open(path, VaultSecret::key(KEY), VaultOptions::default()).unwrap()
}

fn workload_open(cfg: &Cfg, dir: &Path, r: &mut String) {
    let total = cfg.clients * cfg.notes_per_client;
    eprintln!("[2] building a vault of {} clients x {} notes", cfg.clients, cfg.notes_per_client);
    let big = dir.join("big.mend");
    let ((clients, notes), build) = time(|| build_vault(&big, cfg.clients, cfg.notes_per_client));
    let big_size = size_of(&big);
    let small = dir.join("small.mend");
    let (small_clients, _) = build_vault(&small, 1, cfg.notes_per_client);
    let target = clients[clients.len() / 2];
    let target_notes = &notes[clients.len() / 2];
    eprintln!("[2] built in {build:?}; timing cold opens");

    let iters = cfg.open_iters;
    let mut open_only = Vec::new();
    let mut open_list = Vec::new();
    let mut list_only = Vec::new();
    let mut open_clients = Vec::new();
    let mut small_open_list = Vec::new();
    for _ in 0..iters {
        // Interleave the variants so drift affects them alike.
        let (v, d) = time(|| open_default(&big));
        open_only.push(d);
        drop(v);

        let t = Instant::now();
        let v = open_default(&big);
        let t_open = t.elapsed();
        let list = v.notes_of_client(target).unwrap();
        open_list.push(t.elapsed());
        list_only.push(t.elapsed() - t_open);
        assert_eq!(list.len(), cfg.notes_per_client, "notes_of_client count");
        drop(v);

        let t = Instant::now();
        let v = open_default(&big);
        let cl = v.clients().unwrap();
        open_clients.push(t.elapsed());
        assert_eq!(cl.len(), cfg.clients);
        drop(v);

        let t = Instant::now();
        let v = open_default(&small);
        let list = v.notes_of_client(small_clients[0]).unwrap();
        small_open_list.push(t.elapsed());
        assert_eq!(list.len(), cfg.notes_per_client);
        drop(v);
    }
    // Contrast: actually loading (decrypting + Automerge-loading) every note of the client.
    let mut open_load_client = Vec::new();
    for _ in 0..iters.min(5) {
        let t = Instant::now();
        let v = open_default(&big);
        for id in target_notes {
            let n = v.note(*id).unwrap();
            assert_eq!(n.client_id, target);
        }
        open_load_client.push(t.elapsed());
    }
    eprintln!("[2] loading every note once");
    let (_, load_all) = time(|| {
        let v = open_default(&big);
        for ns in &notes {
            for id in ns {
                v.note(*id).unwrap();
            }
        }
    });

    let s_open = stats(&open_only);
    let s_ol = stats(&open_list);
    let s_l = stats(&list_only);
    let s_oc = stats(&open_clients);
    let s_small = stats(&small_open_list);
    let s_load = stats(&open_load_client);
    writeln!(r, "## 2. Open a {total}-note vault and list one client's notes\n").unwrap();
    writeln!(
        r,
        "Vault: {} clients × {} sessions × 1 SOAP note each (~600 characters per note) = {} records; \
         built with Durability::Normal in {:.1} s; file {:.1} MiB after checkpoint. Each iteration \
         opens a new `Vault` handle (default options) — cold Mend state, fresh SQLite connection; \
         the OS page cache is warm. {} iterations, interleaved.\n",
        cfg.clients,
        cfg.notes_per_client,
        cfg.clients * (1 + 2 * cfg.notes_per_client),
        build.as_secs_f64(),
        big_size.file as f64 / (1024.0 * 1024.0),
        iters,
    )
    .unwrap();
    writeln!(r, "| measure | median | p99 (= max here) | min |").unwrap();
    writeln!(r, "|---|---:|---:|---:|").unwrap();
    let mut row = |name: &str, s: Stats| {
        writeln!(r, "| {name} | {} | {} | {} |", fmt_d(s.median), fmt_d(s.p99), fmt_d(s.min))
            .unwrap();
    };
    row("`Vault::open` alone", s_open);
    row(&format!("`Vault::open` + `notes_of_client` ({} notes)", cfg.notes_per_client), s_ol);
    row("… of which `notes_of_client`", s_l);
    row(&format!("`Vault::open` + `clients()` ({} clients)", cfg.clients), s_oc);
    row(
        &format!(
            "same open + list on a vault of 1 client × {} notes (size independence)",
            cfg.notes_per_client
        ),
        s_small,
    );
    row(
        &format!(
            "contrast: `Vault::open` + `note(id)` for all {} notes of the client",
            cfg.notes_per_client
        ),
        s_load,
    );
    writeln!(
        r,
        "| contrast: `Vault::open` + `note(id)` for all {total} notes (once) | {} | | |",
        fmt_d(load_all)
    )
    .unwrap();
    writeln!(r).unwrap();
    writeln!(
        r,
        "- Open + list one client: median **{}** (target ≤ 100 ms: {}).\n\
         - Listing reads only the {} encrypted summaries of that client: it costs {:.1}% of actually \
         loading those {} notes, and {:.2}% of loading all {} notes; open + list on the {}-note vault \
         is {:.2}× the same on a {}-note vault.\n",
        fmt_d(s_ol.median),
        verdict(s_ol.median <= Duration::from_millis(100)),
        cfg.notes_per_client,
        100.0 * ratio(s_ol.median, s_load.median),
        cfg.notes_per_client,
        100.0 * ratio(s_ol.median, load_all),
        total,
        total,
        ratio(s_ol.median, s_small.median),
        cfg.notes_per_client,
    )
    .unwrap();
}

// ----- workloads 3 and 4: load a long note; bytes on disk per edit --------------------------------

/// A deterministic typing session: a cursor that mostly moves forward, a backspace every 8th
/// keystroke, and a jump to another place every 100 keystrokes.
struct Typist {
    rng: u64,
    cursor: usize,
    text: String,
}

impl Typist {
    fn new(text: String) -> Typist {
        let cursor = text.len();
        Typist { rng: 0x9E37_79B9_7F4A_7C15, cursor, text }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The next edit `(pos, delete, insert)`, applied to the expected text.
    fn next(&mut self, i: usize) -> (usize, usize, String) {
        if i % 100 == 99 {
            self.cursor = (self.next_rand() % (self.text.len() as u64 + 1)) as usize;
        }
        if i % 8 == 7 && self.cursor > 0 {
            self.cursor -= 1;
            self.text.remove(self.cursor);
            return (self.cursor, 1, String::new());
        }
        let c = (b'a' + (self.next_rand() % 26) as u8) as char;
        let c = if i % 6 == 5 { ' ' } else { c };
        self.text.insert(self.cursor, c);
        self.cursor += 1;
        (self.cursor - 1, 0, c.to_string())
    }
}

struct LongRow {
    variant: &'static str,
    mend_open_note: Stats,
    mend_note: Stats,
    plain_load: Stats,
    plain_batched: Stats,
    floor_load: Stats,
    mend_size: (Size, Size),
    plain_size: (Size, Size),
    mend_payload: Stored,
    plain_payload: Stored,
    automerge_save: usize,
    mend_setup: Duration,
    plain_setup: Duration,
}

fn long_note(cfg: &Cfg, dir: &Path, variant: &'static str, compact_after: u64) -> LongRow {
    let n = cfg.long_edits;
    eprintln!("[3] long note, {variant}: {n} edits");
    let mp = dir.join(format!("long-{compact_after}.mend"));
    let (v, id) = vault_with_note(&mp, opts(Durability::Normal, compact_after));
    let start = v.note(id).unwrap().section(SECTION).unwrap().to_string();
    drop(v);
    checkpoint(&mp);
    let m0 = size_of(&mp);
    let v =
        Vault::open(&mp, VaultSecret::key(KEY), opts(Durability::Normal, compact_after)).unwrap();
    let mut typist = Typist::new(start.clone());
    let (_, mend_setup) = time(|| {
        for i in 0..n {
            let (p, d, s) = typist.next(i);
            v.splice_note_section(id, SECTION, p, d, &s).unwrap();
        }
    });
    let expected = typist.text.clone();
    drop(v);
    checkpoint(&mp);
    let m1 = size_of(&mp);
    let mend_payload = payload_of(&mp, id);

    let pp = dir.join(format!("long-{compact_after}.db"));
    let mut plain = PlainStore::create(&pp, Durability::Normal, compact_after, Layer::Bare);
    plain.checkpoint();
    let p0 = size_of(&pp);
    let mut typist = Typist::new(start);
    let (_, plain_setup) = time(|| {
        for i in 0..n {
            let (p, d, s) = typist.next(i);
            plain.splice(p, d, &s);
        }
    });
    assert_eq!(typist.text, expected);
    let plain_id = plain.id;
    let snapshot = plain.doc.save();
    plain.checkpoint();
    drop(plain);
    let p1 = size_of(&pp);
    let plain_payload = payload_of(&pp, plain_id);

    let iters = cfg.load_iters;
    let (mut m_on, mut m_n, mut p_l, mut p_b, mut f_l) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iters {
        let t = Instant::now();
        let v = open_default(&mp);
        let t_open = t.elapsed();
        let note = v.note(id).unwrap();
        m_on.push(t.elapsed());
        m_n.push(t.elapsed() - t_open);
        assert_eq!(note.section(SECTION).unwrap(), expected, "Mend long note text");
        drop(v);

        let t = Instant::now();
        let doc = plain_load(&pp, plain_id, false);
        let note = note::read(&doc, plain_id).unwrap();
        p_l.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "plaintext long note text");

        let t = Instant::now();
        let doc = plain_load(&pp, plain_id, true);
        let note = note::read(&doc, plain_id).unwrap();
        p_b.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "plaintext batched long note text");

        let t = Instant::now();
        let doc = AutoCommit::load(&snapshot).unwrap();
        let note = note::read(&doc, plain_id).unwrap();
        f_l.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "floor long note text");
    }
    LongRow {
        variant,
        mend_open_note: stats(&m_on),
        mend_note: stats(&m_n),
        plain_load: stats(&p_l),
        plain_batched: stats(&p_b),
        floor_load: stats(&f_l),
        mend_size: (m0, m1),
        plain_size: (p0, p1),
        mend_payload,
        plain_payload,
        automerge_save: snapshot.len(),
        mend_setup,
        plain_setup,
    }
}

fn workload_long(cfg: &Cfg, dir: &Path, r: &mut String) {
    let n = cfg.long_edits;
    let rows = [
        long_note(cfg, dir, "default compaction (every 256 changes)", COMPACT_AFTER),
        long_note(cfg, dir, "no compaction (all changes kept as rows)", u64::MAX),
    ];
    writeln!(r, "## 3. Load a note with {n} edits (cold: first `note(id)` after reopening)\n")
        .unwrap();
    writeln!(
        r,
        "Setup: one SOAP note, {n} single-character splices into `subjective` (typing with a \
         backspace every 8th keystroke and a cursor jump every 100), Durability::Normal, one save \
         each. Mend: new `Vault` handle (default options) then `note(id)` = read snapshot + change \
         rows, decrypt, `AutoCommit::load` + `load_incremental`, summary, `note::read`. Plaintext: \
         new connection, the same kind of rows unencrypted, `AutoCommit::load` + one \
         `load_incremental` per change row (as the vault does) + `note::read`; *rows batched* = the \
         same but one `load_incremental` of all change rows concatenated. Floor: `AutoCommit::load` \
         of the in-memory `doc.save()` + `note::read`. Ratio = Mend open + first `note` over \
         plaintext open + load. {} iterations each, interleaved.\n",
        cfg.load_iters
    )
    .unwrap();
    writeln!(
        r,
        "| storage | rows at rest | Mend open + first `note` | … of which first `note` | plaintext open + load | plaintext, rows batched | floor load | Mend / plaintext |"
    )
    .unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for x in &rows {
        writeln!(
            r,
            "| {} | 1 snapshot + {} changes | {} | {} | {} | {} | {} | {:.2}× |",
            x.variant,
            x.mend_payload.rows,
            fmt_d(x.mend_open_note.median),
            fmt_d(x.mend_note.median),
            fmt_d(x.plain_load.median),
            fmt_d(x.plain_batched.median),
            fmt_d(x.floor_load.median),
            ratio(x.mend_open_note.median, x.plain_load.median),
        )
        .unwrap();
    }
    writeln!(r).unwrap();
    writeln!(
        r,
        "(Medians. Setup time for the {n} saves at Durability::Normal: Mend {} / plaintext {} with \
         compaction; Mend {} / plaintext {} without.)\n",
        fmt_d(rows[0].mend_setup),
        fmt_d(rows[0].plain_setup),
        fmt_d(rows[1].mend_setup),
        fmt_d(rows[1].plain_setup),
    )
    .unwrap();

    writeln!(r, "## 4. Bytes on disk per edit ({n} edits, same note and edits as §3)\n").unwrap();
    writeln!(
        r,
        "Files measured after `PRAGMA wal_checkpoint(TRUNCATE)` (the WAL is then empty), before and \
         after the {n} edits; Δ/edit = (after − before) / {n}. *File* = .db + -wal bytes; *live* = \
         pages in use (SQLite keeps pages freed by compaction in its free list, so the file does not \
         shrink). *Payload* = the note's own stored bytes at the end (snapshot + change rows). \
         *Outbox* = Mend's copies of the changes queued for sync (no device is paired and nothing is \
         pushed in this bench, so nothing leaves the queue; they are included in the file and live \
         sizes). A compaction also folds the record's queued run into one row holding the whole \
         note once the saves queued since the last fold outweigh the note, so with compaction the \
         queue holds one such row plus the saves since; without compaction nothing folds.\n"
    )
    .unwrap();
    writeln!(r, "| storage | store | file Δ/edit | live Δ/edit | payload at end | payload/edit | change rows (bytes) | outbox rows (bytes) |").unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for x in &rows {
        for (store, (s0, s1), p) in
            [("Mend", &x.mend_size, x.mend_payload), ("plaintext", &x.plain_size, x.plain_payload)]
        {
            let nf = n as f64;
            let payload = p.snapshot + p.row_bytes;
            writeln!(
                r,
                "| {} | {store} | {:.1} B | {:.1} B | {payload} B | {:.1} B | {} ({} B) | {} ({} B) |",
                x.variant,
                (s1.file as f64 - s0.file as f64) / nf,
                (s1.live as f64 - s0.live as f64) / nf,
                payload as f64 / nf,
                p.rows,
                p.row_bytes,
                p.outbox_rows,
                p.outbox_bytes,
            )
            .unwrap();
        }
    }
    writeln!(
        r,
        "\nFor reference, `doc.save()` of the final document (compressed, full history) is {} B = \
         {:.1} B/edit. Each Mend envelope adds 57 B (1 version + 16 key id + 24 nonce + 16 tag).\n",
        rows[0].automerge_save,
        rows[0].automerge_save as f64 / n as f64
    )
    .unwrap();
}

// ----- workload 5: a real editing trace ---------------------------------------------------------

#[derive(serde::Deserialize)]
struct Trace {
    #[serde(rename = "startContent")]
    start_content: String,
    #[serde(rename = "endContent")]
    end_content: String,
    txns: Vec<Txn>,
}

#[derive(serde::Deserialize)]
struct Txn {
    patches: Vec<(usize, usize, String)>,
}

fn workload_trace(cfg: &Cfg, dir: &Path, r: &mut String) {
    let path = std::env::var("MEND_BENCH_TRACE").unwrap_or_else(|_| TRACE.to_string());
    writeln!(r, "## 5. Real editing trace (automerge-paper)\n").unwrap();
    let out = match std::process::Command::new("gunzip").arg("-c").arg(&path).output() {
        Ok(o) if o.status.success() => o.stdout,
        _ => {
            writeln!(r, "Skipped: could not read `{path}` with `gunzip -c`.\n").unwrap();
            return;
        }
    };
    let trace: Trace = serde_json::from_slice(&out).unwrap();
    let all: Vec<(usize, usize, String)> =
        trace.txns.into_iter().flat_map(|t| t.patches.into_iter()).collect();
    let n = cfg.trace_ops.map_or(all.len(), |k| k.min(all.len()));
    let ops = &all[..n];
    let mut expected = trace.start_content.clone();
    for (p, d, s) in ops {
        expected.replace_range(*p..*p + *d, s);
    }
    if n == all.len() {
        assert_eq!(expected, trace.end_content, "trace replay in a String");
    }
    eprintln!("[5] trace: {n} of {} keystrokes", all.len());

    // Mend.
    let mp = dir.join("trace.mend");
    let v =
        Vault::create(&mp, VaultSecret::key(KEY), opts(Durability::Normal, COMPACT_AFTER)).unwrap();
    let c = v.create_client(&new_client(0)).unwrap();
    let s = v.create_session(&new_session(c, T0)).unwrap();
    let mut nn = soap_note(s, 0);
    nn.sections = vec![(SECTION.into(), trace.start_content.clone())];
    let id = v.create_note(&nn).unwrap();
    let mut m_samples = Vec::with_capacity(n);
    let t = Instant::now();
    for (p, d, s) in ops {
        let t = Instant::now();
        v.splice_note_section(id, SECTION, *p, *d, s).unwrap();
        m_samples.push(t.elapsed());
    }
    let m_total = t.elapsed();
    assert_eq!(v.note(id).unwrap().section(SECTION).unwrap(), expected, "Mend trace text");
    drop(v);
    let (_, m_reopen) = time(|| {
        let v = open_default(&mp);
        assert_eq!(v.note(id).unwrap().section(SECTION).unwrap(), expected, "Mend trace reopened");
    });
    eprintln!("[5] Mend done in {m_total:?}");

    // Plaintext baselines: bare, and with Mend's record layer.
    let mut plain_runs = Vec::new();
    let mut plain_file = None;
    for (layer, file) in [(Layer::Bare, "trace.db"), (Layer::Outbox, "trace-rec.db")] {
        let pp = dir.join(file);
        let mut plain = PlainStore::create(&pp, Durability::Normal, COMPACT_AFTER, layer);
        let len = plain.doc.length(&plain.text);
        plain.splice(0, len, &trace.start_content);
        let mut samples = Vec::with_capacity(n);
        let t = Instant::now();
        for (p, d, s) in ops {
            let t = Instant::now();
            plain.splice(*p, *d, s);
            samples.push(t.elapsed());
        }
        plain_runs.push((t.elapsed(), stats(&samples)));
        assert_eq!(plain.doc.text(&plain.text).unwrap(), expected, "plaintext trace text");
        if layer == Layer::Bare {
            plain_file = Some((pp, plain.id, plain.doc.save()));
        }
        eprintln!("[5] plaintext done");
    }
    let (p_total, ps) = plain_runs[0];
    let (pr_total, prs) = plain_runs[1];

    // Cold load of the final note: Mend (above), plaintext per row and batched, floor.
    let (pp, pid, saved) = plain_file.unwrap();
    let (_, p_load) = time(|| {
        let doc = plain_load(&pp, pid, false);
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });
    let (_, p_batched) = time(|| {
        let doc = plain_load(&pp, pid, true);
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });
    let (_, f_load) = time(|| {
        let doc = AutoCommit::load(&saved).unwrap();
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });

    // Where the record layer's per-save time goes: the functions the vault calls on every save,
    // timed alone on a fresh note and on the final trace note.
    let mut big = AutoCommit::load(&saved).unwrap();
    let mut small = AutoCommit::new();
    let sid = RecordId::random();
    note::create(
        &mut small,
        sid,
        RecordId::random(),
        T0,
        &soap_note(RecordId::random(), 0),
        &stamp(),
    )
    .unwrap();
    let costs_small = record_costs(&mut small, sid);
    let costs_big = record_costs(&mut big, pid);

    // Floor.
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, &trace.start_content).unwrap();
    doc.commit();
    let mut f_samples = Vec::with_capacity(n);
    let t = Instant::now();
    for (p, d, s) in ops {
        let t = Instant::now();
        doc.splice_text(&text, *p, *d as isize, s).unwrap();
        doc.commit();
        f_samples.push(t.elapsed());
    }
    let f_total = t.elapsed();
    assert_eq!(doc.text(&text).unwrap(), expected, "floor trace text");

    let (ms, fs) = (stats(&m_samples), stats(&f_samples));
    let which = if n == all.len() {
        format!("the whole trace ({n} keystrokes)")
    } else {
        format!("the first {n} of {} keystrokes", all.len())
    };
    writeln!(
        r,
        "Replayed {which} into the `subjective` section of one note, one `splice_note_section` (one \
         acknowledged save, Durability::Normal) per keystroke; the same keystrokes into the \
         plaintext baselines and into raw Automerge (splice + commit per keystroke). The final \
         text was checked equal to the expected result ({} characters{}) in every store, and again \
         after reopening.\n",
        expected.len(),
        if n == all.len() { ", which equals the trace's `endContent`" } else { "" },
    )
    .unwrap();
    writeln!(r, "| store | total | per keystroke median | p99 | max | total vs floor | total vs plaintext |").unwrap();
    writeln!(r, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for (name, tot, st) in [
        ("Mend", m_total, ms),
        ("plaintext SQLite (same scheme, no encryption)", p_total, ps),
        ("plaintext SQLite + record layer + outbox (all but encryption)", pr_total, prs),
        ("floor: raw Automerge", f_total, fs),
    ] {
        writeln!(
            r,
            "| {name} | {} | {} | {} | {} | {:.1}× | {:.2}× |",
            fmt_d(tot),
            fmt_d(st.median),
            fmt_d(st.p99),
            fmt_d(st.max),
            ratio(tot, f_total),
            ratio(tot, p_total),
        )
        .unwrap();
    }
    writeln!(
        r,
        "\nCold load of the final note (one run each): Mend reopen + first `note` {}; plaintext \
         open + load, one `load_incremental` per row {}; the same with the rows batched into one \
         `load_incremental` {}; floor `AutoCommit::load(doc.save())` {}.\n",
        fmt_d(m_reopen),
        fmt_d(p_load),
        fmt_d(p_batched),
        fmt_d(f_load),
    )
    .unwrap();
    writeln!(
        r,
        "Per-save record-layer work, timed alone (median of {RECORD_COST_ITERS} calls) on a fresh \
         SOAP note and on the final trace note ({} characters in `subjective`):\n",
        expected.len()
    )
    .unwrap();
    writeln!(r, "| function (on a save) | fresh note | final trace note |").unwrap();
    writeln!(r, "|---|---:|---:|").unwrap();
    for ((name, a), (_, b)) in costs_small.iter().zip(&costs_big) {
        writeln!(r, "| {name} | {} | {} |", fmt_d(*a), fmt_d(*b)).unwrap();
    }
    writeln!(r).unwrap();
}

const RECORD_COST_ITERS: usize = 200;

/// Median time of each record-layer function the vault runs per save of a note.
fn record_costs(doc: &mut AutoCommit, id: RecordId) -> Vec<(&'static str, Duration)> {
    fn med(mut f: impl FnMut()) -> Duration {
        let mut v = Vec::with_capacity(RECORD_COST_ITERS);
        for _ in 0..RECORD_COST_ITERS {
            let t = Instant::now();
            f();
            v.push(t.elapsed());
        }
        stats(&v).median
    }
    let text = text_obj(doc);
    let heads = doc.get_heads();
    // An empty splice passes every check and changes nothing: the cost of the checks alone.
    let checks = med(|| {
        note::splice_section(doc, id, SECTION, 0, 0, "").unwrap();
    });
    assert_eq!(doc.get_heads(), heads, "an empty splice must not change the note");
    let doc: &AutoCommit = doc;
    vec![
        (
            "`note::splice_section` with an empty splice (all its checks: the first keystroke in \
             a section, or after any other change; later keystrokes run only the range check)",
            checks,
        ),
        (
            "… `AutoCommit::length` of the section",
            med(|| {
                assert!(doc.length(&text) < usize::MAX);
            }),
        ),
        (
            "`note::state` (draft check in `splice_section`)",
            med(|| {
                note::state(doc, id).unwrap();
            }),
        ),
        (
            "`note::summary_fields`",
            med(|| {
                note::summary_fields(doc, id).unwrap();
            }),
        ),
        (
            "`note::divergence`",
            med(|| {
                note::divergence(doc, id).unwrap();
            }),
        ),
        (
            "`records::conflict::of`",
            med(|| {
                mend_core::records::conflict::of(Kind::Note, doc, id, id).unwrap();
            }),
        ),
        (
            "`summary::encoded` (all of the summary)",
            med(|| {
                summary::encoded(Kind::Note, doc, id).unwrap();
            }),
        ),
    ]
}

// ----- main -------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpu}, {cores} cores visible; SQLite {}", rusqlite::version())
}

fn main() {
    let cfg = Cfg::from_env();
    let base =
        std::env::var_os("MEND_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new().prefix("mend-bench-").tempdir_in(base).unwrap();
    let started = Instant::now();
    let mut r = String::new();
    writeln!(r, "# Mend benchmark results\n").unwrap();
    writeln!(
        r,
        "Machine: {}. Files in `{}`. Mode: {}.\n",
        machine(),
        dir.path().parent().map_or_else(|| "?".into(), |p| p.display().to_string()),
        if cfg.quick { "QUICK (smoke run, shrunk sizes)" } else { "full" }
    )
    .unwrap();
    let only = std::env::var("MEND_BENCH_ONLY").unwrap_or_default();
    let run = |w: &str| only.is_empty() || only.split(',').any(|o| o.trim() == w);
    if run("save") {
        workload_save(&cfg, dir.path(), &mut r);
    }
    if run("open") {
        workload_open(&cfg, dir.path(), &mut r);
    }
    if run("long") {
        workload_long(&cfg, dir.path(), &mut r);
    }
    if run("trace") {
        workload_trace(&cfg, dir.path(), &mut r);
    }
    writeln!(r, "Total bench time: {:.1} s.", started.elapsed().as_secs_f64()).unwrap();
    println!("{r}");
}
