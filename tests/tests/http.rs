//! Devices syncing through a real relay over HTTP on loopback, and the relay refusing bad input.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_core::crypto::signing::DeviceKey;
use mend_core::sync::http::{HttpClient, HttpTransport, UreqClient};
use mend_core::sync::{wire, SyncOptions, Transport};
use mend_core::*;
use mend_relay::Limits;
use mend_testkit::*;

fn two_devices_over(store: Arc<dyn mend_relay::store::Store>) {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve(store, Limits::default());
    let t = HttpTransport::new(&relay.url);
    let phone =
        Vault::create(&dir.path().join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    let c = phone.create_client(&bare_client("C-2000", "US-CA")).unwrap();
    let s = phone.create_session(&bare_session(c, 1)).unwrap();
    let n = phone
        .create_note(&NewNote {
            session_id: s,
            author_id: "t".into(),
            format: NoteFormat::Soap,
            sections: vec![("subjective".into(), "ZQXsecret words".into())],
            created_at: 2,
        })
        .unwrap();
    let (inv, code) = invite(&phone, &t);
    let t2 = HttpTransport::new(&relay.url);
    let tablet = Vault::join(
        &dir.path().join("tablet"),
        VaultSecret::key(TABLET_KEY),
        opts(),
        &inv,
        &code,
        &t2,
    )
    .unwrap();
    tablet.sync(&t2, &SyncOptions::default()).unwrap();
    assert_eq!(tablet.note(n).unwrap().section("subjective"), Some("ZQXsecret words"));

    phone.splice_note_section(n, "plan", 0, 0, "phone ").unwrap();
    tablet.splice_note_section(n, "assessment", 0, 0, "tablet").unwrap();
    for _ in 0..2 {
        phone.sync(&t, &SyncOptions::default()).unwrap();
        tablet.sync(&t2, &SyncOptions::default()).unwrap();
    }
    assert_eq!(phone.note(n).unwrap(), tablet.note(n).unwrap());
    assert_eq!(phone.note(n).unwrap().section("plan"), Some("phone "));

    // A reused invite is refused by the relay.
    let again = Vault::join(
        &dir.path().join("again"),
        VaultSecret::key([3; 32]),
        opts(),
        &inv,
        &code,
        &HttpTransport::new(&relay.url),
    );
    assert_eq!(again.unwrap_err(), Error::InviteUsed);

    // Snapshots and erasure go through too.
    phone.upload_snapshots(&t).unwrap();
    phone.erase_client(c).unwrap();
    let r = phone.sync(&t, &SyncOptions::default()).unwrap();
    assert_eq!(r.dropped_keys, 2);
    tablet.sync(&t2, &SyncOptions::default()).unwrap();
    assert_eq!(tablet.note(n).unwrap_err(), Error::Erased(n));

    // What the relay stored: ciphertext only.
    let dump: Vec<u8> = block_on(relay.store.dump(*phone.id().as_bytes())).unwrap().concat();
    assert!(!dump.is_empty());
    for m in ["ZQXsecret", "C-2000", "soap", "US-CA", "phone ", "tablet"] {
        assert!(!dump.windows(m.len()).any(|w| w == m.as_bytes()), "relay stored {m:?}");
    }
}

#[test]
fn two_devices_sync_through_the_relay_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    two_devices_over(sqlite(&dir));
}

#[test]
fn two_devices_sync_through_the_relay_on_postgres() {
    two_devices_over(postgres());
}

/// Sends a raw request, signed (or not) by hand.
fn raw(
    url: &str,
    method: &str,
    path: &str,
    body: &[u8],
    sign: Option<(&DeviceId, &DeviceKey, &VaultId, i64)>,
) -> (u16, String) {
    try_raw(url, method, path, body, sign).unwrap()
}

