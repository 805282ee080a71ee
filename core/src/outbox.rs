//! The outbox: this device's saves, queued for the relay.
//!
//! Every local save (a keystroke in a note, a new client's key shares) puts one row here in the
//! same SQLite transaction as the save itself, already encrypted under the record's data key, so
//! a save is never acknowledged without its way to the other devices, and a crash never leaves
//! one without the other. The outbox numbers the rows (the device's sequence numbers, which the
//! bundle signatures and the receivers' duplicate checks use), folds a long run of one record's
//! queued saves into one row holding the whole record when the vault compacts it (so a device
//! offline for weeks queues about twice each record's size, not one row per keystroke), and, when
//! the sync engine pushes, coalesces consecutive saves of one record into one payload. It never
//! signs, and never talks to the relay: [`crate::sync`] does both. Its SQL is in
//! [`crate::store::db`].

use rusqlite::Connection;

use crate::crypto::{envelope, Aad, KeyPurpose, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{KeyId, RecordId, VaultId};
use crate::keyring::Keyring;
use crate::records::Kind;
use crate::store::db::{self, DocHeader, Meta, OutboxRow};

/// What a queued row carries; stored by its code, which is the code of the bundle it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum EntryKind {
    /// Changes of one record (or, after a fold, the whole record).
    Change = 0,
    /// Keys sealed to the other devices (see [`crate::shares`]).
    KeyShare = 2,
}

impl EntryKind {
    /// The kind of a stored code (anything but a key share is a change, as pushed so far).
    pub(crate) fn from_code(code: u8) -> EntryKind {
        if code == EntryKind::KeyShare as u8 {
            EntryKind::KeyShare
        } else {
            EntryKind::Change
        }
    }
}

/// One row to queue, numbered and sealed.
pub(crate) struct Entry {
    /// The device sequence number it takes.
    pub(crate) seq: u64,
    kind: EntryKind,
    doc: RecordId,
    key_id: KeyId,
    payload: Vec<u8>,
}

/// One payload ready to sign and push: a queued row, or a run of them coalesced.
pub(crate) struct Outgoing {
    /// The sequence number the bundle carries (a coalesced run's last).
    pub(crate) seq: u64,
    /// What it carries.
    pub(crate) kind: EntryKind,
    /// The record (for a key share, the shared key's id as a record id).
    pub(crate) doc: RecordId,
    /// The key the payload is sealed under.
    pub(crate) key_id: KeyId,
    /// The sealed payload.
    pub(crate) payload: Vec<u8>,
}

/// The next push: its payloads, the last queued row they cover, and the counts for progress.
pub(crate) struct Push {
    /// Payloads in sequence order.
    pub(crate) items: Vec<Outgoing>,
    /// The last row covered (`None`: the outbox is empty).
    pub(crate) last: Option<u64>,
    /// Rows covered.
    pub(crate) rows: u64,
    /// Rows queued before this push (covered ones included).
    pub(crate) queued: u64,
}

/// Most encrypted bytes of saves coalesced into one bundle.
const MAX_COALESCED: usize = 1 << 20;

/// What a fold's payload carries besides the document: kind, client, span and envelope.
const FOLD_OVERHEAD: usize = 128;

/// Room for a bundle's header and signature next to its payload (the header is under 100 bytes).
const BUNDLE_OVERHEAD: usize = 256;

/// This device's numbering of its saves, and the queue they wait in.
pub(crate) struct Outbox {
    vault: VaultId,
    /// The last sequence number handed to a queued row (or a snapshot bundle).
    device_seq: u64,
    /// The highest queued sequence number a push has read (in flight, pushed, or failed): queued
    /// rows up to it are never folded, so a push never has its rows rewritten under it.
    push_high: u64,
}

impl Outbox {
    /// The outbox of an open vault: numbering continues after what was pushed and what is queued.
    pub(crate) fn open(conn: &Connection, vault: VaultId) -> Result<Outbox> {
        let pushed = db::meta_u64(conn, Meta::DeviceSeq)?;
        let device_seq = pushed.max(db::outbox_max_seq(conn)?);
        Ok(Outbox { vault, device_seq, push_high: 0 })
    }

    /// The outbox of a new vault file.
    pub(crate) fn new(vault: VaultId) -> Outbox {
        Outbox { vault, device_seq: 0, push_high: 0 }
    }

    /// The sequence number the next save takes.
    pub(crate) fn next_seq(&self) -> u64 {
        self.device_seq + 1
    }

