//! The erasure log: what must survive a restore of the store from a backup, kept in a file
//! outside it — every key id a drop erased, every device revoked, every invite claimed, every
//! registration token spent.
//!
//! Each is written here (and flushed to disk) before the store changes, and the relay
//! re-applies the whole log every time it starts (and in `mend-relay restored`): bundles under an
//! erased key that a restored backup brought back are deleted and the tombstone that refuses
//! them again is put back; a device revoked after the backup is revoked again; an invite claimed
//! after it stays claimed. The log holds only random ids (hex), never anything a device wrote.
//!
//! A registration token is logged once its vault registered (after the store spent it, since
//! only a token the store accepted may be logged: a made-up one must not become spendable), and
//! re-applying marks it spent by that vault, so a backup from before cannot register a second
//! vault with it; the vault itself can register again with its own token. (A token issued after
//! the backup is not in the restored store at all: the operator issues the practice a new one.)
//!
//! Format: one line per id, `drop VAULT KEY`, `revoke VAULT DEVICE` or `claim VAULT INVITE`
//! (32 hex digits each), or `spend VAULT TOKEN_HASH` (the token's SHA-256, 64 hex digits). A last line cut short by a crash (no newline) is cut off when the log
//! is opened: its request was never answered, so the device sends it again. A write that fails
//! part way is cut off too, and the log then refuses further writes (the requests that need it
//! get 503) rather than leave a torn line inside it. Any other malformed line stops the relay
//! from starting, rather than skipping an erasure or a revocation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::{Id, Store, NO_LABEL};

/// One entry of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Bundles under a key id were dropped (an erased client).
    Drop {
        /// The vault.
        vault: Id,
        /// The key id.
        key: Id,
    },
    /// A device was revoked.
    Revoke {
        /// The vault.
        vault: Id,
        /// The device.
        device: Id,
    },
    /// An invite was claimed.
    Claim {
        /// The vault.
        vault: Id,
        /// The invite.
        invite: Id,
    },
    /// A registration token registered a vault.
    Spend {
        /// The vault it registered.
        vault: Id,
        /// The token's SHA-256 ([`crate::token_hash`]).
        token: [u8; 32],
    },
}

impl Entry {
    fn line(&self) -> String {
        let (word, vault, id) = match self {
            Entry::Drop { vault, key } => ("drop", vault, &key[..]),
            Entry::Revoke { vault, device } => ("revoke", vault, &device[..]),
            Entry::Claim { vault, invite } => ("claim", vault, &invite[..]),
            Entry::Spend { vault, token } => ("spend", vault, &token[..]),
        };
        format!("{word} {} {}\n", hex::encode(vault), hex::encode(id))
    }

    fn parse(line: &[u8]) -> Option<Entry> {
        let mut w = std::str::from_utf8(line).ok()?.split(' ');
        let (word, vault, id) = (w.next()?, from_hex(w.next()?)?, w.next()?);
        if w.next().is_some() {
            return None;
        }
        match word {
            "drop" => Some(Entry::Drop { vault, key: from_hex(id)? }),
            "revoke" => Some(Entry::Revoke { vault, device: from_hex(id)? }),
            "claim" => Some(Entry::Claim { vault, invite: from_hex(id)? }),
            "spend" => Some(Entry::Spend { vault, token: from_hex(id)? }),
            _ => None,
        }
    }
}

/// An erasure log open for appending.
pub struct ErasureLog {
    path: PathBuf,
    file: Mutex<File>,
    broken: AtomicBool,
}

/// Why the erasure log could not be read, written or re-applied. Names a line number, never
/// its bytes.
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
    /// A complete line is not an entry.
    #[error("erasure log {path}: line {line} is malformed")]
    Malformed {
        /// The log's path.
        path: String,
        /// 1-based line number.
        line: usize,
    },
    /// An earlier write failed; the log takes no more until the relay restarts.
    #[error("erasure log {path}: an earlier write failed; restart the relay")]
    Broken {
        /// The log's path.
        path: String,
    },
    /// The store refused an entry.
    #[error("re-applying the erasure log: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// The length of `bytes` up to and including its last newline.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

