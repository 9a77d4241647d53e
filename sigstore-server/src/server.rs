//! The accept loop: connection limit, header and TLS-handshake timeouts,
//! and graceful shutdown (the shape of mini-redis `server::run`).
//!
//! hyper is driven directly rather than through `axum::serve` because the
//! latter has no header-read timeout or connection limit, and a signature
//! server faces the open internet's slowloris clients. Defences:
//!
//! * every connection must deliver each request head within
//!   `header_timeout` (hyper's timer also covers idle keep-alive time), and
//!   TLS handshakes get the same budget, so idle sockets are reaped;
//! * at most `max_connections` are served at once; beyond that, accepting
//!   pauses and the kernel's listen queue holds newcomers, instead of the
//!   process running out of descriptors;
//! * idle connections cost a parked task and a small buffer, not a thread,
//!   so a thousand of them don't slow anyone else down.
//!
//! On shutdown the listener closes first, every connection is told to finish
//! its in-flight request and close, and the loop waits up to `grace`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::metrics::Metrics;
use crate::observe::Peer;

/// Connection-level settings. Clones share one connection limit, so several
/// accept loops (one per worker thread, see `cli`) enforce a single total.
#[derive(Clone)]
pub struct ServeOptions {
    pub header_timeout: Duration,
    pub grace: Duration,
    pub tls: Option<TlsAcceptor>,
    pub metrics: Option<Arc<Metrics>>,
    pub(crate) limit: Arc<Semaphore>,
}

impl ServeOptions {
    /// At most `n` connections served at once across all clones.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limit = Arc::new(Semaphore::new(n.max(1)));
        self
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(30),
            tls: None,
            metrics: None,
            limit: Arc::new(Semaphore::new(4096)),
        }
    }
}

/// Serves `app` on an already bound `listener` until `shutdown` completes,
/// then drains connections. Returns when all are closed or `grace` passed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout)
        .keep_alive(true)
        .max_buf_size(64 << 10);
    let limit = opts.limit.clone();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(Peer(addr));
            app.clone().oneshot(req)
        });
        let metrics = opts.metrics.clone();
        if let Some(m) = &metrics {
            m.connection_opened();
        }
        let watcher = graceful.watcher();
        let builder = builder.clone();
        match opts.tls.clone() {
            None => {
                tokio::spawn(async move {
                    run_conn(&builder, watcher, stream, service).await;
                    close(metrics, permit);
                });
            }
            Some(acceptor) => {
                let handshake = opts.header_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => run_conn(&builder, watcher, tls, service).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %addr, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out"),
                    }
                    close(metrics, permit);
                });
            }
        }
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "shutting down");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(opts.grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
    Ok(())
}

async fn run_conn<IO, S>(
    builder: &http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
    io: IO,
    service: S,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn close(metrics: Option<Arc<Metrics>>, permit: tokio::sync::OwnedSemaphorePermit) {
    if let Some(m) = metrics {
        m.connection_closed();
    }
    drop(permit);
}
