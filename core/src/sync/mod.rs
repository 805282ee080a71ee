//! Sync between a therapist's devices through an untrusted relay.
//!
//! Local changes become bundles when they are saved: the change bytes are encrypted under the
//! record's data key and queued in the outbox in the same transaction as the save. `sync` pushes
//! the outbox, tells the relay to drop erased key ids, then pulls pages of other devices' bundles
//! after a cursor and applies each page in one SQLite transaction. Applying is idempotent (a
//! `(device, seq)` table) and order-independent (incoming change bytes are stored as they came
//! and Automerge queues changes whose dependencies are missing). Every bundle is checked before
//! anything is written: vault, signer in the registry and not revoked, Ed25519 signature, AEAD,
//! and that it names the same record kind, client and key as the local copy. A rejected bundle is
//! counted in the report with a typed reason and never touches the store; one that cannot be
//! applied yet (unknown signer or key) is kept encrypted in `pending` and retried.
//!
//! For speed, a push coalesces a run of consecutive saves of one record into one bundle that
//! covers their sequence numbers, a page's signatures are verified in batches, and a page's
//! change bundles are merged per record (one Automerge load, one stored change, one summary).

pub mod bundle;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod invite;
pub mod memory;
pub mod transport;
pub mod wire;

use crate::crypto::{envelope, Aad, Part, SecretKey};
use crate::ids::{KeyId, RecordId, VaultId};
use crate::records::Kind;
use crate::vault::KeyPurpose;

pub use engine::{RejectReason, Rejection, SyncOptions, SyncProgress, SyncReport};
pub use memory::MemoryRelay;
pub use transport::{Page, PageItem, Transport, TransportError};

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
#[allow(clippy::too_many_arguments)]
pub(crate) fn key_share_payload(
    vault: VaultId,
    sync_key: &SecretKey,
    sync_key_id: KeyId,
    shared: KeyId,
    client: RecordId,
    purpose: KeyPurpose,
    key: &SecretKey,
    seq: u64,
) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(49));
    plain.extend_from_slice(client.as_bytes());
    plain.push(purpose as u8);
    plain.extend_from_slice(key.expose());
    let doc = RecordId::from_bytes(*shared.as_bytes());
    envelope::seal(sync_key, &sync_key_id, &bundle_aad(vault, doc, seq, Part::KeyShare), &plain)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
