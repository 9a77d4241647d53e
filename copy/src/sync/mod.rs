//! skopeo's `sync`: every image of a registry repository, a directory tree
//! of `dir:` images, or a YAML list, copied one by one through the same
//! engine as `copy` (so each is judged by the policy and carries its
//! signatures). A sync killed and run again ends where an uninterrupted
//! one would: the engine skips the blobs a destination has, stores only
//! the signatures it lacks, and writes each manifest after its blobs and
//! signatures, so a rerun redoes at most the images in flight.

pub mod config;
pub mod gopath;
pub mod naming;
pub mod plan;
pub mod run;
pub mod sources;

use std::path::PathBuf;

use vouch_image::ImageRef;

/// `--src`: skopeo's source transports for sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Docker,
    Dir,
    Yaml,
}

/// `--dest`: skopeo's destination transports for sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestKind {
    Docker,
    Dir,
}

impl SourceKind {
    /// skopeo's words for a missing or unknown transport.
    pub fn parse(s: &str) -> Result<Self, SyncError> {
        match s {
            "" => Err(SyncError::Usage(
                "A source transport must be specified".into(),
            )),
            "docker" => Ok(Self::Docker),
            "dir" => Ok(Self::Dir),
            "yaml" => Ok(Self::Yaml),
            other => Err(SyncError::Usage(format!(
                "{other:?} is not a valid source transport"
            ))),
        }
    }
}

impl DestKind {
    pub fn parse(s: &str) -> Result<Self, SyncError> {
        match s {
            "" => Err(SyncError::Usage(
                "A destination transport must be specified".into(),
            )),
            "docker" => Ok(Self::Docker),
            "dir" => Ok(Self::Dir),
            other => Err(SyncError::Usage(format!(
                "{other:?} is not a valid destination transport"
            ))),
        }
    }
}

/// One image a sync source yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceImage {
    /// Tagged or by digest.
    Docker(ImageRef),
    /// A directory holding `manifest.json`, spelt as the walk found it.
    Dir(String),
}

impl SourceImage {
    pub fn name(&self) -> crate::ImageName {
        match self {
            Self::Docker(r) => crate::ImageName::Docker(r.clone()),
            Self::Dir(p) => crate::ImageName::Dir(p.into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Usage(String),
    #[error("{}: {detail}", file.display())]
    Config { file: PathBuf, detail: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot obtain a valid image reference for transport {transport:?} and reference {reference:?}: {detail}")]
    Destination {
        transport: &'static str,
        reference: String,
        detail: String,
    },
    #[error("Refusing to overwrite destination directory {0:?}")]
    DestinationExists(String),
    #[error("Invalid source directory specified: {path}")]
    SourceDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Error walking the path {path:?}")]
    Walk {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("No images to sync found in {0:?}")]
    Empty(String),
    #[error("Cannot obtain a valid image reference for transport \"docker\" and reference {reference:?}: {detail}")]
    SourceName { reference: String, detail: String },
    #[error("Error determining repository tags for image {image}: {detail}")]
    Tags { image: String, detail: String },
}
