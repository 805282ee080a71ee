//! # mend-relay
//!
//! The zero-knowledge sync server for Mend. Devices push encrypted, signed bundles and pull what
//! other devices pushed; the relay stores opaque bytes keyed by random ids and can read none of
//! them. It never sees content, client identity or record kinds.
//!
//! Every request except `GET /health` is authenticated by an Ed25519 signature of the device over
//! method, path and query, body hash, time, device and vault (see `mend_core::sync::wire`); stale
//! timestamps and replayed signatures are refused; the relay stores public keys only. Bodies are
//! size-limited, pushes are capped in bundles, and each device is rate-limited. Bad input gets a
//! 4xx with a JSON error body and can never panic the server.

pub mod config;
pub mod erasure_log;
pub mod metrics;
mod serve;
pub mod store;
pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, MatchedPath, OriginalUri, Path, Query, Request, State,
};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use mend_core::ids::{DeviceId, VaultId};
use mend_core::sync::bundle::{Bundle, BundleKind};
use mend_core::sync::transport::{Page, PageItem};
use mend_core::sync::wire;
use serde::Deserialize;

use erasure_log::{Entry, ErasureLog};
use metrics::{Metered, Metrics};
pub use serve::{serve, serve_metrics, serve_tls};
use store::{Id, NewBundle, Store, StoreError, NO_LABEL, SCHEMA_VERSION};

/// Limits on what a request may ask of the relay.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Most bundles in one push.
    pub max_bundles: usize,
    /// Most bundles in one pulled page.
    pub max_page: u32,
    /// Most bundle bytes in one pulled page (the first bundle always comes).
    pub max_page_bytes: usize,
    /// Requests a device may burst. A device's bucket is charged only for requests whose
    /// signature it made, so forged requests in its name cannot exhaust it.
    pub rate_burst: f64,
    /// Requests per second a device may sustain.
    pub rate_per_sec: f64,
    /// Requests one network address may burst, signed or not: the coarse bucket in front of
    /// everything else (a clinic's devices behind one NAT share it, so it is generous).
    pub address_burst: f64,
    /// Requests per second one network address may sustain (infinite: no per-address limit).
    pub address_per_sec: f64,
    /// Most rate-limit buckets kept per kind (devices, addresses); the least recently used
    /// is evicted when a new one is needed.
    pub max_buckets: usize,
    /// How far a request's time may be from the relay's clock.
    pub max_skew: Duration,
    /// Most client connections served at once ([`serve`]).
    pub connection_limit: usize,
    /// How long a connection may take to send a request head ([`serve`]).
    pub header_timeout: Duration,
    /// How long a request body may take to arrive in full.
    pub body_timeout: Duration,
    /// Whether anyone may register a vault (a solo therapist's own relay). Otherwise a new
    /// vault's first device must present a registration token the operator issued
    /// (`mend-relay issue-token`), each good for one vault.
    pub open_registration: bool,
    /// Most bytes of bundles and snapshots one vault may hold. Checked before each push against
    /// what the vault holds plus the request, so concurrent pushes may overshoot it by at most
    /// their bodies.
    pub vault_quota: u64,
    /// Most devices one vault may enroll (revoked ones keep their place).
    pub max_devices: u64,
    /// Most erased keys one vault may have dropped. Each drop is a tombstone in the store and a
    /// line in the erasure log, which no storage quota counts: this bounds what a device can
    /// make them grow by dropping made-up keys.
    pub max_tombstones: u64,
}

