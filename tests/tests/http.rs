//! Devices syncing through a real relay over HTTP on loopback, and the relay refusing bad input.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_core::crypto::signing::DeviceKey;
use mend_core::sync::http::{HttpClient, HttpTransport, UreqClient};
use mend_core::sync::{wire, SyncOptions, Transport};
use mend_core::sync::{Refusal, TransportError};
use mend_core::*;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{Limits, Relay};
use mend_testkit::*;

fn two_devices_over(store: Arc<dyn mend_relay::store::Store>) {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve(store, open());
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
        ..open()
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
    assert!(msg.contains("unknown vault or device"), "{msg}");
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
    let relay = serve(sqlite(&dir), open());
    let t = HttpTransport::new(&relay.url);
    let vault = VaultId::random();
    // No identity bound yet.
    assert!(matches!(t.pull(&vault, 0, 10), Err(mend_core::sync::TransportError::Refused(_))));
    t.bind_identity(DeviceId::random(), &DeviceKey::generate());
    assert!(matches!(t.pull(&vault, 0, 10), Err(TransportError::Denied(Refusal::Unknown))));
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
    let limits = Limits {
        rate_burst: 1e9,
        rate_per_sec: 1e9,
        address_burst: 1e9,
        address_per_sec: 1e9,
        ..open()
    };
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

/// The default limits with open registration (vaults register without an operator's token).
fn open() -> Limits {
    Limits { open_registration: true, ..Limits::default() }
}

/// A vault with one enrolled device on `relay`.
fn enrolled(u: &str) -> (VaultId, DeviceId, DeviceKey) {
    let (vault, device, key) = (VaultId::random(), DeviceId::random(), DeviceKey::generate());
    let body = wire::encode_device(&device, &key.public());
    let enroll = format!("/v1/vaults/{vault}/devices");
    assert_eq!(raw(u, "POST", &enroll, &body, Some((&device, &key, &vault, now()))).0, 204);
    (vault, device, key)
}

/// The attacker knows a device's id (it is in every bundle header the relay stores) and floods
/// the relay with requests in its name that it cannot sign. The device's own rate limit is
/// charged only for requests its key signed, so the flood costs the device nothing.
#[test]
fn forged_requests_in_a_devices_name_do_not_use_up_its_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { rate_burst: 6.0, rate_per_sec: 0.001, ..open() };
    let relay = serve(sqlite(&dir), limits);
    let u = &relay.url;
    let (vault, device, key) = enrolled(u);
    let pull = format!("/v1/vaults/{vault}/bundles?since=0&limit=10");
    let forger = DeviceKey::generate();
    for _ in 0..50 {
        let (status, msg) = raw(u, "GET", &pull, b"", Some((&device, &forger, &vault, now())));
        assert_eq!(status, 401, "{msg}");
    }
    // The device's own requests still pass: 5 tokens were left after enrolling.
    for i in 0..5 {
        let (status, msg) = raw(u, "GET", &pull, b"", Some((&device, &key, &vault, now())));
        assert_eq!(status, 200, "honest request {i}: {msg}");
    }
    // And its limit still applies to what it signs.
    let (status, msg) = raw(u, "GET", &pull, b"", Some((&device, &key, &vault, now())));
    assert_eq!(status, 429, "{msg}");
    assert!(msg.contains("\"error\":\"rate_limited\""), "{msg}");
}

/// One address is limited before anything else runs, signed or not.
#[test]
fn one_address_is_rate_limited_in_front_of_everything() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { address_burst: 12.0, address_per_sec: 0.001, ..open() };
    let relay = serve(sqlite(&dir), limits);
    let u = &relay.url;
    let (vault, device, key) = enrolled(u); // one request
    let pull = format!("/v1/vaults/{vault}/bundles?since=0");
    let mut answers = vec![];
    for _ in 0..11 {
        answers.push(raw(u, "GET", &pull, b"", None).0);
    }
    assert!(answers.iter().all(|&s| s == 401), "{answers:?}");
    let (status, msg) = raw(u, "GET", &pull, b"", Some((&device, &key, &vault, now())));
    assert_eq!(status, 429, "{msg}");
    assert!(msg.contains("\"error\":\"rate_limited\""), "{msg}");
    assert_eq!(raw(u, "GET", "/health", b"", None).0, 429);
}