/// [`raw`], or `None` if the connection failed.
fn try_raw(
    url: &str,
    method: &str,
    path: &str,
    body: &[u8],
    sign: Option<(&DeviceId, &DeviceKey, &VaultId, i64)>,
) -> Option<(u16, String)> {
    let mut headers = vec![];
    if let Some((device, key, vault, time)) = sign {
        let msg = wire::request_message(method, path, body, time, device, vault);
        headers.push((wire::HEADER_DEVICE, device.to_string()));
        headers.push((wire::HEADER_TIME, time.to_string()));
        headers.push((wire::HEADER_SIGNATURE, hex::encode(key.sign(&msg))));
    }
    let (status, body) =
        UreqClient::default().send(method, &format!("{url}{path}"), &headers, body).ok()?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn bad_requests_get_clear_4xx_errors() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_body: 64 * 1024,
        max_bundles: 5,
        rate_burst: 40.0,
        rate_per_sec: 1.0,
        ..Limits::default()
    };
    let relay = serve(sqlite(&dir), limits);
    let (vault, device, key) = (VaultId::random(), DeviceId::random(), DeviceKey::generate());
    let u = &relay.url;
    assert_eq!(raw(u, "GET", "/health", b"", None).0, 200);

    let enroll = format!("/v1/vaults/{vault}/devices");
    let body = wire::encode_device(&device, &key.public());
    // Unsigned, malformed and stale requests.
    let (status, msg) = raw(u, "POST", &enroll, &body, None);
    assert_eq!(status, 401);
    assert!(msg.contains("missing authentication"), "{msg}");
    assert_eq!(
        raw(u, "POST", &enroll, &body, Some((&device, &key, &vault, now() - 3_600_000))).0,
        401
    );
    // A device registers its vault by enrolling itself.
    let t = now();
    assert_eq!(raw(u, "POST", &enroll, &body, Some((&device, &key, &vault, t))).0, 204);
    // The same signed request again is a replay.
    assert_eq!(raw(u, "POST", &enroll, &body, Some((&device, &key, &vault, t))).0, 409);
    // A signature by another key.
    let other = DeviceKey::generate();
    let pull = format!("/v1/vaults/{vault}/bundles?since=0&limit=10");
    assert_eq!(raw(u, "GET", &pull, b"", Some((&device, &other, &vault, now()))).0, 401);
    // Unknown vault and unknown device.
    let (status, msg) = raw(
        u,
        "GET",
        &format!("/v1/vaults/{}/bundles?since=0", VaultId::random()),
        b"",
        Some((&device, &key, &vault, now())),
    );
    assert_eq!(status, 404);
    assert!(msg.contains("unknown vault"), "{msg}");
    let stranger = DeviceId::random();
    assert_eq!(raw(u, "GET", &pull, b"", Some((&stranger, &other, &vault, now()))).0, 404);
    // Malformed bodies and ids.
    let push = format!("/v1/vaults/{vault}/bundles");
    let (status, msg) =
        raw(u, "POST", &push, b"\x00\x00\x00\x09garbage", Some((&device, &key, &vault, now())));
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("\"error\":\"bad_request\""), "{msg}");
    assert_eq!(
        raw(u, "POST", "/v1/vaults/not-a-uuid/bundles", b"", Some((&device, &key, &vault, now())))
            .0,
        400
    );
    // Too many bundles, and a body over the size limit.
    let six = wire::encode_bundles(&vec![vec![0u8; 10]; 6]);
    assert_eq!(raw(u, "POST", &push, &six, Some((&device, &key, &vault, now()))).0, 400);
    // The relay reads and discards an oversized body before it answers, so a client that uploads
    // the whole body before reading (as this one does) gets the 413, not a reset connection.
    for size in [64 * 1024 + 1, 100 * 1024, 256 * 1024] {
        let huge = vec![0u8; size];
        let answer = try_raw(u, "POST", &push, &huge, Some((&device, &key, &vault, now())));
        let (status, msg) = answer.unwrap_or_else(|| panic!("{size} bytes: connection broken"));
        assert_eq!(status, 413, "{size} bytes: {msg}");
        assert!(msg.contains("\"error\":\"too_large\""), "{msg}");
    }
    // A bundle signed as another device is refused.
    let forged = mend_core::sync::bundle::Bundle::signed(
        mend_core::sync::bundle::BundleKind::Change,
        vault,
        RecordId::random(),
        stranger,
        1,
        KeyId::random(),
        vec![1; 60],
        &other,
    );
    assert_eq!(
        raw(
            u,
            "POST",
            &push,
            &wire::encode_bundles(&[forged.encode()]),
            Some((&device, &key, &vault, now()))
        )
        .0,
        400
    );
    // Revoked devices are refused.
    let second = (DeviceId::random(), DeviceKey::generate());
    assert_eq!(
        raw(
            u,
            "POST",
            &enroll,
            &wire::encode_device(&second.0, &second.1.public()),
            Some((&device, &key, &vault, now()))
        )
        .0,
        204
    );
    assert_eq!(raw(u, "GET", &pull, b"", Some((&second.0, &second.1, &vault, now()))).0, 200);
    assert_eq!(
        raw(
            u,
            "DELETE",
            &format!("/v1/vaults/{vault}/devices/{}", second.0),
            b"",
            Some((&device, &key, &vault, now()))
        )
        .0,
        204
    );
    assert_eq!(raw(u, "GET", &pull, b"", Some((&second.0, &second.1, &vault, now()))).0, 403);
    // The rate limit.
    let mut limited = false;
    for _ in 0..60 {
        if raw(u, "GET", &pull, b"", Some((&device, &key, &vault, now()))).0 == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-device rate limit never applied");
    // The relay is still healthy after all of it.
    assert_eq!(raw(u, "GET", "/health", b"", None).0, 200);
}