impl Limits {
    /// The limits of one of `instances` relay instances behind one load balancer: each enforces
    /// its share of every rate (devices and addresses, burst and refill), so a device whose
    /// requests are spread over all of them gets no more in total than one relay would give it.
    /// (One that reaches only some of them gets less: the limits hold as upper bounds.)
    pub fn shared_by(mut self, instances: u32) -> Limits {
        let n = f64::from(instances.max(1));
        // A bucket holds at least one request, or nothing would ever pass.
        self.rate_burst = (self.rate_burst / n).max(1.0);
        self.rate_per_sec /= n;
        self.address_burst = (self.address_burst / n).max(1.0);
        self.address_per_sec /= n;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            max_bundles: wire::MAX_BUNDLES_PER_REQUEST,
            max_page: 1000,
            max_page_bytes: wire::MAX_PAGE_BYTES,
            rate_burst: 300.0,
            rate_per_sec: 100.0,
            address_burst: 3000.0,
            address_per_sec: 1000.0,
            max_buckets: 100_000,
            max_skew: Duration::from_secs(300),
            connection_limit: 1024,
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(120),
            open_registration: false,
            vault_quota: 4 << 30,
            max_devices: 100,
            max_tombstones: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key, at most `cap` of them, the least recently used evicted first.
struct Buckets<K> {
    map: HashMap<K, (Bucket, u64)>,
    order: BTreeMap<u64, K>,
    tick: u64,
    cap: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(cap: usize) -> Self {
        Buckets { map: HashMap::new(), order: BTreeMap::new(), tick: 0, cap: cap.max(1) }
    }

    /// Takes one token from `key`'s bucket (a new bucket starts full at `burst`); whether
    /// there was one.
    fn take(&mut self, key: K, burst: f64, per_sec: f64, now: Instant) -> bool {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, used)) = self.map.get(&key) {
            self.order.remove(used);
        } else if self.map.len() >= self.cap {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.map.remove(&oldest);
            }
        }
        self.order.insert(tick, key.clone());
        let (b, used) = self.map.entry(key).or_insert((Bucket { tokens: burst, at: now }, tick));
        *used = tick;
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Shared state of a relay instance. Instances are stateless apart from their rate-limit
/// buckets, so several can run behind a load balancer on one database.
pub struct Relay {
    store: Arc<dyn Store>,
    limits: Limits,
    devices: Mutex<Buckets<(Id, Id)>>,
    addresses: Mutex<Buckets<IpAddr>>,
    metrics: Arc<Metrics>,
    erasure_log: Option<Arc<ErasureLog>>,
    /// The last readiness check and when it was made ([`READY_CACHE`]).
    readiness: tokio::sync::Mutex<Option<(Instant, Readiness)>>,
}

/// How long one readiness check answers `/ready`: probes (and anyone else who can reach the
/// port) cost the store at most one schema query per interval, however often they ask.
pub const READY_CACHE: Duration = Duration::from_millis(500);

/// What a readiness check found.
#[derive(Clone, Copy)]
enum Readiness {
    Schema(u32),
    Unavailable,
}

impl Relay {
    /// A relay over a store.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Arc<Self> {
        Self::with_erasure_log(store, limits, None)
    }

    /// A relay over a store that writes every drop to `erasure_log` before the store deletes
    /// anything ([`erasure_log`]).
    pub fn with_erasure_log(
        store: Arc<dyn Store>,
        limits: Limits,
        erasure_log: Option<ErasureLog>,
    ) -> Arc<Self> {
        let metrics = Arc::new(Metrics::new());
        Arc::new(Relay {
            store: Arc::new(Metered { inner: store, metrics: Arc::clone(&metrics) }),
            limits,
            devices: Mutex::new(Buckets::new(limits.max_buckets)),
            addresses: Mutex::new(Buckets::new(limits.max_buckets)),
            metrics,
            erasure_log: erasure_log.map(Arc::new),
            readiness: tokio::sync::Mutex::new(None),
        })
    }

    /// What the relay has counted, in the Prometheus text format ([`metrics`]).
    pub fn metrics_text(&self) -> String {
        self.metrics.encode(self.store.pool())
    }

    fn allow_device(&self, vault: Id, device: Id) -> bool {
        let mut b = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        b.take((vault, device), self.limits.rate_burst, self.limits.rate_per_sec, Instant::now())
    }

    fn allow_address(&self, ip: IpAddr) -> bool {
        if self.limits.address_per_sec.is_infinite() {
            return true; // turned off (`--address-rate 0`)
        }
        let mut b = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        b.take(ip, self.limits.address_burst, self.limits.address_per_sec, Instant::now())
    }
}

