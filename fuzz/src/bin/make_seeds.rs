//! Writes the seed corpus of every fuzz target into `DIR/<target>/`: real record documents
//! from two devices of one vault (notes signed, amended and edited concurrently, ruptures with
//! repairs, voided ones, measures and corrections, the registry), the bundles they pushed, an
//! invite, and the same records sealed and signed with the harnesses' fixed keys so that the
//! fuzzer starts past authentication. Usage: `make-seeds DIR`.

// Instrumented like the targets, this binary links libFuzzer for the coverage callbacks.
extern crate libfuzzer_sys;

use std::path::{Path, PathBuf};

use mend_core::crypto::kdf::{derive_key, KdfParams};
use mend_core::crypto::{envelope, KeyPurpose, Part};
use mend_core::fuzzing as f;
use mend_core::ids::{DeviceId, KeyId, RecordId};
use mend_core::records::{am, summary, Kind};
use mend_core::sync::bundle::{Bundle, BundleKind};
use mend_core::sync::transport::{Page, PageItem, Transport};
use mend_core::sync::{invite as code, wire, MemoryRelay};
use mend_core::*;
use mend_fuzz::*;
use mend_testkit::{
    author_sign, free_note, new_client, new_rupture, new_session, opts, pair, soap, sync,
    wai_items, PHONE_KEY, TABLET_KEY,
};

struct Out(PathBuf);

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}

fn ok<T>(what: &str, r: Result<T>) -> Option<T> {
    r.map_err(|e| eprintln!("seed step {what}: {e}")).ok()
}

fn plain(kind: Kind, client: RecordId, first: Option<u64>, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![kind as u8 | if first.is_some() { 0x80 } else { 0 }];
    p.extend_from_slice(client.as_bytes());
    if let Some(first) = first {
        p.extend_from_slice(&first.to_be_bytes());
    }
    p.extend_from_slice(bytes);
    p
}

fn signed(kind: BundleKind, doc: RecordId, seq: u64, payload: Vec<u8>) -> Vec<u8> {
    Bundle::signed(kind, VAULT, doc, SIGNER, seq, KEY_ID, payload, device_key()).encode()
}

fn record_bundle(doc: RecordId, seq: u64, p: &[u8], kind: BundleKind) -> Vec<u8> {
    let sealed = envelope::seal(&data_key(), &KEY_ID, &bundle_aad(doc, seq, Part::Bundle), p);
    signed(kind, doc, seq, sealed)
}

