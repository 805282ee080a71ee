//! A fence in front of Automerge's loader: the saved bytes Mend hands to Automerge must be the
//! kinds of chunk Mend writes, and must not inflate beyond a bound.
//!
//! Automerge 0.12 reads four kinds of chunk (its binary format: 4 magic bytes, a 4-byte
//! checksum, a type byte, a ULEB128 length, the data): documents (0), changes (1), deflated
//! changes (2) and bundles (3). Mend writes only the first three (`save`, `save_after`). Fuzzing
//! found two ways small bytes make the loader allocate without bound (RELIABILITY.md,
//! "Crashes found"):
//! - a bundle's run-length-encoded columns are expanded into a vector before any check, so a
//!   127-byte bundle asks for gigabytes (`fuzz/regressions/*-automerge-load-oom`);
//! - a deflated change, and each deflated column of a document, is inflated into memory
//!   whole; DEFLATE expands up to about 1,032 times, so a 16 MiB bundle payload could inflate
//!   to 16 GiB.
//!
//! An out-of-memory abort is not a panic that `catch_unwind` stops: it kills the app. The
//! bytes reach the loader only after authenticated decryption under a key of the vault, so
//! they come from a device of the vault (a malicious or buggy one) or a damaged file, but one
//! such device must not be able to stop every other device from opening its vault. So before
//! Automerge sees them, [`admissible`] walks the chunk framing, refuses any chunk type Mend
//! does not write, and inflates every deflated part into a byte counter (no buffer), refusing
//! the bytes when the total would pass [`MAX_INFLATED`]. Refused bytes read as a failed load,
//! which every caller already reports as a corrupt record.

use std::io::Read;

/// The most bytes the deflated parts of one load may inflate to: 256 MiB, far above what a real
/// record inflates to.
pub const MAX_INFLATED: u64 = 256 << 20;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const DEFLATED_CHANGE: u8 = 2;
/// A column specification's deflate flag (Automerge binary format, column metadata).
const COLUMN_DEFLATED: u64 = 0b1000;
const HASH_LEN: usize = 32;

/// Whether `bytes` may be handed to Automerge's loader: a sequence of whole document, change
/// and deflated-change chunks (or nothing) whose deflated parts inflate to at most
/// [`MAX_INFLATED`] bytes in all.
pub fn admissible(bytes: &[u8]) -> bool {
    inflated_size(bytes, MAX_INFLATED).is_some()
}

/// The bytes the deflated parts of `bytes` inflate to in all, or `None` if `bytes` are not a
/// sequence of whole chunks of the kinds Mend writes, or would inflate past `limit`.
pub fn inflated_size(bytes: &[u8], limit: u64) -> Option<u64> {
    let mut input = Cursor(bytes);
    let mut total = 0u64;
    while !input.0.is_empty() {
        if input.take(4)? != MAGIC {
            return None;
        }
        input.take(4)?; // checksum: Automerge checks it
        let kind = input.take(1)?[0];
        let len = usize::try_from(input.uleb()?).ok()?;
        let data = input.take(len)?;
        let inflated = match kind {
            DOCUMENT => document_inflated(data, limit - total)?,
            CHANGE => 0,
            DEFLATED_CHANGE => inflate_counted(data, limit - total)?,
            _ => return None,
        };
        total += inflated;
    }
    Some(total)
}

/// The inflated size of a document chunk's deflated columns. The data: actors, heads, the
/// change columns' and the op columns' metadata (count, then a specification and a length
/// each), the change columns' data, the op columns' data, head indices.
fn document_inflated(data: &[u8], limit: u64) -> Option<u64> {
    let mut input = Cursor(data);
    for _ in 0..input.uleb()? {
        let len = usize::try_from(input.uleb()?).ok()?;
        input.take(len)?;
    }
    for _ in 0..input.uleb()? {
        input.take(HASH_LEN)?;
    }
    let change_columns = input.columns()?;
    let op_columns = input.columns()?;
    let mut total = 0u64;
    for (spec, len) in change_columns.into_iter().chain(op_columns) {
        let column = input.take(usize::try_from(len).ok()?)?;
        if spec & COLUMN_DEFLATED != 0 {
            total += inflate_counted(column, limit - total)?;
        }
    }
    Some(total)
}

