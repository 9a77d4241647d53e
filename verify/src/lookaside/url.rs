//! Lookaside URLs, parsed and joined the way containers/image does with Go's
//! `net/url` (docs/trust-formats.md §4.3, keep in sync).
//!
//! Go accepts scheme-less values (`/srv/sigs`, `relative/dir`) that the `url`
//! crate would refuse, and the layout is plain string concatenation on the
//! path — no normalisation, so a trailing slash in the base yields `//`.
//! Reproducing that exactly is what makes signatures land where podman looks.

use std::fmt;

use crate::docker_ref::{validate_digest, DigestFormatError, DockerRef};

/// A URL split as Go's `url.URL`: the path is kept decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookasideUrl {
    scheme: Option<String>,
    /// Present when the URL had `//`; may be empty (`file:///x`).
    host: Option<String>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// Why a configured lookaside value or a digest cannot form a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("missing protocol scheme")]
    MissingScheme,
    #[error("invalid URL escape {0:?}")]
    Escape(String),
    #[error("invalid digest {digest:?}: {reason}")]
    Digest {
        digest: String,
        reason: DigestFormatError,
    },
}

impl LookasideUrl {
    /// `url.Parse`.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let (rest, fragment) = match s.split_once('#') {
            Some((r, f)) => (r, Some(f.to_string())),
            None => (s, None),
        };
        let (scheme, rest) = split_scheme(rest)?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_string())),
            None => (rest, None),
        };
        let (host, raw_path) = match rest.strip_prefix("//") {
            Some(after) => match after.find('/') {
                Some(i) => (Some(after[..i].to_string()), &after[i..]),
                None => (Some(after.to_string()), ""),
            },
            None => (None, rest),
        };
        Ok(Self {
            scheme,
            host,
            path: percent_decode(raw_path)?,
            query,
            fragment,
        })
    }

    /// `file://<path>` for a directory given as a path (podman's
    /// `image sign --directory`), built without parsing so a `%`, `?` or
    /// `#` in the path stays part of it.
    pub fn from_dir(path: &str) -> Self {
        Self {
            scheme: Some("file".into()),
            host: Some(String::new()),
            path: path.to_string(),
            query: None,
            fragment: None,
        }
    }

    /// The lower-cased scheme, if any.
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// The decoded path (what a `file:` URL reads).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn with_path(&self, path: String) -> Self {
        Self {
            path,
            ..self.clone()
        }
    }

    /// `base.path + "/" + <repository path>`: the per-repository base (§4.3).
    pub fn for_repository(&self, image: &DockerRef) -> Self {
        self.with_path(format!("{}/{}", self.path, image.path()))
    }

    /// `<repo base>@<algo>=<hex>/signature-<index+1>`; the digest is
    /// validated first so it can never inject `../`.
    pub fn signature(&self, digest: &str, index: usize) -> Result<Self, UrlError> {
        validate_digest(digest).map_err(|reason| UrlError::Digest {
            digest: digest.to_string(),
            reason,
        })?;
        let (algo, hex) = digest.split_once(':').unwrap_or((digest, ""));
        Ok(self.with_path(format!(
            "{}@{algo}={hex}/signature-{}",
            self.path,
            index + 1
        )))
    }
}

impl fmt::Display for LookasideUrl {
    /// `url.URL.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}:")?;
        }
        if let Some(h) = &self.host {
            write!(f, "//{h}")?;
            if !self.path.is_empty() && !self.path.starts_with('/') {
                f.write_str("/")?;
            }
        }
        f.write_str(&percent_encode_path(&self.path))?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        if let Some(fr) = &self.fragment {
            write!(f, "#{fr}")?;
        }
        Ok(())
    }
}

