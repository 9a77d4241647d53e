//! Writing an image's signatures to lookaside storage (§4.5; containers/image
//! `docker/docker_image_dest.go`): all signatures go to indexes 1…N, then
//! stale indexes N+1, N+2, … are deleted until the first missing one. Only
//! `file://` can be written; an HTTP lookaside needs a `lookaside-staging`
//! location. Nothing happens for N = 0.

use std::path::{Path, PathBuf};

use super::{LookasideUrl, UrlError};

/// Why signatures could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("building lookaside URL")]
    Url(#[from] UrlError),
    #[error("Writing directly to a {scheme} lookaside {url} is not supported. Configure a lookaside-staging: location")]
    Remote { scheme: String, url: String },
    #[error("Unsupported scheme when writing signature to {url}")]
    UnsupportedScheme { url: String },
    #[error("writing signature to {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Stores `signatures` (raw blobs, copied ones first) for `manifest_digest`
/// under `repo_base` (from `RegistriesD::write_base`).
pub fn write_signatures(
    repo_base: &LookasideUrl,
    manifest_digest: &str,
    signatures: &[Vec<u8>],
) -> Result<(), WriteError> {
    if signatures.is_empty() {
        return Ok(());
    }
    let first = repo_base.signature(manifest_digest, 0)?;
    require_file_scheme(&first)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    for (i, blob) in signatures.iter().enumerate() {
        let url = repo_base.signature(manifest_digest, i)?;
        let path = Path::new(url.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(path, blob).map_err(io(path))?;
    }
    for i in signatures.len().. {
        let url = repo_base.signature(manifest_digest, i)?;
        let path = Path::new(url.path());
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(source) => {
                return Err(WriteError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Stores one new signature for `manifest_digest` under a `file://`
/// `repo_base` as the next free `signature-N`, never overwriting: the blob is
/// written to a temporary file in the same directory, synced, and then
/// hard-linked to its final name, which fails if the name exists (another
/// writer won the race) so the next N is tried. Readers never see a partial
/// file. Returns N.
///
/// This is vouch's write-once staging; containers/image instead rewrites
/// `signature-1..` with the full list, which can clobber a concurrent push's
/// signature.
pub fn append_signature(
    repo_base: &LookasideUrl,
    manifest_digest: &str,
    blob: &[u8],
) -> Result<usize, WriteError> {
    use std::io::Write;
    let first = repo_base.signature(manifest_digest, 0)?;
    require_file_scheme(&first)?;
    let first_path = Path::new(first.path()).to_path_buf();
    let dir = first_path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".signature-")
        .tempfile_in(&dir)
        .map_err(io(&dir))?;
    let (head, tail) = blob.split_at(blob.len() / 2);
    tmp.write_all(head).map_err(io(tmp.path()))?;
    #[cfg(debug_assertions)]
    test_pause("signature-append");
    tmp.write_all(tail).map_err(io(tmp.path()))?;
    // containers/image and podman write signatures 0644: a lookaside is
    // published as it is (served over HTTP, copied to a mirror), and
    // tempfile's 0600 would hide it from the web server's user.
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io(tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    for i in 0.. {
        let url = repo_base.signature(manifest_digest, i)?;
        let path = Path::new(url.path());
        match std::fs::hard_link(tmp.path(), path) {
            Ok(()) => return Ok(i + 1),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(WriteError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Debug builds only: `VOUCH_TEST_PAUSE=<point>` announces `vouch-test:
/// paused at <point>` on stderr and waits to be killed, so a crash test can
/// kill a writer exactly mid-append. Compiled out of release builds.
#[cfg(debug_assertions)]
fn test_pause(point: &str) {
    if std::env::var("VOUCH_TEST_PAUSE").as_deref() == Ok(point) {
        eprintln!("vouch-test: paused at {point}");
        loop {
            std::thread::park();
        }
    }
}

/// Only `file://` staging is written directly; `http(s)://` staging is
/// published through sigstore-server.
pub(super) fn require_file_scheme(first: &LookasideUrl) -> Result<(), WriteError> {
    match first.scheme() {
        Some("file") => Ok(()),
        Some(s @ ("http" | "https")) => Err(WriteError::Remote {
            scheme: s.to_string(),
            url: first.to_string(),
        }),
        _ => Err(WriteError::UnsupportedScheme {
            url: first.to_string(),
        }),
    }
}

/// Stores those of `signatures` not already stored for `manifest_digest`,
/// each with [`append_signature`]; returns (added, already present).
///
/// This is how a copy carries signatures: running it again (a resumed
/// sync) adds nothing, and signatures already at the destination are never
/// rewritten or removed, unlike containers/image's rewrite of the list.
pub fn append_missing(
    repo_base: &LookasideUrl,
    manifest_digest: &str,
    signatures: &[Vec<u8>],
) -> Result<(usize, usize), WriteError> {
    if signatures.is_empty() {
        return Ok((0, 0));
    }
    let mut existing: Vec<Vec<u8>> = Vec::new();
    for i in 0..super::MAX_SIGNATURES {
        let url = repo_base.signature(manifest_digest, i)?;
        require_file_scheme(&url)?;
        let path = Path::new(url.path());
        match read_capped(path)? {
            Some(blob) => existing.push(blob),
            None => break,
        }
    }
    let (mut added, mut present) = (0, 0);
    for sig in signatures {
        if existing.iter().any(|e| e == sig) {
            present += 1;
            continue;
        }
        append_signature(repo_base, manifest_digest, sig)?;
        existing.push(sig.clone());
        added += 1;
    }
    Ok((added, present))
}

/// A stored signature, `None` when absent; larger than any signature may
/// be is an error, never a read into memory.
fn read_capped(path: &Path) -> Result<Option<Vec<u8>>, WriteError> {
    use std::io::Read;
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut buf = Vec::new();
    file.take((super::MAX_SIGNATURE_SIZE as u64) + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > (super::MAX_SIGNATURE_SIZE as u64) {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "signature larger than the lookaside limit",
        )));
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod append_tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn concurrent_appends_take_distinct_consecutive_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let base = LookasideUrl::parse(&format!("file://{}/repo", dir.path().display())).unwrap();
        let mut got: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..24)
                .map(|i| {
                    let base = &base;
                    s.spawn(move || {
                        append_signature(base, DIGEST, format!("sig {i}").as_bytes()).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        got.sort_unstable();
        assert_eq!(got, (1..=24).collect::<Vec<_>>());
        let sigdir = dir.path().join(format!("repo@sha256={}", &DIGEST[7..]));
        let names: Vec<_> = std::fs::read_dir(&sigdir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 24, "no temporary file is left: {names:?}");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(sigdir.join("signature-1"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "podman's mode");
        assert!(names.iter().all(|n| n.starts_with("signature-")));
    }

    #[test]
    fn remote_staging_is_not_written_directly() {
        let base = LookasideUrl::parse("http://127.0.0.1:1/x").unwrap();
        assert!(matches!(
            append_signature(&base, DIGEST, b"s"),
            Err(WriteError::Remote { .. })
        ));
    }
}
