//! The request-path grammar: the only paths the server ever maps to files.
//!
//! Rather than "normalise, then check that the result stays under the root"
//! (the approach that keeps producing traversal CVEs in static file servers),
//! a path is accepted only if it *is* a lookaside location as containers/image
//! builds it (docs/trust-formats.md §4.3, keep in sync):
//!
//! ```text
//! /<prefix/…/repo>@<algo>=<hex>/signature-<N>     (GET, HEAD, PUT)
//! /<prefix/…/repo>@<algo>=<hex>/signatures        (POST: next free N)
//! ```
//!
//! Every segment is non-empty, made of `[A-Za-z0-9._-]`, and never starts
//! with `.` — which rules out `.`, `..`, hidden files and the server's own
//! `.upload-*` temporaries. Percent escapes are decoded once, and only to
//! bytes of that same alphabet plus `@`, `=`, so `%2e%2e`, `%2f`, `%5c`, `%00`
//! and double encodings (`%252e`) are refused before any segment check.
//! Symlinks are the file layer's business (`fsops::open_beneath`).

use std::borrow::Cow;

/// Longest accepted path (decoded), far beyond any real repository name.
pub const MAX_PATH: usize = 1024;

/// Highest index written by uploads: containers/image stops with an error once
/// it has read 128 signatures (docs/trust-formats.md §4.4), so a 128th would
/// make every signature of the image unreadable.
pub const MAX_INDEX: u32 = 127;

/// What a valid path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `…/signature-N`.
    Signature(u32),
    /// `…/signatures`, the upload collection.
    Collection,
}

/// A request path that passed the grammar; borrows the request when no
/// escapes had to be decoded (the common case, no allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigPath<'a> {
    rel: Cow<'a, str>,
    at: usize,
    eq: usize,
    slash: usize,
    target: Target,
}

/// Why a path was refused. [`PathError::is_malformed`] separates hostile or
/// broken input (400) from well-formed paths that can't name a signature (404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must start with /")]
    NotAbsolute,
    #[error("path too long")]
    TooLong,
    #[error("invalid percent escape")]
    BadEscape,
    #[error("forbidden character in path")]
    BadChar,
    #[error("empty path segment")]
    EmptySegment,
    #[error("path segment starts with a dot")]
    DotSegment,
    #[error("not a signature path")]
    NotSignaturePath,
    #[error("invalid digest in path")]
    BadDigest,
    #[error("invalid signature index")]
    BadIndex,
}

impl PathError {
    /// True for input no client following §4.3 produces (traversal attempts,
    /// stray bytes): answered 400 rather than 404.
    pub fn is_malformed(&self) -> bool {
        !matches!(
            self,
            Self::NotSignaturePath | Self::BadDigest | Self::BadIndex
        )
    }
}

impl<'a> SigPath<'a> {
    /// Parses the path component of a request URI (query already stripped).
    pub fn parse(raw: &'a str) -> Result<Self, PathError> {
        let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        if rest.len() > MAX_PATH * 3 {
            return Err(PathError::TooLong);
        }
        let rel = if rest.contains('%') {
            Cow::Owned(decode(rest)?)
        } else {
            Cow::Borrowed(rest)
        };
        if rel.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Self::from_rel(rel)
    }

    fn from_rel(rel: Cow<'a, str>) -> Result<Self, PathError> {
        let s: &str = &rel;
        for seg in s.split('/') {
            check_segment(seg)?;
        }
        let slash = s.rfind('/').ok_or(PathError::NotSignaturePath)?;
        let (dir, file) = (&s[..slash], &s[slash + 1..]);
        let target = parse_file(file)?;
        let last = dir.rfind('/').map_or(0, |i| i + 1);
        let at = last + dir[last..].find('@').ok_or(PathError::NotSignaturePath)?;
        let eq = at + dir[at..].find('=').ok_or(PathError::BadDigest)?;
        if at == last {
            return Err(PathError::NotSignaturePath);
        }
        let (name, algo, hex) = (&dir[last..at], &dir[at + 1..eq], &dir[eq + 1..]);
        if dir[..last].contains(['@', '=']) {
            return Err(PathError::NotSignaturePath);
        }
        if name.contains(['@', '=']) || !valid_digest(algo, hex) {
            return Err(PathError::BadDigest);
        }
        Ok(Self {
            rel,
            at,
            eq,
            slash,
            target,
        })
    }

