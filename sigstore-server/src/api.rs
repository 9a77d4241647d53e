//! The HTTP surface: serving signatures, accepting uploads, health and metrics.
//!
//! All signature traffic goes through one fallback handler instead of a
//! wildcard route: the raw request path is what `path::SigPath` must judge
//! (a router would percent-decode or normalise it first), and the hot GET
//! path then costs one parse, one `stat` and no allocation beyond the
//! response itself.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::check::{Rejection, UploadCheck};
use crate::metrics::{Metrics, Upload};
use crate::observe::ObserveLayer;
use crate::path::{PathError, SigPath, Target, MAX_INDEX};
use crate::store::{CacheUse, Store, StoreError};
use crate::target::{self, TargetError};
use crate::tokens::{Access, Tokens};

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `Cache-Control: max-age` of signature responses, seconds.
    pub max_age: u32,
    /// Largest accepted upload body, bytes.
    pub max_body: usize,
    /// Time allowed to receive an upload body.
    pub body_timeout: Duration,
    /// Emit one `access` tracing event per request.
    pub access_log: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            max_age: 3600,
            max_body: 64 << 10,
            body_timeout: Duration::from_secs(10),
            access_log: true,
        }
    }
}

/// Everything handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    tokens: Option<Tokens>,
    check: Arc<dyn UploadCheck>,
    cache_control: HeaderValue,
    config: AppConfig,
    metrics: Arc<Metrics>,
}

impl AppState {
    /// `tokens: None` disables publishing (reads only).
    pub fn new(
        store: Store,
        tokens: Option<Tokens>,
        check: Arc<dyn UploadCheck>,
        config: AppConfig,
    ) -> Self {
        let cache_control =
            HeaderValue::try_from(format!("public, max-age={}, immutable", config.max_age))
                .unwrap_or(HeaderValue::from_static("no-cache"));
        AppState(Arc::new(Inner {
            store,
            tokens,
            check,
            cache_control,
            config,
            metrics: Arc::new(Metrics::default()),
        }))
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.0.metrics.clone()
    }
}

/// The whole HTTP application, so tests can drive it without a socket.
pub fn app(state: AppState) -> Router {
    let observe = ObserveLayer {
        metrics: state.metrics(),
        access_log: state.0.config.access_log,
    };
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(dispatch)
        .with_state(state);
    // An outer router with only a fallback, so the target form is judged
    // before `routes` looks at the path (hyper splits the path out of an
    // absolute-form target, and `/healthz` would match it).
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(origin_form_only))
        .layer(observe)
}

async fn origin_form_only(req: Request, next: Next) -> Response {
    match target::check(req.method(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::BadTarget(e).into_response(),
    }
}

/// Every way a request fails. Messages never contain file-system paths:
/// store errors are logged in full and answered "internal error".
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadTarget(#[from] TargetError),
    #[error("{0}")]
    BadPath(PathError),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("publishing is disabled on this server")]
    PublishingDisabled,
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("token not allowed for repository {0}")]
    Forbidden(String),
    #[error("PUT needs If-None-Match: * (signatures are write-once)")]
    PreconditionRequired,
    #[error("signature-{0} already exists")]
    Exists(u32),
    #[error("index above {MAX_INDEX} would never be read")]
    IndexTooHigh,
    #[error("already {MAX_INDEX} signatures for this digest")]
    Full,
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("body not received in time")]
    BodyTimeout,
    #[error("reading body failed")]
    BodyRead,
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("internal error")]
    Internal(#[source] StoreError),
    #[error("internal error")]
    Join,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadPath(e) if e.is_malformed() => StatusCode::BAD_REQUEST,
            Self::BadPath(_) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed | Self::PublishingDisabled => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Exists(_) => StatusCode::PRECONDITION_FAILED,
            Self::Full => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadTarget(_) | Self::IndexTooHigh | Self::BodyRead | Self::Rejected(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Internal(_) | Self::Join => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(e) = &self {
            tracing::error!(error = %DisplayChain(e), "store failure");
        }
        // The common miss of a lookaside read (clients probe N+1) stays allocation-free.
        let body = if status == StatusCode::NOT_FOUND {
            Body::from(&b"{\"error\":\"not found\"}\n"[..])
        } else {
            Body::from(format!(
                "{}\n",
                serde_json::json!({ "error": self.to_string() })
            ))
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // A cached 404 would hide a signature published a moment later.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        match self {
            Self::Unauthorized => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sigstore-server\""),
                );
            }
            Self::MethodNotAllowed | Self::PublishingDisabled => {
                h.insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, POST, PUT"),
                );
            }
            _ => {}
        }
        resp
    }
}

struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(s) = src {
            write!(f, ": {s}")?;
            src = s.source();
        }
        Ok(())
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    if s.0.store.healthy() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "root directory unavailable\n",
        )
            .into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut resp = s.0.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

