//! The SQLite store: one file per vault, WAL, numbered migrations.
//!
//! The store keeps opaque byte strings (envelopes) keyed by random ids; it knows nothing of
//! Automerge or of what the bytes mean, and it never decrypts. SQL lives in [`db`], schema and
//! migrations in [`schema`]. Writers take a transaction; readers a connection.

pub mod db;
pub mod lock;
pub mod schema;

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// How hard a save tries to reach the disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every acknowledged save survives a killed process *and* a power cut or OS crash
    /// (`synchronous=FULL`: the WAL is fsynced at every commit). The default.
    #[default]
    Full,
    /// Every acknowledged save survives a killed process; a power cut may lose the last few
    /// saves, never corrupt the file (`synchronous=NORMAL` in WAL mode). Faster on slow flash.
    Normal,
}

/// Opens (or creates) the SQLite file with Mend's connection settings. Creates nothing inside it.
pub fn open_connection(path: &Path, create: bool, durability: Durability) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.exists() {
        return Err(Error::NotAVault("no vault file at this path"));
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // A non-SQLite file fails here with NotADatabase.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|_| Error::NotAVault("not a SQLite database"))?;
    if mode != "wal" {
        return Err(Error::Storage("could not enable write-ahead logging".into()));
    }
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    // Overwrite deleted content (old snapshots, destroyed keys) instead of leaving it in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}
