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
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
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
    pub(crate) load: Option<(Arc<WorkerLoad>, usize)>,
}

/// Open connections per worker, shared by the accept loops of one process.
///
/// All workers accept from one socket and all are woken by each new
/// connection; whichever runs first would otherwise take most of them (seen:
/// 45 of 50 keep-alive connections on one of two workers, so one core did
/// all the work and latency doubled). A worker holding more than one
/// connection above the least busy sibling waits up to 3 ms for the sibling
/// to take the next one.
pub struct WorkerLoad {
    open: Vec<AtomicUsize>,
}

impl WorkerLoad {
    pub fn new(workers: usize) -> Arc<Self> {
        Arc::new(WorkerLoad {
            open: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    fn busier_than_a_sibling(&self, i: usize) -> bool {
        let mine = self.open[i].load(Relaxed);
        self.open
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.load(Relaxed) + 1 < mine)
    }
}

impl ServeOptions {
    /// At most `n` connections served at once across all clones.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limit = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// This accept loop is worker `index` of those sharing `load`.
    pub fn worker(mut self, load: &Arc<WorkerLoad>, index: usize) -> Self {
        if index < load.open.len() {
            self.load = Some((load.clone(), index));
        }
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
            load: None,
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
    let mut accepted: u64 = 0;

    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        if let Some((load, i)) = &opts.load {
            for _ in 0..3 {
                if !load.busier_than_a_sibling(*i) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
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
        accepted += 1;
        let load = opts.load.clone();
        if let Some((l, i)) = &load {
            l.open[*i].fetch_add(1, Relaxed);
        }
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
                    close(metrics, load, permit);
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
                    close(metrics, load, permit);
                });
            }
        }
        // Accept one connection per turn (nginx's `multi_accept off`): the
        // other workers, woken by the same readiness event, get their share
        // instead of the first one awake draining the whole queue.
        tokio::task::yield_now().await;
    }
    drop(listener);
    tracing::info!(open = graceful.count(), accepted, "shutting down");
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

fn close(
    metrics: Option<Arc<Metrics>>,
    load: Option<(Arc<WorkerLoad>, usize)>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    if let Some(m) = metrics {
        m.connection_closed();
    }
    if let Some((l, i)) = load {
        l.open[i].fetch_sub(1, Relaxed);
    }
    drop(permit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_defers_only_when_clearly_busier() {
        let load = WorkerLoad::new(2);
        assert!(!load.busier_than_a_sibling(0));
        load.open[0].store(1, Relaxed);
        assert!(!load.busier_than_a_sibling(0), "one ahead is fine");
        load.open[0].store(2, Relaxed);
        assert!(load.busier_than_a_sibling(0));
        assert!(!load.busier_than_a_sibling(1));
        let single = WorkerLoad::new(1);
        single.open[0].store(100, Relaxed);
        assert!(!single.busier_than_a_sibling(0));
        // An index past the worker count is ignored rather than panicking.
        assert!(ServeOptions::default().worker(&single, 3).load.is_none());
    }
}