    /// A save of `bytes` (Automerge changes or a whole document) of a record, numbered `seq`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn change(
        &self,
        seq: u64,
        key: &SecretKey,
        key_id: KeyId,
        doc: RecordId,
        kind: Kind,
        client: RecordId,
        bytes: &[u8],
    ) -> Entry {
        let payload = doc_payload(self.vault, key, key_id, doc, kind, client, bytes, seq, None);
        Entry { seq, kind: EntryKind::Change, doc, key_id, payload }
    }

    /// A key share (see [`crate::shares`]) numbered `seq`, as bundle `doc`, labelled with the
    /// key id the relay drops it by (the shared client's record key, for an erasure).
    pub(crate) fn share(&self, seq: u64, doc: RecordId, label: KeyId, payload: Vec<u8>) -> Entry {
        Entry { seq, kind: EntryKind::KeyShare, doc, key_id: label, payload }
    }

    /// Queues an entry; pass the save's transaction, then [`Outbox::committed`] after it commits.
    pub(crate) fn put(conn: &Connection, e: &Entry) -> Result<()> {
        db::outbox_put(conn, e.seq, e.kind as u8, &e.doc, &e.key_id, &e.payload)
    }

    /// Records that sequence numbers up to `seq` are taken (their save committed).
    pub(crate) fn committed(&mut self, seq: u64) {
        self.device_seq = self.device_seq.max(seq);
    }

    /// Takes the next number for a bundle that is never queued (an uploaded snapshot), stored at
    /// once so it is never reused.
    pub(crate) fn take_unqueued(&mut self, conn: &Connection) -> Result<u64> {
        self.device_seq += 1;
        db::meta_put(conn, Meta::DeviceSeq, &self.device_seq.to_be_bytes())?;
        Ok(self.device_seq)
    }

    /// Rows waiting to be pushed: a record's saves count one each until its next compaction
    /// folds them into one row.
    pub(crate) fn len(conn: &Connection) -> Result<u64> {
        db::outbox_len(conn)
    }

    /// Reads the next push: at most `rows` queued rows and about `max_bytes` (the first row
    /// always goes), with runs of one record's consecutive saves coalesced. The rows read are
    /// never folded from now on, whether or not the push succeeds.
    pub(crate) fn next_push(
        &mut self,
        conn: &Connection,
        keys: &mut Keyring,
        rows: u32,
        max_bytes: usize,
    ) -> Result<Push> {
        let batch = push_batch(db::outbox_batch(conn, rows)?, max_bytes);
        let queued = db::outbox_len(conn)?;
        let last = batch.last().map(|r| r.0);
        self.push_high = self.push_high.max(last.unwrap_or(0));
        let rows = batch.len() as u64;
        let items = self.outgoing(conn, keys, batch)?;
        Ok(Push { items, last, rows, queued })
    }

    /// Forgets the rows a push delivered, up to `last`.
    pub(crate) fn pushed(&self, conn: &Connection, last: u64) -> Result<()> {
        db::outbox_delete_upto(conn, last)?;
        let high = self.device_seq.max(last);
        db::meta_put(conn, Meta::DeviceSeq, &high.to_be_bytes())
    }

    /// Turns a batch of rows (in sequence order) into payloads. A run of consecutive saves of
    /// one record (a note typed offline, keystroke by keystroke) becomes one payload covering
    /// their sequence numbers: one signature, one envelope and one Automerge load on every
    /// receiving device instead of one per save.
    fn outgoing(
        &self,
        conn: &Connection,
        keys: &mut Keyring,
        rows: Vec<OutboxRow>,
    ) -> Result<Vec<Outgoing>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut i = 0;
        while i < rows.len() {
            let (first, kind, doc, key_id, _) = &rows[i];
            let kind = EntryKind::from_code(*kind);
            let mut j = i + 1;
            let mut size = rows[i].4.len();
            while kind == EntryKind::Change && j < rows.len() {
                let (seq, k, d, kid, payload) = &rows[j];
                size += payload.len();
                let joins = EntryKind::from_code(*k) == kind
                    && d == doc
                    && kid == key_id
                    && *seq == rows[j - 1].0 + 1
                    && seq - first < MAX_SPAN
                    && size <= MAX_COALESCED;
                if !joins {
                    break;
                }
                j += 1;
            }
            let run = &rows[i..j];
            let coalesced = if run.len() > 1 { self.coalesce(conn, keys, run)? } else { None };
            match coalesced {
                Some((seq, payload)) => {
                    out.push(Outgoing { seq, kind, doc: *doc, key_id: *key_id, payload })
                }
                None => {
                    for (seq, k, doc, key_id, payload) in run {
                        out.push(Outgoing {
                            seq: *seq,
                            kind: EntryKind::from_code(*k),
                            doc: *doc,
                            key_id: *key_id,
                            payload: payload.clone(),
                        });
                    }
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// One payload holding the changes of a run of saves of one record, sealed for the run's
    /// last sequence number; `None` (push them one by one) if the key is gone, a row does not
    /// open as expected, or the run would cover more than [`MAX_SPAN`] numbers. The run's first
    /// row may itself cover earlier numbers (a fold, see [`Outbox::fold`]).
    fn coalesce(
        &self,
        conn: &Connection,
        keys: &mut Keyring,
        run: &[OutboxRow],
    ) -> Result<Option<(u64, Vec<u8>)>> {
        let (_, _, doc, key_id, _) = &run[0];
        let Some(key) = keys.get(conn, *key_id, *doc)? else { return Ok(None) };
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        let mut head = None;
        let mut first = None;
        for (seq, _, _, _, payload) in run {
            let aad = bundle_aad(self.vault, *doc, *seq, Part::Bundle);
            let Ok(plain) = envelope::open(&key, key_id, &aad, payload) else { return Ok(None) };
            let Some(p) = parse_doc_plain(&plain, *seq) else { return Ok(None) };
            let spans = p.first != *seq;
            if (spans && first.is_some()) || head.is_some_and(|h| h != (p.kind, p.client)) {
                return Ok(None);
            }
            head = Some((p.kind, p.client));
            first = first.or(Some(p.first));
            bytes.extend_from_slice(p.bytes);
        }
        let (Some((kind, client)), Some(first), Some(last)) =
            (head, first, run.last().map(|r| r.0))
        else {
            return Ok(None);
        };
        if last - first >= MAX_SPAN {
            return Ok(None);
        }
        let payload =
            doc_payload(self.vault, &key, *key_id, *doc, kind, client, &bytes, last, Some(first));
        Ok(Some((last, payload)))
    }

    /// Plans the fold of a record's queued saves: the newest unbroken run of them (see
    /// [`db::outbox_tail_run`]) not yet read by a push becomes one row, numbered like the run's
    /// last, covering the run's numbers and holding `document` (the whole record as just saved,
    /// which contains every change of the run). Returns the rows to replace and the new payload
    /// (apply it with [`Outbox::replace_run`]); `None` if there is nothing to fold, or if the
    /// saves queued since the last fold are smaller than the document (a long record with a short
    /// queue stays as it is). A receiver merges the document like any other bundle.
    pub(crate) fn fold(
        &self,
        conn: &Connection,
        h: &DocHeader,
        send: (KeyId, &SecretKey),
        document: &[u8],
    ) -> Result<Option<(u64, u64, Vec<u8>)>> {
        let (key_id, key) = send;
        let span = MAX_SPAN as usize - 1;
        let run = db::outbox_tail_run(conn, &h.doc_id, &key_id, self.push_high, span)?;
        let (Some(&(last, _)), Some(&(oldest, oldest_len))) = (run.first(), run.last()) else {
            return Ok(None);
        };
        // Fold once the saves queued since the last fold outweigh the document: the queue stays
        // within about twice the record's size, and a long record is rewritten only every so
        // many keystrokes, not at every compaction. The oldest row may be that last fold (only
        // the oldest can be: a fold's number is its run's last, so nothing before it is
        // consecutive with it); opening it tells, and is skipped when the sum decides anyway.
        let threshold = document.len() + FOLD_OVERHEAD;
        let newer: usize = run[..run.len() - 1].iter().map(|&(_, n)| n).sum();
        if run.len() < 2 || newer + oldest_len <= threshold {
            return Ok(None);
        }
        let opened = db::outbox_payload(conn, oldest)?.and_then(|payload| {
            let aad = bundle_aad(self.vault, h.doc_id, oldest, Part::Bundle);
            let plain = envelope::open(key, &key_id, &aad, &payload).ok()?;
            parse_doc_plain(&plain, oldest).map(|p| p.first)
        });
        let Some(covered) = opened else { return Ok(None) };
        let singles = if covered < oldest { newer } else { newer + oldest_len };
        if singles <= threshold {
            return Ok(None);
        }
        let (from, first) = if last - covered < MAX_SPAN {
            (oldest, covered)
        } else {
            // The older fold is full: leave it and fold the rest.
            let next = run[run.len() - 2].0;
            (next, next)
        };
        if from >= last {
            return Ok(None);
        }
        let kind = Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(h.doc_id, "kind"))?;
        let payload = doc_payload(
            self.vault,
            key,
            key_id,
            h.doc_id,
            kind,
            h.client_id,
            document,
            last,
            Some(first),
        );
        Ok(Some((from, last, payload)))
    }

    /// Replaces the rows `from..=to` of a record with the fold planned by [`Outbox::fold`].
    pub(crate) fn replace_run(
        conn: &Connection,
        h: &DocHeader,
        key_id: KeyId,
        fold: &(u64, u64, Vec<u8>),
    ) -> Result<()> {
        let (from, to, payload) = fold;
        db::outbox_replace_run(conn, *from, *to, &h.doc_id, &key_id, payload)
    }

    /// Drops the queued saves under destroyed keys (an erased client's).
    pub(crate) fn drop_keys(conn: &Connection, key_ids: &[KeyId]) -> Result<()> {
        db::outbox_delete_keys(conn, key_ids)
    }
}

/// The leading rows of an outbox batch that fit in one push of `max_bytes`; the first row always
/// goes, so one very large save is sent alone (and a relay that refuses it says so with a typed
/// error) instead of stalling every save behind it.
fn push_batch(mut rows: Vec<OutboxRow>, max_bytes: usize) -> Vec<OutboxRow> {
    let mut bytes = 0usize;
    let keep = rows
        .iter()
        .position(|r| {
            bytes = bytes.saturating_add(r.4.len() + BUNDLE_OVERHEAD);
            bytes > max_bytes
        })
        .unwrap_or(rows.len())
        .max(1);
    rows.truncate(keep);
    rows
}

/// Associated data of a bundle payload: bound to vault, record and the device's sequence number
/// (the device and everything else are bound by the bundle signature).
pub(crate) fn bundle_aad(vault: VaultId, doc: RecordId, seq: u64, part: Part) -> Aad {
    Aad { vault, record: doc, kind: 0, seq, part }
}

/// Set in the first byte of a record payload when the bundle covers a run of the device's
/// sequence numbers (several saves of one record coalesced when pushed).
const SPAN_FLAG: u8 = 0x80;
/// Most sequence numbers one bundle may cover.
pub(crate) const MAX_SPAN: u64 = 10_000;

/// The encrypted payload of a record bundle: `kind u8 | client 16 | Automerge bytes`, or, for a
/// bundle covering the sequence numbers `first..=seq`, `kind|0x80 | client 16 | first u64 |
/// Automerge bytes`. Either way the envelope's associated data binds the bundle's `seq`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn doc_payload(
    vault: VaultId,
    key: &SecretKey,
    key_id: KeyId,
    doc: RecordId,
    kind: Kind,
    client: RecordId,
    bytes: &[u8],
    seq: u64,
    first: Option<u64>,
) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(25 + bytes.len()));
    plain.push(kind as u8 | if first.is_some() { SPAN_FLAG } else { 0 });
    plain.extend_from_slice(client.as_bytes());
    if let Some(first) = first {
        plain.extend_from_slice(&first.to_be_bytes());
    }
    plain.extend_from_slice(bytes);
    envelope::seal(key, &key_id, &bundle_aad(vault, doc, seq, Part::Bundle), &plain)
}