/// Go's `getScheme`: letters, then letters/digits/`+-.`, up to a `:`.
fn split_scheme(s: &str) -> Result<(Option<String>, &str), UrlError> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(UrlError::MissingScheme),
            ':' => return Ok((Some(s[..i].to_ascii_lowercase()), &s[i + 1..])),
            _ => return Ok((None, s)),
        }
    }
    Ok((None, s))
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.len() == 2 && h.bytes().all(|x| x.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                return Err(UrlError::Escape(
                    s.get(i..(i + 3).min(s.len())).unwrap_or("%").to_string(),
                ));
            };
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError::Escape(hex.to_string()))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's path escaping: unreserved characters and `$&+,/:;=@` stay as they are.
fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn url(s: &str) -> LookasideUrl {
        LookasideUrl::parse(s).unwrap()
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(
            url("https://lookaside.example.com").to_string(),
            "https://lookaside.example.com"
        );
        assert_eq!(url("file:///mnt/x").path(), "/mnt/x");
        assert_eq!(url("file:///mnt/x").to_string(), "file:///mnt/x");
        assert_eq!(url("/no/scheme/just/a/path").scheme(), None);
        assert_eq!(
            url("no/scheme/relative/path").path(),
            "no/scheme/relative/path"
        );
        assert_eq!(
            LookasideUrl::parse(":emptyscheme").unwrap_err().to_string(),
            "missing protocol scheme"
        );
        assert_eq!(
            url("HTTPS://h/a%20b?x=1#f").to_string(),
            "https://h/a%20b?x=1#f"
        );
        assert_eq!(url("https://h/a%20b").path(), "/a b");
        assert!(LookasideUrl::parse("https://h/%zz").is_err());
    }

    #[test]
    fn layout_per_spec() {
        // §4.3 examples and §8.6 #125.
        let img =
            DockerRef::parse_normalized(&format!("example.com/my/project@sha256:{HEX}")).unwrap();
        let base = url("https://lookaside.example.com").for_repository(&img);
        assert_eq!(
            base.signature(img.digest().unwrap(), 0)
                .unwrap()
                .to_string(),
            format!("https://lookaside.example.com/my/project@sha256={HEX}/signature-1")
        );
        let joined = url("file:///srv/lookaside");
        let d = format!("sha256:{HEX}");
        assert_eq!(
            joined.signature(&d, 0).unwrap().to_string(),
            format!("file:///srv/lookaside@sha256={HEX}/signature-1")
        );
        assert_eq!(
            joined.signature(&d, 1).unwrap().to_string(),
            format!("file:///srv/lookaside@sha256={HEX}/signature-2")
        );
        assert!(matches!(
            joined.signature("sha256:../hello", 0),
            Err(UrlError::Digest { .. })
        ));

        let app = DockerRef::parse_normalized("127.0.0.1:5000/ns/app:v1").unwrap();
        let d = "sha256:08e356e90ad32cd8f03676fe439a181893199dfd50778ec06cda85c2390f8104";
        assert_eq!(
            url("http://127.0.0.1:8099/sigs").for_repository(&app).signature(d, 0).unwrap().to_string(),
            "http://127.0.0.1:8099/sigs/ns/app@sha256=08e356e90ad32cd8f03676fe439a181893199dfd50778ec06cda85c2390f8104/signature-1"
        );
        // Trailing slash: `//`, as upstream.
        let busybox = DockerRef::parse_normalized("busybox:latest").unwrap();
        assert_eq!(
            url("https://h/sigs/").for_repository(&busybox).to_string(),
            "https://h/sigs//library/busybox"
        );
        // A directory given as a path keeps every character of it.
        let dir = LookasideUrl::from_dir("/srv/a%20b?#");
        let one = dir.for_repository(&app).signature(d, 0).unwrap();
        assert_eq!(one.scheme(), Some("file"));
        assert_eq!(
            one.path(),
            "/srv/a%20b?#/ns/app@sha256=08e356e90ad32cd8f03676fe439a181893199dfd50778ec06cda85c2390f8104/signature-1"
        );
        // Query survives.
        assert_eq!(
            url("https://h/s?x=1").for_repository(&busybox).to_string(),
            "https://h/s/library/busybox?x=1"
        );
    }
}
