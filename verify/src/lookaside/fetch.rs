//! The built-in signature fetcher: `file://` from disk, `http(s)://` with
//! reqwest over rustls, with upstream's limits — 4 MiB per blob
//! (`MaxSignatureBodySize`; vouch applies it to files too), 404 means "no more signatures", any other
//! non-200 status is fatal, at most 10 redirects (Go's client default).

use std::time::Duration;

use super::{LookasideUrl, SignatureFetcher};

/// Largest signature blob read over HTTP(S).
pub const MAX_SIGNATURE_SIZE: usize = crate::bounds::MAX_SIGNATURE_BYTES;

/// Why one signature could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("Unsupported scheme when reading signature from {url}")]
    UnsupportedScheme { url: String },
    #[error("reading signature from {path:?}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading signature from {url}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("reading signature from {url}: status {status} ({reason})")]
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("reading signature from {path:?}: not a regular file")]
    NotAFile { path: String },
    #[error("reading signature from {path:?}: file exceeds {limit} bytes")]
    FileTooLarge { path: String, limit: usize },
    #[error("reading signature from {url}: body exceeds {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("building the HTTP client for lookaside reads")]
    Client(#[source] reqwest::Error),
}

/// Reads `file://` and `http(s)://` lookaside URLs.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher with its own rustls client (system roots, 10 redirects, 60 s timeout).
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(FetchError::Client)?;
        Ok(Self { client })
    }

    /// A fetcher using the caller's client (e.g. the registry's TLS settings).
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    async fn fetch_http(&self, url: &LookasideUrl) -> Result<Option<Vec<u8>>, FetchError> {
        let text = url.to_string();
        let http = |source| FetchError::Http {
            url: text.clone(),
            source,
        };
        let mut response = self.client.get(&text).send().await.map_err(http)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: text,
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_string(),
            });
        }
        let is_html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if is_html {
            tracing::warn!(url = %text, "lookaside signature served as text/html; the server may be misconfigured");
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_SIGNATURE_SIZE {
                return Err(FetchError::TooLarge {
                    url: text,
                    limit: MAX_SIGNATURE_SIZE,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }
}

/// Reads a `file://` signature: only a regular file, at most
/// [`MAX_SIGNATURE_SIZE`] bytes. `O_NONBLOCK` keeps a planted FIFO from
/// blocking the open; anything but a regular file is refused after `fstat`
/// of what was opened, so a symlink is followed (as containers/image does;
/// upstream's own fixtures are symlinks) only to a regular file.
fn read_file(path: &str) -> Result<Option<Vec<u8>>, FetchError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let io = |source| FetchError::File {
        path: path.to_string(),
        source,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !file.metadata().map_err(io)?.is_file() {
        return Err(FetchError::NotAFile {
            path: path.to_string(),
        });
    }
    let mut body = Vec::new();
    file.take(MAX_SIGNATURE_SIZE as u64 + 1)
        .read_to_end(&mut body)
        .map_err(io)?;
    if body.len() > MAX_SIGNATURE_SIZE {
        return Err(FetchError::FileTooLarge {
            path: path.to_string(),
            limit: MAX_SIGNATURE_SIZE,
        });
    }
    Ok(Some(body))
}

impl SignatureFetcher for Fetcher {
    async fn fetch(&self, url: &LookasideUrl) -> Result<Option<Vec<u8>>, FetchError> {
        match url.scheme() {
            Some("file") => read_file(url.path()),
            Some("http" | "https") => self.fetch_http(url).await,
            _ => Err(FetchError::UnsupportedScheme {
                url: url.to_string(),
            }),
        }
    }
}