/// The HTTP API. Every refusal, whatever refuses it (a handler, a route that does not exist, a
/// method a route lacks, a limit), answers with the one JSON error shape
/// `{"error": CODE, "message": TEXT}`.
pub fn router(relay: Arc<Relay>) -> Router {
    let limits = relay.limits;
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/v1/vaults/{vault}/devices", post(enroll))
        .route("/v1/vaults/{vault}/devices/{device}", delete(revoke))
        .route("/v1/vaults/{vault}/bundles", post(push).get(pull))
        .route("/v1/vaults/{vault}/snapshots/{doc}", put(snapshot))
        .route("/v1/vaults/{vault}/drops", post(drops))
        .route("/v1/vaults/{vault}/invites/{invite}/claim", post(claim))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(middleware::from_fn_with_state(Arc::clone(&relay), read_body))
        .layer(middleware::from_fn_with_state(limits.max_body, refuse_oversized))
        .layer(middleware::from_fn_with_state(Arc::clone(&relay), limit_address))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(Arc::clone(&relay), observe))
        .with_state(relay)
}

/// The Prometheus endpoint, `GET /metrics`, for a listener of its own (`--metrics-listen`):
/// what it tells (request rates, refusals, storage latency) is for the operator, not for
/// whoever can reach the API.
pub fn metrics_router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(relay): State<Arc<Relay>>| async move {
                ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], relay.metrics_text())
            }),
        )
        .with_state(relay)
}

/// Counts every answer: by route template, method and status, its time, its body's bytes,
/// and for a refusal its error code.
async fn observe(State(relay): State<Arc<Relay>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let res = next.run(req).await;
    let m = &relay.metrics;
    m.request(&route, method.as_str(), res.status().as_u16(), start.elapsed().as_secs_f64());
    if let Some(Refusal(code)) = res.extensions().get::<Refusal>() {
        m.refusal(code);
    }
    if let Some(n) = axum::body::HttpBody::size_hint(res.body()).exact() {
        m.sent(n);
    }
    res
}

/// The error code of a refusal, attached to its response for [`observe`].
#[derive(Debug, Clone, Copy)]
struct Refusal(&'static str);

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "not_found", "no such endpoint".into())
}

/// Charges the request's network address before anything else runs. Requests that come
/// without a peer address (the router called in-process) share one bucket.
async fn limit_address(State(relay): State<Arc<Relay>>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !relay.allow_address(ip) {
        return ApiError(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down".into())
            .into_response();
    }
    next.run(req).await
}

/// Gives every error answer that is not already in the JSON error shape (axum's own
/// rejections: an unknown method, a malformed path) that shape, keyed by its status.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return res;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "server_error",
        _ => "refused",
    };
    let message = status.canonical_reason().unwrap_or("refused");
    let mut answer = ApiError(status, code, message.into()).into_response();
    if let Some(allow) = res.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// Reads the request body in full before any handler runs: within [`Limits::body_timeout`]
/// (else 408 and the connection closes) and up to [`Limits::max_body`] bytes however it is
/// framed (a chunked body over the limit gets the same JSON 413 as a declared one; the rest of
/// it is read and discarded first, as [`refuse_oversized`] does).
async fn read_body(State(relay): State<Arc<Relay>>, req: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    let limits = relay.limits;
    let (parts, mut body) = req.into_parts();
    let mut bytes = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return Err(false) };
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limits.max_body {
                    return Err(true);
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(())) => {
            relay.metrics.received(bytes.len());
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Ok(Err(true)) => {
            let drain = limits.max_body.saturating_mul(DRAIN_FACTOR as usize);
            let _ = tokio::time::timeout(DRAIN_TIME, discard_up_to(body, drain)).await;
            too_large(limits.max_body)
        }
        Ok(Err(false)) => ApiError::bad("the request body could not be read").into_response(),
        Err(_) => {
            let mut r = ApiError(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the body did not arrive within {} s", limits.body_timeout.as_secs()),
            )
            .into_response();
            r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            r
        }
    }
}

fn too_large(max_body: usize) -> Response {
    ApiError(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("body over {max_body} bytes"))
        .into_response()
}

