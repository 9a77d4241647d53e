//! Docker references exactly as containers/image's `docker/reference` fork
//! parses and normalises them (docs/trust-formats.md §6).
//!
//! Signature matching needs distinctions that a pull-oriented reference type
//! erases: a name-only reference (`busybox`) stays name-only — `:latest` is
//! never added to a signature's identity — a reference may carry both a tag
//! and a digest, and upper-case domains stay as written. Keep in sync with §6.

use std::fmt;

/// Why a reference string was refused, in containers/image's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    #[error("invalid reference format")]
    Format,
    #[error("repository name must have at least one component")]
    Empty,
    #[error("repository name must not be more than 255 characters")]
    TooLong,
    #[error(transparent)]
    Digest(#[from] DigestFormatError),
    /// `ParseNamed`: the input is valid but not in its normalised form.
    #[error("repository name must be canonical")]
    NotCanonical,
}

/// go-digest's validation errors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestFormatError {
    #[error("invalid checksum digest format")]
    Format,
    #[error("invalid checksum digest length")]
    Length,
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// A parsed docker reference: `[domain/]path[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DockerRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

const DEFAULT_DOMAIN: &str = "docker.io";

impl DockerRef {
    /// `ParseNormalizedNamed`: expands `busybox` to `docker.io/library/busybox`
    /// (without adding a tag).
    pub fn parse_normalized(s: &str) -> Result<Self, RefError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(RefError::HexName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split(':').next().unwrap_or("");
        if remote_name.to_lowercase() != remote_name {
            return Err(RefError::Uppercase);
        }
        Self::parse_full(&format!("{domain}/{remainder}"))
    }

    /// `ParseNamed`: like [`parse_normalized`](Self::parse_normalized) but the
    /// input must already be in normalised form.
    pub fn parse_canonical(s: &str) -> Result<Self, RefError> {
        let r = Self::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(RefError::NotCanonical);
        }
        Ok(r)
    }

    /// `reference.Parse` over an already domain-prefixed string.
    fn parse_full(s: &str) -> Result<Self, RefError> {
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        let Some((name, tag, digest)) = grammar(s) else {
            if grammar(&s.to_lowercase()).is_some() {
                return Err(RefError::Uppercase);
            }
            return Err(RefError::Format);
        };
        if name.len() > 255 {
            return Err(RefError::TooLong);
        }
        if let Some(d) = digest {
            validate_digest(d)?;
        }
        let (domain, path) = split_domain(name);
        Ok(Self {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// The registry part (`docker.io`, `localhost:5000`); may be empty for
    /// the odd inputs whose first component is not a valid domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `Name()`: domain and path, without tag or digest.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository with `tag` and/or `digest` in place of its own.
    pub fn with_parts(&self, tag: Option<&str>, digest: Option<&str>) -> Self {
        Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        }
    }

    /// Neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The short form podman prints (`busybox:latest`, `quay.io/ns/app:v1`).
    pub fn familiar(&self) -> String {
        let mut out = if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        };
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        }
        out
    }
}

impl fmt::Display for DockerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The reference regexp: `name[:tag][@digest]` split into its parts when
/// every part matches its grammar.
fn grammar(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // The tag separator is the last ':' after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    let ok =
        valid_name(name) && tag.is_none_or(valid_tag) && digest.is_none_or(valid_digest_syntax);
    ok.then_some((name, tag, digest))
}

/// `splitDockerDomain`: the first component is a domain only if it looks like one.
fn split_docker_domain(s: &str) -> (String, String) {
    let (mut domain, mut remainder) = match s.split_once('/') {
        Some((d, r)) if d.contains(['.', ':']) || d == "localhost" => {
            (d.to_string(), r.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), s.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

/// Splits a valid name the way the anchored name regexp does: the first
/// component is the domain when it matches the domain grammar and more follow.
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest)) if valid_domain(first) => (first, rest),
        _ => ("", name),
    }
}

fn valid_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let Some(first) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    let first_ok = if rest.is_empty() {
        valid_component(first)
    } else {
        valid_domain(first) || valid_component(first)
    };
    first_ok && rest.iter().all(|c| valid_component(c))
}

/// `domain := dcomp ("." dcomp)* [":" [0-9]+]`.
pub fn valid_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let dcomp = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
    };
    host.split('.').all(dcomp)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `component := [a-z0-9]+ ((\.|_|__|-*)[a-z0-9]+)*`.
pub fn valid_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|x| word(*x) || *x == b'.' || *x == b'-')
}

