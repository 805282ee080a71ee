//! What a store left on disk: file sizes and a record's stored bytes.

use super::*;

pub(crate) fn wal_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// Folds the WAL into the main file and truncates it (nothing else may have the file open).
pub(crate) fn checkpoint(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
}

pub(crate) struct Size {
    /// Bytes of the .db file plus its -wal file.
    pub(crate) file: u64,
    /// Bytes of the pages in use (free pages left by deleted rows excluded).
    pub(crate) live: u64,
}

pub(crate) fn size_of(path: &Path) -> Size {
    let file = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal_of(path)).map(|m| m.len()).unwrap_or(0);
    let conn = Connection::open(path).unwrap();
    let q = |p: &str| conn.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0)).unwrap();
    let live = (q("page_count") - q("freelist_count")) * q("page_size");
    Size { file, live: live as u64 }
}

/// Stored bytes of one record: its snapshot and its change rows (same table names in Mend and in
/// the plaintext baseline).
#[derive(Clone, Copy)]
pub(crate) struct Stored {
    pub(crate) snapshot: u64,
    pub(crate) rows: u64,
    pub(crate) row_bytes: u64,
    /// Changes queued for sync (Mend only; the plaintext baseline of §3/§4 has no outbox).
    pub(crate) outbox_rows: u64,
    pub(crate) outbox_bytes: u64,
}

pub(crate) fn payload_of(path: &Path, id: RecordId) -> Stored {
    let conn = Connection::open(path).unwrap();
    let snap: i64 = conn
        .query_row(
            "SELECT length(snapshot) FROM docs WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| r.get(0),
        )
        .unwrap();
    let (n, bytes): (i64, i64) = conn
        .query_row(
            // Changes counted without the record's sealed head (kept under the largest
            // sequence number); its bytes are counted: they are on disk.
            "SELECT coalesce(sum(seq < 9223372036854775807), 0), coalesce(sum(length(data)), 0)
             FROM changes WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (on, ob): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM outbox WHERE doc_id = ?1",
            [&id.as_bytes()[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    Stored {
        snapshot: snap as u64,
        rows: n as u64,
        row_bytes: bytes as u64,
        outbox_rows: on as u64,
        outbox_bytes: ob as u64,
    }
}