/// How many times the body limit the relay reads and discards to answer an oversized request
/// cleanly; a larger declared body gets the answer on a connection closed mid-upload.
const DRAIN_FACTOR: u64 = 4;
/// How long the relay spends discarding an oversized body before it stops reading.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Answers a request whose declared length is over the limit with 413 before any handler runs.
/// The body is read and discarded first (up to [`DRAIN_FACTOR`] times the limit, within
/// [`DRAIN_TIME`]): a server that answers and closes with unread bytes makes the kernel reset the
/// connection, and a client still uploading then sees a broken connection instead of the 413 — a
/// device would take a refusal for a network failure and retry forever.
async fn refuse_oversized(State(max_body): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(len) = declared.filter(|&len| len > max_body as u64) else {
        return next.run(req).await;
    };
    if len <= (max_body as u64).saturating_mul(DRAIN_FACTOR) {
        let _ = tokio::time::timeout(DRAIN_TIME, discard_up_to(req.into_body(), usize::MAX)).await;
    }
    too_large(max_body)
}

/// Reads a body to its end (or its first error, or past `limit` bytes), keeping nothing.
async fn discard_up_to(mut body: Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
        if seen > limit {
            break;
        }
    }
}

/// An API error: a status and a short message with no stored content.
#[derive(Debug)]
pub struct ApiError(StatusCode, &'static str, String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, "bad_request", msg.into())
    }
    fn unauthorized(msg: &str) -> Self {
        ApiError(StatusCode::UNAUTHORIZED, "unauthorized", msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(serde_json::json!({ "error": self.1, "message": self.2 })))
            .into_response();
        r.extensions_mut().insert(Refusal(self.1));
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m.into()),
            StoreError::BadToken => registration_refused(),
            StoreError::Backend(m) => {
                tracing::error!(error = %m, "storage failed");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, "storage", "storage unavailable".into())
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn parse_id(s: &str, what: &str) -> ApiResult<Id> {
    uuid::Uuid::parse_str(s)
        .map(|u| *u.as_bytes())
        .map_err(|_| ApiError::bad(format!("{what} is not a UUID")))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Authed {
    device: Id,
}

/// The answer to a request naming a vault or device the relay does not know: the same for an
/// unknown vault and for an unknown device of a known vault, so a caller without a device
/// learns nothing about which vaults exist.
fn unknown() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "unknown", "unknown vault or device".into())
}

/// Checks the request signature, freshness, replay and rate limit, in that order of cost to
/// an attacker: nothing is charged to a device's rate limit until its signature verifies.
/// `self_enroll` lets a device register a vault the relay does not know by enrolling itself.
async fn authenticate(
    relay: &Relay,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &[u8],
    vault: Id,
    self_enroll: Option<(Id, [u8; 32])>,
) -> ApiResult<Authed> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(device), Some(time), Some(sig)) =
        (header(wire::HEADER_DEVICE), header(wire::HEADER_TIME), header(wire::HEADER_SIGNATURE))
    else {
        return Err(ApiError::unauthorized("missing authentication headers"));
    };
    let device = parse_id(device, "device")?;
    let time: i64 = time.parse().map_err(|_| ApiError::unauthorized("malformed time"))?;
    let sig: [u8; 64] = hex::decode(sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::unauthorized("malformed signature"))?;
    let now = now_ms();
    // In i128: any two i64 times differ by less than 2^64, so this cannot overflow.
    let skew = (i128::from(now) - i128::from(time)).unsigned_abs();
    if skew > relay.limits.max_skew.as_millis() {
        return Err(ApiError::unauthorized("stale request; check the device clock"));
    }
    let (public, revoked) = match relay.store.device(vault, device).await? {
        // A device put back only to stay revoked (enrolled after the backup the store was
        // restored from) has no key to check a signature with; it is told it is revoked.
        Some(d) if d.revoked && d.public == erasure_log::NO_KEY => {
            return Err(ApiError(StatusCode::FORBIDDEN, "revoked", "device revoked".into()));
        }
        Some(d) => (d.public, d.revoked),
        None => match self_enroll {
            Some((d, p)) if d == device && !relay.store.vault_exists(vault).await? => (p, false),
            _ => return Err(unknown()),
        },
    };
    let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let msg = wire::request_message(
        method.as_str(),
        path,
        body,
        time,
        &DeviceId::from_bytes(device),
        &VaultId::from_bytes(vault),
    );
    mend_core::crypto::signing::verify(&public, &msg, &sig)
        .map_err(|_| ApiError::unauthorized("bad signature"))?;
    if revoked {
        return Err(ApiError(StatusCode::FORBIDDEN, "revoked", "device revoked".into()));
    }
    if !relay.allow_device(vault, device) {
        return Err(ApiError(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down".into()));
    }
    let forget = now.saturating_sub(
        i64::try_from(relay.limits.max_skew.as_millis()).unwrap_or(i64::MAX).saturating_mul(2),
    );
    if !relay.store.remember_request(vault, device, sig, time, forget).await? {
        return Err(ApiError(StatusCode::CONFLICT, "replayed", "replayed request".into()));
    }
    Ok(Authed { device })
}

/// A new vault without a valid registration token.
fn registration_refused() -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        "registration_required",
        "registering a vault needs a registration token from the relay's operator".into(),
    )
}