/// Inflates raw DEFLATE data into a counter, never holding more than a copy buffer: its
/// inflated size, or `None` if it is not valid DEFLATE or passes `limit`.
fn inflate_counted(data: &[u8], limit: u64) -> Option<u64> {
    let mut inflater = flate2::bufread::DeflateDecoder::new(data).take(limit.saturating_add(1));
    let n = std::io::copy(&mut inflater, &mut std::io::sink()).ok()?;
    (n <= limit).then_some(n)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// An unsigned LEB128 number of at most 64 bits.
    fn uleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A column metadata list: a count, then a specification and a data length per column.
    /// Every entry takes at least two bytes, so a huge count runs out of input, not memory.
    fn columns(&mut self) -> Option<Vec<(u64, u64)>> {
        let count = self.uleb()?;
        let mut columns = Vec::new();
        for _ in 0..count {
            columns.push((self.uleb()?, self.uleb()?));
        }
        Some(columns)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::am;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
    use std::io::Write;

    fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([0; 4]);
        out.push(kind);
        let mut len = data.len() as u64;
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend(data);
        out
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn typed_doc(chars: usize) -> AutoCommit {
        let mut doc = am::new_doc();
        let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        for i in 0..chars {
            let c = char::from(b'a' + (i % 26) as u8).to_string();
            doc.splice_text(&text, i, 0, &c).unwrap();
            if i % 64 == 0 {
                doc.commit();
            }
        }
        doc.commit();
        doc
    }

    #[test]
    fn what_mend_writes_is_admitted() {
        let mut doc = typed_doc(2_000);
        let saved = doc.save();
        let base = doc.get_heads();
        let text = doc.get(ROOT, "text").unwrap().unwrap().1;
        doc.splice_text(&text, 0, 0, &"x".repeat(5_000)).unwrap();
        doc.commit();
        let changes = doc.save_after(&base);
        assert!(admissible(&saved) && admissible(&changes) && admissible(&[]));
        let mut both = saved.clone();
        both.extend(&changes);
        assert!(admissible(&both));
        assert!(inflated_size(&saved, MAX_INFLATED).is_some());
    }

    #[test]
    fn a_bundle_chunk_is_refused_before_automerge_sees_it() {
        let mut doc = typed_doc(100);
        let heads = doc.get_heads();
        let bundle = doc.bundle(heads).unwrap();
        let bytes = bundle.bytes().to_vec();
        assert_eq!(bytes[8], 3, "Automerge's bundle chunk type");
        assert!(!admissible(&bytes));
        assert!(am::load_doc(&bytes).is_none());
        assert!(!am::load_incremental_safely(&mut am::new_doc(), &bytes));
        // Behind a chunk that is fine, too.
        let mut after = doc.save();
        after.extend(&bytes);
        assert!(!admissible(&after));
    }

    #[test]
    fn a_deflate_bomb_is_refused_without_inflating_it_into_memory() {
        let bomb = deflate(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 8 << 10, "{}", bomb.len());
        let change = chunk(DEFLATED_CHANGE, &bomb);
        assert_eq!(inflated_size(&change, 4 << 20), Some(4 << 20));
        assert_eq!(inflated_size(&change, (4 << 20) - 1), None);
        // A document whose one op column is the bomb: no actors, no heads, no change
        // columns, one deflated op column.
        let mut data = vec![0, 0, 0, 1, 0x08 | 0x10];
        let mut len = bomb.len() as u64;
        while len >= 0x80 {
            data.push((len & 0x7f) as u8 | 0x80);
            len >>= 7;
        }
        data.push(len as u8);
        data.extend(&bomb);
        let document = chunk(DOCUMENT, &data);
        assert_eq!(inflated_size(&document, 4 << 20), Some(4 << 20));
        assert_eq!(inflated_size(&document, 1 << 20), None);
        // Two chunks share one bound.
        let mut two = change.clone();
        two.extend(&change);
        assert_eq!(inflated_size(&two, 6 << 20), None);
        assert_eq!(inflated_size(&two, 8 << 20), Some(8 << 20));
    }

    #[test]
    fn malformed_framing_is_refused() {
        let good = typed_doc(10).save();
        for cut in 1..good.len() {
            assert!(!admissible(&good[..cut]), "cut at {cut}");
        }
        let mut bad_magic = good.clone();
        bad_magic[0] ^= 1;
        assert!(!admissible(&bad_magic));
        let mut unknown = good.clone();
        unknown[8] = 9;
        assert!(!admissible(&unknown));
        // A length of 2^64 - 1 and an over-long LEB128 are refused, not trusted.
        let mut huge = MAGIC.to_vec();
        huge.extend([0; 4]);
        huge.push(CHANGE);
        huge.extend([0xff; 9]);
        huge.push(0x01);
        assert!(!admissible(&huge));
        huge.pop();
        huge.extend([0xff, 0x01]);
        assert!(!admissible(&huge));
        // Not valid DEFLATE.
        assert!(!admissible(&chunk(DEFLATED_CHANGE, &[0xff; 16])));
    }
}