    /// The whole path relative to the root (`ns/app@sha256=…/signature-1`).
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// The signature directory relative to the root (`ns/app@sha256=…`).
    pub fn dir(&self) -> &str {
        &self.rel[..self.slash]
    }

    /// The repository path including any prefix directories (`ns/app`):
    /// what token prefixes are matched against.
    pub fn repo(&self) -> &str {
        &self.rel[..self.at]
    }

    /// The digest in containers/image's `algo:hex` spelling.
    pub fn digest(&self) -> String {
        format!(
            "{}:{}",
            &self.rel[self.at + 1..self.eq],
            &self.rel[self.eq + 1..self.slash]
        )
    }

    pub fn target(&self) -> Target {
        self.target
    }
}

/// Checks a repository prefix as written in a token file (`ns/app`, `ns`).
pub fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= MAX_PATH
        && prefix
            .split('/')
            .all(|s| check_segment(s).is_ok() && !s.contains(['@', '=']))
}

fn check_segment(seg: &str) -> Result<(), PathError> {
    let Some(&first) = seg.as_bytes().first() else {
        return Err(PathError::EmptySegment);
    };
    if first == b'.' {
        return Err(PathError::DotSegment);
    }
    if !seg
        .bytes()
        .all(|b| segment_byte(b) || b == b'@' || b == b'=')
    {
        return Err(PathError::BadChar);
    }
    Ok(())
}

fn segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// `signature-N` (decimal, no sign, no leading zero) or `signatures`.
fn parse_file(file: &str) -> Result<Target, PathError> {
    if file == "signatures" {
        return Ok(Target::Collection);
    }
    let digits = file
        .strip_prefix("signature-")
        .ok_or(PathError::NotSignaturePath)?;
    if digits.is_empty()
        || digits.len() > 10
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PathError::BadIndex);
    }
    digits
        .parse::<u32>()
        .map(Target::Signature)
        .map_err(|_| PathError::BadIndex)
}

