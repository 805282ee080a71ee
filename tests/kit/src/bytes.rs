//! What a vault left on disk.

use std::path::{Path, PathBuf};

/// Every file SQLite may have written for a vault: the database and its WAL.
pub fn raw_bytes(p: &Path) -> Vec<u8> {
    let mut all = std::fs::read(p).expect("read the vault file");
    let wal = PathBuf::from(format!("{}-wal", p.display()));
    if let Ok(w) = std::fs::read(wal) {
        all.extend(w);
    }
    all
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
