//! Corruption never lies. A vault file with a few flipped bytes anywhere gives, for each record,
//! either its true value or a typed error — never an older or otherwise wrong value, never a
//! panic — and every list the app shows either lists a record as it is or flags it unreadable.
//!
//! The campaign: one vault with clients, sessions, notes typed in many saves (some folded into a
//! snapshot, some not), ruptures and measures, closed cleanly; then `MEND_CORRUPTION_COPIES`
//! copies per seed (default 100, three seeds), each with 1–8 bytes XORed with random non-zero
//! values at random offsets of the file, opened and read in full. `scripts/corruption.sh` runs
//! it at length; RELIABILITY.md has the results.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use mend_core::*;
use mend_testkit::*;

#[derive(Clone, Copy, Debug)]
enum Rec {
    Client(RecordId),
    Session(RecordId),
    Note(RecordId),
    Rupture(RecordId),
    Measure(RecordId),
}

/// What one read gave: the value (as its full `Debug` text) or a typed error's name.
fn read(v: &Vault, r: Rec) -> Result<String, String> {
    let name = |e: Error| format!("{e:?}").split(['(', ' ', '{']).next().unwrap_or("").to_owned();
    match r {
        Rec::Client(id) => v.client(id).map(|x| format!("{x:?}")).map_err(name),
        Rec::Session(id) => v.session(id).map(|x| format!("{x:?}")).map_err(name),
        Rec::Note(id) => v.note(id).map(|x| format!("{x:?}")).map_err(name),
        Rec::Rupture(id) => v.rupture(id).map(|x| format!("{x:?}")).map_err(name),
        Rec::Measure(id) => v.measure(id).map(|x| format!("{x:?}")).map_err(name),
    }
}

/// Every list of every client: a listed row as its `Debug` text, keyed by record id.
fn lists(v: &Vault, clients: &[RecordId]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let e = |e: Error| format!("{e:?}");
    out.insert("conflicts".to_owned(), format!("{:?}", v.conflicts().map_err(e)?));
    for row in v.clients().map_err(e)? {
        out.insert(format!("client {:?}", row.id), format!("{row:?}"));
    }
    for c in clients {
        for row in v.timeline(*c).map_err(e)? {
            let id = match &row {
                query::TimelineEntry::Session { id, .. }
                | query::TimelineEntry::Note { id, .. }
                | query::TimelineEntry::Unreadable { id, .. } => *id,
                query::TimelineEntry::Rupture(r) => r.id,
                query::TimelineEntry::Measure(m) => m.measure_id,
            };
            out.insert(format!("timeline {c:?} {id:?}"), format!("{row:?}"));
        }
        for row in v.unresolved_ruptures(*c).map_err(e)? {
            out.insert(format!("unresolved {c:?} {:?}", row.id), format!("{row:?}"));
        }
    }
    Ok(out)
}

/// Builds the vault the campaign corrupts; returns its records and clients.
fn build(path: &Path) -> (Vec<Rec>, Vec<RecordId>) {
    // Fold after 12 saves, so some notes are a snapshot plus changes and others only changes.
    let opts = VaultOptions { compact_after: 12, ..opts() };
    let v = Vault::create(path, VaultSecret::key(KEY), opts).unwrap();
    let (mut recs, mut clients) = (Vec::new(), Vec::new());
    for c in 0..3i64 {
        let client = v.create_client(&new_client(&format!("C-{c}"))).unwrap();
        clients.push(client);
        recs.push(Rec::Client(client));
        v.add_treatment_goal(client, "Sleep through the night", "sleep").unwrap();
        for s in 0..2i64 {
            let start = 1_767_600_000_000 + (c * 10 + s) * 86_400_000;
            let session = v.create_session(&new_session(client, start)).unwrap();
            recs.push(Rec::Session(session));
            let note = v.create_note(&soap(session)).unwrap();
            recs.push(Rec::Note(note));
            // Typed in many saves: 5 to 30, so some notes cross the fold and some do not.
            for k in 0..(5 + 5 * (c * 2 + s)) {
                let len =
                    v.note(note).unwrap().section("subjective").unwrap().encode_utf16().count();
                v.splice_note_section(note, "subjective", len, 0, &format!(" w{k}")).unwrap();
            }
            if s == 0 {
                v.sign_note(note, &author_sign(start + 3_600_000, false)).unwrap();
            }
            let rupture = v
                .create_rupture(&new_rupture(client, Some(session), start + 1_200_000), "t")
                .unwrap();
            recs.push(Rec::Rupture(rupture));
            let measure = v
                .record_measure(&NewMeasure {
                    client_id: client,
                    session_id: Some(session),
                    instrument: Instrument::WaiSr,
                    rater: Rater::Client,
                    administered_at: start + 3_000_000,
                    items: wai_items(3 + s),
                    supersedes: None,
                })
                .unwrap();
            recs.push(Rec::Measure(measure));
        }
    }
    drop(v);
    (recs, clients)
}

#[derive(Default, Debug)]
struct Tally {
    copies: u64,
    refused_to_open: u64,
    reads_true: u64,
    reads_typed_error: u64,
    lists_true: u64,
    lists_flagged: u64,
    /// Reads that gave a value other than the true one.
    wrong_reads: u64,
    /// List rows that were missing or showed a value other than the true one.
    wrong_rows: u64,
    /// Copies with at least one of either.
    copies_wrong: u64,
    wrong: Vec<String>,
    panics: Vec<String>,
}

