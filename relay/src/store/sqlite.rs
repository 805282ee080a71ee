//! The embedded SQLite store: zero setup for a solo therapist. One connection behind a mutex;
//! calls run on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::NO_LABEL;
use super::{
    DeviceRow, Id, NewBundle, Pulled, Store, StoreError, StoreResult, Usage, SCHEMA_VERSION,
};

/// SQLite-backed relay storage.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(match e {
        rusqlite::Error::SqliteFailure(code, _) => format!("{:?}", code.code),
        _ => "sqlite call failed".into(),
    })
}

/// Version 1, the first schema, as relays before versioned migrations created it (a store
/// from then has these tables and `user_version` 0).
const V1: &str = "
CREATE TABLE IF NOT EXISTS vaults (
    vault BLOB PRIMARY KEY, next_seq INTEGER NOT NULL, first_device BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    vault BLOB NOT NULL, device BLOB NOT NULL, public BLOB NOT NULL, revoked INTEGER NOT NULL,
    PRIMARY KEY (vault, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bundles (
    vault BLOB NOT NULL, seq INTEGER NOT NULL, doc BLOB NOT NULL, key_id BLOB NOT NULL,
    device BLOB NOT NULL, device_seq INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (vault, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS bundles_by_device ON bundles(vault, device, device_seq);
CREATE INDEX IF NOT EXISTS bundles_by_doc ON bundles(vault, doc, seq);
CREATE INDEX IF NOT EXISTS bundles_by_key ON bundles(vault, key_id);
CREATE TABLE IF NOT EXISTS tombstones (
    vault BLOB NOT NULL, key_id BLOB NOT NULL, PRIMARY KEY (vault, key_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS invites (
    vault BLOB NOT NULL, invite BLOB NOT NULL, PRIMARY KEY (vault, invite)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
    vault BLOB NOT NULL, device BLOB NOT NULL, signature BLOB NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (vault, device, signature)
) WITHOUT ROWID;
";

/// Version 2: each vault's stored bytes (for its quota), counted once from what is stored, and
/// operator-issued registration tokens (SHA-256 of the token; the vault that used it).
const V2: &str = "
ALTER TABLE vaults ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE vaults SET bytes = (SELECT coalesce(sum(length(data)), 0) FROM bundles
                           WHERE bundles.vault = vaults.vault);
CREATE TABLE registration_tokens (
    hash BLOB PRIMARY KEY, issued_at INTEGER NOT NULL, vault BLOB
) WITHOUT ROWID;
";

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2];

/// Adds `delta` bytes to what `vault` holds.
fn add_bytes(c: &Connection, vault: Id, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        c.execute(
            "UPDATE vaults SET bytes = max(0, bytes + ?2) WHERE vault = ?1",
            params![&vault[..], delta],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Bytes of the bundles a `WHERE` clause over `bundles` selects (its parameters bound).
fn bytes_where(c: &Connection, clause: &str, p: impl rusqlite::Params) -> StoreResult<i64> {
    c.query_row(
        &format!("SELECT coalesce(sum(length(data)), 0) FROM bundles WHERE {clause}"),
        p,
        |r| r.get(0),
    )
    .map_err(backend)
}

/// Whether bundles under `key_id` were dropped (an erased client's): later ones are refused.
fn tombstoned(tx: &rusqlite::Transaction<'_>, vault: Id, key_id: &Id) -> StoreResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM tombstones WHERE vault = ?1 AND key_id = ?2",
            params![&vault[..], &key_id[..]],
            |_| Ok(()),
        )
        .optional()
        .map_err(backend)?
        .is_some())
}

impl SqliteStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::configure(Connection::open(path).map_err(backend)?)
    }

    /// Opens a store file that exists (an error if there is none).
    pub fn open_existing(path: &Path) -> StoreResult<Self> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        Self::configure(Connection::open_with_flags(path, flags).map_err(backend)?)
    }

    fn configure(conn: Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
        // Dropped bundles (an erased client's) are overwritten on disk, not only unlinked.
        conn.pragma_update(None, "secure_delete", "ON").map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Writes a consistent copy of the store to `to` (which must not exist) while the relay
    /// keeps serving: `VACUUM INTO`, which reads one snapshot of the database and writes only
    /// live rows, so pages of dropped bundles are not carried into the copy.
    /// The copy is created readable by its owner only.
    pub async fn backup_to(&self, to: &Path) -> StoreResult<()> {
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        // VACUUM INTO writes into an empty file; creating it first claims the name atomically.
        create.open(to).map_err(|e| {
            StoreError::Backend(match e.kind() {
                std::io::ErrorKind::AlreadyExists => "the backup file already exists".into(),
                k => format!("the backup file cannot be created: {k}"),
            })
        })?;
        let path = to.to_path_buf();
        let to = to.to_str().map(str::to_string);
        let r = match to {
            Some(to) => {
                self.run(move |c| c.execute("VACUUM INTO ?1", [to]).map(|_| ()).map_err(backend))
                    .await
            }
            None => Err(StoreError::Backend("the backup path is not UTF-8".into())),
        };
        if r.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        r
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|_| StoreError::Backend("storage task failed".into()))?
    }
}

fn arr32(v: Vec<u8>) -> StoreResult<[u8; 32]> {
    v.try_into().map_err(|_| StoreError::Backend("stored key has the wrong length".into()))
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run(|c| loop {
            // IMMEDIATE: a second process on the same file waits, then sees the new version.
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let at: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend)?;
            if at > SCHEMA_VERSION {
                return Err(StoreError::Backend(format!(
                    "store schema version {at} is newer than this relay's ({SCHEMA_VERSION})"
                )));
            }
            if at == SCHEMA_VERSION {
                return Ok(());
            }
            tx.execute_batch(MIGRATIONS[at as usize]).map_err(backend)?;
            tx.pragma_update(None, "user_version", at + 1).map_err(backend)?;
            tx.commit().map_err(backend)?;
            tracing::info!(version = at + 1, "relay store migrated");
        })
        .await
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        self.run(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn issue_token(&self, hash: [u8; 32], issued_at: i64) -> StoreResult<()> {
        self.run(move |c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO registration_tokens(hash, issued_at) VALUES (?1, ?2)",
                    params![&hash[..], issued_at],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict("token already issued"));
            }
            Ok(())
        })
        .await
    }

    async fn usage(&self, vault: Id) -> StoreResult<Usage> {
        self.run(move |c| {
            let u = c
                .query_row(
                    "SELECT bytes, (SELECT count(*) FROM devices WHERE vault = ?1)
                     FROM vaults WHERE vault = ?1",
                    [&vault[..]],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(backend)?;
            Ok(u.map(|(b, d)| Usage { bytes: b.max(0) as u64, devices: d.max(0) as u64 })
                .unwrap_or_default())
        })
        .await
    }

    async fn register_vault(
        &self,
        vault: Id,
        device: Id,
        public: [u8; 32],
        token: Option<[u8; 32]>,
    ) -> StoreResult<()> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let first: Option<Vec<u8>> = tx
                .query_row("SELECT first_device FROM vaults WHERE vault = ?1", [&vault[..]], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?;
            match first {
                Some(f) if f != device => {
                    return Err(StoreError::Conflict("vault already registered"))
                }
                Some(_) => {}
                None => {
                    if let Some(hash) = token {
                        let used = tx
                            .execute(
                                "UPDATE registration_tokens SET vault = ?2
                                 WHERE hash = ?1 AND (vault IS NULL OR vault = ?2)",
                                params![&hash[..], &vault[..]],
                            )
                            .map_err(backend)?;
                        if used == 0 {
                            return Err(StoreError::BadToken);
                        }
                    }
                    tx.execute(
                        "INSERT INTO vaults(vault, next_seq, first_device) VALUES (?1, 1, ?2)",
                        params![&vault[..], &device[..]],
                    )
                    .map_err(backend)?;
                }
            }
            enroll(&tx, vault, device, public)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn vault_exists(&self, vault: Id) -> StoreResult<bool> {
        self.run(move |c| {
            Ok(c.query_row("SELECT 1 FROM vaults WHERE vault = ?1", [&vault[..]], |_| Ok(()))
                .optional()
                .map_err(backend)?
                .is_some())
        })
        .await
    }

    async fn device(&self, vault: Id, device: Id) -> StoreResult<Option<DeviceRow>> {
        self.run(move |c| {
            let row: Option<(Vec<u8>, bool)> = c
                .query_row(
                    "SELECT public, revoked FROM devices WHERE vault = ?1 AND device = ?2",
                    params![&vault[..], &device[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            row.map(|(p, revoked)| Ok(DeviceRow { public: arr32(p)?, revoked })).transpose()
        })
        .await
    }

    async fn enroll_device(&self, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()> {
        self.run(move |c| enroll(c, vault, device, public)).await
    }

    async fn revoke_device(&self, vault: Id, device: Id) -> StoreResult<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE devices SET revoked = 1 WHERE vault = ?1 AND device = ?2",
                params![&vault[..], &device[..]],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn push(&self, vault: Id, bundles: Vec<NewBundle>) -> StoreResult<u64> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let mut new = 0;
            let mut added = 0i64;
            for b in bundles {
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM bundles WHERE vault = ?1 AND device = ?2 AND device_seq = ?3",
                        params![&vault[..], &b.device[..], b.device_seq],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if exists || tombstoned(&tx, vault, &b.key_id)? {
                    continue;
                }
                let seq = next_seq(&tx, vault)?;
                tx.execute(
                    "INSERT INTO bundles(vault, seq, doc, key_id, device, device_seq, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![&vault[..], seq, &b.doc[..], &b.key_id[..], &b.device[..], b.device_seq, b.bytes],
                )
                .map_err(backend)?;
                new += 1;
                added += b.bytes.len() as i64;
            }
            add_bytes(&tx, vault, added)?;
            tx.commit().map_err(backend)?;
            Ok(new)
        })
        .await
    }

    async fn pull(
        &self,
        vault: Id,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreResult<Pulled> {
        self.run(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT seq, data FROM bundles WHERE vault = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(backend)?;
            let mut rows = st.query(params![&vault[..], since, limit]).map_err(backend)?;
            let mut items: Vec<(i64, Vec<u8>)> = Vec::new();
            let mut bytes = 0usize;
            while let Some(r) = rows.next().map_err(backend)? {
                let data: Vec<u8> = r.get(1).map_err(backend)?;
                bytes = bytes.saturating_add(data.len());
                if bytes > max_bytes && !items.is_empty() {
                    break;
                }
                items.push((r.get(0).map_err(backend)?, data));
            }
            drop(rows);
            let last = items.last().map(|i| i.0).unwrap_or(since);
            let remaining: i64 = c
                .query_row(
                    "SELECT count(*) FROM bundles WHERE vault = ?1 AND seq > ?2",
                    params![&vault[..], last],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let head: i64 = c
                .query_row("SELECT next_seq - 1 FROM vaults WHERE vault = ?1", [&vault[..]], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            Ok((items, remaining as u64, head))
        })
        .await
    }

    async fn put_snapshot(&self, vault: Id, covers: i64, s: NewBundle) -> StoreResult<()> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if tombstoned(&tx, vault, &s.key_id)? {
                return Ok(());
            }
            let clause = "vault = ?1 AND doc = ?2 AND seq <= ?3";
            let freed = bytes_where(&tx, clause, params![&vault[..], &s.doc[..], covers])?;
            tx.execute(
                &format!("DELETE FROM bundles WHERE {clause}"),
                params![&vault[..], &s.doc[..], covers],
            )
            .map_err(backend)?;
            let seq = next_seq(&tx, vault)?;
            let size = s.bytes.len() as i64;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO bundles(vault, seq, doc, key_id, device, device_seq, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    &vault[..],
                    seq,
                    &s.doc[..],
                    &s.key_id[..],
                    &s.device[..],
                    s.device_seq,
                    s.bytes
                ],
            )
            .map_err(backend)?;
            add_bytes(&tx, vault, size * inserted as i64 - freed)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn drop_keys(&self, vault: Id, keys: Vec<Id>) -> StoreResult<u64> {
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let mut n = 0;
            for k in keys.iter().filter(|k| **k != NO_LABEL) {
                let freed =
                    bytes_where(&tx, "vault = ?1 AND key_id = ?2", params![&vault[..], &k[..]])?;
                add_bytes(&tx, vault, -freed)?;
                n += tx
                    .execute(
                        "DELETE FROM bundles WHERE vault = ?1 AND key_id = ?2",
                        params![&vault[..], &k[..]],
                    )
                    .map_err(backend)? as u64;
                tx.execute(
                    "INSERT OR IGNORE INTO tombstones(vault, key_id) VALUES (?1, ?2)",
                    params![&vault[..], &k[..]],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            // secure_delete overwrote the pages; the log still holds their earlier versions
            // until a checkpoint copies it back and truncates it.
            // A reader holding a snapshot (a backup's VACUUM INTO) blocks the checkpoint: wait
            // briefly, not the full busy timeout with the store's one connection held.
            c.busy_timeout(std::time::Duration::from_millis(250)).map_err(backend)?;
            let busy = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
            c.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
            if busy.map_err(backend)? != 0 {
                tracing::warn!("write-ahead log busy after a drop; checkpoint deferred");
            }
            Ok(n)
        })
        .await
    }

    async fn advance_sequences(&self, by: i64) -> StoreResult<u64> {
        self.run(move |c| {
            c.execute("UPDATE vaults SET next_seq = next_seq + ?1", [by.max(0)])
                .map(|n| n as u64)
                .map_err(backend)
        })
        .await
    }

    async fn claim_invite(&self, vault: Id, invite: Id) -> StoreResult<bool> {
        self.run(move |c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO invites(vault, invite) VALUES (?1, ?2)",
                params![&vault[..], &invite[..]],
            )
            .map_err(backend)?
                == 1)
        })
        .await
    }

    async fn tombstoned(&self, vault: Id, keys: Vec<Id>) -> StoreResult<(Vec<Id>, u64)> {
        self.run(move |c| {
            let mut st = c
                .prepare_cached("SELECT 1 FROM tombstones WHERE vault = ?1 AND key_id = ?2")
                .map_err(backend)?;
            let mut held = Vec::new();
            for k in keys {
                if st.exists(params![&vault[..], &k[..]]).map_err(backend)? {
                    held.push(k);
                }
            }
            let all: i64 = c
                .query_row("SELECT count(*) FROM tombstones WHERE vault = ?1", [&vault[..]], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            Ok((held, all.max(0) as u64))
        })
        .await
    }

    async fn spend_token(&self, hash: [u8; 32], vault: Id) -> StoreResult<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE registration_tokens SET vault = ?2 WHERE hash = ?1 AND vault IS NULL",
                params![&hash[..], &vault[..]],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn remember_request(
        &self,
        vault: Id,
        device: Id,
        signature: [u8; 64],
        at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        self.run(move |c| {
            c.execute(
                "DELETE FROM requests WHERE vault = ?1 AND device = ?2 AND at < ?3",
                params![&vault[..], &device[..], forget_before],
            )
            .map_err(backend)?;
            Ok(c.execute(
                "INSERT OR IGNORE INTO requests(vault, device, signature, at) VALUES (?1, ?2, ?3, ?4)",
                params![&vault[..], &device[..], &signature[..], at],
            )
            .map_err(backend)?
                == 1)
        })
        .await
    }

    async fn dump(&self, vault: Id) -> StoreResult<Vec<Vec<u8>>> {
        self.run(move |c| {
            let mut st = c
                .prepare("SELECT data FROM bundles WHERE vault = ?1 ORDER BY seq")
                .map_err(backend)?;
            let rows = st
                .query_map([&vault[..]], |r| r.get(0))
                .map_err(backend)?
                .collect::<Result<Vec<Vec<u8>>, _>>()
                .map_err(backend)?;
            Ok(rows)
        })
        .await
    }
}

fn enroll(c: &Connection, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()> {
    let existing: Option<Vec<u8>> = c
        .query_row(
            "SELECT public FROM devices WHERE vault = ?1 AND device = ?2",
            params![&vault[..], &device[..]],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    match existing {
        Some(p) if p != public => Err(StoreError::Conflict("device enrolled with another key")),
        Some(_) => Ok(()),
        None => {
            c.execute(
                "INSERT INTO devices(vault, device, public, revoked) VALUES (?1, ?2, ?3, 0)",
                params![&vault[..], &device[..], &public[..]],
            )
            .map_err(backend)?;
            Ok(())
        }
    }
}

fn next_seq(c: &Connection, vault: Id) -> StoreResult<i64> {
    c.query_row(
        "UPDATE vaults SET next_seq = next_seq + 1 WHERE vault = ?1 RETURNING next_seq - 1",
        [&vault[..]],
        |r| r.get(0),
    )
    .map_err(|_| StoreError::Conflict("unknown vault"))
}
