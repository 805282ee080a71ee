//! One handle per vault file: a second open in this process, or an open while another process
//! holds the vault, fails at once with a typed error — never later, with a lost edit.
//!
//! The cross-process test re-runs its own binary as the holder (`vault_holder`, which does
//! nothing unless `MEND_HOLD_VAULT` is set): it opens the vault, says so on stdout, and keeps
//! it open until the parent kills it.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use mend_core::*;
use mend_testkit::*;

#[test]
fn vault_holder() {
    let Ok(p) = std::env::var("MEND_HOLD_VAULT") else {
        return; // Only meaningful as the child of `a_vault_open_in_another_process_is_refused`.
    };
    let _v = Vault::open(std::path::Path::new(&p), VaultSecret::key(KEY), opts()).unwrap();
    println!("\nholder: vault open");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn a_second_open_in_this_process_is_refused_and_the_first_handle_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let first = new_vault(&dir);
    let a = first.create_client(&new_client("C-0701")).unwrap();
    for secret in [VaultSecret::key(KEY), VaultSecret::key([1; 32])] {
        // Refused before the key is even tried: a second handle is the problem either way.
        assert_eq!(Vault::open(&p, secret, opts()).unwrap_err(), Error::AlreadyOpen);
    }
    // The same file by another spelling is the same vault.
    let other = dir.path().join(".").join("vault.mend");
    assert_eq!(Vault::open(&other, VaultSecret::key(KEY), opts()).unwrap_err(), Error::AlreadyOpen);
    // The first handle keeps writing; nothing it wrote is lost.
    let b = first.create_client(&new_client("C-0702")).unwrap();
    drop(first);
    let again = reopen(&p);
    assert_eq!(again.client(a).unwrap().alias_code, "C-0701");
    assert_eq!(again.client(b).unwrap().alias_code, "C-0702");
}

#[test]
fn threads_racing_to_open_one_vault_get_one_handle() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    drop(new_vault(&dir));
    let p = Arc::new(p);
    let results: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || Vault::open(&p, VaultSecret::key(KEY), opts()))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    // Handles that won are still alive here (held in `results`), so exactly one could win.
    let won = results.iter().filter(|r| r.is_ok()).count();
    let refused = results.iter().filter(|r| matches!(r, Err(Error::AlreadyOpen))).count();
    assert_eq!((won, refused), (1, 7), "{results:?}");
}

#[test]
fn a_vault_open_in_another_process_is_refused_until_that_process_ends() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(&dir);
    let id = {
        let v = new_vault(&dir);
        v.create_client(&new_client("C-0703")).unwrap()
    };
    // Kills the holder however this test ends, so a failing assertion leaves no process behind.
    struct Holder(std::process::Child);
    impl Drop for Holder {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "vault_holder", "--nocapture", "--test-threads=1"])
        .env("MEND_HOLD_VAULT", &p)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let holder = Holder(child);
    let mut lines = BufReader::new(stdout).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("holder: vault open")),
        "the holder did not open the vault"
    );
    let before = raw_bytes(&p);
    assert_eq!(
        Vault::open(&p, VaultSecret::key(KEY), opts()).unwrap_err(),
        Error::OpenInAnotherProcess
    );
    assert_eq!(raw_bytes(&p), before, "a refused open wrote to the file or its WAL");
    // A holder that dies (killed, as a crashed app would be) leaves no lock behind.
    drop(holder);
    let v = reopen(&p);
    assert_eq!(v.client(id).unwrap().alias_code, "C-0703");
}
