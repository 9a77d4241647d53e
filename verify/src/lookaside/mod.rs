//! Reading an image's simple signatures from lookaside storage (§4.4).
//!
//! Signatures live at `<repo base>@sha256=<hex>/signature-1`, `-2`, …; reading
//! stops at the first missing index (a gap hides everything after it), at
//! most 127 are read (index 128 is an error), every blob is sniffed (§2.2) and any other failure
//! aborts — containers/image `docker/docker_image_src.go`. Fetching is a
//! trait so callers can plug in their own HTTP client; [`Fetcher`] handles
//! `file://` and `http(s)://`.

mod delete;
mod fetch;
mod url;
mod write;

use std::future::Future;

pub use delete::{check_deletable, delete_signatures};
pub use fetch::{FetchError, Fetcher, MAX_SIGNATURE_SIZE};
pub use url::{LookasideUrl, UrlError};
pub use write::{append_missing, append_signature, write_signatures, WriteError};

use crate::sniff::{sniff, SniffError};

/// Reaching this index is an error, as upstream: at most 127 lookaside
/// signatures can be read per image.
pub const MAX_SIGNATURES: usize = 128;

/// Fetches one signature blob.
pub trait SignatureFetcher {
    /// `Ok(None)` means "not there" (ENOENT, HTTP 404): reading stops
    /// without error. Anything else that is not a blob is an error.
    fn fetch(
        &self,
        url: &LookasideUrl,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, FetchError>> + Send;
}

/// Why an image's lookaside signatures could not be read; aborts the pull.
#[derive(Debug, thiserror::Error)]
pub enum LookasideError {
    #[error("building lookaside URL")]
    Url(#[from] UrlError),
    #[error("server provided {MAX_SIGNATURES} signatures, assuming that's unreasonable and a server error")]
    TooMany,
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("parsing signature {location}")]
    Parse {
        location: String,
        #[source]
        source: SniffError,
    },
}

/// Reads `signature-1`, `signature-2`, … under `repo_base` (from
/// `RegistriesD::read_base`) for `manifest_digest` — the instance digest for
/// a manifest-list instance — until the first missing one.
pub async fn read_signatures<F: SignatureFetcher + Sync>(
    fetcher: &F,
    repo_base: &LookasideUrl,
    manifest_digest: &str,
) -> Result<Vec<Vec<u8>>, LookasideError> {
    let mut out = Vec::new();
    for index in 0.. {
        if index >= MAX_SIGNATURES {
            return Err(LookasideError::TooMany);
        }
        let url = repo_base.signature(manifest_digest, index)?;
        let Some(blob) = fetcher.fetch(&url).await? else {
            break;
        };
        if let Err(source) = sniff(&blob) {
            let location = match url.scheme() {
                Some("file") => format!("{:?}", url.path()),
                _ => url.to_string(),
            };
            return Err(LookasideError::Parse { location, source });
        }
        out.push(blob);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
