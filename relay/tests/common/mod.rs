//! Shared fixtures: a relay served in-process on loopback, and the stores under test.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mend_relay::store::postgres::PostgresStore;
use mend_relay::store::sqlite::SqliteStore;
use mend_relay::store::Store;
use mend_relay::{router, Limits, Relay};

/// A relay running on a background runtime; stops when dropped.
pub struct Running {
    pub url: String,
    pub store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn serve(store: Arc<dyn Store>, limits: Limits) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let s = Arc::clone(&store);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            s.migrate().await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router(Relay::new(s, limits)))
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    Running { url: format!("http://{addr}"), store, stop: Some(stop_tx), thread: Some(thread) }
}

pub fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("relay.db")).unwrap())
}

/// The PostgreSQL store of the test cluster that `scripts/test.sh` provisions. Each call gets a
/// fresh database so tests stay independent.
pub fn postgres() -> Arc<dyn Store> {
    let url = std::env::var("MEND_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL")
    });
    let db = format!("mend_test_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    });
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Arc::new(PostgresStore::connect(&format!("{base}/{db}"), 8).unwrap())
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}