/// The SHA-256 of a registration token, as the store keeps it.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.trim().as_bytes()).into()
}

/// A new registration token: 32 random bytes, hex. The operator hands it to one practice.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!("mrt_{}", hex::encode(bytes))
}

async fn health() -> &'static str {
    "ok"
}

/// Ready when the store answers and is at this relay's schema version (a readiness probe:
/// the load balancer sends requests only to instances that are). One check answers for
/// [`READY_CACHE`]; callers arriving while it runs wait for it instead of querying too.
async fn ready(State(relay): State<Arc<Relay>>) -> Response {
    let found = {
        let mut last = relay.readiness.lock().await;
        match *last {
            Some((at, found)) if at.elapsed() < READY_CACHE => found,
            _ => {
                let found = match relay.store.schema_version().await {
                    Ok(v) => Readiness::Schema(v),
                    Err(e) => {
                        tracing::warn!(error = %e, "readiness check failed");
                        Readiness::Unavailable
                    }
                };
                *last = Some((Instant::now(), found));
                found
            }
        }
    };
    match found {
        Readiness::Schema(v) if v == SCHEMA_VERSION => {
            Json(serde_json::json!({ "status": "ready", "schema": v })).into_response()
        }
        Readiness::Schema(v) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the store is at schema {v}, this relay needs {SCHEMA_VERSION}"),
        )
        .into_response(),
        Readiness::Unavailable => {
            ApiError(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "storage unavailable".into())
                .into_response()
        }
    }
}

async fn enroll(
    State(relay): State<Arc<Relay>>,
    Path(vault): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let vault = parse_id(&vault, "vault")?;
    let (device, public) = wire::decode_device(&body).map_err(|e| ApiError::bad(e.to_string()))?;
    let device = *device.as_bytes();
    let auth =
        authenticate(&relay, &method, &uri, &headers, &body, vault, Some((device, public))).await?;
    if auth.device == device && !relay.store.vault_exists(vault).await? {
        let token = if relay.limits.open_registration {
            None
        } else {
            let t = headers.get(wire::HEADER_REGISTRATION).and_then(|v| v.to_str().ok());
            Some(token_hash(t.ok_or_else(registration_refused)?))
        };
        relay.store.register_vault(vault, device, public, token).await?;
        tracing::info!(vault = %hex::encode(vault), "vault registered");
        // Only now, with the token accepted ([`erasure_log`]).
        if let Some(token) = token {
            journal(&relay, vec![Entry::Spend { vault, token }]).await?;
        }
    } else {
        if relay.store.device(vault, device).await?.is_none()
            && relay.store.usage(vault).await?.devices >= relay.limits.max_devices
        {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "device_limit",
                format!("the vault has its most devices ({})", relay.limits.max_devices),
            ));
        }
        relay.store.enroll_device(vault, device, public).await?;
        tracing::info!(vault = %hex::encode(vault), "device enrolled");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(
    State(relay): State<Arc<Relay>>,
    Path((vault, device)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let vault = parse_id(&vault, "vault")?;
    let device = parse_id(&device, "device")?;
    authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    // Only a device the vault enrolled is logged and revoked: made-up ids would grow the
    // erasure log (and, after a restore, fill the vault's device places with revoked rows). An
    // id the vault does not have is answered as done, so a device's queued revocation of one
    // clears (nothing is there to revoke).
    if relay.store.device(vault, device).await?.is_none() {
        return Ok(StatusCode::NO_CONTENT);
    }
    journal(&relay, vec![Entry::Revoke { vault, device }]).await?;
    relay.store.revoke_device(vault, device).await?;
    tracing::info!(vault = %hex::encode(vault), "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Writes `entries` to the erasure log, if the relay keeps one, before the store changes: a
/// store restored from an older backup gets them again ([`erasure_log`]).
async fn journal(relay: &Relay, entries: Vec<Entry>) -> ApiResult<()> {
    let Some(log) = &relay.erasure_log else { return Ok(()) };
    log.record(entries).await.map_err(|e| {
        tracing::error!(error = %e, "erasure log write failed");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "storage", "storage unavailable".into())
    })
}

/// Refuses a request that would take the vault over its storage quota.
async fn check_quota(relay: &Relay, vault: Id, incoming: usize) -> ApiResult<()> {
    let held = relay.store.usage(vault).await?.bytes;
    if held.saturating_add(incoming as u64) > relay.limits.vault_quota {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "quota_exceeded",
            format!("the vault holds {held} bytes of its {} byte quota", relay.limits.vault_quota),
        ));
    }
    Ok(())
}

