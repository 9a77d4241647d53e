//! Removing an image's simple signatures from lookaside staging after the
//! image is deleted (containers/image `deleteImage`, `deleteOneSignature`):
//! `signature-1`, `-2`, … are removed until the first missing one. Only a
//! `file://` base can be changed; HTTP lookasides are refused before the
//! caller deletes anything (upstream deletes the manifest first and fails
//! after). Unlike upstream, the `<repo>@sha256=<hex>` directory is then
//! removed too when nothing else is left in it.

use std::path::Path;

use super::write::{require_file_scheme, WriteError};
use super::LookasideUrl;

/// Fails unless signatures for `manifest_digest` under `repo_base` can be
/// removed directly (a `file://` staging), so a delete can refuse up front.
pub fn check_deletable(repo_base: &LookasideUrl, manifest_digest: &str) -> Result<(), WriteError> {
    require_file_scheme(&repo_base.signature(manifest_digest, 0)?)
}

/// Removes the signatures of `manifest_digest`; returns how many there were.
pub fn delete_signatures(
    repo_base: &LookasideUrl,
    manifest_digest: &str,
) -> Result<usize, WriteError> {
    check_deletable(repo_base, manifest_digest)?;
    let mut removed = 0;
    let mut dir = None;
    for i in 0.. {
        let url = repo_base.signature(manifest_digest, i)?;
        let path = Path::new(url.path());
        dir = path.parent().map(Path::to_path_buf);
        match std::fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(source) => {
                return Err(WriteError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if let Some(dir) = dir {
        // Only an empty directory goes; anything else in it (a signature
        // after a gap, a foreign file) stays, and a missing one is fine.
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    #[test]
    fn removes_signatures_until_a_gap_and_an_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let base = LookasideUrl::parse(&format!("file://{}/repo", tmp.path().display())).unwrap();
        let dir = |d: &str| tmp.path().join(format!("repo@sha256={}", &d[7..]));
        for d in [DIGEST, OTHER] {
            std::fs::create_dir_all(dir(d)).unwrap();
            for n in 1..=2 {
                std::fs::write(dir(d).join(format!("signature-{n}")), b"s").unwrap();
            }
        }
        std::fs::write(dir(OTHER).join("signature-4"), b"s").unwrap();
        assert_eq!(delete_signatures(&base, DIGEST).unwrap(), 2);
        assert!(!dir(DIGEST).exists());
        assert_eq!(delete_signatures(&base, OTHER).unwrap(), 2);
        assert!(
            dir(OTHER).join("signature-4").exists(),
            "after a gap, kept as upstream"
        );
        assert_eq!(delete_signatures(&base, DIGEST).unwrap(), 0);
    }

    #[test]
    fn refuses_a_remote_lookaside() {
        let base = LookasideUrl::parse("https://sigs.example/repo").unwrap();
        assert!(matches!(
            delete_signatures(&base, DIGEST),
            Err(WriteError::Remote { .. })
        ));
    }
}