/// Writes `head` to a fresh connection, then drips `drip` one byte every 50 ms, and reports
/// how long the relay let the connection live (until it closed it) and what it answered. Gives
/// up after `give_up`.
fn drip(
    addr: &str,
    head: &[u8],
    drip: &[u8],
    give_up: std::time::Duration,
) -> (std::time::Duration, String) {
    use std::io::{Read, Write};
    let start = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
    let _ = s.write_all(head);
    let mut answer = vec![];
    let mut buf = [0u8; 4096];
    for &b in drip.iter().cycle() {
        if start.elapsed() > give_up {
            break;
        }
        if s.write_all(&[b]).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    (start.elapsed(), String::from_utf8_lossy(&answer).into_owned())
}

/// Slow-drip connections (a request head or body sent a byte at a time, never finished) are
/// cut off after the header or body timeout, and all of them together hold at most the
/// connection limit: while they hold it a real request waits, and it is served once they are
/// cut off — where before they stayed open for as long as they liked.
#[test]
fn slow_drip_connections_are_cut_off_and_hold_at_most_the_connection_limit() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        connection_limit: 4,
        ..open()
    };
    let relay = serve(sqlite(&dir), limits);
    let addr = relay.url.trim_start_matches("http://").to_string();
    let give_up = Duration::from_secs(20);
    let drippers: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                drip(&addr, b"GET /health HTTP/1.1\r\nHost: relay\r\n", b"X-Slow: y\r\n", give_up)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The four hold every slot: a real request waits until the relay cuts them off.
    let asked = Instant::now();
    let (status, _) = raw(&relay.url, "GET", "/health", b"", None);
    let waited = asked.elapsed();
    assert_eq!(status, 200);
    for d in drippers {
        let (lived, _) = d.join().unwrap();
        assert!(lived < Duration::from_secs(8), "a slow head kept its connection for {lived:?}");
    }
    assert!(waited >= Duration::from_millis(300), "served at once ({waited:?}): no limit held");

    // A body dripped after a complete head gets a JSON 408 and the connection closes.
    let vault = VaultId::random();
    let head = format!(
        "POST /v1/vaults/{vault}/bundles HTTP/1.1\r\nHost: relay\r\nContent-Length: 100000\r\n\r\n"
    );
    let (lived, answer) = drip(&addr, head.as_bytes(), b"x", give_up);
    assert!(lived < Duration::from_secs(8), "a slow body kept its connection for {lived:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"timeout\""), "{answer}");
    // The relay is still there for everyone else.
    assert_eq!(raw(&relay.url, "GET", "/health", b"", None).0, 200);
}

