//! The fuzz harnesses: one function per decoder family, each called by its target in
//! `fuzz_targets/` with libFuzzer's bytes, and the fixed keys and ids they use, so that inputs
//! sealed and signed with them (the seeds `make-seeds` writes) reach the decoders behind
//! authentication. A harness panics only where Mend itself would: a decoder that panics, or a
//! round trip that does not hold.

use std::cell::RefCell;
use std::sync::{Once, OnceLock};

use automerge::AutoCommit;
use mend_core::crypto::seal::ReceiveKey;
use mend_core::crypto::signing::DeviceKey;
use mend_core::crypto::{envelope, Aad, Part, SecretKey};
use mend_core::fuzzing as f;
use mend_core::ids::{DeviceId, KeyId, RecordId, VaultId};
use mend_core::records::{
    am, client, conflict, measure, note, registry, rupture, session, summary, Kind,
};
use mend_core::sync::bundle::{Bundle, BundleKind};
use mend_core::sync::wire;

pub mod relay;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs one harness on one input. Mend catches Automerge's panics where it calls it
/// (`am::load_doc`, `am::load_incremental_safely`), so a panic caught inside Mend is not a
/// crash; one that escapes is, and is reported with its message before the process aborts.
/// (libfuzzer-sys's own hook aborts on every panic, caught or not; set
/// `MEND_FUZZ_ANY_PANIC=1` to keep it, for a panic's full stack.)
pub fn run(data: &[u8], harness: fn(&[u8])) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        if std::env::var_os("MEND_FUZZ_ANY_PANIC").is_none() {
            std::panic::set_hook(Box::new(|info| {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            }));
        }
    });
    if std::panic::catch_unwind(|| harness(data)).is_err() {
        let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
        eprintln!("a panic escaped Mend: {msg}");
        std::process::abort();
    }
}

/// The vault every sealed seed belongs to.
pub const VAULT: VaultId = VaultId::from_bytes([0x11; 16]);
/// The record of the envelope seeds.
pub const DOC: RecordId = RecordId::from_bytes([0x22; 16]);
/// The key id of [`data_key`].
pub const KEY_ID: KeyId = KeyId::from_bytes([0x33; 16]);
/// The device that signs the bundle seeds ([`device_key`]).
pub const SIGNER: DeviceId = DeviceId::from_bytes([0x44; 16]);
/// The device key shares are opened as ([`receive_key`]).
pub const ME: DeviceId = DeviceId::from_bytes([0x55; 16]);
/// The one-time code the invite seeds are sealed under.
pub const CODE: &str = "FUZZ-SEED-CODE";

/// The data key every envelope and bundle payload seed is sealed under.
pub fn data_key() -> SecretKey {
    SecretKey::from_bytes([0x66; 32])
}

/// The signing key of [`SIGNER`].
pub fn device_key() -> &'static DeviceKey {
    static K: OnceLock<DeviceKey> = OnceLock::new();
    K.get_or_init(|| DeviceKey::from_seed(&[0x77; 32]).expect("seed"))
}

/// The receiving key of [`ME`].
pub fn receive_key() -> &'static ReceiveKey {
    static K: OnceLock<ReceiveKey> = OnceLock::new();
    K.get_or_init(|| ReceiveKey::from_private(&[0x88; 32]).expect("private key"))
}

/// The associated data of the envelope seeds.
pub fn envelope_aad() -> Aad {
    Aad { vault: VAULT, record: DOC, kind: Kind::Note as u8, seq: 7, part: Part::Snapshot }
}