/// The reference grammar's digest shape (`algo:` then ≥ 32 hex digits).
fn valid_digest_syntax(s: &str) -> bool {
    let Some((algo, hex)) = s.split_once(':') else {
        return false;
    };
    valid_algorithm(algo) && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
fn valid_algorithm(s: &str) -> bool {
    !s.is_empty()
        && s.split(['-', '_', '+', '.']).all(|part| {
            let b = part.as_bytes();
            !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
        })
}

/// go-digest `Digest.Validate`: registered algorithm, lower-case hex of the right length.
pub fn validate_digest(s: &str) -> Result<(), DigestFormatError> {
    let Some(i) = s.find(':').filter(|i| *i > 0 && i + 1 < s.len()) else {
        return Err(DigestFormatError::Format);
    };
    let (algo, hex) = (&s[..i], &s[i + 1..]);
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            let generic = valid_algorithm(algo)
                && !hex.is_empty()
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
            return Err(if generic {
                DigestFormatError::Unsupported
            } else {
                DigestFormatError::Format
            });
        }
    };
    if hex.len() != len {
        return Err(DigestFormatError::Length);
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(DigestFormatError::Format);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_per_spec_table() {
        let d = format!("@sha256:{H}");
        let cases: Vec<(String, String, String)> = vec![
            (
                "busybox".into(),
                "docker.io/library/busybox".into(),
                "docker.io/library/busybox".into(),
            ),
            (
                "busybox:latest".into(),
                "docker.io/library/busybox:latest".into(),
                "docker.io/library/busybox".into(),
            ),
            (
                "library/busybox:latest".into(),
                "docker.io/library/busybox:latest".into(),
                "docker.io/library/busybox".into(),
            ),
            (
                "docker.io/busybox:latest".into(),
                "docker.io/library/busybox:latest".into(),
                "docker.io/library/busybox".into(),
            ),
            (
                "index.docker.io/busybox:latest".into(),
                "docker.io/library/busybox:latest".into(),
                "docker.io/library/busybox".into(),
            ),
            (
                "ns/repo:1".into(),
                "docker.io/ns/repo:1".into(),
                "docker.io/ns/repo".into(),
            ),
            (
                "localhost/repo:1".into(),
                "localhost/repo:1".into(),
                "localhost/repo".into(),
            ),
            (
                "notlocalhost/repo:1".into(),
                "docker.io/notlocalhost/repo:1".into(),
                "docker.io/notlocalhost/repo".into(),
            ),
            (
                format!("example.com:5000/a/b{d}"),
                format!("example.com:5000/a/b{d}"),
                "example.com:5000/a/b".into(),
            ),
            (
                format!("busybox:latest{d}"),
                format!("docker.io/library/busybox:latest{d}"),
                "docker.io/library/busybox".into(),
            ),
            (
                "DOCKER.IO/library/busybox:latest".into(),
                "DOCKER.IO/library/busybox:latest".into(),
                "DOCKER.IO/library/busybox".into(),
            ),
        ];
        for (input, string, name) in cases {
            let r = DockerRef::parse_normalized(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), string, "{input}");
            assert_eq!(r.name(), name, "{input}");
        }
        assert!(DockerRef::parse_normalized("busybox")
            .unwrap()
            .is_name_only());
    }

    #[test]
    fn refuses_per_spec_table() {
        let cases = [
            ("docker.io/library/BusyBox:latest", RefError::Uppercase),
            ("UPPERCASEISINVALID", RefError::Uppercase),
            ("", RefError::Format),
            ("INVALID", RefError::Uppercase),
            ("a b", RefError::Format),
            ("busybox@sha256:../..", RefError::Format),
            ("example.com/", RefError::Format),
            ("example.com/repo/", RefError::Format),
        ];
        for (input, want) in cases {
            assert_eq!(
                DockerRef::parse_normalized(input).unwrap_err(),
                want,
                "{input:?}"
            );
        }
        assert_eq!(
            DockerRef::parse_normalized(H).unwrap_err(),
            RefError::HexName(H.into())
        );
        let long = format!("a/{}", "b".repeat(260));
        assert_eq!(
            DockerRef::parse_normalized(&long).unwrap_err(),
            RefError::TooLong
        );
        let short_digest = format!("busybox@sha256:{}", &H[..40]);
        assert_eq!(
            DockerRef::parse_normalized(&short_digest).unwrap_err(),
            RefError::Digest(DigestFormatError::Length)
        );
    }

    #[test]
    fn canonical_parsing() {
        assert!(DockerRef::parse_canonical("docker.io/library/busybox:latest").is_ok());
        assert_eq!(
            DockerRef::parse_canonical("busybox:latest").unwrap_err(),
            RefError::NotCanonical
        );
        assert_eq!(
            DockerRef::parse_canonical("docker.io/busybox:1").unwrap_err(),
            RefError::NotCanonical
        );
    }

    #[test]
    fn familiar_form() {
        let cases = [
            ("busybox:latest", "busybox:latest"),
            ("docker.io/ns/app:1", "ns/app:1"),
            ("docker.io/library/a/b:1", "library/a/b:1"),
            ("quay.io/ns/app:1", "quay.io/ns/app:1"),
        ];
        for (input, want) in cases {
            assert_eq!(DockerRef::parse_normalized(input).unwrap().familiar(), want);
        }
    }

    #[test]
    fn digest_validation() {
        assert_eq!(validate_digest(&format!("sha256:{H}")), Ok(()));
        assert_eq!(
            validate_digest("sha256:../hello"),
            Err(DigestFormatError::Length)
        );
        assert_eq!(
            validate_digest(&format!("sha256:{}", H.to_uppercase())),
            Err(DigestFormatError::Format)
        );
        assert_eq!(
            validate_digest("md5:abc"),
            Err(DigestFormatError::Unsupported)
        );
        assert_eq!(validate_digest("nocolon"), Err(DigestFormatError::Format));
        assert_eq!(validate_digest(":abc"), Err(DigestFormatError::Format));
    }
}
