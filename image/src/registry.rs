//! The registry client: oci-client underneath, with podman's TLS and
//! credential semantics on top and every byte checked against its digest.
//!
//! Errors name the registry and the reference so a failed pull says which
//! image and why in one line.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use tokio::io::AsyncWriteExt;

use crate::auth::Credentials;
use crate::digest::{Digest, DigestError};
use crate::manifest::{self, Descriptor};
use crate::reference::ImageRef;

/// How to talk to a registry: podman's `--tls-verify` and `--creds`.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// `--tls-verify=false` speaks plain HTTP (and would accept any
    /// certificate), exactly what podman's flag is for; TLS is the default.
    pub tls_verify: bool,
    pub credentials: Credentials,
    /// Layers moved at once.
    pub concurrency: usize,
    /// CA certificates (PEM, one each) trusted besides the system's: the
    /// registry's certs.d directory or `--cert-dir` ([`crate::certs`]).
    pub extra_roots: Vec<Vec<u8>>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            tls_verify: true,
            credentials: Credentials::Anonymous,
            concurrency: 4,
            extra_roots: Vec::new(),
        }
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry} over {scheme}: {detail}{hint}")]
    Unreachable {
        registry: String,
        scheme: &'static str,
        detail: String,
        hint: &'static str,
    },
    #[error(
        "{reference}: authentication required or refused by {registry} (use --creds or --authfile)"
    )]
    Unauthorized { reference: String, registry: String },
    #[error("{reference}: manifest unknown to registry {registry}")]
    NotFound { reference: String, registry: String },
    #[error("{reference}: {what} failed its integrity check")]
    Integrity {
        reference: String,
        what: String,
        #[source]
        source: DigestError,
    },
    #[error("{reference}: blob {digest} is larger than the {size} bytes its descriptor declares")]
    Oversized {
        reference: String,
        digest: Digest,
        size: u64,
    },
    #[error("{reference}: {what}: {detail}")]
    Protocol {
        reference: String,
        what: String,
        detail: String,
    },
    #[error("{reference}: {what}")]
    Manifest {
        reference: String,
        what: &'static str,
        #[source]
        source: manifest::ManifestError,
    },
    #[error("{reference}: writing {path}")]
    Io {
        reference: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A manifest as fetched: the exact bytes, their media type and digest.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

/// Where a fetched blob's bytes go, chunk by chunk as they arrive.
pub trait ChunkSink: Send {
    fn chunk(
        &mut self,
        chunk: Bytes,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    fn finish(&mut self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
}

impl<W: tokio::io::AsyncWrite + Unpin + Send> ChunkSink for W {
    async fn chunk(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.write_all(&chunk).await
    }
    async fn finish(&mut self) -> std::io::Result<()> {
        self.flush().await
    }
}

/// A client bound to one registry host.
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
    registry: String,
    tls_verify: bool,
    /// Kept for the requests oci-client has no call for (the Referrers API,
    /// a manifest PUT whose reply headers matter).
    credentials: Credentials,
    extra_roots: Vec<Vec<u8>>,
}

impl Registry {
    /// Builds a client for the registry that `reference` lives on.
    pub fn new(reference: &ImageRef, opts: &RegistryOptions) -> Self {
        let key = ClientKey {
            registry: reference.registry().to_string(),
            tls_verify: opts.tls_verify,
            credentials: opts.credentials.clone(),
            concurrency: opts.concurrency,
            extra_roots: opts.extra_roots.clone(),
        };
        let client = CLIENTS
            .get_or_make(key, || {
                Ok::<_, std::convert::Infallible>(oci_client::Client::new(client_config(opts)))
            })
            .unwrap_or_else(|never| match never {});
        let auth = match &opts.credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { user, password } => {
                RegistryAuth::Basic(user.clone(), password.clone())
            }
        };
        Self {
            client,
            auth,
            registry: reference.registry().to_string(),
            tls_verify: opts.tls_verify,
            credentials: opts.credentials.clone(),
            extra_roots: opts.extra_roots.clone(),
        }
    }

    /// Whether the registry is spoken to over TLS, and with which
    /// credentials, for [`crate::referrers`]' own HTTP requests.
    pub(crate) fn raw_parts(&self) -> (bool, &Credentials, &[Vec<u8>]) {
        (self.tls_verify, &self.credentials, &self.extra_roots)
    }

    /// Pings `/v2/` and authenticates for `op`, so that an unreachable or
    /// plain-HTTP registry fails here with a clear message, before any work.
    pub async fn login(
        &self,
        reference: &ImageRef,
        op: RegistryOperation,
    ) -> Result<(), RegistryError> {
        self.client
            .auth(reference.as_oci(), &self.auth, op)
            .await
            .map(|_| ())
            .map_err(|e| self.map_err(reference, "authenticating", e))
    }

    /// Fetches the manifest `reference` names and verifies its digest when
    /// the reference pins one.
    pub async fn fetch_manifest(
        &self,
        reference: &ImageRef,
    ) -> Result<FetchedManifest, RegistryError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(reference.as_oci(), &self.auth, manifest::ACCEPTED)
            .await
            .map_err(|e| self.map_err(reference, "fetching manifest", e))?;
        if bytes.len() > manifest::MAX_MANIFEST_BYTES {
            return Err(RegistryError::Manifest {
                reference: reference.to_string(),
                what: "manifest",
                source: manifest::ManifestError::TooLarge(bytes.len()),
            });
        }
        let digest = Digest::of(&bytes);
        if let Some(want) = reference.digest() {
            let want = Digest::parse(want).map_err(|source| RegistryError::Integrity {
                reference: reference.to_string(),
                what: "manifest".into(),
                source,
            })?;
            digest
                .clone()
                .expect(&want)
                .map_err(|source| RegistryError::Integrity {
                    reference: reference.to_string(),
                    what: "manifest".into(),
                    source,
                })?;
        }
        let media_type =
            manifest::media_type_of(&bytes, None).map_err(|source| RegistryError::Manifest {
                reference: reference.to_string(),
                what: "manifest",
                source,
            })?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Streams a blob into `out`, refusing more bytes than the descriptor
    /// declares and failing unless the content matches its digest
    /// (oci-client's verifying stream checks it; we check the size).
    pub async fn fetch_blob(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
        out: &mut impl ChunkSink,
        path_for_errors: &Path,
    ) -> Result<u64, RegistryError> {
        let od = to_oci(desc);
        let mut stream = self
            .client
            .pull_blob_stream(reference.as_oci(), &od)
            .await
            .map_err(|e| self.map_err(reference, &format!("fetching blob {}", desc.digest), e))?;
        let mut n = 0u64;
        while let Some(chunk) = stream.stream.next().await {
            let chunk = chunk.map_err(|e| self.stream_err(reference, desc, e))?;
            n += chunk.len() as u64;
            if n > desc.size {
                return Err(RegistryError::Oversized {
                    reference: reference.to_string(),
                    digest: desc.digest.clone(),
                    size: desc.size,
                });
            }
            out.chunk(chunk).await.map_err(|source| RegistryError::Io {
                reference: reference.to_string(),
                path: path_for_errors.display().to_string(),
                source,
            })?;
        }
        if n != desc.size {
            return Err(RegistryError::Protocol {
                reference: reference.to_string(),
                what: format!("blob {}", desc.digest),
                detail: format!("got {n} bytes, descriptor declares {}", desc.size),
            });
        }
        out.finish().await.map_err(|source| RegistryError::Io {
            reference: reference.to_string(),
            path: path_for_errors.display().to_string(),
            source,
        })?;
        Ok(n)
    }

    /// A blob's bytes as a stream, for a copy that sends them on without
    /// touching disk; the caller checks size and digest as they pass.
    ///
    /// Asked for as the range `bytes=0-`, because oci-client hashes a whole
    /// GET's bytes itself: next to the caller's check that was a second
    /// SHA-256 pass over every byte, half of a registry-to-registry copy's
    /// CPU (bench/copy.sh). A registry that ignores ranges answers 200 and
    /// the bytes are hashed twice as before; an empty blob, whose range
    /// would be unsatisfiable, is fetched whole.
    pub async fn blob_stream(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
    ) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>, RegistryError>
    {
        let od = to_oci(desc);
        let err = |e| self.map_err(reference, &format!("fetching blob {}", desc.digest), e);
        let stream = if desc.size == 0 {
            self.client
                .pull_blob_stream(reference.as_oci(), &od)
                .await
                .map_err(err)?
        } else {
            match self
                .client
                .pull_blob_stream_partial(reference.as_oci(), &od, 0, None)
                .await
                .map_err(err)?
            {
                BlobResponse::Full(s) | BlobResponse::Partial(s) => s,
            }
        };
        Ok(stream.stream.boxed())
    }

    /// Uploads a blob from a stream in one monolithic PUT; a stream that
    /// fails aborts the request, so the registry never commits the blob.
    pub async fn push_blob_from_stream(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
        data: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
    ) -> Result<(), RegistryError> {
        let stream = data.map_err(|e| OciDistributionError::GenericError(Some(e.to_string())));
        self.client
            .push_blob_stream(
                reference.as_oci(),
                stream,
                &desc.digest.to_string(),
                Some(desc.size),
            )
            .await
            .map(|_| ())
            .map_err(|e| self.map_err(reference, &format!("pushing blob {}", desc.digest), e))
    }

    /// Asks the registry to mount `digest` from `from_repository` into
    /// `reference`'s repository. `false` when it would not (the registry
    /// then started an ordinary upload, which is left to expire).
    pub async fn mount_blob(
        &self,
        reference: &ImageRef,
        from_repository: &str,
        digest: &Digest,
    ) -> bool {
        let Ok(source) =
            format!("{}/{from_repository}", self.registry).parse::<oci_client::Reference>()
        else {
            return false;
        };
        let source = source.clone_with_digest(digest.to_string());
        self.client
            .mount_blob(reference.as_oci(), &source, &digest.to_string())
            .await
            .is_ok()
    }

    /// Fetches a small blob (an image config) into memory, size-capped.
    pub async fn fetch_small_blob(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
        cap: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        if desc.size > cap {
            return Err(RegistryError::Oversized {
                reference: reference.to_string(),
                digest: desc.digest.clone(),
                size: cap,
            });
        }
        let mut buf = Vec::with_capacity(desc.size as usize);
        self.fetch_blob(reference, desc, &mut buf, Path::new("<memory>"))
            .await?;
        Digest::of(&buf)
            .expect(&desc.digest)
            .map_err(|source| RegistryError::Integrity {
                reference: reference.to_string(),
                what: format!("blob {}", desc.digest),
                source,
            })?;
        Ok(buf)
    }

    /// Whether the registry already holds `digest` in the repository.
    pub async fn blob_exists(
        &self,
        reference: &ImageRef,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        self.client
            .blob_exists(reference.as_oci(), &digest.to_string())
            .await
            .map_err(|e| self.map_err(reference, &format!("checking blob {digest}"), e))
    }

    /// Uploads a blob from a file, streamed in one monolithic PUT.
    pub async fn push_blob_file(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
        path: &Path,
    ) -> Result<(), RegistryError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| RegistryError::Io {
                reference: reference.to_string(),
                path: path.display().to_string(),
                source,
            })?;
        self.push_blob_from_stream(reference, desc, tokio_util_stream(file).boxed())
            .await
    }

    /// Uploads a small in-memory blob (a signature payload, an attachment config).
    pub async fn push_blob_bytes(
        &self,
        reference: &ImageRef,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<(), RegistryError> {
        self.client
            .push_blob(reference.as_oci(), bytes, &digest.to_string())
            .await
            .map(|_| ())
            .map_err(|e| self.map_err(reference, &format!("pushing blob {digest}"), e))
    }

    /// Uploads a manifest exactly as given, so its digest is unchanged.
    pub async fn push_manifest(
        &self,
        reference: &ImageRef,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<(), RegistryError> {
        let ct = media_type.parse().map_err(|_| RegistryError::Protocol {
            reference: reference.to_string(),
            what: "pushing manifest".into(),
            detail: format!("invalid media type {media_type:?}"),
        })?;
        self.client
            .push_manifest_raw(reference.as_oci(), bytes, ct)
            .await
            .map(|_| ())
            .map_err(|e| self.map_err(reference, "pushing manifest", e))
    }

    fn stream_err(
        &self,
        reference: &ImageRef,
        desc: &Descriptor,
        e: std::io::Error,
    ) -> RegistryError {
        let detail = e.to_string();
        if detail.contains("igest") {
            RegistryError::Protocol {
                reference: reference.to_string(),
                what: format!("blob {} failed its integrity check", desc.digest),
                detail,
            }
        } else {
            RegistryError::Protocol {
                reference: reference.to_string(),
                what: format!("reading blob {}", desc.digest),
                detail,
            }
        }
    }

    fn map_err(&self, reference: &ImageRef, what: &str, e: OciDistributionError) -> RegistryError {
        let r = reference.to_string();
        match e {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => RegistryError::Unauthorized {
                reference: r,
                registry: self.registry.clone(),
            },
            OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound {
                reference: r,
                registry: self.registry.clone(),
            },
            // As containers/image's isManifestUnknownError: the spec's code,
            // UNKNOWN with a "not found" message (registry.redhat.io, Harbor),
            // or a bare 404 (the status is all the spec requires).
            OciDistributionError::RegistryError { ref envelope, .. }
                if envelope.errors.iter().any(|e| match &e.code {
                    oci_client::errors::OciErrorCode::ManifestUnknown
                    | oci_client::errors::OciErrorCode::NameUnknown => true,
                    oci_client::errors::OciErrorCode::Other(code) => {
                        code == "UNKNOWN" && e.message.to_lowercase().contains("not found")
                    }
                    _ => false,
                }) =>
            {
                RegistryError::NotFound {
                    reference: r,
                    registry: self.registry.clone(),
                }
            }
            OciDistributionError::ServerError { code: 404, .. } if what.contains("manifest") => {
                RegistryError::NotFound {
                    reference: r,
                    registry: self.registry.clone(),
                }
            }
            OciDistributionError::RegistryError { ref envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::Unauthorized
                            | oci_client::errors::OciErrorCode::Denied
                    )
                }) =>
            {
                RegistryError::Unauthorized {
                    reference: r,
                    registry: self.registry.clone(),
                }
            }
            OciDistributionError::RequestError(ref re)
                if matches!(re.status().map(|s| s.as_u16()), Some(401 | 403)) =>
            {
                RegistryError::Unauthorized {
                    reference: r,
                    registry: self.registry.clone(),
                }
            }
            OciDistributionError::RequestError(ref re)
                if re.is_connect() || re.is_timeout() || re.is_request() =>
            {
                let detail = error_chain(re);
                let hint = if self.tls_verify
                    && (detail.contains("InvalidContentType")
                        || detail.contains("tls")
                        || detail.contains("TLS")
                        || detail.contains("certificate"))
                {
                    " (a plain-HTTP registry needs --tls-verify=false)"
                } else {
                    ""
                };
                RegistryError::Unreachable {
                    registry: self.registry.clone(),
                    scheme: if self.tls_verify { "https" } else { "http" },
                    detail,
                    hint,
                }
            }
            OciDistributionError::DigestError(_) => RegistryError::Protocol {
                reference: r,
                what: format!("{what} failed its integrity check"),
                detail: e.to_string(),
            },
            other => RegistryError::Protocol {
                reference: r,
                what: what.to_string(),
                detail: error_chain(&other),
            },
        }
    }
}

