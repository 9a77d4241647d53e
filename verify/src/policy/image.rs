//! The image a policy decision is about, as a transport sees it: the
//! identity and namespaces scopes are matched against, the docker reference
//! identity rules compare with, and the `transport:reference` string messages
//! show (containers/image `types.ImageReference` policy methods, §5.3).

use std::path::{Path, PathBuf};

use super::scope::docker_namespaces;
use crate::docker_ref::{DockerRef, RefError};

/// An image reference reduced to what policy evaluation needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyImage {
    transport: String,
    identity: String,
    namespaces: Vec<String>,
    docker_reference: Option<DockerRef>,
    display: String,
}

/// Why an image cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PolicyImageError {
    #[error("invalid docker reference {input:?}")]
    Reference {
        input: String,
        #[source]
        source: RefError,
    },
    #[error("docker reference {0} has neither a tag nor a digest")]
    NameOnly(String),
    #[error("resolving path {path}")]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PolicyImage {
    /// A `docker://` image. `reference` must carry a tag or a digest — what
    /// a pull addresses (`busybox` means `busybox:latest` there; callers
    /// holding a `vouch_image::ImageRef` pass its `to_string()`).
    pub fn docker(reference: &str) -> Result<Self, PolicyImageError> {
        let input = reference.strip_prefix("docker://").unwrap_or(reference);
        let r =
            DockerRef::parse_normalized(input).map_err(|source| PolicyImageError::Reference {
                input: reference.to_string(),
                source,
            })?;
        if r.is_name_only() {
            return Err(PolicyImageError::NameOnly(r.to_string()));
        }
        Ok(Self::from_docker_ref(r))
    }

    /// A `docker://` image from an already parsed reference with a tag or digest.
    pub fn from_docker_ref(r: DockerRef) -> Self {
        Self {
            transport: "docker".to_string(),
            identity: r.to_string(),
            namespaces: docker_namespaces(&r),
            display: format!("docker://{}", r.familiar()),
            docker_reference: Some(r),
        }
    }

    /// A `dir:` image: identity is the resolved absolute path, namespaces its
    /// parents down to (not including) `/`. It has no docker identity.
    pub fn dir(path: &Path) -> Result<Self, PolicyImageError> {
        let resolved = std::fs::canonicalize(path).map_err(|source| PolicyImageError::Path {
            path: path.to_path_buf(),
            source,
        })?;
        let identity = resolved.to_string_lossy().into_owned();
        let namespaces = resolved
            .ancestors()
            .skip(1)
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| p != "/" && !p.is_empty())
            .collect();
        Ok(Self {
            transport: "dir".to_string(),
            identity,
            namespaces,
            docker_reference: None,
            display: format!("dir:{}", path.display()),
        })
    }

    /// Any other transport, described directly (tests, future transports).
    pub fn custom(
        transport: &str,
        identity: &str,
        namespaces: Vec<String>,
        docker_reference: Option<DockerRef>,
        display: &str,
    ) -> Self {
        Self {
            transport: transport.to_string(),
            identity: identity.to_string(),
            namespaces,
            docker_reference,
            display: display.to_string(),
        }
    }

    pub fn transport(&self) -> &str {
        &self.transport
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    pub fn docker_reference(&self) -> Option<&DockerRef> {
        self.docker_reference.as_ref()
    }

    /// `transport:reference` as messages show it (`docker://busybox:latest`).
    pub fn display(&self) -> &str {
        &self.display
    }
}
