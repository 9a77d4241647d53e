//! skopeo's registry housekeeping: `inspect docker://…`, `list-tags` and
//! `delete`, with containers/image's (v5.22) requests and skopeo 1.9.3's
//! output bytes. The requests oci-client has no call for (tag listing with
//! `Link` pagination, manifest DELETE, a GET whose bytes give the digest to
//! delete) go through [`crate::referrers::http::RawClient`], with the same
//! TLS and credentials as [`crate::registry::Registry`] and every body capped.

pub mod config;
pub mod delete;
pub mod go_indent;
pub mod go_time;
pub mod inspect;
pub mod platform;
pub mod tags;

use crate::manifest::ManifestError;
use crate::referrers::http::HttpError;
use crate::registry::RegistryError;

/// Why a remote inspect, tag listing or delete failed; every message names
/// the reference or URL.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{reference}")]
    Manifest {
        reference: String,
        #[source]
        source: ManifestError,
    },
    #[error("{reference}")]
    Config {
        reference: String,
        #[source]
        source: config::ConfigError,
    },
    #[error("{reference}: no image found in manifest list for architecture {arch}, variant {variant:?}, OS {os}")]
    NoPlatform {
        reference: String,
        arch: String,
        variant: String,
        os: String,
    },
    #[error(
        "{reference}: unsupported image-specific operation on artifact with type {media_type:?}"
    )]
    Artifact {
        reference: String,
        media_type: String,
    },
    #[error("{url}: {what}: {detail}")]
    Status {
        url: String,
        what: &'static str,
        detail: String,
    },
    #[error("{url}: the tag list is not JSON of the expected shape: {detail}")]
    TagsJson { url: String, detail: String },
    #[error("{url}: the tag list pages loop, or exceed {limit} bytes or {max_pages} pages in all", max_pages = tags::MAX_PAGES)]
    TagsTooLarge { url: String, limit: u64 },
    #[error("Unable to delete {reference}. Image may not exist or is not stored with a v2 Schema in a v2 registry")]
    DeleteUnknown { reference: String },
    #[error("{reference}: computing manifest digest")]
    Digest {
        reference: String,
        #[source]
        source: crate::manifest_digest::DigestError,
    },
}

/// The registry's own words for a failed request: the first `errors[].message`
/// of a distribution error body, else the HTTP status.
pub(crate) fn error_detail(status: reqwest::StatusCode, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errors")?
                .as_array()?
                .first()?
                .get("message")?
                .as_str()
                .map(str::to_string)
        })
        .filter(|m| !m.is_empty());
    match message {
        Some(m) => format!("{m} (HTTP {})", status.as_u16()),
        None => format!("HTTP {}", status),
    }
}
