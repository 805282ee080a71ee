//! `/ready` answers 200 only when the store answers at this relay's schema version, and
//! `/metrics` is not on the API's router.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{metrics_router, router, Limits, Relay, READY_CACHE};
use tower::ServiceExt;

async fn get(app: axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
    let res = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn ready_only_when_the_store_answers_at_this_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("r.db")).unwrap());
    let relay = Relay::new(Arc::clone(&store), Limits::default());
    // Not migrated yet: not ready.
    let (status, body) = get(router(Arc::clone(&relay)), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "not_ready");
    store.migrate().await.unwrap();
    // One check answers for READY_CACHE: right after the migration the answer is still the
    // old one, a moment later the new one.
    assert_eq!(get(router(Arc::clone(&relay)), "/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(READY_CACHE + Duration::from_millis(50)).await;
    let (status, body) = get(router(Arc::clone(&relay)), "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schema"], mend_relay::store::SCHEMA_VERSION);
    // Another instance, newer, moved the schema on: this one stops taking traffic.
    let c = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    c.pragma_update(None, "user_version", mend_relay::store::SCHEMA_VERSION + 1).unwrap();
    tokio::time::sleep(READY_CACHE + Duration::from_millis(50)).await;
    let (status, body) = get(router(Arc::clone(&relay)), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["message"].as_str().unwrap().contains("schema"));
    // The metrics are on their own router, not the API's.
    assert_eq!(get(router(Arc::clone(&relay)), "/metrics").await.0, StatusCode::NOT_FOUND);
    let res = metrics_router(relay)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains(r#"mend_relay_refusals_total{reason="not_ready"} 3"#), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn a_postgres_store_that_does_not_answer_is_not_ready() {
    // Nothing listens on port 1.
    let store: Arc<dyn Store> =
        Arc::new(PostgresStore::connect("postgres://mend@127.0.0.1:1/mend", 2).unwrap());
    let relay = Relay::new(store, Limits::default());
    let (status, body) = get(router(Arc::clone(&relay)), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["message"], "storage unavailable");
    assert_eq!(get(router(relay), "/health").await.0, StatusCode::OK);
}

/// How many schema queries the store has answered, from the relay's own metrics.
fn schema_queries(relay: &Relay) -> u64 {
    let series = r#"mend_relay_store_seconds_count{op="schema_version"} "#;
    let text = relay.metrics_text();
    let line = text.lines().find(|l| l.starts_with(series));
    line.map_or(0, |l| l[series.len()..].trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_readiness_probes_costs_the_store_one_query_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("r.db")).unwrap());
    store.migrate().await.unwrap();
    let relay = Relay::new(store, Limits::default());
    let before = schema_queries(&relay);
    let probes: Vec<_> =
        (0..200).map(|_| tokio::spawn(get(router(Arc::clone(&relay)), "/ready"))).collect();
    for p in probes {
        assert_eq!(p.await.unwrap().0, StatusCode::OK);
    }
    let flood = schema_queries(&relay) - before;
    // 200 probes at once (well within one interval on any machine that runs the suite)
    // made one query, or two if the flood straddled an interval's end.
    assert!((1..=2).contains(&flood), "{flood} schema queries for 200 probes");
    // After the interval the next probe checks again.
    tokio::time::sleep(READY_CACHE + Duration::from_millis(50)).await;
    assert_eq!(get(router(Arc::clone(&relay)), "/ready").await.0, StatusCode::OK);
    assert_eq!(schema_queries(&relay) - before, flood + 1);
}
