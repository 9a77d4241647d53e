//! Bearer tokens for publishing, stored hashed (keep in sync with
//! docs/sigstore-server.md "Tokens").
//!
//! File format, one token per line; blank lines and `#` comments ignored:
//!
//! ```text
//! sha256:<64 hex of SHA-256(token)> <prefix>[,<prefix>…] [<label>]
//! ```
//!
//! A prefix is a repository path (`ns/app`, `ns`) matching itself and
//! everything below it on a `/` boundary, or `*` for every repository. The
//! label names the publisher in logs. Only hashes are stored, so the file
//! can be read by operators and backed up without leaking credentials;
//! tokens are long random strings, so an unsalted fast hash is adequate.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::path::valid_prefix;

/// Why a token file was refused; names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading token file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Line {
        path: String,
        line: usize,
        problem: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    hash: [u8; 32],
    prefixes: Vec<String>,
    label: String,
}

/// The parsed token file.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

/// Outcome of checking a presented token against a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Known token allowed for the repository; carries its label.
    Granted(String),
    /// Known token, but not for this repository (403).
    Forbidden(String),
    /// Unknown token (401).
    Unknown,
}

/// `sha256:<hex>` of a token: the first field of a token-file line.
pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

impl Tokens {
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|(line, problem)| TokenFileError::Line {
            path: path.display().to_string(),
            line,
            problem,
        })
    }

    /// Parses the file text; errors carry the 1-based line number.
    pub fn parse(text: &str) -> Result<Self, (usize, &'static str)> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |p| (i + 1, p);
            let mut fields = line.split_whitespace();
            let hash = fields.next().ok_or(err("missing hash"))?;
            let hex = hash
                .strip_prefix("sha256:")
                .ok_or(err("hash must start with sha256:"))?;
            let mut bytes = [0u8; 32];
            if hex.len() != 64 || hex::decode_to_slice(hex, &mut bytes).is_err() {
                return Err(err("hash must be 64 hex digits"));
            }
            let prefixes: Vec<String> = fields
                .next()
                .ok_or(err("missing repository prefixes"))?
                .split(',')
                .map(str::to_string)
                .collect();
            if prefixes.iter().any(|p| p != "*" && !valid_prefix(p)) {
                return Err(err("invalid repository prefix"));
            }
            let label = fields.next().unwrap_or("").to_string();
            if fields.next().is_some() {
                return Err(err("too many fields"));
            }
            entries.push(Entry {
                hash: bytes,
                prefixes,
                label: if label.is_empty() {
                    format!("line {}", i + 1)
                } else {
                    label
                },
            });
        }
        Ok(Tokens { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks `token` for writing under repository path `repo`.
    pub fn check(&self, token: &str, repo: &str) -> Access {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare against every entry without early exit: the loop's timing
        // depends on the file, not on how much of a hash matched.
        let mut found: Option<&Entry> = None;
        for e in &self.entries {
            let diff = e
                .hash
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && found.is_none() {
                found = Some(e);
            }
        }
        match found {
            None => Access::Unknown,
            Some(e) if e.prefixes.iter().any(|p| prefix_matches(p, repo)) => {
                Access::Granted(e.label.clone())
            }
            Some(e) => Access::Forbidden(e.label.clone()),
        }
    }
}

fn prefix_matches(prefix: &str, repo: &str) -> bool {
    prefix == "*"
        || repo == prefix
        || repo
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        let text = format!(
            "# ci tokens\n\n{} ns/app,other ci-release # release pipeline\n{} *\n",
            hash_token("s3cret"),
            hash_token("admin")
        );
        let t = Tokens::parse(&text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.check("s3cret", "ns/app"),
            Access::Granted("ci-release".into())
        );
        assert_eq!(
            t.check("s3cret", "ns/app/sub"),
            Access::Granted("ci-release".into())
        );
        assert_eq!(
            t.check("s3cret", "other"),
            Access::Granted("ci-release".into())
        );
        assert_eq!(
            t.check("s3cret", "ns/application"),
            Access::Forbidden("ci-release".into())
        );
        assert_eq!(
            t.check("s3cret", "ns"),
            Access::Forbidden("ci-release".into())
        );
        assert_eq!(t.check("S3cret", "ns/app"), Access::Unknown);
        assert_eq!(t.check("", "ns/app"), Access::Unknown);
        assert_eq!(t.check("admin", "x/y"), Access::Granted("line 4".into()));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let h = hash_token("x");
        for (text, line) in [
            ("sha1:abc ns".to_string(), 1),
            (format!("\n{h}"), 2),
            ("sha256:zz ns".into(), 1),
            (format!("{h} ../x"), 1),
            (format!("{h} ns a b"), 1),
            (format!("{h} ns,"), 1),
        ] {
            assert_eq!(Tokens::parse(&text).unwrap_err().0, line, "{text}");
        }
    }
}
