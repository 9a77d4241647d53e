//! Image references for moving images: a [`DockerRef`] (containers/image's
//! grammar and normalisation, `alpine` → `docker.io/library/alpine`) that
//! always names something to fetch — a name-only reference gets `:latest`,
//! as podman pulls it — with a clear error naming the input.
//!
//! Signature matching needs the name-only form kept as it is; it uses
//! [`crate::docker_ref::DockerRef`] directly.

use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::Reference;

use crate::docker_ref::{DockerRef, RefError as GrammarError};

/// Why a reference string was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct RefError {
    input: String,
    #[source]
    reason: GrammarError,
}

/// A parsed, fully normalised docker reference (`registry/repo[:tag][@digest]`).
///
/// Always carries a registry and a repository; a reference given with
/// neither tag nor digest gets the tag `latest`, as podman does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    inner: DockerRef,
    oci: Reference,
}

impl ImageRef {
    /// Parses `s`, accepting an optional `docker://` transport prefix as podman does.
    pub fn parse(s: &str) -> Result<Self, RefError> {
        let body = s.strip_prefix("docker://").unwrap_or(s);
        let r = DockerRef::parse_normalized(body).map_err(|reason| RefError {
            input: s.to_string(),
            reason,
        })?;
        Ok(if r.is_name_only() {
            Self::from_docker(r.with_parts(Some("latest"), None))
        } else {
            Self::from_docker(r)
        })
    }

    fn from_docker(inner: DockerRef) -> Self {
        let (registry, repo) = (inner.domain().to_string(), inner.path().to_string());
        let oci = match (inner.tag(), inner.digest()) {
            (Some(t), Some(d)) => {
                Reference::with_tag_and_digest(registry, repo, t.into(), d.into())
            }
            (None, Some(d)) => Reference::with_digest(registry, repo, d.into()),
            (t, None) => Reference::with_tag(registry, repo, t.unwrap_or("latest").into()),
        };
        Self { inner, oci }
    }

    /// The registry host (with port), e.g. `localhost:5000` or `docker.io`.
    pub fn registry(&self) -> &str {
        self.inner.domain()
    }

    /// The repository path inside the registry, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        self.inner.path()
    }

    /// The tag, if the reference names one.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest (`sha256:…`), if the reference names one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// `registry/repository`: the "repository name" that policy scopes and the
    /// lookaside layout (`<name>@sha256=<hex>`) are keyed by.
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// The same repository with `tag` instead of any tag or digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self::from_docker(self.inner.with_parts(Some(tag), None))
    }

    /// The same repository addressed by `digest` only (what a verified pull fetches).
    pub fn with_digest(&self, digest: &str) -> Self {
        Self::from_docker(self.inner.with_parts(None, Some(digest)))
    }

    /// The containers/image view of this reference, for policy and lookaside.
    pub fn as_docker(&self) -> &DockerRef {
        &self.inner
    }

    /// The oci-client view of this reference.
    pub fn as_oci(&self) -> &Reference {
        &self.oci
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl FromStr for ImageRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_containers_image() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("docker://alpine", "docker.io/library/alpine:latest"),
            ("library/alpine:3", "docker.io/library/alpine:3"),
            ("quay.io/a/b", "quay.io/a/b:latest"),
            ("localhost/httpd", "localhost/httpd:latest"),
            ("localhost:5000/httpd:v1", "localhost:5000/httpd:v1"),
            (
                "localhost:5000/x@sha256:0123456789012345678901234567890123456789012345678901234567890123",
                "localhost:5000/x@sha256:0123456789012345678901234567890123456789012345678901234567890123",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(ImageRef::parse(input).unwrap().to_string(), want, "{input}");
        }
    }

    #[test]
    fn refuses_invalid_references() {
        for bad in [
            "",
            "UPPER/case",
            "a b",
            "x:",
            "x@sha256:abc",
            "x@md5:0123456789012345678901234567890123456789012345678901234567890123",
            "-leading/dash",
        ] {
            let err = ImageRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid image reference"), "{bad}: {err}");
        }
    }
}