/// Sends a raw HTTP/1.1 request (`Connection: close`) and returns the whole answer.
fn raw_http(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = vec![];
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Every refusal, whoever makes it (a handler, a route that does not exist, a method a route
/// lacks, a chunked body over the limit, an extreme time), is the one JSON error shape; an
/// unknown vault and an unknown device of a known vault answer exactly alike.
#[test]
fn every_refusal_has_the_one_json_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { max_body: 4096, ..open() };
    let relay = serve(sqlite(&dir), limits);
    let u = &relay.url;
    let addr = u.trim_start_matches("http://");
    let (vault, device, key) = enrolled(u);
    let json = |status: u16, code: &str, (got, body): (u16, String)| {
        assert_eq!(got, status, "{body}");
        assert!(body.starts_with('{') && body.contains(&format!("\"error\":\"{code}\"")), "{body}");
        assert!(body.contains("\"message\":"), "{body}");
    };
    json(404, "not_found", raw(u, "GET", "/nowhere", b"", None));
    json(
        405,
        "method_not_allowed",
        raw(u, "PATCH", &format!("/v1/vaults/{vault}/bundles"), b"", None),
    );
    json(400, "bad_request", raw(u, "POST", "/v1/vaults/not-a-uuid/bundles", b"", None));
    json(401, "unauthorized", raw(u, "GET", &format!("/v1/vaults/{vault}/bundles"), b"", None));
    // A chunked body over the limit: no declared length to refuse early.
    let mut chunked = format!(
        "POST /v1/vaults/{vault}/bundles HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..4 {
        chunked.extend(b"800\r\n");
        chunked.extend([b'x'; 0x800]);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let answer = raw_http(addr, &chunked);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"error\":\"too_large\""), "{answer}");
    // Times at the ends of i64 (a debug build once panicked on the first) are stale, not fatal.
    let pull = format!("/v1/vaults/{vault}/bundles?since=0");
    for time in [i64::MIN, i64::MIN + 1, i64::MAX] {
        let msg = wire::request_message("GET", &pull, b"", time, &device, &vault);
        let headers = [
            (wire::HEADER_DEVICE, device.to_string()),
            (wire::HEADER_TIME, time.to_string()),
            (wire::HEADER_SIGNATURE, hex::encode(key.sign(&msg))),
        ];
        let (status, body) =
            UreqClient::default().send("GET", &format!("{u}{pull}"), &headers, b"").unwrap();
        json(401, "unauthorized", (status, String::from_utf8_lossy(&body).into_owned()));
    }
    // Unknown vault and unknown device of a known vault: the same answer, byte for byte.
    let stranger = (DeviceId::random(), DeviceKey::generate());
    let other_vault = VaultId::random();
    let unknown_vault = raw(
        u,
        "GET",
        &format!("/v1/vaults/{other_vault}/bundles?since=0"),
        b"",
        Some((&stranger.0, &stranger.1, &other_vault, now())),
    );
    let unknown_device = raw(u, "GET", &pull, b"", Some((&stranger.0, &stranger.1, &vault, now())));
    assert_eq!(unknown_vault, unknown_device);
    json(404, "unknown", unknown_vault);
    assert_eq!(raw(u, "GET", "/health", b"", None).0, 200);
}

/// An attacker who finds a relay that is not in open registration cannot make it store for
/// them: no vault registers without a token its operator issued, a made-up token is refused, and
/// each issued token registers one vault (retrying that registration is not a second use).
#[test]
fn registering_a_vault_needs_a_token_the_operator_issued() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve(sqlite(&dir), Limits::default());
    let register = |vault: &VaultId, token: Option<&str>| {
        let (device, key) = (DeviceId::random(), DeviceKey::generate());
        let t = HttpTransport::new(&relay.url);
        let t = match token {
            Some(tok) => t.with_registration_token(tok),
            None => t,
        };
        t.bind_identity(device, &key);
        t.enroll(vault, &device, &key.public()).map(|()| (t, device, key))
    };
    let refused = |r: Result<_, TransportError>| match r {
        Err(TransportError::Denied(Refusal::RegistrationRequired)) => {}
        Err(e) => panic!("not a registration refusal: {e}"),
        Ok(_) => panic!("a vault registered without a valid token"),
    };
    let (v1, v2) = (VaultId::random(), VaultId::random());
    refused(register(&v1, None));
    refused(register(&v1, Some("mrt_made_up")));
    assert!(!block_on(relay.store.vault_exists(*v1.as_bytes())).unwrap());

    let token = mend_relay::new_token();
    block_on(relay.store.issue_token(mend_relay::token_hash(&token), 0)).unwrap();
    let (t, device, key) = register(&v1, Some(&token)).unwrap();
    t.enroll(&v1, &device, &key.public()).unwrap(); // a retry after a lost answer
    refused(register(&v2, Some(&token)));
    assert!(!block_on(relay.store.vault_exists(*v2.as_bytes())).unwrap());

    // A whole vault: registered with a token before its first sync, then it syncs as usual.
    let token = mend_relay::new_token();
    block_on(relay.store.issue_token(mend_relay::token_hash(&token), 0)).unwrap();
    let phone =
        Vault::create(&dir.path().join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    phone.create_client(&bare_client("C-2100", "US-CA")).unwrap();
    let plain = HttpTransport::new(&relay.url);
    assert!(phone.sync(&plain, &SyncOptions::default()).is_err(), "no token: not registered");
    phone
        .register_at_relay(&HttpTransport::new(&relay.url).with_registration_token(&token))
        .unwrap();
    let report = phone.sync(&plain, &SyncOptions::default()).unwrap();
    assert!(report.pushed > 0);
}

