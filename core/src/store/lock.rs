//! One handle per vault file.
//!
//! Two handles on one vault would each cache documents and sequence numbers, and whichever did
//! not write last would fail its next write (or worse, write over the other's numbering). So a
//! vault is opened once: [`FileLock::acquire`] takes an exclusive advisory lock (`flock` on
//! Unix, `LockFileEx` on Windows, through `std::fs::File::try_lock`) on a sidecar file
//! `<vault>-lock`, held until the [`Vault`](crate::Vault) is dropped. A second open in the same
//! process fails with [`Error::AlreadyOpen`]; while another process (an app extension, a widget,
//! an Android `:sync` process) holds it, with [`Error::OpenInAnotherProcess`]. The kernel drops
//! the lock when a process dies, so a crash never leaves a vault locked.
//!
//! The sidecar holds no data. It is separate from the database file because SQLite takes its
//! own POSIX locks on that file, and on some systems `flock` is emulated with the same locks.
//!
//! The set of vaults open in this process is process-wide state by nature (the OS lock is per
//! process too); it only tells the two errors apart.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Lock files of the vaults this process holds open.
static OPEN_HERE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The lock file beside a vault file.
pub fn lock_path(vault: &Path) -> PathBuf {
    let mut name = vault.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
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
        let path = lock_path(vault);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        let key = path.canonicalize().map_err(|e| io("resolve", e))?;
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        if open.contains(&key) {
            return Err(Error::AlreadyOpen);
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::OpenInAnotherProcess),
            Err(TryLockError::Error(e)) => return Err(io("lock", e)),
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
        let _ = self.file.unlock();
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
        drop(first);
        FileLock::acquire(&vault).expect("free again");
    }
}
