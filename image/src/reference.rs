//! Docker image references, parsed and normalised as containers/image does.
//!
//! The grammar and the normalisation (`alpine` → `docker.io/library/alpine:latest`)
//! come from oci-spec's implementation of the distribution reference grammar;
//! this module adds the rules vouch needs on top: a clear error naming the
//! input, and the "named reference" strings that policy.json scopes and the
//! lookaside layout are keyed by.

use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::Reference;

/// Why a reference string was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct RefError {
    input: String,
    #[source]
    reason: RefErrorKind,
}

/// The rule a refused reference broke.
#[derive(Debug, thiserror::Error)]
pub enum RefErrorKind {
    #[error(transparent)]
    Grammar(#[from] oci_spec::distribution::ParseError),
    /// oci-spec's pattern lets an uppercase first component through when it is
    /// then read as a path, not a host; the distribution grammar does not.
    #[error("repository name must be lowercase")]
    Uppercase,
}

/// A parsed, fully normalised docker reference (`registry/repo[:tag][@digest]`).
///
/// Always carries a registry and a repository; a reference given with
/// neither tag nor digest gets the tag `latest`, as podman does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    inner: Reference,
}

impl ImageRef {
    /// Parses `s`, accepting an optional `docker://` transport prefix as podman does.
    pub fn parse(s: &str) -> Result<Self, RefError> {
        let body = s.strip_prefix("docker://").unwrap_or(s);
        let fail = |reason: RefErrorKind| RefError {
            input: s.to_string(),
            reason,
        };
        let inner = Reference::from_str(body).map_err(|e| fail(e.into()))?;
        if inner.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(fail(RefErrorKind::Uppercase));
        }
        Ok(Self { inner })
    }

    /// The registry host (with port), e.g. `localhost:5000` or `docker.io`.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository path inside the registry, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        self.inner.repository()
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
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The same repository with `tag` instead of any tag or digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            inner: Reference::with_tag(
                self.registry().to_string(),
                self.repository().to_string(),
                tag.to_string(),
            ),
        }
    }

    /// The same repository addressed by `digest` only (what a verified pull fetches).
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            inner: Reference::with_digest(
                self.registry().to_string(),
                self.repository().to_string(),
                digest.to_string(),
            ),
        }
    }

    /// The oci-client view of this reference.
    pub fn as_oci(&self) -> &Reference {
        &self.inner
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = self.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(d) = self.digest() {
            write!(f, "@{d}")?;
        }
        Ok(())
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
