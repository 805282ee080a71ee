//! `relay`: bytes as an HTTP request to `mend-relay` (its router, on a SQLite store in memory-backed
//! storage), signed by the harness as an enrolled device would sign it, so the fuzzer reaches the
//! routing, the query and path extractors, the body decoders and the store behind
//! authentication. Input: `route u8 | flags u8 | tail \n | body`; see [`request`]. The relay must
//! never answer 5xx and every page it serves must decode.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use mend_core::sync::wire;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{Limits, Relay};
use tower::ServiceExt as _;

use super::{device_key, SIGNER, VAULT};
use mend_core::ids::VaultId;

/// A vault the relay does not know (the harness still signs for it).
pub const OTHER_VAULT: VaultId = VaultId::from_bytes([0x99; 16]);

struct State {
    router: Router,
    store: Arc<dyn Store>,
    generation: u32,
    /// Inputs run on this store.
    runs: u32,
}

/// Inputs run on one store before it is replaced by a fresh one: a store that keeps every
/// bundle ever pushed grows without end and slows each execution down (it fell from about
/// 5,000 to 700 a second over 40 minutes at 17 MB).
const RUNS_PER_STORE: u32 = 4096;

fn store_path(generation: u32) -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("mend-fuzz-relay-{}-{generation}.db", std::process::id()))
}

fn remove_store(generation: u32) {
    let path = store_path(generation);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    })
}

fn fresh(generation: u32) -> State {
    if let Some(previous) = generation.checked_sub(1) {
        remove_store(previous);
    }
    remove_store(generation);
    let path = store_path(generation);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("store"));
    runtime().block_on(async {
        store.migrate().await.expect("migrate");
        store
            .register_vault(*VAULT.as_bytes(), *SIGNER.as_bytes(), device_key().public(), None)
            .await
            .expect("register");
    });
    let limits = Limits {
        rate_burst: 1e15,
        rate_per_sec: 1e15,
        address_burst: 1e15,
        address_per_sec: 1e15,
        max_skew: Duration::from_secs(300),
        ..Limits::default()
    };
    let router = mend_relay::router(Relay::new(Arc::clone(&store), limits));
    State { router, store, generation, runs: 0 }
}

fn state() -> &'static Mutex<State> {
    static S: OnceLock<Mutex<State>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(fresh(0)))
}

/// The request an input stands for, or `None` if it is not a well-formed HTTP request.
///
/// - route (first byte, mod 9): 0 enroll `POST devices`, 1 revoke `DELETE devices/{tail}`,
///   2 push `POST bundles`, 3 pull `GET bundles?{tail}`, 4 snapshot `PUT snapshots/{tail}`,
///   5 drops `POST drops`, 6 claim `POST invites/{tail}/claim`, 7 `GET /health`, 8 any path
///   (`tail`), the method from flags bits 4–5; the tail is appended to the other routes' paths.
/// - flags: bit 0 no authentication headers, bit 1 a vault the relay does not know, bit 2 a time
///   ten minutes off, bit 3 a signature with one bit flipped.
pub fn request(data: &[u8]) -> Option<Request<Body>> {
    let [route, flags, rest @ ..] = data else { return None };
    let cut = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let tail = std::str::from_utf8(&rest[..cut]).ok()?;
    let body = rest.get(cut + 1..).unwrap_or_default().to_vec();
    let vault = if flags & 2 != 0 { OTHER_VAULT } else { VAULT };
    let base = format!("/v1/vaults/{vault}");
    let (method, path) = match route % 9 {
        0 => ("POST", format!("{base}/devices{tail}")),
        1 => ("DELETE", format!("{base}/devices/{tail}")),
        2 => ("POST", format!("{base}/bundles{tail}")),
        3 => ("GET", format!("{base}/bundles?{tail}")),
        4 => ("PUT", format!("{base}/snapshots/{tail}")),
        5 => ("POST", format!("{base}/drops{tail}")),
        6 => ("POST", format!("{base}/invites/{tail}/claim")),
        7 => ("GET", format!("/health{tail}")),
        _ => (["GET", "POST", "PUT", "DELETE"][(flags >> 4 & 3) as usize], tail.to_string()),
    };
    let mut req = Request::builder().method(method).uri(&path);
    if flags & 1 == 0 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let time = if flags & 4 != 0 { now - 600_000 } else { now };
        // Signed over the path as the relay sees it (what the URI parser kept).
        let uri: axum::http::Uri = path.parse().ok()?;
        let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let msg = wire::request_message(method, pq, &body, time, &SIGNER, &vault);
        let mut sig = device_key().sign(&msg);
        if flags & 8 != 0 {
            sig[0] ^= 1;
        }
        req = req
            .header(wire::HEADER_DEVICE, SIGNER.to_string())
            .header(wire::HEADER_TIME, time.to_string())
            .header(wire::HEADER_SIGNATURE, hex_encode(&sig));
    }
    req.body(Body::from(body)).ok()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs one request through the relay.
pub fn relay(data: &[u8]) {
    let Some(req) = request(data) else { return };
    let is_pull = req.method() == "GET" && req.uri().path().ends_with("/bundles");
    let mut st = state().lock().unwrap_or_else(|p| p.into_inner());
    let (status, body) = runtime().block_on(async {
        let resp = st.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        (status, body)
    });
    assert!(
        !status.is_server_error(),
        "relay answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if is_pull && status == StatusCode::OK {
        wire::decode_page(&body, usize::MAX).expect("a page the relay serves decodes");
    }
    // A request that revoked the harness's own device would end the campaign's reach, and a
    // store that only grows slows every run: start again on a new store.
    st.runs += 1;
    let revoked = runtime().block_on(async {
        st.store
            .device(*VAULT.as_bytes(), *SIGNER.as_bytes())
            .await
            .ok()
            .flatten()
            .is_none_or(|d| d.revoked)
    });
    if revoked || st.runs >= RUNS_PER_STORE {
        let g = st.generation + 1;
        *st = fresh(g);
    }
}
