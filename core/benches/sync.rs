//! Sync measures (issue 3), each against a baseline in the same run:
//! 1. merge 1,000 remote changes into a note (one sync of a second device) vs raw Automerge
//!    applying the same 1,000 changes one by one;
//! 2. a new device's first sync of 1,000 records through the in-memory relay (after snapshots);
//! 3. bytes sent per edit (what the relay stores per one-character edit) vs the raw Automerge
//!    change size.
//!
//! Run: `cargo bench -p mend-core --bench sync` (`MEND_BENCH_QUICK=1` for a smoke run).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::time::Instant;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use mend_core::sync::{MemoryRelay, SyncOptions};
use mend_core::*;
use mend_testkit::{bare_session as session, invite, note_pair, opts_with};

/// Raw keys, so the KDF the kit's options carry is never run.
fn opts() -> VaultOptions {
    opts_with(Durability::Normal)
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let quick = std::env::var_os("MEND_BENCH_QUICK").is_some();
    let (edits, docs): (usize, usize) = if quick { (50, 50) } else { (1000, 1000) };
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let pair =
        note_pair(&dir.path().join("a"), &dir.path().join("b"), "C-1", opts(), &relay, &relay);
    let (a, b, c, n) = (pair.phone, pair.tablet, pair.client, pair.note);

    // 1 + 3: A types `edits` characters; B merges them in one sync.
    let before: usize = relay.dump().iter().map(|b| b.len()).sum();
    for i in 0..edits {
        a.splice_note_section(n, "body", i, 0, "x").unwrap();
    }
    a.sync(&relay, &SyncOptions::default()).unwrap();
    let sent: usize = relay.dump().iter().map(|b| b.len()).sum::<usize>() - before;
    let t = Instant::now();
    let r = b.sync(&relay, &SyncOptions { page_size: 500, ..Default::default() }).unwrap();
    let mend_merge = t.elapsed();
    let coalesced_bundles = r.applied;
    assert!(r.applied >= 1);
    assert_eq!(b.note(n).unwrap().section("body").unwrap().len(), edits);

    // 1b: the same number of edits, each synced as soon as it is made (one bundle per edit, a
    // device online while the clinician types); B merges them all in one sync.
    let before: usize = relay.dump().iter().map(|b| b.len()).sum();
    for i in 0..edits {
        a.splice_note_section(n, "body", edits + i, 0, "y").unwrap();
        a.sync(&relay, &SyncOptions::default()).unwrap();
    }
    let sent_live: usize = relay.dump().iter().map(|b| b.len()).sum::<usize>() - before;
    let t = Instant::now();
    let r = b.sync(&relay, &SyncOptions { page_size: 500, ..Default::default() }).unwrap();
    let mend_merge_live = t.elapsed();
    assert_eq!(r.applied as usize, edits);
    assert_eq!(b.note(n).unwrap().section("body").unwrap().len(), 2 * edits);

    // Baseline: raw Automerge applying the same number of one-character changes, one by one.
    let mut src = AutoCommit::new();
    let text = src.put_object(ROOT, "body", ObjType::Text).unwrap();
    let base = src.save();
    let mut changes = Vec::with_capacity(edits);
    let mut raw_bytes = 0usize;
    for i in 0..edits {
        src.splice_text(&text, i, 0, "x").unwrap();
        let c = src.save_incremental();
        raw_bytes += c.len();
        changes.push(c);
    }
    let mut dst = AutoCommit::load(&base).unwrap();
    let t = Instant::now();
    for c in &changes {
        dst.load_incremental(c).unwrap();
    }
    let raw_merge = t.elapsed();
    assert_eq!(dst.text(&text).unwrap().len(), edits);
    // Second baseline: raw Automerge given all the changes in one call.
    let all: Vec<u8> = changes.concat();
    let mut dst = AutoCommit::load(&base).unwrap();
    let t = Instant::now();
    dst.load_incremental(&all).unwrap();
    let raw_batch = t.elapsed();
    assert_eq!(dst.text(&text).unwrap().len(), edits);

    // 2: `docs` records, snapshots uploaded, then a new device's first sync.
    for i in 0..docs.saturating_sub(3) {
        a.create_session(&session(c, i as i64 + 1)).unwrap();
    }
    a.sync(&relay, &SyncOptions::default()).unwrap();
    b.sync(&relay, &SyncOptions::default()).unwrap();
    a.upload_snapshots(&relay).unwrap();
    let (inv, code) = invite(&a, &relay);
    let fresh =
        Vault::join(&dir.path().join("c"), VaultSecret::key([3; 32]), opts(), &inv, &code, &relay)
            .unwrap();
    let t = Instant::now();
    let r = fresh.sync(&relay, &SyncOptions { page_size: 500, ..Default::default() }).unwrap();
    let first_sync = t.elapsed();
    assert_eq!(fresh.timeline(c).unwrap().len(), docs - 1);

    println!("# Sync benchmark ({})\n", if quick { "quick" } else { "full" });
    println!("| measure | Mend | baseline | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| merge {edits} remote changes typed offline ({coalesced_bundles} bundles) | {:.1} ms (one sync) | {:.1} ms (raw Automerge, one by one) | {:.2}× |",
        ms(mend_merge),
        ms(raw_merge),
        mend_merge.as_secs_f64() / raw_merge.as_secs_f64()
    );
    println!(
        "| merge {edits} remote changes typed offline ({coalesced_bundles} bundles) | {:.1} ms (one sync) | {:.1} ms (raw Automerge, all in one call) | {:.2}× |",
        ms(mend_merge),
        ms(raw_batch),
        mend_merge.as_secs_f64() / raw_batch.as_secs_f64()
    );
    println!(
        "| merge {edits} remote changes, one bundle per edit | {:.1} ms (one sync) | {:.1} ms (raw Automerge, one by one) | {:.2}× |",
        ms(mend_merge_live),
        ms(raw_merge),
        mend_merge_live.as_secs_f64() / raw_merge.as_secs_f64()
    );
    println!(
        "| merge {edits} remote changes, one bundle per edit | {:.1} ms (one sync) | {:.1} ms (raw Automerge, all in one call) | {:.2}× |",
        ms(mend_merge_live),
        ms(raw_batch),
        mend_merge_live.as_secs_f64() / raw_batch.as_secs_f64()
    );
    println!(
        "| first sync of a new device, {docs} records | {:.0} ms ({} items pulled) | — | — |",
        ms(first_sync),
        r.pulled
    );
    let raw_per_edit = raw_bytes as f64 / edits as f64;
    for (what, bytes) in [("typed offline, one sync", sent), ("synced after every edit", sent_live)]
    {
        println!(
            "| bytes sent per one-character edit, {what} | {:.0} B | {:.0} B (raw Automerge change) | {:.1}× |",
            bytes as f64 / edits as f64,
            raw_per_edit,
            (bytes as f64 / edits as f64) / raw_per_edit
        );
    }
}
