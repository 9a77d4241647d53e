//! The access log and request metrics, as one tower layer around the app.
//!
//! One layer rather than tower-http's trace layer plus a metrics middleware:
//! both need the same three facts (method, status, elapsed time) and this is
//! on every request, so they are gathered once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{header, Method, Request};
use axum::response::Response;
use tower::{Layer, Service};

use crate::metrics::Metrics;

/// The client's address, inserted by `server::serve` (absent in `oneshot` tests).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

#[derive(Clone)]
pub struct ObserveLayer {
    pub metrics: Arc<Metrics>,
    pub access_log: bool,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
            access_log: self.access_log,
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
    access_log: bool,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        // Uri clones share the request's bytes: no copy of the path.
        let uri = self.access_log.then(|| req.uri().clone());
        let peer = req.extensions().get::<Peer>().copied();
        let fut = self.inner.call(req);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let elapsed = start.elapsed();
            let status = resp.status().as_u16();
            let bytes = if method == Method::HEAD {
                0
            } else {
                resp.headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            metrics.request(&method, status, elapsed, bytes);
            if let Some(uri) = uri {
                let peer = peer.map(|p| p.0);
                tracing::info!(
                    target: "access",
                    peer = peer.map(tracing::field::display),
                    method = %method,
                    uri = %uri,
                    status,
                    bytes,
                    micros = elapsed.as_micros() as u64,
                );
            }
            Ok(resp)
        })
    }
}