/// The associated data of a bundle payload (`outbox::bundle_aad`).
pub fn bundle_aad(doc: RecordId, seq: u64, part: Part) -> Aad {
    Aad { vault: VAULT, record: doc, kind: 0, seq, part }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// `envelope`: raw bytes opened as an envelope under the fixed key and associated data (the
/// authenticated open, as every stored part and bundle payload is opened).
pub fn envelope(data: &[u8]) {
    let claimed = envelope::key_id_of(data);
    if let Ok(plain) = envelope::open(&data_key(), &KEY_ID, &envelope_aad(), data) {
        assert_eq!(claimed, Ok(KEY_ID), "opened an envelope naming another key");
        // What opens was sealed: sealing it again with the same nonce gives the same bytes.
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&data[17..41]);
        let again = envelope::seal_with_nonce(&data_key(), &KEY_ID, &envelope_aad(), &plain, nonce);
        assert_eq!(again, data, "an opened envelope does not seal back to itself");
    }
}

/// `bundle`: raw bytes decoded as a sync bundle, re-encoded, verified against the fixed signer,
/// and (once verified, as `sync::apply` does) its payload opened and decoded.
pub fn bundle(data: &[u8]) {
    let Ok(b) = Bundle::decode(data) else { return };
    assert_eq!(b.encode(), data, "a decoded bundle does not encode back to its bytes");
    if b.verify(&device_key().public()).is_err() {
        return;
    }
    match b.kind {
        BundleKind::Change | BundleKind::Snapshot => {
            let aad = bundle_aad(b.doc, b.seq, Part::Bundle);
            if let Ok(plain) = envelope::open(&data_key(), &b.key_id, &aad, &b.payload) {
                let _ = f::apply_doc_plain(&plain, b.seq, b.doc);
            }
        }
        BundleKind::KeyShare => {
            if b.payload.starts_with(b"MKS2") {
                let _ =
                    f::open_share((VAULT, b.doc, b.device, b.seq), ME, receive_key(), &b.payload);
            } else {
                let aad = bundle_aad(b.doc, b.seq, Part::KeyShare);
                if let Ok(plain) = envelope::open(&data_key(), &b.key_id, &aad, &b.payload) {
                    let _ = f::parse_key_share_v1(&plain);
                }
            }
        }
    }
}

/// `payload`: bytes taken as the *decrypted* payload of a pulled bundle (past the signature and
/// the AEAD): the first byte picks the decoder — a record payload applied as a new record
/// (parse, Automerge load, summary, conflicts), a version 2 share's keys, a version 1 share —
/// the next 8 bytes are the bundle's sequence number for a record payload.
pub fn payload(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            let seq = be_u64(rest);
            let body = rest.get(8..).unwrap_or_default();
            if let Some((_, _, first, _)) = f::parse_doc_plain(body, seq) {
                assert!(first <= seq, "a span ends after the bundle's own number");
            }
            let _ = f::apply_doc_plain(body, seq, DOC);
        }
        1 => {
            if let Some(keys) = f::parse_share_keys(rest) {
                assert_eq!(
                    rest.len(),
                    2 + keys.len() * 69,
                    "share keys parsed from the wrong length"
                );
            }
        }
        _ => {
            let _ = f::parse_key_share_v1(rest);
        }
    }
}

/// `share`: raw bytes as a version 2 key share payload, opened as [`ME`] (framing, the box
/// addressed to this device, HPKE, the keys inside).
pub fn share(data: &[u8]) {
    let _ = f::open_share((VAULT, DOC, SIGNER, 9), ME, receive_key(), data);
}

/// `wire`: raw bytes as every relay body (push list, pulled page, key id list, device), each
/// decoded bounded and, when it decodes, encoded back to the same bytes.
pub fn wire(data: &[u8]) {
    if let Ok(list) = wire::decode_bundles(data, wire::MAX_BUNDLES_PER_REQUEST) {
        assert_eq!(wire::encode_bundles(&list), data);
    }
    if let Ok(page) = wire::decode_page(data, 10_000) {
        assert_eq!(wire::encode_page(&page), data);
    }
    if let Ok(keys) = wire::decode_key_ids(data, 10_000) {
        assert_eq!(wire::encode_key_ids(&keys), data);
    }
    if let Ok((d, p)) = wire::decode_device(data) {
        assert_eq!(wire::encode_device(&d, &p), data);
    }
}

