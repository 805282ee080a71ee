//! What the relay counts, for Prometheus (`GET /metrics` on the metrics listener, in the
//! OpenMetrics text format). Every label is a route template, a method, a status, a refusal code
//! or a store operation: never a vault, device, record or key id, and nothing from a body.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mend_relay_requests_total` | counter | `route` (template, `unmatched` for none), `method`, `status` |
//! | `mend_relay_request_seconds` | histogram | `route` |
//! | `mend_relay_refusals_total` | counter | `reason` (the JSON error code) |
//! | `mend_relay_received_bytes_total`, `mend_relay_sent_bytes_total` | counter | |
//! | `mend_relay_bundles_stored_total`, `mend_relay_bundles_served_total` | counter | |
//! | `mend_relay_store_seconds` | histogram | `op` (the store call) |
//! | `mend_relay_store_errors_total` | counter | `op` |
//! | `mend_relay_connections` | gauge | client connections open now |
//! | `mend_relay_tls_handshake_failures_total` | counter | `reason` (`error`: not TLS, no shared version or cipher, a client that refused the certificate; `timeout`: no handshake within the header timeout) |
//! | `mend_relay_pool_connections` | gauge | `state` (`max`, `open`, `idle`, `waiting`; PostgreSQL) |

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::{DeviceRow, Id, NewBundle, PoolStatus, Pulled, Store, StoreResult, Usage};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// A method as a label: the standard ones by name, any other (an extension method, which anyone
/// can make up) as `other`, so requests cannot create series without bound.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// 0.25 ms to about 4 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// The relay's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Histograms<RouteLabels>,
    refusals: Family<ReasonLabels, Counter>,
    received: Counter,
    sent: Counter,
    stored: Counter,
    served: Counter,
    store_seconds: Histograms<OpLabels>,
    store_errors: Family<OpLabels, Counter>,
    connections: Gauge,
    tls_failures: Family<ReasonLabels, Counter>,
    pool: Family<StateLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty counters, registered.
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("mend_relay"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_buckets),
            refusals: Family::default(),
            received: Counter::default(),
            sent: Counter::default(),
            stored: Counter::default(),
            served: Counter::default(),
            store_seconds: Family::new_with_constructor(latency_buckets),
            store_errors: Family::default(),
            connections: Gauge::default(),
            tls_failures: Family::default(),
            pool: Family::default(),
        };
        let r = &mut m.registry;
        r.register("requests", "Requests answered", m.requests.clone());
        r.register(
            "request_seconds",
            "Time from a request's head to its answer",
            m.request_seconds.clone(),
        );
        r.register("refusals", "Requests refused, by error code", m.refusals.clone());
        r.register("received_bytes", "Request body bytes received", m.received.clone());
        r.register("sent_bytes", "Response body bytes sent", m.sent.clone());
        r.register("bundles_stored", "Bundles newly stored by pushes", m.stored.clone());
        r.register("bundles_served", "Bundles sent in pulled pages", m.served.clone());
        r.register("store_seconds", "Time of each store call", m.store_seconds.clone());
        r.register("store_errors", "Store calls that failed", m.store_errors.clone());
        r.register("connections", "Client connections open", m.connections.clone());
        r.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            m.tls_failures.clone(),
        );
        r.register("pool_connections", "Database pool connections, by state", m.pool.clone());
        m
    }

    /// One answered request. `route` is the matched route template.
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let route = route.to_string();
        self.request_seconds.get_or_create(&RouteLabels { route: route.clone() }).observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { route, method: method_label(method), status })
            .inc();
    }

    pub(crate) fn refusal(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.received.inc_by(bytes as u64);
    }

    pub(crate) fn sent(&self, bytes: u64) {
        self.sent.inc_by(bytes);
    }

    pub(crate) fn stored(&self, bundles: u64) {
        self.stored.inc_by(bundles);
    }

    pub(crate) fn served(&self, bundles: u64) {
        self.served.inc_by(bundles);
    }

    /// A TLS handshake that failed (`error`) or did not finish in time (`timeout`).
    pub(crate) fn tls_failure(&self, reason: &'static str) {
        self.tls_failures.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts a connection open until the guard is dropped (however its task ends).
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard(Arc::clone(self))
    }

    /// The exposition: the pool gauges read now, everything else as counted.
    pub fn encode(&self, pool: Option<PoolStatus>) -> String {
        if let Some(p) = pool {
            let set = |state, v: usize| {
                self.pool.get_or_create(&StateLabels { state }).set(v as i64);
            };
            set("max", p.max);
            set("open", p.open);
            set("idle", p.idle);
            set("waiting", p.waiting);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// One open connection, counted in [`Metrics`] while it lives.
pub(crate) struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A store that times each call into [`Metrics`].
pub(crate) struct Metered {
    pub(crate) inner: Arc<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Metered {
    async fn time<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let start = Instant::now();
        let r = call.await;
        let labels = OpLabels { op };
        self.metrics.store_seconds.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
        // Failures of the database, not answers like a conflict or an unknown token.
        if matches!(r, Err(crate::store::StoreError::Backend(_))) {
            self.metrics.store_errors.get_or_create(&labels).inc();
        }
        r
    }
}

#[async_trait]
impl Store for Metered {
    async fn migrate(&self) -> StoreResult<()> {
        self.time("migrate", self.inner.migrate()).await
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        self.time("schema_version", self.inner.schema_version()).await
    }

    async fn register_vault(
        &self,
        vault: Id,
        device: Id,
        public: [u8; 32],
        token: Option<[u8; 32]>,
    ) -> StoreResult<()> {
        self.time("register_vault", self.inner.register_vault(vault, device, public, token)).await
    }

    async fn issue_token(&self, hash: [u8; 32], issued_at: i64) -> StoreResult<()> {
        self.time("issue_token", self.inner.issue_token(hash, issued_at)).await
    }

    async fn usage(&self, vault: Id) -> StoreResult<Usage> {
        self.time("usage", self.inner.usage(vault)).await
    }

    async fn vault_exists(&self, vault: Id) -> StoreResult<bool> {
        self.time("vault_exists", self.inner.vault_exists(vault)).await
    }

    async fn device(&self, vault: Id, device: Id) -> StoreResult<Option<DeviceRow>> {
        self.time("device", self.inner.device(vault, device)).await
    }

    async fn enroll_device(&self, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()> {
        self.time("enroll_device", self.inner.enroll_device(vault, device, public)).await
    }

    async fn revoke_device(&self, vault: Id, device: Id) -> StoreResult<()> {
        self.time("revoke_device", self.inner.revoke_device(vault, device)).await
    }

    async fn push(&self, vault: Id, bundles: Vec<NewBundle>) -> StoreResult<u64> {
        self.time("push", self.inner.push(vault, bundles)).await
    }

    async fn pull(
        &self,
        vault: Id,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreResult<Pulled> {
        self.time("pull", self.inner.pull(vault, since, limit, max_bytes)).await
    }

    async fn put_snapshot(&self, vault: Id, covers: i64, snapshot: NewBundle) -> StoreResult<()> {
        self.time("put_snapshot", self.inner.put_snapshot(vault, covers, snapshot)).await
    }

    async fn drop_keys(&self, vault: Id, keys: Vec<Id>) -> StoreResult<u64> {
        self.time("drop_keys", self.inner.drop_keys(vault, keys)).await
    }

    async fn tombstoned(&self, vault: Id, keys: Vec<Id>) -> StoreResult<(Vec<Id>, u64)> {
        self.time("tombstoned", self.inner.tombstoned(vault, keys)).await
    }

    async fn advance_sequences(&self, by: i64) -> StoreResult<u64> {
        self.time("advance_sequences", self.inner.advance_sequences(by)).await
    }

    async fn claim_invite(&self, vault: Id, invite: Id) -> StoreResult<bool> {
        self.time("claim_invite", self.inner.claim_invite(vault, invite)).await
    }

    async fn spend_token(&self, hash: [u8; 32], vault: Id) -> StoreResult<()> {
        self.time("spend_token", self.inner.spend_token(hash, vault)).await
    }

    async fn remember_request(
        &self,
        vault: Id,
        device: Id,
        signature: [u8; 64],
        at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        self.time(
            "remember_request",
            self.inner.remember_request(vault, device, signature, at, forget_before),
        )
        .await
    }

    async fn dump(&self, vault: Id) -> StoreResult<Vec<Vec<u8>>> {
        self.time("dump", self.inner.dump(vault)).await
    }

    fn pool(&self) -> Option<PoolStatus> {
        self.inner.pool()
    }
}