fn check_bundle(bytes: &[u8], vault: Id, device: Id) -> ApiResult<Bundle> {
    let b = Bundle::decode(bytes).map_err(|e| ApiError::bad(format!("bundle: {e}")))?;
    if *b.vault.as_bytes() != vault {
        return Err(ApiError::bad("bundle for another vault"));
    }
    if *b.device.as_bytes() != device {
        return Err(ApiError::bad("a device pushes only its own bundles"));
    }
    Ok(b)
}

fn stored(b: &Bundle, bytes: Vec<u8>) -> NewBundle {
    NewBundle {
        doc: *b.doc.as_bytes(),
        key_id: *b.key_id.as_bytes(),
        device: *b.device.as_bytes(),
        device_seq: b.seq.min(i64::MAX as u64) as i64,
        bytes,
    }
}

async fn push(
    State(relay): State<Arc<Relay>>,
    Path(vault): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let vault = parse_id(&vault, "vault")?;
    let auth = authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    let list = wire::decode_bundles(&body, relay.limits.max_bundles)
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let mut bundles = Vec::with_capacity(list.len());
    for bytes in list {
        let b = check_bundle(&bytes, vault, auth.device)?;
        if b.kind == BundleKind::Snapshot {
            return Err(ApiError::bad("snapshots go to the snapshot endpoint"));
        }
        bundles.push(stored(&b, bytes));
    }
    check_quota(&relay, vault, bundles.iter().map(|b| b.bytes.len()).sum()).await?;
    let n = bundles.len();
    let new = relay.store.push(vault, bundles).await?;
    relay.metrics.stored(new);
    tracing::debug!(vault = %hex::encode(vault), bundles = n, new, "push");
    Ok(Json(serde_json::json!({ "stored": new })))
}

#[derive(Deserialize)]
struct PullQuery {
    since: Option<i64>,
    limit: Option<u32>,
}

