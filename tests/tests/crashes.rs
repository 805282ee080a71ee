//! A thousand crashes (RELIABILITY.md): a device process is SIGKILLed at random points of
//! typing, signing, sync apply, compaction and erasure, round after round on one vault, while a
//! second device keeps sending it work through a real relay on loopback.
//!
//! After every kill the parent checks: the vault opens; every save the worker acknowledged is
//! there (typed characters exactly once and in order, created records, signatures, erasures,
//! the other device's edits a finished sync brought); sync resumes; both devices converge.
//!
//! The worker is this test binary run again (`crash_worker`, ignored in normal runs). It prints
//! `begin N OP` before its N-th operation, `step STEP` before the signature and the erasure
//! inside one, and `ack …` after each save returned; the parent kills it 2^k µs (k uniform in
//! 0..16, so 1 µs to 33 ms) after the `begin` of a randomly chosen operation, then reads what it
//! printed up to the kill (a printed line is a save the app saw succeed).
//!
//! `MEND_CRASH_ROUNDS` (default 30, CI) and `MEND_CRASH_SEED` set the campaign;
//! `scripts/crashes.sh` runs 1,000 rounds in release.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mend_core::sync::http::HttpTransport;
use mend_core::sync::SyncOptions;
use mend_core::*;
use mend_testkit::*;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The worker: opens the vault and does random clinical work until it is killed.
#[test]
#[ignore = "the child process of `killed_devices_lose_nothing_and_sync_resumes`"]
fn crash_worker() {
    let (Some(p), Some(url), Some(round), Some(seed), Some(typing), Some(client)) = (
        env("MEND_CRASH_VAULT"),
        env("MEND_CRASH_RELAY"),
        env("MEND_CRASH_ROUND"),
        env("MEND_CRASH_SEED"),
        env("MEND_CRASH_NOTE"),
        env("MEND_CRASH_CLIENT"),
    ) else {
        return;
    };
    let round: u64 = round.parse().unwrap();
    let typing: RecordId = typing.parse().unwrap();
    let client: RecordId = client.parse().unwrap();
    let mut rng =
        SplitMix(seed.parse::<u64>().unwrap() ^ round.wrapping_mul(0xA24B_AED4_963E_E407));
    let v =
        Vault::open(Path::new(&p), VaultSecret::key(KEY), opts_with(Durability::Normal)).unwrap();
    let t = HttpTransport::new(&url);
    let say = |line: String| report(&line);
    say("ready".into());
    let mut key = 0u64;
    for n in 1u64.. {
        let pick = rng.below(100);
        let op = match pick {
            0..=44 => "type",
            45..=59 => "sync",
            60..=74 => "sign",
            75..=87 => "compact",
            _ => "erase",
        };
        say(format!("begin {n} {op}"));
        match op {
            "type" => {
                for _ in 0..1 + rng.below(20) {
                    let token = format!("<{round}.{key}>");
                    key += 1;
                    type_at_end(&v, typing, &token);
                    say(format!("ack type {token}"));
                }
            }
            "sync" => {
                v.sync(&t, &SyncOptions { page_size: 5, ..Default::default() }).unwrap();
                say("ack sync".into());
            }
            "sign" => {
                let s = v.create_session(&bare_session(client, n as i64 * 60_000)).unwrap();
                let note = v.create_note(&free_note(s)).unwrap();
                let text = format!("signed {round}.{n}");
                type_at_end(&v, note, &text);
                say(format!("ack note {note} {text}"));
                say("step sign".into());
                v.sign_note(note, &author_sign(n as i64 * 60_000 + 1, false)).unwrap();
                say(format!("ack sign {note}"));
            }
            "compact" => {
                v.compact_all().unwrap();
                say("ack compact".into());
            }
            _ => {
                let c = v.create_client(&bare_client(&format!("E-{round}.{n}"), "US")).unwrap();
                let s = v.create_session(&bare_session(c, 0)).unwrap();
                let note = v.create_note(&free_note(s)).unwrap();
                let text = format!("to erase {round}.{n}");
                type_at_end(&v, note, &text);
                say(format!("ack client {c} {note} {text}"));
                say("step erase".into());
                v.erase_client(c).unwrap();
                say(format!("ack erase {c}"));
            }
        }
    }
}