fn campaign(
    seed: u64,
    copies: u64,
    bytes: &[u8],
    truth: &[(Rec, String)],
    lists_truth: &BTreeMap<String, String>,
    clients: &[RecordId],
    t: &mut Tally,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SplitMix(seed);
    for copy in 0..copies {
        let mut b = bytes.to_vec();
        let flips = 1 + rng.below(8);
        let mut at = Vec::new();
        for _ in 0..flips {
            let off = rng.below(b.len() as u64) as usize;
            let x = 1 + rng.below(255) as u8;
            b[off] ^= x;
            at.push(off);
        }
        let path = dir.path().join(format!("copy-{seed}-{copy}.mend"));
        std::fs::write(&path, &b).unwrap();
        t.copies += 1;
        let what = format!("seed {seed} copy {copy} (flips at {at:?})");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let v = match Vault::open(&path, VaultSecret::key(KEY), opts()) {
                Ok(v) => v,
                Err(_) => return None,
            };
            let reads: Vec<_> = truth.iter().map(|(r, _)| read(&v, *r)).collect();
            let listed = lists(&v, clients);
            Some((reads, listed))
        }));
        match outcome {
            Err(_) => t.panics.push(what),
            Ok(None) => t.refused_to_open += 1,
            Ok(Some((reads, listed))) => {
                let (reads_before, rows_before) = (t.wrong_reads, t.wrong_rows);
                for ((r, want), got) in truth.iter().zip(reads) {
                    match got {
                        Ok(got) if &got == want => t.reads_true += 1,
                        Ok(got) => {
                            t.wrong_reads += 1;
                            t.wrong.push(format!("{what}: {r:?} read {got} instead of {want}"))
                        }
                        Err(_) => t.reads_typed_error += 1,
                    }
                }
                match listed {
                    Err(_) => t.lists_flagged += 1,
                    Ok(listed) => {
                        // A row not in the truth is wrong unless it says it is unreadable (a
                        // client's own record, damaged, shows in its timeline as unreadable).
                        for (k, got) in listed.iter().filter(|(k, _)| !lists_truth.contains_key(*k))
                        {
                            if got.contains("Unreadable") {
                                t.lists_flagged += 1;
                            } else {
                                t.wrong_rows += 1;
                                t.wrong.push(format!("{what}: {k} listed but not stored there"));
                            }
                        }
                        for (k, want) in lists_truth {
                            // The unresolved list leaves out a rupture it cannot read; the
                            // timeline must flag that rupture then.
                            let flagged_in_timeline = || {
                                let t = k.replacen("unresolved", "timeline", 1);
                                listed.get(&t).is_some_and(|g| g.contains("Unreadable"))
                            };
                            match listed.get(k) {
                                None if k.starts_with("unresolved") && flagged_in_timeline() => {
                                    t.lists_flagged += 1
                                }
                                Some(got) if got == want => t.lists_true += 1,
                                Some(got) if got.contains("Err(") || got.contains("Unreadable") => {
                                    t.lists_flagged += 1
                                }
                                Some(got) => {
                                    t.wrong_rows += 1;
                                    t.wrong
                                        .push(format!("{what}: {k} listed {got} instead of {want}"))
                                }
                                None => {
                                    t.wrong_rows += 1;
                                    t.wrong.push(format!("{what}: {k} missing from its list"))
                                }
                            }
                        }
                    }
                }
                if (t.wrong_reads, t.wrong_rows) != (reads_before, rows_before) {
                    t.copies_wrong += 1;
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn a_flipped_byte_anywhere_gives_the_true_value_or_a_typed_error() {
    let copies: u64 =
        std::env::var("MEND_CORRUPTION_COPIES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let seeds: Vec<u64> = std::env::var("MEND_CORRUPTION_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.mend");
    let (recs, clients) = build(&path);
    assert!(
        !dir.path().join("vault.mend-wal").exists()
            || std::fs::metadata(dir.path().join("vault.mend-wal")).unwrap().len() == 0,
        "the closed vault is one file"
    );
    let bytes = std::fs::read(&path).unwrap();
    let (truth, lists_truth) = {
        let v = reopen(&path);
        let truth: Vec<_> = recs.iter().map(|r| (*r, read(&v, *r).unwrap())).collect();
        (truth, lists(&v, &clients).unwrap())
    };
    let mut t = Tally::default();
    for seed in seeds {
        campaign(seed, copies, &bytes, &truth, &lists_truth, &clients, &mut t);
    }
    eprintln!(
        "corruption campaign: {} copies of a {}-byte vault, {} refused to open; reads: {} true, {} typed errors, {} wrong; list rows: {} true, {} flagged, {} wrong or missing; {} copies with a wrong value; {} panics",
        t.copies, bytes.len(), t.refused_to_open, t.reads_true, t.reads_typed_error, t.wrong_reads, t.lists_true, t.lists_flagged, t.wrong_rows, t.copies_wrong, t.panics.len()
    );
    for w in t.wrong.iter().take(12) {
        eprintln!("WRONG {w}");
    }
    assert!(t.panics.is_empty(), "panics: {:?}", t.panics);
    assert!(
        t.wrong.is_empty(),
        "{} silently wrong values, first: {:?}",
        t.wrong.len(),
        t.wrong.first()
    );
    // The campaign must have exercised both outcomes, or it measured nothing.
    assert!(t.reads_true > 0 && t.reads_typed_error > 0, "{t:?}");
}