/// Digest algorithms go-digest registers, with their hex lengths.
fn valid_digest(algo: &str, hex: &str) -> bool {
    let want = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == want && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Decodes `%XX` escapes, refusing any escape that doesn't decode to a byte
/// a path may contain literally (so `/`, `\`, NUL, `%` never appear encoded).
fn decode(s: &str) -> Result<String, PathError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let lo = b.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::BadEscape);
            };
            let byte = (hi * 16 + lo) as u8;
            if !(segment_byte(byte) || byte == b'@' || byte == b'=') {
                return Err(PathError::BadEscape);
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // Every pushed byte is ASCII or copied from valid UTF-8 input.
    String::from_utf8(out).map_err(|_| PathError::BadChar)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// At least twenty ways of spelling "somewhere outside the root"; all
    /// must be refused as malformed (400) or unknown (404), never parsed.
    #[test]
    fn traversal_table() {
        let cases = [
            "/../../etc/passwd".to_string(),
            "/..".into(),
            "/.".into(),
            format!("/ns/app@sha256={HEX}/../../../etc/passwd"),
            format!("/ns/../app@sha256={HEX}/signature-1"),
            format!("/%2e%2e/app@sha256={HEX}/signature-1"),
            format!("/%2E%2E/app@sha256={HEX}/signature-1"),
            format!("/.%2e/app@sha256={HEX}/signature-1"),
            format!("/%2e./app@sha256={HEX}/signature-1"),
            format!("/%252e%252e/app@sha256={HEX}/signature-1"),
            format!("/ns%2f..%2fapp@sha256={HEX}/signature-1"),
            format!("/ns%2F..%2Fapp@sha256={HEX}/signature-1"),
            format!("/ns/app@sha256={HEX}%2fsignature-1"),
            format!("/..%5c..%5cetc/app@sha256={HEX}/signature-1"),
            format!("/..\\..\\etc/app@sha256={HEX}/signature-1"),
            format!("/ns\\app@sha256={HEX}/signature-1"),
            format!("/ns/app@sha256={HEX}/signature-1%00"),
            format!("/ns/app@sha256={HEX}/signature-1\0"),
            format!("/ns/app%00@sha256={HEX}/signature-1"),
            format!("//etc/app@sha256={HEX}/signature-1"),
            format!("/etc//app@sha256={HEX}/signature-1"),
            "/etc/passwd".into(),
            format!("etc/app@sha256={HEX}/signature-1"),
            format!("/ns/app@sha256={HEX}/signature-1/.."),
            format!("/ns/app@sha256={HEX}/./signature-1"),
            format!("/ns/.hidden@sha256={HEX}/signature-1"),
            format!("/ns/app@sha256={HEX}/.upload-1-2"),
            format!("/%c0%ae%c0%ae/app@sha256={HEX}/signature-1"),
            format!("/%e0%80%ae%e0%80%ae/app@sha256={HEX}/signature-1"),
            format!("/%uff0e%uff0e/app@sha256={HEX}/signature-1"),
            format!("/\u{ff0e}\u{ff0e}/app@sha256={HEX}/signature-1"),
            format!("/ns/app@sha256=../../{HEX}/signature-1"),
            format!("/ns/app@sha256={HEX}/signature-1%"),
            format!("/ns/app@sha256={HEX}/signature-1%2"),
            "/ns/app@sha256=%2e%2e/signature-1".into(),
            format!("/ns/app@sha256={}/signature-1", "a".repeat(2000)),
            format!("/ns/app@sha256={HEX}/signature-1 "),
            format!("/ns/app@sha256={HEX}/signature-01"),
            format!("/ns/app@sha256={HEX}/signature-0"),
            format!("/ns/app@sha256={HEX}/signature--1"),
            format!("/ns/app@sha256={HEX}/signature-99999999999"),
            format!("/ns/app@md5={}/signature-1", &HEX[..32]),
            format!("/ns/app@sha256={}/signature-1", HEX.to_uppercase()),
        ];
        assert!(cases.len() >= 20);
        for c in &cases {
            assert!(SigPath::parse(c).is_err(), "accepted {c:?}");
        }
        for c in [
            "/../../etc/passwd",
            "/%2e%2e/x",
            "/ns%2f..%2fapp@sha256=x/signature-1",
            "//etc/x",
        ] {
            assert!(SigPath::parse(c).unwrap_err().is_malformed(), "{c}");
        }
    }

    #[test]
    fn accepts_lookaside_layout() {
        let raw = format!("/sigs/ns/app@sha256={HEX}/signature-12");
        let p = SigPath::parse(&raw).unwrap();
        assert_eq!(p.repo(), "sigs/ns/app");
        assert_eq!(p.dir(), format!("sigs/ns/app@sha256={HEX}"));
        assert_eq!(p.rel(), format!("sigs/ns/app@sha256={HEX}/signature-12"));
        assert_eq!(p.digest(), format!("sha256:{HEX}"));
        assert_eq!(p.target(), Target::Signature(12));
        assert!(matches!(p.rel, Cow::Borrowed(_)));

        let raw = format!("/library/busy_box-1.x@sha256={HEX}/signatures");
        let p = SigPath::parse(&raw).unwrap();
        assert_eq!(p.target(), Target::Collection);
        assert_eq!(p.repo(), "library/busy_box-1.x");

        // Escaped '@' and '=' (some clients encode them) decode to the same file.
        let raw = format!("/ns/app%40sha256%3D{HEX}/signature-1");
        let p = SigPath::parse(&raw).unwrap();
        assert_eq!(p.rel(), format!("ns/app@sha256={HEX}/signature-1"));
        let raw = format!("/a@sha512={}/signature-4294967295", "f".repeat(128));
        let p = SigPath::parse(&raw).unwrap();
        assert_eq!(p.target(), Target::Signature(u32::MAX));
    }

    #[test]
    fn unknown_shapes_are_404_not_400() {
        for c in [
            format!("/ns/app@sha256={HEX}/manifest.json"),
            format!("/ns/app@sha256={HEX}"),
            "/ns/app/signature-1".into(),
            format!("/ns/app@sha256={}/signature-1", &HEX[1..]),
            format!("/@sha256={HEX}/signature-1"),
            "/healthz/x".into(),
        ] {
            let e = SigPath::parse(&c).unwrap_err();
            assert!(!e.is_malformed(), "{c}: {e}");
        }
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("ns/app"));
        assert!(valid_prefix("library"));
        for bad in [
            "",
            "/ns",
            "ns/",
            "ns//app",
            "..",
            "ns/../x",
            "ns/app@sha256",
            "a\\b",
            ".x",
        ] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }
}