async fn dispatch(State(s): State<AppState>, req: Request) -> Response {
    let result = match *req.method() {
        Method::GET | Method::HEAD => read(&s.0, &req),
        Method::POST | Method::PUT => upload(s, req).await,
        _ => Err(ApiError::MethodNotAllowed),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn read(s: &Inner, req: &Request) -> Result<Response, ApiError> {
    let p = SigPath::parse(req.uri().path()).map_err(ApiError::BadPath)?;
    if p.target() == Target::Collection {
        return Err(ApiError::NotFound);
    }
    let (entry, cache) = s
        .store
        .read(p.rel())
        .map_err(ApiError::Internal)?
        .ok_or(ApiError::NotFound)?;
    s.metrics.cache(cache == CacheUse::Hit);
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| etag_matches(v.as_bytes(), entry.etag.as_bytes()));
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if req.method() == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(entry.body.clone()))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::ETAG, entry.etag.clone());
    h.insert(header::CACHE_CONTROL, s.cache_control.clone());
    if !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
    }
    Ok(resp)
}

/// `If-None-Match` (RFC 9110 §13.1.2): `*`, or a list of entity tags compared
/// weakly.
fn etag_matches(header: &[u8], etag: &[u8]) -> bool {
    header.split(|b| *b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == etag
    })
}

async fn upload(s: AppState, req: Request) -> Result<Response, ApiError> {
    let inner = &s.0;
    let tokens = inner.tokens.as_ref().ok_or(ApiError::PublishingDisabled)?;
    let p = SigPath::parse(req.uri().path()).map_err(ApiError::BadPath)?;
    let explicit = match (req.method(), p.target()) {
        (&Method::POST, Target::Collection) => None,
        (&Method::PUT, Target::Signature(n)) => Some(n),
        _ => return Err(ApiError::MethodNotAllowed),
    };
    let publisher = match bearer(req.headers()).map(|t| tokens.check(t, p.repo())) {
        Some(Access::Granted(label)) => label,
        Some(Access::Forbidden(_)) => {
            inner.metrics.upload(Upload::Unauthorized);
            return Err(ApiError::Forbidden(p.repo().to_string()));
        }
        Some(Access::Unknown) | None => {
            inner.metrics.upload(Upload::Unauthorized);
            return Err(ApiError::Unauthorized);
        }
    };
    if let Some(n) = explicit {
        if req
            .headers()
            .get(header::IF_NONE_MATCH)
            .map(HeaderValue::as_bytes)
            != Some(b"*")
        {
            return Err(ApiError::PreconditionRequired);
        }
        if n > MAX_INDEX {
            return Err(ApiError::IndexTooHigh);
        }
    }
    let (dir, repo, digest) = (p.dir().to_string(), p.repo().to_string(), p.digest());
    let body = read_body(inner, req).await?;

    let s2 = s.clone();
    let (dir2, digest2) = (dir.clone(), digest.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let store = &s2.0;
        let signer = store.check.check(&repo, &digest2, &body)?;
        let n = match explicit {
            Some(n) => store.store.publish_at(&dir2, n, &body).map(|()| n),
            None => store.store.publish_next(&dir2, &body),
        };
        Ok::<_, ApiError>((signer, n))
    })
    .await
    .map_err(|_| ApiError::Join)?;
    let (signer, n) = outcome.inspect_err(|_| inner.metrics.upload(Upload::Rejected))?;
    let n = n.map_err(|e| match e {
        StoreError::Exists { .. } => {
            inner.metrics.upload(Upload::Conflict);
            ApiError::Exists(explicit.unwrap_or(0))
        }
        StoreError::Full { .. } => {
            inner.metrics.upload(Upload::Conflict);
            ApiError::Full
        }
        other => ApiError::Internal(other),
    })?;
    inner.metrics.upload(Upload::Stored);
    let location = format!("/{dir}/signature-{n}");
    tracing::info!(
        target: "upload",
        %location,
        digest,
        publisher,
        key = signer.key,
        verified = signer.verified,
        docker_reference = signer.docker_reference,
        "stored signature"
    );
    let body = serde_json::json!({
        "location": location,
        "index": n,
        "key": signer.key,
        "verified": signer.verified,
    });
    let mut resp = Response::new(Body::from(format!("{body}\n")));
    *resp.status_mut() = StatusCode::CREATED;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::try_from(location) {
        h.insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn read_body(s: &Inner, req: Request) -> Result<Bytes, ApiError> {
    let max = s.config.max_body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ApiError::TooLarge(max));
    }
    let collect = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(s.config.body_timeout, collect).await {
        Err(_) => Err(ApiError::BodyTimeout),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge(max))
        }
        Ok(Err(_)) => Err(ApiError::BodyRead),
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