/// An operator restores last night's backup, from before a practice spent its registration
/// token. Without the erasure log the token is unspent again and whoever holds it (the token
/// leaked with a screenshot of the setup email) registers a vault of their own; with the log
/// re-applied it is refused, while the practice's own vault registers again with it.
#[test]
fn a_restored_backup_does_not_make_a_spent_registration_token_usable_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("relay.db"), dir.path().join("erasures.log"));
    let open_store = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&db).unwrap()) };
    let start = |store: Arc<dyn Store>| {
        let log = mend_relay::erasure_log::ErasureLog::open(&log).unwrap();
        let relay = Relay::with_erasure_log(Arc::clone(&store), Limits::default(), Some(log));
        serve_relay(relay, store)
    };
    let register = |url: &str, vault: &VaultId, token: &str| {
        let (device, key) = (DeviceId::random(), DeviceKey::generate());
        let t = HttpTransport::new(url).with_registration_token(token);
        t.bind_identity(device, &key);
        t.enroll(vault, &device, &key.public())
    };
    let store = open_store();
    let relay = start(Arc::clone(&store));
    let token = mend_relay::new_token();
    block_on(store.issue_token(mend_relay::token_hash(&token), 0)).unwrap();
    let backup = dir.path().join("backup.db");
    block_on(SqliteStore::open(&db).unwrap().backup_to(&backup)).unwrap();

    let (practice, thief) = (VaultId::random(), VaultId::random());
    register(&relay.url, &practice, &token).unwrap();
    drop(relay);
    drop(store);
    let line = std::fs::read_to_string(&log).unwrap();
    let spend = format!("spend {} ", hex::encode(practice.as_bytes()));
    assert!(line.starts_with(&spend) && !line.contains(&token[4..]), "{line}");

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&backup, &db).unwrap();
    let store = open_store();
    block_on(mend_relay::erasure_log::ErasureLog::reapply(&log, store.as_ref())).unwrap();
    let relay = start(Arc::clone(&store));
    match register(&relay.url, &thief, &token) {
        Err(TransportError::Denied(Refusal::RegistrationRequired)) => {}
        other => panic!("the spent token registered another vault: {other:?}"),
    }
    assert!(!block_on(store.vault_exists(*thief.as_bytes())).unwrap());
    register(&relay.url, &practice, &token).unwrap();
    assert!(block_on(store.vault_exists(*practice.as_bytes())).unwrap());
}

/// A device enrolled and revoked after the backup the relay was restored from is put back as
/// revoked: neither it nor a member device enrolling it again gets it back in.
#[test]
fn a_restored_backup_does_not_let_a_device_revoked_after_it_back_in() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("relay.db"), dir.path().join("erasures.log"));
    let open_store = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&db).unwrap()) };
    let start = |store: Arc<dyn Store>| {
        let log = mend_relay::erasure_log::ErasureLog::open(&log).unwrap();
        serve_relay(Relay::with_erasure_log(Arc::clone(&store), open(), Some(log)), store)
    };
    let store = open_store();
    let relay = start(Arc::clone(&store));
    let (vault, phone, phone_key) = enrolled(&relay.url);
    let backup = dir.path().join("backup.db");
    block_on(SqliteStore::open(&db).unwrap().backup_to(&backup)).unwrap();
    // After the backup: the phone enrolls a tablet, which is then lost and revoked.
    let (tablet, tablet_key) = (DeviceId::random(), DeviceKey::generate());
    let enroll = format!("/v1/vaults/{vault}/devices");
    let body = wire::encode_device(&tablet, &tablet_key.public());
    let as_phone = || Some((&phone, &phone_key, &vault, now()));
    assert_eq!(raw(&relay.url, "POST", &enroll, &body, as_phone()).0, 204);
    let revoke = format!("/v1/vaults/{vault}/devices/{tablet}");
    assert_eq!(raw(&relay.url, "DELETE", &revoke, b"", as_phone()).0, 204);
    drop(relay);
    drop(store);

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&backup, &db).unwrap();
    let store = open_store();
    block_on(mend_relay::erasure_log::ErasureLog::reapply(&log, store.as_ref())).unwrap();
    let relay = start(Arc::clone(&store));
    let pull = format!("/v1/vaults/{vault}/bundles?since=0");
    let (status, msg) = raw(&relay.url, "POST", &enroll, &body, as_phone());
    assert_eq!(status, 409, "a member device enrolled the revoked tablet again: {msg}");
    let as_tablet = Some((&tablet, &tablet_key, &vault, now()));
    let (status, msg) = raw(&relay.url, "GET", &pull, b"", as_tablet);
    assert_eq!(status, 403, "the revoked tablet is told so: {msg}");
    assert!(msg.contains("\"error\":\"revoked\""), "{msg}");
    let row = block_on(store.device(*vault.as_bytes(), *tablet.as_bytes())).unwrap().unwrap();
    assert!(row.revoked);
    // The phone itself syncs as before.
    assert_eq!(raw(&relay.url, "GET", &pull, b"", as_phone()).0, 200);
}

