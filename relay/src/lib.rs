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

pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, Query, Request, State};
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

use store::{Id, NewBundle, Store, StoreError};

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
    /// Requests a device may burst.
    pub rate_burst: f64,
    /// Requests per second a device may sustain.
    pub rate_per_sec: f64,
    /// How far a request's time may be from the relay's clock.
    pub max_skew: Duration,
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
            max_skew: Duration::from_secs(300),
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Shared state of a relay instance. Instances are stateless apart from their rate-limit
/// buckets, so several can run behind a load balancer on one database.
pub struct Relay {
    store: Arc<dyn Store>,
    limits: Limits,
    buckets: Mutex<HashMap<(Id, Id), Bucket>>,
}

impl Relay {
    /// A relay over a store.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Arc<Self> {
        Arc::new(Relay { store, limits, buckets: Mutex::new(HashMap::new()) })
    }

    fn allow(&self, vault: Id, device: Id) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 100_000 {
            b.clear();
        }
        let now = Instant::now();
        let e =
            b.entry((vault, device)).or_insert(Bucket { tokens: self.limits.rate_burst, at: now });
        let refill = now.duration_since(e.at).as_secs_f64() * self.limits.rate_per_sec;
        e.tokens = (e.tokens + refill).min(self.limits.rate_burst);
        e.at = now;
        if e.tokens >= 1.0 {
            e.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The HTTP API.
pub fn router(relay: Arc<Relay>) -> Router {
    let max_body = relay.limits.max_body;
    Router::new()
        .route("/health", get(health))
        .route("/v1/vaults/{vault}/devices", post(enroll))
        .route("/v1/vaults/{vault}/devices/{device}", delete(revoke))
        .route("/v1/vaults/{vault}/bundles", post(push).get(pull))
        .route("/v1/vaults/{vault}/snapshots/{doc}", put(snapshot))
        .route("/v1/vaults/{vault}/drops", post(drops))
        .route("/v1/vaults/{vault}/invites/{invite}/claim", post(claim))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(max_body, refuse_oversized))
        .with_state(relay)
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
        let _ = tokio::time::timeout(DRAIN_TIME, discard(req.into_body())).await;
    }
    ApiError(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("body over {max_body} bytes"))
        .into_response()
}

/// Reads a body to its end (or its first error), keeping nothing.
async fn discard(mut body: Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(_)) = body.frame().await {}
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
        (self.0, Json(serde_json::json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m.into()),
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

/// Checks the request signature, freshness, replay and rate limit. `self_enroll` lets a device
/// register a vault the relay does not know by enrolling itself.
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
    if (now - time).unsigned_abs() > relay.limits.max_skew.as_millis() as u64 {
        return Err(ApiError::unauthorized("stale request; check the device clock"));
    }
    if !relay.allow(vault, device) {
        return Err(ApiError(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down".into()));
    }
    let public = match relay.store.device(vault, device).await? {
        Some(d) if d.revoked => {
            return Err(ApiError(StatusCode::FORBIDDEN, "revoked", "device revoked".into()))
        }
        Some(d) => d.public,
        None => match self_enroll {
            Some((d, p)) if d == device && !relay.store.vault_exists(vault).await? => p,
            _ => {
                let msg = if relay.store.vault_exists(vault).await? {
                    "unknown device"
                } else {
                    "unknown vault"
                };
                return Err(ApiError(StatusCode::NOT_FOUND, "unknown", msg.into()));
            }
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
    let forget = now - 2 * relay.limits.max_skew.as_millis() as i64;
    if !relay.store.remember_request(vault, device, sig, time, forget).await? {
        return Err(ApiError(StatusCode::CONFLICT, "replayed", "replayed request".into()));
    }
    Ok(Authed { device })
}

async fn health() -> &'static str {
    "ok"
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
        relay.store.register_vault(vault, device, public).await?;
        tracing::info!(vault = %hex::encode(vault), "vault registered");
    } else {
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
    relay.store.revoke_device(vault, device).await?;
    tracing::info!(vault = %hex::encode(vault), "device revoked");
    Ok(StatusCode::NO_CONTENT)
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
    let n = bundles.len();
    let new = relay.store.push(vault, bundles).await?;
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
    let n = relay.store.drop_keys(vault, keys.iter().map(|k| *k.as_bytes()).collect()).await?;
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
    if relay.store.claim_invite(vault, invite).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(StatusCode::GONE, "invite_used", "invite already claimed".into()))
    }
}
