//! The erasure log: every key id a drop erased, kept in a file outside the store, so a store
//! restored from a backup taken before an erasure gets it again.
//!
//! A drop is written here (and flushed to disk) before the store deletes anything, and the relay
//! re-applies the whole log every time it starts: bundles under an erased key that a restored
//! backup brought back are deleted, and the tombstone that refuses them again is put back. The
//! log holds only random ids (vault and key id, hex), never anything a device wrote.
//!
//! Format: one line per key, `drop VAULT KEY\n` (32 hex digits each). A last line cut short by
//! a crash (no newline) is ignored: its drop was never answered, so the device sends it again.
//! Any other malformed line stops the relay from starting, rather than skipping an erasure.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::store::{Id, Store, NO_LABEL};

/// An erasure log open for appending.
pub struct ErasureLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// Why the erasure log could not be read or re-applied. Names a line number, never its bytes.
#[derive(Debug, thiserror::Error)]
pub enum ErasureLogError {
    /// The file could not be opened, read or written.
    #[error("erasure log {path}: {error}")]
    Io {
        /// The log's path.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// A complete line is not `drop VAULT KEY`.
    #[error("erasure log {path}: line {line} is malformed")]
    Malformed {
        /// The log's path.
        path: String,
        /// 1-based line number.
        line: usize,
    },
    /// The store refused a drop.
    #[error("re-applying the erasure log: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn id_from_hex(s: &str) -> Option<Id> {
    hex::decode(s).ok()?.try_into().ok()
}

impl ErasureLog {
    /// Opens (creating it if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> Result<Self, ErasureLogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| ErasureLogError::Io { path: path.display().to_string(), error })?;
        Ok(ErasureLog { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the drop of `keys` in `vault` in one write and flushes it to disk. The all-zero
    /// key id, which no drop erases, is left out.
    pub async fn record(self: &Arc<Self>, vault: Id, keys: &[Id]) -> Result<(), ErasureLogError> {
        let mut lines = String::new();
        for k in keys.iter().filter(|k| **k != NO_LABEL) {
            lines.push_str(&format!("drop {} {}\n", hex::encode(vault), hex::encode(k)));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let log = Arc::clone(self);
        let io = move || {
            let mut f = log.file.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(lines.as_bytes())?;
            f.sync_data()
        };
        let path = || self.path.display().to_string();
        match tokio::task::spawn_blocking(io).await {
            Ok(r) => r.map_err(|error| ErasureLogError::Io { path: path(), error }),
            Err(_) => Err(ErasureLogError::Io {
                path: path(),
                error: std::io::Error::other("the write was interrupted"),
            }),
        }
    }

    /// Every drop in the log at `path`, by vault (an absent file is an empty log).
    pub fn read(path: &Path) -> Result<BTreeMap<Id, Vec<Id>>, ErasureLogError> {
        let p = || path.display().to_string();
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(ErasureLogError::Io { path: p(), error }),
        };
        let mut drops: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
        let complete = match text.iter().rposition(|b| *b == b'\n') {
            Some(end) => &text[..=end],
            None => &[][..],
        };
        for (i, line) in complete.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let parsed = std::str::from_utf8(line).ok().and_then(|l| {
                let mut w = l.split(' ');
                match (w.next(), w.next(), w.next(), w.next()) {
                    (Some("drop"), Some(v), Some(k), None) => {
                        Some((id_from_hex(v)?, id_from_hex(k)?))
                    }
                    _ => None,
                }
            });
            let Some((vault, key)) = parsed else {
                return Err(ErasureLogError::Malformed { path: p(), line: i + 1 });
            };
            drops.entry(vault).or_default().push(key);
        }
        Ok(drops)
    }

    /// Re-applies every drop in the log at `path` to `store` (idempotent: a key already dropped
    /// drops nothing). Returns how many keys the log names and how many bundles it dropped.
    pub async fn reapply(path: &Path, store: &dyn Store) -> Result<(u64, u64), ErasureLogError> {
        let drops = Self::read(path)?;
        let (mut keys, mut dropped) = (0u64, 0u64);
        for (vault, ks) in drops {
            for chunk in ks.chunks(1000) {
                keys += chunk.len() as u64;
                dropped += store.drop_keys(vault, chunk.to_vec()).await?;
            }
        }
        Ok((keys, dropped))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_ignored_and_any_other_bad_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("erasures.log");
        let (v, k) = ([1u8; 16], [2u8; 16]);
        let good = format!("drop {} {}\n", hex::encode(v), hex::encode(k));
        std::fs::write(&path, format!("{good}{good}drop 0102")).unwrap();
        let read = ErasureLog::read(&path).unwrap();
        assert_eq!(read.get(&v), Some(&vec![k, k]));
        std::fs::write(&path, format!("{good}drop 01 02\n{good}")).unwrap();
        let err = ErasureLog::read(&path).unwrap_err();
        assert!(matches!(err, ErasureLogError::Malformed { line: 2, .. }), "{err}");
        assert!(ErasureLog::read(&dir.path().join("absent")).unwrap().is_empty());
    }
}