/// A member device that drops made-up keys, or sends the same drops again and again, cannot
/// grow the erasure log or the store's tombstones without end: drops already made are not
/// logged again, and past the vault's tombstone cap new ones are refused (403
/// `tombstone_limit`) with nothing logged. The same keys dropped again are still answered.
#[test]
fn drops_of_made_up_or_repeated_keys_cannot_grow_the_erasure_log_without_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("erasures.log");
    let store = sqlite(&dir);
    let limits = Limits { max_tombstones: 50, ..open() };
    let erasures = mend_relay::erasure_log::ErasureLog::open(&log).unwrap();
    let relay =
        serve_relay(Relay::with_erasure_log(Arc::clone(&store), limits, Some(erasures)), store);
    let u = &relay.url;
    let (vault, device, key) = enrolled(u);
    let path = format!("/v1/vaults/{vault}/drops");
    let drop = |keys: &[KeyId]| {
        raw(u, "POST", &path, &wire::encode_key_ids(keys), Some((&device, &key, &vault, now())))
    };
    let lines = || std::fs::read_to_string(&log).unwrap().lines().count();
    let forty: Vec<KeyId> = (0..40).map(|_| KeyId::random()).collect();
    assert_eq!(drop(&forty).0, 200);
    assert_eq!(lines(), 40);
    // The same forty again, and again with a duplicate inside one request: nothing logged.
    for _ in 0..5 {
        assert_eq!(drop(&forty).0, 200);
    }
    let doubled = [forty[0], forty[0], forty[1]];
    assert_eq!(drop(&doubled).0, 200);
    assert_eq!(lines(), 40, "repeated drops were logged again");
    // Made-up keys past the cap of 50: refused whole, nothing logged.
    let twenty: Vec<KeyId> = (0..20).map(|_| KeyId::random()).collect();
    let (status, msg) = drop(&twenty);
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("\"error\":\"tombstone_limit\""), "{msg}");
    assert_eq!(lines(), 40);
    // Up to the cap they are taken; the keys dropped before still answer.
    assert_eq!(drop(&twenty[..10]).0, 200);
    assert_eq!(lines(), 50);
    assert_eq!(drop(&twenty[10..11]).0, 403);
    assert_eq!(drop(&forty).0, 200, "drops made before still answer at the cap");
    assert_eq!(lines(), 50);
    // Nor with revocations of made-up devices: answered as done, neither logged nor stored.
    let stranger = DeviceId::random();
    let made_up = format!("/v1/vaults/{vault}/devices/{stranger}");
    assert_eq!(raw(u, "DELETE", &made_up, b"", Some((&device, &key, &vault, now()))).0, 204);
    assert!(block_on(relay.store.device(*vault.as_bytes(), *stranger.as_bytes()))
        .unwrap()
        .is_none());
    assert_eq!(lines(), 50);
}

