//! Why a copy failed, each variant naming the image, file or blob.

use vouch_image::digest::DigestError;
use vouch_image::manifest::ManifestError;
use vouch_image::registry::RegistryError;
use vouch_image::Digest;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// An image name no transport claims, or malformed for its transport;
    /// the message is skopeo's ("Invalid image name …").
    #[error("{0}")]
    Name(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{image}")]
    Manifest {
        image: String,
        #[source]
        source: ManifestError,
    },
    #[error("{image}: blob {digest} failed its integrity check")]
    Integrity {
        image: String,
        digest: Digest,
        #[source]
        source: DigestError,
    },
    #[error("{image}: blob {digest} is {got} bytes, its descriptor declares {want}")]
    Size {
        image: String,
        digest: Digest,
        got: u64,
        want: u64,
    },
    #[error("{path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The destination cannot hold what the copy must write (signatures in
    /// an OCI layout, a manifest type an archive has no place for).
    #[error("{0}")]
    Unsupported(String),
    /// The source's signatures could not be read or written.
    #[error("{image}: {detail}")]
    Signatures { image: String, detail: String },
    #[error("{image}: {detail}")]
    Store { image: String, detail: String },
    /// The policy refused the source: exit 1, not an error.
    #[error(transparent)]
    Rejected(#[from] vouch_verify::policy::Rejected),
    #[error("{image}: {detail}")]
    Policy { image: String, detail: String },
}

impl CopyError {
    pub fn io(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CopyError {
        let path = path.to_string();
        move |source| CopyError::Io { path, source }
    }
}
