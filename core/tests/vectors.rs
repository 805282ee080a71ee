//! Checked-in test vectors pinning the envelope format (version 1). `ok_*` vectors must seal to
//! exactly the stored bytes and open to the plaintext; `fail_*` vectors must fail to open.
//!
//! Regenerate (only when the format deliberately changes, with a new version):
//! `MEND_WRITE_VECTORS=1 cargo test -p mend-core --test vectors`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::crypto::envelope::{open, seal_with_nonce, Aad, Part};
use mend_core::crypto::SecretKey;
use mend_core::{KeyId, RecordId, VaultId};
use serde_json::{json, Value};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/envelope-v1.json");

fn part(n: u64) -> Part {
    match n {
        1 => Part::Canary,
        2 => Part::WrappedKey,
        3 => Part::Snapshot,
        4 => Part::Change,
        5 => Part::Summary,
        _ => Part::DeviceKey,
    }
}

fn h(v: &Value, k: &str) -> Vec<u8> {
    hex::decode(v[k].as_str().unwrap()).unwrap()
}

fn aad_of(v: &Value) -> Aad {
    Aad {
        vault: VaultId::from_slice(&h(v, "vault")).unwrap(),
        record: RecordId::from_slice(&h(v, "record")).unwrap(),
        kind: v["kind"].as_u64().unwrap() as u8,
        seq: v["seq"].as_u64().unwrap(),
        part: part(v["part"].as_u64().unwrap()),
    }
}

fn generate() -> Value {
    let key = [0x42u8; 32];
    let base = json!({
        "key": hex::encode(key),
        "key_id": hex::encode([0x11u8; 16]),
        "vault": hex::encode([0x22u8; 16]),
        "record": hex::encode([0x33u8; 16]),
        "kind": 3, "seq": 9, "part": 4,
        "nonce": hex::encode([0x55u8; 24]),
        "plaintext": hex::encode(b"S: slept four hours; P: sleep diary"),
    });
    let seal_of = |v: &Value| {
        let k = SecretKey::from_slice(&h(v, "key")).unwrap();
        let kid = KeyId::from_slice(&h(v, "key_id")).unwrap();
        let nonce: [u8; 24] = h(v, "nonce").try_into().unwrap();
        seal_with_nonce(&k, &kid, &aad_of(v), &h(v, "plaintext"), nonce)
    };
    let mut out = vec![];
    let mut ok = base.clone();
    ok["name"] = json!("ok_change");
    ok["envelope"] = json!(hex::encode(seal_of(&ok)));
    out.push(ok.clone());
    let mut empty = base.clone();
    empty["name"] = json!("ok_empty_plaintext");
    empty["plaintext"] = json!("");
    empty["part"] = json!(5);
    empty["envelope"] = json!(hex::encode(seal_of(&empty)));
    out.push(empty);
    let env = seal_of(&ok);
    let mut fail = |name: &str, f: &dyn Fn(&mut Value, &mut Vec<u8>)| {
        let mut v = ok.clone();
        let mut e = env.clone();
        f(&mut v, &mut e);
        v["name"] = json!(name);
        v["envelope"] = json!(hex::encode(e));
        out.push(v);
    };
    fail("fail_flipped_ciphertext_bit", &|_, e| e[45] ^= 1);
    fail("fail_flipped_tag_bit", &|_, e| *e.last_mut().unwrap() ^= 0x80);
    fail("fail_flipped_nonce_bit", &|_, e| e[20] ^= 1);
    fail("fail_version_2", &|_, e| e[0] = 2);
    fail("fail_truncated", &|_, e| e.truncate(40));
    fail("fail_other_key", &|v, _| v["key"] = json!(hex::encode([0x43u8; 32])));
    fail("fail_other_key_id", &|v, _| v["key_id"] = json!(hex::encode([0x12u8; 16])));
    fail("fail_moved_to_other_vault", &|v, _| v["vault"] = json!(hex::encode([0x23u8; 16])));
    fail("fail_moved_to_other_record", &|v, _| v["record"] = json!(hex::encode([0x34u8; 16])));
    fail("fail_other_kind", &|v, _| v["kind"] = json!(4));
    fail("fail_replayed_at_other_seq", &|v, _| v["seq"] = json!(10));
    fail("fail_swapped_into_snapshot_slot", &|v, _| v["part"] = json!(3));
    json!({ "format": "mend envelope v1", "vectors": out })
}

#[test]
fn envelope_vectors() {
    if std::env::var_os("MEND_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, serde_json::to_string_pretty(&generate()).unwrap() + "\n").unwrap();
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    let mut fails = 0;
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let k = SecretKey::from_slice(&h(v, "key")).unwrap();
        let kid = KeyId::from_slice(&h(v, "key_id")).unwrap();
        let env = h(v, "envelope");
        let opened = open(&k, &kid, &aad_of(v), &env);
        if name.starts_with("ok_") {
            assert_eq!(&opened.unwrap()[..], &h(v, "plaintext")[..], "{name}");
            let nonce: [u8; 24] = h(v, "nonce").try_into().unwrap();
            let resealed = seal_with_nonce(&k, &kid, &aad_of(v), &h(v, "plaintext"), nonce);
            assert_eq!(resealed, env, "{name}: the format changed");
        } else {
            assert!(name.starts_with("fail_"), "{name}");
            assert!(opened.is_err(), "{name} opened");
            fails += 1;
        }
    }
    assert!(fails >= 10);
}