impl ErasureLog {
    /// Opens (creating it if needed) the log at `path` for appending; a torn last line is cut
    /// off first, so the next entry starts on a line of its own.
    pub fn open(path: &Path) -> Result<Self, ErasureLogError> {
        let io = |error| ErasureLogError::Io { path: path.display().to_string(), error };
        let existed = path.exists();
        let file =
            OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let keep = complete_len(&bytes);
        if keep != bytes.len() {
            file.set_len(keep as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        if !existed {
            // The new file's name is durable only once its directory is.
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(ErasureLog { path: path.to_path_buf(), file: Mutex::new(file), broken: false.into() })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries` in one write and flushes them to disk. Drops of the all-zero key id,
    /// which no drop erases, are left out.
    pub async fn record(self: &Arc<Self>, entries: Vec<Entry>) -> Result<(), ErasureLogError> {
        let lines: String = entries
            .iter()
            .filter(|e| !matches!(e, Entry::Drop { key, .. } if *key == NO_LABEL))
            .map(Entry::line)
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let path = || self.path.display().to_string();
        if self.broken.load(Ordering::SeqCst) {
            return Err(ErasureLogError::Broken { path: path() });
        }
        let log = Arc::clone(self);
        let io = move || {
            let mut f = log.file.lock().unwrap_or_else(|p| p.into_inner());
            let before = f.metadata()?.len();
            let written = f.write_all(lines.as_bytes()).and_then(|()| f.sync_data());
            if written.is_err() {
                // Cut off whatever part of the lines made it, or stop taking writes.
                if f.set_len(before).and_then(|()| f.sync_data()).is_err() {
                    log.broken.store(true, Ordering::SeqCst);
                }
            }
            written
        };
        match tokio::task::spawn_blocking(io).await {
            Ok(r) => r.map_err(|error| ErasureLogError::Io { path: path(), error }),
            Err(_) => {
                self.broken.store(true, Ordering::SeqCst);
                Err(ErasureLogError::Broken { path: path() })
            }
        }
    }

    /// Every entry in the log at `path`, in order (an absent file is an empty log).
    pub fn read(path: &Path) -> Result<Vec<Entry>, ErasureLogError> {
        let p = || path.display().to_string();
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(ErasureLogError::Io { path: p(), error }),
        };
        let complete = &text[..complete_len(&text)];
        let mut entries = Vec::new();
        for (i, line) in complete.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry = Entry::parse(line)
                .ok_or_else(|| ErasureLogError::Malformed { path: p(), line: i + 1 })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Re-applies every entry in the log at `path` to `store` (idempotent: a key already
    /// dropped drops nothing, a device already revoked stays so). Returns how many entries the
    /// log holds and how many bundles it dropped. A device enrolled after the backup and revoked
    /// after it too is not in the restored store: it is put back as revoked, with no key
    /// ([`NO_KEY`]), so that no member device can enroll it again.
    pub async fn reapply(path: &Path, store: &dyn Store) -> Result<(u64, u64), ErasureLogError> {
        let entries = Self::read(path)?;
        let mut drops: std::collections::BTreeMap<Id, Vec<Id>> = Default::default();
        for e in &entries {
            match *e {
                Entry::Drop { vault, key } => drops.entry(vault).or_default().push(key),
                Entry::Revoke { vault, device } => {
                    if store.device(vault, device).await?.is_none()
                        && store.vault_exists(vault).await?
                    {
                        store.enroll_device(vault, device, NO_KEY).await?;
                    }
                    store.revoke_device(vault, device).await?
                }
                Entry::Claim { vault, invite } => {
                    store.claim_invite(vault, invite).await?;
                }
                Entry::Spend { vault, token } => store.spend_token(token, vault).await?,
            }
        }
        let mut dropped = 0u64;
        for (vault, keys) in drops {
            for chunk in keys.chunks(1000) {
                dropped += store.drop_keys(vault, chunk.to_vec()).await?;
            }
        }
        Ok((entries.len() as u64, dropped))
    }
}

/// The public key of a device put back only to stay revoked: its enrollment came after the
/// backup and is not in the restored store. Not a key anyone holds the private half of; the
/// device is refused as revoked whatever it signs.
pub const NO_KEY: [u8; 32] = [0xFF; 32];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_torn_last_line_is_cut_off_and_any_other_bad_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("erasures.log");
        let (v, k, d) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let drop = Entry::Drop { vault: v, key: k };
        let revoke = Entry::Revoke { vault: v, device: d };
        std::fs::write(&path, format!("{}{}drop 0102", drop.line(), revoke.line())).unwrap();
        assert_eq!(ErasureLog::read(&path).unwrap(), vec![drop, revoke]);
        // Opening cuts the torn line, so the next entry is a line of its own.
        let log = Arc::new(ErasureLog::open(&path).unwrap());
        let spend = Entry::Spend { vault: v, token: [4u8; 32] };
        log.record(vec![Entry::Claim { vault: v, invite: k }, spend]).await.unwrap();
        let all = ErasureLog::read(&path).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[2], Entry::Claim { vault: v, invite: k });
        assert_eq!(all[3], spend);
        // A token hash is 32 bytes, an id 16: neither passes for the other.
        let short = format!("spend {} {}\n", hex::encode(v), hex::encode(k));
        let long = format!("claim {} {}\n", hex::encode(v), hex::encode([4u8; 32]));
        for bad in [short, long] {
            std::fs::write(&path, bad).unwrap();
            assert!(matches!(ErasureLog::read(&path), Err(ErasureLogError::Malformed { .. })));
        }
        std::fs::write(&path, format!("{}drop 01 02\n{}", drop.line(), drop.line())).unwrap();
        let err = ErasureLog::read(&path).unwrap_err();
        assert!(matches!(err, ErasureLogError::Malformed { line: 2, .. }), "{err}");
        assert!(ErasureLog::read(&dir.path().join("absent")).unwrap().is_empty());
    }
}
