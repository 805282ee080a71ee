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
//!   (`records::note::Typing`, the vault's own typing path); then also the change queued in an outbox row for sync —
//!   Mend's text path minus encryption and key handling (a text splice cannot change a record's
//!   summary, so the vault does not recompute it). One more row recomputes the summary per save
//!   on top of the checks, as the vault does for edits of anything but free text;
//! - **naive**: re-encrypts (XChaCha20-Poly1305) and rewrites the whole `doc.save()` on every save.
//!
//! Run: `cargo bench -p mend-core --bench vault`. Environment: `MEND_BENCH_QUICK=1` shrinks every
//! workload (smoke run); `MEND_BENCH_TRACE_OPS=N|all` sets how much of the editing trace to replay;
//! `MEND_BENCH_ONLY=save,open,long,trace` runs only the named workloads (`long` covers §3 and §4);
//! `MEND_BENCH_DIR` puts the temporary files somewhere else (default: the system temp dir);
//! `MEND_BENCH_TRACE=PATH` replays another trace file (default: the repository's copy,
//! `benchmarks/data/automerge-paper.json.gz`, see `benchmarks/data/README.md`).
//!
//! One module per workload (`save`, `open`, `long`, `trace`) beside the shared parts: `cfg`
//! (sizes), `stats` (statistics and formatting), `fixtures`, `stores` (Mend and the baselines
//! behind one `Editor`) and `files` (sizes on disk). The vault fixtures shared with the tests
//! come from `mend-testkit`.
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

use mend_testkit::{new_session, KEY};

const T0: Timestamp = 1_767_600_000_000;
const WEEK: Timestamp = 7 * 24 * 3_600_000;
const SECTION: &str = "subjective";
/// Mend's default `compact_after`, mirrored by the plaintext baseline.
const COMPACT_AFTER: u64 = 256;

mod cfg;
mod files;
mod fixtures;
mod long;
mod open;
mod save;
mod stats;
mod stores;
mod trace;

use cfg::*;
use files::*;
use fixtures::*;
use long::*;
use open::*;
use save::*;
use stats::*;
use stores::*;
use trace::*;

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
