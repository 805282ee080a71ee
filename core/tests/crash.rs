//! Crash safety: a writer process is SIGKILLed mid-stream many times; every save it acknowledged
//! must be there afterwards, and the vault must open.
//!
//! The test re-runs its own binary as the writer (`crash_writer`, which does nothing unless
//! `MEND_CRASH_VAULT` is set). The writer prints `ack N` only after `splice_note_section` returned
//! for edit N; the parent kills it at a random moment and checks that edits 0..=N are all in the
//! note.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mend_core::*;
use mend_testkit::*;

const ROUNDS: usize = 12;

#[test]
fn crash_writer() {
    let (Ok(p), Ok(note), Ok(start)) = (
        std::env::var("MEND_CRASH_VAULT"),
        std::env::var("MEND_CRASH_NOTE"),
        std::env::var("MEND_CRASH_START"),
    ) else {
        return; // Only meaningful as the child of `killed_writers_lose_no_acknowledged_save`.
    };
    let v = Vault::open(std::path::Path::new(&p), VaultSecret::key(KEY), opts()).unwrap();
    let note: RecordId = note.parse().unwrap();
    let start: usize = start.parse().unwrap();
    let out = std::io::stdout();
    for i in start.. {
        let len = v.note(note).unwrap().section("body").unwrap().encode_utf16().count();
        v.splice_note_section(note, "body", len, 0, &format!("<{i}>")).unwrap();
        let mut o = out.lock();
        writeln!(o, "ack {i}").unwrap();
        o.flush().unwrap();
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_save() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let note = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0600")).unwrap();
        let s = v.create_session(&new_session(c, 1)).unwrap();
        let mut n = soap(s);
        n.format = NoteFormat::Free;
        n.sections = vec![];
        v.create_note(&n).unwrap()
    };
    let exe = std::env::current_exe().unwrap();
    let mut next = 0usize;
    let mut seed = 0x9E37_79B9u64;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env("MEND_CRASH_VAULT", &p)
            .env("MEND_CRASH_NOTE", note.to_string())
            .env("MEND_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill after a pseudo-random number of acknowledgements (5..45), mid-write.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = 5 + (seed % 40) as usize;
        let mut acked: Option<usize> = None;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(Ok(line)) = lines.next() {
            if let Some(n) = line.strip_prefix("ack ") {
                acked = Some(n.parse().unwrap());
                if acked.unwrap() >= next + target || Instant::now() > deadline {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = acked.unwrap_or_else(|| panic!("round {round}: writer acknowledged nothing"));

        let v = reopen(&p);
        let body = v.note(note).unwrap().section("body").unwrap().to_owned();
        for i in 0..=acked {
            assert!(body.contains(&format!("<{i}>")), "round {round}: acknowledged edit {i} lost");
        }
        // The edit in flight at the kill may or may not have landed; continue after it.
        next = acked + 1;
        while body.contains(&format!("<{next}>")) {
            next += 1;
        }
    }
    assert!(next > ROUNDS * 5);
}

/// An erasure is two transactions: the registry marks the client erased, then its keys are
/// destroyed. A process killed between them leaves the registry's mark and the keys; opening the
/// vault finishes the erasure (built here by putting the keys back into an erased vault's file).
#[test]
fn an_erasure_cut_short_between_its_two_writes_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let (c, other, note) = {
        let v = new_vault(&dir);
        let c = v.create_client(&new_client("C-0601")).unwrap();
        let other = v.create_client(&new_client("C-0602")).unwrap();
        let s = v.create_session(&new_session(c, 1)).unwrap();
        (c, other, v.create_note(&soap(s)).unwrap())
    };
    let keys: Vec<(Vec<u8>, Vec<u8>)> = {
        let conn = rusqlite::Connection::open(&p).unwrap();
        let mut q = conn.prepare("SELECT key_id, wrapped FROM keys WHERE client_id = ?1").unwrap();
        q.query_map([&c.as_bytes()[..]], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!keys.is_empty());
    reopen(&p).erase_client(c).unwrap();
    {
        let conn = rusqlite::Connection::open(&p).unwrap();
        for (id, wrapped) in &keys {
            let n = conn
                .execute("UPDATE keys SET wrapped = ?2 WHERE key_id = ?1", [id, wrapped])
                .unwrap();
            assert_eq!(n, 1);
        }
    }
    let v = reopen(&p);
    assert!(matches!(v.client(c), Err(Error::Erased(_))), "{:?}", v.client(c).map(|_| ()));
    assert!(matches!(v.note(note), Err(Error::Erased(_))));
    assert_eq!(v.client(other).unwrap().alias_code, "C-0602");
    drop(v);
    let conn = rusqlite::Connection::open(&p).unwrap();
    let held: i64 = conn
        .query_row(
            "SELECT count(*) FROM keys WHERE client_id = ?1 AND wrapped IS NOT NULL",
            [&c.as_bytes()[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(held, 0, "the wrapped keys are gone from the file again");
}