/// What the worker acknowledged, over all rounds so far.
#[derive(Default)]
struct Acked {
    /// Typing tokens acknowledged.
    typed: BTreeSet<(u64, u64)>,
    /// Notes created with their text (signed or not).
    notes: BTreeMap<RecordId, String>,
    /// Notes whose signature was acknowledged.
    signed: BTreeSet<RecordId>,
    /// Clients created to be erased: client → (note, text).
    doomed: BTreeMap<RecordId, (RecordId, String)>,
    /// Clients whose erasure was acknowledged.
    erased: BTreeSet<RecordId>,
}

/// Typing tokens `<round.key>` in the order they appear in `text`.
fn tokens(text: &str) -> Vec<(u64, u64)> {
    text.split('<')
        .filter_map(|s| s.split_once('>'))
        .filter_map(|(t, _)| t.split_once('.'))
        .map(|(r, k)| (r.parse().unwrap(), k.parse().unwrap()))
        .collect()
}

/// Everything acknowledged is in `v` (of the records, those in `only` unless it is `None`);
/// panics with what was lost.
fn check(
    v: &Vault,
    acked: &Acked,
    typing: RecordId,
    round: u64,
    only: Option<&BTreeSet<RecordId>>,
) {
    let text = free_text(v, typing);
    let found = tokens(&text);
    let mut sorted = found.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(found, sorted, "round {round}: typed characters duplicated or out of order");
    let found: BTreeSet<_> = found.into_iter().collect();
    let lost: Vec<_> = acked.typed.difference(&found).collect();
    assert!(lost.is_empty(), "round {round}: acknowledged keystrokes lost: {lost:?}");
    let this_round = |id: &RecordId| only.is_none_or(|o| o.contains(id));
    for (id, text) in acked.notes.iter().filter(|(id, _)| this_round(id)) {
        let n = v.note(*id).unwrap_or_else(|e| panic!("round {round}: note {id}: {e}"));
        assert_eq!(n.section("body"), Some(text.as_str()), "round {round}: note {id}");
        if acked.signed.contains(id) {
            assert!(!n.signatures.is_empty(), "round {round}: signature of {id} lost");
            v.signed_content(*id).unwrap();
        }
    }
    for (c, (note, text)) in acked.doomed.iter().filter(|(c, _)| this_round(c)) {
        match (v.client(*c), v.note(*note)) {
            (Err(Error::Erased(_)), Err(Error::Erased(_))) => {}
            (Ok(_), Ok(n)) if !acked.erased.contains(c) => {
                assert_eq!(n.section("body"), Some(text.as_str()), "round {round}: note {note}")
            }
            (a, b) => panic!(
                "round {round}: client {c} (erasure acknowledged: {}): {:?} / {:?}",
                acked.erased.contains(c),
                a.map(|_| ()),
                b.map(|_| ())
            ),
        }
    }
}

/// What both devices show, for comparing them: the readable clients, the two shared notes, every
/// acknowledged note with its signatures, and every acknowledged erasure. (An erased client is a
/// row on the device that had it and absent on one that never saw it, so only readable clients
/// are listed.)
fn view(v: &Vault, shared: &[RecordId], acked: &Acked) -> Vec<String> {
    let mut out: Vec<String> = v
        .clients()
        .unwrap()
        .into_iter()
        .filter_map(|c| c.info.ok().map(|(alias, status)| format!("{} {alias} {status:?}", c.id)))
        .collect();
    out.extend(shared.iter().map(|n| free_text(v, *n)));
    for id in acked.notes.keys() {
        out.push(match v.note(*id) {
            Ok(n) => format!("{id} {:?} {:?}", n.sections, n.signatures),
            Err(e) => format!("{id} {e:?}"),
        });
    }
    for c in &acked.erased {
        // Erased, or never seen (erased before the device that made it synced): never readable.
        out.push(format!("{c} readable: {}", v.client(*c).is_ok()));
    }
    out
}