/// Costs above these make one invite take milliseconds: the harness skips them (the decoder
/// accepts up to 1 GiB and 10 passes, by design).
const INVITE_MAX_KIB: u32 = 64;

/// `invite`: raw bytes as an invite opened with [`CODE`] (header, cost checks, Argon2id, the
/// envelope), then its contents decoded and checked as `Vault::join` does before it claims it.
pub fn invite(data: &[u8]) {
    if data.len() >= 36 {
        let num =
            |at: usize| u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        if num(24) > INVITE_MAX_KIB || num(28) > 1 || num(32) > 1 {
            return;
        }
    }
    if let Ok((_, plain)) = f::open_invite(data, CODE) {
        let _ = f::read_invite_contents(&plain, 0);
    }
}

/// `invite_contents`: bytes as the *decrypted* contents of an invite (JSON: ids, the device
/// seed, keys, the registry document), decoded and checked as `Vault::join` does.
pub fn invite_contents(data: &[u8]) {
    let _ = f::read_invite_contents(data, 0);
}

/// The record kind a document input is read as (its first byte).
pub fn kind_of(b: u8) -> Kind {
    Kind::from_code(b % 6 + 1).unwrap_or(Kind::Note)
}

/// Every reader of the record layer that a document of `kind` meets.
pub fn read_record(kind: Kind, doc: &AutoCommit, id: RecordId) {
    let _ = summary::encoded(kind, doc, id);
    let _ = conflict::of(kind, doc, id);
    match kind {
        Kind::Client => {
            let _ = client::read(doc, id);
        }
        Kind::Session => {
            let _ = session::read(doc, id);
        }
        Kind::Note => {
            let _ = note::read(doc, id);
            let _ = note::state(doc, id);
            let _ = note::signed_content(doc, id);
            let _ = note::divergence(doc, id);
            let _ = note::verify_addenda(doc, id);
        }
        Kind::Rupture => {
            let _ = rupture::read(doc, id);
            let _ = rupture::client_of(doc, id);
            let _ = rupture::record_class(doc, id);
        }
        Kind::Measure => {
            let _ = measure::read(doc, id);
        }
        Kind::Registry => {
            if let Ok(r) = registry::read(doc, id) {
                let _ = r.required_epoch();
                let _ = r.receivers(ME);
            }
        }
    }
}

/// `stored_doc`: bytes as a stored record document, as the vault reads one: the first byte
/// picks the record kind; the second how it is loaded (a whole snapshot, or saved changes
/// applied to an empty document, the way stored change rows are); the rest is the document.
/// Then every reader of that kind, the summary and the conflicts.
pub fn stored_doc(data: &[u8]) {
    let [k, mode, rest @ ..] = data else { return };
    let kind = kind_of(*k);
    let doc = if mode & 1 == 0 {
        match am::load_doc(rest) {
            Some(d) => d,
            None => return,
        }
    } else {
        let mut d = am::new_doc();
        if !am::load_incremental_safely(&mut d, rest) {
            return;
        }
        d
    };
    read_record(kind, &doc, DOC);
}

/// `summary`: bytes as an opened record summary (JSON), decoded.
pub fn summary(data: &[u8]) {
    if let Ok((s, c)) = summary::decode(DOC, data) {
        // What decodes encodes: a summary read from a row can be written again.
        let v = serde_json::json!({ "s": s, "c": c });
        let again = serde_json::to_vec(&v).expect("summary encodes");
        assert_eq!(summary::decode(DOC, &again).map(|x| x.0), Ok(s));
    }
}

/// `registry`: bytes as the registry document (saved Automerge), loaded and read as every device
/// reads it to decide who may sign, who is revoked, which clients are erased and where key
/// shares are sealed.
pub fn registry(data: &[u8]) {
    if let Some(doc) = am::load_doc(data) {
        read_record(Kind::Registry, &doc, DOC);
    }
}