fn main() {
    let out = Out(PathBuf::from(std::env::args().nth(1).expect("usage: make-seeds DIR")));
    let tmp = std::env::temp_dir().join(format!("mend-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let relay = MemoryRelay::new();

    // Two devices of one vault, with every record kind and the states a record goes through.
    let phone =
        Vault::create(&tmp.join("phone"), VaultSecret::key(PHONE_KEY), opts()).expect("vault");
    let c = phone.create_client(&new_client("C-0042")).expect("client");
    ok("goal", phone.add_treatment_goal(c, "Sleep 7 hours 🌙", "sleep"));
    let s = phone.create_session(&new_session(c, 1_767_600_000_000)).expect("session");
    let n = phone.create_note(&soap(s)).expect("note");
    ok(
        "risk",
        phone.set_note_risk(
            n,
            &Risk {
                si: RiskLevel::Denied,
                hi: RiskLevel::Denied,
                note: "safety plan reviewed".into(),
            },
        ),
    );
    ok("code", phone.set_note_code(n, CodeSet::Diagnoses, "F41.1", true));
    ok("sign", phone.sign_note(n, &author_sign(1_767_600_100_000, false)));
    let add = NewAddendum {
        kind: AddendumKind::LateEntry,
        reason: "forgot the homework".into(),
        body: "Assigned a sleep diary.".into(),
        targets: vec!["plan".into()],
        author_id: "therapist-1".into(),
        created_at: 1_767_600_200_000,
    };
    if let Some(a) = ok("addendum", phone.add_addendum(n, &add)) {
        ok("sign addendum", phone.sign_addendum(n, a, &author_sign(1_767_600_300_000, false)));
    }
    let n2 = phone.create_note(&free_note(s)).expect("free note");
    let r = phone
        .create_rupture(&new_rupture(c, Some(s), 1_767_600_000_000), "therapist-1")
        .expect("rupture");
    let repair = NewRepairAttempt {
        session_id: Some(s),
        at: 1_767_600_050_000,
        strategies: vec!["rs_clarify_misunderstanding".parse().expect("strategy")],
        client_response: vec!["reengaged".parse().expect("response")],
        effect: Some(2),
        note: "named the misattunement".into(),
    };
    ok("repair", phone.add_repair_attempt(r, &repair));
    ok(
        "status",
        phone.set_rupture_status(
            r,
            "partially_resolved".parse().expect("status"),
            1_767_600_060_000,
            "therapist-1",
            Some(s),
        ),
    );
    let mut r2n = new_rupture(c, None, 1_767_500_000_000);
    r2n.record_class = RecordClass::ProgressRecord;
    let r2 = phone.create_rupture(&r2n, "therapist-1").expect("rupture 2");
    ok("void", phone.void_rupture(r2, "wrong client", "therapist-1", 1_767_500_100_000));
    let m = phone
        .record_measure(&NewMeasure {
            client_id: c,
            session_id: Some(s),
            instrument: "wai_sr".parse().expect("instrument"),
            rater: "client".parse().expect("rater"),
            administered_at: 1_767_600_000_000,
            items: wai_items(4),
            supersedes: None,
        })
        .expect("measure");
    let m2 = ok(
        "correction",
        phone.record_measure(&NewMeasure {
            client_id: c,
            session_id: Some(s),
            instrument: "wai_sr".parse().expect("instrument"),
            rater: "client".parse().expect("rater"),
            administered_at: 1_767_600_000_000,
            items: wai_items(5),
            supersedes: Some(m),
        }),
    );
    let tablet =
        pair(&phone, &relay, &tmp.join("tablet"), VaultSecret::key(TABLET_KEY), opts(), &relay);
    // Concurrent edits on both devices: conflicting registers, and late edits to a note signed
    // meanwhile on the other device (a divergence).
    ok("status phone", phone.set_client_status(c, "on_hold".parse().expect("status")));
    ok("status tablet", tablet.set_client_status(c, "discharged".parse().expect("status")));
    ok(
        "risk phone",
        phone.set_note_risk(
            n2,
            &Risk { si: RiskLevel::Passive, hi: RiskLevel::Denied, note: String::new() },
        ),
    );
    ok(
        "risk tablet",
        tablet.set_note_risk(
            n2,
            &Risk { si: RiskLevel::Denied, hi: RiskLevel::Denied, note: "late".into() },
        ),
    );
    ok("late edit", tablet.set_note_section(n2, "body", "Edited on the tablet, offline."));
    ok("sign phone", phone.sign_note(n2, &author_sign(1_767_600_400_000, false)));
    let mut u = RuptureUpdate::default();
    u.significance = Some(4);
    ok("update phone", phone.update_rupture(r, &u));
    u.significance = Some(2);
    ok("update tablet", tablet.update_rupture(r, &u));
    for v in [&phone, &tablet, &phone, &tablet] {
        sync(v, &relay);
    }

    // Stored documents, summaries and record payloads.
    let reg = f::registry_id(&phone);
    let mut ids = vec![
        (c, "client"),
        (s, "session"),
        (n, "note-signed"),
        (n2, "note-diverged"),
        (r, "rupture"),
        (r2, "rupture-voided"),
        (m, "measure"),
        (reg, "registry"),
    ];
    if let Some(m2) = m2 {
        ids.push((m2, "measure-correction"));
    }
    let mut docs = Vec::new();
    for (device, v) in [("phone", &phone), ("tablet", &tablet)] {
        for (id, name) in &ids {
            let Some((kind, bytes)) = ok(name, f::record_bytes(v, *id)) else { continue };
            let tag = format!("{name}-{device}");
            let code = kind as u8 - 1;
            let mut sd = vec![code, 0];
            sd.extend_from_slice(&bytes);
            out.put("stored_doc", &tag, &sd);
            sd[1] = 1;
            out.put("stored_doc", &format!("{tag}-changes"), &sd);
            if kind == Kind::Registry {
                out.put("registry", &tag, &bytes);
            }
            let doc = am::load_doc(&bytes).expect("a saved record loads");
            if let Ok(sum) = summary::encoded(kind, &doc, *id) {
                out.put("summary", &tag, &sum);
            }
            docs.push((tag, kind, bytes));
        }
    }
    for (i, (tag, kind, bytes)) in docs.iter().enumerate() {
        let seq = 10 + i as u64;
        let single = plain(*kind, c, None, bytes);
        let mut p = vec![0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&single);
        out.put("payload", tag, &p);
        if i % 4 == 0 {
            let span = plain(*kind, c, Some(seq - 3), bytes);
            let mut p = vec![0];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&span);
            out.put("payload", &format!("{tag}-span"), &p);
            out.put(
                "bundle",
                &format!("{tag}-change"),
                &record_bundle(DOC, seq, &span, BundleKind::Change),
            );
        }
        if tag.ends_with("-phone") {
            out.put("bundle", tag, &record_bundle(DOC, seq, &single, BundleKind::Change));
        }
        if i < 3 {
            out.put("envelope", tag, &envelope::seal(&data_key(), &KEY_ID, &envelope_aad(), bytes));
        }
    }

    // Key shares: the plaintext of one, one sealed to this device and another, a version 1 share.
    let keys = vec![
        (KeyId::from_bytes([1; 16]), RecordId::from_bytes([2; 16]), KeyPurpose::Record, 0, [3; 32]),
        (
            KeyId::from_bytes([4; 16]),
            RecordId::from_bytes([2; 16]),
            KeyPurpose::Process,
            2,
            [5; 32],
        ),
        (KeyId::from_bytes([6; 16]), RecordId::from_bytes([0; 16]), KeyPurpose::Sync, 1, [7; 32]),
    ];
    let mut p = vec![1];
    p.extend_from_slice(&f::share_keys_plain(&keys));
    out.put("payload", "share-keys", &p);
    let mut v1 = vec![2];
    v1.extend_from_slice(RecordId::from_bytes([2; 16]).as_bytes());
    v1.push(KeyPurpose::Record as u8);
    v1.extend_from_slice(&[9; 32]);
    out.put("payload", "share-v1", &v1);
    let other = mend_core::crypto::seal::ReceiveKey::from_private(&[0x12; 32]).expect("key");
    let recipients =
        [(DeviceId::from_bytes([0x13; 16]), other.public()), (ME, receive_key().public())];
    let share = f::seal_share((VAULT, DOC, SIGNER, 9), &recipients, &keys).expect("share");
    out.put("share", "two-recipients", &share);
    let stale =
        f::seal_share((VAULT, DOC, SIGNER, 9), &[(ME, other.public())], &keys[..1]).expect("share");
    out.put("share", "stale", &stale);
    let share_b = f::seal_share((VAULT, DOC, SIGNER, 9), &recipients, &keys).expect("share");
    out.put("bundle", "key-share", &signed(BundleKind::KeyShare, DOC, 9, share_b));
    let v1_sealed =
        envelope::seal(&data_key(), &KEY_ID, &bundle_aad(DOC, 8, Part::KeyShare), &v1[1..]);
    out.put("bundle", "key-share-v1", &signed(BundleKind::KeyShare, DOC, 8, v1_sealed));

    // What the relay holds: the bundles both devices pushed (signed by their own keys).
    let pushed = relay.dump();
    let mut small: Vec<Vec<u8>> =
        pushed.iter().filter(|b| b.len() < 4096).take(6).cloned().collect();
    small.sort_by_key(|b| b.len());
    for (i, b) in small.iter().enumerate() {
        out.put("bundle", &format!("relay-{i}"), b);
    }
    out.put("wire", "push", &wire::encode_bundles(&small));
    let page = Page {
        items: small
            .iter()
            .enumerate()
            .map(|(i, b)| PageItem { seq: i as u64 + 1, bundle: b.clone() })
            .collect(),
        remaining: 3,
        head: 9,
    };
    out.put("wire", "page", &wire::encode_page(&page));
    out.put("wire", "drops", &wire::encode_key_ids(&[KEY_ID, KeyId::from_bytes([1; 16])]));
    out.put("wire", "device", &wire::encode_device(&SIGNER, &device_key().public()));
    if let Ok(p) = relay.pull(&phone.id(), 0, 3) {
        out.put("wire", "pulled", &wire::encode_page(&p));
    }

    // An invite: its plaintext, and the same sealed again with cheap costs for the fuzzer.
    let the_code = code::generate_code();
    let invite = phone.export_invite(&the_code, i64::MAX).expect("invite");
    let (_, contents) = f::open_invite(&invite, &the_code).expect("the invite opens");
    out.put("invite_contents", "real", &contents);
    let params = KdfParams { m_cost_kib: 8, t_cost: 1, p_cost: 1, salt: [0x21; 16] };
    let key = derive_key("FUZZSEEDCODE", &params).expect("kdf");
    let id = [0x31; 16];
    let mut cheap = b"MENDINV1".to_vec();
    cheap.extend_from_slice(&params.salt);
    for v in [params.m_cost_kib, params.t_cost, params.p_cost] {
        cheap.extend_from_slice(&v.to_be_bytes());
    }
    cheap.extend_from_slice(&id);
    cheap.extend_from_slice(&envelope::seal(
        &key,
        &KeyId::from_bytes([0; 16]),
        &f::invite_aad(id),
        &contents,
    ));
    assert!(f::open_invite(&cheap, CODE).is_ok(), "the cheap invite opens with the harness code");
    out.put("invite", "cheap", &cheap);

    // Relay requests (see mend_fuzz::relay::request).
    let req = |route: u8, flags: u8, tail: &str, body: &[u8]| {
        let mut r = vec![route, flags];
        r.extend_from_slice(tail.as_bytes());
        r.push(b'\n');
        r.extend_from_slice(body);
        r
    };
    let other_dev = DeviceId::from_bytes([0x14; 16]);
    let snap_doc = RecordId::from_bytes([0x23; 16]);
    let small_doc = &docs.iter().min_by_key(|d| d.2.len()).expect("docs").2;
    let change =
        record_bundle(DOC, 21, &plain(Kind::Client, c, None, small_doc), BundleKind::Change);
    let snap =
        record_bundle(snap_doc, 22, &plain(Kind::Client, c, None, small_doc), BundleKind::Snapshot);
    out.put("relay", "enroll", &req(0, 0, "", &wire::encode_device(&other_dev, &[0x15; 32])));
    out.put("relay", "revoke-other", &req(1, 0, &other_dev.to_string(), b""));
    out.put("relay", "push", &req(2, 0, "", &wire::encode_bundles(&[change.clone()])));
    out.put("relay", "pull", &req(3, 0, "since=0&limit=10", b""));
    out.put("relay", "snapshot", &req(4, 0, &format!("{snap_doc}?covers=21"), &snap));
    out.put("relay", "drops", &req(5, 0, "", &wire::encode_key_ids(&[KeyId::from_bytes([1; 16])])));
    out.put("relay", "claim", &req(6, 0, &RecordId::from_bytes([0x24; 16]).to_string(), b""));
    out.put("relay", "health", &req(7, 0, "", b""));
    out.put(
        "relay",
        "any-path",
        &req(8, 0x10, &format!("/v1/vaults/{VAULT}/bundles?since=1"), b""),
    );
    out.put(
        "relay",
        "unknown-vault",
        &req(0, 2, "", &wire::encode_device(&SIGNER, &device_key().public())),
    );
    out.put("relay", "stale", &req(3, 4, "since=0", b""));
    out.put("relay", "bad-signature", &req(2, 8, "", &wire::encode_bundles(&[change])));
    out.put("relay", "unsigned", &req(3, 1, "", b""));

    drop((phone, tablet));
    let _ = std::fs::remove_dir_all(&tmp);
    let n = std::fs::read_dir(&out.0).map(|d| d.count()).unwrap_or(0);
    println!("seeds written for {n} targets in {}", Path::new(&out.0).display());
}
