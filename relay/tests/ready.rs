//! `/ready` answers 200 only when the store answers at this relay's schema version, and
//! `/metrics` is not on the API's router.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{metrics_router, router, Limits, Relay};
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
    let (status, body) = get(router(Arc::clone(&relay)), "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schema"], mend_relay::store::SCHEMA_VERSION);
    // Another instance, newer, moved the schema on: this one stops taking traffic.
    let c = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    c.pragma_update(None, "user_version", mend_relay::store::SCHEMA_VERSION + 1).unwrap();
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
    assert!(text.contains(r#"mend_relay_refusals_total{reason="not_ready"} 2"#), "{text}");
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
