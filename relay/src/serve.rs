//! Serving the relay's router over TCP with the limits a public endpoint needs.
//!
//! - **Connection limit**: at most [`Limits::connection_limit`] connections are served at once;
//!   the next is accepted only when one closes (the rest wait in the kernel's backlog).
//! - **Header read timeout**: a connection that has not sent a whole request head within
//!   [`Limits::header_timeout`] — a new connection, or an idle keep-alive one — is closed
//!   (hyper's HTTP/1 `header_read_timeout`).
//! - **Body read timeout**: a request body that has not fully arrived within
//!   [`Limits::body_timeout`] gets a 408 and the connection is closed (the router's body reader,
//!   so it holds however the router is served).
//!
//! - **TLS** ([`serve_tls`]): rustls, TLS 1.3 and 1.2, the handshake within the header read
//!   timeout (a connection that stalls in it is dropped).
//!
//! Together they bound what slow-drip connections can hold: each is cut off after a timeout,
//! and all of them together take at most the connection limit. Each connection's peer address
//! is attached to its requests for the per-address rate limit.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::metrics::Metrics;
#[cfg(doc)]
use crate::Limits;
use crate::{router, Relay};

/// How long a graceful shutdown waits for open connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `relay` on `listener` until `shutdown` completes, then lets open requests finish
/// (up to 10 s). HTTP/1.1.
pub async fn serve<F>(listener: TcpListener, relay: Arc<Relay>, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let (limits, metrics) = (relay.limits, Some(Arc::clone(&relay.metrics)));
    serve_with(listener, router(relay), limits, metrics, None, shutdown).await
}

/// Serves the Prometheus endpoint ([`crate::metrics_router`]) on a listener of its own, with the
/// API's header and body timeouts and at most [`METRICS_CONNECTIONS`] connections, so whoever
/// reaches it cannot hold the process's file descriptors.
pub async fn serve_metrics<F>(
    listener: TcpListener,
    relay: Arc<Relay>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let limits = crate::Limits { connection_limit: METRICS_CONNECTIONS, ..relay.limits };
    serve_with(listener, crate::metrics_router(relay), limits, None, None, shutdown).await
}

/// Most connections the metrics listener serves at once (a scraper needs one).
pub const METRICS_CONNECTIONS: usize = 8;

/// Like [`serve`], over TLS with `tls` ([`crate::tls::server_config`], whose certificate
/// [`crate::tls::Certificate::reload`] replaces for new handshakes).
pub async fn serve_tls<F>(
    listener: TcpListener,
    relay: Arc<Relay>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let (limits, metrics) = (relay.limits, Some(Arc::clone(&relay.metrics)));
    let tls = Some(tokio_rustls::TlsAcceptor::from(tls));
    serve_with(listener, router(relay), limits, metrics, tls, shutdown).await
}

async fn serve_with<F>(
    listener: TcpListener,
    app: axum::Router,
    limits: crate::Limits,
    metrics: Option<Arc<Metrics>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let permits = Arc::new(Semaphore::new(limits.connection_limit.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let service = TowerToHyperService::new(service);
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        let counted = metrics.as_ref().map(|m| m.connection());
        let handshakes = metrics.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                Some(tls) => {
                    match tokio::time::timeout(limits.header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let conn = http.serve_connection(TokioIo::new(stream), service);
                            watcher.watch(conn).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            if let Some(m) = &handshakes {
                                m.tls_failure("error");
                            }
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            if let Some(m) = &handshakes {
                                m.tls_failure("timeout");
                            }
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(counted);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}