/// A decrypted record payload.
pub(crate) struct DocPlain<'a> {
    pub kind: Kind,
    pub client: RecordId,
    /// The first sequence number covered (the bundle's own for a single save).
    pub first: u64,
    pub bytes: &'a [u8],
}

/// Parses a decrypted record payload of the bundle numbered `seq`; `None` if malformed (an
/// unknown kind, too short, or a span that is empty, reversed or longer than [`MAX_SPAN`]).
pub(crate) fn parse_doc_plain(plain: &[u8], seq: u64) -> Option<DocPlain<'_>> {
    let (&code, rest) = plain.split_first()?;
    let kind = Kind::from_code(code & !SPAN_FLAG)?;
    let client = RecordId::from_slice(rest.get(..16)?)?;
    let rest = &rest[16..];
    if code & SPAN_FLAG == 0 {
        return Some(DocPlain { kind, client, first: seq, bytes: rest });
    }
    let first = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    if first == 0 || first >= seq || seq - first >= MAX_SPAN {
        return None;
    }
    Some(DocPlain { kind, client, first, bytes: &rest[8..] })
}

/// The encrypted payload of a key share: `client 16 | purpose u8 | key 32`, under the sync key.
/// Reads a version 1 key share (one client key under the vault-wide sync key, written before
/// epochs; see [`crate::shares`] for today's).
pub(crate) fn parse_key_share(plain: &[u8]) -> Option<(RecordId, KeyPurpose, SecretKey)> {
    if plain.len() != 49 {
        return None;
    }
    let purpose = KeyPurpose::from_client_code(plain[16])?;
    Some((RecordId::from_slice(&plain[..16])?, purpose, SecretKey::from_slice(&plain[17..])?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rows(sizes: &[usize]) -> Vec<OutboxRow> {
        let (doc, key) = (RecordId::from_bytes([1; 16]), KeyId::from_bytes([2; 16]));
        sizes.iter().enumerate().map(|(i, n)| (i as u64 + 1, 0, doc, key, vec![0; *n])).collect()
    }

    #[test]
    fn a_push_stays_within_the_byte_budget_but_always_carries_one_save() {
        let mb = 1 << 20;
        let limit = 8 << 20; // the relay's limit on one push (`sync::wire::MAX_PUSH_BYTES`)
        let seqs = |b: Vec<OutboxRow>| b.iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(seqs(push_batch(rows(&[3 * mb, 3 * mb, 3 * mb, 1]), limit)), vec![1, 2]);
        assert_eq!(seqs(push_batch(rows(&[20 * mb, 1]), limit)), vec![1], "a huge save goes alone");
        assert_eq!(seqs(push_batch(rows(&[10; 400]), limit)).len(), 400);
        assert!(push_batch(Vec::new(), limit).is_empty());
    }

    fn plain(code: u8, client: RecordId, first: Option<u64>, bytes: &[u8]) -> Vec<u8> {
        let mut p = vec![code];
        p.extend_from_slice(client.as_bytes());
        if let Some(f) = first {
            p.extend_from_slice(&f.to_be_bytes());
        }
        p.extend_from_slice(bytes);
        p
    }

    #[test]
    fn record_payloads_round_trip_single_and_spanning() {
        let (vault, doc, client) = (VaultId::random(), RecordId::random(), RecordId::random());
        let (key, key_id) = (SecretKey::random(), KeyId::random());
        for first in [None, Some(3)] {
            let sealed =
                doc_payload(vault, &key, key_id, doc, Kind::Note, client, b"changes", 9, first);
            let aad = bundle_aad(vault, doc, 9, Part::Bundle);
            let opened = envelope::open(&key, &key_id, &aad, &sealed).unwrap();
            let p = parse_doc_plain(&opened, 9).unwrap();
            assert_eq!(
                (p.kind, p.client, p.first, p.bytes),
                (Kind::Note, client, first.unwrap_or(9), &b"changes"[..])
            );
            // Sealed for seq 9, it does not open as another seq.
            assert!(envelope::open(
                &key,
                &key_id,
                &bundle_aad(vault, doc, 8, Part::Bundle),
                &sealed
            )
            .is_err());
        }
    }

    #[test]
    fn malformed_spans_and_kinds_are_refused() {
        let c = RecordId::random();
        let note = Kind::Note as u8;
        let span = |first: u64, seq: u64| {
            parse_doc_plain(&plain(note | SPAN_FLAG, c, Some(first), b"x"), seq).is_some()
        };
        assert!(span(1, 9) && span(8, 9) && span(2, MAX_SPAN + 1));
        assert!(!span(0, 9) && !span(9, 9) && !span(10, 9) && !span(1, MAX_SPAN + 1));
        assert!(parse_doc_plain(&plain(note | SPAN_FLAG, c, None, b"1234567"), 9).is_none());
        assert!(parse_doc_plain(&plain(0, c, None, b"x"), 9).is_none());
        assert!(parse_doc_plain(&plain(SPAN_FLAG | 0x7f, c, Some(1), b"x"), 9).is_none());
        assert!(parse_doc_plain(&[note], 9).is_none());
        assert!(parse_doc_plain(&[], 9).is_none());
        assert_eq!(parse_doc_plain(&plain(note, c, None, b""), 9).unwrap().bytes, b"");
    }
}
