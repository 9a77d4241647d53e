//! Writing a new key pair as `PREFIX.private` and `PREFIX.pub`, the names
//! skopeo's `generate-sigstore-key` uses.
//!
//! Like skopeo, an existing file under either name is refused, never
//! replaced: overwriting a private key destroys the only copy of it. Unlike
//! skopeo's stat-then-write, the files are created with `O_EXCL`, so a file
//! or a dangling symlink that appears in between is refused too, and the
//! private key is born with mode 0600 rather than chmod-ed to it later.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::GeneratedKeyPair;

/// Why the key files were not written; names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFilesError {
    /// skopeo's wording.
    #[error("Refusing to overwrite existing {:?}", path.display().to_string())]
    Exists { path: PathBuf },
    #[error("checking existence of {:?}", path.display().to_string())]
    Check {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a prefix's two files go.
pub struct KeyPaths {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl KeyPaths {
    /// `PREFIX.private` and `PREFIX.pub` (the suffix is appended, not an
    /// extension replaced: `my.key` gives `my.key.pub`).
    pub fn for_prefix(prefix: &Path) -> Self {
        let with = |suffix: &str| {
            let mut s = OsString::from(prefix.as_os_str());
            s.push(suffix);
            PathBuf::from(s)
        };
        Self {
            private: with(".private"),
            public: with(".pub"),
        }
    }

    /// Refuses if either name is taken (checked before asking for a
    /// passphrase, as skopeo does, public key first).
    pub fn ensure_free(&self) -> Result<(), KeyFilesError> {
        for path in [&self.public, &self.private] {
            match std::fs::symlink_metadata(path) {
                Ok(_) => return Err(KeyFilesError::Exists { path: path.clone() }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(KeyFilesError::Check {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Writes the private key (0600) then the public key (0644); if the
    /// public key cannot be written the new private key is removed again,
    /// so a failed run leaves nothing behind.
    pub fn write(&self, pair: &GeneratedKeyPair) -> Result<(), KeyFilesError> {
        create_new(&self.private, &pair.private_pem, 0o600)?;
        if let Err(e) = create_new(&self.public, &pair.public_pem, 0o644) {
            let _ = std::fs::remove_file(&self.private);
            return Err(e);
        }
        Ok(())
    }
}

fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyFilesError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFilesError::Exists {
                path: path.to_path_buf(),
            },
            _ => KeyFilesError::Write {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let write_err = |source| KeyFilesError::Write {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn pair() -> GeneratedKeyPair {
        GeneratedKeyPair {
            private_pem: b"private".to_vec(),
            public_pem: b"public".to_vec(),
        }
    }

    #[test]
    fn writes_both_with_skopeo_modes() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths::for_prefix(&dir.path().join("my.key"));
        assert!(paths.private.ends_with("my.key.private"));
        paths.ensure_free().unwrap();
        paths.write(&pair()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.private), 0o600);
        assert_eq!(mode(&paths.public) & 0o600, 0o600);
        assert_eq!(std::fs::read(&paths.public).unwrap(), b"public");
    }

    #[test]
    fn refuses_existing_files_and_dangling_links() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths::for_prefix(&dir.path().join("k"));
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &paths.private).unwrap();
        let err = paths.ensure_free().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Refusing to overwrite existing {:?}",
                paths.private.display().to_string()
            )
        );
        assert!(matches!(
            paths.write(&pair()),
            Err(KeyFilesError::Exists { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
        assert!(!paths.public.exists());
    }

    #[test]
    fn failed_public_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths::for_prefix(&dir.path().join("k"));
        std::fs::write(&paths.public, "taken").unwrap();
        assert!(paths.write(&pair()).is_err());
        assert!(!paths.private.exists());
        assert_eq!(std::fs::read(&paths.public).unwrap(), b"taken");
    }
}
