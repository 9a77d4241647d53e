//! Passphrases for secret keys, read from a file as `--sign-passphrase-file`
//! and `--passphrase-file` do.
//!
//! containers/common `cli.ReadPassphraseFile` trims surrounding whitespace;
//! containers/image then refuses a passphrase with an inner line break, because
//! GPGME's loopback pinentry would cut it there (`signature/mechanism_gpgme.go`).
//! We keep both rules so a passphrase file behaves the same under vouch and podman.

use std::fmt;
use std::path::{Path, PathBuf};

use sequoia_openpgp::crypto::Password;

/// A secret-key passphrase. `Debug` never shows it.
#[derive(Clone)]
pub struct Passphrase(Password);

/// Why a passphrase file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("reading passphrase file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("passphrase file {path}: not UTF-8")]
    NotUtf8 { path: PathBuf },
    /// Same text as containers/image.
    #[error("passphrase file {path}: invalid passphrase: must not contain a line break")]
    LineBreak { path: PathBuf },
}

impl Passphrase {
    /// Reads `path`, trimming surrounding whitespace (c/common semantics).
    pub fn read_file(path: &Path) -> Result<Self, PassphraseError> {
        let bytes = std::fs::read(path).map_err(|source| PassphraseError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| PassphraseError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        let trimmed = text.trim();
        if trimmed.contains('\n') || trimmed.contains('\r') {
            return Err(PassphraseError::LineBreak {
                path: path.to_path_buf(),
            });
        }
        Ok(Self(Password::from(trimmed)))
    }

    /// A passphrase given directly (tests, or a caller with its own prompt).
    pub fn new(s: &str) -> Self {
        Self(Password::from(s))
    }

    pub(crate) fn password(&self) -> &Password {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Result<Passphrase, PassphraseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, content).unwrap();
        Passphrase::read_file(&path)
    }

    #[test]
    fn trims_and_refuses_inner_breaks() {
        let p = read("  WithPassphrase123\n").unwrap();
        assert!(p.password().map(|b| &b[..] == b"WithPassphrase123"));
        let err = read("With\nPassphrase123\n").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("invalid passphrase: must not contain a line break"),
            "{err}"
        );
        assert!(format!("{p:?}").contains("redacted"));
    }

    #[test]
    fn missing_file_names_path() {
        let err = Passphrase::read_file(Path::new("/nonexistent/pass")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/pass"), "{err}");
    }
}