#[test]
fn the_transport_maps_relay_answers_to_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve(sqlite(&dir), Limits::default());
    let t = HttpTransport::new(&relay.url);
    let vault = VaultId::random();
    // No identity bound yet.
    assert!(matches!(t.pull(&vault, 0, 10), Err(mend_core::sync::TransportError::Refused(_))));
    t.bind_identity(DeviceId::random(), &DeviceKey::generate());
    assert!(
        matches!(t.pull(&vault, 0, 10), Err(mend_core::sync::TransportError::Refused(m)) if m.contains("404"))
    );
    let down = HttpTransport::new("http://127.0.0.1:1");
    down.bind_identity(DeviceId::random(), &DeviceKey::generate());
    assert!(matches!(
        down.pull(&vault, 0, 10),
        Err(mend_core::sync::TransportError::Unavailable(_))
    ));
}

/// Random bodies, signed by an enrolled device so decoding is reached, on every endpoint: the
/// relay answers 2xx or 4xx, never 5xx, and stays up.
#[test]
fn random_bodies_never_break_the_relay() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { rate_burst: 1e9, rate_per_sec: 1e9, ..Limits::default() };
    let relay = serve(sqlite(&dir), limits);
    let (vault, device, key) = (VaultId::random(), DeviceId::random(), DeviceKey::generate());
    let u = relay.url.clone();
    let enroll = format!("/v1/vaults/{vault}/devices");
    assert_eq!(
        raw(
            &u,
            "POST",
            &enroll,
            &wire::encode_device(&device, &key.public()),
            Some((&device, &key, &vault, now()))
        )
        .0,
        204
    );
    let endpoints = [
        ("POST", format!("/v1/vaults/{vault}/devices")),
        ("POST", format!("/v1/vaults/{vault}/bundles")),
        ("GET", format!("/v1/vaults/{vault}/bundles?since=-5&limit=0")),
        ("PUT", format!("/v1/vaults/{vault}/snapshots/{}?covers=3", RecordId::random())),
        ("POST", format!("/v1/vaults/{vault}/drops")),
        ("POST", format!("/v1/vaults/{vault}/invites/{}/claim", RecordId::random())),
        ("DELETE", format!("/v1/vaults/{vault}/devices/{}", DeviceId::random())),
    ];
    let mut runner =
        proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(64));
    runner
        .run(
            &(0..endpoints.len(), proptest::collection::vec(any::<u8>(), 0..600), any::<bool>()),
            |(e, mut body, framed)| {
                if framed && body.len() >= 4 {
                    // Plausible framing with a wrong count or length.
                    body[..4].copy_from_slice(&1u32.to_be_bytes());
                }
                let (method, path) = &endpoints[e];
                let (status, _) =
                    raw(&u, method, path, &body, Some((&device, &key, &vault, now())));
                prop_assert!((200..500).contains(&status), "{method} {path} answered {status}");
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(raw(&u, "GET", "/health", b"", None).0, 200);
}