async fn pull(
    State(relay): State<Arc<Relay>>,
    Path(vault): Path<String>,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Vec<u8>> {
    let vault = parse_id(&vault, "vault")?;
    authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    let Ok(Query(q)) = query else { return Err(ApiError::bad("bad query")) };
    let since = q.since.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(200).clamp(1, relay.limits.max_page);
    let (items, remaining, head) =
        relay.store.pull(vault, since, limit, relay.limits.max_page_bytes).await?;
    relay.metrics.served(items.len() as u64);
    let page = Page {
        items: items
            .into_iter()
            .map(|(seq, bundle)| PageItem { seq: seq as u64, bundle })
            .collect(),
        remaining,
        head: head.max(0) as u64,
    };
    Ok(wire::encode_page(&page))
}

#[derive(Deserialize)]
struct SnapshotQuery {
    covers: i64,
}

async fn snapshot(
    State(relay): State<Arc<Relay>>,
    Path((vault, doc)): Path<(String, String)>,
    query: Result<Query<SnapshotQuery>, axum::extract::rejection::QueryRejection>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let vault = parse_id(&vault, "vault")?;
    let doc = parse_id(&doc, "record")?;
    let auth = authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    let Ok(Query(q)) = query else { return Err(ApiError::bad("covers is required")) };
    let b = check_bundle(&body, vault, auth.device)?;
    if b.kind != BundleKind::Snapshot || *b.doc.as_bytes() != doc {
        return Err(ApiError::bad("not a snapshot of this record"));
    }
    check_quota(&relay, vault, body.len()).await?;
    relay.store.put_snapshot(vault, q.covers, stored(&b, body.to_vec())).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn drops(
    State(relay): State<Arc<Relay>>,
    Path(vault): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let vault = parse_id(&vault, "vault")?;
    authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    let keys = wire::decode_key_ids(&body, 10_000).map_err(|e| ApiError::bad(e.to_string()))?;
    let mut keys: Vec<Id> = keys.iter().map(|k| *k.as_bytes()).filter(|k| *k != NO_LABEL).collect();
    keys.sort_unstable();
    keys.dedup();
    // Keys dropped before (a device sending its drops again) are neither logged nor counted
    // again; new ones must fit under the vault's tombstone cap.
    let (held, count) = relay.store.tombstoned(vault, keys.clone()).await?;
    let held: std::collections::HashSet<Id> = held.into_iter().collect();
    let fresh: Vec<Id> = keys.iter().copied().filter(|k| !held.contains(k)).collect();
    if fresh.is_empty() {
        // Nothing new: nothing logged or counted. Dropped again all the same, which costs
        // nothing when nothing is left under these keys.
        let n = relay.store.drop_keys(vault, keys).await?;
        return Ok(Json(serde_json::json!({ "dropped": n })));
    }
    if count.saturating_add(fresh.len() as u64) > relay.limits.max_tombstones {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "tombstone_limit",
            format!("the vault has dropped its most keys ({})", relay.limits.max_tombstones),
        ));
    }
    journal(&relay, fresh.iter().map(|&key| Entry::Drop { vault, key }).collect()).await?;
    let n = relay.store.drop_keys(vault, keys).await?;
    tracing::info!(vault = %hex::encode(vault), dropped = n, "erased keys dropped");
    Ok(Json(serde_json::json!({ "dropped": n })))
}

async fn claim(
    State(relay): State<Arc<Relay>>,
    Path((vault, invite)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let vault = parse_id(&vault, "vault")?;
    let invite = parse_id(&invite, "invite")?;
    authenticate(&relay, &method, &uri, &headers, &body, vault, None).await?;
    journal(&relay, vec![Entry::Claim { vault, invite }]).await?;
    if relay.store.claim_invite(vault, invite).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(StatusCode::GONE, "invite_used", "invite already claimed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_evict_the_least_recently_used_not_everything() {
        let t = Instant::now();
        let mut b = Buckets::new(2);
        // "a" spends its only token; "b" arrives; "a" is used again (refused, but touched).
        assert!(b.take("a", 1.0, 0.0, t));
        assert!(b.take("b", 1.0, 0.0, t));
        assert!(!b.take("a", 1.0, 0.0, t));
        // A third key evicts "b", the least recently used, not "a": "a" stays exhausted
        // (an attacker cannot reset a bucket by filling the table with new keys).
        assert!(b.take("c", 1.0, 0.0, t));
        assert!(!b.take("a", 1.0, 0.0, t));
        assert_eq!(b.map.len(), 2);
        assert_eq!(b.order.len(), 2);
        assert!(!b.map.contains_key("b"));
        // "b" comes back as new, with a full bucket.
        assert!(b.take("b", 1.0, 0.0, t));
        assert!(!b.map.contains_key("c"));
    }

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let t = Instant::now();
        let mut b = Buckets::new(8);
        assert!(b.take(1, 2.0, 10.0, t));
        assert!(b.take(1, 2.0, 10.0, t));
        assert!(!b.take(1, 2.0, 10.0, t));
        assert!(b.take(1, 2.0, 10.0, t + Duration::from_millis(150)));
        assert!(!b.take(1, 2.0, 10.0, t + Duration::from_millis(150)));
        // A long pause refills to the burst, not beyond.
        let later = t + Duration::from_secs(3600);
        assert!(b.take(1, 2.0, 10.0, later) && b.take(1, 2.0, 10.0, later));
        assert!(!b.take(1, 2.0, 10.0, later));
    }
}