/// A vault whose relay takes no more erasures (its tombstone cap) still syncs everything else:
/// the drop stays queued, the sync pushes and pulls and then fails with the typed refusal, and
/// once the operator raises the cap the next sync sends the drop.
#[test]
fn a_vault_at_its_tombstone_cap_still_syncs_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir);
    let capped = serve(Arc::clone(&store), Limits { max_tombstones: 0, ..open() });
    let t = HttpTransport::new(&capped.url);
    let phone =
        Vault::create(&dir.path().join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    let gone = phone.create_client(&bare_client("C-2300", "US-CA")).unwrap();
    let kept = phone.create_client(&bare_client("C-2301", "US-CA")).unwrap();
    phone.sync(&t, &SyncOptions::default()).unwrap();
    let tablet = join(&phone, &t, &dir, "tablet");
    phone.erase_client(gone).unwrap();
    let session = phone.create_session(&bare_session(kept, 1)).unwrap();
    assert_eq!(
        phone.sync(&t, &SyncOptions::default()),
        Err(Error::RelayRefused(Refusal::TombstoneLimit))
    );
    tablet.sync(&t, &SyncOptions::default()).unwrap();
    assert_eq!(tablet.session(session).unwrap().client_id, kept, "the session still synced");
    assert_eq!(tablet.client(gone).unwrap_err(), Error::Erased(gone), "so did the erasure");
    // The operator raises the cap: the queued drop goes through at the next sync.
    drop(capped);
    let relay = serve(store, open());
    let t = HttpTransport::new(&relay.url);
    let r = phone.sync(&t, &SyncOptions::default()).unwrap();
    assert!(r.dropped_keys >= 1, "{r:?}");
}

/// One vault cannot fill the relay's disk or enroll devices without end: past its quota a push
/// is refused with `quota_exceeded` (and the relay holds no more than the quota), past its
/// device cap an enrollment with `device_limit`; a revoked device keeps its place.
#[test]
fn a_vault_has_a_storage_quota_and_a_device_cap() {
    let dir = tempfile::tempdir().unwrap();
    let quota = 6_000;
    let limits = Limits { vault_quota: quota, max_devices: 2, ..open() };
    let relay = serve(sqlite(&dir), limits);
    let u = &relay.url;

    let phone =
        Vault::create(&dir.path().join("phone"), VaultSecret::key(PHONE_KEY), opts()).unwrap();
    let c = phone.create_client(&bare_client("C-2200", "US-CA")).unwrap();
    let t = HttpTransport::new(u);
    let mut refused = None;
    for i in 0..40 {
        let s = phone.create_session(&bare_session(c, i)).unwrap();
        phone
            .create_note(&NewNote {
                session_id: s,
                author_id: "t".into(),
                format: NoteFormat::Soap,
                sections: vec![("subjective".into(), "words ".repeat(100))],
                created_at: i,
            })
            .unwrap();
        if let Err(e) = phone.sync(&t, &SyncOptions::default()) {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("forty notes fit in a 6 kB quota");
    assert_eq!(refused, Error::RelayRefused(Refusal::QuotaExceeded), "a typed refusal");
    let vault = *phone.id().as_bytes();
    let held = mend_testkit::block_on(relay.store.usage(vault)).unwrap().bytes;
    assert!(held > 0 && held <= quota, "the relay holds {held} bytes of a {quota} byte quota");
    // A vault at its quota can still erase: the drop reaches the relay before the push that
    // the quota refuses, frees the client's bytes, and the sync then goes through.
    phone.erase_client(c).unwrap();
    let r = phone.sync(&t, &SyncOptions::default()).expect("an erasure syncs at the quota");
    assert!(r.dropped_keys >= 1);
    let after = mend_testkit::block_on(relay.store.usage(vault)).unwrap().bytes;
    assert!(after < held / 2, "the erased client's {held} bytes went down only to {after}");

    // The device cap: a vault's first device is one; one more enrolls, a third does not.
    let (vault, me, key) = enrolled(u);
    let enroll = format!("/v1/vaults/{vault}/devices");
    let (b, c) = ((DeviceId::random(), [0xB; 32]), (DeviceId::random(), [0xC; 32]));
    let ask = |d: &(DeviceId, [u8; 32])| {
        let body = wire::encode_device(&d.0, &d.1);
        raw(u, "POST", &enroll, &body, Some((&me, &key, &vault, now())))
    };
    assert_eq!(ask(&b).0, 204);
    let (status, msg) = ask(&c);
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("\"error\":\"device_limit\""), "{msg}");
    assert_eq!(ask(&b).0, 204, "enrolling a device again takes no new place");
    let revoke = format!("/v1/vaults/{vault}/devices/{}", b.0);
    assert_eq!(raw(u, "DELETE", &revoke, b"", Some((&me, &key, &vault, now()))).0, 204);
    assert_eq!(ask(&c).0, 403, "a revoked device keeps its place");
}