fn sync_ok(v: &Vault, t: &HttpTransport, round: u64, who: &str) {
    v.sync(t, &SyncOptions::default())
        .unwrap_or_else(|e| panic!("round {round}: {who} could not sync: {e}"));
}

#[test]
fn killed_devices_lose_nothing_and_sync_resumes() {
    let rounds: u64 = env("MEND_CRASH_ROUNDS").map_or(30, |r| r.parse().unwrap());
    let seed: u64 = env("MEND_CRASH_SEED").map_or(0x6D65_6E64, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let relay =
        serve(sqlite(&dir), mend_relay::Limits { open_registration: true, ..Default::default() });
    let (ta, tb) = (HttpTransport::new(&relay.url), HttpTransport::new(&relay.url));
    let a_path = dir.path().join("a.mend");
    let (client, typing, theirs, b) = {
        let a =
            Vault::create(&a_path, VaultSecret::key(KEY), opts_with(Durability::Normal)).unwrap();
        let client = a.create_client(&bare_client("C-1", "US")).unwrap();
        let s = a.create_session(&bare_session(client, 0)).unwrap();
        let typing = a.create_note(&free_note(s)).unwrap();
        let theirs = a.create_note(&free_note(s)).unwrap();
        let b = pair(&a, &ta, &dir.path().join("b.mend"), VaultSecret::key(JOIN_KEY), opts(), &tb);
        sync(&a, &ta);
        (client, typing, theirs, b)
    };

    let mut rng = SplitMix(seed);
    let mut acked = Acked::default();
    let mut in_flight: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut syncs_acked, mut b_markers) = (0u64, Vec::new());
    let started = Instant::now();
    for round in 0..rounds {
        // The other device sends work first, so the worker's sync has something to apply.
        let marker = format!("[b{round}]");
        type_at_end(&b, theirs, &marker);
        if round % 7 == 0 {
            b.create_client(&bare_client(&format!("B-{round}"), "US")).unwrap();
        }
        sync(&b, &tb);
        b_markers.push(marker.clone());

        let stop_at = 1 + rng.below(8);
        let delay = Duration::from_micros(1 << rng.below(16));
        let stderr = dir.path().join(format!("worker-{round}.err"));
        let mut child = rerun_ignored("crash_worker")
            .env("MEND_CRASH_VAULT", &a_path)
            .env("MEND_CRASH_RELAY", &relay.url)
            .env("MEND_CRASH_ROUND", round.to_string())
            .env("MEND_CRASH_SEED", seed.to_string())
            .env("MEND_CRASH_NOTE", typing.to_string())
            .env("MEND_CRASH_CLIENT", client.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        // A worker that hangs is killed by a watchdog, and the round fails.
        let (done, hung) = (std::sync::mpsc::channel::<()>(), Arc::new(AtomicBool::new(false)));
        let (pid, flag) = (child.id().to_string(), Arc::clone(&hung));
        let watchdog = std::thread::spawn(move || {
            let timeout = done.1.recv_timeout(Duration::from_secs(120));
            if matches!(timeout, Err(std::sync::mpsc::RecvTimeoutError::Timeout)) {
                flag.store(true, Ordering::Relaxed);
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            let stop = line.starts_with(&format!("begin {stop_at} "));
            seen.push(line);
            if stop || Instant::now() > deadline {
                std::thread::sleep(delay);
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        // What the worker printed before it died: each line is a save it saw returned.
        seen.extend(lines.map_while(Result::ok));
        let _ = done.0.send(());
        watchdog.join().unwrap();
        assert!(
            !hung.load(Ordering::Relaxed),
            "round {round}: the worker hung (killed after 120 s)"
        );
        assert!(
            status.code().is_none(),
            "round {round}: the worker exited by itself ({status}): {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        let mut op = "open";
        let mut round_ids = BTreeSet::new();
        let mut synced = false;
        for line in &seen {
            let mut w = line.split(' ');
            match (w.next(), w.next()) {
                (Some("begin"), _) => op = label(line.rsplit(' ').next().unwrap_or("?"), false),
                (Some("step"), Some(step)) => op = label(step, true),
                (Some("ack"), Some(what)) => {
                    // Typing goes on after a keystroke's ack (the burst's next one, or `begin`).
                    op = if what == "type" { "typing" } else { "between" };
                    let rest: Vec<&str> = w.collect();
                    let id = |i: usize| rest[i].parse::<RecordId>().unwrap();
                    match what {
                        "type" => {
                            acked.typed.insert(tokens(rest[0])[0]);
                        }
                        "sync" => synced = true,
                        "note" => {
                            acked.notes.insert(id(0), rest[1..].join(" "));
                            round_ids.insert(id(0));
                        }
                        "sign" => {
                            acked.signed.insert(id(0));
                        }
                        "client" => {
                            acked.doomed.insert(id(0), (id(1), rest[2..].join(" ")));
                            round_ids.insert(id(0));
                        }
                        "erase" => {
                            acked.erased.insert(id(0));
                        }
                        "compact" => {}
                        other => panic!("unknown ack {other}"),
                    }
                }
                _ => {}
            }
        }
        *in_flight.entry(op).or_default() += 1;

        // The vault opens, holds everything acknowledged, and syncs again.
        let a = Vault::open(&a_path, VaultSecret::key(KEY), opts_with(Durability::Normal))
            .unwrap_or_else(|e| {
                panic!("round {round}: the vault does not open after the kill: {e}")
            });
        let full = round % 50 == 49 || round + 1 == rounds;
        check(&a, &acked, typing, round, if full { None } else { Some(&round_ids) });
        if synced {
            syncs_acked += 1;
            assert!(free_text(&a, theirs).contains(&marker), "round {round}: an applied sync lost");
        }
        sync_ok(&a, &ta, round, "the killed device");
        sync_ok(&b, &tb, round, "the other device");
        sync_ok(&a, &ta, round, "the killed device");
        let (va, vb) = (view(&a, &[typing, theirs], &acked), view(&b, &[typing, theirs], &acked));
        if va != vb {
            let diff: Vec<_> = va.iter().zip(&vb).filter(|(x, y)| x != y).take(3).collect();
            panic!(
                "round {round}: the devices did not converge ({} / {} rows): {diff:?}",
                va.len(),
                vb.len()
            );
        }
        let t = free_text(&a, theirs);
        for m in &b_markers {
            assert_eq!(t.matches(m.as_str()).count(), 1, "round {round}: {m} once");
        }
        drop(a);
    }
    let kills: u64 = in_flight.values().sum();
    println!(
        "crash campaign: {rounds} SIGKILLs (seed {seed}) in {:.0} s; in flight at the kill: \
         {in_flight:?}; {} acknowledged saves checked ({} keystrokes, {} notes, {} signatures, \
         {} erasures) and {syncs_acked} rounds with an applied sync; 0 lost, 0 duplicated, 0 \
         vaults that failed to open, sync resumed {kills} times",
        started.elapsed().as_secs_f64(),
        acked.typed.len() + acked.notes.len() + acked.signed.len() + acked.erased.len(),
        acked.typed.len(),
        acked.notes.len(),
        acked.signed.len(),
        acked.erased.len(),
    );
    assert_eq!(kills, rounds);
    assert!(acked.typed.len() as u64 >= rounds, "the workers typed");
}

/// The label of what was in flight: the operation a `begin` named (signing and erasure start by
/// creating the records they act on), or the `step` inside one.
fn label(o: &str, step: bool) -> &'static str {
    match (o, step) {
        ("type", _) => "typing",
        ("sync", _) => "sync",
        ("compact", _) => "compaction",
        ("sign", false) => "note to sign being created",
        ("sign", true) => "signing",
        ("erase", false) => "client to erase being created",
        ("erase", true) => "erasure",
        _ => "?",
    }
}
