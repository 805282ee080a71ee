//! One handle per vault file.
//!
//! Two handles on one vault would each cache documents and sequence numbers, and whichever did
//! not write last would fail its next write (or worse, write over the other's numbering). So a
//! vault is opened once: [`FileLock::acquire`] takes an exclusive advisory lock (`flock` with
//! `LOCK_EX | LOCK_NB` on Unix through `rustix`, `LockFileEx` on Windows through
//! `std::fs::File::try_lock`) on a sidecar file `<vault>-lock`, held until the
//! [`Vault`](crate::Vault) is dropped. (std's own `try_lock` is a stub returning `Unsupported`
//! on Android before Rust 1.98, so Unix goes through `flock` directly: one code path for Linux,
//! Android, iOS and macOS, the one the tests here exercise.) A second open in the same
//! process fails with [`Error::AlreadyOpen`]; while another process (an app extension, a widget,
//! an Android `:sync` process) holds it, with [`Error::OpenInAnotherProcess`]. The kernel drops
//! the lock when a process dies, so a crash never leaves a vault locked.
//!
//! The sidecar holds no data. It is separate from the database file because SQLite takes its
//! own POSIX locks on that file, and on some systems `flock` is emulated with the same locks.
//!
//! The set of vaults open in this process is process-wide state by nature (the OS lock is per
//! process too); it only tells the two errors apart.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Lock files of the vaults this process holds open.
static OPEN_HERE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The lock file beside a vault file, by the vault's canonical path (symlinks and other
/// spellings of one file name one lock). The vault need not exist yet; its folder must.
pub fn lock_path(vault: &Path) -> std::io::Result<PathBuf> {
    let canonical = match vault.canonicalize() {
        Ok(p) => p,
        Err(_) => {
            let name = vault.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
            let parent = match vault.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.canonicalize()?,
                _ => std::env::current_dir()?,
            };
            parent.join(name)
        }
    };
    let mut name = canonical.into_os_string();
    name.push("-lock");
    Ok(PathBuf::from(name))
}

/// Takes the exclusive lock without waiting: `Ok(false)` when someone else holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
fn unlock(file: &File) {
    let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(not(unix))]
fn unlock(file: &File) {
    let _ = file.unlock();
}

/// An exclusive hold on one vault file, released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    key: PathBuf,
}

impl FileLock {
    /// Takes the vault at `vault` for this handle, or says who holds it.
    pub fn acquire(vault: &Path) -> Result<FileLock> {
        let io = |what: &str, e: std::io::Error| {
            Error::Storage(format!("cannot {what} the vault's lock file: {}", e.kind()))
        };
        let path = lock_path(vault).map_err(|e| io("resolve", e))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        let key = path;
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        if open.contains(&key) {
            return Err(Error::AlreadyOpen);
        }
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => return Err(Error::OpenInAnotherProcess),
            Err(e) => return Err(io("lock", e)),
        }
        open.push(key.clone());
        Ok(FileLock { file, key })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|k| *k != self.key);
        // Closing the file would release it too; unlocking first keeps the order explicit
        // (the set is updated while the lock is still held, so no other thread sees a gap).
        unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_hold_in_this_process_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("v.mend");
        let first = FileLock::acquire(&vault).expect("first hold");
        assert_eq!(FileLock::acquire(&vault).expect_err("held"), Error::AlreadyOpen);
        // Another spelling of the same path is the same vault.
        let other = dir.path().join(".").join("v.mend");
        assert_eq!(FileLock::acquire(&other).expect_err("held"), Error::AlreadyOpen);
        // A symlink to the vault is the same vault too.
        #[cfg(unix)]
        {
            std::fs::write(&vault, b"").expect("vault file");
            let link = dir.path().join("link.mend");
            std::os::unix::fs::symlink(&vault, &link).expect("symlink");
            assert_eq!(FileLock::acquire(&link).expect_err("held"), Error::AlreadyOpen);
        }
        drop(first);
        FileLock::acquire(&vault).expect("free again");
    }
}