/// oci-client's settings for `opts`.
fn client_config(opts: &RegistryOptions) -> ClientConfig {
    ClientConfig {
        protocol: if opts.tls_verify {
            ClientProtocol::Https
        } else {
            ClientProtocol::Http
        },
        accept_invalid_certificates: !opts.tls_verify,
        use_monolithic_push: true,
        platform_resolver: None,
        max_concurrent_download: opts.concurrency,
        max_concurrent_upload: opts.concurrency,
        connect_timeout: Some(Duration::from_secs(30)),
        read_timeout: Some(Duration::from_secs(300)),
        user_agent: concat!("vouch/", env!("CARGO_PKG_VERSION")),
        extra_root_certificates: opts
            .extra_roots
            .iter()
            .map(|pem| oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

/// What makes two registry clients interchangeable.
#[derive(PartialEq)]
struct ClientKey {
    registry: String,
    tls_verify: bool,
    credentials: Credentials,
    concurrency: usize,
    extra_roots: Vec<Vec<u8>>,
}

/// One client per registry and settings for the whole command, so a sync of
/// many images does not build one per image: building one loads and parses
/// the system's CA certificates (~7 ms of CPU), which was most of a
/// 100-image sync's CPU (bench/sync.sh). Sharing also shares oci-client's
/// token cache, as one containers/image process does.
static CLIENTS: PerRuntime<ClientKey, oci_client::Client> = PerRuntime::new();

/// Values that belong to one tokio runtime, reused while it runs. HTTP
/// clients are such values: their pooled connections live on the runtime
/// that made them and fail on another, so when a new runtime asks, the
/// cache forgets everything and starts again. Outside a runtime nothing is
/// kept.
pub struct PerRuntime<K, V> {
    inner: Mutex<Option<Kept<K, V>>>,
}

/// The runtime the values were made under, and the values by key.
type Kept<K, V> = (tokio::runtime::Id, Vec<(K, V)>);

impl<K: PartialEq, V: Clone> PerRuntime<K, V> {
    pub const fn new() -> Self {
        Self {
            inner: Mutex::new(None),
        }
    }

    /// The value kept for `key` under the current runtime, made by `make`
    /// the first time.
    pub fn get_or_make<E>(&self, key: K, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return make();
        };
        let id = handle.id();
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entries = match &mut *guard {
            Some((kept, entries)) if *kept == id => entries,
            slot => &mut slot.insert((id, Vec::new())).1,
        };
        if let Some((_, v)) = entries.iter().find(|(k, _)| *k == key) {
            return Ok(v.clone());
        }
        let v = make()?;
        entries.push((key, v.clone()));
        Ok(v)
    }
}

impl<K: PartialEq, V: Clone> Default for PerRuntime<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Joins an error and its sources on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn to_oci(d: &Descriptor) -> OciDescriptor {
    OciDescriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.to_string(),
        size: d.size as i64,
        ..Default::default()
    }
}

/// A file as a stream of 1 MiB chunks, so pushes never hold a layer in memory.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), f)))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::PerRuntime;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn a_value_is_made_once_per_key_and_runtime_and_never_crosses_runtimes() {
        let cache: PerRuntime<&str, usize> = PerRuntime::new();
        let made = AtomicUsize::new(0);
        let get = |key| {
            cache
                .get_or_make(key, || Ok::<_, ()>(made.fetch_add(1, Ordering::SeqCst)))
                .unwrap()
        };
        let (a, b) = runtime().block_on(async { (get("x"), get("x")) });
        assert_eq!((a, b), (0, 0), "same key, same runtime: one value");
        assert_eq!(runtime().block_on(async { get("y") }), 1);
        // A new runtime never gets the old runtime's value.
        assert_eq!(runtime().block_on(async { get("x") }), 2);
        // Outside a runtime nothing is kept.
        assert_eq!(get("x"), 3);
        assert_eq!(get("x"), 4);
        // A failed make keeps nothing.
        runtime().block_on(async {
            assert_eq!(cache.get_or_make("z", || Err("no")), Err("no"));
            assert_eq!(cache.get_or_make("z", || Ok::<_, &str>(9)), Ok(9));
        });
    }
}
